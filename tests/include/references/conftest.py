"""Small FASTA files for the reference catalogue tests."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest


def random_seq(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(n))


@pytest.fixture
def two_contig_fasta(tmp_path: Path) -> Path:
    """chr1 (3 kb, soft-masked lower case in part, an IUPAC code) and chrM (1 kb), 70-column lines."""
    chr1 = random_seq(3000, 1)
    chr1 = chr1[:100].lower() + chr1[100:200] + "R" + chr1[201:]
    chrm = random_seq(1000, 2)
    path = tmp_path / "genome.fa"
    with open(path, "w") as out:
        for name, seq in (("chr1 first chromosome", chr1), ("chrM", chrm)):
            out.write(f">{name}\n")
            for i in range(0, len(seq), 70):
                out.write(seq[i:i + 70] + "\n")
    return path


@pytest.fixture
def catalog(tmp_path: Path):
    from seqflow.references import LocalReferenceCatalog

    return LocalReferenceCatalog(tmp_path / "references")


def gzip_file(path: Path) -> Path:
    out = path.with_name(path.name + ".gz")
    out.write_bytes(gzip.compress(path.read_bytes()))
    return out
