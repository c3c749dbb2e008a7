"""Variant calling scattered over calling intervals on AWS Batch: one array job, then ``gather_calls``.

The local profile runs one mapped task per calling shard (:mod:`seqflow.analysis.scatter`);
on AWS the shards are the children of one Batch array job submitted by the sample's
``call_variants`` task, so the Airflow graph is the same whatever the shard count (and on
Airflow 3.0, MWAA, whose mapped groups cannot take a mapped task's output):

* ``sample.requests`` cuts the sample's reference into intervals of the run's
  ``call_interval_mb`` (:func:`call_shards`: :func:`seqflow.references.intervals.balanced_shards`
  on the contigs of ``reference.json`` and the gaps of ``<fasta>.gaps.bed``, which the S3
  catalogue writes at registration; a reference registered before has none, and its shards
  end at contig ends only, with a warning). One interval: ``call_variants`` is one plain job
  on the whole genome, as before.
* Several: ``sample.call_variants`` (:class:`SeqflowCallVariantsOperator`) writes the shards'
  plan beside them (``<sample results>/shards/plan.json``: every shard's key and regions, the
  shards to call, the checksums of the inputs) and submits the ``call_variants`` job
  definition as an array job of one child per shard to call (a plain job when only one is
  left). Each child's ``regions`` parameter is :data:`SHARD_REGIONS`; the staging entrypoint
  (``containers/_common/s3_stage.py``) reads the plan, takes the shard at its
  ``AWS_BATCH_JOB_ARRAY_INDEX`` among those to call, passes its regions to the step script in
  place of the placeholder, uploads the outputs to ``shards/<key>/`` and then writes the
  shard's record ``shards/<key>/shard.json`` (the input checksums of the plan, each output's
  SHA-256 and size). Then it submits ``gather_calls`` with ``dependsOn`` the array job:
  ``bcftools concat --naive`` of the shards in genome order into ``<sample>.vcf.gz`` (+ ``.tbi``,
  versions, log) in the sample's results prefix, where ``vcf_stats`` and the converter read
  the sample's VCF as before. The task waits for the gather job, which Batch fails when a
  child failed.

**Resume.** A shard whose ``shard.json`` records the same input checksums (of the BAM, its
index, the reference, its index and the ploidy file, and the job definition) and the same
regions, and whose outputs are still there with the recorded sizes, is not called again, in a
retry of the task as in a re-triggered analysis; ``force`` calls every shard again. The
checksum of an input (:func:`content_checksum`) is the SHA-256 of its content that the staging
entrypoint, which uploaded it (the BAM and its index from ``align``), keeps in its metadata
(``x-amz-meta-seqflow-sha256``): neither the ETag, which with SSE-KMS is no MD5 and differs
between two uploads of the same bytes, nor S3's SHA-256 of a multipart upload, which is a
checksum of the parts' checksums and changes with the part size. An object without it (a
reference uploaded by the catalogue) falls back to S3's full-object checksum, then to S3's
composite checksum or ETag, which are stable while the object is not uploaded again. The
summary ``<sample>.shards.json`` (count, called, reused, labels), also the task's XCom
``shards``, is what ``finalise_run`` records in the registry, as locally.

**Retries.** As :class:`~seqflow.aws.batch.SeqflowBatchOperator`: every job carries the task
instance's tag, and a retried task attaches to the gather job of an earlier try while it
runs or after it succeeded, instead of submitting the shards again. When the gather of the
earlier try failed, the shards that completed are reused, and the children of its calling
jobs that ran out of memory (``OutOfMemoryError: Container killed due to memory usage`` in
``DescribeJobs``: :func:`seqflow.aws.batch.out_of_memory`) are called again, and only they,
as a second array job (``todo_more_memory`` of the plan, ``SEQFLOW_SHARDS_TODO``) asking
for twice the memory they had, at most ``memory_cap_mib`` (the step catalogue's
``memory_mib`` times :data:`seqflow.aws.batch.MEMORY_CAP_FACTOR`); a child that ran out of
memory at the cap fails the task (:class:`~seqflow.aws.batch.BatchMemoryCapReached`). The
plan records the try that wrote it, and each calling job carries it as the tag
:data:`TRY_TAG`, so that a retry reads the children of the previous try's jobs only.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from seqflow.analysis.catalog import catalog
from seqflow.analysis.scatter import FORMAT_VERSION, SHARD_RECORD, SHARDS_DIR, shard_to_dict
from seqflow.aws.batch import (
    LIVE_STATES,
    STAGED_INPUTS,
    TASK_TAG,
    SeqflowBatchOperator,
    MEMORY_CAP_FACTOR,
    BatchMemoryCapReached,
    job_definition_key,
    job_memory_mib,
    job_name,
    memory_cap_mib,
    out_of_memory,
    task_instance_key,
    with_memory,
)
from seqflow.references.intervals import DEFAULT_INTERVAL_MB, balanced_shards, shard_count

log = logging.getLogger(__name__)

#: the ``regions`` parameter of the jobs of a scattered call: the staging entrypoint puts the shard's
#: regions in its place (the same string is in containers/_common/s3_stage.py)
SHARD_REGIONS = "@shard"
#: the plan the children of the array read, under the shards' prefix
PLAN = "plan.json"
#: the gather step's implementation id (containers/bcftools/steps.yaml, scope gather)
GATHER_STEP = "gather_calls"
#: environment variable naming the plan (read by the staging entrypoint)
PLAN_VARIABLE = "SEQFLOW_SHARDS_PLAN"
#: environment variable naming the plan's list a calling job's children read (``todo`` or ``todo_more_memory``)
TODO_VARIABLE = "SEQFLOW_SHARDS_TODO"
#: the plan's lists of shards to call: at the job definition's memory, and with more memory
TODO, MORE_MEMORY = "todo", "todo_more_memory"
#: a calling job's tags: the task's try that submitted it, and the plan's list its children read
TRY_TAG, LIST_TAG = "seqflow_try", "seqflow_todo"
#: the user metadata in which the staging entrypoint keeps an uploaded object's SHA-256
#: (containers/_common/s3_stage.py SHA256_METADATA)
SHA256_METADATA = "seqflow-sha256"


def _env(request: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in (request.get("container_overrides") or {}).get("environment", [])}


def _with_env(overrides: dict[str, Any] | None, **values: str) -> dict[str, Any]:
    overrides = dict(overrides or {})
    kept = [e for e in overrides.get("environment") or [] if e["name"] not in values]
    overrides["environment"] = [*kept, *({"name": k, "value": v} for k, v in values.items())]
    return overrides


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def call_shards(job: dict[str, Any], settings, *, interval_mb: float | None, references=None,
                s3=None) -> list[dict[str, Any]]:
    """The calling shards of the sample's reference for ``interval_mb`` megabases per shard (each
    :func:`seqflow.analysis.scatter.shard_to_dict` and its ``argument``), in genome order; ``[]``
    when the genome is one interval (or the caller takes no regions): the plain whole-genome job.

    ``references`` is the S3 reference catalogue (default: the deployment's)."""
    impl = catalog().step("call_variants", caller=job["caller"])
    if "regions" not in [a.name for a in impl.arguments]:
        return []
    if references is None:
        from seqflow.aws.references import aws_reference_catalog

        references = aws_reference_catalog(settings, s3)
    ref = references.require(job["reference"])
    contigs = [(c.name, c.length) for c in ref.contigs]
    interval_bp = round(float(DEFAULT_INTERVAL_MB if interval_mb is None else interval_mb) * 1_000_000)
    if shard_count(sum(n for _, n in contigs), interval_bp) == 1:
        return []
    gaps = references.gaps(ref)
    if gaps is None:
        log.warning("reference %s has no %s.gaps.bed (registered before seqflow recorded assembly gaps): its "
                    "calling intervals end at contig ends or anywhere in sequence, not in gaps; register it "
                    "again (seqflow reference add --replace) to respect them", ref.name, ref.fasta_name)
        gaps = {}
    shards = balanced_shards(contigs, interval_bp, gaps)
    if len(shards) < 2:
        return []
    return [{**shard_to_dict(s), "argument": s.argument} for s in shards]


def shards_uri(call_request: dict[str, Any]) -> str:
    """``<sample results>/shards/``: where each shard's outputs go, under its key."""
    return f"{_env(call_request)['SEQFLOW_OUTPUT_URI']}{SHARDS_DIR}/"


def gather_request(job: dict[str, Any], call_request: dict[str, Any], shards: list[dict[str, Any]],
                   settings) -> dict[str, Any]:
    """SubmitJob arguments of ``gather_calls``: every shard's folder staged under ``inputs/<key>/``, the
    keys in genome order, the outputs to the sample's results prefix (where ``call_variants`` puts them)."""
    impl = catalog().by_id(GATHER_STEP)
    sample = job["sample_id"]
    root = shards_uri(call_request)
    return {
        "job_name": job_name(GATHER_STEP, job["run_id"], sample),
        "job_definition": settings.require(job_definition_key(impl)),
        "job_queue": call_request["job_queue"],
        "parameters": {"sample_id": sample, "shards_dir": STAGED_INPUTS,
                       "shard_keys": ",".join(s["key"] for s in shards)},
        "container_overrides": {"environment": [
            # a prefix stages to inputs/<its last segment>/: inputs/<key>/<sample>.vcf.gz, as gather_calls.sh reads
            {"name": "SEQFLOW_INPUTS", "value": " ".join(f"{root}{s['key']}/" for s in shards)},
            {"name": "SEQFLOW_OUTPUT_URI", "value": _env(call_request)["SEQFLOW_OUTPUT_URI"]},
        ]},
        "tags": dict(call_request["tags"]),
        "memory_cap_mib": memory_cap_mib(impl),
    }


def with_call_shards(requests: dict[str, dict[str, Any]], job: dict[str, Any], settings, *,
                     interval_mb: float | None, force: bool = False, references=None, s3=None
                     ) -> dict[str, dict[str, Any]]:
    """The sample's requests (:func:`seqflow.aws.batch.sample_requests`) with ``call_variants``'
    ``shards`` (``[]``: one plain job), its ``gather`` request (``{}`` without shards) and ``force``."""
    call = dict(requests["call_variants"])
    shards = call_shards(job, settings, interval_mb=interval_mb, references=references, s3=s3)
    call["shards"] = shards
    # {} rather than None without shards: Airflow 3.0 (MWAA) refuses an XCom whose value is None
    call["gather"] = gather_request(job, call, shards, settings) if shards else {}
    call["force"] = bool(force)
    if shards:
        log.info("%s: calling scattered over %d shards of %s Mb (one Batch array job, then %s)",
                 job["sample_id"], len(shards), interval_mb, GATHER_STEP)
    return {**requests, "call_variants": call}


# -- at submission (the call_variants task, after the alignment) ------------------------------


_S3_CHECKSUMS = ("ChecksumSHA256", "ChecksumCRC64NVME", "ChecksumCRC32C", "ChecksumCRC32", "ChecksumSHA1")


def content_checksum(head: dict[str, Any]) -> str:
    """The checksum of an object (a ``HeadObject`` response with ``ChecksumMode=ENABLED``) by which a
    shard's input is recognised: ``sha256:<hex>`` of the content from the seqflow metadata; else S3's
    full-object checksum (``s3-<algorithm>:``); else S3's composite checksum (``s3-<algorithm>-composite:``,
    which depends on the part size) or the ETag (``etag:``, which with SSE-KMS changes at every upload)."""
    digest = (head.get("Metadata") or {}).get(SHA256_METADATA, "")
    if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
        return f"sha256:{digest}"
    for name in _S3_CHECKSUMS:
        if head.get(name):
            value = head[name]
            # a composite checksum reads "<base64>-<parts>" on S3; ChecksumType says so too
            composite = head.get("ChecksumType") == "COMPOSITE" or "-" in value
            return f"s3-{name[len('Checksum'):].lower()}{'-composite' if composite else ''}:{value}"
    return f"etag:{head['ETag'].strip(chr(34))}"


def input_fingerprint(s3, call_request: dict[str, Any]) -> dict[str, Any]:
    """What every shard's calls depend on besides its regions: the job definition and the
    :func:`content_checksum` of each staged input (BAM, index, reference, its index, ploidy file);
    None for an input that is not there, which makes no shard reusable (the jobs' staging then
    says which object is missing)."""
    from botocore.exceptions import ClientError

    inputs: dict[str, str | None] = {}
    for uri in _env(call_request)["SEQFLOW_INPUTS"].split():
        bucket, key = _split(uri)
        try:
            inputs[uri] = content_checksum(s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
            inputs[uri] = None
    return {"job_definition": call_request["job_definition"], "inputs": inputs}


def _read_json(s3, uri: str) -> dict[str, Any] | None:
    bucket, key = _split(uri)
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None
    except ValueError:
        return None


def _size(s3, uri: str) -> int | None:
    from botocore.exceptions import ClientError

    bucket, key = _split(uri)
    try:
        return s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def reusable(s3, root: str, shard: dict[str, Any], fingerprint: dict[str, Any]) -> bool:
    """Whether ``shards/<key>/shard.json`` says the shard completed with these inputs and regions, and
    its outputs are still there with the recorded sizes."""
    if None in fingerprint["inputs"].values():
        return False
    record = _read_json(s3, f"{root}{shard['key']}/{SHARD_RECORD}")
    if not record or record.get("format_version") != FORMAT_VERSION or record.get("inputs") != fingerprint:
        return False
    if record.get("key") != shard["key"] or record.get("regions") != shard["regions"]:
        return False
    outputs = record.get("outputs") or {}
    return bool(outputs) and all(_size(s3, f"{root}{shard['key']}/{name}") == o.get("size")
                                 for name, o in outputs.items())


def plan(sample_id: str, shards: list[dict[str, Any]], todo: list[int], fingerprint: dict[str, Any], *,
         more_memory: list[int] | None = None, memory_mib: int | None = None, try_number: int = 1) -> dict:
    """The document the array's children read (``plan.json``): child ``i`` calls ``shards[todo[i]]``, and
    child ``i`` of the array with more memory (``memory_mib``) ``shards[todo_more_memory[i]]``."""
    document = {"format_version": FORMAT_VERSION, "sample_id": sample_id, "inputs": fingerprint,
                "shards": [{k: s[k] for k in ("index", "count", "key", "label", "regions", "argument")}
                           for s in shards],
                TODO: todo, "try": try_number}
    if more_memory:
        document[MORE_MEMORY] = more_memory
        document["more_memory_mib"] = memory_mib
    return document


def summary(shards: list[dict[str, Any]], reused: set[str]) -> dict[str, Any]:
    """``<sample>.shards.json``, as :func:`seqflow.analysis.scatter.gather` writes it locally."""
    return {"format_version": FORMAT_VERSION, "count": len(shards),
            "reused": [s["key"] for s in shards if s["key"] in reused],
            "called": [s["key"] for s in shards if s["key"] not in reused],
            "labels": {s["key"]: s["label"] for s in shards}}


def calling_submission(call_request: dict[str, Any], todo: list[int], plan_uri: str, *, which: str = TODO,
                       memory_mib: int | None = None, try_number: int = 1) -> dict[str, Any]:
    """SubmitJob arguments (boto3's names) of a calling job of the plan's list ``which``: an array of
    ``len(todo)`` children, a plain job for one; ``memory_mib`` overrides the job definition's memory."""
    overrides = _with_env(call_request["container_overrides"], SEQFLOW_OUTPUT_URI=shards_uri(call_request),
                          **{PLAN_VARIABLE: plan_uri, TODO_VARIABLE: which})
    if memory_mib:
        overrides = with_memory(overrides, memory_mib)
    calling = {
        "jobName": call_request["job_name"],
        "jobQueue": call_request["job_queue"],
        "jobDefinition": call_request["job_definition"],
        "parameters": {**call_request["parameters"], "regions": SHARD_REGIONS},
        "containerOverrides": overrides,
        "tags": {**call_request["tags"], TRY_TAG: str(try_number), LIST_TAG: which},
    }
    if len(todo) > 1:
        calling["arrayProperties"] = {"size": len(todo)}
    return calling


def submissions(call_request: dict[str, Any], gather: dict[str, Any], shards: list[dict[str, Any]],
                todo: list[int], plan_uri: str, *, try_number: int = 1) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """SubmitJob arguments (boto3's names) of the calling job of ``todo`` (None for none) and of the gather
    job (``dependsOn`` is added at submission)."""
    calling = calling_submission(call_request, todo, plan_uri, try_number=try_number) if todo else None
    gathering = {"jobName": gather["job_name"], "jobQueue": gather["job_queue"],
                 "jobDefinition": gather["job_definition"], "parameters": dict(gather["parameters"]),
                 "containerOverrides": dict(gather["container_overrides"]), "tags": dict(gather["tags"])}
    return calling, gathering


class SeqflowCallVariantsOperator(SeqflowBatchOperator):
    """``sample.call_variants``: one job on the whole genome, or, with ``shards``, one array job of the
    shards still to call and the ``gather_calls`` job after it (module docstring).

    :param shards: The sample's calling shards (:func:`call_shards`); fewer than two: one plain job. (templated)
    :param gather: The gather job's request (:func:`gather_request`). (templated)
    :param force: Call every shard again, completed or not. (templated)
    """

    template_fields = (*SeqflowBatchOperator.template_fields, "shards", "gather", "force")

    def __init__(self, *, shards=None, gather=None, force=False, **kwargs):
        super().__init__(**kwargs)
        self.shards = shards
        self.gather = gather
        self.force = force

    def submit_job(self, context):
        if len(self.shards or []) < 2:
            return super().submit_job(context)
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        ti = context["ti"]
        task_key = task_instance_key(ti)
        self.tags = {**(self.tags or {}), TASK_TAG: task_key}
        gather = {**self.gather, "tags": {**self.gather["tags"], TASK_TAG: task_key}}
        if (getattr(ti, "try_number", 1) or 1) > 1:
            earlier = self.earlier_jobs(task_key, job_name=gather["job_name"])
            if earlier and earlier[0]["status"] in (*LIVE_STATES, "SUCCEEDED"):
                self.job_id = earlier[0]["jobId"]
                self.log.info("the gather job %s of an earlier try of this task is %s: attaching to it, not "
                              "submitting the shards again", self.job_id, earlier[0]["status"])
                return
        s3 = S3Hook(aws_conn_id=self.aws_conn_id).get_conn()
        request = {"job_name": self.job_name, "job_queue": self.job_queue, "job_definition": self.job_definition,
                   "parameters": self.parameters, "container_overrides": self.container_overrides,
                   "tags": self.tags}
        root = shards_uri(request)
        plan_uri = f"{root}{PLAN}"
        try_number = getattr(ti, "try_number", 1) or 1
        # the children of the previous try that ran out of memory, read before its plan is replaced
        starved = self.out_of_memory_shards(task_key, _read_json(s3, plan_uri)) if try_number > 1 else {}
        fingerprint = input_fingerprint(s3, request)
        done = set() if self.force else {s["key"] for s in self.shards if reusable(s3, root, s, fingerprint)}
        todo = [i for i, s in enumerate(self.shards) if s["key"] not in done]
        more = [i for i in todo if self.shards[i]["key"] in starved]
        todo = [i for i in todo if i not in more]
        memory = max((starved[self.shards[i]["key"]] for i in more), default=None)
        sample = gather["parameters"]["sample_id"]
        bucket, key = _split(plan_uri)
        document = plan(sample, self.shards, todo, fingerprint, more_memory=more, memory_mib=memory,
                        try_number=try_number)
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode(),
                      ContentType="application/json", ServerSideEncryption="aws:kms")
        calling, gathering = submissions(request, gather, self.shards, todo, plan_uri, try_number=try_number)
        self.log.info("%s: %d calling shard(s), %d to call%s, %d reused (their shard.json matches): %s", sample,
                      len(self.shards), len(todo) + len(more), " (force)" if self.force else "", len(done),
                      [s["label"] for s in self.shards if s["key"] in done])
        client = self.hook.client
        dependencies = []
        if calling:
            array = client.submit_job(**calling)["jobId"]
            self.log.info("AWS Batch %s %s submitted: %s", "array job" if len(todo) > 1 else "job", array,
                          [self.shards[i]["label"] for i in todo])
            dependencies.append({"jobId": array})
        if more:
            starving = calling_submission(request, more, plan_uri, which=MORE_MEMORY, memory_mib=memory,
                                          try_number=try_number)
            array = client.submit_job(**starving)["jobId"]
            self.log.warning("AWS Batch %s %s submitted with %d MiB (cap %s MiB): the shard(s) %s, which ran out of "
                             "memory in the previous try", "array job" if len(more) > 1 else "job", array, memory,
                             self.memory_cap_mib, [self.shards[i]["label"] for i in more])
            dependencies.append({"jobId": array})
        if dependencies:
            gathering["dependsOn"] = dependencies
        self.job_id = client.submit_job(**gathering)["jobId"]
        self.log.info("AWS Batch job %s (%s) gathers the shards", self.job_id, GATHER_STEP)
        out_bucket, out_key = _split(_env(gather)["SEQFLOW_OUTPUT_URI"])
        shards_summary = summary(self.shards, done)
        s3.put_object(Bucket=out_bucket, Key=f"{out_key}{sample}.shards.json",
                      Body=(json.dumps(shards_summary, indent=1) + "\n").encode(),
                      ContentType="application/json", ServerSideEncryption="aws:kms")
        ti.xcom_push(key="shards", value=shards_summary)

    def out_of_memory_shards(self, task_key: str, previous: dict[str, Any] | None) -> dict[str, int]:
        """Shard key -> the memory (MiB) to call it with again, for each child of the previous try's
        calling jobs (the plan ``previous`` and the jobs tagged with its try) that ran out of memory:
        twice what it had, at most ``memory_cap_mib``; :class:`BatchMemoryCapReached` when it had that."""
        if not previous or "try" not in previous:
            return {}
        client = self.hook.client
        jobs = [j for j in self.earlier_jobs(task_key)
                if (j.get("tags") or {}).get(TRY_TAG) == str(previous["try"])]
        starved: dict[str, int] = {}
        for job in jobs:
            which = (job.get("tags") or {}).get(LIST_TAG, TODO)
            todo = previous.get(which) or []
            if job.get("arrayProperties", {}).get("size"):
                ids = [c["jobId"] for page in client.get_paginator("list_jobs").paginate(
                    arrayJobId=job["jobId"], jobStatus="FAILED") for c in page.get("jobSummaryList", [])]
                children = []
                for start in range(0, len(ids), 100):
                    children += client.describe_jobs(jobs=ids[start:start + 100]).get("jobs", [])
            else:
                children = [job] if job.get("status") == "FAILED" else []
            for child in children:
                if not out_of_memory(child):
                    continue
                position = (child.get("arrayProperties") or {}).get("index", 0)
                if position >= len(todo):
                    continue
                shard = previous["shards"][todo[position]]
                had = job_memory_mib(child) or job_memory_mib(job) or previous.get("more_memory_mib")
                cap = int(self.memory_cap_mib) if self.memory_cap_mib else None
                if had is None or cap is None:
                    self.log.warning("shard %s (%s) ran out of memory in job %s, but its memory or the cap is "
                                     "unknown: called again with the same memory", shard["key"], shard["label"],
                                     child["jobId"])
                    continue
                if had >= cap:
                    raise BatchMemoryCapReached(
                        f"shard {shard['label']} of {self.job_name} ran out of memory in AWS Batch job "
                        f"{child['jobId']} with {had} MiB, the cap of this step ({MEMORY_CAP_FACTOR}x its memory_mib "
                        f"in the step catalogue): not retrying with more; raise memory_mib in "
                        f"containers/<tool>/steps.yaml (and the job definition)")
                starved[shard["key"]] = max(starved.get(shard["key"], 0), min(2 * had, cap))
                self.log.warning("shard %s (%s) ran out of memory in AWS Batch job %s with %d MiB (%s): it is "
                                 "called again with %d MiB (cap %d)", shard["key"], shard["label"], child["jobId"],
                                 had, child.get("statusReason"), starved[shard["key"]], cap)
        return starved
