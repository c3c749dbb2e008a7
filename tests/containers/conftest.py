"""Tiny real data for the step-script tests: a random genome with planted SNPs and wgsim reads."""

from __future__ import annotations

import gzip
import random
import shutil
import subprocess

import pytest

SNPS = (5000, 15000, 25000)  # 1-based positions of the planted SNPs
CONTIG = "chrT"
LENGTH = 30000


@pytest.fixture(scope="session")
def toy(tmp_path_factory):
    """``{"dir", "ref" (toy.fa), "alts" {pos: (ref, alt)}, "ploidy" (haploid file), "r1", "r2"}``."""
    rng = random.Random(11)
    d = tmp_path_factory.mktemp("toy")
    seq = [rng.choice("ACGT") for _ in range(LENGTH)]
    ref = d / "toy.fa"
    ref.write_text(f">{CONTIG}\n" + "\n".join("".join(seq[i:i + 60]) for i in range(0, LENGTH, 60)) + "\n")
    alts = {}
    for pos in SNPS:
        alt = {"A": "C", "C": "G", "G": "T", "T": "A"}[seq[pos - 1]]
        alts[pos] = (seq[pos - 1], alt)
        seq[pos - 1] = alt
    (d / "mutated.fa").write_text(f">{CONTIG}\n" + "".join(seq) + "\n")
    subprocess.run(["wgsim", "-e", "0", "-r", "0", "-R", "0", "-1", "150", "-2", "150", "-N", "3000", "-S", "3",
                    str(d / "mutated.fa"), str(d / "r1.fq"), str(d / "r2.fq")], check=True, capture_output=True)
    for n in ("r1", "r2"):
        with open(d / f"{n}.fq", "rb") as src, gzip.open(d / f"{n}.fastq.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
    # what the reference catalogue writes beside the FASTA: a haploid genome
    (d / "toy.ploidy").write_text("*\t*\t*\t*\t1\n")
    return {"dir": d, "ref": ref, "alts": alts, "ploidy": d / "toy.ploidy",
            "r1": d / "r1.fastq.gz", "r2": d / "r2.fastq.gz"}
