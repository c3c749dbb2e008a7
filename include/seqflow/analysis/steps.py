"""The per-sample pipeline steps of the local profile, as processes.

Every step runs the same script that the step's container image runs on AWS
Batch (``containers/<tool>/<step>.sh``), with an argument list (never a shell
string built from user input). Each script writes its outputs under temporary
names and renames them at the end, so a retried task starts clean and a
half-written file never looks finished.

Layout of one sample's outputs (DESIGN.md, "Data and naming")::

    <results>/<run_id>/<pipeline_version>/<sample_id>/   BAM+index, VCF+index, QC files
    <scratch>/<run_id>/<pipeline_version>/<sample_id>/   trimmed reads (intermediate)
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from seqflow.config import REPO_ROOT

log = logging.getLogger(__name__)

#: step name -> script path relative to the containers folder
STEP_SCRIPTS: dict[str, str] = {
    "index_bwa": "bwa/index_reference.sh",
    "index_minimap2": "minimap2/index_reference.sh",
    "fastp": "fastp/fastp_qc.sh",
    "align_bwa": "bwa/align.sh",
    "align_minimap2": "minimap2/align.sh",
    "call": "bcftools/call_variants.sh",
    "vcf_stats": "bcftools/vcf_stats.sh",
    "bam_qc": "samtools/bam_qc.sh",
}

ALIGNERS = ("bwa", "minimap2")


class StepError(RuntimeError):
    """A step's process failed; the message carries its exit code and stderr tail."""


def containers_dir() -> Path:
    """Folder holding ``<tool>/<step>.sh`` (overridable for installed images)."""
    return Path(os.environ.get("SEQFLOW_CONTAINERS_DIR", REPO_ROOT / "containers"))


def run_step(step: str, args: list[str | Path], *, cwd: Path | None = None) -> None:
    """Run one step script with ``args``; raise :class:`StepError` on failure."""
    script = containers_dir() / STEP_SCRIPTS[step]
    argv = [str(script), *map(str, args)]
    log.info("step %s: %s", step, " ".join(argv))
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.stdout:
        log.info("%s stdout:\n%s", step, proc.stdout[-4000:])
    if proc.stderr:
        log.info("%s stderr:\n%s", step, proc.stderr[-4000:])
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-20:])
        raise StepError(f"step {step} ({script.name}) exited with {proc.returncode}:\n{tail}")


def index_reference(fasta: str | Path, aligner: str) -> Path:
    """Build the aligner index beside the FASTA once; concurrent callers wait on a lock."""
    import fcntl

    if aligner not in ALIGNERS:
        raise ValueError(f"unknown aligner {aligner!r}; expected one of {', '.join(ALIGNERS)}")
    fasta = Path(fasta)
    with open(f"{fasta}.seqflow-index.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two analysis runs may index the same reference
        run_step(f"index_{aligner}", [fasta])
    return fasta


@dataclass
class SampleJob:
    """Everything one sample's steps need; JSON-serialisable for XCom."""

    run_id: str
    pipeline_version: str
    sample_id: str
    r1: list[str]
    r2: list[str]
    reference_fasta: str
    aligner: str = "bwa"
    ploidy: int = 2
    threads: int = 2
    results_root: str = ""
    scratch_root: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> "SampleJob":
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def results_dir(self) -> Path:
        return Path(self.results_root) / self.run_id / self.pipeline_version / self.sample_id

    @property
    def scratch_dir(self) -> Path:
        return Path(self.scratch_root) / self.run_id / self.pipeline_version / self.sample_id


def _single_fastq(paths: list[str], dest: Path) -> str:
    """One FASTQ per read end: lanes are concatenated (gzip members concatenate)."""
    if len(paths) == 1:
        return paths[0]
    tmp = dest.with_name(dest.name + ".tmp")
    with open(tmp, "wb") as out:
        for p in paths:
            with open(p, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    tmp.replace(dest)
    return str(dest)


def qc_reads(job: SampleJob) -> dict[str, str]:
    """fastp: read QC and trimming. Reports go to results, trimmed reads to scratch."""
    work = job.scratch_dir / "fastp"
    work.mkdir(parents=True, exist_ok=True)
    r1 = _single_fastq(job.r1, work / f"{job.sample_id}.lanes_R1.fastq.gz")
    r2 = _single_fastq(job.r2, work / f"{job.sample_id}.lanes_R2.fastq.gz")
    run_step("fastp", [job.sample_id, r1, r2, work, job.threads])
    job.results_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("fastp.json", "fastp.html"):
        shutil.copy2(work / f"{job.sample_id}.{suffix}", job.results_dir / f"{job.sample_id}.{suffix}")
    return {
        "trimmed_r1": str(work / f"{job.sample_id}.trimmed_R1.fastq.gz"),
        "trimmed_r2": str(work / f"{job.sample_id}.trimmed_R2.fastq.gz"),
        "fastp_json": str(job.results_dir / f"{job.sample_id}.fastp.json"),
    }


def align(job: SampleJob, trimmed_r1: str, trimmed_r2: str) -> dict[str, str]:
    """Align, fix mates, sort and mark duplicates into ``<sample>.bam``."""
    if job.aligner not in ALIGNERS:
        raise ValueError(f"unknown aligner {job.aligner!r}; expected one of {', '.join(ALIGNERS)}")
    run_step(
        f"align_{job.aligner}",
        [job.sample_id, job.reference_fasta, trimmed_r1, trimmed_r2, job.results_dir, job.threads],
    )
    return {
        "bam": str(job.results_dir / f"{job.sample_id}.bam"),
        "markdup": str(job.results_dir / f"{job.sample_id}.markdup.txt"),
    }


def call_variants(job: SampleJob, bam: str) -> dict[str, str]:
    """bcftools mpileup | call | norm into ``<sample>.vcf.gz`` (+ .tbi)."""
    run_step("call", [job.sample_id, job.reference_fasta, bam, job.results_dir, job.ploidy, job.threads])
    return {"vcf": str(job.results_dir / f"{job.sample_id}.vcf.gz")}


def qc_stats(job: SampleJob, bam: str, vcf: str) -> dict[str, str]:
    """samtools flagstat/coverage/stats and bcftools stats; then drop the scratch reads."""
    run_step("bam_qc", [job.sample_id, bam, job.results_dir, job.threads])
    run_step("vcf_stats", [job.sample_id, job.reference_fasta, vcf, job.results_dir])
    # trimmed reads are intermediates: once the BAM and its QC exist they are not needed
    shutil.rmtree(job.scratch_dir, ignore_errors=True)
    d = job.results_dir
    return {
        "flagstat": str(d / f"{job.sample_id}.flagstat.json"),
        "coverage": str(d / f"{job.sample_id}.coverage.tsv"),
        "samtools_stats": str(d / f"{job.sample_id}.samtools_stats.txt"),
        "bcftools_stats": str(d / f"{job.sample_id}.bcftools_stats.txt"),
    }
