"""The aws profile's HealthOmics engine: StartRun requests and where the runs put their VCFs.

Everything else of the analysis is profile-free (:mod:`seqflow.tasks.analysis`
against :class:`seqflow.aws.backend.AwsBackend`); Batch requests are in
:mod:`seqflow.aws.batch`.
"""

from __future__ import annotations

import logging

from seqflow.analysis.steps import SampleJob
from seqflow.aws.settings import AWS_CONN_ID, load_settings

log = logging.getLogger(__name__)


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
            "output_uri": f"{base}/{'/'.join(SampleJob.from_dict(job).identity.path_parts())}/{job['sample_id']}/",
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


def omics_vcfs(jobs: list[dict], omics_run_ids: list[str] | None, *, settings=None) -> list[dict[str, str]]:
    """Each sample's VCF in its HealthOmics run's output."""
    settings = settings or load_settings()
    requests = omics_requests(jobs, settings=settings, images={})
    ids = list(omics_run_ids or [])
    if len(ids) != len(jobs):
        raise RuntimeError(f"expected {len(jobs)} HealthOmics run ids, got {ids}")
    return [
        {"sample_id": job["sample_id"], "vcf": omics_vcf_uri(request["output_uri"], run, job["sample_id"])}
        for job, request, run in zip(jobs, requests, ids)
    ]
