"""AWS Batch submission of the per-sample steps (``batch`` engine of the aws profile).

Each step is one Batch job running the step script of ``containers/<tool>/``
(the same script the local profile runs as a process) under the image's S3
staging entrypoint (``containers/_common/s3_stage.py``):

* the job definition's ``command`` names the script with ``Ref::`` parameters;
  SubmitJob fills the parameters with paths *inside the job's scratch*
  (``inputs/<file>``), never with anything a shell parses;
* ``SEQFLOW_INPUTS`` lists the S3 objects (and the reference prefix) the entrypoint
  downloads into ``inputs/``; ``SEQFLOW_OUTPUT_URI`` is the sample's results prefix
  ``s3://<results>/results/<run>/<pipeline_version>/<sample>/``, where everything
  the script writes to ``outputs/`` is uploaded after a zero exit;
* every job carries the cost tags ``run_id``, ``sample_id``, ``project``,
  ``pipeline_version``.

Output keys are deterministic, so a retried job overwrites its own attempt and
each step's inputs are the previous step's outputs by name.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from seqflow.analysis.steps import STEP_SCRIPTS
from seqflow.aws.settings import AWS_CONN_ID, poll_seconds
from seqflow.paths import check_pipeline_version, check_run_id, check_sample_id

#: Batch steps of one sample, in order: step -> (job definition key, script the command runs)
BATCH_STEPS: dict[str, tuple[str, str]] = {
    "fastp": ("batch_job_definition_fastp", STEP_SCRIPTS["fastp"]),
    "align": ("batch_job_definition_align", STEP_SCRIPTS["align_bwa"]),
    "call_variants": ("batch_job_definition_call", STEP_SCRIPTS["call"]),
    "bam_qc": ("batch_job_definition_stats", STEP_SCRIPTS["bam_qc"]),
    "vcf_stats": ("batch_job_definition_stats", STEP_SCRIPTS["vcf_stats"]),
}

#: Batch job names: up to 128 letters, digits, hyphens and underscores.
JOB_NAME_MAX = 128

COST_TAGS = ("run_id", "sample_id", "project", "pipeline_version")


def script_name(step: str) -> str:
    """File name of the step's script inside the image (``/usr/local/bin``)."""
    return PurePosixPath(BATCH_STEPS[step][1]).name


def job_name(step: str, run_id: str, sample_id: str) -> str:
    return f"seqflow_{step}_{check_run_id(run_id)}_{check_sample_id(sample_id)}"[:JOB_NAME_MAX]


def job_definition(step: str, settings, aligner: str = "bwa") -> str:
    """The step's job definition; minimap2 alignment has its own (the minimap2 image)."""
    if step == "align" and aligner == "minimap2":
        return settings.require("batch_job_definition_align_minimap2")
    return settings.require(BATCH_STEPS[step][0])


def _basename(uri: str) -> str:
    return PurePosixPath(uri).name


def sample_requests(job: dict[str, Any], settings, *, project: str | None = None) -> dict[str, dict[str, Any]]:
    """``SubmitJob`` arguments of every step of one sample, keyed by step.

    ``job`` is a sample job of :func:`seqflow.aws.analysis.sample_jobs` (S3 URIs).
    """
    run_id, sample = check_run_id(job["run_id"]), check_sample_id(job["sample_id"])
    version = check_pipeline_version(job["pipeline_version"])
    out = settings.results_uri(run_id, version, sample)
    reference = job["reference_uri"]  # s3://.../references/<name>/
    ref_name = PurePosixPath(reference.rstrip("/")).name
    fasta = f"inputs/{ref_name}/{_basename(job['reference_fasta'])}"
    r1, r2 = job["r1"], job["r2"]
    trimmed = [f"{out}{sample}.trimmed_R1.fastq.gz", f"{out}{sample}.trimmed_R2.fastq.gz"]
    bam, bai = f"{out}{sample}.bam", f"{out}{sample}.bam.bai"
    vcf, tbi = f"{out}{sample}.vcf.gz", f"{out}{sample}.vcf.gz.tbi"
    tags = {
        "run_id": run_id,
        "sample_id": sample,
        "project": project or settings.require("project"),
        "pipeline_version": version,
    }
    steps: dict[str, tuple[dict[str, str], list[str], list[str] | None]] = {
        # step: (parameters, inputs, command override)
        "fastp": ({"sample_id": sample, "r1": f"inputs/{_basename(r1)}", "r2": f"inputs/{_basename(r2)}"},
                  [r1, r2], None),
        "align": ({"sample_id": sample, "reference": fasta, "r1": f"inputs/{_basename(trimmed[0])}",
                   "r2": f"inputs/{_basename(trimmed[1])}"}, [reference, *trimmed], None),
        "call_variants": ({"sample_id": sample, "reference": fasta, "bam": f"inputs/{_basename(bam)}",
                           "ploidy": str(job.get("ploidy", 2))}, [reference, bam, bai], None),
        "bam_qc": ({"sample_id": sample, "bam": f"inputs/{_basename(bam)}"}, [bam, bai], None),
        # the stats job definition runs bam_qc.sh; the VCF statistics override its command
        "vcf_stats": ({"sample_id": sample, "reference": fasta, "vcf": f"inputs/{_basename(vcf)}"},
                      [reference, vcf, tbi],
                      [script_name("vcf_stats"), "Ref::sample_id", "Ref::reference", "Ref::vcf", "outputs"]),
    }
    requests = {}
    for step, (parameters, inputs, command) in steps.items():
        overrides: dict[str, Any] = {
            "environment": [
                {"name": "SEQFLOW_INPUTS", "value": " ".join(inputs)},
                {"name": "SEQFLOW_OUTPUT_URI", "value": out},
            ]
        }
        if command:
            overrides["command"] = command
        requests[step] = {
            "job_name": job_name(step, run_id, sample),
            "job_definition": job_definition(step, settings, job.get("aligner", "bwa")),
            "job_queue": settings.require("batch_job_queue"),
            "parameters": parameters,
            "container_overrides": overrides,
            "tags": dict(tags),
        }
    return requests


def flat_requests(requests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"<step>__<argument>": value}``: one XCom per operator argument (``multiple_outputs``)."""
    return {f"{step}__{name}": value for step, request in requests.items() for name, value in request.items()}


def batch_operator(step: str, requests, **kwargs):
    """A deferrable BatchOperator for ``step`` whose arguments are this sample's request.

    ``requests`` is the output of the per-sample request task (``multiple_outputs``
    of :func:`flat_requests`); inside the mapped task group each XCom resolves to
    the same sample.
    """
    from airflow.providers.amazon.aws.operators.batch import BatchOperator

    return BatchOperator(
        task_id=step,
        aws_conn_id=AWS_CONN_ID,
        job_name=requests[f"{step}__job_name"],
        job_definition=requests[f"{step}__job_definition"],
        job_queue=requests[f"{step}__job_queue"],
        parameters=requests[f"{step}__parameters"],
        container_overrides=requests[f"{step}__container_overrides"],
        tags=requests[f"{step}__tags"],
        deferrable=True,
        poll_interval=poll_seconds(30),
        # two days of polls; the job definitions' own timeouts end a stuck job sooner
        max_retries=max(1, 2 * 24 * 3600 // poll_seconds(30)),
        awslogs_enabled=True,
        map_index_template="{{ task.tags['sample_id'] }}",
        **kwargs,
    )
