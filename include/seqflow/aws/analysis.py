"""The aws profile's HealthOmics engine: StartRun requests and where the runs put their VCFs.

Everything else of the analysis is profile-free (:mod:`seqflow.tasks.analysis`
against :class:`seqflow.aws.backend.AwsBackend`); Batch requests are in
:mod:`seqflow.aws.batch`.
"""

from __future__ import annotations

import logging

from seqflow.aws.settings import AWS_CONN_ID, load_settings
from seqflow.identity import AnalysisIdentity
from seqflow.paths import check_sample_id

log = logging.getLogger(__name__)


# -- HealthOmics ---------------------------------------------------------------------------


def omics_images(settings, *, batch_hook=None) -> dict[str, str]:
    """Tool images of the workflow, read from the Batch job definitions (one source of truth)."""
    from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook

    from seqflow.aws.batch import image_job_definition_keys

    hook = batch_hook or BatchClientHook(aws_conn_id=AWS_CONN_ID)
    # the minimap2 image is needed only by minimap2 runs: its job definition may be absent
    names = {parameter: settings.get(key) if parameter == "minimap2_image" else settings.require(key)
             for parameter, key in image_job_definition_keys().items()}
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


def omics_output_uri(job: dict, settings) -> str:
    """The sample's HealthOmics output prefix: ``<omics_output_uri>/<run>/<version>/<reference>/<aligner>-<caller>/<sample>/``.

    Keyed by the whole analysis identity, as the Batch results are: two analyses
    of a sample that differ in any part never share an output prefix.
    """
    base = settings.require("omics_output_uri").rstrip("/")
    identity = AnalysisIdentity.from_dict(job)
    return f"{base}/{'/'.join(identity.path_parts())}/{check_sample_id(job['sample_id'])}/"


def _one_fastq_per_read(job: dict) -> dict:
    """The job with ``r1``/``r2`` as one URI each: the workflow takes one FASTQ per read end."""
    from seqflow.aws.batch import single_fastq

    return {**job, **{read: single_fastq(job, read, engine="HealthOmics workflow's tasks") for read in ("r1", "r2")}}


#: HealthOmics keeps at most a quota of runs; RETAIN (its default) makes StartRun fail once the
#: quota is reached, REMOVE deletes the oldest run's metadata instead (outputs in S3 stay)
OMICS_RETENTION_MODE = "REMOVE"
#: with a run cache: reuse the outputs of the tasks of a failed run when it is run again
OMICS_CACHE_BEHAVIOR = "CACHE_ON_FAILURE"


def omics_requests(jobs: list[dict], *, settings=None, images: dict[str, str] | None = None) -> list[dict]:
    """``OmicsStartRunOperator`` arguments, one per sample (for ``expand_kwargs``).

    The workflow parameters are those the sample's aligner and caller need
    (:func:`seqflow.aws.omics.inputs.start_run_parameters`, from the step
    catalogue); ``images`` default to those of the Batch job definitions.
    Runs use :data:`OMICS_RETENTION_MODE`, and the run cache ``seqflow_omics_run_cache_id``
    when it is set (:data:`OMICS_CACHE_BEHAVIOR`).
    """
    from seqflow.aws.omics.inputs import start_run_parameters

    settings = settings or load_settings()
    images = images if images is not None else omics_images(settings)
    cache_id = settings.get("omics_run_cache_id") or None
    requests = []
    for job in jobs:
        requests.append({
            "workflow_id": settings.require("omics_workflow_id"),
            "role_arn": settings.require("omics_role_arn"),
            "run_group_id": settings.get("omics_run_group_id") or None,
            "output_uri": omics_output_uri(job, settings),
            "run_id": job["run_id"],
            "sample_id": job["sample_id"],
            "project": settings.require("project"),
            "pipeline_version": job["pipeline_version"],
            "parameters": start_run_parameters(_one_fastq_per_read(job), images),
            "retention_mode": OMICS_RETENTION_MODE,
            "cache_id": cache_id,
            "cache_behavior": OMICS_CACHE_BEHAVIOR if cache_id else None,
        })
    return requests


def omics_vcf_uri(output_uri: str, omics_run_id: str, sample_id: str) -> str:
    """Where HealthOmics puts the workflow's ``vcf`` output: ``<outputUri><run id>/out/vcf/<sample>.vcf.gz``."""
    return f"{output_uri.rstrip('/')}/{omics_run_id}/out/vcf/{sample_id}.vcf.gz"


def omics_vcfs(jobs: list[dict], omics_run_ids: list[str] | None, *, settings=None) -> list[dict[str, str]]:
    """Each sample's VCF in its HealthOmics run's output."""
    settings = settings or load_settings()
    ids = list(omics_run_ids or [])
    if len(ids) != len(jobs):
        raise RuntimeError(f"expected {len(jobs)} HealthOmics run ids, got {ids}")
    return [
        {"sample_id": job["sample_id"], "vcf": omics_vcf_uri(omics_output_uri(job, settings), run, job["sample_id"])}
        for job, run in zip(jobs, ids)
    ]
