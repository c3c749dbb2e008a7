"""End to end on the ``aws`` profile against moto.

A moto server (ThreadedMotoServer, localhost) stands in for AWS; every client
reaches it through ``AWS_ENDPOINT_URL``. A fixture creates the resources the
way Terraform does (buckets, DataSync task, Batch queue and job definitions,
Glue database/table/job, Athena workgroup, DynamoDB registry keyed by
``run_id``/``analysis``, SNS topic), registers the reference genome with the
real ``S3ReferenceCatalog`` (``seqflow reference add``) and writes the
configuration (SSM parameters, and the same values as Airflow Variables); then
the two DAG files, loaded with ``SEQFLOW_PROFILE=aws``, run with ``dag.test``:
the daily ingest for a demo run in the landing location, then the analysis with
the conf the ingest handed over, on Batch and on HealthOmics (moto has no
HealthOmics: botocore's Stubber answers).

moto runs nothing, so the call recorder plays the services' part where the
pipeline reads what they wrote: DataSync's copy on ``StartTaskExecution``
(exactly the landing objects the include filter selects), the Batch steps' QC
files in the sample's results prefix on ``SubmitJob``, the index job's objects
beside the reference, and the QC query's rows in moto's Athena result queue.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import socket
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("aws-e2e")]

REGION = "eu-west-1"
ACCOUNT = "123456789012"
RUN_DATE = dt.date(2026, 11, 20)
PREFIX = "seqflow-e2e"
DAGS = Path(__file__).resolve().parents[2] / "dags"
#: the analysis key and the results prefix of the analyses below (the reference is the deployment's default)
KEY = "1.0.0/lambda/bwa/bcftools"
IDENTITY_PATH = "1.0.0/lambda/bwa-bcftools"

#: the QC files each sample's steps write (seqflow.analysis.qc.QC_FILES), with the metrics they give
QC_FILES = {
    "fastp.json": json.dumps({"summary": {"before_filtering": {"total_reads": 2000},
                                          "after_filtering": {"total_reads": 1980}}}),
    "flagstat.json": json.dumps({"QC-passed reads": {"mapped %": 97.5}}),
    "markdup.txt": "EXAMINED: 1000\nDUPLICATE TOTAL: 40\n",
    "coverage.tsv": ("#rname\tstartpos\tendpos\tnumreads\tcovbases\tcoverage\tmeandepth\tmeanbaseq\tmeanmapq\n"
                     "lambda\t1\t1200\t1000\t1200\t100\t25.0\t36\t60\n"),
    "bcftools_stats.txt": "SN\t0\tnumber of records:\t9\nSN\t0\tnumber of SNPs:\t8\nSN\t0\tnumber of indels:\t1\n",
}
QC_METRICS = {"read_pairs": 1000, "pct_mapped": 97.5, "pct_duplicates": 4.0, "mean_depth": 25.0,
              "variants_called": 9, "snps": 8, "indels": 1}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CallRecorder:
    """Every botocore API call made in this process: (service, operation, params)."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []
        self.on_call = {}
        #: calls of the Glue job run the harness plays (not the pipeline's), kept apart
        self.glue_job_calls: list[tuple[str, str, dict]] = []
        self.in_glue_job = False

    def of(self, service: str, operation: str) -> list[dict]:
        return [p for s, o, p in self.calls if s == service and o == operation]


@pytest.fixture(scope="module")
def env():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def moto_server(env):
    server, url = start_moto_server(env)
    yield url
    server.stop()


def start_moto_server(env):
    """A moto server on 127.0.0.1 and every AWS client of this process pointed at it (``env``: a MonkeyPatch)."""
    import requests
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    # moto's backends live in the process, not the server: a second harness module on the same pytest
    # worker (tests/e2e/test_aws_launch_uploads.py) would find the first one's buckets and tables
    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
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
    return server, url


@pytest.fixture(scope="module")
def recorder(moto_server, env):
    """Record every AWS call; play DataSync's copy on StartTaskExecution."""
    return install_recorder(env)


def install_recorder(env) -> CallRecorder:
    """Record every botocore API call of this process from now on."""
    import botocore.client

    rec = CallRecorder()
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        service = self.meta.service_model.service_name
        (rec.glue_job_calls if rec.in_glue_job else rec.calls).append((service, operation_name, dict(api_params)))
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


def flowcell_samples(n_samples: int):
    """The demo's samples; past its one plate (96 index pairs), more pairs of the same i7 and i5
    indexes, each pair once (bench/aws_flowcell runs 384 in one lane)."""
    from seqflow.demo.runfolder import MAX_SAMPLES, DemoSample, demo_samples

    if n_samples <= MAX_SAMPLES:
        return demo_samples("S", n_samples)
    plate = demo_samples("S", MAX_SAMPLES)
    i7, i5 = [s.index for s in plate], [s.index2 for s in plate]
    return plate + [DemoSample(n, f"S-S{n:02d}", i7[(n - 1) % MAX_SAMPLES],
                               i5[((n - 1) % MAX_SAMPLES + (n - 1) // MAX_SAMPLES) % MAX_SAMPLES])
                    for n in range(MAX_SAMPLES + 1, n_samples + 1)]


def _demo_run_objects(run_name: str, n_samples: int = 2) -> dict[str, bytes]:
    """A small demo run folder: RunInfo, a v2 sample sheet, FASTQs of the samples, a zero-byte flag."""
    from seqflow.demo.runfolder import FASTQ_SUBDIR, run_info_xml, sample_sheet_csv

    samples = flowcell_samples(n_samples)
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


def _vcf(sample: str) -> bytes:
    """The sample's calls as bcftools call writes them (three records, one multi-allelic)."""
    return gzip.compress("\n".join([
        "##fileformat=VCFv4.2", "##contig=<ID=lambda,length=1200>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
        f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{sample}",
        "lambda\t10\t.\tA\tG\t50\tPASS\t.\tGT:GQ\t1:40",
        "lambda\t200\t.\tC\tT,G\t30\tPASS\t.\tGT:GQ\t2:20",
        "lambda\t900\t.\tGA\tG\t60\tPASS\t.\tGT:GQ\t1:50", ""]).encode())


def datasync_selects(include_filter: str, key: str) -> bool:
    """DataSync SIMPLE_PATTERN semantics on a key relative to the source location: ``|`` separates
    patterns, ``*`` matches within one path component, a pattern naming a folder selects what is under it."""
    import re

    path = "/" + key
    for pattern in include_filter.split("|"):
        regex = "".join("[^/]*" if ch == "*" else re.escape(ch) for ch in pattern.rstrip("/"))
        if re.fullmatch(regex, path) or re.fullmatch(regex + "/.*", path):
            return True
    return False


@pytest.fixture(scope="module")
def aws(moto_server, recorder, env, tmp_path_factory):
    """The deployment's resources, as Terraform creates them, and its configuration."""
    return deploy(env, recorder, tmp_path_factory.mktemp("reference"))


def deploy(env, recorder: CallRecorder, work: Path, n_samples: int = 2, glue_max_concurrent_runs: int = 10) -> dict:
    """Create the deployment's resources in moto as Terraform does, write its configuration, register
    the reference and put a run of ``n_samples`` samples (and two runs not to ingest) on the landing share."""
    from seqflow.aws.config_keys import AWS_CONFIG_KEYS, ssm_parameter_name, variable_name
    from seqflow.demo.runfolder import default_flowcell, run_folder_name

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
        [include] = params["Includes"]
        assert include["FilterType"] == "SIMPLE_PATTERN"
        for obj in s3.list_objects_v2(Bucket=buckets["landing"]).get("Contents", []):
            if datasync_selects(include["Value"], obj["Key"]):
                s3.copy_object(Bucket=buckets["raw"], Key=f"runs/{obj['Key']}",
                               CopySource={"Bucket": buckets["landing"], "Key": obj["Key"]})

    recorder.on_call[("datasync", "StartTaskExecution")] = datasync_copies

    batch = _client("batch")
    ce = batch.create_compute_environment(computeEnvironmentName=f"{PREFIX}-spot", type="UNMANAGED",
                                          state="ENABLED", serviceRole=role)["computeEnvironmentArn"]
    queue = batch.create_job_queue(jobQueueName=f"{PREFIX}-queue", state="ENABLED", priority=1,
                                   computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueName"]
    # one job definition per step implementation of the catalogue, as terraform/modules/batch builds them
    from seqflow.aws.batch import job_definitions

    definitions = job_definitions()
    images = {}
    for step_id, spec in definitions.items():
        images[step_id] = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/seqflow/{spec['image']}:1"
        batch.register_job_definition(
            jobDefinitionName=f"{PREFIX}-{step_id}", type="container",
            containerProperties={"image": images[step_id], "command": spec["command"], "vcpus": spec["vcpus"],
                                 "memory": spec["memory_mib"]},
        )

    def batch_runs(params):
        """What a step's job leaves in the sample's results prefix: its QC files (moto runs no container)."""
        env = {e["name"]: e["value"] for e in params["containerOverrides"]["environment"]}
        bucket, prefix = env["SEQFLOW_OUTPUT_URI"][len("s3://"):].split("/", 1)
        sample = params["tags"]["sample_id"]
        for name, body in QC_FILES.items():
            s3.put_object(Bucket=bucket, Key=f"{prefix}{sample}.{name}", Body=body.encode())
        s3.put_object(Bucket=bucket, Key=f"{prefix}{sample}.vcf.gz", Body=_vcf(sample))

    recorder.on_call[("batch", "SubmitJob")] = batch_runs

    glue = _client("glue")
    # the database only: Terraform declares the Iceberg tables (Glue's Iceberg CREATE writes their first
    # metadata, which moto does not), so here the converter job's Lake.ensure creates them, as it does a missing one
    glue.create_database(DatabaseInput={"Name": "seqflow_lake"})

    def glue_runs(params):
        """What the Glue job run does: the real job (seqflow.glue.job) on moto's S3 and Glue catalog,
        its calls kept apart from the pipeline's."""
        from seqflow.glue import job as converter

        args = {k[2:]: v for k, v in params["Arguments"].items() if k.startswith("--")}
        recorder.in_glue_job = True
        try:
            converter.run({**converter.DEFAULTS, **args})
        finally:
            recorder.in_glue_job = False

    recorder.on_call[("glue", "StartJobRun")] = glue_runs
    glue.create_job(Name=f"{PREFIX}-vcf-to-parquet", Role=role,
                    Command={"Name": "glueetl", "ScriptLocation": f"s3://{buckets['scratch']}/vcf_to_parquet_job.py",
                             "PythonVersion": "3"}, GlueVersion="5.0",
                    ExecutionProperty={"MaxConcurrentRuns": glue_max_concurrent_runs})
    _client("athena").create_work_group(Name=f"{PREFIX}-wg", Configuration={
        "ResultConfiguration": {"OutputLocation": f"s3://{buckets['athena']}/"}})
    _client("dynamodb").create_table(
        TableName=f"{PREFIX}-run-registry", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"},
                   {"AttributeName": "analysis", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"},
                              {"AttributeName": "analysis", "AttributeType": "S"}],
    )
    sns, sqs = _client("sns"), _client("sqs")
    topic = sns.create_topic(Name=f"{PREFIX}-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{PREFIX}-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})

    config = {
        "region": REGION, "project": "seqflow-e2e", "raw_bucket": buckets["raw"], "raw_prefix": "runs/",
        "results_bucket": buckets["results"], "lake_bucket": buckets["lake"],
        "athena_results_bucket": buckets["athena"], "scratch_bucket": buckets["scratch"],
        "datasync_task_arn": task_arn, "batch_job_queue": queue, "batch_priority_job_queue": queue,
        "omics_workflow_id": "1234567", "omics_role_arn": role, "omics_run_group_id": "7654321",
        "omics_output_uri": f"s3://{buckets['results']}/omics", "glue_job_name": f"{PREFIX}-vcf-to-parquet",
        "glue_database": "seqflow_lake", "athena_workgroup": f"{PREFIX}-wg",
        "registry_table": f"{PREFIX}-run-registry", "alerts_topic_arn": topic, "default_engine": "batch",
        "restore_tier": "Bulk",
    }
    # the job definition keys: batch_job_definition_<step id>, or the older per-step-name ones
    older = {"align": "align_bwa", "call": "call_variants_bcftools", "stats": "bam_qc"}
    for key in AWS_CONFIG_KEYS:
        if key.startswith("batch_job_definition_"):
            name = key.removeprefix("batch_job_definition_")
            config[key] = f"{PREFIX}-{name if name in definitions else older[name]}"
    assert set(config) == set(AWS_CONFIG_KEYS)
    ssm = _client("ssm")
    for key, value in config.items():
        # what Terraform writes; Airflow reads it through the SSM secrets backend, which
        # here is stood in for by the same values as Variables from the environment
        ssm.put_parameter(Name=ssm_parameter_name(key), Value=value, Type="String")
        env.setenv(f"AIRFLOW_VAR_{variable_name(key).upper()}", value)

    # the reference, registered once per deployment (seqflow reference add lambda --fasta ... --ploidy 1)
    # and made the default; the index objects are what the Batch index job would have published
    from seqflow.aws.references import S3ReferenceCatalog
    from seqflow.aws.settings import AwsSettings
    from seqflow.references import Ploidy
    from seqflow.references.catalog import INDEX_SUFFIXES
    from seqflow.references.resolve import ReferenceRules

    fasta = work / "lambda_source.fa"
    rng = random.Random(11)
    fasta.write_text(">lambda synthetic phage\n" + "".join(rng.choice("ACGT") for _ in range(1200)) + "\n")
    catalog = S3ReferenceCatalog(AwsSettings(dict(config)), s3, deb_cache=work / "debs")
    reference = catalog.add("lambda", str(fasta), ploidy=Ploidy(1), aligners=("bwa",))
    for suffix in INDEX_SUFFIXES["bwa"]:
        s3.put_object(Bucket=buckets["raw"], Key=f"references/lambda/lambda.fa{suffix}", Body=b"index")
    catalog.save_rules(ReferenceRules(default="lambda"))

    run_name = run_folder_name(RUN_DATE, "A01234", 42, default_flowcell(RUN_DATE, "A01234", 42))
    for key, body in _demo_run_objects(run_name, n_samples).items():
        s3.put_object(Bucket=buckets["landing"], Key=f"{run_name}/{key}", Body=body)
    # two more runs on the share: one still being written (no flag yet), and one complete but older
    # than the scan's look-back window; neither is ingested, and only the old one's flag is copied
    writing = run_folder_name(RUN_DATE - dt.timedelta(days=1), "A01234", 41,
                              default_flowcell(RUN_DATE - dt.timedelta(days=1), "A01234", 41))
    for key in ("RunInfo.xml", "Data/Intensities/BaseCalls/L001/C1.1/L001_1.cbcl"):
        s3.put_object(Bucket=buckets["landing"], Key=f"{writing}/{key}", Body=b"x")
    old_date = RUN_DATE - dt.timedelta(days=60)
    old = run_folder_name(old_date, "A01234", 7, default_flowcell(old_date, "A01234", 7))
    for key, body in (("RunInfo.xml", b"x"), ("CopyComplete.txt", b"")):
        s3.put_object(Bucket=buckets["landing"], Key=f"{old}/{key}", Body=body)
    samples = [s.sample_id for s in flowcell_samples(n_samples)]
    return {"config": config, "buckets": buckets, "run": run_name, "writing_run": writing, "old_run": old,
            "queue_url": queue_url,
            "samples": samples, "reference": reference, "images": images}


def _reconfigure_orm() -> None:
    from airflow import settings

    settings.dispose_orm(do_log=False)
    settings.configure_vars()
    settings.configure_orm()


@pytest.fixture(scope="module")
def airflow_db(env, tmp_path_factory):
    """A metadata DB of this module's own (xdist workers share AIRFLOW_HOME) and the datasync pool."""
    home = tmp_path_factory.mktemp("airflow-aws")
    airflow_metadata_db(env, home)
    yield home
    env.delenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    env.delenv("AIRFLOW__CORE__DAGS_FOLDER")
    _reconfigure_orm()


def airflow_metadata_db(env, home: Path) -> None:
    """A fresh SQLite metadata DB under ``home``, the aws profile selected, and the datasync pool."""
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


def _load(dag_id: str):
    """The DAG file loaded fresh (it reads SEQFLOW_PROFILE at import)."""
    from seqflow.compat import DagBag  # its module moved after Airflow 3.0.6 (MWAA)

    bag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py"))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def _states(dag_run) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ti in dag_run.get_task_instances():
        out.setdefault(ti.task_id, []).append(ti.state)
    return out


def _tries(dag_run) -> dict[str, list[int]]:
    """Each task's try numbers (a retried task explains a second Glue run or Athena query)."""
    out: dict[str, list[int]] = {}
    for ti in dag_run.get_task_instances():
        out.setdefault(ti.task_id, []).append(ti.try_number)
    return out


def _registry(aws):
    from seqflow.aws.registry import DynamoDbRunRegistry

    return DynamoDbRunRegistry(aws["config"]["registry_table"])


def _seed_qc_query(moto_url: str, aws, pipeline_version: str, records: dict[str, int]) -> None:
    """The rows moto's Athena answers the next QC query with (moto runs no SQL): header, then one per sample."""
    import requests
    from moto.athena.models import athena_backends

    # a result a failed analysis left unread must not answer this one's query
    athena_backends[ACCOUNT][REGION].query_results_queue.clear()
    columns = [("run_id", "varchar"), ("pipeline_version", "varchar"), ("reference", "varchar"),
               ("aligner", "varchar"), ("caller", "varchar"), ("sample_id", "varchar"), ("records", "bigint")]

    def row(values):
        return {"Data": [{"VarCharValue": str(v)} for v in values]}

    rows = [row([c for c, _ in columns])] + [
        row([aws["run"], pipeline_version, "lambda", "bwa", "bcftools", sample, n]) for sample, n in records.items()]
    info = [{"Name": c, "Label": c, "Type": t, "CatalogName": "hive", "SchemaName": "", "TableName": "",
             "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": False} for c, t in columns]
    requests.post(f"{moto_url}/moto-api/static/athena/query-results", timeout=10, json={
        "account_id": ACCOUNT, "region": REGION, "results": [{"rows": rows, "column_info": info}]}).raise_for_status()


def _results_key(aws, version_path: str, name: str) -> str:
    return f"results/{aws['run']}/{version_path}/{name}"


@pytest.fixture(scope="module")
def ingest(aws, airflow_db, recorder):
    return run_ingest(recorder)


def run_ingest(recorder: CallRecorder) -> dict:
    """The daily ingest for RUN_DATE with dag.test; the analysis it would trigger is returned, not run."""
    dag = _load("seqflow_daily_ingest")
    # the analysis runs below with dag.test on the conf this run hands over
    dag.task_dict["trigger_analysis"].trigger_dag_id = "seqflow_analysis"
    start = len(recorder.calls)
    run = dag.test(logical_date=dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc),
                   mark_success_pattern="trigger_analysis")
    triggers = next(t for t in run.get_task_instances() if t.task_id == "analysis_triggers")
    return {"run": run, "calls": recorder.calls[start:],
            "triggers": triggers.xcom_pull(task_ids="analysis_triggers")}


def _raw_keys(aws, prefix: str) -> list[str]:
    listed = _client("s3").list_objects_v2(Bucket=aws["buckets"]["raw"], Prefix=prefix).get("Contents", [])
    return sorted(o["Key"][len(prefix):] for o in listed)


def test_ingest_finds_complete_runs_with_a_flags_only_execution_then_copies_them(ingest, aws):
    from seqflow.config import DEFAULT_COMPLETION_FLAGS

    assert ingest["run"].state == "success", _states(ingest["run"])
    starts = [p for s, o, p in ingest["calls"] if (s, o) == ("datasync", "StartTaskExecution")]
    flags = "|".join(f"/*/{flag}" for flag in DEFAULT_COMPLETION_FLAGS)
    assert starts == [
        {"TaskArn": aws["config"]["datasync_task_arn"], "Includes": [{"FilterType": "SIMPLE_PATTERN", "Value": flags}]},
        {"TaskArn": aws["config"]["datasync_task_arn"],
         "Includes": [{"FilterType": "SIMPLE_PATTERN", "Value": f"/{aws['run']}"}]},
    ]
    states = _states(ingest["run"])
    for task_id in ("flags_include_filter", "discover_flags", "find_runs", "include_filter", "transfer_runs",
                    "flag_keys", "wait_for_completion_flag", "record_ingested", "analysis_triggers"):
        assert states[task_id] == ["success"], (task_id, states)
    # the complete run is copied whole; the one still being written is not seen at all; the old
    # one's flag came with the flags-only execution, the run itself stays on the share
    assert _raw_keys(aws, f"runs/{aws['run']}/") == sorted(_demo_run_objects(aws["run"]))
    assert _raw_keys(aws, f"runs/{aws['writing_run']}/") == []
    assert _raw_keys(aws, f"runs/{aws['old_run']}/") == ["CopyComplete.txt"]
    # the flag sensor waited on the run that was copied, and only on it
    sensed = [p["Prefix"] for s, o, p in ingest["calls"] if (s, o) == ("s3", "ListObjectsV2")
              and p["Bucket"] == aws["buckets"]["raw"] and p["Prefix"].startswith("runs/2")]
    assert f"runs/{aws['run']}/" in sensed
    assert not [prefix for prefix in sensed if aws["writing_run"] in prefix]


def test_ingest_records_the_run_and_hands_over_one_analysis(ingest, aws):
    record = _registry(aws).get(aws["run"], "-")
    assert record.status == "ingested"
    assert record.details["raw_uri"] == f"s3://{aws['buckets']['raw']}/runs/{aws['run']}/"
    assert _registry(aws).get(aws["writing_run"], "-") is None  # invisible to AWS until its flag is written
    assert _registry(aws).get(aws["old_run"], "-") is None  # outside the look-back window
    # every sample resolves to the default reference: one analysis of the whole run, resolved again by plan
    assert ingest["triggers"] == [{
        "trigger_run_id": f"ingest__{aws['run']}__1.0.0__{ingest['run'].run_id}",
        "conf": {"run_id": aws["run"], "reference": None, "aligner": "bwa", "pipeline_version": "1.0.0",
                 "force": False, "align_reads_per_shard": 50_000_000, "call_interval_mb": 100},
    }]


@pytest.fixture(scope="module")
def batch_analysis(ingest, aws, recorder, moto_server):
    assert ingest["triggers"], f"the ingest handed over no analysis: {_states(ingest['run'])}"
    [trigger] = ingest["triggers"]
    _seed_qc_query(moto_server, aws, "1.0.0", {s: 9 for s in aws["samples"]})
    dag = _load("seqflow_analysis")
    start = len(recorder.calls)
    run = dag.test(run_conf=trigger["conf"], logical_date=dt.datetime(2026, 11, 20, 1, tzinfo=dt.timezone.utc))
    return {"run": run, "calls": recorder.calls[start:]}


def _calls(analysis, service, operation):
    return [p for s, o, p in analysis["calls"] if (s, o) == (service, operation)]


def test_plan_resolves_the_default_reference_checks_the_index_and_restores_nothing_online(batch_analysis, aws):
    states = _states(batch_analysis["run"])
    for task_id in ("plan", "restore_archived", "prepare_reference", "sample_jobs", "choose_engine"):
        assert states[task_id] == ["success"], (task_id, states)
    assert set(states["omics_requests"]) == {"skipped"} and set(states["omics_run"]) == {"skipped"}
    raw, run = aws["buckets"]["raw"], aws["run"]
    inputs = [f"runs/{run}/SampleSheet.csv"] + [
        f"runs/{run}/Analysis/1/Data/fastq/{sample}_S{n}_L001_R{read}_001.fastq.gz"
        for n, sample in enumerate(aws["samples"], start=1) for read in (1, 2)]
    # restore_archived: one HeadObject per input (all online), no RestoreObject
    heads = [p["Key"] for p in _calls(batch_analysis, "s3", "HeadObject") if p["Key"] in inputs]
    assert sorted(set(heads)) == sorted(inputs)
    assert _calls(batch_analysis, "s3", "RestoreObject") == []
    # prepare_reference: one listing of the reference's prefix finds the bwa index; nothing is built
    assert {"Bucket": raw, "Prefix": "references/lambda/"} in _calls(batch_analysis, "s3", "ListObjectsV2")
    record = _registry(aws).get(run, KEY)
    assert record is not None and record.details["identity"] == {
        "run_id": run, "pipeline_version": "1.0.0", "reference": "lambda", "aligner": "bwa", "caller": "bcftools"}
    assert record.details["reference_origin"] == {s: "the deployment's default reference" for s in aws["samples"]}
    assert record.details["reference_md5"] == {"lambda": aws["reference"].contigs[0].md5}
    assert record.details["engine"] == "batch"


def test_batch_engine_submits_one_job_per_sample_and_step_with_cost_tags(batch_analysis, aws):
    assert batch_analysis["run"].state == "success", _states(batch_analysis["run"])
    submits = _calls(batch_analysis, "batch", "SubmitJob")
    steps = ("fastp", "align", "call_variants", "bam_qc", "vcf_stats")
    assert len(submits) == len(steps) * len(aws["samples"])
    results, raw = aws["buckets"]["results"], aws["buckets"]["raw"]
    fastqs = f"s3://{raw}/runs/{aws['run']}/Analysis/1/Data/fastq"
    ref = aws["reference"]
    for sample in aws["samples"]:
        mine = [p for p in submits if p["tags"]["sample_id"] == sample]
        assert len(mine) == len(steps)
        for submit in mine:
            # the cost tags, and the task instance's tag by which a retry finds the job
            tags = dict(submit["tags"])
            assert len(tags.pop("seqflow_task")) == 40
            assert tags == {"run_id": aws["run"], "sample_id": sample, "project": "seqflow-e2e",
                            "pipeline_version": "1.0.0"}
            assert submit["jobQueue"] == aws["config"]["batch_job_queue"]
            env = {e["name"]: e["value"] for e in submit["containerOverrides"]["environment"]}
            assert env["SEQFLOW_OUTPUT_URI"] == f"s3://{results}/results/{aws['run']}/{IDENTITY_PATH}/{sample}/"
            assert all(uri.startswith("s3://") for uri in env["SEQFLOW_INPUTS"].split())
        staged = {uri for submit in mine for e in submit["containerOverrides"]["environment"]
                  if e["name"] == "SEQFLOW_INPUTS" for uri in e["value"].split()}
        # what plan and the catalogue gave the jobs: this sample's FASTQs, the reference FASTA, its index and ploidy
        n = aws["samples"].index(sample) + 1
        assert {f"{fastqs}/{sample}_S{n}_L001_R{r}_001.fastq.gz" for r in (1, 2)} <= staged
        assert {ref.fasta, ref.fasta + ".fai", ref.ploidy_file, *ref.index_files("bwa")} <= staged
        assert not any(other in uri for other in aws["samples"] if other != sample for uri in staged
                       if uri.startswith(fastqs))


def test_one_glue_run_per_analysis_commits_the_iceberg_tables_then_qc_summary_and_registry(batch_analysis, aws,
                                                                                          recorder):
    from seqflow.glue.manifest import Manifest
    from seqflow.lake.iceberg import Lake

    assert batch_analysis["run"].state == "success", _states(batch_analysis["run"])
    runs = _calls(batch_analysis, "glue", "StartJobRun")  # one run for the analysis, not one per VCF
    assert len(runs) == 1, (len(runs), _tries(batch_analysis["run"]))
    [run] = runs
    assert run["JobName"] == f"{PREFIX}-vcf-to-parquet"
    results, run_id, lake = aws["buckets"]["results"], aws["run"], aws["buckets"]["lake"]
    prefix = f"s3://{results}/results/{run_id}/{IDENTITY_PATH}/"
    args = {k: v for k, v in run["Arguments"].items() if not k.startswith("--airflow")}
    uri = args.pop("--manifest_uri")
    assert uri.startswith(f"s3://{lake}/lake/_manifests/{run_id}/{IDENTITY_PATH}/")
    assert args == {"--lake_uri": f"s3://{lake}/lake", "--database": "seqflow_lake", "--run_id": run_id,
                    "--pipeline_version": "1.0.0", "--reference": "lambda", "--aligner": "bwa",
                    "--caller": "bcftools", "--samples": str(len(aws["samples"]))}
    manifest = Manifest.from_json(_client("s3").get_object(Bucket=lake, Key=uri[len(f"s3://{lake}/"):])["Body"]
                                  .read().decode())
    assert [(e.sample_id, e.vcf) for e in manifest.samples] == [
        (s, f"{prefix}{s}/{s}.vcf.gz") for s in aws["samples"]]
    # the job run (the real job script, on moto) made one commit of all samples, through pyiceberg's Glue catalog
    job_calls = [(s, o) for s, o, _ in recorder.glue_job_calls]
    assert ("glue", "CreateTable") in job_calls and ("glue", "BatchCreatePartition") not in job_calls
    table = Lake.glue(f"s3://{lake}/lake", "seqflow_lake", region=REGION,
                      **{"glue.endpoint": os.environ["AWS_ENDPOINT_URL"], "s3.endpoint": os.environ["AWS_ENDPOINT_URL"]})
    variants = table.table("variants")
    snapshots = [s for s in variants.metadata.snapshots if s.summary.get("seqflow.pipeline_version") == "1.0.0"]
    assert len(snapshots) == 1, [(s.snapshot_id, str(s.summary)) for s in snapshots]
    [snapshot] = snapshots
    assert snapshot.summary["seqflow.sample_id"] == ",".join(sorted(aws["samples"]))
    rows = variants.scan(selected_fields=("sample_id", "pos", "alt")).to_arrow().to_pylist()
    assert sorted((r["sample_id"], r["pos"]) for r in rows) == sorted((s, p) for s in aws["samples"] for p in (10, 200, 900))
    assert {tuple(r["alt"]) for r in rows if r["pos"] == 200} == {("T", "G")}
    qc_rows = table.table("qc_metrics").scan().to_arrow().to_pylist()
    assert sorted((r["sample_id"], r["read_pairs"], r["variants_called"]) for r in qc_rows
                  if r["pipeline_version"] == "1.0.0") == [(s, 1000, 9) for s in sorted(aws["samples"])]
    # register_partitions read the job's result and checked the tables are Iceberg tables; finalise_run
    # loaded step_costs to commit the analysis's step costs
    assert sorted(p["Name"] for p in _calls(batch_analysis, "glue", "GetTable")) == ["qc_metrics", "step_costs",
                                                                                    "variants"]
    queries = _calls(batch_analysis, "athena", "StartQueryExecution")
    assert len(queries) == 1, (len(queries), _tries(batch_analysis["run"]))
    [athena] = queries
    for part, value in (("run_id", run_id), ("pipeline_version", "1.0.0"), ("reference", "lambda"),
                        ("aligner", "bwa"), ("caller", "bcftools")):
        assert f"q.{part} = '{value}'" in athena["QueryString"]
    assert "FROM variants\n" in athena["QueryString"]
    assert athena["WorkGroup"] == f"{PREFIX}-wg"
    assert athena["QueryExecutionContext"]["Database"] == "seqflow_lake"

    rows = [{"sample_id": s, "precision": None, "recall": None, "f1": None, **QC_METRICS, "variants_in_lake": 9}
            for s in aws["samples"]]
    key = _results_key(aws, IDENTITY_PATH, "qc_summary.json")
    summary = json.loads(_client("s3").get_object(Bucket=results, Key=key)["Body"].read())
    assert summary == {"run_id": run_id, "pipeline_version": "1.0.0", "reference": "lambda", "aligner": "bwa",
                       "caller": "bcftools", "status": "analysed", "failed_samples": {}, "unlisted_fastqs": [],
                       "samples": rows}
    record = _registry(aws).get(run_id, KEY)
    assert record.status == "analysed"
    assert record.details["engine"] == "batch" and record.details["samples"] == rows
    assert record.details["qc_summary"] == f"{prefix}qc_summary.json"
    assert record.details["vcfs"] == {s: f"{prefix}{s}/{s}.vcf.gz" for s in aws["samples"]}


def test_a_second_trigger_of_the_same_analysis_is_skipped(batch_analysis, aws, recorder):
    assert batch_analysis["run"].state == "success", _states(batch_analysis["run"])
    dag = _load("seqflow_analysis")
    start = len(recorder.calls)
    run = dag.test(run_conf={"run_id": aws["run"]}, logical_date=dt.datetime(2026, 11, 20, 4, tzinfo=dt.timezone.utc))
    states = _states(run)
    assert states["plan"] == ["skipped"] and set(states["finalise_run"]) == {"skipped"}
    assert not [o for s, o, _ in recorder.calls[start:] if s in ("batch", "glue", "athena", "omics")]


def test_a_genome_of_several_intervals_calls_them_as_one_array_job_then_gathers(ingest, aws, recorder, moto_server):
    """call_interval_mb 0.0004 cuts the 1,200-bp reference in three: sample.call_variants submits one
    array job of three children and the gather after it (the analysis above, of one interval, submitted
    the plain job); the registry records the shards (seqflow.aws.scattered_calling)."""
    from seqflow.aws.scattered_calling import SHARD_REGIONS

    sample = aws["samples"][0]
    _seed_qc_query(moto_server, aws, "3.0.0", {sample: 9})
    conf = {"run_id": aws["run"], "pipeline_version": "3.0.0", "samples": [sample], "call_interval_mb": 0.0004}
    dag = _load("seqflow_analysis")
    start = len(recorder.calls)
    run = dag.test(run_conf=conf, logical_date=dt.datetime(2026, 11, 20, 5, tzinfo=dt.timezone.utc))
    assert run.state == "success", _states(run)
    states = _states(run)
    assert states["sample.call_variants"] == ["success"] and set(states["call_shards"]) == {"skipped"}
    submits = [p for s, o, p in recorder.calls[start:] if (s, o) == ("batch", "SubmitJob")]
    names = [p["jobName"].split(f"_{aws['run']}_")[0] for p in submits]
    assert sorted(names) == sorted(f"seqflow_{s}" for s in ("fastp", "align", "call_variants", "gather_calls",
                                                            "bam_qc", "vcf_stats"))
    [array] = [p for p in submits if p["jobName"].startswith("seqflow_call_variants_")]
    [gather] = [p for p in submits if p["jobName"].startswith("seqflow_gather_calls_")]
    assert array["arrayProperties"] == {"size": 3} and array["parameters"]["regions"] == SHARD_REGIONS
    assert array["jobDefinition"] == aws["config"]["batch_job_definition_call_variants_bcftools"]
    assert gather["jobDefinition"] == aws["config"]["batch_job_definition_gather_calls"]
    [dependency] = gather["dependsOn"]
    described = _client("batch").describe_jobs(jobs=[dependency["jobId"]])["jobs"]
    assert described[0]["jobName"] == array["jobName"] and described[0]["arrayProperties"]["size"] == 3
    prefix = f"s3://{aws['buckets']['results']}/results/{aws['run']}/3.0.0/lambda/bwa-bcftools/{sample}/"
    plan = json.loads(_client("s3").get_object(Bucket=aws["buckets"]["results"], Key=(
        prefix + "shards/plan.json")[len(f"s3://{aws['buckets']['results']}/"):])["Body"].read())
    assert [s["argument"] for s in plan["shards"]] == ["lambda:1-400", "lambda:401-800", "lambda:801-1200"]
    assert plan["todo"] == [0, 1, 2]
    record = _registry(aws).get(aws["run"], "3.0.0/lambda/bwa/bcftools")
    assert record.status == "analysed"
    assert record.details["vcfs"] == {sample: f"{prefix}{sample}.vcf.gz"}
    assert record.details["shards"][sample]["count"] == 3
    assert record.details["shards"][sample]["called"] == [s["key"] for s in plan["shards"]]


def test_failed_batch_job_publishes_an_sns_alert(batch_analysis, aws, env):
    conf = {"run_id": aws["run"], "pipeline_version": "1.0.1", "samples": aws["samples"][:1]}
    dag = _load("seqflow_analysis")
    for task in dag.tasks:
        task.retries = 0
    env.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")
    try:
        run = dag.test(run_conf=conf, logical_date=dt.datetime(2026, 11, 20, 2, tzinfo=dt.timezone.utc))
    finally:
        env.delenv("MOTO_SIMPLE_BATCH_FAIL_AFTER")
    assert run.state == "failed"
    states = _states(run)
    assert states["sample.requests"] == ["success"] and states["sample.fastp"] == ["failed"], states
    messages = _client("sqs").receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10)["Messages"]
    alerts = [json.loads(m["Body"]) for m in messages]
    fastp = [a for a in alerts if a["task_id"] == "sample.fastp"]
    assert len(fastp) == 1, alerts
    assert fastp[0]["run_id"] == aws["run"]
    assert fastp[0]["sample_id"] == aws["samples"][0]
    assert fastp[0]["dag_id"] == "seqflow_analysis"
    assert "log_url" in fastp[0] and fastp[0]["error"]
    assert _registry(aws).get(aws["run"], "1.0.1/lambda/bwa/bcftools").status == "analysing"


def test_omics_engine_starts_one_healthomics_run_per_sample(batch_analysis, aws, env, moto_server, recorder):
    import boto3
    from botocore.stub import ANY, Stubber

    from seqflow.aws.omics.hooks import OmicsHook

    client = boto3.client("omics", region_name=REGION)
    stubber = Stubber(client)
    results, raw, run = aws["buckets"]["results"], aws["buckets"]["raw"], aws["run"]
    ref = aws["reference"]
    image = {step: aws["images"][step] for step in ("fastp", "align_bwa", "bam_qc", "call_variants_bcftools")}
    for n, sample in enumerate(aws["samples"], start=1):
        omics_id = f"10000{n}"
        fastqs = f"s3://{raw}/runs/{run}/Analysis/1/Data/fastq/{sample}_S{n}_L001"
        parameters = {
            "sample_id": sample, "aligner": "bwa", "caller": "bcftools",
            "fastq_r1": f"{fastqs}_R1_001.fastq.gz", "fastq_r2": f"{fastqs}_R2_001.fastq.gz",
            "reference_fasta": ref.fasta, "reference_fai": ref.fasta + ".fai", "reference_ploidy": ref.ploidy_file,
            **{f"reference_{s.lstrip('.')}": f"{ref.fasta}{s}" for s in (".amb", ".ann", ".bwt", ".pac", ".sa")},
            "fastp_image": image["fastp"], "bwa_image": image["align_bwa"], "samtools_image": image["bam_qc"],
            "bcftools_image": image["call_variants_bcftools"],
        }
        stubber.add_response("start_run", {"id": omics_id, "arn": f"arn:aws:omics:{REGION}:{ACCOUNT}:run/{omics_id}",
                                           "status": "PENDING"}, {
            "requestId": ANY, "roleArn": aws["config"]["omics_role_arn"],
            "outputUri": f"s3://{results}/omics/{run}/2.0.0/lambda/bwa-bcftools/{sample}/",
            "workflowId": "1234567", "workflowType": "PRIVATE", "name": f"{run}_{sample}_2.0.0",
            "parameters": parameters, "runGroupId": "7654321", "storageType": "DYNAMIC", "logLevel": "ALL",
            "retentionMode": "REMOVE", "cacheId": "4455667", "cacheBehavior": "CACHE_ON_FAILURE",
            "tags": {"run_id": run, "sample_id": sample, "project": "seqflow-e2e", "pipeline_version": "2.0.0"},
        })
        stubber.add_response("get_run", {"id": omics_id, "status": "RUNNING"}, {"id": omics_id})
        stubber.add_response("get_run", {"id": omics_id, "status": "COMPLETED"}, {"id": omics_id})
    stubber.activate()
    env.setattr(OmicsHook, "conn", property(lambda self: client))
    # the run cache is optional configuration (Terraform does not create one yet)
    env.setenv("AIRFLOW_VAR_SEQFLOW_OMICS_RUN_CACHE_ID", "4455667")
    _seed_qc_query(moto_server, aws, "2.0.0", {aws["samples"][0]: 5, aws["samples"][1]: 6})
    conf = {"run_id": run, "pipeline_version": "2.0.0", "engine": "omics"}
    for n, sample in enumerate(aws["samples"], start=1):  # what each HealthOmics run leaves in its output
        _client("s3").put_object(Bucket=results, Body=_vcf(sample),
                                 Key=f"omics/{run}/2.0.0/lambda/bwa-bcftools/{sample}/10000{n}/out/vcf/{sample}.vcf.gz")
    dag = _load("seqflow_analysis")
    start = len(recorder.calls)
    analysis = dag.test(run_conf=conf, logical_date=dt.datetime(2026, 11, 20, 3, tzinfo=dt.timezone.utc))
    assert analysis.state == "success", _states(analysis)
    stubber.assert_no_pending_responses()
    states = _states(analysis)
    assert set(states["sample.requests"]) == {"skipped"} and set(states["sample.fastp"]) == {"skipped"}
    assert states["omics_run"] == ["success", "success"]
    calls = recorder.calls[start:]
    assert not [p for s, o, p in calls if (s, o) == ("batch", "SubmitJob")]
    vcf = f"s3://{results}/omics/{run}/2.0.0/lambda/bwa-bcftools/{{s}}/10000{{n}}/out/vcf/{{s}}.vcf.gz"
    vcfs = {s: vcf.format(s=s, n=n) for n, s in enumerate(aws["samples"], start=1)}
    [glue] = [p for s, o, p in calls if (s, o) == ("glue", "StartJobRun")]  # one run for the analysis
    from seqflow.glue.manifest import Manifest

    lake = aws["buckets"]["lake"]
    manifest = Manifest.from_json(_client("s3").get_object(
        Bucket=lake, Key=glue["Arguments"]["--manifest_uri"][len(f"s3://{lake}/"):])["Body"].read().decode())
    assert {e.sample_id: e.vcf for e in manifest.samples} == vcfs
    assert all(e.qc is None for e in manifest.samples)  # HealthOmics leaves no QC files in the results folder
    record = _registry(aws).get(run, "2.0.0/lambda/bwa/bcftools")
    assert record.status == "analysed" and record.details["engine"] == "omics"
    assert record.details["vcfs"] == vcfs
    assert record.details["samples"] == [
        {"sample_id": s, "precision": None, "recall": None, "f1": None, "variants_in_lake": n}
        for s, n in zip(aws["samples"], (5, 6))]
    summary = json.loads(_client("s3").get_object(
        Bucket=results, Key=_results_key(aws, "2.0.0/lambda/bwa-bcftools", "qc_summary.json"))["Body"].read())
    assert summary["pipeline_version"] == "2.0.0" and summary["samples"] == record.details["samples"]
    # the batch analysis of 1.0.0 is still there, untouched
    assert _registry(aws).get(run, KEY).details["engine"] == "batch"
