"""The per-sample pipeline steps of the local profile, as processes.

Every step runs the same script that the step's container image runs on AWS
Batch and HealthOmics (``containers/<tool>/<script>.sh``), with the arguments,
inputs and outputs the step catalogue declares (:mod:`seqflow.analysis.catalog`,
``containers/<tool>/steps.yaml``): an argument list, never a shell string built
from user input. Each script writes its outputs under temporary names and
renames them at the end, so a retried task starts clean and a half-written file
never looks finished; each also records its tools' versions
(``<sample>.<step>.versions.json``), which the run manifest collects, and keeps its
tools' stderr in ``<sample>.<step>.log`` beside its outputs, after a failure too.

A failed script raises :class:`StepError`, whose message starts with the cause the
script states (its ``seqflow-error:`` line: the tool, its status and its own first
error line) and carries the tail of its stderr and of its log. Exit status
:data:`INPUT_ERROR_EXIT` (3) means the input data cannot be trusted (a truncated or
non-gzip FASTQ, no reads, mates that do not pair up): :class:`StepInputError`, which
no retry can fix. Single-end reads: a job with ``r2 == []``; the optional inputs it
lacks reach the scripts as ``-`` (:data:`~seqflow.analysis.catalog.NO_FILE`).

Layout of one sample's outputs (DESIGN.md, "Data and naming")::

    <results>/<run>/<version>/<reference>/<aligner>-<caller>/<sample>/   BAM+index, VCF+index, QC, versions
    <scratch>/<run>/<version>/<reference>/<aligner>-<caller>/<sample>/   intermediates (trimmed reads)
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from seqflow.analysis.catalog import ALIGNERS, CALLERS, NO_FILE, Step, catalog, containers_dir
from seqflow.identity import AnalysisIdentity
from seqflow.paths import check_sample_id

_log = logging.getLogger(__name__)

__all__ = [
    "ALIGNERS", "CALLERS", "INPUT_ERROR_EXIT", "STEP_SCRIPTS", "USAGE_SUFFIX", "SampleJob", "StepError",
    "StepInputError", "StepUsage", "align",
    "bam_qc", "call_variants", "containers_dir", "index_reference", "qc_reads", "run_sample_step", "run_step",
    "vcf_stats",
]

#: step implementation id (``fastp``, ``align_bwa``, ``call_variants_bcftools``, ...) -> script
#: relative to the containers folder; derived from the step catalogue
STEP_SCRIPTS: dict[str, str] = {s.id: s.script_relpath for s in catalog().steps}


#: exit status of a step script whose input data cannot be trusted (``containers/_common/seqflow_common.sh``
#: ``SEQFLOW_EXIT_INPUT``; containers/README.md): :class:`StepInputError`
INPUT_ERROR_EXIT = 3
#: exit status of a script called with invalid arguments (nothing was run)
USAGE_EXIT = 2
#: the stderr line in which a script states why it failed (``SEQFLOW_CAUSE_PREFIX``)
CAUSE_PREFIX = "seqflow-error: "
#: how many lines of the script's stderr and of its log a :class:`StepError` carries
TAIL_LINES = 20
#: the header before the log's tail that a failing script prints on stderr
_LOG_TAIL_HEADER = re.compile(r"^seqflow: the last \d+ lines of ")
_ERROR_LINE = re.compile(r"\[E::|error|fail|fatal|abort|cannot|can.t|no such|not found|truncat|unexpected|invalid|"
                         r"denied|killed|segmentation|no space", re.I)


class StepError(RuntimeError):
    """A step failed; the message starts with its cause and carries the tail of its stderr and log.

    ``exit_code`` is the script's status (None when it did not run), ``cause`` the line
    that says why, ``log`` the step's log file (kept beside its outputs).
    """

    def __init__(self, message: str, *, step: str | None = None, exit_code: int | None = None,
                 cause: str | None = None, log: Path | None = None) -> None:
        super().__init__(message)
        self.step, self.exit_code, self.cause, self.log = step, exit_code, cause, log


class StepInputError(StepError):
    """The step's input data cannot be trusted (script exit status :data:`INPUT_ERROR_EXIT`):
    a truncated or non-gzip FASTQ, no reads, R1 and R2 that do not pair up. Retrying cannot help."""


#: the file in which the local runner records a step's resource use, beside its log:
#: ``<sample>.<step>.usage.jsonl``, one :class:`StepUsage` line per run of the step's script (a retry, each
#: calling shard of a scattered step: every run is paid for; read by :mod:`seqflow.analysis.costs`)
USAGE_SUFFIX = ".usage.jsonl"


@dataclass(frozen=True)
class StepUsage:
    """What one run of a step script used, measured by the kernel for the script and every process
    it waited for (``wait4``'s rusage): CPU seconds (user + system), wall seconds, peak RSS (KiB,
    the largest of its processes), the exit status and when it started (UTC, ISO 8601)."""

    step: str
    step_id: str
    cpu_seconds: float
    user_seconds: float
    system_seconds: float
    wall_seconds: float
    max_rss_kib: int
    exit_code: int
    started_at: str

    def to_dict(self) -> dict:
        return asdict(self)


def _run_measured(argv: list[str], cwd: Path | None, impl: Step) -> tuple[int, str, str, StepUsage]:
    """Run ``argv`` to its end; its status, stdout, stderr and :class:`StepUsage`.

    ``os.wait4`` gives the rusage of this child alone (``RUSAGE_CHILDREN`` deltas would mix in any
    other child the task process reaps meanwhile and cannot give a step's own peak RSS). Its output
    goes to temporary files rather than pipes, so that nothing has to read them while it runs.
    """
    from datetime import datetime, timezone

    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err)
        try:
            _, status, rusage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    usage = StepUsage(step=impl.name, step_id=impl.id, cpu_seconds=round(rusage.ru_utime + rusage.ru_stime, 3),
                      user_seconds=round(rusage.ru_utime, 3), system_seconds=round(rusage.ru_stime, 3),
                      wall_seconds=round(wall, 3), max_rss_kib=int(rusage.ru_maxrss), exit_code=proc.returncode,
                      started_at=started_at)
    return proc.returncode, stdout, stderr, usage


def append_usage(path: Path, usage: StepUsage) -> None:
    """Append one line to a usage log: one ``write`` on an ``O_APPEND`` descriptor, so the lines of step
    processes that finish at once (the shards of one sample) never interleave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(usage.to_dict(), sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_usage(path: Path) -> list[dict]:
    """The runs a usage log records, oldest first (none when it does not exist)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def _cause(stderr_lines: list[str]) -> str:
    """Why the script failed: its own ``seqflow-error:`` line, else the first line that reads like an error."""
    stated = [line[len(CAUSE_PREFIX):] for line in stderr_lines if line.startswith(CAUSE_PREFIX)]
    if stated:
        return stated[-1]
    first = next((line for line in stderr_lines if _ERROR_LINE.search(line)), None)
    lines = [line for line in stderr_lines if line.strip()]
    return first or (lines[-1] if lines else "it wrote nothing on stderr")


def run_step(step: str | Step, args: list[str | Path], *, cwd: Path | None = None, log: Path | None = None,
             sample_id: str | None = None, keep_log_in: Path | None = None,
             usage_file: Path | None = None) -> StepUsage:
    """Run one step script (a :class:`Step` or an implementation id) with ``args``; what it used.

    ``log`` is the step's log file (the script writes it); on failure its tail is in the
    error when the script did not print it. ``keep_log_in``: a folder the log is copied to
    once the script has exited, whatever its status (the fastp step writes to scratch, its
    log belongs with the results). ``usage_file``: a JSON Lines file its :class:`StepUsage` is
    appended to once it has exited, whatever its status (a failed step cost something too). Raises :class:`StepInputError` for exit status :data:`INPUT_ERROR_EXIT`,
    :class:`StepError` for any other failure.
    """
    impl = step if isinstance(step, Step) else catalog().by_id(step)
    script = impl.script_path()
    argv = [str(script), *map(str, args)]
    _log.info("step %s: %s", impl.id, " ".join(argv))
    rc, stdout, stderr, usage = _run_measured(argv, cwd, impl)
    _log.info("step %s: %.1f CPU s, %.1f wall s, peak RSS %d KiB, exit %d", impl.id, usage.cpu_seconds,
              usage.wall_seconds, usage.max_rss_kib, rc)
    if usage_file is not None:
        append_usage(Path(usage_file), usage)
    if stdout:
        _log.info("%s stdout:\n%s", impl.id, stdout[-4000:])
    if stderr:
        _log.info("%s stderr:\n%s", impl.id, stderr[-4000:])
    if log is not None and keep_log_in is not None and Path(log).is_file():
        kept = Path(keep_log_in) / Path(log).name
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(log, kept)
        log = kept
    if rc == 0:
        return usage
    lines = stderr.splitlines()
    cause = _cause(lines)
    status = f"was killed by signal {-rc}" if rc < 0 else f"exited with {rc}"
    who, said = "", cause
    if sample_id:
        who = f" of sample {sample_id}"
        said = said.removeprefix(f"sample {sample_id}: ")  # the script names the sample too
    if rc == INPUT_ERROR_EXIT and not said.startswith("input error:"):
        said = f"input error: {said}"
    parts = [f"step {impl.id} ({impl.script_relpath}){who} {status}: {said}"]
    body = [line for line in lines if not line.startswith(CAUSE_PREFIX)][-(2 * TAIL_LINES + 1):]
    if body:
        parts += ["stderr:", *body]
    if log is not None:
        printed = any(_LOG_TAIL_HEADER.match(line) for line in lines)
        log_tail = [] if printed else _tail(Path(log))
        if log_tail:
            parts += [f"the last {len(log_tail)} lines of {log}:", *log_tail]
        elif Path(log).is_file():
            parts.append(f"log: {log}")
    error = StepInputError if rc == INPUT_ERROR_EXIT else StepError
    raise error("\n".join(parts), step=impl.id, exit_code=rc, cause=cause, log=Path(log) if log else None)


def _absent(value: object) -> bool:
    return value is None or str(value) in ("", NO_FILE)


def _check_inputs(impl: Step, inputs: Mapping[str, str | Path]) -> None:
    """Every input and every file that must lie beside it exists: fail naming the first missing one.

    An optional input (the R2 of single-end reads) may be absent.
    """
    for name in impl.inputs:
        if _absent(inputs.get(name)):
            if impl.inputs[name].optional:
                continue
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
        index_log = impl.log_output.file_name(reference=str(fasta))
        run_step(impl, impl.argv({"reference": fasta, "out_dir": fasta.parent}), log=Path(index_log))
    return fasta


@dataclass
class SampleJob:
    """Everything one sample's steps need; JSON-serialisable for XCom."""

    run_id: str
    pipeline_version: str
    sample_id: str
    r1: list[str]
    #: empty for single-end reads
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
    def single_end(self) -> bool:
        """No R2 FASTQ: fastp and the aligner run single-end."""
        return not self.r2

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


def _single_fastq(paths: list[str], dest: Path, *, sample_id: str, end: str) -> str:
    """One FASTQ per read end: lanes are concatenated (gzip members concatenate)."""
    if not paths:
        raise StepInputError(f"sample {sample_id}: the job lists no {end} FASTQ", step="fastp")
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise StepError(f"sample {sample_id}: {end} FASTQ {missing[0]} does not exist", step="fastp")
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


def run_sample_step(job: SampleJob, name: str, inputs: Mapping[str, str | Path | None], *,
                    out_dir: Path | None = None, keep_log_in: Path | None = None) -> dict[str, str]:
    """Run step ``name`` of one sample (the implementation the job's aligner and caller select).

    ``inputs`` gives the step's inputs that are earlier steps' outputs (by the
    step's input names; an optional one may be None or left out); the reference
    files come from the job. Outputs go to ``out_dir`` (default: the sample's results
    folder); returns output name -> path of every output written (not those
    ``only_with`` an absent input, e.g. no ``trimmed_r2`` for single-end reads).
    ``keep_log_in``: see :func:`run_step`. Raises :class:`StepInputError` when the
    script finds its input data untrustworthy, :class:`StepError` for any other failure.
    """
    impl = catalog().step(name, aligner=job.aligner, caller=job.caller)
    out = Path(out_dir) if out_dir is not None else job.results_dir
    given = {k: str(v) for k, v in inputs.items() if not _absent(v)}
    values: dict[str, object] = {**_external_inputs(job, impl), **given}
    _check_inputs(impl, values)  # type: ignore[arg-type]
    out.mkdir(parents=True, exist_ok=True)
    values.update(sample_id=job.sample_id, threads=job.threads, **{impl.output_dir_argument: out})
    log_path = out / impl.log_output.file_name(sample_id=job.sample_id)
    run_step(impl, impl.argv(values), log=log_path, sample_id=job.sample_id, keep_log_in=keep_log_in,
             usage_file=usage_file(job, impl.name))
    absent = {n for n in impl.inputs if _absent(values.get(n))}
    produced = {n: out / o.file_name(sample_id=job.sample_id) for n, o in impl.present_outputs(absent).items()}
    missing = [f"{n} ({p})" for n, p in produced.items() if not p.is_file()]
    if missing:
        raise StepError(f"step {impl.id} of sample {job.sample_id} exited 0 but did not write {', '.join(missing)}",
                        step=impl.id, exit_code=0, log=log_path)
    return {n: str(p) for n, p in produced.items()}


def usage_file(job: SampleJob, step: str) -> Path:
    """``<results>/<sample>/<sample>.<step>.usage.jsonl``: the step's :class:`StepUsage` lines (local steps)."""
    return job.results_dir / f"{job.sample_id}.{step}{USAGE_SUFFIX}"


def reset_usage(job: SampleJob) -> None:
    """Start the sample's usage logs afresh: its first step does, so that an analysis run again records
    its own runs (the retries and shards of this one are appended after)."""
    for path in job.results_dir.glob(f"{job.sample_id}.*{USAGE_SUFFIX}"):
        path.unlink(missing_ok=True)


def _lane_problems(end: str, paths: list[str]) -> list[str]:
    """Which lane files of a read end fail ``gzip -t``: the lanes were joined, the error named the join."""
    problems = []
    for path in paths:
        proc = subprocess.run(["gzip", "-t", path], capture_output=True, text=True)
        if proc.returncode != 0:
            said = next((ln for ln in proc.stderr.splitlines() if ln.strip()), f"gzip -t exited {proc.returncode}")
            problems.append(f"{end} lane file {path}: {said}")
        elif Path(path).stat().st_size == 0:
            problems.append(f"{end} lane file {path} is empty (0 bytes)")
    return problems


def qc_reads(job: SampleJob) -> dict[str, str]:
    """fastp: read QC and trimming, paired-end or (``job.r2 == []``) single-end.

    Reports, versions and the log go to results, trimmed reads (intermediates) to
    scratch. The step fails with :class:`StepInputError` when the reads cannot be
    trusted (truncated or non-gzip FASTQ, no reads, R1 and R2 that do not pair up);
    when lanes were joined, the error names the lane files that are at fault.
    """
    impl = catalog().step("fastp")
    reset_usage(job)
    work = job.scratch_dir / "fastp"
    work.mkdir(parents=True, exist_ok=True)
    sid = job.sample_id
    r1 = _single_fastq(job.r1, work / f"{sid}.lanes_R1.fastq.gz", sample_id=sid, end="R1")
    r2 = None if job.single_end else _single_fastq(job.r2, work / f"{sid}.lanes_R2.fastq.gz", sample_id=sid,
                                                   end="R2")
    try:
        produced = run_sample_step(job, "fastp", {"r1": r1, "r2": r2}, out_dir=work, keep_log_in=job.results_dir)
    except StepInputError as err:
        joined = [(end, paths) for end, paths in (("R1", job.r1), ("R2", job.r2)) if len(paths) > 1]
        if not joined:
            raise
        notes = [note for end, paths in joined
                 for note in [f"{end} is the lanes {', '.join(paths)} joined", *_lane_problems(end, paths)]]
        head, _, rest = str(err).partition("\n")
        raise StepInputError("\n".join([head, *notes, rest]), step=err.step, exit_code=err.exit_code,
                             cause=err.cause, log=err.log) from None
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


def align(job: SampleJob, trimmed_r1: str, trimmed_r2: str | None = None) -> dict[str, str]:
    """Align, fix mates, sort and mark duplicates into ``<sample>.bam`` (+ .bai, markdup metrics, versions, log).

    ``trimmed_r2`` None (single-end reads: fastp wrote no ``trimmed_r2``) aligns R1 alone.
    A job with an R2 must give its trimmed R2: aligning half of a pair would publish half the depth.
    """
    if trimmed_r2 is None and not job.single_end:
        raise StepError(f"step align of sample {job.sample_id}: the job has R2 FASTQs but no trimmed R2 was given",
                        step="align")
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
