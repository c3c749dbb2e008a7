"""FASTQs the pipeline must not trust, made from good ones (test helper, not a test module).

Each case is a pair of read files with the one an error must name and a pattern of the
cause it must state. tests/containers and tests/include/analysis both use it (the latter
loads it by path, as the tests load containers/_common/s3_stage.py).
"""

from __future__ import annotations

import gzip
from pathlib import Path

#: case -> (the end whose file the error names, regex of the cause the error states)
CASES: dict[str, tuple[str, str]] = {
    "truncated_gzip": ("r1", r"R1 file \S+ is truncated or corrupt, not one whole gzip file: gzip: .*unexpected end of file"),
    "plain_text_named_gz": ("r1", r"R1 file \S+ is not gzip-compressed .*not in gzip format"),
    "read_counts_differ": ("r2", r"R1 file \S+ has (\d+) reads but R2 file \S+ has (\d+): the mates do not pair up"),
    "mate_names_differ": ("r2", r"paired reads have different names: read 101 is '[^']+' in R1 file \S+ but "
                                r"'other_[^']+' in R2 file \S+"),
    "no_reads": ("r1", r"R1 file \S+ has no reads"),
    "zero_bytes": ("r2", r"R2 file \S+ is empty \(0 bytes\): it has no reads"),
    "fastp_error": ("r1", r"fastp reported on R1 file \S+ and R2 file \S+: ERROR: sequence and quality have "
                          r"different length"),
    "no_read_passes": ("r1", r"no read of R1 file \S+ and R2 file \S+ passed fastp's filters"),
}
#: the cases the issue names (the others are further checks of the same step)
ISSUE_CASES = ("truncated_gzip", "plain_text_named_gz", "read_counts_differ", "mate_names_differ", "no_reads")


def _records(path: Path) -> list[list[str]]:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    return [lines[i:i + 4] for i in range(0, len(lines), 4)]


def _gz(path: Path, records: list[list[str]]) -> Path:
    path.write_bytes(gzip.compress("".join("\n".join(r) + "\n" for r in records).encode()))
    return path


def write_case(case: str, r1: Path, r2: Path, dest: Path) -> tuple[Path, Path, Path]:
    """Damage the good gzipped pair ``r1``/``r2`` as ``case`` says, in ``dest``: (R1, R2, the file to name)."""
    dest.mkdir(parents=True, exist_ok=True)
    out1, out2 = dest / f"{case}_R1_001.fastq.gz", dest / f"{case}_R2_001.fastq.gz"
    recs1, recs2 = _records(r1), _records(r2)
    _gz(out1, recs1)
    _gz(out2, recs2)
    if case == "truncated_gzip":
        data = out1.read_bytes()
        out1.write_bytes(data[: len(data) * 3 // 5])
    elif case == "plain_text_named_gz":
        out1.write_bytes(gzip.decompress(out1.read_bytes()))
    elif case == "read_counts_differ":
        _gz(out2, recs2[:-1])
    elif case == "mate_names_differ":
        _gz(out2, [[r[0].replace("@", "@other_", 1), *r[1:]] if i >= 100 else r for i, r in enumerate(recs2)])
    elif case == "no_reads":
        _gz(out1, [])
        _gz(out2, [])
    elif case == "zero_bytes":
        out2.write_bytes(b"")
    elif case == "fastp_error":
        first = recs1[0]
        _gz(out1, [[first[0], first[1], first[2], first[3][: len(first[3]) // 2]], *recs1[1:]])
    elif case == "no_read_passes":  # shorter than fastp's minimum length (15)
        _gz(out1, [[r[0], r[1][:10], r[2], r[3][:10]] for r in recs1])
        _gz(out2, [[r[0], r[1][:10], r[2], r[3][:10]] for r in recs2])
    else:
        raise ValueError(f"unknown case {case!r}")
    return out1, out2, out1 if CASES[case][0] == "r1" else out2
