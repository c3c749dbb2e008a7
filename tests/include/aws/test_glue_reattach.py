"""A retried converter task waits for its earlier try's Glue run instead of starting a second one
(seqflow.aws.glue_reattach), against moto's Glue with manual run states. In tests/include/aws, so
the MWAA check runs it on the Amazon provider 9.12.0 too, where seqflow.compat.glue_job_operator
picks this operator (the newer providers' ``durable`` does it there)."""

from __future__ import annotations

import pytest

from aws_helpers import REGION

JOB = "sf-vcf-to-parquet"
ARGS = {"--manifest_uri": "s3://lake/lake/_manifests/RUN/1.0.0/lambda/bwa-bcftools/manifest.json",
        "--lake_uri": "s3://lake/lake"}


class _TI:
    dag_id, task_id, map_index, run_id = "seqflow_analysis", "convert_to_parquet", 0, "manual__2026-11-20"

    def __init__(self, try_number: int):
        self.try_number = try_number

    def xcom_push(self, key, value):  # the provider's run link
        pass

    def xcom_pull(self, **kwargs):  # newer providers look for an earlier try's run id: none was kept
        return None


@pytest.fixture
def glue(moto):
    import boto3
    from moto.moto_api import state_manager

    # runs stay where a test puts them (moto would otherwise advance them at each read)
    state_manager.set_transition(model_name="glue::job_run", transition={"progression": "manual", "times": 10**6})
    client = boto3.client("glue", region_name=REGION)
    client.create_job(Name=JOB, Role="arn:aws:iam::123456789012:role/glue",
                      Command={"Name": "glueetl", "ScriptLocation": "s3://code/job.py"},
                      ExecutionProperty={"MaxConcurrentRuns": 20})  # as Terraform declares it
    yield client
    state_manager.unset_transition("glue::job_run")


def _end(run_id: str, state: str) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.glue.models import glue_backends

    [run] = [r for r in glue_backends[DEFAULT_ACCOUNT_ID][REGION].jobs[JOB].job_runs if r.job_run_id == run_id]
    run.status = state


def _operator():
    from seqflow.aws.glue_reattach import ReattachingGlueJobOperator

    return ReattachingGlueJobOperator(task_id="convert_to_parquet", job_name=JOB, script_args=dict(ARGS),
                                      deferrable=True, region_name=REGION, waiter_delay=1, waiter_max_attempts=3)


def _run(try_number: int):
    from seqflow.compat import TaskDeferred

    with pytest.raises(TaskDeferred) as deferred:
        _operator().execute({"ti": _TI(try_number), "task_instance": _TI(try_number)})
    return deferred.value.trigger.run_id


def test_a_retry_waits_for_the_active_run_of_its_first_try(glue, calls):
    first = _run(1)
    assert [op for svc, op, _ in calls if op == "StartJobRun"] == ["StartJobRun"]
    assert glue.get_job_run(JobName=JOB, RunId=first)["JobRun"]["JobRunState"] == "STARTING"
    assert _run(2) == first  # reattached: no second StartJobRun
    assert [op for svc, op, _ in calls if op == "StartJobRun"] == ["StartJobRun"]


def test_a_first_try_other_arguments_or_an_ended_run_start_a_new_run(glue, calls):
    from seqflow.aws.glue_reattach import active_run

    other = glue.start_job_run(JobName=JOB, Arguments={**ARGS, "--manifest_uri": "s3://lake/other.json"})["JobRunId"]
    assert active_run(glue, JOB, ARGS) is None  # another analysis's run is not this task's
    first = _run(1)
    assert first != other
    assert active_run(glue, JOB, ARGS) == first
    _end(first, "FAILED")  # the earlier try's run ended (moto has no BatchStopJobRun)
    assert glue.get_job_run(JobName=JOB, RunId=first)["JobRun"]["JobRunState"] == "FAILED"
    again = _run(2)
    assert again not in (first, other)
    assert len([op for svc, op, _ in calls if op == "StartJobRun"]) == 3


def test_compat_picks_durable_where_the_provider_has_it_else_the_reattaching_operator():
    import inspect

    from airflow.providers.amazon.aws.operators.glue import GlueJobOperator

    from seqflow.aws.glue_reattach import ReattachingGlueJobOperator
    from seqflow.compat import glue_job_operator

    operator, kwargs = glue_job_operator()
    if "durable" in inspect.signature(GlueJobOperator.__init__).parameters:
        assert (operator, kwargs) == (GlueJobOperator, {"durable": True})
    else:  # Amazon provider 9.12.0, MWAA 3.0.6
        assert (operator, kwargs) == (ReattachingGlueJobOperator, {})
