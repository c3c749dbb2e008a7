"""AWS Batch submission of the per-sample steps (``batch`` engine of the aws profile).

Each step is one Batch job running the step script of ``containers/<tool>/``
(the same script the local profile runs as a process) under the image's S3
staging entrypoint (``containers/_common/s3_stage.py``). What a job runs and
reads comes from the step catalogue (``containers/<tool>/steps.yaml``,
:mod:`seqflow.analysis.catalog`), which the Terraform job definitions decode too:

* the job definition ``<step id>`` (``fastp``, ``align_bwa``, ``call_variants_bcftools``,
  ...) runs ``<script> Ref::<argument> ... outputs ...``; SubmitJob fills the
  parameters with paths *inside the job's scratch* (``inputs/<file>``), never
  with anything a shell parses; ``threads`` defaults to the job's vCPUs;
* ``SEQFLOW_INPUTS`` lists the S3 objects the entrypoint downloads into
  ``inputs/``: each input and the files that must lie beside it (``.bai``,
  ``.tbi``, the aligner's index of the reference) — exactly those, not the
  whole reference folder; ``SEQFLOW_OUTPUT_URI`` is the sample's results prefix
  ``s3://<results>/results/<run>/<version>/<reference>/<aligner>-<caller>/<sample>/``,
  where everything the script writes to ``outputs/`` is uploaded after a zero exit;
* every job carries the cost tags ``run_id``, ``sample_id``, ``project``,
  ``pipeline_version``.

Output keys are deterministic, so a retried job overwrites its own attempt and
each step's inputs are the previous step's outputs by name.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from seqflow.analysis.catalog import NO_FILE, SOURCES, Step, catalog
from seqflow.aws.settings import AWS_CONN_ID, poll_seconds
from seqflow.identity import AnalysisIdentity
from seqflow.paths import check_run_id, check_sample_id

#: the per-sample Batch steps in run order: step name -> its implementations' job definition
#: configuration keys (one per aligner for ``align``); the task ids of the Batch task group
BATCH_STEPS: dict[str, tuple[str, ...]] = {
    name: tuple(f"batch_job_definition_{s.id}" for s in catalog().implementations(name))
    for name in catalog().sample_step_names
}

#: Batch job names: up to 128 letters, digits, hyphens and underscores.
JOB_NAME_MAX = 128

COST_TAGS = ("run_id", "sample_id", "project", "pipeline_version")

#: where SubmitJob parameters point: the entrypoint stages inputs here and uploads this folder
STAGED_INPUTS = "inputs"
STAGED_OUTPUTS = "outputs"


def job_definition_key(impl: Step) -> str:
    """Configuration key (Airflow Variable ``seqflow_<key>``) of an implementation's job definition."""
    return f"batch_job_definition_{impl.id}"


def image_job_definition_keys() -> dict[str, str]:
    """``<image>_image`` -> the configuration key of one job definition that runs the image.

    The HealthOmics workflow takes each tool image as an input; the Batch job
    definitions are where the deployment records them.
    """
    keys: dict[str, str] = {}
    for impl in catalog().steps:
        if impl.scope == "sample":
            keys.setdefault(f"{impl.image}_image", job_definition_key(impl))
    return dict(sorted(keys.items()))


def command(impl: Step) -> list[str]:
    """The job definition's command: the script, then ``Ref::<argument>`` or ``outputs`` for the output folder."""
    return [impl.script, *(STAGED_OUTPUTS if a.kind == "output_dir" else f"Ref::{a.name}" for a in impl.arguments)]


def job_definitions() -> dict[str, dict[str, Any]]:
    """What ``terraform/modules/batch`` builds from the catalogue: id -> image, command and resources."""
    return {
        impl.id: {
            "image": impl.image,
            "command": command(impl),
            "vcpus": impl.resources.vcpus,
            "memory_mib": impl.resources.memory_mib,
            "timeout_seconds": impl.resources.timeout_seconds,
        }
        for impl in catalog().steps
        if impl.scope == "sample"
    }


def script_name(step: str, aligner: str = "bwa", caller: str = "bcftools") -> str:
    """File name of the step's script inside the image (``/usr/local/bin``)."""
    return catalog().step(step, aligner=aligner, caller=caller).script


def job_name(step: str, run_id: str, sample_id: str) -> str:
    return f"seqflow_{step}_{check_run_id(run_id)}_{check_sample_id(sample_id)}"[:JOB_NAME_MAX]


def job_definition(step: str, settings, aligner: str = "bwa", caller: str = "bcftools") -> str:
    """The job definition of the implementation of ``step`` the aligner and caller select."""
    return settings.require(job_definition_key(catalog().step(step, aligner=aligner, caller=caller)))


def single_fastq(job: dict[str, Any], key: str, *, engine: str = "Batch steps") -> Any:
    """The job's one ``r1``/``r2`` (a list of one, from plan), or a clear error for lane-split runs.

    The step scripts take one FASTQ per read end on Batch and in HealthOmics;
    lanes are joined only by the local runner.
    """
    value = job.get(key)
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(
                f"sample {job.get('sample_id')!r} of run {job.get('run_id')}: the {engine} take one "
                f"{key.upper()} FASTQ, the job has {len(value)} ({', '.join(map(str, value)) or 'none'}); "
                "convert with bcl-convert --no-lane-splitting true"
            )
        value = value[0]
    return value


def _s3(job: dict[str, Any], key: str) -> str:
    value = single_fastq(job, key) if key in ("r1", "r2") else job.get(key)
    if not isinstance(value, str) or not value.startswith("s3://") or value.endswith("/"):
        raise ValueError(f"sample job {job.get('sample_id')!r}: {key} must be the s3:// URI of a file, got {value!r}")
    return value


def sample_requests(job: dict[str, Any], settings, *, project: str | None = None) -> dict[str, dict[str, Any]]:
    """``SubmitJob`` arguments of every step of one sample, keyed by step (in run order).

    ``job`` is a sample job of :func:`seqflow.aws.analysis.sample_jobs` (S3
    URIs): ``run_id``, ``pipeline_version``, ``reference``, ``aligner``,
    ``caller``, ``sample_id``, ``r1``, ``r2``, ``reference_fasta`` and
    ``ploidy_file`` (the reference's bcftools ploidy file).
    """
    sample = check_sample_id(job["sample_id"])
    identity = AnalysisIdentity.from_dict(job)
    out = settings.results_uri(identity, sample)
    if not out.endswith("/"):
        out += "/"
    tags = {
        "run_id": identity.run_id,
        "sample_id": sample,
        "project": project or settings.require("project"),
        "pipeline_version": identity.pipeline_version,
    }
    steps = catalog().sample_steps(identity.aligner, identity.caller)
    # single-end reads (r2 empty): the optional inputs they lack get "-", nothing is staged for them,
    # and the outputs written only with them (trimmed_r2) are not read by later steps
    optional = {i.source for impl in steps for i in impl.inputs.values() if i.external and i.optional}
    missing = {src for src in optional if job.get(SOURCES[src].job_key) in (None, "", [])}
    absent = catalog().absent(identity.aligner, identity.caller, missing)
    # every sample step's outputs, by output name: where later steps read them
    produced = {name: f"{out}{file}" for impl in steps for name, file in impl.output_files(sample).items()
                if name not in absent.outputs}
    requests = {}
    for impl in steps:
        parameters: dict[str, str] = {"sample_id": sample} if any(a.name == "sample_id" for a in impl.arguments) else {}
        staged: list[str] = []
        for name, inp in impl.inputs.items():
            if name in absent.inputs[impl.name]:
                parameters[name] = NO_FILE
                continue
            uri = _s3(job, SOURCES[inp.source].job_key) if inp.external else produced[inp.output]  # type: ignore[index]
            files = [uri, *impl.companion_files(name, uri)]
            staged += [f for f in files if f not in staged]
            # the entrypoint puts an object at inputs/<basename>: companions land beside their input
            parameters[name] = f"{STAGED_INPUTS}/{PurePosixPath(uri).name}"
        requests[impl.name] = {
            "job_name": job_name(impl.name, identity.run_id, sample),
            "job_definition": settings.require(job_definition_key(impl)),
            "job_queue": settings.require("batch_job_queue"),
            "parameters": parameters,
            "container_overrides": {
                "environment": [
                    {"name": "SEQFLOW_INPUTS", "value": " ".join(staged)},
                    {"name": "SEQFLOW_OUTPUT_URI", "value": out},
                ]
            },
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
