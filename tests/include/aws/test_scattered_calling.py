"""Scattered calling on AWS Batch (seqflow.aws.scattered_calling): the shards of a reference registered
in the S3 catalogue (its gaps included), the array job of the shards still to call and the gather
after it, reuse of completed shards, ``force``, and a retry attaching to the gather; against moto."""

from __future__ import annotations

import json
import logging

import boto3
import pytest

from aws_helpers import REGION, RUN, genome, moto_batch_queue, of, settings

GATHER = {"batch_job_definition_gather_calls": "sf-gather-calls"}
JOB = {"run_id": RUN, "pipeline_version": "1.0.0", "sample_id": "S1",
       "r1": [f"s3://raw/runs/{RUN}/S1_S1_R1_001.fastq.gz"], "r2": [f"s3://raw/runs/{RUN}/S1_S1_R2_001.fastq.gz"],
       "aligner": "bwa", "caller": "bcftools", "reference": "toy",
       "ploidy_file": "s3://raw/references/toy/toy.ploidy", "reference_fasta": "s3://raw/references/toy/toy.fa"}
SHARDS = "results/{run}/1.0.0/toy/bwa-bcftools/S1/shards/".format(run=RUN)


class _TI:
    dag_id, task_id, map_index = "seqflow_analysis", "sample.call_variants", 0

    def __init__(self, try_number: int):
        self.try_number, self.run_id = try_number, "manual__2026-11-20"

    def xcom_push(self, key, value):
        pass


def _context(try_number=1):
    ti = _TI(try_number)
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
