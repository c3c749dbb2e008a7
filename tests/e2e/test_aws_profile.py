"""End to end on the ``aws`` profile against moto.

A moto server (ThreadedMotoServer, localhost) stands in for AWS; every client
reaches it through ``AWS_ENDPOINT_URL``. A fixture creates the resources the
way Terraform does (buckets, DataSync task, Batch queue and job definitions,
Glue database/table/job, Athena workgroup, DynamoDB registry, SNS topic) and
writes the configuration (SSM parameters, and the same values as Airflow
Variables), then the two DAG files, loaded with ``SEQFLOW_PROFILE=aws``, run
with ``dag.test``: the daily ingest for a demo run in the landing location,
then the analysis with the conf the ingest produced, on Batch and on
HealthOmics (moto has no HealthOmics: botocore's Stubber answers).

moto's DataSync does not copy; the call recorder below plays DataSync's part
when ``StartTaskExecution`` is called, copying exactly the landing objects the
include filter selects.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import socket
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("aws-e2e")]

REGION = "eu-west-1"
ACCOUNT = "123456789012"
RUN_DATE = dt.date(2026, 11, 20)
PREFIX = "seqflow-e2e"
DAGS = Path(__file__).resolve().parents[2] / "dags"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CallRecorder:
    """Every botocore API call made in this process: (service, operation, params)."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []
        self.on_call = {}

    def of(self, service: str, operation: str) -> list[dict]:
        return [p for s, o, p in self.calls if s == service and o == operation]


@pytest.fixture(scope="module")
def env():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def moto_server(env):
    import requests
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    for key, value in {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_MAX_ATTEMPTS": "1",
        "MOTO_ACCOUNT_ID": ACCOUNT,
    }.items():
        env.setenv(key, value)
    env.delenv("AWS_PROFILE", raising=False)
    # Batch jobs "run" without Docker and succeed at once (MOTO_SIMPLE_BATCH_FAIL_AFTER makes them fail)
    requests.post(f"{url}/moto-api/config", json={"batch": {"use_docker": False}}, timeout=10).raise_for_status()
    yield url
    server.stop()


@pytest.fixture(scope="module")
def recorder(moto_server, env):
    """Record every AWS call; play DataSync's copy on StartTaskExecution."""
    import botocore.client

    rec = CallRecorder()
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        service = self.meta.service_model.service_name
        rec.calls.append((service, operation_name, dict(api_params)))
        response = original(self, operation_name, api_params)
        hook = rec.on_call.get((service, operation_name))
        if hook:
            hook(api_params)
        return response

    env.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return rec


def _client(service):
    import boto3

    return boto3.client(service, region_name=REGION)


def _demo_run_objects(run_name: str) -> dict[str, bytes]:
    """A small demo run folder: RunInfo, a v2 sample sheet, FASTQs of two samples, a zero-byte flag."""
    from seqflow.demo.runfolder import FASTQ_SUBDIR, demo_samples, run_info_xml, sample_sheet_csv

    samples = demo_samples("S", 2)
    objects = {
        "RunInfo.xml": run_info_xml(run_name, 42, run_name.split("_")[-1], run_name.split("_")[1], RUN_DATE).encode(),
        "SampleSheet.csv": sample_sheet_csv(run_name, samples, "seqflow e2e").encode(),
    }
    for sample in samples:
        for read in (1, 2):
            record = f"@{sample.sample_id}:1/{read}\nACGT\n+\nIIII\n".encode()
            objects[f"{FASTQ_SUBDIR.as_posix()}/{sample.fastq_name(read)}"] = gzip.compress(record)
    objects["CopyComplete.txt"] = b""  # zero-byte flag, as the instrument writes it
    return objects


@pytest.fixture(scope="module")
def aws(moto_server, recorder, env, tmp_path_factory):
    """The deployment's resources, as Terraform creates them, and its configuration."""
    from seqflow.aws.config_keys import AWS_CONFIG_KEYS, ssm_parameter_name, variable_name
    from seqflow.demo.runfolder import default_flowcell, run_folder_name
    from seqflow.transfer import parse_include_filter, _compile_patterns

    s3 = _client("s3")
    buckets = {k: f"{PREFIX}-{k}" for k in ("landing", "raw", "results", "lake", "athena", "scratch")}
    for bucket in buckets.values():
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})

    iam = _client("iam")
    role = iam.create_role(RoleName=f"{PREFIX}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    datasync = _client("datasync")
    source = datasync.create_location_s3(S3BucketArn=f"arn:aws:s3:::{buckets['landing']}",
                                         S3Config={"BucketAccessRoleArn": role})["LocationArn"]
    dest = datasync.create_location_s3(S3BucketArn=f"arn:aws:s3:::{buckets['raw']}", Subdirectory="/runs/",
                                       S3Config={"BucketAccessRoleArn": role})["LocationArn"]
    task_arn = datasync.create_task(SourceLocationArn=source, DestinationLocationArn=dest,
                                    Name=f"{PREFIX}-runs")["TaskArn"]

    def datasync_copies(params):
        """What DataSync does: copy the landing objects the include filter selects to runs/ in raw."""
        value = params["Includes"][0]["Value"]
        pattern = _compile_patterns(parse_include_filter(value))
        for obj in s3.list_objects_v2(Bucket=buckets["landing"]).get("Contents", []):
            if pattern.fullmatch(obj["Key"].split("/", 1)[0]):
                s3.copy_object(Bucket=buckets["raw"], Key=f"runs/{obj['Key']}",
                               CopySource={"Bucket": buckets["landing"], "Key": obj["Key"]})

    recorder.on_call[("datasync", "StartTaskExecution")] = datasync_copies

    batch = _client("batch")
    ce = batch.create_compute_environment(computeEnvironmentName=f"{PREFIX}-spot", type="UNMANAGED",
                                          state="ENABLED", serviceRole=role)["computeEnvironmentArn"]
    queue = batch.create_job_queue(jobQueueName=f"{PREFIX}-queue", state="ENABLED", priority=1,
                                   computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueName"]
    images = {"fastp": "fastp", "align": "bwa", "align-minimap2": "minimap2", "call": "bcftools",
              "stats": "bcftools"}
    commands = {
        "fastp": ["fastp_qc.sh", "Ref::sample_id", "Ref::r1", "Ref::r2", "outputs", "Ref::threads"],
        "align": ["align.sh", "Ref::sample_id", "Ref::reference", "Ref::r1", "Ref::r2", "outputs", "Ref::threads"],
        "align-minimap2": ["align.sh", "Ref::sample_id", "Ref::reference", "Ref::r1", "Ref::r2", "outputs",
                           "Ref::threads"],
        "call": ["call_variants.sh", "Ref::sample_id", "Ref::reference", "Ref::bam", "outputs", "Ref::ploidy",
                 "Ref::threads"],
        "stats": ["bam_qc.sh", "Ref::sample_id", "Ref::bam", "outputs", "Ref::threads"],
    }
    for name, image in images.items():
        batch.register_job_definition(
            jobDefinitionName=f"{PREFIX}-{name}", type="container", parameters={"threads": "2"},
            containerProperties={"image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/seqflow/{image}:1",
                                 "command": commands[name], "vcpus": 2, "memory": 2048},
        )

    glue = _client("glue")
    glue.create_database(DatabaseInput={"Name": "seqflow_lake"})
    from seqflow.catalog.athena import PARQUET_STORAGE, table_def

    tdef = table_def("variants")
    glue.create_table(DatabaseName="seqflow_lake", TableInput={
        "Name": "variants", "TableType": "EXTERNAL_TABLE",
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in tdef.partition_keys],
        "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in tdef.columns],
                              "Location": f"s3://{buckets['lake']}/lake/variants/", **PARQUET_STORAGE},
    })
    glue.create_job(Name=f"{PREFIX}-vcf-to-parquet", Role=role,
                    Command={"Name": "glueetl", "ScriptLocation": f"s3://{buckets['scratch']}/vcf_to_parquet_job.py",
                             "PythonVersion": "3"}, GlueVersion="5.0", ExecutionProperty={"MaxConcurrentRuns": 10})
    _client("athena").create_work_group(Name=f"{PREFIX}-wg", Configuration={
        "ResultConfiguration": {"OutputLocation": f"s3://{buckets['athena']}/"}})
    _client("dynamodb").create_table(
        TableName=f"{PREFIX}-run-registry", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"},
                   {"AttributeName": "pipeline_version", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"},
                              {"AttributeName": "pipeline_version", "AttributeType": "S"}],
    )
    sns, sqs = _client("sns"), _client("sqs")
    topic = sns.create_topic(Name=f"{PREFIX}-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{PREFIX}-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})

    # the reference, uploaded once per deployment
    for suffix in ("", ".fai", ".amb", ".ann", ".bwt", ".pac", ".sa"):
        s3.put_object(Bucket=buckets["raw"], Key=f"references/lambda/lambda.fa{suffix}", Body=b">x\nACGT\n")

    config = {
        "region": REGION, "project": "seqflow-e2e", "raw_bucket": buckets["raw"], "raw_prefix": "runs/",
        "results_bucket": buckets["results"], "lake_bucket": buckets["lake"],
        "athena_results_bucket": buckets["athena"], "scratch_bucket": buckets["scratch"],
        "datasync_task_arn": task_arn, "batch_job_queue": queue, "batch_priority_job_queue": queue,
        "batch_job_definition_fastp": f"{PREFIX}-fastp", "batch_job_definition_align": f"{PREFIX}-align",
        "batch_job_definition_align_minimap2": f"{PREFIX}-align-minimap2",
        "batch_job_definition_call": f"{PREFIX}-call", "batch_job_definition_stats": f"{PREFIX}-stats",
        "omics_workflow_id": "1234567", "omics_role_arn": role, "omics_run_group_id": "7654321",
        "omics_output_uri": f"s3://{buckets['results']}/omics", "glue_job_name": f"{PREFIX}-vcf-to-parquet",
        "glue_database": "seqflow_lake", "athena_workgroup": f"{PREFIX}-wg",
        "registry_table": f"{PREFIX}-run-registry", "alerts_topic_arn": topic, "default_engine": "batch",
        "restore_tier": "Bulk",
    }
    assert set(config) == set(AWS_CONFIG_KEYS)
    ssm = _client("ssm")
    for key, value in config.items():
        # what Terraform writes; Airflow reads it through the SSM secrets backend, which
        # here is stood in for by the same values as Variables from the environment
        ssm.put_parameter(Name=ssm_parameter_name(key), Value=value, Type="String")
        env.setenv(f"AIRFLOW_VAR_{variable_name(key).upper()}", value)

    run_name = run_folder_name(RUN_DATE, "A01234", 42, default_flowcell(RUN_DATE, "A01234", 42))
    for key, body in _demo_run_objects(run_name).items():
        s3.put_object(Bucket=buckets["landing"], Key=f"{run_name}/{key}", Body=body)
    # a run of another date on the share: the include filter must leave it behind
    other = run_folder_name(RUN_DATE - dt.timedelta(days=1), "A01234", 41,
                            default_flowcell(RUN_DATE - dt.timedelta(days=1), "A01234", 41))
    s3.put_object(Bucket=buckets["landing"], Key=f"{other}/CopyComplete.txt", Body=b"")
    from seqflow.demo.runfolder import demo_samples

    samples = [s.sample_id for s in demo_samples("S", 2)]
    return {"config": config, "buckets": buckets, "run": run_name, "other_run": other, "queue_url": queue_url,
            "samples": samples}


def _reconfigure_orm() -> None:
    from airflow import settings

    settings.dispose_orm(do_log=False)
    settings.configure_vars()
    settings.configure_orm()


@pytest.fixture(scope="module")
def airflow_db(env, tmp_path_factory):
    """A metadata DB of this module's own (xdist workers share AIRFLOW_HOME) and the datasync pool."""
    home = tmp_path_factory.mktemp("airflow-aws")
    env.setenv("SEQFLOW_PROFILE", "aws")
    env.setenv("SEQFLOW_AWS_POLL_S", "1")
    env.setenv("SEQFLOW_HOME", str(home / "seqflow"))
    # dag.test serialises the DAGs of the dags-folder bundle: make that the repository's dags/
    env.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS))
    env.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
    _reconfigure_orm()
    from airflow.models.pool import Pool
    from airflow.utils.db import resetdb

    resetdb(skip_init=False)
    Pool.create_or_update_pool("datasync", slots=1, description="one DataSync execution at a time",
                               include_deferred=False)
    yield home
    env.delenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    env.delenv("AIRFLOW__CORE__DAGS_FOLDER")
    _reconfigure_orm()


def _load(dag_id: str):
    """The DAG file loaded fresh (it reads SEQFLOW_PROFILE at import)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py"))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def _states(dag_run) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ti in dag_run.get_task_instances():
        out.setdefault(ti.task_id, []).append(ti.state)
    return out


def _registry(aws):
    from seqflow.aws.registry import DynamoDbRunRegistry

    return DynamoDbRunRegistry(aws["config"]["registry_table"])


@pytest.fixture(scope="module")
def ingest(aws, airflow_db, recorder):
    dag = _load("seqflow_daily_ingest")
    # the analysis runs below with dag.test on the conf this run hands over
    dag.task_dict["trigger_analysis"].trigger_dag_id = "seqflow_analysis"
    start = len(recorder.calls)
    run = dag.test(logical_date=dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc),
                   mark_success_pattern="trigger_analysis")
    return {"run": run, "calls": recorder.calls[start:]}


def test_ingest_runs_one_datasync_execution_with_the_date_filter(ingest, aws, recorder):
    starts = [p for s, o, p in ingest["calls"] if (s, o) == ("datasync", "StartTaskExecution")]
    assert starts == [{
        "TaskArn": aws["config"]["datasync_task_arn"],
        "Includes": [{"FilterType": "SIMPLE_PATTERN", "Value": "/261120_*|/20261120_*"}],
    }]
    states = _states(ingest["run"])
    assert states["transfer_runs"] == ["success"]
    assert states["wait_for_completion_flag"] == ["success"]
    assert states["record_ingested"] == ["success"]


def test_ingest_records_the_run_and_hands_over_its_conf(ingest, aws):
    record = _registry(aws).get(aws["run"], "-")
    assert record.status == "ingested"
    assert record.details["raw_uri"] == f"s3://{aws['buckets']['raw']}/runs/{aws['run']}/"
    assert _registry(aws).get(aws["other_run"], "-") is None  # other dates are not copied
    ti = next(t for t in ingest["run"].get_task_instances() if t.task_id == "record_ingested")
    handed = ti.xcom_pull(task_ids="record_ingested", map_indexes=0)
    assert handed == {
        "trigger_run_id": f"ingest__{aws['run']}__1.0.0__{ingest['run'].run_id}",
        "conf": {"run_id": aws["run"], "reference": "lambda", "aligner": "bwa", "pipeline_version": "1.0.0",
                 "force": False},
    }


@pytest.fixture(scope="module")
def batch_analysis(ingest, aws, recorder):
    conf = {"run_id": aws["run"], "reference": "lambda", "aligner": "bwa", "pipeline_version": "1.0.0"}
    dag = _load("seqflow_analysis")
    start = len(recorder.calls)
    run = dag.test(run_conf=conf, logical_date=dt.datetime(2026, 11, 20, 1, tzinfo=dt.timezone.utc))
    return {"run": run, "calls": recorder.calls[start:]}


def test_batch_engine_submits_one_job_per_sample_and_step_with_cost_tags(batch_analysis, aws):
    assert batch_analysis["run"].state == "success", _states(batch_analysis["run"])
    submits = [p for s, o, p in batch_analysis["calls"] if (s, o) == ("batch", "SubmitJob")]
    steps = ("fastp", "align", "call_variants", "bam_qc", "vcf_stats")
    assert sorted(p["jobName"] for p in submits) == sorted(
        f"seqflow_{step}_{aws['run']}_{sample}" for step in steps for sample in aws["samples"])
    results = aws["buckets"]["results"]
    for submit in submits:
        sample = submit["jobName"].rsplit("_", 1)[1]
        assert sample in aws["samples"]
        assert submit["tags"] == {"run_id": aws["run"], "sample_id": sample, "project": "seqflow-e2e",
                                  "pipeline_version": "1.0.0"}
        assert submit["jobQueue"] == aws["config"]["batch_job_queue"]
        env = {e["name"]: e["value"] for e in submit["containerOverrides"]["environment"]}
        assert env["SEQFLOW_OUTPUT_URI"] == f"s3://{results}/results/{aws['run']}/1.0.0/{sample}/"
        assert all(uri.startswith("s3://") for uri in env["SEQFLOW_INPUTS"].split())
    first = aws["samples"][0]
    fastp = next(p for p in submits if p["jobName"] == f"seqflow_fastp_{aws['run']}_{first}")
    assert fastp["jobDefinition"] == f"{PREFIX}-fastp"
    assert fastp["parameters"] == {"sample_id": first, "r1": f"inputs/{first}_S1_L001_R1_001.fastq.gz",
                                   "r2": f"inputs/{first}_S1_L001_R2_001.fastq.gz"}
    env = {e["name"]: e["value"] for e in fastp["containerOverrides"]["environment"]}
    raw = f"s3://{aws['buckets']['raw']}/runs/{aws['run']}/Analysis/1/Data/fastq"
    assert env["SEQFLOW_INPUTS"] == f"{raw}/{first}_S1_L001_R1_001.fastq.gz {raw}/{first}_S1_L001_R2_001.fastq.gz"
    align = next(p for p in submits if p["jobName"] == f"seqflow_align_{aws['run']}_{first}")
    assert align["jobDefinition"] == f"{PREFIX}-align"
    assert align["parameters"]["reference"] == "inputs/lambda/lambda.fa"
    vcf_stats = next(p for p in submits if p["jobName"].startswith("seqflow_vcf_stats_"))
    assert vcf_stats["jobDefinition"] == f"{PREFIX}-stats"
    assert vcf_stats["containerOverrides"]["command"] == [
        "vcf_stats.sh", "Ref::sample_id", "Ref::reference", "Ref::vcf", "outputs"]


def test_glue_job_per_vcf_partitions_and_registry(batch_analysis, aws):
    runs = [p for s, o, p in batch_analysis["calls"] if (s, o) == ("glue", "StartJobRun")]
    assert [r["JobName"] for r in runs] == [f"{PREFIX}-vcf-to-parquet"] * 2
    results = aws["buckets"]["results"]
    # the mapped Glue tasks run in any order
    runs = sorted(runs, key=lambda r: r["Arguments"]["--sample_id"])
    for run, sample in zip(runs, sorted(aws["samples"])):
        args = {k: v for k, v in run["Arguments"].items() if not k.startswith("--airflow")}
        assert args == {
            "--vcf_uri": f"s3://{results}/results/{aws['run']}/1.0.0/{sample}/{sample}.vcf.gz",
            "--lake_uri": f"s3://{aws['buckets']['lake']}/lake", "--run_id": aws["run"], "--pipeline_version": "1.0.0",
            "--reference": "lambda", "--caller": "bcftools", "--sample_id": sample, "--table": "variants",
            "--database": "seqflow_lake",
        }
    partitions = _client("glue").get_partitions(DatabaseName="seqflow_lake", TableName="variants")["Partitions"]
    assert sorted(p["Values"] for p in partitions) == [[aws["run"], "1.0.0", s] for s in aws["samples"]]
    athena = [p for s, o, p in batch_analysis["calls"] if (s, o) == ("athena", "StartQueryExecution")]
    assert len(athena) == 1 and f"q.run_id = '{aws['run']}'" in athena[0]["QueryString"]
    assert athena[0]["WorkGroup"] == f"{PREFIX}-wg"
    record = _registry(aws).get(aws["run"], "1.0.0")
    assert record.status == "analysed"
    assert record.details["engine"] == "batch"
    last = aws["samples"][1]
    assert record.details["vcfs"][last] == f"s3://{results}/results/{aws['run']}/1.0.0/{last}/{last}.vcf.gz"


def test_failed_batch_job_publishes_an_sns_alert(batch_analysis, aws, env):
    conf = {"run_id": aws["run"], "reference": "lambda", "pipeline_version": "1.0.1", "samples": aws["samples"][:1]}
    dag = _load("seqflow_analysis")
    for task in dag.tasks:
        task.retries = 0
    env.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")
    try:
        run = dag.test(run_conf=conf, logical_date=dt.datetime(2026, 11, 20, 2, tzinfo=dt.timezone.utc))
    finally:
        env.delenv("MOTO_SIMPLE_BATCH_FAIL_AFTER")
    assert run.state == "failed"
    assert _states(run)["batch.fastp"] == ["failed"]
    messages = _client("sqs").receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10)["Messages"]
    alerts = [json.loads(m["Body"]) for m in messages]
    fastp = [a for a in alerts if a["task_id"] == "batch.fastp"]
    assert len(fastp) == 1
    assert fastp[0]["run_id"] == aws["run"]
    assert fastp[0]["sample_id"] == aws["samples"][0]
    assert fastp[0]["dag_id"] == "seqflow_analysis"
    assert "log_url" in fastp[0] and fastp[0]["error"]


def test_omics_engine_starts_one_healthomics_run_per_sample(batch_analysis, aws, env):
    import boto3
    from botocore.stub import ANY, Stubber

    from seqflow.aws.omics.hooks import OmicsHook

    client = boto3.client("omics", region_name=REGION)
    stubber = Stubber(client)
    results = aws["buckets"]["results"]
    for n, sample in enumerate(aws["samples"], start=1):
        run_id = f"10000{n}"
        stubber.add_response("start_run", {"id": run_id, "arn": f"arn:aws:omics:{REGION}:{ACCOUNT}:run/{run_id}",
                                           "status": "PENDING"}, {
            "requestId": ANY, "roleArn": aws["config"]["omics_role_arn"],
            "outputUri": f"s3://{results}/omics/{aws['run']}/2.0.0/{sample}/",
            "workflowId": "1234567", "workflowType": "PRIVATE", "name": f"{aws['run']}_{sample}_2.0.0",
            "parameters": ANY, "runGroupId": "7654321", "storageType": "DYNAMIC", "logLevel": "ALL",
            "tags": {"run_id": aws["run"], "sample_id": sample, "project": "seqflow-e2e",
                     "pipeline_version": "2.0.0"},
        })
        stubber.add_response("get_run", {"id": run_id, "status": "RUNNING"}, {"id": run_id})
        stubber.add_response("get_run", {"id": run_id, "status": "COMPLETED"}, {"id": run_id})
    stubber.activate()
    env.setattr(OmicsHook, "conn", property(lambda self: client))
    conf = {"run_id": aws["run"], "reference": "lambda", "pipeline_version": "2.0.0", "engine": "omics"}
    dag = _load("seqflow_analysis")
    run = dag.test(run_conf=conf, logical_date=dt.datetime(2026, 11, 20, 3, tzinfo=dt.timezone.utc))
    assert run.state == "success", _states(run)
    stubber.assert_no_pending_responses()
    states = _states(run)
    assert set(states["batch.fastp"]) == {"skipped"}
    record = _registry(aws).get(aws["run"], "2.0.0")
    assert record.status == "analysed" and record.details["engine"] == "omics"
    first = aws["samples"][0]
    assert record.details["vcfs"][first] == (
        f"s3://{results}/omics/{aws['run']}/2.0.0/{first}/100001/out/vcf/{first}.vcf.gz")
