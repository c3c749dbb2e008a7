"""Analysis of one sequencing run: the task bodies both profiles share, and the local steps.

``plan``, ``prepare_reference`` and ``finalise_run``'s bookkeeping are written
once against :class:`seqflow.backends.Backend`; the per-sample steps here are
the local profile's (processes), the aws profile's are Batch jobs or a
HealthOmics run (:mod:`seqflow.aws`). They pass JSON-serialisable dicts through
XCom: a sample's *state* is ``{"job": SampleJob dict, "outputs": {name: path}}``
and every per-sample step returns it with its outputs added.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from seqflow.analysis import qc, steps
from seqflow.analysis.multiqc import publish_multiqc_report
from seqflow.analysis.steps import SampleJob
from seqflow.backends import Backend, get_backend
from seqflow.config import local_paths
from seqflow.identity import AnalysisIdentity
from seqflow.params import ParamsError, validate_analysis_params
from seqflow.references.intervals import DEFAULT_INTERVAL_MB
from seqflow.references.resolve import resolve_references, single_reference
from seqflow.runfolder import FastqError, pair_fastqs

log = logging.getLogger(__name__)

#: threads per step process; the LocalExecutor runs two samples at once on 2 cores
STEP_THREADS = 2

SAMPLE_SHEET = "SampleSheet.csv"
LAKE_TABLE = "variants"
#: the per-sample QC query (seqflow/sql/<name>.sql)
QC_QUERY = "sample_variant_qc"


class AlreadyAnalysed(Exception):
    """This exact analysis (run, version, reference, aligner, caller) is done and force was not set."""


def _join(root: str, relative: str) -> str:
    return f"{root.rstrip('/')}/{relative}" if root.startswith("s3://") else str(Path(root) / relative)


def plan(params: dict[str, Any], *, backend: Backend | None = None) -> dict[str, Any]:
    """Validate the params against the run's sample sheet, resolve the reference, list the samples' jobs.

    Raises :class:`ParamsError` (bad params, unknown samples, an engine the
    profile cannot run), :class:`seqflow.references.UnknownReference`,
    :class:`seqflow.references.resolve.UnresolvedReference` (nothing names a
    reference), :class:`seqflow.backends.RunNotInRawStorage`, or
    :class:`AlreadyAnalysed`.
    """
    backend = backend or get_backend()
    params = dict(params)
    if not params.get("engine"):
        params["engine"] = backend.default_engine()
    request = validate_analysis_params(params)
    if request.run_id is None:
        raise ParamsError("run_id: the analysis DAG analyses one run; name it in the run_id param")
    if request.engine not in backend.engines:
        raise ParamsError(
            f"engine: {request.engine!r} cannot run in the {backend.profile} profile; "
            f"it runs {' or '.join(backend.engines)}"
        )
    sheet = backend.read_sample_sheet(request.run_id)
    request = validate_analysis_params(params, sheet)
    records = request.selected_samples(sheet)
    catalog = backend.references()
    resolutions = resolve_references(records, sheet, catalog.rules(), request.reference)
    ref = catalog.require(single_reference(resolutions, request.run_id))
    identity = AnalysisIdentity(request.run_id, request.pipeline_version, ref.name, request.aligner, request.caller)
    registry = backend.registry()
    record = registry.get(identity.run_id, identity.key)
    if record and record.status == "analysed" and not request.force:
        raise AlreadyAnalysed(
            f"{identity.label()} was analysed at {record.updated_at}; trigger with force=true to analyse it again"
        )
    run_uri = backend.run_uri(request.run_id)
    files = backend.run_files(request.run_id)
    jobs, inputs = [], [_join(run_uri, SAMPLE_SHEET)]
    failed: dict[str, dict[str, str]] = {}
    # the sheet says whether the run is paired: a [Reads] section with Read1Cycles and no Read2Cycles
    single_end = bool(sheet.reads.get("Read1Cycles")) and not sheet.reads.get("Read2Cycles")
    for sample in records:
        try:
            pairs = pair_fastqs(files, sample.sample_id, where=f"run folder {run_uri}", single_end=single_end)
            check_lanes(sheet, sample.sample_id, pairs, where=f"run folder {run_uri}")
        except FastqError as exc:  # this sample's files: the others go on
            failed[sample.sample_id] = {"step": "plan", "error": str(exc)}
            log.error("%s: %s", sample.sample_id, exc)
            continue
        r1 = [_join(run_uri, str(p.r1)) for p in pairs]
        r2 = [_join(run_uri, str(p.r2)) for p in pairs if p.r2 is not None]
        inputs += r1 + r2
        jobs.append(SampleJob(
            run_id=identity.run_id, pipeline_version=identity.pipeline_version, sample_id=sample.sample_id,
            r1=r1, r2=r2, reference_fasta=ref.fasta, reference=ref.name, aligner=identity.aligner,
            caller=identity.caller, ploidy_file=ref.ploidy_file, threads=STEP_THREADS,
            results_root=backend.results_root, scratch_root=backend.scratch_root,
        ).to_dict())
    if not jobs:
        registry.put(identity.run_id, identity.key, "failed", identity=identity.to_dict(), failed_samples=failed)
        raise FastqError(f"{identity.label()}: no sample can be analysed: " + "; ".join(
            f"{s}: {f['error']}" for s, f in failed.items()))
    unlisted = unlisted_fastqs(files, sheet)
    if unlisted:
        log.warning("FASTQs of samples not in the sample sheet (not analysed): %s", unlisted)
    origins = {r.sample_id: r.origin for r in resolutions}
    from seqflow.analysis.costs import sample_projects

    registry.put(
        identity.run_id, identity.key, "analysing", identity=identity.to_dict(), engine=request.engine,
        samples=[j["sample_id"] for j in jobs], reference_origin=origins, failed_samples=failed,
        unlisted_fastqs=unlisted,
        reference_md5={c.name: c.md5 for c in ref.contigs[:1000]},
    )
    log.info("%s: %d sample(s) to analyse against %s (%s): %s", identity.label(), len(jobs), ref.name,
             sorted(set(origins.values())), [j["sample_id"] for j in jobs])
    return {
        **identity.to_dict(),
        "identity_key": identity.key,
        "engine": request.engine,
        "force": request.force,
        "single_end": single_end,
        "thresholds": {"min_reads": request.min_reads, "min_mapped_pct": request.min_mapped_pct},
        "align_reads_per_shard": request.align_reads_per_shard,
        "call_interval_mb": request.call_interval_mb,
        "samples": [r.sample_id for r in records],
        # each sample's Sample_Project: the project its steps' costs are booked to (step_costs)
        "projects": sample_projects(sheet, [r.sample_id for r in records]),
        "failed_samples": failed,
        "unlisted_fastqs": unlisted,
        "run_uri": run_uri,
        "inputs": inputs,
        "results_uri": backend.results_uri(identity),
        "jobs": jobs,
    }


def check_lanes(sheet, sample_id: str, pairs, *, where: str) -> None:
    """The sheet's lanes of a sample against its files' lanes: a lane listed with no files is an error."""
    listed = {r.lane for r in sheet.records_for(sample_id) if r.lane is not None}
    found = {p.lane for p in pairs}
    if None in found or not listed:  # --no-lane-splitting, or a sheet without lanes: nothing to compare
        return
    missing = sorted(listed - found)
    if missing:
        raise FastqError(
            f"sample {sample_id!r} in {where}: the sample sheet lists lane(s) {', '.join(map(str, missing))} "
            f"but there are FASTQ files for lane(s) {', '.join(map(str, sorted(found)))} only"
        )


_ANY_FASTQ = re.compile(r"(?P<sample>.+?)_S\d+(?:_L\d{3})?_R[12]_001\.fastq\.gz")


def unlisted_fastqs(files: list[str], sheet) -> list[str]:
    """bcl-convert FASTQs of samples the sheet does not list (``Undetermined`` excepted)."""
    known = set(sheet.sample_ids()) | {"Undetermined"}
    out = []
    for name in files:
        match = _ANY_FASTQ.fullmatch(name.rsplit("/", 1)[-1])
        if match and match["sample"] not in known:
            out.append(name)
    return sorted(out)


def prepare_reference(run_plan: dict[str, Any], *, backend: Backend | None = None) -> dict[str, str]:
    """The reference's FASTA, ploidy file and aligner index: built once and cached (local), or
    checked to exist with the command that builds it (aws)."""
    backend = backend or get_backend()
    catalog = backend.references()
    ref = catalog.require(run_plan["reference"])
    catalog.ensure_index(ref, run_plan["aligner"])
    return {"reference_fasta": ref.fasta, "ploidy_file": ref.ploidy_file, "reference_uri": ref.location}


def with_reference(jobs: list[dict], ref: dict[str, str]) -> list[dict]:
    """The jobs, each pointing at the prepared reference."""
    return [{**job, "reference_fasta": ref["reference_fasta"], "ploidy_file": ref["ploidy_file"]} for job in jobs]


def _state(job: SampleJob, outputs: dict[str, str]) -> dict[str, Any]:
    return {"job": job.to_dict(), "outputs": outputs}


class SampleInputError(RuntimeError):
    """A sample's input is bad (truncated gzip, unpaired reads...): retrying cannot help."""


def failure_marker(job: SampleJob) -> Path:
    """``<results>/<sample>/<sample>.failed.json``: which step failed and why (local steps)."""
    return job.results_dir / f"{job.sample_id}.failed.json"


def _run_step(step: str, job: SampleJob, run) -> dict[str, Any]:
    """Run one local step of a sample; a failure leaves a marker naming the step and the cause,
    so the run's other samples go on and ``finalise_run`` can say what failed."""
    import json

    marker = failure_marker(job)
    try:
        outputs = run()
    except Exception as exc:
        marker.parent.mkdir(parents=True, exist_ok=True)
        input_error = type(exc).__name__ == "StepInputError"
        # the cause is the message's first line (the tool's own first error); the tail follows
        cause = getattr(exc, "cause", None) or str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        marker.write_text(json.dumps({"step": step, "error": cause, "detail": str(exc)[-4000:],
                                      "input_error": input_error}))
        if input_error:
            raise SampleInputError(str(exc)) from exc
        raise
    marker.unlink(missing_ok=True)
    return _state(job, outputs)


def qc_reads(job: dict) -> dict[str, Any]:
    sample = SampleJob.from_dict(job)
    return _run_step("fastp", sample, lambda: steps.qc_reads(sample))


def align(state: dict[str, Any]) -> dict[str, Any]:
    """The whole sample in one alignment (the step runner's ``align``)."""
    sample = SampleJob.from_dict(state["job"])
    out = state["outputs"]
    # single-end runs have no trimmed R2
    return _run_step("align", sample, lambda: {**out, **steps.align(sample, out["trimmed_r1"], out.get("trimmed_r2"))})


def scatter_reads(run_plan: dict[str, Any], jobs: list[dict]) -> list[dict[str, Any]]:
    """One alignment job per read chunk of every sample whose reads passed fastp
    (``seqflow.analysis.read_shards``: chunks of the run's ``align_reads_per_shard`` read pairs)."""
    from seqflow.analysis import read_shards

    states = []
    for job in jobs:
        sample = SampleJob.from_dict(job)
        if failure_marker(sample).exists():
            continue
        trimmed = _trimmed_reads(sample)
        if trimmed:
            states.append(_state(sample, trimmed))
    return read_shards.scatter_reads(states, reads_per_shard=run_plan.get("align_reads_per_shard",
                                                                          read_shards.DEFAULT_READS_PER_SHARD))


def _trimmed_reads(sample: SampleJob) -> dict[str, str]:
    """fastp's trimmed reads of the sample on scratch (``qc_reads`` writes them there), by output name;
    empty when there is no trimmed R1."""
    from seqflow.analysis.catalog import catalog

    work = sample.scratch_dir / "fastp"
    names = catalog().step("fastp").output_files(sample.sample_id)
    found = {name: str(work / names[name]) for name in ("trimmed_r1", "trimmed_r2") if (work / names[name]).is_file()}
    return found if "trimmed_r1" in found else {}


def align_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    """Align one read chunk (``seqflow.analysis.read_shards``)."""
    from seqflow.analysis import read_shards

    return read_shards.align_chunk(chunk)


def merge_alignment(state: dict[str, Any], chunk_jobs: list[dict] | None = None) -> dict[str, Any]:
    """The sample's BAM from its aligned read chunks (``chunk_jobs``: scatter_reads' list, of every sample)."""
    from seqflow.analysis import read_shards

    sample = SampleJob.from_dict(state["job"])
    out = state["outputs"]
    mine = [c for c in chunk_jobs or [] if c["job"]["sample_id"] == sample.sample_id]

    def merge() -> dict[str, str]:
        if not mine:
            raise steps.StepError(f"sample {sample.sample_id}: no read chunk was planned for it (scatter_reads)",
                                  step="align")
        return {**out, **read_shards.merge_chunks(state, mine)}

    return _run_step("align", sample, merge)


def scatter_calls(run_plan: dict[str, Any], jobs: list[dict]) -> list[dict[str, Any]]:
    """One calling job per shard of every sample whose alignment finished (``seqflow.analysis.scatter``):
    the reference cut into intervals of the run's ``call_interval_mb``; ``force`` calls every shard again."""
    from seqflow.analysis import scatter

    states = []
    for job in jobs:
        sample = SampleJob.from_dict(job)
        bam = sample.results_dir / f"{sample.sample_id}.bam"
        if not failure_marker(sample).exists() and bam.is_file():
            states.append(_state(sample, {"bam": str(bam)}))
    return scatter.scatter(states, interval_mb=run_plan.get("call_interval_mb", DEFAULT_INTERVAL_MB),
                           force=bool(run_plan.get("force")))


def call_shard(shard_job: dict[str, Any]) -> dict[str, Any]:
    """Call one shard, or reuse it when it completed with the same inputs (``seqflow.analysis.scatter``)."""
    from seqflow.analysis import scatter

    return scatter.call_shard(shard_job)


def call_variants(state: dict[str, Any], shard_jobs: list[dict] | None = None,
                  called: list[dict] | None = None) -> dict[str, Any]:
    """The sample's VCF gathered from its calling shards (``shard_jobs``: scatter_calls' list, of every
    sample; ``called``: the shard tasks' results, which say which shards were reused)."""
    from seqflow.analysis import scatter

    sample = SampleJob.from_dict(state["job"])
    out = state["outputs"]
    mine = [scatter.shard_from_dict(s["shard"]) for s in shard_jobs or [] if s["job"]["sample_id"] == sample.sample_id]

    def gather() -> dict[str, str]:
        if not mine:
            raise steps.StepError(f"sample {sample.sample_id}: no calling shard was planned for it (scatter_calls)",
                                  step="call_variants")
        return {**out, **scatter.gather(state, mine, called=[c for c in called or [] if c])}

    return _run_step("call_variants", sample, gather)


def bam_qc(state: dict[str, Any]) -> dict[str, Any]:
    sample = SampleJob.from_dict(state["job"])
    out = state["outputs"]
    return _run_step("bam_qc", sample, lambda: {**out, **steps.bam_qc(sample, out["bam"])})


def vcf_stats(state: dict[str, Any]) -> dict[str, Any]:
    """The sample's last step: bcftools stats, then its scratch (trimmed reads) is dropped."""
    sample = SampleJob.from_dict(state["job"])
    out = state["outputs"]
    result = _run_step("vcf_stats", sample, lambda: {**out, **steps.vcf_stats(sample, out["vcf"])})
    steps.drop_scratch(sample)
    return result


# -- after the per-sample steps: profile-free ----------------------------------------------


def collect_vcfs(run_plan: dict[str, Any], jobs: list[dict], *, omics_run_ids: list[str] | None = None,
                 backend: Backend | None = None) -> list[dict[str, str]]:
    """Each sample's VCF: the results folder of the analysis (local steps, Batch), or the
    HealthOmics run's output (``omics``)."""
    backend = backend or get_backend()
    identity = AnalysisIdentity.from_dict(run_plan)
    if run_plan["engine"] == "omics":
        from seqflow.aws.analysis import omics_vcfs

        return omics_vcfs(jobs, omics_run_ids, settings=getattr(backend, "settings", None))
    done, failed = [], {}
    for job in jobs:
        sample_id = job["sample_id"]
        results = backend.results_uri(identity, sample_id)
        failure = sample_failure(results, sample_id, backend)
        # the last step's output: a sample whose steps did not all finish has none (or a stale one
        # beside a failure marker)
        stats = _join(results, f"{sample_id}.bcftools_stats.txt")
        if failure is None and backend.exists(stats):
            failure = _below_thresholds(run_plan, results, sample_id, backend)
            if failure is None:
                done.append({"sample_id": sample_id, "vcf": _join(results, f"{sample_id}.vcf.gz")})
                continue
        failed[sample_id] = failure or {"step": "unknown", "error": "its steps did not finish (see their logs)"}
    if failed:
        log.error("%s: %d of %d sample(s) failed: %s", identity.label(), len(failed), len(jobs), failed)
    if not done:
        backend.registry().put(identity.run_id, identity.key, "failed", failed_samples=failed)
        backend.alert({"event": "analysis failed", "analysis": identity.label(), "failed_samples": failed})
        raise RuntimeError(f"{identity.label()}: every sample failed: " + "; ".join(
            f"{s} at {f['step']}: {f['error'][-300:]}" for s, f in failed.items()))
    return done


def _below_thresholds(run_plan: dict[str, Any], results: str, sample_id: str, backend: Backend) -> dict | None:
    """The sample's failure when its reads or mapping rate are below the run's thresholds, recorded as
    its failure marker (so the run's summary and the registry name it), else None."""
    import json

    limits = qc.Thresholds(**run_plan.get("thresholds", {}))
    error = qc.threshold_failure(sample_id, qc.output_files(results, sample_id), limits, read_text=backend.read_text)
    if error is None:
        return None
    failure = {"step": "qc_thresholds", "error": error}
    backend.write_text(_join(results, f"{sample_id}.failed.json"), json.dumps(failure, indent=2) + "\n")
    return failure


def sample_failure(results_dir: str, sample_id: str, backend: Backend) -> dict | None:
    """The failure marker of a sample (local steps), or None."""
    import json

    marker = _join(results_dir, f"{sample_id}.failed.json")
    if not backend.exists(marker):
        return None
    return json.loads(backend.read_text(marker))


def converter_args(run_plan: dict[str, Any], vcfs: list[dict], *, backend: Backend | None = None
                   ) -> list[dict[str, str]]:
    """Arguments of the converter runs: one set per VCF for the converter in process (local), or
    one set for the whole analysis where the backend runs the converter as one job per analysis
    (aws: one Glue job run, its samples in a manifest object in S3; ``backend.converter_job_args``)."""
    backend = backend or get_backend()
    identity = AnalysisIdentity.from_dict(run_plan)
    one_job = getattr(backend, "converter_job_args", None)
    if one_job is not None:
        samples = [
            {"sample_id": item["sample_id"], "vcf": item["vcf"],
             # the QC files the steps left in the results folder (not HealthOmics): the job's qc_metrics rows
             "qc": None if run_plan["engine"] == "omics"
             else qc.output_files(backend.results_uri(identity, item["sample_id"]), item["sample_id"])}
            for item in vcfs
        ]
        return [one_job(identity, samples)]
    return [
        {
            "--vcf_uri": item["vcf"],
            "--lake_uri": backend.lake_uri(),
            **{f"--{name}": value for name, value in identity.to_dict().items()},
            "--sample_id": item["sample_id"],
            "--table": LAKE_TABLE,
        }
        for item in vcfs
    ]


def convert_in_process(args: dict[str, str]) -> dict[str, Any]:
    """The local converter: the same arguments as the Glue job, run in this process. It stages the
    sample's rows for ``register_partitions``, which commits the run's samples in one Iceberg commit
    (nothing reaches readers before it)."""
    from seqflow.lake import Lake, convert_vcf_to_parquet
    from seqflow.lake.api import local_staging_root

    identity = AnalysisIdentity.from_dict({k.removeprefix("--"): v for k, v in args.items()})
    # staged in the table's own form, so that register_partitions commits the files without rewriting them
    tbl = Lake.local(args["--lake_uri"]).ensure(args["--table"])
    result = convert_vcf_to_parquet(args["--vcf_uri"], local_staging_root(args["--lake_uri"]), identity=identity,
                                    sample_id=args["--sample_id"], table=args["--table"], lake_table=tbl)
    log.info("%s: %d row(s) staged for %s", args["--sample_id"], result.rows, result.table)
    return {"sample_id": args["--sample_id"], "rows": result.rows}


def lake_partitions(run_plan: dict[str, Any], vcfs: list[dict]) -> list:
    """The lake partitions of the run's samples: deterministic, from the identity and the sample ids."""
    from seqflow.lake import Partition

    identity = AnalysisIdentity.from_dict(run_plan)
    return [Partition.of(LAKE_TABLE, identity, item["sample_id"]) for item in vcfs]


def register_partitions(run_plan: dict[str, Any], vcfs: list[dict], *, backend: Backend | None = None) -> int:
    """The run's samples in the lake's ``variants`` table: one Iceberg commit of the staged samples
    (local); on AWS the Glue job run made that commit, and this checks its result names exactly
    these samples. Idempotent."""
    backend = backend or get_backend()
    partitions = lake_partitions(run_plan, vcfs)
    backend.register_partitions(partitions)
    identity = AnalysisIdentity.from_dict(run_plan)
    # the end of the turnaround `seqflow report` measures: completion flag seen -> rows in the lake
    backend.registry().put(identity.run_id, identity.key, "analysing",
                           lake_committed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    log.info("%d sample(s) of %s in the lake", len(partitions), LAKE_TABLE)
    return len(partitions)


def qc_summary_sql(run_plan: dict[str, Any]) -> str:
    """The per-sample QC query (``sql/sample_variant_qc.sql``) over this analysis only.

    It reads the table ``variants`` filtered by the whole analysis identity, so
    it means the same on DuckDB and Athena (no view that one side lacks). The
    identity's parts are validated names, safe as literals.
    """
    from seqflow.catalog.sql import load

    identity = AnalysisIdentity.from_dict(run_plan)
    body = "\n".join(line for line in load(QC_QUERY).splitlines() if not line.lstrip().startswith("--"))
    body = body.rsplit("ORDER BY", 1)[0].replace("FROM variants_latest", "FROM variants")
    where = " AND ".join(f"q.{name} = '{value}'" for name, value in identity.to_dict().items())
    sql = f"SELECT * FROM (\n{body}\n) AS q\nWHERE {where}\nORDER BY q.sample_id"
    from seqflow.catalog.athena import check_runs_on_aws

    # Athena runs it too: it may read only what the Glue database holds (the tables, and the views the
    # converter job creates after its first commit: read the table here, which exists once the run converted)
    return check_runs_on_aws(sql)


def local_query(sql: str) -> list[dict[str, Any]]:
    """A query (Athena dialect) on the local DuckDB catalog, as JSON-able rows."""
    from seqflow.catalog import run_query

    columns, rows = run_query(local_paths().lake, sql)
    return [{c: (v if isinstance(v, (int, float, str)) or v is None else str(v)) for c, v in zip(columns, row)}
            for row in rows]


def truth_vcf(run_id: str, sample_id: str) -> Path | None:
    """The demo truth set beside the run, when there is one (local profile)."""
    from seqflow.demo.runfolder import truth_vcf_name

    path = local_paths().truth / run_id / truth_vcf_name(sample_id)
    return path if path.is_file() else None


def _sample_rows(run_plan: dict[str, Any], vcfs: list[dict], qc_rows: list[dict], backend: Backend) -> list[dict]:
    """One QC row per sample: the steps' QC files (where the engine left them in the results
    folder), the call counts of the QC query, and concordance with a truth set where one exists."""
    identity = AnalysisIdentity.from_dict(run_plan)
    by_sample = {str(r.get("sample_id")): r for r in qc_rows}
    rows = []
    for item in vcfs:
        sample_id = item["sample_id"]
        row: dict[str, Any] = {"sample_id": sample_id, "precision": None, "recall": None, "f1": None}
        if run_plan["engine"] != "omics":
            outputs = qc.output_files(backend.results_uri(identity, sample_id), sample_id)
            row.update(qc.sample_metrics(outputs, read_text=backend.read_text))
        lake = by_sample.get(sample_id, {})
        row["variants_in_lake"] = lake.get("records")
        truth = truth_vcf(identity.run_id, sample_id) if backend.profile == "local" else None
        if truth is not None:
            # pysam, for the local profile's demo truth sets only (not on MWAA's workers)
            from seqflow.demo.scoring import score_vcf

            fasta = backend.references().require(identity.reference).fasta
            score = score_vcf(truth, Path(item["vcf"]), Path(fasta))
            row.update(precision=round(score.precision, 4), recall=round(score.recall, 4), f1=round(score.f1, 4))
        rows.append(row)
    return rows


def step_costs(run_plan: dict[str, Any], vcfs: list[dict], backend: Backend) -> tuple[list[dict], dict]:
    """What the analysis's steps used and cost (:mod:`seqflow.analysis.costs`): its ``step_costs`` rows,
    published to the lake, and their summary for the registry. Finding and pricing them never fails the
    analysis: an error (an AWS API refusing, an unreadable price table) is logged and recorded in the
    summary; writing found rows to the lake is not optional."""
    from seqflow.analysis.costs import cost_summary

    identity = AnalysisIdentity.from_dict(run_plan)
    try:
        rows = backend.step_costs(run_plan, vcfs)
    except Exception as exc:  # the analysis itself is done; its cost is what is missing
        log.warning("%s: no step costs: %s", identity.label(), exc, exc_info=True)
        return [], {"error": f"{type(exc).__name__}: {exc}"}
    where = backend.publish_step_costs(identity, rows) if rows else {}
    summary = {**cost_summary(rows), **where}
    log.info("%s: %d step(s), %.1f CPU s, %.1f wall s, cost %s USD", identity.label(), summary["steps"],
             summary["cpu_seconds"], summary["wall_seconds"], summary["cost_usd"])
    return rows, summary


def shard_summaries(run_plan: dict[str, Any], vcfs: list[dict], backend: Backend) -> dict[str, dict]:
    """Per analysed sample, its calling shards: how many, which were called and which reused
    (``<sample>.shards.json``, written by the gather; samples of an engine that writes none are left out)."""
    import json

    identity = AnalysisIdentity.from_dict(run_plan)
    found = {}
    for item in vcfs:
        path = _join(backend.results_uri(identity, item["sample_id"]), f"{item['sample_id']}.shards.json")
        if run_plan["engine"] != "omics" and backend.exists(path):
            data = json.loads(backend.read_text(path))
            found[item["sample_id"]] = {k: data[k] for k in ("count", "called", "reused", "labels")}
    return found


def finalise_run(run_plan: dict[str, Any], vcfs: list[dict], qc_result, *, backend: Backend | None = None,
                 launch: dict[str, Any] | None = None, dag_run_id: str | None = None) -> dict[str, Any]:
    """Per-sample QC rows, the lake's ``qc_metrics`` (local), MultiQC report, QC summary, manifest, the
    steps' costs (the lake's ``step_costs``); registry: analysed, with the cost; and, for a DAG run of a
    launch request (``launch``: its conf's ``launch_request``), the run's end in the request's record.

    ``qc_result`` is the QC query's rows (local) or its Athena query execution id (aws).
    """
    backend = backend or get_backend()
    identity = AnalysisIdentity.from_dict(run_plan)
    qc_rows = backend.query_rows(qc_result)
    rows = _sample_rows(run_plan, vcfs, qc_rows, backend)
    analysed = {v["sample_id"] for v in vcfs}
    failed = {}
    for sample_id in run_plan["samples"]:
        if sample_id in run_plan.get("failed_samples", {}):
            failed[sample_id] = run_plan["failed_samples"][sample_id]
        elif sample_id not in analysed:
            failure = sample_failure(backend.results_uri(identity, sample_id), sample_id, backend)
            failed[sample_id] = failure or {"step": "unknown", "error": "its steps did not finish (see their logs)"}
    status = "partially_analysed" if failed else "analysed"
    # before the manifest, so that the manifest lists the report
    report = publish_multiqc_report(backend, identity, rows, sorted(analysed), failed)
    _, cost = step_costs(run_plan, vcfs, backend)
    outputs = backend.publish_run_outputs(
        identity, rows, {"status": status, "failed_samples": failed, "unlisted_fastqs": run_plan.get("unlisted_fastqs", [])})
    outputs = {**outputs, **report}
    registry = backend.registry()
    analysis = registry.put(identity.run_id, identity.key, status, **outputs, samples=rows,
                           vcfs={v["sample_id"]: v["vcf"] for v in vcfs}, failed_samples=failed,
                           shards=shard_summaries(run_plan, vcfs, backend),
                           unlisted_fastqs=run_plan.get("unlisted_fastqs", []), cost=cost,
                           finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    if launch:
        record_launched_run_end(registry, launch, analysis, dag_run_id=dag_run_id, read_text=backend.read_text)
    if failed:
        backend.alert({"event": "analysis partially failed", "analysis": identity.label(),
                       "failed_samples": failed})
    log.info("%s %s: %s", identity.label(), status.replace("_", " "), outputs)
    return {**outputs, "samples": rows, "status": status, "failed_samples": failed}


def record_launch_end(launch: dict[str, Any], params: dict[str, Any], *, ti, dag_run_id: str,
                      task_order: list[str] | None = None, backend: Backend | None = None) -> None:
    """The analysis DAG's last task (``record_launch_end``, a teardown) for a DAG run of a launch request:
    the DAG run's task states (``ti.get_task_states``) and plan to :func:`seqflow.launch.record_dag_run_end`,
    which leaves a run its ``finalise_run`` recorded as it is. Never raises for a conf naming no request."""
    from seqflow.launch import record_dag_run_end

    backend = backend or get_backend()
    dag_id = ti.dag_id
    states = (ti.get_task_states(dag_id=dag_id, run_ids=[dag_run_id]) or {}).get(dag_run_id, {})
    states = {t: s for t, s in states.items() if t != ti.task_id}
    plan_xcom = ti.xcom_pull(task_ids="plan") if states.get("plan") == "success" else None
    _update_launch(launch, lambda: record_dag_run_end(
        backend.registry(), launch, states, params=params, plan=plan_xcom, dag_run_id=dag_run_id,
        task_order=task_order, read_text=backend.read_text))


def record_launched_run_end(registry, launch: dict[str, Any], analysis, *, dag_run_id: str | None = None,
                            read_text=None) -> None:
    """The launch request of this DAG run learns its end from the run itself (not only when `seqflow status`
    polls): :func:`seqflow.launch.record_run_end`. A conf naming no recorded request is logged, not fatal:
    the analysis itself is recorded."""
    from seqflow.launch import record_run_end

    _update_launch(launch, lambda: record_run_end(registry, launch, analysis, dag_run_id=dag_run_id,
                                                  read_text=read_text))


def _update_launch(launch: dict[str, Any], write) -> None:
    """Runs ``write`` (a request update of :mod:`seqflow.launch`, returning the request record or None)
    and logs what it did. A conf naming no recorded request, or a malformed one (a hand-written conf: a
    bad request id or params), is logged, not fatal: the analysis itself is recorded."""
    try:
        record = write()
    except ValueError as exc:  # ParamsError is one
        log.warning("launch request not updated: %s", exc)
        return
    if record is None:
        log.warning("launch request %s (run %s) is not in the registry: not updated", launch.get("request_id"),
                    launch.get("run"))
    else:
        run = record.details["runs"][launch["run"]]
        log.info("launch request %s: run %s %s%s, request %s", record.request_id, launch.get("run"),
                 run.get("status"), f" at {run['failed_step']}" if run.get("failed_step") else "", record.status)
