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

**Resume.** A shard whose ``shard.json`` records the same input checksums (the S3
checksums or ETags of the BAM, its index, the reference, its index and the ploidy file,
and the job definition) and the same regions, and whose outputs are still there with the
recorded sizes, is not called again; ``force`` calls every shard again. The summary
``<sample>.shards.json`` (count, called, reused, labels) is what ``finalise_run`` records in
the registry, as locally.

**Retries.** As :class:`~seqflow.aws.batch.SeqflowBatchOperator`: every job carries the task
instance's tag, and a retried task attaches to the gather job of an earlier try while it
runs or after it succeeded, instead of submitting the shards again.
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
    job_definition_key,
    job_name,
    memory_cap_mib,
    task_instance_key,
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


def _checksum(head: dict[str, Any]) -> str:
    for name in ("ChecksumSHA256", "ChecksumCRC64NVME", "ChecksumCRC32C", "ChecksumCRC32", "ChecksumSHA1"):
        if head.get(name):
            return f"{name[len('Checksum'):].lower()}:{head[name]}"
    return f"etag:{head['ETag'].strip(chr(34))}"


def input_fingerprint(s3, call_request: dict[str, Any]) -> dict[str, Any]:
    """What every shard's calls depend on besides its regions: the job definition and a checksum
    (S3's own, else the ETag) of each staged input (BAM, index, reference, its index, ploidy file);
    None for an input that is not there, which makes no shard reusable (the jobs' staging then
    says which object is missing)."""
    from botocore.exceptions import ClientError

    inputs: dict[str, str | None] = {}
    for uri in _env(call_request)["SEQFLOW_INPUTS"].split():
        bucket, key = _split(uri)
        try:
            inputs[uri] = _checksum(s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"))
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


def plan(sample_id: str, shards: list[dict[str, Any]], todo: list[int], fingerprint: dict[str, Any]) -> dict:
    """The document the array's children read (``plan.json``): child ``i`` calls ``shards[todo[i]]``."""
    return {"format_version": FORMAT_VERSION, "sample_id": sample_id, "inputs": fingerprint,
            "shards": [{k: s[k] for k in ("index", "count", "key", "label", "regions", "argument")} for s in shards],
            "todo": todo}


def summary(shards: list[dict[str, Any]], reused: set[str]) -> dict[str, Any]:
    """``<sample>.shards.json``, as :func:`seqflow.analysis.scatter.gather` writes it locally."""
    return {"format_version": FORMAT_VERSION, "count": len(shards),
            "reused": [s["key"] for s in shards if s["key"] in reused],
            "called": [s["key"] for s in shards if s["key"] not in reused],
            "labels": {s["key"]: s["label"] for s in shards}}


def submissions(call_request: dict[str, Any], gather: dict[str, Any], shards: list[dict[str, Any]],
                todo: list[int], plan_uri: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """SubmitJob arguments (boto3's names) of the calling job (an array of ``len(todo)`` children, a plain
    job for one, None for none) and of the gather job (``dependsOn`` is added at submission)."""
    calling = None
    if todo:
        calling = {
            "jobName": call_request["job_name"],
            "jobQueue": call_request["job_queue"],
            "jobDefinition": call_request["job_definition"],
            "parameters": {**call_request["parameters"], "regions": SHARD_REGIONS},
            "containerOverrides": _with_env(call_request["container_overrides"],
                                            SEQFLOW_OUTPUT_URI=shards_uri(call_request), **{PLAN_VARIABLE: plan_uri}),
            "tags": dict(call_request["tags"]),
        }
        if len(todo) > 1:
            calling["arrayProperties"] = {"size": len(todo)}
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
        fingerprint = input_fingerprint(s3, request)
        done = set() if self.force else {s["key"] for s in self.shards if reusable(s3, root, s, fingerprint)}
        todo = [i for i, s in enumerate(self.shards) if s["key"] not in done]
        sample = gather["parameters"]["sample_id"]
        plan_uri = f"{root}{PLAN}"
        bucket, key = _split(plan_uri)
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(plan(sample, self.shards, todo, fingerprint)).encode(),
                      ContentType="application/json", ServerSideEncryption="aws:kms")
        calling, gathering = submissions(request, gather, self.shards, todo, plan_uri)
        self.log.info("%s: %d calling shard(s), %d to call%s, %d reused (their shard.json matches)", sample,
                      len(self.shards), len(todo), " (force)" if self.force else "", len(done))
        client = self.hook.client
        if calling:
            array = client.submit_job(**calling)["jobId"]
            self.log.info("AWS Batch %s %s submitted: %s", "array job" if len(todo) > 1 else "job", array,
                          [self.shards[i]["label"] for i in todo])
            gathering["dependsOn"] = [{"jobId": array}]
        self.job_id = client.submit_job(**gathering)["jobId"]
        self.log.info("AWS Batch job %s (%s) gathers the shards", self.job_id, GATHER_STEP)
        out_bucket, out_key = _split(_env(gather)["SEQFLOW_OUTPUT_URI"])
        s3.put_object(Bucket=out_bucket, Key=f"{out_key}{sample}.shards.json",
                      Body=(json.dumps(summary(self.shards, done), indent=1) + "\n").encode(),
                      ContentType="application/json", ServerSideEncryption="aws:kms")
