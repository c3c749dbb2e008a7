"""Analysis of one sequencing run, local profile: plan, reference, per-sample steps, lake, reports.

Each function is one task of the analysis DAG. They pass JSON-serialisable
dicts through XCom: a sample's *state* is ``{"job": SampleJob dict, "outputs":
{name: path}}`` and every per-sample step returns it with its outputs added.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from seqflow.analysis import qc, report, steps
from seqflow.analysis.steps import SampleJob
from seqflow.config import local_paths
from seqflow.params import ParamsError, validate_analysis_params
from seqflow.registry import RunRegistry, local_registry
from seqflow.runfolder import find_fastqs
from seqflow.samplesheet import parse_sample_sheet
from seqflow.tasks.ingest import raw_run

log = logging.getLogger(__name__)

#: genome ploidy per reference, for the caller (phage and bacteria are haploid)
PLOIDY: dict[str, int] = {"lambda": 1, "ecoli_k12_mg1655": 1}

#: threads per step process; the LocalExecutor runs two samples at once on 2 cores
STEP_THREADS = 2

CALLER = "bcftools"


class AlreadyAnalysed(Exception):
    """The run was analysed with this pipeline version and force was not set."""


def plan(params: dict[str, Any], *, registry: RunRegistry | None = None) -> dict[str, Any]:
    """Validate the params against the run's sample sheet and list the samples' jobs."""
    registry = registry or local_registry()
    request = validate_analysis_params(params)
    if request.run_id is None:
        raise ParamsError("run_id: the analysis DAG analyses one run; name it in the run_id param")
    if request.engine != "local":
        raise ParamsError(f"engine: {request.engine!r} needs the aws profile; this deployment runs the local profile")
    run = raw_run(request.run_id)
    if not run.path.is_dir():
        raise FileNotFoundError(
            f"run {request.run_id} is not in raw storage ({run.path}); ingest it first with the daily ingest DAG"
        )
    sheet = parse_sample_sheet(run.path / "SampleSheet.csv")
    request = validate_analysis_params(params, sheet)
    record = registry.get(request.run_id, request.pipeline_version)
    if record and record.status == "analysed" and not request.force:
        raise AlreadyAnalysed(
            f"{request.run_id} was analysed with pipeline {request.pipeline_version} at {record.updated_at};"
            " trigger with force=true to analyse it again"
        )
    paths = local_paths()
    jobs = []
    for sample in request.selected_samples(sheet):
        pairs = find_fastqs(run.path, sample.sample_id)
        jobs.append(
            SampleJob(
                run_id=request.run_id,
                pipeline_version=request.pipeline_version,
                sample_id=sample.sample_id,
                r1=[str(p.r1) for p in pairs],
                r2=[str(p.r2) for p in pairs],
                reference_fasta="",  # filled in once the reference is prepared
                aligner=request.aligner,
                ploidy=PLOIDY.get(request.reference, 2),
                threads=STEP_THREADS,
                results_root=str(paths.results),
                scratch_root=str(paths.scratch),
            ).to_dict()
        )
    registry.put(
        request.run_id, request.pipeline_version, "analysing",
        samples=[j["sample_id"] for j in jobs], aligner=request.aligner, reference=request.reference,
    )
    log.info("%s: %d sample(s) to analyse: %s", request.run_id, len(jobs), [j["sample_id"] for j in jobs])
    return {
        "run_id": request.run_id,
        "pipeline_version": request.pipeline_version,
        "reference": request.reference,
        "aligner": request.aligner,
        "jobs": jobs,
    }


def prepare_reference(reference: str, aligner: str) -> str:
    """Fetch the reference FASTA and build its aligner index, both cached across runs."""
    from seqflow.demo.references import fetch_reference

    fasta = fetch_reference(reference, local_paths().references)
    steps.index_reference(fasta, aligner)
    return str(fasta)


def with_reference(jobs: list[dict], fasta: str) -> list[dict]:
    """The jobs, each pointing at the prepared reference."""
    return [{**job, "reference_fasta": fasta} for job in jobs]


def _state(job: SampleJob, outputs: dict[str, str]) -> dict[str, Any]:
    return {"job": job.to_dict(), "outputs": outputs}


def qc_reads(job: dict) -> dict[str, Any]:
    sample = SampleJob.from_dict(job)
    return _state(sample, steps.qc_reads(sample))


def align(state: dict[str, Any]) -> dict[str, Any]:
    sample = SampleJob.from_dict(state["job"])
    out = state["outputs"]
    return _state(sample, {**out, **steps.align(sample, out["trimmed_r1"], out["trimmed_r2"])})


def call_variants(state: dict[str, Any]) -> dict[str, Any]:
    sample = SampleJob.from_dict(state["job"])
    out = state["outputs"]
    return _state(sample, {**out, **steps.call_variants(sample, out["bam"])})


def qc_stats(state: dict[str, Any]) -> dict[str, Any]:
    sample = SampleJob.from_dict(state["job"])
    out = state["outputs"]
    return _state(sample, {**out, **steps.qc_stats(sample, out["bam"], out["vcf"])})


def to_parquet(state: dict[str, Any], reference: str) -> dict[str, Any]:
    """Convert the sample's VCF into the lake (atomic, replaces only this run/version/sample)."""
    from seqflow.lake import convert_vcf_to_parquet

    job = state["job"]
    result = convert_vcf_to_parquet(
        state["outputs"]["vcf"], local_paths().lake,
        run_id=job["run_id"], sample_id=job["sample_id"], pipeline_version=job["pipeline_version"],
        reference=reference, caller=CALLER,
    )
    return {**state, "lake": {
        "table": result.table,
        "rows": result.rows,
        "partitions": [dataclasses.asdict(partition) for partition in result.partitions],
    }}


def register_partitions(states: list[dict[str, Any]]) -> int:
    """Register the new lake partitions in the DuckDB catalog (idempotent)."""
    from seqflow.catalog import register_partitions_duckdb
    from seqflow.lake import Partition

    partitions = [
        Partition(**{**p, "files": tuple(p["files"])}) for s in states for p in s["lake"]["partitions"]
    ]
    paths = local_paths()
    register_partitions_duckdb(paths.catalog, paths.lake, partitions)
    return len(partitions)


def truth_vcf(run_id: str, sample_id: str) -> Path | None:
    """The demo truth set beside the run, when there is one."""
    from seqflow.demo.runfolder import truth_vcf_name

    path = local_paths().truth / run_id / truth_vcf_name(sample_id)
    return path if path.is_file() else None


def finalise_run(
    plan_: dict[str, Any], states: list[dict[str, Any]], *, registry: RunRegistry | None = None
) -> dict[str, Any]:
    """Per-sample QC metrics (and truth concordance for demo runs), lake QC table, QC summary, manifest."""
    from seqflow.demo.scoring import score_vcf
    from seqflow.lake import QC_METRICS_SCHEMA, publish_qc_metrics

    registry = registry or local_registry()
    run_id, version = plan_["run_id"], plan_["pipeline_version"]
    rows = []
    for state in states:
        job, out = state["job"], state["outputs"]
        row: dict[str, Any] = {"sample_id": job["sample_id"], **qc.sample_metrics(out)}
        row.update(precision=None, recall=None, f1=None)
        truth = truth_vcf(run_id, job["sample_id"])
        if truth is not None:
            score = score_vcf(truth, Path(out["vcf"]), Path(job["reference_fasta"]))
            row.update(precision=round(score.precision, 4), recall=round(score.recall, 4), f1=round(score.f1, 4))
        rows.append(row)
    paths = local_paths()
    from seqflow.catalog import register_partitions_duckdb

    lake_columns = set(QC_METRICS_SCHEMA.names)
    published = publish_qc_metrics(
        paths.lake, [{k: v for k, v in row.items() if k in lake_columns} for row in rows],
        run_id=run_id, pipeline_version=version,
    )
    register_partitions_duckdb(paths.catalog, paths.lake, published.partitions)
    context = {k: plan_[k] for k in ("run_id", "pipeline_version", "reference", "aligner")}
    run_dir = paths.results / run_id / version
    summary = report.write_qc_summary(run_dir, rows, context)
    manifest = report.write_manifest(run_dir, context)
    registry.put(run_id, version, "analysed", qc_summary=str(summary), manifest=str(manifest), samples=rows)
    log.info("%s (%s): %s", run_id, version, (run_dir / "qc_summary.md").read_text())
    return {"qc_summary": str(summary), "manifest": str(manifest), "samples": rows}
