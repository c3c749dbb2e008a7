"""The converter's private staging folders (seqflow.lake.staging.Staging and sweep)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from seqflow.lake.staging import TMP_DIR, Staging


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def test_conversions_starting_at_once_never_sweep_each_other(tmp_path):
    """The Glue job converts a manifest's samples in threads, each entering a Staging of one root:
    one's sweep must never remove another's folder between its creation and its owner record
    (the 384-sample benchmark's convert_to_parquet failed so: FileNotFoundError on the owner file)."""
    threads, rounds = 8, 40
    barrier = threading.Barrier(threads, timeout=60)  # a failed thread breaks it: the others fail, not hang

    def convert(i: int) -> int:
        made = 0
        for _ in range(rounds):
            barrier.wait()
            with Staging(tmp_path) as staging:
                (staging.tmp / f"part-{i}.parquet").write_bytes(b"rows")
                assert (staging.tmp / f"part-{i}.parquet").read_bytes() == b"rows"
                made += 1
        return made

    with ThreadPoolExecutor(threads) as pool:
        assert list(pool.map(convert, range(threads))) == [rounds] * threads
    assert list((tmp_path / TMP_DIR).iterdir()) == []  # each left nothing behind


def test_the_folders_of_gone_conversions_are_swept_and_live_ones_kept(tmp_path):
    staging_dir = tmp_path / TMP_DIR
    (staging_dir / f"{_dead_pid()}-0a1b" / "variants").mkdir(parents=True)  # killed mid-conversion
    (staging_dir / "9f8e7d").mkdir()  # the older layout's name, no owner in it
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = staging_dir / f"{other.pid}-2c3d"  # another process's conversion, running
        live.mkdir()
        with Staging(tmp_path) as staging:
            assert staging.tmp.name.startswith(f"{os.getpid()}-")
            assert sorted(p.name for p in staging_dir.iterdir()) == sorted([live.name, staging.tmp.name])
        assert [p.name for p in staging_dir.iterdir()] == [live.name]
    finally:
        other.kill()
        other.wait()
