"""Run folders of real reads from Debian's data packages, for the end-to-end tests.

* ``freebayes`` ships a 12,356-bp piece of human chr22 (``tiny/q.fa``) with real
  HiSeq X 2x151 reads of NA12878 (as a BAM, turned back into FASTQ here) and the
  GIAB truth calls of that piece: a diploid genome with a truth set.
* ``iva`` ships an HIV-1 reference (DQ234790, 9,056 bp) and real MiSeq 2x250
  reads of another strain, adapters still in: a haploid virus.
* ``gasic-examples`` ships the deformed wing virus genome (NC_004830, 10,140 bp)
  and 100,000 real Illumina GAIIx 72-bp reads of a honeybee sample (SRR059298,
  the first 400,000 lines): a single-end run of a haploid RNA virus, no truth set.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from seqflow.demo import giab_tiny
from seqflow.demo.runfolder import run_info_xml
from seqflow.references.sources import cached_deb, read_deb_member

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("SEQFLOW_TEST_CACHE", REPO / ".seqflow" / "testcache")) / "debs"

FREEBAYES_TINY = giab_tiny.TINY
NA12878_FASTA = giab_tiny.FASTA_URI
IVA_DATA = "usr/lib/python3/dist-packages/iva/test_run_data"
HIV_FASTA = f"deb://iva/{IVA_DATA}/reference.fasta"
GASIC_DATA = "usr/share/doc/gasic/examples"
DWV_FASTA = f"deb://gasic-examples/{GASIC_DATA}/genomes/dwv.fasta.gz"


def member(package: str, path: str) -> bytes:
    """A file of a Debian package (the .deb cached for later sessions)."""
    return read_deb_member(cached_deb(package, CACHE), path)


def _na12878_fastqs(work: Path) -> tuple[bytes, bytes]:
    return giab_tiny.fastqs(work, CACHE)


def truth_vcf(dest: Path) -> Path:
    """The GIAB calls of the chr22 piece (:func:`seqflow.demo.giab_tiny.truth_vcf`)."""
    return giab_tiny.truth_vcf(dest, CACHE)


def build_run(landing: Path, truth_root: Path, run_date: dt.date, work: Path) -> Path:
    """Run folder ``<YYMMDD>_A01234_0007_BHREALDSXY`` with samples NA12878 (project GIAB) and HIV1
    (project Virology), FASTQs named as bcl-convert does, the truth set beside it, the flag last."""
    name = f"{run_date:%y%m%d}_A01234_0007_BHREALDSXY"
    run = landing / name
    fastq = run / "Analysis" / "1" / "Data" / "fastq"
    fastq.mkdir(parents=True)
    work.mkdir(parents=True, exist_ok=True)
    (run / "RunInfo.xml").write_text(run_info_xml(name, 7, "HREALDSXY", "A01234", run_date))
    (run / "SampleSheet.csv").write_text("\n".join([
        "[Header]", "FileFormatVersion,2", f"RunName,{name}", "", "[Reads]", "Read1Cycles,151",
        "Read2Cycles,151", "", "[BCLConvert_Data]", "Lane,Sample_ID,Index,Index2,Sample_Project",
        "1,NA12878,ACGTACGT,TTGGCCAA,GIAB", "1,HIV1,TGCATGCA,AACCGGTT,Virology", "",
    ]))
    na_r1, na_r2 = _na12878_fastqs(work)
    (fastq / "NA12878_S1_L001_R1_001.fastq.gz").write_bytes(na_r1)
    (fastq / "NA12878_S1_L001_R2_001.fastq.gz").write_bytes(na_r2)
    (fastq / "HIV1_S2_L001_R1_001.fastq.gz").write_bytes(member("iva", f"{IVA_DATA}/reads_1.fq.gz"))
    (fastq / "HIV1_S2_L001_R2_001.fastq.gz").write_bytes(member("iva", f"{IVA_DATA}/reads_2.fq.gz"))
    (truth_root / name).mkdir(parents=True, exist_ok=True)
    truth_vcf(truth_root / name / "NA12878.truth.vcf.gz")
    (run / "CopyComplete.txt").write_text("")
    return run


def build_single_end_run(landing: Path, run_date: dt.date) -> Path:
    """A single-end run ``<YYMMDD>_M00123_0042_000000000-GASIC``: one sample DWV1 (project Bees), reads 1
    only (the sheet has no Read2Cycles, RunInfo.xml one read), the flag last."""
    name = f"{run_date:%y%m%d}_M00123_0042_000000000-GASIC"
    run = landing / name
    fastq = run / "Analysis" / "1" / "Data" / "fastq"
    fastq.mkdir(parents=True)
    (run / "RunInfo.xml").write_text(run_info_xml(name, 42, "000000000-GASIC", "M00123", run_date, paired=False))
    (run / "SampleSheet.csv").write_text("\n".join([
        "[Header]", "FileFormatVersion,2", f"RunName,{name}", "", "[Reads]", "Read1Cycles,72", "",
        "[BCLConvert_Data]", "Lane,Sample_ID,Index,Sample_Project", "1,DWV1,ACGTACGT,Bees", "",
    ]))
    (fastq / "DWV1_S1_L001_R1_001.fastq.gz").write_bytes(member("gasic-examples",
                                                                f"{GASIC_DATA}/reads/SRR059298_subset.fastq.gz"))
    (run / "CopyComplete.txt").write_text("")
    return run
