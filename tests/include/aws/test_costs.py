"""Step costs on AWS (seqflow.aws.costs): the Batch jobs of an analysis found by name and results prefix
(moto answers ListJobs and DescribeJobs), their attempts priced by the instance type's share (botocore's
Stubber, whose requests and responses are checked against the service models of Batch, ECS and
HealthOmics), HealthOmics runs from GetRun / ListRunTasks, and the rows written beside the results and
to the lake."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber

from aws_helpers import REGION, RUN, moto_batch_queue, of, settings

PRICES = f"""# test prices
region,instance_type,vcpus,memory_gib,usd_per_hour,as_of,source
{REGION},m5.xlarge,4,16,0.192,2026-11-01,test list
{REGION},fargate-vcpu,1,1,0.04,2026-11-01,test fargate
{REGION},fargate-gb,1,1,0.005,2026-11-01,test fargate
{REGION},omics.c.large,2,4,0.12,2026-11-01,test omics
"""
IDENTITY = {"run_id": RUN, "pipeline_version": "1.0.0", "reference": "lambda", "aligner": "bwa", "caller": "bcftools"}
T0 = 1_795_000_000_000  # epoch ms, 2026-11-18
HOUR = 3_600_000


def test_the_shipped_price_table_loads_with_its_dates_and_a_bad_row_names_its_line():
    from seqflow.aws.costs import load_prices

    table = load_prices()
    m5 = table.get("us-east-1", "m5.large")
    assert (m5.vcpus, m5.memory_gib, m5.usd_per_hour) == (2, 8, 0.096) and m5.as_of
    assert table.get("us-east-1", "no.such") is None and table.get("us-east-1", None) is None
    with pytest.raises(ValueError, match="line 3"):
        load_prices("# c\nregion,instance_type,vcpus,memory_gib,usd_per_hour,as_of,source\nr,t,two,1,1,d,s\n")


@pytest.fixture
def batch_env(moto):
    return moto_batch_queue(("sf",), image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/seqflow/x:1", vcpus=2,
                            memory=4096)


def _submit(batch, request: dict) -> str:
    """SubmitJob as the Batch operator sends it (name, overrides with the results prefix, cost tags)."""
    return batch.submit_job(jobName=request["job_name"], jobQueue="queue", jobDefinition="sf",
                            containerOverrides=request["container_overrides"], tags=request["tags"])["jobId"]


def test_the_jobs_of_the_analysis_are_found_by_name_and_results_prefix_in_moto(batch_env, calls):
    from seqflow.aws.batch import BATCH_STEPS, sample_requests
    from seqflow.aws.costs import batch_step_costs, load_prices

    job = {**IDENTITY, "sample_id": "S1", "r1": [f"s3://raw/runs/{RUN}/S1_R1_001.fastq.gz"],
           "r2": [f"s3://raw/runs/{RUN}/S1_R2_001.fastq.gz"], "reference_fasta": "s3://raw/references/lambda/lambda.fa",
           "ploidy_file": "s3://raw/references/lambda/lambda.ploidy"}
    requests = sample_requests(job, settings())
    ids = {step: _submit(batch_env, requests[step]) for step in ("fastp", "align")}
    # the same run and sample analysed against another reference: same job names, another results prefix
    other = sample_requests({**job, "reference": "lambda2"}, settings())
    other_id = _submit(batch_env, other["fastp"])
    calls.clear()
    ecs = boto3.client("ecs", region_name=REGION)
    rows = batch_step_costs({**IDENTITY, "engine": "batch", "jobs": [job], "projects": {"S1": "Phage"}}, settings(),
                            batch_client=batch_env, ecs_client=ecs, prices=load_prices(PRICES))
    assert [(r["step"], r["job_id"], r["project"], r["engine"], r["status"]) for r in rows] == [
        ("fastp", ids["fastp"], "Phage", "batch", "succeeded"), ("align", ids["align"], "Phage", "batch", "succeeded")]
    listed = of(calls, "batch", "ListJobs")
    # one listing per step of the run, by name prefix, whatever the number of samples
    assert [c["filters"] for c in listed] == [[{"name": "JOB_NAME", "values": [f"seqflow_{step}_{RUN}_*"]}]
                                              for step in BATCH_STEPS]
    assert all(c["jobQueue"] == "queue" for c in listed)
    # the other analysis's fastp job is described, and left out by its results prefix
    assert [sorted(c["jobs"]) for c in of(calls, "batch", "DescribeJobs")] == [sorted([ids["fastp"], other_id]),
                                                                              [ids["align"]]]
    # moto's jobs run on no container instance (its ARN is "TBD", its task ARN no ECS task): nothing to
    # look up in ECS, and no instance type to price
    assert of(calls, "ecs", "DescribeContainerInstances") == []
    assert all(r["cost_usd"] is None and r["instance_type"] is None for r in rows)


def _described(job_id: str, *, step="align", status="SUCCEEDED", attempts=(), vcpus="2", memory="4096",
               fargate=False) -> dict:
    """A DescribeJobs job (botocore's JobDetail) with its attempts [(start ms, stop ms, instance)]."""
    job = {"jobArn": f"arn:aws:batch:{REGION}:123456789012:job/{job_id}", "jobName": f"seqflow_{step}_{RUN}_S1",
           "jobId": job_id, "jobQueue": "queue", "status": status, "createdAt": attempts[0][0] - 5000,
           "startedAt": attempts[-1][0], "stoppedAt": attempts[-1][1], "jobDefinition": "sf",
           "tags": {"project": "tagged"},
           "container": {"resourceRequirements": [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": memory}],
                         "environment": [{"name": "SEQFLOW_OUTPUT_URI",
                                          "value": settings().results_uri(_identity(), "S1").rstrip("/") + "/"}]},
           "attempts": [{"container": {"containerInstanceArn": f"arn:aws:ecs:{REGION}:123456789012:container-instance/c/{i}",
                                       "taskArn": f"arn:aws:ecs:{REGION}:123456789012:task/seqflow-cluster/t{i}",
                                       "exitCode": 0},
                         "startedAt": start, "stoppedAt": stop} for start, stop, i in attempts]}
    if fargate:
        job["platformCapabilities"] = ["FARGATE"]
        for a in job["attempts"]:
            a["container"].pop("containerInstanceArn")
    return job


def _identity():
    from seqflow.identity import AnalysisIdentity

    return AnalysisIdentity.from_dict(IDENTITY)


def test_attempts_are_priced_at_the_jobs_share_of_the_instance_type(aws_env):
    from seqflow.aws.batch import BATCH_STEPS
    from seqflow.aws.costs import batch_step_costs, load_prices

    batch = boto3.client("batch", region_name=REGION)
    ecs = boto3.client("ecs", region_name=REGION)
    # align: a Spot reclaim after 30 min, then 60 min on another instance; 2 of its 4 vCPUs, 4 of its 16 GiB
    align = _described("j-align", attempts=((T0, T0 + HOUR // 2, "a"), (T0 + HOUR, T0 + 2 * HOUR, "b")))
    # bam_qc on Fargate: 1 vCPU, 2 GiB, one hour
    bam_qc = _described("j-qc", step="bam_qc", vcpus="1", memory="2048", fargate=True,
                        attempts=((T0 + 3 * HOUR, T0 + 4 * HOUR, "f"),))
    with Stubber(batch) as b, Stubber(ecs) as e:
        for step in BATCH_STEPS:
            name = f"seqflow_{step}_{RUN}_S1"
            found = {"align": align, "bam_qc": bam_qc}.get(step)
            b.add_response("list_jobs", {"jobSummaryList": [{"jobId": found["jobId"], "jobName": name}] if found else []},
                           {"jobQueue": "queue", "filters": [{"name": "JOB_NAME", "values": [f"seqflow_{step}_{RUN}_*"]}]})
            if found:
                b.add_response("describe_jobs", {"jobs": [found]}, {"jobs": [found["jobId"]]})
        arns = [f"arn:aws:ecs:{REGION}:123456789012:container-instance/c/{i}" for i in ("a", "b")]
        e.add_response("describe_container_instances", {"containerInstances": [
            {"containerInstanceArn": arn, "attributes": [{"name": "ecs.instance-type", "value": "m5.xlarge"}]}
            for arn in arns]}, {"cluster": "seqflow-cluster", "containerInstances": arns})
        rows = batch_step_costs({**IDENTITY, "engine": "batch", "jobs": [{"sample_id": "S1"}], "projects": {}},
                                settings(), batch_client=batch, ecs_client=ecs, prices=load_prices(PRICES))
        b.assert_no_pending_responses()
        e.assert_no_pending_responses()
    by_step = {r["step"]: r for r in rows}
    a = by_step["align"]
    # 1.5 h x $0.192 x max(2/4 vCPU, 4/16 GiB) = 0.144
    assert a["cost_usd"] == pytest.approx(0.144) and a["attempts"] == 2 and a["instance_type"] == "m5.xlarge"
    assert (a["wall_seconds"], a["cpu_seconds"], a["vcpus"], a["memory_mib"]) == (5400, 10800, 2, 4096)
    assert a["project"] == "tagged"  # no Sample_Project in the plan: the job's cost tag
    assert a["started_at"] == datetime.fromtimestamp(T0 / 1000, tz=timezone.utc).isoformat(timespec="seconds")
    assert a["month"] == "2026-11" and "m5.xlarge $0.192/h as of 2026-11-01" in a["price_source"]
    q = by_step["bam_qc"]
    # 1 h x (1 vCPU x $0.04 + 2 GB x $0.005)
    assert q["cost_usd"] == pytest.approx(0.05) and q["instance_type"] == "fargate"


def test_an_instance_type_missing_from_the_price_table_leaves_the_cost_null_and_says_why():
    from seqflow.aws.costs import batch_step_row, load_prices

    job = _described("j", attempts=((T0, T0 + HOUR, "x"),))
    arn = job["attempts"][0]["container"]["containerInstanceArn"]
    row = batch_step_row([job], step="align", sample_id="S1", project="P", prices=load_prices(PRICES),
                         region=REGION, instance_types={arn: "x9.huge"})
    assert row["cost_usd"] is None and row["wall_seconds"] == 3600
    assert row["price_source"] == f"no price for {REGION} x9.huge in the price table"


def _task(task_id, name, start_h, hours, *, itype="omics.c.large", status="COMPLETED", cache_hit=False):
    start = datetime(2026, 11, 18, 6, tzinfo=timezone.utc) + timedelta(hours=start_h)
    return {"taskId": task_id, "status": status, "name": name, "cpus": 2, "memory": 4, "cacheHit": cache_hit,
            "creationTime": start, "startTime": start, "stopTime": start + timedelta(hours=hours),
            "instanceType": itype}


def test_a_healthomics_run_is_priced_from_its_tasks(aws_env):
    from seqflow.aws.costs import load_prices, omics_step_costs
    from seqflow.aws.omics import OmicsHook

    hook = OmicsHook(aws_conn_id=None, region_name=REGION)
    client = hook.conn
    vcf = f"s3://results/omics/{RUN}/1.0.0/lambda/bwa-bcftools/S1/4001/out/vcf/S1.vcf.gz"
    with Stubber(client) as stub:
        stub.add_response("get_run", {"id": "4001", "status": "COMPLETED", "tags": {"project": "tagged"}},
                          {"id": "4001"})
        stub.add_response("list_run_tasks", {"items": [_task("1", "fastp", 0, 0.5), _task("2", "align_bwa", 0.5, 2)],
                                             "nextToken": "more"}, {"id": "4001"})
        stub.add_response("list_run_tasks", {"items": [_task("3", "call_variants_bcftools", 2.5, 1),
                                                       _task("4", "bam_qc", 2.5, 0.25, itype="omics.x.unknown"),
                                                       _task("5", "vcf_stats", 3.5, 0.1, cache_hit=True)]},
                          {"id": "4001", "startingToken": "more"})
        rows = omics_step_costs({**IDENTITY, "engine": "omics", "projects": {"S1": "Phage"}},
                                [{"sample_id": "S1", "vcf": vcf}], omics_hook=hook, prices=load_prices(PRICES))
        stub.assert_no_pending_responses()
    by_step = {r["step"]: r for r in rows}
    assert list(by_step) == ["fastp", "align", "call_variants", "bam_qc", "vcf_stats"]
    assert all(r["engine"] == "omics" and r["job_id"] == "4001" and r["project"] == "Phage" for r in rows)
    assert by_step["align"]["cost_usd"] == pytest.approx(0.24)  # 2 h x $0.12
    assert by_step["align"]["cpu_seconds"] == 2 * 7200 and by_step["align"]["memory_mib"] == 4096
    assert by_step["bam_qc"]["cost_usd"] is None and "omics.x.unknown" in by_step["bam_qc"]["price_source"]
    assert by_step["vcf_stats"]["cost_usd"] == pytest.approx(0.1 * 0.12)  # the cached task: its short task priced
    assert by_step["fastp"]["started_at"] == "2026-11-18T06:00:00+00:00"


ROWS = [{"sample_id": "S1", "project": "Phage", "step": "align", "engine": "batch", "cpu_seconds": 10800.0,
         "wall_seconds": 5400.0, "cost_usd": 0.144, "started_at": "2026-11-18T06:00:00+00:00", "month": "2026-11"}]


def _results_bucket():
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="results", CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3


def test_the_rows_are_written_beside_the_results_and_committed_to_the_lake(moto, tmp_path):
    # the local SQL catalog stands in for Glue's (the same commit code); it needs SQLAlchemy 2, which
    # MWAA 3.0.6's pins lack
    pytest.importorskip("pyiceberg.catalog.sql", reason="pyiceberg's SQL catalog needs SQLAlchemy 2")
    from seqflow.aws.backend import AwsBackend
    from seqflow.catalog import run_query
    from seqflow.lake import Lake

    s3 = _results_bucket()
    rows = ROWS
    lake = Lake.local(tmp_path / "lake")
    out = AwsBackend(settings=settings()).publish_step_costs(_identity(), rows, lake=lake)
    key = settings().results_uri(_identity())[len("s3://results/"):] + "step_costs.json"
    assert out["rows_uri"] == f"s3://results/{key}" and out["snapshot_id"]
    assert json.loads(s3.get_object(Bucket="results", Key=key)["Body"].read()) == rows
    columns, result = run_query(lake, "cost_by_project_month")
    assert dict(zip(columns, result[0]))["cost_usd"] == 0.144


def test_a_worker_without_pyiceberg_keeps_the_rows_beside_the_results_and_says_so(moto, monkeypatch):
    import sys

    from seqflow.aws.backend import AwsBackend

    s3 = _results_bucket()
    monkeypatch.setitem(sys.modules, "pyiceberg.catalog.glue", None)  # MWAA's workers: no pyiceberg
    out = AwsBackend(settings=settings()).publish_step_costs(_identity(), ROWS)
    assert "no pyiceberg" in out["lake"] and "snapshot_id" not in out
    key = out["rows_uri"][len("s3://results/"):]
    assert json.loads(s3.get_object(Bucket="results", Key=key)["Body"].read()) == ROWS


def test_a_refused_lake_commit_keeps_the_rows_beside_the_results_and_says_why(moto):
    from seqflow.aws.backend import AwsBackend

    class RefusingLake:
        location = "s3://lake/lake/iceberg"

        def ensure(self, table):
            raise PermissionError("AccessDeniedException: glue:UpdateTable")

    _results_bucket()
    out = AwsBackend(settings=settings()).publish_step_costs(_identity(), ROWS, lake=RefusingLake())
    assert out["lake"].startswith("not committed: PermissionError: AccessDeniedException") and out["rows_uri"]
