"""Analysis of one sequencing run, ``aws`` profile: plan from S3, Batch or HealthOmics, Glue, Athena.

The functions are the bodies of the analysis DAG's tasks in the aws profile
(see ``dags/seqflow_analysis.py``); the local profile's are in
:mod:`seqflow.tasks.analysis`. Every location is an S3 URI under the run,
sample and pipeline-version prefix, so a retry or a re-analysis with another
version never overwrites in place.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from seqflow.aws.settings import AWS_CONN_ID, ENGINES, load_settings
from seqflow.params import ParamsError, validate_analysis_params
from seqflow.registry import RunRegistry
from seqflow.runfolder import _fastq_name_re
from seqflow.samplesheet import parse_sample_sheet
from seqflow.tasks.analysis import CALLER, PLOIDY, AlreadyAnalysed

log = logging.getLogger(__name__)

SAMPLE_SHEET = "SampleSheet.csv"
LAKE_TABLE = "variants"
#: the QC summary query of the run (seqflow/sql/<name>.sql)
QC_QUERY = "sample_variant_qc"


def aws_analysis_params() -> dict:
    """The analysis params of the aws profile: ``engine`` empty means the deployment's default."""
    from airflow.sdk import Param

    from seqflow.params import analysis_params

    params = analysis_params()
    params["engine"] = Param(
        None,
        type=["null", "string"],
        enum=[None, *ENGINES],
        title="Engine",
        description=(
            "Where the per-sample analysis runs: AWS Batch or AWS HealthOmics. "
            "Empty: the deployment's default (Variable seqflow_default_engine)."
        ),
    )
    return params


def _s3_hook():
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=AWS_CONN_ID)


def plan(params: dict[str, Any], *, registry: RunRegistry | None = None, settings=None, s3_hook=None) -> dict:
    """Validate the params, resolve the engine, list the run's objects (metadata only).

    Raises :class:`AlreadyAnalysed` when this version of the run is done and
    ``force`` is not set. Reading the sample sheet waits for :mod:`restore`.
    """
    from seqflow.aws.registry import aws_registry

    settings = settings or load_settings()
    params = dict(params)
    if params.get("engine") in (None, ""):
        params["engine"] = settings.engine
    request = validate_analysis_params(params)
    if request.run_id is None:
        raise ParamsError("run_id: the analysis DAG analyses one run; name it in the run_id param")
    if request.engine not in ENGINES:
        raise ParamsError(f"engine: {request.engine!r} runs in the local profile only; the aws profile runs "
                          f"{' or '.join(ENGINES)}")
    registry = registry or aws_registry(settings)
    record = registry.get(request.run_id, request.pipeline_version)
    if record and record.status == "analysed" and not request.force:
        raise AlreadyAnalysed(
            f"{request.run_id} was analysed with pipeline {request.pipeline_version} at {record.updated_at};"
            " trigger with force=true to analyse it again"
        )
    s3 = s3_hook or _s3_hook()
    bucket, prefix = settings.require("raw_bucket"), settings.raw_run_prefix(request.run_id)
    keys = s3.list_keys(bucket_name=bucket, prefix=prefix) or []
    if prefix + SAMPLE_SHEET not in keys:
        raise FileNotFoundError(
            f"run {request.run_id} is not in raw storage (no s3://{bucket}/{prefix}{SAMPLE_SHEET});"
            " ingest it first with the daily ingest DAG"
        )
    # what the analysis reads: the sample sheet and the FASTQs (never the BCLs)
    inputs = sorted(k for k in keys if k == prefix + SAMPLE_SHEET or k.endswith(".fastq.gz"))
    return {
        "run_id": request.run_id,
        "pipeline_version": request.pipeline_version,
        "reference": request.reference,
        "aligner": request.aligner,
        "engine": request.engine,
        "samples": list(request.samples),
        "force": request.force,
        "raw_bucket": bucket,
        "raw_prefix": prefix,
        "input_keys": inputs,
    }


def reference(reference_name: str, aligner: str, *, settings=None, s3_hook=None) -> dict[str, str]:
    """The reference and its indexes in S3 (``s3://<raw>/references/<name>/<name>.fa`` + indexes).

    Fails naming the missing objects: references are uploaded once per
    deployment (see docs/aws.md), not built on the Airflow workers.
    """
    settings = settings or load_settings()
    s3 = s3_hook or _s3_hook()
    root = settings.reference_uri(reference_name)
    bucket, prefix = root[5:].split("/", 1)
    fasta = f"{prefix}{reference_name}.fa"
    needed = [fasta, fasta + ".fai"]
    needed += [f"{fasta}.{ext}" for ext in ("amb", "ann", "bwt", "pac", "sa")] if aligner == "bwa" else [fasta + ".mmi"]
    present = set(s3.list_keys(bucket_name=bucket, prefix=prefix) or [])
    missing = [k for k in needed if k not in present]
    if missing:
        raise FileNotFoundError(
            f"reference {reference_name!r} for {aligner} is incomplete in s3://{bucket}/{prefix}: missing "
            + ", ".join(missing)
        )
    return {"reference_uri": root, "reference_fasta": f"s3://{bucket}/{fasta}"}


def sample_jobs(run_plan: dict, ref: dict[str, str], *, s3_hook=None) -> list[dict[str, Any]]:
    """One job per selected sample: its FASTQ URIs, the reference, where results go."""
    s3 = s3_hook or _s3_hook()
    bucket, prefix = run_plan["raw_bucket"], run_plan["raw_prefix"]
    with tempfile.TemporaryDirectory(prefix="seqflow-sheet-") as tmp:
        local = Path(tmp) / SAMPLE_SHEET
        s3.download_file(key=prefix + SAMPLE_SHEET, bucket_name=bucket, local_path=tmp,
                         preserve_file_name=True, use_autogenerated_subdir=False)
        sheet = parse_sample_sheet(local)
    request = validate_analysis_params({k: run_plan[k] for k in (
        "run_id", "pipeline_version", "reference", "aligner", "engine", "samples", "force")}, sheet)
    jobs = []
    for sample in request.selected_samples(sheet):
        pattern = _fastq_name_re(sample.sample_id)
        reads: dict[int, list[str]] = {1: [], 2: []}
        for key in run_plan["input_keys"]:
            match = pattern.fullmatch(PurePosixPath(key).name)
            if match:
                reads[int(match["read"])].append(f"s3://{bucket}/{key}")
        if len(reads[1]) != 1 or len(reads[2]) != 1:
            raise FileNotFoundError(
                f"sample {sample.sample_id!r} of run {request.run_id}: expected one R1 and one R2 FASTQ under "
                f"s3://{bucket}/{prefix} (bcl-convert --no-lane-splitting), found R1={reads[1]} R2={reads[2]}"
            )
        jobs.append({
            "run_id": request.run_id,
            "pipeline_version": request.pipeline_version,
            "sample_id": sample.sample_id,
            "r1": reads[1][0],
            "r2": reads[2][0],
            "aligner": request.aligner,
            "ploidy": PLOIDY.get(request.reference, 2),
            "reference": request.reference,
            **ref,
        })
    if not jobs:
        raise ParamsError(f"run {request.run_id}: no samples selected")
    return jobs


def record_analysing(run_plan: dict, jobs: list[dict], *, registry: RunRegistry | None = None) -> None:
    from seqflow.aws.registry import aws_registry

    (registry or aws_registry()).put(
        run_plan["run_id"], run_plan["pipeline_version"], "analysing",
        samples=[j["sample_id"] for j in jobs], engine=run_plan["engine"],
        aligner=run_plan["aligner"], reference=run_plan["reference"],
    )


# -- HealthOmics ---------------------------------------------------------------------------


def omics_images(settings, *, batch_hook=None) -> dict[str, str]:
    """Tool images of the workflow, read from the Batch job definitions (one source of truth)."""
    from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook

    hook = batch_hook or BatchClientHook(aws_conn_id=AWS_CONN_ID)
    names = {
        "fastp_image": settings.require("batch_job_definition_fastp"),
        "bwa_image": settings.require("batch_job_definition_align"),
        "minimap2_image": settings.get("batch_job_definition_align_minimap2"),
        "samtools_image": settings.require("batch_job_definition_stats"),
        "bcftools_image": settings.require("batch_job_definition_call"),
    }
    images: dict[str, str] = {}
    for parameter, name in names.items():
        if not name:
            continue
        found = hook.client.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"]
        if found:
            latest = max(found, key=lambda d: d["revision"])
            images[parameter] = latest["containerProperties"]["image"]
    missing = [p for p in ("fastp_image", "bwa_image", "samtools_image", "bcftools_image") if p not in images]
    if missing:
        raise LookupError(f"no active Batch job definition gives the image(s) {missing}: {names}")
    return images


def omics_requests(jobs: list[dict], *, settings=None, images: dict[str, str] | None = None) -> list[dict]:
    """``OmicsStartRunOperator`` arguments, one per sample (for ``expand_kwargs``)."""
    settings = settings or load_settings()
    images = images if images is not None else omics_images(settings)
    requests = []
    for job in jobs:
        fasta = job["reference_fasta"]
        parameters = {
            "sample_id": job["sample_id"],
            "fastq_r1": job["r1"],
            "fastq_r2": job["r2"],
            "reference_fasta": fasta,
            "reference_fai": fasta + ".fai",
            "aligner": job["aligner"],
            "ploidy": job["ploidy"],
            **{k: v for k, v in images.items() if k != "minimap2_image" or job["aligner"] == "minimap2"},
        }
        if job["aligner"] == "bwa":
            parameters.update({f"reference_{ext}": f"{fasta}.{ext}" for ext in ("amb", "ann", "bwt", "pac", "sa")})
        else:
            parameters["reference_mmi"] = fasta + ".mmi"
        base = settings.require("omics_output_uri").rstrip("/")
        requests.append({
            "workflow_id": settings.require("omics_workflow_id"),
            "role_arn": settings.require("omics_role_arn"),
            "run_group_id": settings.get("omics_run_group_id") or None,
            "output_uri": f"{base}/{job['run_id']}/{job['pipeline_version']}/{job['sample_id']}/",
            "run_id": job["run_id"],
            "sample_id": job["sample_id"],
            "project": settings.require("project"),
            "pipeline_version": job["pipeline_version"],
            "parameters": parameters,
        })
    return requests


def omics_vcf_uri(output_uri: str, omics_run_id: str, sample_id: str) -> str:
    """Where HealthOmics puts the workflow's ``vcf`` output: ``<outputUri><run id>/out/vcf/<sample>.vcf.gz``."""
    return f"{output_uri.rstrip('/')}/{omics_run_id}/out/vcf/{sample_id}.vcf.gz"


# -- lake ----------------------------------------------------------------------------------


def vcf_uris(jobs: list[dict], engine: str, omics_run_ids: list[str] | None = None, *, settings=None) -> list[dict]:
    """The VCF of each sample, from whichever engine ran (Batch: results prefix; HealthOmics: run output)."""
    settings = settings or load_settings()
    out = []
    if engine == "omics":
        requests = omics_requests(jobs, settings=settings, images={})
        ids = list(omics_run_ids or [])
        if len(ids) != len(jobs):
            raise RuntimeError(f"expected {len(jobs)} HealthOmics run ids, got {ids}")
        for job, request, run in zip(jobs, requests, ids):
            out.append({"sample_id": job["sample_id"], "vcf": omics_vcf_uri(request["output_uri"], run, job["sample_id"])})
    else:
        for job in jobs:
            prefix = settings.results_uri(job["run_id"], job["pipeline_version"], job["sample_id"])
            out.append({"sample_id": job["sample_id"], "vcf": f"{prefix}{job['sample_id']}.vcf.gz"})
    return out


def glue_script_args(run_plan: dict, vcfs: list[dict], *, settings=None) -> list[dict[str, str]]:
    """Arguments of the converter Glue job (``seqflow/glue/vcf_to_parquet_job.py``), one run per VCF."""
    settings = settings or load_settings()
    return [
        {
            "--vcf_uri": item["vcf"],
            "--lake_uri": settings.lake_uri(),
            "--run_id": run_plan["run_id"],
            "--pipeline_version": run_plan["pipeline_version"],
            "--reference": run_plan["reference"],
            "--caller": CALLER,
            "--sample_id": item["sample_id"],
            "--table": LAKE_TABLE,
            "--database": settings.require("glue_database"),
        }
        for item in vcfs
    ]


def lake_partitions(run_plan: dict, vcfs: list[dict]):
    from seqflow.lake import Partition

    return [
        Partition(table=LAKE_TABLE, run_id=run_plan["run_id"], pipeline_version=run_plan["pipeline_version"],
                  sample_id=item["sample_id"])
        for item in vcfs
    ]


def register_partitions(run_plan: dict, vcfs: list[dict], *, settings=None, glue_client=None) -> int:
    """Register the run's partitions in the Glue Data Catalog (idempotent: existing ones are fine).

    The Glue job registers them too; doing it here as well makes the catalog
    state a property of the DAG run, whichever converter version ran.
    """
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from seqflow.catalog.athena import glue_batch_create_partition_args, unexpected_partition_errors

    settings = settings or load_settings()
    glue = glue_client or AwsBaseHook(aws_conn_id=AWS_CONN_ID, client_type="glue").conn
    partitions = lake_partitions(run_plan, vcfs)
    calls = glue_batch_create_partition_args(settings.require("glue_database"), LAKE_TABLE, partitions,
                                             settings.lake_uri())
    for call in calls:
        errors = unexpected_partition_errors(glue.batch_create_partition(**call))
        if errors:
            raise RuntimeError(f"BatchCreatePartition failed: {errors}")
    log.info("registered %d partition(s) of %s", len(partitions), LAKE_TABLE)
    return len(partitions)


def qc_summary_sql(run_plan: dict) -> str:
    """The QC summary query, restricted to this run and version (validated ids as literals)."""
    from seqflow.catalog.sql import load
    from seqflow.paths import check_pipeline_version, check_run_id

    run_id, version = check_run_id(run_plan["run_id"]), check_pipeline_version(run_plan["pipeline_version"])
    body = "\n".join(line for line in load(QC_QUERY).splitlines() if not line.lstrip().startswith("--"))
    body = body.rsplit("ORDER BY", 1)[0]
    return (
        f"SELECT * FROM (\n{body}\n) AS q\n"
        f"WHERE q.run_id = '{run_id}' AND q.pipeline_version = '{version}'\nORDER BY q.sample_id"
    )


def athena_output_location(settings=None) -> str:
    settings = settings or load_settings()
    return f"s3://{settings.require('athena_results_bucket')}/seqflow/qc_summary/"


def finalise(run_plan: dict, vcfs: list[dict], query_execution_id: str | None, *,
             registry: RunRegistry | None = None, settings=None, athena_hook=None) -> dict[str, Any]:
    """Registry: analysed, with the outputs and the QC summary rows."""
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    from seqflow.aws.registry import aws_registry

    settings = settings or load_settings()
    registry = registry or aws_registry(settings)
    rows: list[dict] = []
    if query_execution_id:
        hook = athena_hook or AthenaHook(aws_conn_id=AWS_CONN_ID)
        result = hook.get_query_results(query_execution_id) or {}
        table = result.get("ResultSet", {}).get("Rows", [])
        if table:
            header = [c.get("VarCharValue") for c in table[0].get("Data", [])]
            rows = [dict(zip(header, [c.get("VarCharValue") for c in r.get("Data", [])])) for r in table[1:]]
    outputs = {
        "results_uri": settings.results_uri(run_plan["run_id"], run_plan["pipeline_version"]),
        "vcfs": {item["sample_id"]: item["vcf"] for item in vcfs},
        "lake_uri": settings.lake_uri(),
        "qc_query_execution_id": query_execution_id,
        "qc_summary": rows,
        "engine": run_plan["engine"],
    }
    registry.put(run_plan["run_id"], run_plan["pipeline_version"], "analysed", **outputs)
    return outputs

