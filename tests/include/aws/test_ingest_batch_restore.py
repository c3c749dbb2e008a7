"""DataSync ingest, Batch submission and Glacier restore of the aws profile, against moto."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest

from aws_helpers import REGION, RUN, moto_batch_queue, of, settings

DATE = dt.date(2026, 11, 20)


def test_the_flags_only_include_filter_names_the_flag_files_of_every_run():
    from seqflow.aws.ingest import flags_include_filter

    assert flags_include_filter() == "/*/CopyComplete.txt|/*/RTAComplete.txt"
    assert flags_include_filter("QAPassed.txt") == "/*/CopyComplete.txt|/*/RTAComplete.txt|/*/QAPassed.txt"
    with pytest.raises(ValueError, match="plain file names"):
        flags_include_filter("x|/*")


class _Context(dict):
    pass


def _ti_context():
    class TI:
        dag_id, run_id, task_id, map_index, try_number = "seqflow_daily_ingest", "r", "transfer_runs", -1, 1

        def xcom_push(self, key, value):
            pass

    return {"ti": TI(), "task_instance": TI()}


def test_datasync_operator_starts_one_execution_with_the_filter_and_waits(moto, calls, monkeypatch):
    from seqflow.aws.ingest import datasync_operator

    monkeypatch.setenv("SEQFLOW_AWS_POLL_S", "1")
    ds = boto3.client("datasync", region_name=REGION)
    src = ds.create_location_smb(ServerHostname="nas", Subdirectory="/runs", User="u", Password="p",
                                 AgentArns=["arn:aws:datasync:eu-west-1:123456789012:agent/agent-1"])["LocationArn"]
    dst = ds.create_location_s3(S3BucketArn="arn:aws:s3:::raw", S3Config={"BucketAccessRoleArn": "arn:r"})["LocationArn"]
    task_arn = ds.create_task(SourceLocationArn=src, DestinationLocationArn=dst)["TaskArn"]
    op = datasync_operator("/261120_*|/20261120_*", task_id="transfer_runs")
    assert op.pool == "datasync" and op.max_iterations * op.wait_interval_seconds >= 24 * 3600
    op.task_arn = task_arn  # the rendered template
    monkeypatch.setattr(op, "wait_interval_seconds", 0)
    op.hook.wait_interval_seconds = 0
    op.execute(_ti_context())
    assert of(calls, "datasync", "StartTaskExecution") == [{
        "TaskArn": task_arn, "Includes": [{"FilterType": "SIMPLE_PATTERN", "Value": "/261120_*|/20261120_*"}]}]
    assert of(calls, "datasync", "DescribeTaskExecution")


def _datasync_task():
    ds = boto3.client("datasync", region_name=REGION)
    src = ds.create_location_smb(ServerHostname="nas", Subdirectory="/runs", User="u", Password="p",
                                 AgentArns=["arn:aws:datasync:eu-west-1:123456789012:agent/agent-1"])["LocationArn"]
    dst = ds.create_location_s3(S3BucketArn="arn:aws:s3:::raw", S3Config={"BucketAccessRoleArn": "arn:r"})["LocationArn"]
    return ds.create_task(SourceLocationArn=src, DestinationLocationArn=dst)["TaskArn"]


def test_datasync_max_wait_exceeded_cancels_the_execution_and_fails(moto, calls):
    from seqflow.aws.ingest import datasync_operator

    op = datasync_operator("/261120_*", task_id="transfer_runs")
    op.task_arn = _datasync_task()
    op.max_iterations = 1
    op.hook.wait_interval_seconds = 0
    with pytest.raises(BaseException, match="Max iterations exceeded"):  # AirflowTaskTimeout
        op.execute(_ti_context())
    [cancel] = of(calls, "datasync", "CancelTaskExecution")
    assert cancel["TaskExecutionArn"] == of(calls, "datasync", "DescribeTaskExecution")[0]["TaskExecutionArn"]


def test_killed_transfer_cancels_the_execution(moto, calls):
    from seqflow.aws.ingest import datasync_operator

    op = datasync_operator("/261120_*", task_id="transfer_runs")
    op.task_arn = _datasync_task()
    op.task_execution_arn = op.hook.start_task_execution(op.task_arn)
    op.on_kill()
    assert of(calls, "datasync", "CancelTaskExecution") == [{"TaskExecutionArn": op.task_execution_arn}]


@pytest.fixture
def raw(moto):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="raw", CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3


def _registry():
    from seqflow.registry import SqliteRunRegistry

    import tempfile

    return SqliteRunRegistry(tempfile.mkdtemp() + "/r.sqlite")


def test_complete_runs_of_the_window_in_the_raw_bucket_skip_ingested_ones(raw, monkeypatch):
    """After the flags-only DataSync execution: runs with a flag in the raw bucket are complete."""
    from seqflow.aws.backend import AwsBackend
    from seqflow.tasks.ingest import ScanSettings, raw_candidates, triage

    registry = _registry()

    class Backend(AwsBackend):
        def registry(self):
            return registry

    backend = Backend(settings=settings())
    done, copied, waiting, old = (RUN, "261119_A01234_0043_AHBJ8YDSXY", "261120_A01234_0044_AHBJ8YDSXY",
                                  "261001_A01234_0045_AHBJ8YDSXY")
    for run in (done, copied, old):
        raw.put_object(Bucket="raw", Key=f"runs/{run}/CopyComplete.txt", Body=b"")
    raw.put_object(Bucket="raw", Key=f"runs/{waiting}/RunInfo.xml", Body=b"x")  # copied before its flag
    raw.put_object(Bucket="raw", Key="runs/not_a_run/CopyComplete.txt", Body=b"")
    registry.put(done, "-", "ingested")
    now = dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc)
    seen = raw_candidates(now, ScanSettings(), backend=backend)
    assert seen == {done: True, copied: True, waiting: False}  # the 50-day-old run is outside the window
    assert triage(seen, now, ScanSettings(), backend=backend) == [copied]
    assert registry.get(copied).status == "ingesting" and registry.get(waiting).status == "waiting"


def test_flag_sensor_finds_a_zero_byte_flag_and_only_a_real_one(raw):
    from seqflow.aws.ingest import flag_key_pattern, is_completion_flag

    assert flag_key_pattern(RUN, settings()) == f"runs/{RUN}/*Complete.txt"
    assert is_completion_flag([{"Key": f"runs/{RUN}/CopyComplete.txt", "Size": 0}])
    assert is_completion_flag([{"Key": f"runs/{RUN}/RTAComplete.txt", "Size": 0}])
    assert not is_completion_flag([{"Key": f"runs/{RUN}/Data/SequenceComplete.txt", "Size": 0}])

    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

    sensor = S3KeySensor(task_id="flag", bucket_name="raw", bucket_key=flag_key_pattern(RUN, settings()),
                         wildcard_match=True, check_fn=is_completion_flag)
    assert sensor.poke({}) is False
    raw.put_object(Bucket="raw", Key=f"runs/{RUN}/CopyComplete.txt", Body=b"")
    assert sensor.poke({}) is True


def test_flag_sensor_is_deferrable_with_an_explicit_timeout():
    from airflow.sdk import DAG

    from seqflow.aws.ingest import FLAG_TIMEOUT_S, flag_sensor, mark_incomplete_on_timeout

    with DAG("t", schedule=None):
        mapped = flag_sensor(["a"])
    assert mapped.partial_kwargs["deferrable"] is True
    assert mapped.partial_kwargs["timeout"] == FLAG_TIMEOUT_S
    assert mapped.partial_kwargs["on_failure_callback"] == [mark_incomplete_on_timeout] or \
        mapped.partial_kwargs["on_failure_callback"] == mark_incomplete_on_timeout


def test_timeout_records_the_run_incomplete(monkeypatch):
    from airflow.exceptions import AirflowSensorTimeout

    import seqflow.aws.alerts
    import seqflow.aws.registry
    from seqflow.aws import ingest

    registry = _registry()
    monkeypatch.setattr(seqflow.aws.registry, "aws_registry", lambda *a: registry)
    monkeypatch.setattr(seqflow.aws.alerts, "on_task_failure", lambda context: None)

    class Task:
        bucket_key = f"runs/{RUN}/*Complete.txt"

    class TI:
        task = Task()

    ingest.mark_incomplete_on_timeout({"ti": TI(), "exception": AirflowSensorTimeout("timed out")})
    assert registry.get(RUN).status == "incomplete"


#: a sample job as plan makes it on the aws profile (FASTQ, reference and ploidy file URIs from the catalogue)
JOB = {"run_id": RUN, "pipeline_version": "1.0.0", "sample_id": "S1",
       "r1": [f"s3://raw/runs/{RUN}/S1_S1_R1_001.fastq.gz"], "r2": [f"s3://raw/runs/{RUN}/S1_S1_R2_001.fastq.gz"],
       "aligner": "bwa", "caller": "bcftools", "reference": "lambda",
       "ploidy_file": "s3://raw/references/lambda/lambda.ploidy",
       "reference_fasta": "s3://raw/references/lambda/lambda.fa"}
OUT = f"s3://results/results/{RUN}/1.0.0/lambda/bwa-bcftools/S1/"


def test_sample_requests_chain_the_steps_through_the_results_prefix():
    from seqflow.aws.batch import BATCH_STEPS, sample_requests

    requests = sample_requests(JOB, settings())
    assert list(requests) == list(BATCH_STEPS) == ["fastp", "align", "call_variants", "bam_qc", "vcf_stats"]
    out = OUT  # the results prefix carries the whole analysis identity
    for request in requests.values():
        assert request["tags"] == {"run_id": RUN, "sample_id": "S1", "project": "seqflow-test",
                                   "pipeline_version": "1.0.0"}
        env = {e["name"]: e["value"] for e in request["container_overrides"]["environment"]}
        assert env["SEQFLOW_OUTPUT_URI"] == out
    align = requests["align"]
    assert align["job_definition"] == "sf-align-bwa"
    assert align["parameters"] == {"sample_id": "S1", "reference": "inputs/lambda.fa",
                                   "r1": "inputs/S1.trimmed_R1.fastq.gz", "r2": "inputs/S1.trimmed_R2.fastq.gz"}
    env = {e["name"]: e["value"] for e in align["container_overrides"]["environment"]}
    # exactly the files the step declares: the FASTA with the bwa index beside it, the trimmed reads
    ref = "s3://raw/references/lambda/lambda.fa"
    assert env["SEQFLOW_INPUTS"].split() == [ref, *(ref + s for s in (".fai", ".amb", ".ann", ".bwt", ".pac", ".sa")),
                                             f"{out}S1.trimmed_R1.fastq.gz", f"{out}S1.trimmed_R2.fastq.gz"]
    call = requests["call_variants"]
    assert call["parameters"]["ploidy_file"] == "inputs/lambda.ploidy"
    call_env = {e["name"]: e["value"] for e in call["container_overrides"]["environment"]}
    assert JOB["ploidy_file"] in call_env["SEQFLOW_INPUTS"].split()
    assert all("command" not in r["container_overrides"] for r in requests.values())  # each step its definition
    assert requests["vcf_stats"]["job_definition"] == "sf-vcf-stats"
    minimap2 = sample_requests({**JOB, "aligner": "minimap2"}, settings())["align"]
    assert minimap2["job_definition"] == "sf-align-minimap2"
    minimap2_inputs = minimap2["container_overrides"]["environment"][0]["value"].split()
    assert ref + ".mmi" in minimap2_inputs and ref + ".bwt" not in minimap2_inputs


def test_sample_requests_refuse_unsafe_ids():
    from seqflow.aws.batch import sample_requests

    with pytest.raises(ValueError):
        sample_requests({**JOB, "sample_id": "../S1"}, settings())


@pytest.fixture
def batch_env(moto):
    return moto_batch_queue(("sf-fastp", "sf-align-bwa", "sf-call-variants-bcftools", "sf-bam-qc", "sf-vcf-stats"))


def _batch_operator(step="fastp"):
    from seqflow.aws.batch import SeqflowBatchOperator, sample_requests

    request = sample_requests(JOB, settings())[step]
    return SeqflowBatchOperator(task_id=step, deferrable=True, **request)


def _context():
    class TI:
        dag_id, run_id, task_id, map_index, try_number = "seqflow_analysis", "r", "batch.fastp", 0, 1

        def xcom_push(self, key, value):
            pass

    return {"ti": TI(), "task_instance": TI()}


def test_batch_job_submitted_with_the_request(batch_env, calls, monkeypatch):
    op = _batch_operator()
    monkeypatch.setattr(op, "_persist_links", lambda context: op.hook.get_job_description(op.job_id),
                        raising=False)  # provider internals newer than 9.12.0 (MWAA)
    monkeypatch.setattr(op, "_persist_cloudwatch_link", lambda context: None, raising=False)
    job_id = op.execute(_context())
    [submit] = of(calls, "batch", "SubmitJob")
    assert submit["jobName"] == f"seqflow_fastp_{RUN}_S1" and submit["jobDefinition"] == "sf-fastp"
    assert submit["jobQueue"] == "queue"
    assert submit["tags"]["sample_id"] == "S1" and submit["parameters"]["sample_id"] == "S1"
    assert set(submit["tags"]) == {"run_id", "sample_id", "project", "pipeline_version", "seqflow_task"}
    assert of(calls, "batch", "ListJobs") == []  # a first try has no earlier job to look for
    assert submit["containerOverrides"]["environment"][1]["value"] == OUT
    assert batch_env.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "SUCCEEDED"


def test_failed_batch_job_fails_the_task(batch_env, monkeypatch):
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")
    op = _batch_operator()
    monkeypatch.setattr(op, "_persist_links", lambda context: op.hook.get_job_description(op.job_id),
                        raising=False)  # provider internals newer than 9.12.0 (MWAA)
    monkeypatch.setattr(op, "_persist_cloudwatch_link", lambda context: None, raising=False)
    with pytest.raises(Exception, match="FAILED"):
        op.execute(_context())


def test_killed_task_terminates_its_batch_job(batch_env, calls):
    op = _batch_operator()
    op.job_id = "job-1"
    op.on_kill()
    [terminate] = of(calls, "batch", "TerminateJob")
    assert terminate["jobId"] == "job-1"


def test_deferred_batch_operator_waits_in_the_trigger(batch_env, monkeypatch):
    from airflow.providers.amazon.aws.triggers.batch import BatchJobTrigger
    from seqflow.compat import TaskDeferred

    op = _batch_operator()
    monkeypatch.setattr(op, "_persist_links", lambda context: {"status": "RUNNING"}, raising=False)
    # Amazon provider 9.12.0 (MWAA) reads the status from the hook itself
    monkeypatch.setattr(op.hook, "get_job_description", lambda job_id: {"jobId": job_id, "status": "RUNNING"})
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(_context())
    assert isinstance(deferred.value.trigger, BatchJobTrigger)
    assert deferred.value.trigger.serialize()[1]["job_id"] == op.job_id


# -- Glacier restore -------------------------------------------------------------------------


def test_restore_state_reads_the_restore_header():
    from seqflow.aws.restore import restore_state

    assert restore_state({"StorageClass": "STANDARD"}) == "online"
    assert restore_state({}) == "online"
    assert restore_state({"StorageClass": "GLACIER"}) == "archived"
    assert restore_state({"StorageClass": "DEEP_ARCHIVE", "Restore": 'ongoing-request="true"'}) == "restoring"
    assert restore_state({"StorageClass": "GLACIER",
                          "Restore": 'ongoing-request="false", expiry-date="Fri, 21 Dec 2026 00:00:00 GMT"'}) == "restored"


def test_archived_inputs_are_restored_with_the_tier_and_waited_for(raw, calls):
    from seqflow.aws.restore import restore_and_check

    keys = [f"runs/{RUN}/SampleSheet.csv", f"runs/{RUN}/S1_R1.fastq.gz", f"runs/{RUN}/S1_R2.fastq.gz"]
    raw.put_object(Bucket="raw", Key=keys[0], Body=b"x")
    raw.put_object(Bucket="raw", Key=keys[1], Body=b"x", StorageClass="GLACIER")
    raw.put_object(Bucket="raw", Key=keys[2], Body=b"x", StorageClass="DEEP_ARCHIVE")
    first = restore_and_check(raw, "raw", keys, "Expedited")
    assert first.ready == keys[:1] and first.requested == keys[1:] and not first.done
    restores = of(calls, "s3", "RestoreObject")
    assert restores == [
        {"Bucket": "raw", "Key": keys[1], "RestoreRequest": {"Days": 7, "GlacierJobParameters": {"Tier": "Expedited"}}},
        # Deep Archive has no Expedited tier
        {"Bucket": "raw", "Key": keys[2], "RestoreRequest": {"Days": 7, "GlacierJobParameters": {"Tier": "Standard"}}},
    ]
    second = restore_and_check(raw, "raw", keys, "Expedited")  # moto restores at once
    assert second.done and second.ready == keys
    assert len(of(calls, "s3", "RestoreObject")) == 2  # nothing asked for twice


def test_restore_in_progress_is_not_requested_again():
    from seqflow.aws.restore import restore_and_check

    class S3:
        def head_object(self, Bucket, Key):
            return {"StorageClass": "GLACIER", "Restore": 'ongoing-request="true"'}

        def restore_object(self, **kwargs):
            raise AssertionError("must not be called")

    status = restore_and_check(S3(), "raw", ["k"], "Bulk")
    assert status.in_progress == ["k"] and not status.done
