"""Read simulation: pair counts for a coverage, lengths, names, reproducibility."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from seqflow.demo.reads import IlluminaNames, pairs_for_coverage, simulate_reads


def _fastq(path: Path) -> list[tuple[str, str, str]]:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert len(lines) % 4 == 0
    return [(lines[i], lines[i + 1], lines[i + 3]) for i in range(0, len(lines), 4)]


def test_pairs_for_coverage():
    assert pairs_for_coverage(48502, 30.0) == 4851  # ceil(48502 * 30 / 300)
    assert pairs_for_coverage(4_639_675, 30.0) == 463_968
    assert pairs_for_coverage(10, 0.001) == 1
    with pytest.raises(ValueError):
        pairs_for_coverage(100, 0)


def test_simulated_pairs_have_illumina_names_and_150bp(lambda_fasta: Path, tmp_path: Path):
    names = IlluminaNames("A01234", 7, "HABCDDSXY", 1, "ACGTACGT", "TTGGCCAA", (1101, 1102))
    r1, r2 = tmp_path / "x_R1.fastq.gz", tmp_path / "x_R2.fastq.gz"
    n = simulate_reads(lambda_fasta, r1, r2, seed=5, coverage=2.0, names=names)
    reads1, reads2 = _fastq(r1), _fastq(r2)
    assert n == len(reads1) == len(reads2) == pairs_for_coverage(48502, 2.0)
    assert all(len(s) == len(q) == 150 for _, s, q in reads1 + reads2)
    assert reads1[0][0] == "@A01234:7:HABCDDSXY:1:1101:1000:1000 1:N:0:ACGTACGT+TTGGCCAA"
    assert reads2[0][0] == "@A01234:7:HABCDDSXY:1:1101:1000:1000 2:N:0:ACGTACGT+TTGGCCAA"
    ids1 = [h.split()[0] for h, _, _ in reads1]
    assert ids1 == [h.split()[0] for h, _, _ in reads2]
    assert len(set(ids1)) == n
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x_R1.fastq.gz", "x_R2.fastq.gz"]


def test_same_seed_same_bytes_other_seed_other_reads(lambda_fasta: Path, tmp_path: Path):
    out = {}
    for tag, seed in (("a", 3), ("b", 3), ("c", 4)):
        r1, r2 = tmp_path / f"{tag}1.fq.gz", tmp_path / f"{tag}2.fq.gz"
        simulate_reads(lambda_fasta, r1, r2, seed=seed, pairs=200)
        out[tag] = (r1.read_bytes(), r2.read_bytes())
    assert out["a"] == out["b"]
    assert out["a"][0] != out["c"][0]


def test_seed_zero_is_refused(lambda_fasta: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="positive"):
        simulate_reads(lambda_fasta, tmp_path / "1.fq.gz", tmp_path / "2.fq.gz", seed=0, pairs=10)
