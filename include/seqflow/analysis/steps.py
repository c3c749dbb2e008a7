"""The per-sample pipeline steps of the local profile, as processes.

Every step runs the same script that the step's container image runs on AWS
Batch and HealthOmics (``containers/<tool>/<script>.sh``), with the arguments,
inputs and outputs the step catalogue declares (:mod:`seqflow.analysis.catalog`,
``containers/<tool>/steps.yaml``): an argument list, never a shell string built
from user input. Each script writes its outputs under temporary names and
renames them at the end, so a retried task starts clean and a half-written file
never looks finished; each also records its tools' versions
(``<sample>.<step>.versions.json``), which the run manifest collects.

Layout of one sample's outputs (DESIGN.md, "Data and naming")::

    <results>/<run>/<version>/<reference>/<aligner>-<caller>/<sample>/   BAM+index, VCF+index, QC, versions
    <scratch>/<run>/<version>/<reference>/<aligner>-<caller>/<sample>/   intermediates (trimmed reads)
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from seqflow.analysis.catalog import ALIGNERS, CALLERS, Step, catalog, containers_dir
from seqflow.identity import AnalysisIdentity
from seqflow.paths import check_sample_id

log = logging.getLogger(__name__)

__all__ = [
    "ALIGNERS", "CALLERS", "STEP_SCRIPTS", "SampleJob", "StepError", "align", "bam_qc", "call_variants",
    "containers_dir", "index_reference", "qc_reads", "qc_stats", "run_sample_step", "run_step", "vcf_stats",
]

#: step implementation id (``fastp``, ``align_bwa``, ``call_variants_bcftools``, ...) -> script
#: relative to the containers folder; derived from the step catalogue
STEP_SCRIPTS: dict[str, str] = {s.id: s.script_relpath for s in catalog().steps}


class StepError(RuntimeError):
    """A step's process failed; the message carries its exit code and stderr tail."""


def run_step(step: str | Step, args: list[str | Path], *, cwd: Path | None = None) -> None:
    """Run one step script (a :class:`Step` or an implementation id) with ``args``; raise :class:`StepError`."""
    impl = step if isinstance(step, Step) else catalog().by_id(step)
    script = impl.script_path()
    argv = [str(script), *map(str, args)]
    log.info("step %s: %s", impl.id, " ".join(argv))
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.stdout:
        log.info("%s stdout:\n%s", impl.id, proc.stdout[-4000:])
    if proc.stderr:
        log.info("%s stderr:\n%s", impl.id, proc.stderr[-4000:])
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-20:])
        raise StepError(f"step {impl.id} ({impl.script_relpath}) exited with {proc.returncode}:\n{tail}")


def _check_inputs(impl: Step, inputs: Mapping[str, str | Path]) -> None:
    """Every input and every file that must lie beside it exists: fail naming the first missing one."""
    for name in impl.inputs:
        if not inputs.get(name):
            raise StepError(f"step {impl.id}: input {name!r} ({impl.inputs[name].source}) is not given")
        for path in [str(inputs[name]), *impl.companion_files(name, str(inputs[name]))]:
            if not Path(path).is_file():
                raise StepError(f"step {impl.id}: input {name!r} needs {path}, which does not exist")


def index_reference(fasta: str | Path, aligner: str) -> Path:
    """Build the aligner index beside the FASTA once; concurrent callers wait on a lock."""
    import fcntl

    impl = catalog().step("index_reference", aligner=aligner)  # ValueError for an unknown aligner
    fasta = Path(fasta)
    with open(f"{fasta}.seqflow-index.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two analysis runs may index the same reference
        run_step(impl, impl.argv({"reference": fasta, "out_dir": fasta.parent}))
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
    reference: str = ""
    aligner: str = "bwa"
    caller: str = "bcftools"
    #: bcftools ploidy file of the reference (CHROM FROM TO SEX PLOIDY), from the reference catalogue
    ploidy_file: str = ""
    threads: int = 2
    results_root: str = ""
    scratch_root: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> "SampleJob":
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def identity(self) -> AnalysisIdentity:
        return AnalysisIdentity(self.run_id, self.pipeline_version, self.reference, self.aligner, self.caller)

    @property
    def results_dir(self) -> Path:
        """``<results>/<run>/<version>/<reference>/<aligner>-<caller>/<sample>``."""
        return Path(self.results_root).joinpath(*self.identity.path_parts(), check_sample_id(self.sample_id))

    @property
    def scratch_dir(self) -> Path:
        return Path(self.scratch_root).joinpath(*self.identity.path_parts(), check_sample_id(self.sample_id))


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


def _external_inputs(job: SampleJob, impl: Step) -> dict[str, str]:
    """Inputs of ``impl`` that come from the job itself (reference FASTA, ploidy file)."""
    values: dict[str, str] = {}
    for name, inp in impl.inputs.items():
        if inp.source == "reference.fasta":
            values[name] = job.reference_fasta
        elif inp.source == "reference.ploidy":
            if not job.ploidy_file:
                raise StepError(
                    f"step {impl.id} of sample {job.sample_id}: the job has no ploidy_file (the reference "
                    f"catalogue writes <name>.ploidy beside the FASTA of {job.reference or 'the reference'})"
                )
            values[name] = job.ploidy_file
    return values


def run_sample_step(job: SampleJob, name: str, inputs: Mapping[str, str | Path], *,
                    out_dir: Path | None = None) -> dict[str, str]:
    """Run step ``name`` of one sample (the implementation the job's aligner and caller select).

    ``inputs`` gives the step's inputs that are earlier steps' outputs (by the
    step's input names); the reference files come from the job. Outputs go to
    ``out_dir`` (default: the sample's results folder); returns output name -> path.
    """
    impl = catalog().step(name, aligner=job.aligner, caller=job.caller)
    out = Path(out_dir) if out_dir is not None else job.results_dir
    values: dict[str, object] = {**_external_inputs(job, impl), **{k: str(v) for k, v in inputs.items()}}
    _check_inputs(impl, values)  # type: ignore[arg-type]
    out.mkdir(parents=True, exist_ok=True)
    values.update(sample_id=job.sample_id, threads=job.threads, **{impl.output_dir_argument: out})
    run_step(impl, impl.argv(values))
    return {name: str(path) for name, path in impl.output_paths(out, job.sample_id).items()}


def qc_reads(job: SampleJob) -> dict[str, str]:
    """fastp: read QC and trimming. Reports and versions go to results, trimmed reads (intermediates) to scratch."""
    impl = catalog().step("fastp")
    work = job.scratch_dir / "fastp"
    work.mkdir(parents=True, exist_ok=True)
    r1 = _single_fastq(job.r1, work / f"{job.sample_id}.lanes_R1.fastq.gz")
    r2 = _single_fastq(job.r2, work / f"{job.sample_id}.lanes_R2.fastq.gz")
    produced = run_sample_step(job, "fastp", {"r1": r1, "r2": r2}, out_dir=work)
    job.results_dir.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, str] = {}
    for name, path in produced.items():
        if impl.outputs[name].intermediate:
            outputs[name] = path
        else:
            kept = job.results_dir / Path(path).name
            shutil.copy2(path, kept)
            outputs[name] = str(kept)
    return outputs


def align(job: SampleJob, trimmed_r1: str, trimmed_r2: str) -> dict[str, str]:
    """Align, fix mates, sort and mark duplicates into ``<sample>.bam`` (+ .bai, markdup metrics, versions)."""
    return run_sample_step(job, "align", {"r1": trimmed_r1, "r2": trimmed_r2})


def call_variants(job: SampleJob, bam: str) -> dict[str, str]:
    """bcftools mpileup | call (the reference's ploidy file) | norm into ``<sample>.vcf.gz`` (+ .tbi, versions)."""
    return run_sample_step(job, "call_variants", {"bam": bam})


def bam_qc(job: SampleJob, bam: str) -> dict[str, str]:
    """samtools flagstat/coverage/stats of the BAM."""
    return run_sample_step(job, "bam_qc", {"bam": bam})


def vcf_stats(job: SampleJob, vcf: str) -> dict[str, str]:
    """bcftools stats of the VCF."""
    return run_sample_step(job, "vcf_stats", {"vcf": vcf})


def drop_scratch(job: SampleJob) -> None:
    """Delete the sample's intermediates (the trimmed reads) once its last step has run."""
    shutil.rmtree(job.scratch_dir, ignore_errors=True)
