"""Scattered calling on AWS Batch (seqflow.aws.scattered_calling): the shards of a reference registered
in the S3 catalogue (its gaps included), the array job of the shards still to call and the gather
after it, reuse of completed shards, ``force``, and a retry attaching to the gather; against moto."""

from __future__ import annotations

import json
import logging

import importlib.util
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from aws_helpers import REGION, RUN, genome, moto_batch_queue, of, settings

GATHER = {"batch_job_definition_gather_calls": "sf-gather-calls"}
JOB = {"run_id": RUN, "pipeline_version": "1.0.0", "sample_id": "S1",
       "r1": [f"s3://raw/runs/{RUN}/S1_S1_R1_001.fastq.gz"], "r2": [f"s3://raw/runs/{RUN}/S1_S1_R2_001.fastq.gz"],
       "aligner": "bwa", "caller": "bcftools", "reference": "toy",
       "ploidy_file": "s3://raw/references/toy/toy.ploidy", "reference_fasta": "s3://raw/references/toy/toy.fa"}
SHARDS = "results/{run}/1.0.0/toy/bwa-bcftools/S1/shards/".format(run=RUN)
BAM = f"results/{RUN}/1.0.0/toy/bwa-bcftools/S1/S1.bam"
STAGER = Path(__file__).resolve().parents[3] / "containers" / "_common" / "s3_stage.py"
OOM = "OutOfMemoryError: Container killed due to memory usage"


def _stager():
    spec = importlib.util.spec_from_file_location("s3_stage_scatter", STAGER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _TI:
    dag_id, task_id, map_index = "seqflow_analysis", "sample.call_variants", 0

    def __init__(self, try_number: int, run_id: str = "manual__2026-11-20"):
        self.try_number, self.run_id = try_number, run_id
        self.xcoms: dict = {}

    def xcom_push(self, key, value):
        self.xcoms[key] = value


def _context(try_number=1, run_id="manual__2026-11-20"):
    ti = _TI(try_number, run_id)
    return {"ti": ti, "task_instance": ti}


@pytest.fixture
def deployment(moto, tmp_path):
    """Buckets, a queue and the job definitions, and a reference of two contigs (6 kb and 3 kb), the
    first with a 1.2-kb assembly gap at 3,600-4,800, registered with the S3 catalogue."""
    from seqflow.aws.references import S3ReferenceCatalog

    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("raw", "results"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    fasta = genome(tmp_path / "toy_source.fa", {"chrA": 6000, "chrB": 3000})
    lines = fasta.read_text().split("\n")
    seq = "".join(lines[1:101])
    seq = seq[:3600] + "N" * 1200 + seq[4800:]
    fasta.write_text(">chrA\n" + "\n".join(seq[i:i + 60] for i in range(0, 6000, 60)) + "\n"
                     + "\n".join(lines[101:]))
    references = S3ReferenceCatalog(settings(), s3, deb_cache=tmp_path / "debs")
    references.add("toy", str(fasta), aligners=("bwa",))
    moto_batch_queue(("sf-call-variants-bcftools", "sf-gather-calls"),
                     image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/seqflow/bcftools:1")
    # what align left in the results prefix, and the reference's ploidy file
    bam = f"results/{RUN}/1.0.0/toy/bwa-bcftools/S1/S1.bam"
    for key in (bam, bam + ".bai"):
        s3.put_object(Bucket="results", Key=key, Body=b"bam")
    return {"s3": s3, "references": references}


def _requests(deployment, interval_mb, force=False):
    from seqflow.aws.batch import sample_requests
    from seqflow.aws.scattered_calling import with_call_shards

    config = settings(**GATHER)
    return with_call_shards(sample_requests(JOB, config), JOB, config, interval_mb=interval_mb, force=force,
                            references=deployment["references"])["call_variants"]


def _operator(request):
    from seqflow.aws.scattered_calling import SeqflowCallVariantsOperator

    op = SeqflowCallVariantsOperator(task_id="call_variants", deferrable=True, **request)
    op._persist_links = lambda context: op.hook.get_job_description(op.job_id)
    op._persist_cloudwatch_link = lambda context: None
    return op


def _json(s3, key):
    return json.loads(s3.get_object(Bucket="results", Key=key)["Body"].read())


def test_registration_records_the_gaps_and_the_shards_cut_in_them(deployment):
    references = deployment["references"]
    ref = references.require("toy")
    assert references.gaps(ref) == {"chrA": [(3600, 4800)]}
    # 9 kb in 3-kb intervals: cuts at 3,000 (the gap is too far) and at chrA's end
    shards = _requests(deployment, 0.003)["shards"]
    assert [s["argument"] for s in shards] == ["chrA:1-3000", "chrA:3001-6000", "chrB:1-3000"]
    assert [s["index"] for s in shards] == [0, 1, 2] and {s["count"] for s in shards} == {3}
    shards = _requests(deployment, 0.004)["shards"]  # two shards of 4.5 kb: the cut moves to the gap's middle
    assert [s["argument"] for s in shards] == ["chrA:1-4200", "chrA:4201-6000,chrB:1-3000"]


def test_one_interval_keeps_the_plain_whole_genome_job(deployment, calls):
    request = _requests(deployment, 100)
    assert request["shards"] == [] and request["gather"] == {}
    assert "regions" not in request["parameters"]  # the job definition's default: "-", the whole genome
    op = _operator(request)
    op.submit_job(_context())
    [submit] = of(calls, "batch", "SubmitJob")
    assert submit["jobName"] == f"seqflow_call_variants_{RUN}_S1" and "arrayProperties" not in submit
    assert "dependsOn" not in submit


def test_a_reference_registered_without_gaps_is_cut_at_contig_ends_with_a_warning(deployment, caplog):
    deployment["s3"].delete_object(Bucket="raw", Key="references/toy/toy.fa.gaps.bed")
    with caplog.at_level(logging.WARNING, logger="seqflow.aws.scattered_calling"):
        shards = _requests(deployment, 0.003)["shards"]
    assert "no toy.fa.gaps.bed" in caplog.text
    assert [s["argument"] for s in shards] == ["chrA:1-3000", "chrA:3001-6000", "chrB:1-3000"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="seqflow.aws.scattered_calling"):
        shards = _requests(deployment, 0.004)["shards"]  # no gap to snap to: the cut stays at 4,500
    assert [s["argument"] for s in shards] == ["chrA:1-4500", "chrA:4501-6000,chrB:1-3000"]


def test_several_intervals_submit_one_array_job_then_the_gather_that_depends_on_it(deployment, calls):
    from botocore.validate import validate_parameters

    from seqflow.aws.scattered_calling import SHARD_REGIONS

    request = _requests(deployment, 0.003)
    shards = request["shards"]
    gather = request["gather"]
    keys = [s["key"] for s in shards]
    assert gather["parameters"] == {"sample_id": "S1", "shards_dir": "inputs", "shard_keys": ",".join(keys)}
    assert gather["job_definition"] == "sf-gather-calls"
    op = _operator(request)
    job_id = op.execute(_context())
    array, gathering = of(calls, "batch", "SubmitJob")
    shape = boto3.client("batch", region_name=REGION).meta.service_model.operation_model("SubmitJob").input_shape
    for submit in (array, gathering):
        validate_parameters(submit, shape)
        assert submit["tags"]["sample_id"] == "S1" and len(submit["tags"]["seqflow_task"]) == 40
    assert array["arrayProperties"] == {"size": 3}
    assert array["jobDefinition"] == "sf-call-variants-bcftools"
    assert array["parameters"]["regions"] == SHARD_REGIONS
    env = {e["name"]: e["value"] for e in array["containerOverrides"]["environment"]}
    assert env["SEQFLOW_OUTPUT_URI"] == f"s3://results/{SHARDS}"
    assert env["SEQFLOW_SHARDS_PLAN"] == f"s3://results/{SHARDS}plan.json"
    listed = [j["jobId"] for j in boto3.client("batch", region_name=REGION).list_jobs(
        jobQueue="queue", filters=[{"name": "JOB_NAME", "values": [array["jobName"]]}])["jobSummaryList"]]
    [array_id] = [i for i in listed if ":" not in i]
    assert sorted(i for i in listed if ":" in i) == [f"{array_id}:{n}" for n in range(3)]  # moto's children
    assert gathering["dependsOn"] == [{"jobId": array_id}]
    assert gathering["jobName"] == f"seqflow_gather_calls_{RUN}_S1" and job_id != array_id
    assert op.job_id == job_id  # the task waits for the gather
    genv = {e["name"]: e["value"] for e in gathering["containerOverrides"]["environment"]}
    assert genv["SEQFLOW_INPUTS"].split() == [f"s3://results/{SHARDS}{k}/" for k in keys]
    assert genv["SEQFLOW_OUTPUT_URI"] == f"s3://results/{SHARDS[:-len('shards/')]}"
    plan = _json(deployment["s3"], SHARDS + "plan.json")
    assert plan["todo"] == [0, 1, 2] and [s["argument"] for s in plan["shards"]] == [s["argument"] for s in shards]
    # the checksum of every staged input (the BAM and its index, the reference and its index, ploidy)
    assert set(plan["inputs"]["inputs"]) == set(env["SEQFLOW_INPUTS"].split()) and len(plan["inputs"]["inputs"]) == 5
    summary = _json(deployment["s3"], SHARDS.replace("shards/", "S1.shards.json"))
    assert summary["count"] == 3 and summary["called"] == keys and summary["reused"] == []


def _complete(deployment, shard, fingerprint):
    """What a child's entrypoint leaves after a shard succeeded: its outputs, then shard.json."""
    s3 = deployment["s3"]
    for name in ("S1.vcf.gz", "S1.vcf.gz.tbi"):
        s3.put_object(Bucket="results", Key=f"{SHARDS}{shard['key']}/{name}", Body=b"12345")
    record = {"format_version": 1, "sample_id": "S1", **{k: shard[k] for k in ("index", "count", "key", "label",
                                                                               "regions")},
              "inputs": fingerprint, "outputs": {n: {"sha256": "0" * 64, "size": 5} for n in ("S1.vcf.gz",
                                                                                         "S1.vcf.gz.tbi")}}
    s3.put_object(Bucket="results", Key=f"{SHARDS}{shard['key']}/shard.json", Body=json.dumps(record).encode())


def test_completed_shards_are_reused_and_force_calls_them_again(deployment, calls):
    from seqflow.aws.scattered_calling import input_fingerprint

    request = _requests(deployment, 0.003)
    shards = request["shards"]
    fingerprint = input_fingerprint(deployment["s3"], request)
    _complete(deployment, shards[0], fingerprint)
    _complete(deployment, shards[2], fingerprint)
    # a shard whose output went missing, or that was called from another BAM, is called again
    _complete(deployment, shards[1], fingerprint)
    deployment["s3"].delete_object(Bucket="results", Key=f"{SHARDS}{shards[1]['key']}/S1.vcf.gz.tbi")
    _operator(request).submit_job(_context())
    plain, gathering = of(calls, "batch", "SubmitJob")
    assert "arrayProperties" not in plain  # one shard left: a plain job, which reads todo[0]
    assert _json(deployment["s3"], SHARDS + "plan.json")["todo"] == [1]
    assert gathering["parameters"]["shard_keys"] == ",".join(s["key"] for s in shards)  # all are gathered
    summary = _json(deployment["s3"], SHARDS.replace("shards/", "S1.shards.json"))
    assert summary["reused"] == [shards[0]["key"], shards[2]["key"]] and summary["called"] == [shards[1]["key"]]

    calls.clear()
    _complete(deployment, shards[1], fingerprint)
    _operator(request).submit_job(_context())
    [gathering] = of(calls, "batch", "SubmitJob")  # every shard completed: only the gather
    assert gathering["jobName"].startswith("seqflow_gather_calls_") and "dependsOn" not in gathering

    calls.clear()
    deployment["s3"].put_object(Bucket="results", Key=f"results/{RUN}/1.0.0/toy/bwa-bcftools/S1/S1.bam",
                                Body=b"another alignment")
    _operator(request).submit_job(_context())
    assert of(calls, "batch", "SubmitJob")[0]["arrayProperties"] == {"size": 3}  # the BAM changed: all again

    calls.clear()
    fingerprint = input_fingerprint(deployment["s3"], request)
    for shard in shards:
        _complete(deployment, shard, fingerprint)
    deployment["s3"].delete_object(Bucket="results", Key=f"results/{RUN}/1.0.0/toy/bwa-bcftools/S1/S1.bam.bai")
    assert None in input_fingerprint(deployment["s3"], request)["inputs"].values()
    _operator(request).submit_job(_context())  # an input is missing: nothing is reused, the jobs' staging says why
    assert of(calls, "batch", "SubmitJob")[0]["arrayProperties"] == {"size": 3}
    deployment["s3"].put_object(Bucket="results", Key=f"results/{RUN}/1.0.0/toy/bwa-bcftools/S1/S1.bam.bai", Body=b"i")

    calls.clear()
    forced = _requests(deployment, 0.003, force=True)
    assert forced["force"] is True
    fingerprint = input_fingerprint(deployment["s3"], forced)
    for shard in shards:
        _complete(deployment, shard, fingerprint)
    _operator(forced).submit_job(_context())
    assert of(calls, "batch", "SubmitJob")[0]["arrayProperties"] == {"size": 3}
    assert _json(deployment["s3"], SHARDS + "plan.json")["todo"] == [0, 1, 2]


def test_a_retry_attaches_to_the_gather_of_its_earlier_try(deployment, calls):
    request = _requests(deployment, 0.003)
    first = _operator(request).execute(_context(try_number=1))
    calls.clear()
    retry = _operator(request)
    retry.submit_job(_context(try_number=2))
    assert retry.job_id == first
    assert of(calls, "batch", "SubmitJob") == []
    [listed] = of(calls, "batch", "ListJobs")
    assert listed["filters"] == [{"name": "JOB_NAME", "values": [f"seqflow_gather_calls_{RUN}_S1"]}]


def _align_upload(deployment, tmp_path, content: bytes, part_mib: int):
    """What ``align``'s entrypoint does with the BAM and its index: upload them (SSE-KMS, multipart
    above the threshold) with their SHA-256."""
    from boto3.s3.transfer import TransferConfig

    out = tmp_path / f"align-{part_mib}"
    out.mkdir(exist_ok=True)
    (out / "S1.bam").write_bytes(content)
    (out / "S1.bam.bai").write_bytes(content[:1000])
    config = TransferConfig(multipart_threshold=part_mib << 20, multipart_chunksize=part_mib << 20)
    _stager().upload(deployment["s3"], out, f"s3://results/{BAM.rsplit('/', 1)[0]}/", None, config=config)
    return deployment["s3"].head_object(Bucket="results", Key=BAM, ChecksumMode="ENABLED")


def _run_children(calling, monkeypatch, tmp_path):
    """Each child of a calling job, through the real staging entrypoint: the command writes the regions
    it was given as its 'VCF', the entrypoint uploads it and the shard's record."""
    stager = _stager()
    size = (calling.get("arrayProperties") or {}).get("size", 1)
    for name, value in ((e["name"], e["value"]) for e in calling["containerOverrides"]["environment"]):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SEQFLOW_WORKDIR", str(tmp_path / "scratch"))
    s3 = boto3.client("s3", region_name=REGION)
    for index in range(size):
        monkeypatch.setenv("AWS_BATCH_JOB_ARRAY_INDEX", str(index))
        script = 'printf "%s\\n" "$1" > outputs/S1.vcf.gz && echo tbi > outputs/S1.vcf.gz.tbi'
        assert stager.main(["sh", "-c", script, "sh", "@shard"], client=s3) == 0


def test_a_retriggered_analysis_reuses_the_shards_of_a_byte_identical_bam_uploaded_again(
        deployment, calls, monkeypatch, tmp_path):
    """Two DAG runs: the second re-aligned the sample to the same bytes, uploaded in other parts (so its
    ETag and S3's composite SHA-256 differ), and reuses every shard by the SHA-256 of the content."""
    from seqflow.aws.scattered_calling import SHA256_METADATA, input_fingerprint

    bam = bytes(range(256)) * (9 * 4096)  # 9 MiB: a multipart upload in both runs
    first = _align_upload(deployment, tmp_path, bam, part_mib=8)
    request = _requests(deployment, 0.003)
    shards, keys = request["shards"], [s["key"] for s in request["shards"]]
    context = _context(run_id="manual__2026-11-20T01")
    _operator(request).submit_job(context)
    array, _gathering = of(calls, "batch", "SubmitJob")
    assert array["arrayProperties"] == {"size": 3}
    assert context["ti"].xcoms["shards"]["called"] == keys and context["ti"].xcoms["shards"]["reused"] == []
    _run_children(array, monkeypatch, tmp_path)
    for shard in shards:
        record = _json(deployment["s3"], f"{SHARDS}{shard['key']}/shard.json")
        assert record["inputs"] == input_fingerprint(deployment["s3"], request)
        head = deployment["s3"].head_object(Bucket="results", Key=f"{SHARDS}{shard['key']}/S1.vcf.gz")
        assert head["Metadata"][SHA256_METADATA] == record["outputs"]["S1.vcf.gz"]["sha256"]
        vcf = deployment["s3"].get_object(Bucket="results", Key=f"{SHARDS}{shard['key']}/S1.vcf.gz")
        assert vcf["Body"].read().decode().strip() == shard["argument"]

    calls.clear()
    again = _align_upload(deployment, tmp_path, bam, part_mib=5)  # the re-triggered analysis' align
    assert again["ETag"] != first["ETag"] and again["ChecksumSHA256"] != first["ChecksumSHA256"]
    assert again["Metadata"][SHA256_METADATA] == first["Metadata"][SHA256_METADATA]
    fingerprint = input_fingerprint(deployment["s3"], request)
    assert fingerprint["inputs"][f"s3://results/{BAM}"] == "sha256:" + first["Metadata"][SHA256_METADATA]
    context = _context(run_id="manual__2026-11-21T01")  # another DAG run: another task instance
    _operator(request).submit_job(context)
    [gathering] = of(calls, "batch", "SubmitJob")  # every shard reused: only the gather, without dependsOn
    assert gathering["jobName"].startswith("seqflow_gather_calls_") and "dependsOn" not in gathering
    assert context["ti"].xcoms["shards"]["reused"] == keys and context["ti"].xcoms["shards"]["called"] == []
    assert _json(deployment["s3"], SHARDS.replace("shards/", "S1.shards.json"))["reused"] == keys

    calls.clear()
    _align_upload(deployment, tmp_path, bam[:-1] + b"!", part_mib=8)  # one byte differs: every shard again
    _operator(request).submit_job(_context(run_id="manual__2026-11-22T01"))
    assert of(calls, "batch", "SubmitJob")[0]["arrayProperties"] == {"size": 3}


def _detail(job_id, status, *, memory=2048, reason=None, index=None, size=None, tags=None, name=None):
    """A DescribeJobs job (botocore's JobDetail shape; the Stubber validates it) of the calling job
    definition: an array parent (``size``), a child (``index``), or the gather (``name``)."""
    container = {"image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/seqflow/bcftools:1",
                 "command": ["call_variants.sh", "Ref::sample_id"],
                 "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": str(memory)}]}
    job = {"jobArn": f"arn:aws:batch:{REGION}:123456789012:job/{job_id}",
           "jobName": name or f"seqflow_call_variants_{RUN}_S1", "jobId": job_id,
           "jobQueue": f"arn:aws:batch:{REGION}:123456789012:job-queue/queue", "status": status,
           "createdAt": 1, "startedAt": 10, "jobDefinition": "sf-call-variants-bcftools", "container": container}
    if tags is not None:
        job["tags"] = tags
    if size is not None:
        job["arrayProperties"] = {"size": size, "statusSummary": {"SUCCEEDED": 1, "FAILED": size - 1}}
    if index is not None:
        job["arrayProperties"] = {"index": index}
    if status == "FAILED" and reason:
        job["statusReason"] = "Essential container in task exited"
        job["container"] = {**container, "exitCode": 137 if reason == OOM else 1, "reason": reason}
        job["attempts"] = [{"container": {"exitCode": 137 if reason == OOM else 1, "reason": reason},
                            "startedAt": 10, "stoppedAt": 100, "statusReason": "Essential container in task exited"}]
    elif status == "FAILED":
        job["statusReason"] = "Dependent Job failed"
    return job


def _first_try_failed(deployment, request, *, child_memory=2048):
    """Try 1 submitted the array (moto), shard 1 completed; a Stubber-backed Batch client answers try 2's
    look-ups: the gather failed, child 0 ran out of memory, child 2 failed otherwise."""
    from seqflow.aws.batch import TASK_TAG, task_instance_key
    from seqflow.aws.scattered_calling import input_fingerprint

    _operator(request).submit_job(_context(try_number=1))
    shards = request["shards"]
    _complete(deployment, shards[1], input_fingerprint(deployment["s3"], request))
    tags = {**request["tags"], TASK_TAG: task_instance_key(_TI(2))}
    gather = _detail("gather-1", "FAILED", name=f"seqflow_gather_calls_{RUN}_S1", tags=tags)
    array = _detail("array-1", "FAILED", size=3, tags={**tags, "seqflow_try": "1", "seqflow_todo": "todo"})
    children = [_detail("array-1:0", "FAILED", index=0, memory=child_memory, reason=OOM),
                _detail("array-1:2", "FAILED", index=2, reason="Essential container in task exited")]
    op = _operator(request)
    client = boto3.client("batch", region_name=REGION)
    stubber = Stubber(client)
    for name, jobs in ((gather["jobName"], [gather]), (array["jobName"], [array])):
        stubber.add_response("list_jobs", {"jobSummaryList": [
            {"jobId": j["jobId"], "jobName": j["jobName"], "status": j["status"], "createdAt": 1} for j in jobs]},
            {"jobQueue": "queue", "filters": [{"name": "JOB_NAME", "values": [name]}]})
        stubber.add_response("describe_jobs", {"jobs": jobs}, {"jobs": [j["jobId"] for j in jobs]})
    stubber.add_response("list_jobs", {"jobSummaryList": [
        {"jobId": c["jobId"], "jobName": c["jobName"], "status": "FAILED", "createdAt": 1,
         "arrayProperties": {"index": c["arrayProperties"]["index"]}} for c in children]},
        {"arrayJobId": "array-1", "jobStatus": "FAILED"})
    stubber.add_response("describe_jobs", {"jobs": children}, {"jobs": [c["jobId"] for c in children]})
    op.hook.__dict__["conn"] = client
    return op, stubber, tags


def test_a_retry_calls_the_children_that_ran_out_of_memory_again_with_twice_their_memory(deployment, capsys):
    from botocore.stub import ANY

    request = _requests(deployment, 0.003)
    shards = request["shards"]
    op, stubber, tags = _first_try_failed(deployment, request)
    assert op.memory_cap_mib == 8192  # 4x call_variants' memory_mib in containers/bcftools/steps.yaml
    plan_uri = f"s3://results/{SHARDS}plan.json"
    env = {e["name"]: e["value"] for e in request["container_overrides"]["environment"]}
    base = {"jobName": op.job_name, "jobQueue": "queue", "jobDefinition": "sf-call-variants-bcftools",
            "parameters": {**request["parameters"], "regions": "@shard"}}

    def overrides(which, memory=None):
        environment = [{"name": k, "value": v} for k, v in env.items() if k != "SEQFLOW_OUTPUT_URI"]
        environment += [{"name": "SEQFLOW_OUTPUT_URI", "value": f"s3://results/{SHARDS}"},
                        {"name": "SEQFLOW_SHARDS_PLAN", "value": plan_uri}, {"name": "SEQFLOW_SHARDS_TODO", "value": which}]
        result = {**request["container_overrides"], "environment": environment}
        return {**result, "resourceRequirements": [{"type": "MEMORY", "value": str(memory)}]} if memory else result

    # shard 2 failed otherwise: called again as it was; shard 0 ran out of memory: its own job, 4096 MiB
    stubber.add_response("submit_job", {"jobName": op.job_name, "jobId": "plain-2"}, {
        **base, "containerOverrides": overrides("todo"), "tags": {**tags, "seqflow_try": "2", "seqflow_todo": "todo"}})
    stubber.add_response("submit_job", {"jobName": op.job_name, "jobId": "more-2"}, {
        **base, "containerOverrides": overrides("todo_more_memory", 4096),
        "tags": {**tags, "seqflow_try": "2", "seqflow_todo": "todo_more_memory"}})
    stubber.add_response("submit_job", {"jobName": f"seqflow_gather_calls_{RUN}_S1", "jobId": "gather-2"}, {
        "jobName": f"seqflow_gather_calls_{RUN}_S1", "jobQueue": "queue", "jobDefinition": "sf-gather-calls",
        "parameters": ANY, "containerOverrides": ANY, "tags": tags,
        "dependsOn": [{"jobId": "plain-2"}, {"jobId": "more-2"}]})
    context = _context(try_number=2)
    capsys.readouterr()
    with stubber:
        op.submit_job(context)
    logged = capsys.readouterr().out  # the task's log
    stubber.assert_no_pending_responses()
    assert op.job_id == "gather-2"
    plan = _json(deployment["s3"], SHARDS + "plan.json")
    assert plan["try"] == 2 and plan["todo"] == [2] and plan["todo_more_memory"] == [0]
    assert plan["more_memory_mib"] == 4096
    assert f"shard {shards[0]['key']} ({shards[0]['label']}) ran out of memory in AWS Batch job array-1:0 " \
           f"with 2048 MiB" in logged and "called again with 4096 MiB (cap 8192)" in logged
    assert "more-2 submitted with 4096 MiB (cap 8192 MiB): the shard(s) ['chrA:1-3000']" in logged
    assert context["ti"].xcoms["shards"]["reused"] == [shards[1]["key"]]

    # the children read their shard from their list of the plan
    stager = _stager()
    s3 = boto3.client("s3", region_name=REGION)
    picked = stager.select_shard(s3, plan_uri, {"AWS_BATCH_JOB_ARRAY_INDEX": "0",
                                                "SEQFLOW_SHARDS_TODO": "todo_more_memory"})
    assert picked["key"] == shards[0]["key"]
    assert stager.select_shard(s3, plan_uri, {"AWS_BATCH_JOB_ARRAY_INDEX": "0"})["key"] == shards[2]["key"]


def test_a_child_that_ran_out_of_memory_at_the_cap_fails_the_retry(deployment, calls):
    from seqflow.aws.batch import BatchMemoryCapReached

    request = _requests(deployment, 0.003)
    op, stubber, _tags = _first_try_failed(deployment, request, child_memory=8192)
    with stubber, pytest.raises(BatchMemoryCapReached, match=r"array-1:0 with 8192 MiB, the cap of this step"):
        op.submit_job(_context(try_number=2))
    stubber.assert_no_pending_responses()  # and no SubmitJob: none was stubbed
