"""Atomic, idempotent publishing: kills, crashes mid-commit, repeats."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from seqflow.lake import convert_vcf_to_parquet, publish_qc_metrics, recover
from seqflow.lake import publish as publish_mod

PROV = dict(run_id="RUN1", reference="GRCh37", caller="unit-test")


def snapshot(lake: Path) -> dict[str, str]:
    """Every visible Parquet file of the lake and its digest."""
    return {
        str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((lake).glob("*/*/*/*/*.parquet"))
    }


def rows_per_partition(lake: Path) -> dict[str, int]:
    return {str(p.parent.relative_to(lake)): pq.ParquetFile(p).metadata.num_rows for p in lake.glob("variants/*/*/*/*.parquet")}


def test_repeat_replaces_exactly_that_partition(data_dir, tmp_path):
    first = convert_vcf_to_parquet(data_dir / "edge.vcf", tmp_path, sample_id=None, pipeline_version="1.0.0", **PROV)
    convert_vcf_to_parquet(data_dir / "edge.vcf", tmp_path, sample_id=None, pipeline_version="1.1.0", **PROV)
    before = snapshot(tmp_path)
    again = convert_vcf_to_parquet(data_dir / "edge.vcf", tmp_path, sample_id="S2", pipeline_version="1.0.0", **PROV)
    after = snapshot(tmp_path)
    assert [p.rows for p in first.partitions] == [7, 7, 7] and again.rows == 7
    # no duplicate files or rows; the other version and samples untouched
    assert sorted(after) == sorted(before)
    assert {k: v for k, v in after.items() if "sample_id=S2" not in k or "1.1.0" in k} == {
        k: v for k, v in before.items() if "sample_id=S2" not in k or "1.1.0" in k
    }
    assert set(rows_per_partition(tmp_path).values()) == {7}
    assert len(rows_per_partition(tmp_path)) == 6
    assert not list((tmp_path / "_staging").iterdir()) and not list((tmp_path / "_txn").glob("*.json"))


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    from seqflow.lake import convert_vcf_to_parquet
    convert_vcf_to_parquet(sys.argv[1], sys.argv[2], run_id="RUN1", sample_id=None, pipeline_version="1.0.0",
                           reference="GRCh37", caller="second-try", block_size=1 << 16)
    """
)


def test_conversion_killed_half_way_leaves_lake_unchanged(extdata, tmp_path):
    vcf = extdata / "chr22.vcf.gz"
    lake = tmp_path / "lake"
    convert_vcf_to_parquet(vcf, lake, sample_id=None, pipeline_version="1.0.0", **PROV)
    before = snapshot(lake)
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(vcf), str(lake)])
    deadline = time.monotonic() + 60
    staged: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        staged = [p for p in (lake / "_staging").glob("*/variants/*/*/*/*.parquet") if p.stat().st_size > 50_000]
        if staged:
            break
        time.sleep(0.01)
    assert staged, "the conversion finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert snapshot(lake) == before  # readers still see exactly the old data
    recover(lake)  # sweeps the dead writer's staging
    assert not list((lake / "_staging").iterdir())
    result = convert_vcf_to_parquet(vcf, lake, sample_id=None, pipeline_version="1.0.0", **PROV)
    counts = rows_per_partition(lake)
    assert len(counts) == 5 and set(counts.values()) == {10376} and result.rows == 5 * 10376


def test_crash_mid_commit_is_rolled_forward(data_dir, tmp_path, monkeypatch):
    convert_vcf_to_parquet(data_dir / "edge.vcf", tmp_path, sample_id=None, pipeline_version="1.0.0",
                           run_id="RUN1", reference="GRCh37", caller="old")
    real = publish_mod.os.rename
    calls = {"n": 0}

    def dying_rename(a, b):
        calls["n"] += 1
        if calls["n"] == 2:  # after the first partition was swapped in
            raise KeyboardInterrupt("killed mid-commit")
        return real(a, b)

    monkeypatch.setattr(publish_mod.os, "rename", dying_rename)
    with pytest.raises(KeyboardInterrupt):
        convert_vcf_to_parquet(data_dir / "edge.vcf", tmp_path, sample_id=None, pipeline_version="1.0.0",
                               run_id="RUN1", reference="GRCh37", caller="new")
    monkeypatch.setattr(publish_mod.os, "rename", real)
    assert len(list((tmp_path / "_txn").glob("*.json"))) == 1
    assert len(recover(tmp_path)) == 1
    callers = {
        p.parent.name: set(pq.read_table(p, columns=["caller"]).column(0).to_pylist())
        for p in tmp_path.glob("variants/*/*/*/*.parquet")
    }
    assert callers == {"sample_id=S1": {"new"}, "sample_id=S2": {"new"}, "sample_id=S3": {"new"}}
    assert set(rows_per_partition(tmp_path).values()) == {7}
    assert not list((tmp_path / "_trash").glob("*/*"))


def test_qc_metrics_publish_is_idempotent_per_run_and_version(tmp_path):
    rows = [
        {"sample_id": "S1", "read_pairs": 1000, "pct_mapped": 99.5, "pct_duplicates": 3.0, "mean_depth": 30.1,
         "variants_called": 7, "precision": 0.99, "recall": 0.98, "f1": 0.985},
        {"sample_id": "S2", "read_pairs": 900, "pct_mapped": 98.0},
    ]
    publish_qc_metrics(tmp_path, rows, run_id="RUN1", pipeline_version="1.0.0")
    publish_qc_metrics(tmp_path, rows[:1], run_id="RUN1", pipeline_version="1.1.0")
    publish_qc_metrics(tmp_path, rows, run_id="RUN1", pipeline_version="1.0.0")
    files = sorted(tmp_path.glob("qc_metrics/*/*/*.parquet"))
    assert [str(f.parent.relative_to(tmp_path)) for f in files] == [
        "qc_metrics/run_id=RUN1/pipeline_version=1.0.0",
        "qc_metrics/run_id=RUN1/pipeline_version=1.1.0",
    ]
    table = pq.read_table(files[0]).to_pylist()
    assert [r["sample_id"] for r in table] == ["S1", "S2"]
    assert table[1]["precision"] is None and table[1]["mean_depth"] is None and table[0]["f1"] == 0.985
    with pytest.raises(ValueError, match="appears twice"):
        publish_qc_metrics(tmp_path, rows + rows[:1], run_id="RUN1", pipeline_version="1.0.0")
    with pytest.raises(ValueError, match="unknown field"):
        publish_qc_metrics(tmp_path, [{"sample_id": "S1", "depth": 3}], run_id="RUN1", pipeline_version="1.0.0")
