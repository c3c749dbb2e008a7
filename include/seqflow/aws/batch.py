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

**Retries** (:class:`SeqflowBatchOperator`, the provider's ``BatchOperator`` with a
look-up before ``SubmitJob``): every job is tagged with its task instance
(:data:`TASK_TAG`), and a retried task first lists the jobs of its deterministic
name (``ListJobs`` filtered on ``JOB_NAME``) and describes them: when the job of
an earlier try still runs or has succeeded (a lost worker, a trigger that timed
out), the task attaches to it instead of submitting a second job that writes the
same keys. When the earlier job ran out of memory (``OutOfMemoryError:
Container killed due to memory usage``), the new one asks for twice its memory,
up to :func:`memory_cap_mib` of the step.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath
from typing import Any

from airflow.providers.amazon.aws.operators.batch import BatchOperator

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

#: the tag naming the task instance a job was submitted by (not a cost tag): how a retry finds it
TASK_TAG = "seqflow_task"
#: Batch job states in which a job will still finish by itself
LIVE_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
#: what Batch (ECS) says of a container the kernel killed for exceeding its memory
OUT_OF_MEMORY = "OutOfMemoryError"
#: an out-of-memory retry doubles the memory, up to this many times the step's catalogue memory
#: (the DAG's two retries: 2x, then 4x)
MEMORY_CAP_FACTOR = 4


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
    """What ``terraform/modules/batch`` builds from the catalogue: id -> image, command and resources
    (the sample steps' and the gather steps' implementations: ``gather_calls``)."""
    return {
        impl.id: {
            "image": impl.image,
            "command": command(impl),
            "vcpus": impl.resources.vcpus,
            "memory_mib": impl.resources.memory_mib,
            "timeout_seconds": impl.resources.timeout_seconds,
        }
        for impl in catalog().steps
        if impl.scope in ("sample", "gather")
    }


def script_name(step: str, aligner: str = "bwa", caller: str = "bcftools") -> str:
    """File name of the step's script inside the image (``/usr/local/bin``)."""
    return catalog().step(step, aligner=aligner, caller=caller).script


def job_name(step: str, run_id: str, sample_id: str) -> str:
    return f"seqflow_{step}_{check_run_id(run_id)}_{check_sample_id(sample_id)}"[:JOB_NAME_MAX]


def memory_cap_mib(impl: Step) -> int:
    """The most memory an out-of-memory retry of the step asks for: :data:`MEMORY_CAP_FACTOR` times
    the catalogue's ``memory_mib`` (``containers/<tool>/steps.yaml``)."""
    return impl.resources.memory_mib * MEMORY_CAP_FACTOR


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
            "memory_cap_mib": memory_cap_mib(impl),
        }
    return requests


def flat_requests(requests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"<step>__<argument>": value}``: one XCom per operator argument (``multiple_outputs``)."""
    return {f"{step}__{name}": value for step, request in requests.items() for name, value in request.items()}


def task_instance_key(ti) -> str:
    """The :data:`TASK_TAG` value of a task instance: DAG, DAG run, task and map index, never the try."""
    map_index = getattr(ti, "map_index", -1)
    key = {"dag_id": ti.dag_id, "dag_run_id": ti.run_id, "task_id": ti.task_id,
           "map_index": -1 if map_index is None else map_index}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:40]


def out_of_memory(job: dict[str, Any]) -> bool:
    """Whether a ``DescribeJobs`` job ended because its container ran out of memory (exit 137)."""
    container = job.get("container") or {}
    reasons = [job.get("statusReason"), container.get("reason"),
               *((a.get("container") or {}).get("reason") for a in job.get("attempts") or [])]
    return any(OUT_OF_MEMORY in reason for reason in reasons if reason)


def job_memory_mib(job: dict[str, Any]) -> int | None:
    """The memory (MiB) a ``DescribeJobs`` job ran with: its ``MEMORY`` requirement (overrides included)."""
    container = job.get("container") or {}
    for requirement in container.get("resourceRequirements") or []:
        if requirement.get("type") == "MEMORY":
            return int(requirement["value"])
    return int(container["memory"]) if container.get("memory") else None


def with_memory(container_overrides: dict[str, Any] | None, memory_mib: int) -> dict[str, Any]:
    """The container overrides with ``resourceRequirements`` ``MEMORY`` set to ``memory_mib``."""
    overrides = dict(container_overrides or {})
    requirements = [r for r in overrides.get("resourceRequirements") or [] if r.get("type") != "MEMORY"]
    overrides["resourceRequirements"] = [*requirements, {"type": "MEMORY", "value": str(memory_mib)}]
    return overrides


class BatchMemoryCapReached(RuntimeError):
    """A step ran out of memory with the most memory its retries may ask for."""


class SeqflowBatchOperator(BatchOperator):
    """The provider's ``BatchOperator``, safe to retry: a retried task attaches to the job its
    earlier try submitted while that job runs or after it succeeded, and resubmits a job that
    ran out of memory with twice the memory, up to ``memory_cap_mib``.

    :param memory_cap_mib: The most memory (MiB) an out-of-memory retry asks for. (templated)
    """

    template_fields = (*BatchOperator.template_fields, "memory_cap_mib")

    def __init__(self, *, memory_cap_mib: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.memory_cap_mib = memory_cap_mib

    def earlier_jobs(self, task_key: str, *, job_name: str | None = None) -> list[dict[str, Any]]:
        """``DescribeJobs`` of every job of this name (or ``job_name``) tagged with this task instance,
        newest first."""
        client = self.hook.client
        ids: list[str] = []
        for page in client.get_paginator("list_jobs").paginate(
                jobQueue=self.job_queue, filters=[{"name": "JOB_NAME", "values": [job_name or self.job_name]}]):
            ids += [summary["jobId"] for summary in page.get("jobSummaryList", [])]
        jobs: list[dict[str, Any]] = []
        for start in range(0, len(ids), 100):  # DescribeJobs takes at most 100 ids
            jobs += client.describe_jobs(jobs=ids[start:start + 100]).get("jobs", [])
        mine = [job for job in jobs if (job.get("tags") or {}).get(TASK_TAG) == task_key]
        return sorted(mine, key=lambda job: job.get("createdAt", 0), reverse=True)

    def submit_job(self, context):
        """Attach to this task instance's live or succeeded job, else submit (with more memory
        after an out-of-memory exit)."""
        ti = context["ti"]
        task_key = task_instance_key(ti)
        self.tags = {**(self.tags or {}), TASK_TAG: task_key}
        # the first try of a task instance has no earlier job: no look-up
        if (getattr(ti, "try_number", 1) or 1) > 1:
            earlier = self.earlier_jobs(task_key)
            latest = earlier[0] if earlier else None
            if latest and latest["status"] in (*LIVE_STATES, "SUCCEEDED"):
                self.job_id = latest["jobId"]
                self.log.info("AWS Batch job %s of an earlier try of this task is %s: attaching to it, "
                              "not submitting another", self.job_id, latest["status"])
                return
            if latest and out_of_memory(latest):
                self._more_memory(latest)
        super().submit_job(context)

    def _more_memory(self, job: dict[str, Any]) -> None:
        had = job_memory_mib(job)
        cap = self.memory_cap_mib
        if had is None or not cap:
            self.log.warning("job %s ran out of memory, but its memory or the cap is unknown: same memory",
                             job["jobId"])
            return
        cap = int(cap)
        if had >= cap:
            raise BatchMemoryCapReached(
                f"AWS Batch job {job['jobId']} ({self.job_name}) ran out of memory with {had} MiB, the cap "
                f"of this step ({MEMORY_CAP_FACTOR}x its memory_mib in the step catalogue): not retrying "
                f"with more; raise memory_mib in containers/<tool>/steps.yaml (and the job definition)")
        memory = min(2 * had, cap)
        self.log.warning("AWS Batch job %s ran out of memory with %d MiB; the new job asks for %d MiB (cap %d)",
                         job["jobId"], had, memory, cap)
        self.container_overrides = with_memory(self.container_overrides, memory)


def batch_operator(step: str, requests, **kwargs):
    """A deferrable :class:`SeqflowBatchOperator` for ``step`` whose arguments are this sample's request.

    ``requests`` is the output of the per-sample request task (``multiple_outputs``
    of :func:`flat_requests`); inside the mapped task group each XCom resolves to
    the same sample.
    """
    extra = {}
    operator = SeqflowBatchOperator
    if step == "call_variants":
        # one job on the whole genome, or an array job of its calling shards and their gather
        from seqflow.aws.scattered_calling import SeqflowCallVariantsOperator as operator  # noqa: N813

        extra = {name: requests[f"{step}__{name}"] for name in ("shards", "gather", "force")}
    return operator(
        task_id=step,
        aws_conn_id=AWS_CONN_ID,
        job_name=requests[f"{step}__job_name"],
        job_definition=requests[f"{step}__job_definition"],
        job_queue=requests[f"{step}__job_queue"],
        parameters=requests[f"{step}__parameters"],
        container_overrides=requests[f"{step}__container_overrides"],
        tags=requests[f"{step}__tags"],
        memory_cap_mib=requests[f"{step}__memory_cap_mib"],
        deferrable=True,
        poll_interval=poll_seconds(30),
        # two days of polls; the job definitions' own timeouts end a stuck job sooner
        max_retries=max(1, 2 * 24 * 3600 // poll_seconds(30)),
        awslogs_enabled=True,
        # ti.task, not task: Airflow 3.0 (MWAA) renders the map index with the unrendered task as ``task``
        map_index_template="{{ ti.task.tags['sample_id'] }}",
        **extra,
        **kwargs,
    )
