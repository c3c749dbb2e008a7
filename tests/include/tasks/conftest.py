"""A local-profile world for the task bodies: a registered toy genome and a run in raw storage."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

RUN = "261120_A01234_0042_AHXXXXXDSX"

SHEET = """[Header]
FileFormatVersion,2
RunName,{run}

[Reads]
Read1Cycles,151
Read2Cycles,151

[BCLConvert_Data]
Lane,Sample_ID,Index,Sample_Project
1,H1,ACGTACGT,Human
1,H2,TTGCAACC,Human
1,B1,GGATCCAA,Phage
"""


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """SEQFLOW_HOME with genomes ``toy`` and ``toy2`` registered and run RUN (3 samples) in raw storage."""
    from seqflow.backends.local import LocalBackend

    monkeypatch.setenv("SEQFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SEQFLOW_PROFILE", "local")
    backend = LocalBackend()
    rng = random.Random(3)
    fasta = tmp_path / "toy.fa"
    fasta.write_text(">c1\n" + "".join(rng.choice("ACGT") for _ in range(500)) + "\n")
    catalog = backend.references()
    catalog.add("toy", str(fasta), aligners=())
    catalog.add("toy2", str(fasta), aligners=())
    run = backend.paths.raw / RUN
    fastq = run / "Analysis" / "1" / "Data" / "fastq"
    fastq.mkdir(parents=True)
    (run / "SampleSheet.csv").write_text(SHEET.format(run=RUN))
    for number, sample in enumerate(("H1", "H2", "B1"), start=1):
        for read in (1, 2):
            (fastq / f"{sample}_S{number}_L001_R{read}_001.fastq.gz").write_bytes(b"")
    return backend
