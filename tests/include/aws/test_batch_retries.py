"""A retried Batch step attaches to the job of its earlier try, and asks for more memory after an
out-of-memory exit: against moto, and with botocore's Stubber where the payload matters (moto's
jobs never run out of memory). Stubbed requests and responses are checked against botocore's
service model of Batch (the Stubber validates both); the SubmitJob arguments too."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from aws_helpers import REGION, RUN, moto_batch_queue, of, settings

JOB = {"run_id": RUN, "pipeline_version": "1.0.0", "sample_id": "S1",
       "r1": [f"s3://raw/runs/{RUN}/S1_S1_R1_001.fastq.gz"], "r2": [f"s3://raw/runs/{RUN}/S1_S1_R2_001.fastq.gz"],
       "aligner": "bwa", "caller": "bcftools", "reference": "lambda",
       "ploidy_file": "s3://raw/references/lambda/lambda.ploidy",
       "reference_fasta": "s3://raw/references/lambda/lambda.fa"}
OOM = "OutOfMemoryError: Container killed due to memory usage"


class _TI:
    dag_id, task_id, map_index = "seqflow_analysis", "sample.align", 3

    def __init__(self, try_number: int, run_id: str = "manual__2026-11-20"):
        self.try_number, self.run_id = try_number, run_id

    def xcom_push(self, key, value):
        pass


def _context(try_number=1, run_id="manual__2026-11-20"):
    ti = _TI(try_number, run_id)
    return {"ti": ti, "task_instance": ti}


def _operator(step="align"):
    from seqflow.aws.batch import SeqflowBatchOperator, sample_requests

    request = sample_requests(JOB, settings())[step]
    op = SeqflowBatchOperator(task_id=step, deferrable=True, **request)
    op._persist_links = lambda context: op.hook.get_job_description(op.job_id)
    op._persist_cloudwatch_link = lambda context: None
    return op


@pytest.fixture
def batch_env(moto):
    return moto_batch_queue(("sf-fastp", "sf-align-bwa"))


def test_the_request_carries_the_steps_memory_cap_from_the_catalogue():
    from seqflow.analysis.catalog import catalog
    from seqflow.aws.batch import MEMORY_CAP_FACTOR, memory_cap_mib, sample_requests

    requests = sample_requests(JOB, settings())
    for name, request in requests.items():
        impl = catalog().step(name, aligner="bwa", caller="bcftools")
        assert request["memory_cap_mib"] == memory_cap_mib(impl) == impl.resources.memory_mib * MEMORY_CAP_FACTOR
    assert requests["align"]["memory_cap_mib"] == 4 * 32768


def test_the_submit_job_request_matches_botocores_model_of_batch(batch_env, calls):
    from botocore.validate import validate_parameters

    from seqflow.aws.batch import with_memory

    op = _operator()
    op.container_overrides = with_memory(op.container_overrides, 65536)
    op.execute(_context())
    [submit] = of(calls, "batch", "SubmitJob")
    shape = boto3.client("batch", region_name=REGION).meta.service_model.operation_model("SubmitJob").input_shape
    validate_parameters(submit, shape)  # raises ParamValidationError on any key or type the API does not take
    assert submit["containerOverrides"]["resourceRequirements"] == [{"type": "MEMORY", "value": "65536"}]


def test_a_retry_attaches_to_the_job_its_earlier_try_submitted(batch_env, calls):
    first = _operator()
    job_id = first.execute(_context(try_number=1))
    # another DAG run (a forced re-analysis) has a job of the same name: it is not this task's
    _operator().execute(_context(try_number=1, run_id="manual__other"))
    calls.clear()
    retry = _operator()
    assert retry.execute(_context(try_number=2)) == job_id
    assert of(calls, "batch", "SubmitJob") == []
    [listed] = of(calls, "batch", "ListJobs")
    assert listed["jobQueue"] == "queue"
    assert listed["filters"] == [{"name": "JOB_NAME", "values": [f"seqflow_align_{RUN}_S1"]}]
    described = of(calls, "batch", "DescribeJobs")
    assert len(described[0]["jobs"]) == 2  # both jobs of the name, told apart by their task tag


def _job(job_id: str, status: str, *, created: int, memory: int = 32768, reason: str | None = None,
         task: str | None = None) -> dict:
    """A DescribeJobs job as Batch returns it for a container job (botocore's JobDetail shape)."""
    from seqflow.aws.batch import TASK_TAG, task_instance_key

    container = {"image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/seqflow/bwa:1",
                 "command": ["align.sh", "Ref::sample_id"],
                 "resourceRequirements": [{"type": "VCPU", "value": "16"}, {"type": "MEMORY", "value": str(memory)}]}
    job = {"jobArn": f"arn:aws:batch:{REGION}:123456789012:job/{job_id}", "jobName": f"seqflow_align_{RUN}_S1",
           "jobId": job_id, "jobQueue": f"arn:aws:batch:{REGION}:123456789012:job-queue/queue", "status": status,
           "createdAt": created, "startedAt": created + 10, "jobDefinition": "sf-align-bwa",
           "tags": {"run_id": RUN, "sample_id": "S1", "project": "seqflow-test", "pipeline_version": "1.0.0",
                    TASK_TAG: task or task_instance_key(_TI(2))},
           "container": container}
    if status == "FAILED":
        job["statusReason"] = "Essential container in task exited"
        job["stoppedAt"] = created + 100
        job["container"] = {**container, "exitCode": 137, "reason": reason}
        job["attempts"] = [{"container": {"exitCode": 137, "reason": reason,
                                          "taskArn": f"arn:aws:ecs:{REGION}:123456789012:task/c/1"},
                            "startedAt": created + 10, "stoppedAt": created + 100,
                            "statusReason": "Essential container in task exited"}]
    return job


def _stubbed(op, jobs: list[dict]):
    """``op`` with a stubbed Batch client answering ListJobs and DescribeJobs with ``jobs``."""
    client = boto3.client("batch", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response("list_jobs", {"jobSummaryList": [
        {"jobId": j["jobId"], "jobName": j["jobName"], "status": j["status"], "createdAt": j["createdAt"]}
        for j in jobs]}, {"jobQueue": "queue", "filters": [{"name": "JOB_NAME", "values": [op.job_name]}]})
    if jobs:
        stubber.add_response("describe_jobs", {"jobs": jobs}, {"jobs": [j["jobId"] for j in jobs]})
    op.hook.__dict__["conn"] = client
    return stubber


@pytest.mark.parametrize("status", ["RUNNABLE", "RUNNING", "SUCCEEDED"])
def test_a_retry_after_a_lost_worker_or_a_trigger_timeout_attaches_to_the_live_or_succeeded_job(aws_env, status):
    from seqflow.aws.batch import task_instance_key

    op = _operator()
    stubber = _stubbed(op, [_job("old-failed", "FAILED", created=1, reason="Essential container in task exited"),
                            _job("job-2", status, created=2),
                            _job("other-run", "RUNNING", created=3, task=task_instance_key(_TI(2, "other")))])
    with stubber:
        op.submit_job(_context(try_number=2))  # no submit_job stubbed: a SubmitJob would fail the test
    stubber.assert_no_pending_responses()
    assert op.job_id == "job-2"


def test_a_retry_after_an_out_of_memory_exit_asks_for_twice_the_memory(aws_env):
    from seqflow.aws.batch import out_of_memory

    failed = _job("job-1", "FAILED", created=1, reason=OOM)
    assert out_of_memory(failed)
    op = _operator()
    stubber = _stubbed(op, [failed])
    expected = {**op.container_overrides, "resourceRequirements": [{"type": "MEMORY", "value": "65536"}]}
    stubber.add_response("submit_job", {"jobName": op.job_name, "jobId": "job-2"}, {
        "jobName": op.job_name, "jobQueue": "queue", "jobDefinition": "sf-align-bwa", "parameters": op.parameters,
        "tags": {**op.tags, "seqflow_task": failed["tags"]["seqflow_task"]}, "containerOverrides": expected})
    with stubber:
        op.submit_job(_context(try_number=2))
    stubber.assert_no_pending_responses()
    assert op.job_id == "job-2"


def test_the_memory_doubles_up_to_the_cap_and_a_job_at_the_cap_is_not_retried(aws_env):
    from seqflow.aws.batch import BatchMemoryCapReached

    op = _operator()
    assert op.memory_cap_mib == 131072
    stubber = _stubbed(op, [_job("job-2", "FAILED", created=2, memory=98304, reason=OOM),
                            _job("job-1", "FAILED", created=1, memory=32768, reason=OOM)])
    stubber.add_response("submit_job", {"jobName": op.job_name, "jobId": "job-3"}, {
        "jobName": op.job_name, "jobQueue": "queue", "jobDefinition": "sf-align-bwa", "parameters": op.parameters,
        "tags": {**op.tags, "seqflow_task": _job("x", "RUNNING", created=0)["tags"]["seqflow_task"]},
        "containerOverrides": {**op.container_overrides,
                               "resourceRequirements": [{"type": "MEMORY", "value": "131072"}]}})
    with stubber:
        op.submit_job(_context(try_number=3))  # the newest job's memory, doubled, held at the cap
    assert op.job_id == "job-3"
    op = _operator()
    stubber = _stubbed(op, [_job("job-3", "FAILED", created=3, memory=131072, reason=OOM)])
    with stubber, pytest.raises(BatchMemoryCapReached, match=r"job-3 .*ran out of memory with 131072 MiB, the cap"):
        op.submit_job(_context(try_number=4))


def test_a_retry_after_another_failure_resubmits_with_the_same_memory(aws_env):
    op = _operator()
    before = dict(op.container_overrides)
    stubber = _stubbed(op, [_job("job-1", "FAILED", created=1, reason="CannotPullContainerError: pull access denied")])
    stubber.add_response("submit_job", {"jobName": op.job_name, "jobId": "job-2"}, {
        "jobName": op.job_name, "jobQueue": "queue", "jobDefinition": "sf-align-bwa", "parameters": op.parameters,
        "tags": {**op.tags, "seqflow_task": _job("x", "RUNNING", created=0)["tags"]["seqflow_task"]},
        "containerOverrides": before})
    with stubber:
        op.submit_job(_context(try_number=2))
    assert op.job_id == "job-2" and "resourceRequirements" not in op.container_overrides


def test_the_task_key_is_the_task_instance_not_the_try():
    from seqflow.aws.batch import task_instance_key

    assert task_instance_key(_TI(1)) == task_instance_key(_TI(5))
    assert task_instance_key(_TI(1)) != task_instance_key(_TI(1, "manual__other"))
    assert len(task_instance_key(_TI(1))) <= 256  # a Batch tag value
