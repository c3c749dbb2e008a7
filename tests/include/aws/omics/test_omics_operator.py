"""OmicsStartRunOperator: the StartRun it sends, idempotency across retries, waiting, kill, link."""

from __future__ import annotations

from unittest import mock

import pytest
from botocore.exceptions import ClientError
from omics_testkit import REGION, make_context, run_response, stub

from seqflow.compat import TaskDeferred
from seqflow.aws.omics import (
    OmicsRunCompleteTrigger,
    OmicsRunFailedError,
    OmicsRunLink,
    OmicsStartRunOperator,
)

ROLE = "arn:aws:iam::123456789012:role/seqflow-omics"
PARAMETERS = {
    "sample_id": "NA12878",
    "fastq_r1": "s3://raw/runs/260302_M00001_0042_000000000-ABCDE/NA12878_S1_L001_R1_001.fastq.gz",
    "fastq_r2": "s3://raw/runs/260302_M00001_0042_000000000-ABCDE/NA12878_S1_L001_R2_001.fastq.gz",
}


def make_operator(**overrides) -> OmicsStartRunOperator:
    kwargs = dict(
        task_id="omics_run",
        workflow_id="9876543",
        role_arn=ROLE,
        output_uri="s3://results/omics/",
        run_id="260302_M00001_0042_000000000-ABCDE",
        sample_id="NA12878",
        project="genomes-2026",
        pipeline_version="1.0.0",
        parameters=PARAMETERS,
        run_group_id="5555555",
        tags={"owner": "platform", "project": "must-not-win"},
        wait_for_completion=False,
        deferrable=False,
        waiter_delay=0,
        waiter_max_attempts=5,
        aws_conn_id="aws_default",
        region_name=REGION,
    )
    kwargs.update(overrides)
    return OmicsStartRunOperator(**kwargs)


def start_response(run_id: str, status: str = "PENDING") -> dict:
    return {
        "id": run_id,
        "arn": f"arn:aws:omics:{REGION}:123456789012:run/{run_id}",
        "status": status,
        "runOutputUri": f"s3://results/omics/{run_id}",
    }


def expected_start_params(request_id: str, **overrides) -> dict:
    params = {
        "requestId": request_id,
        "roleArn": ROLE,
        "outputUri": "s3://results/omics/",
        "workflowId": "9876543",
        "workflowType": "PRIVATE",
        "name": "260302_M00001_0042_000000000-ABCDE_NA12878_1.0.0",
        "parameters": PARAMETERS,
        "runGroupId": "5555555",
        "storageType": "DYNAMIC",
        "logLevel": "ALL",
        "tags": {
            "owner": "platform",
            "run_id": "260302_M00001_0042_000000000-ABCDE",
            "sample_id": "NA12878",
            "project": "genomes-2026",
            "pipeline_version": "1.0.0",
        },
    }
    params.update(overrides)
    return params


def test_start_run_sends_the_exact_request_and_pushes_run_id_arn_and_link():
    op = make_operator()
    context = make_context()
    token = op.base_request_id(context)
    stubber = stub(op.hook.conn)
    stubber.add_response("start_run", start_response("1234567"), expected_params=expected_start_params(token))
    stubber.add_response("get_run", run_response("1234567", "PENDING"), expected_params={"id": "1234567"})

    assert op.execute(context) == "1234567"

    stubber.assert_no_pending_responses()
    pushed = context["ti"].pushed
    assert pushed["omics_run_id"] == "1234567"
    assert pushed["omics_run_arn"] == f"arn:aws:omics:{REGION}:123456789012:run/1234567"
    assert pushed["omics_run_output_uri"] == "s3://results/omics/1234567"
    assert OmicsRunLink().format_link(**pushed[OmicsRunLink.key]) == (
        f"https://console.aws.amazon.com/omics/home?region={REGION}#/runs/1234567"
    )


def test_request_id_is_stable_across_tries_and_distinct_per_sample_and_dag_run():
    op = make_operator()
    first = op.base_request_id(make_context(try_number=1))
    assert first == op.base_request_id(make_context(try_number=2))
    assert first == make_operator().base_request_id(make_context(try_number=7))
    assert first.startswith("seqflow-") and len(first) <= 128
    assert first != make_operator(sample_id="NA12891").base_request_id(make_context())
    assert first != make_operator(pipeline_version="1.1.0").base_request_id(make_context())
    assert first != make_operator(run_id="260303_M00001_0043_000000000-ABCDF").base_request_id(make_context())
    assert first != op.base_request_id(make_context(dag_run_id="manual__2026-03-05T10:00:00+00:00"))
    assert first != op.base_request_id(make_context(map_index=3))
    assert make_operator(request_id="explicit").base_request_id(make_context()) == "explicit"


def test_retry_reattaches_to_the_run_of_the_first_try():
    """Two tries send the same requestId; HealthOmics answers both with the one run."""
    tokens = []
    for try_number in (1, 2):
        op = make_operator()
        context = make_context(try_number=try_number)
        token = op.base_request_id(context)
        tokens.append(token)
        stubber = stub(op.hook.conn)
        stubber.add_response("start_run", start_response("1234567"), expected_params=expected_start_params(token))
        stubber.add_response("get_run", run_response("1234567", "RUNNING"), expected_params={"id": "1234567"})
        assert op.execute(context) == "1234567"
        stubber.assert_no_pending_responses()
    assert tokens[0] == tokens[1]


def test_retry_after_a_failed_run_starts_the_next_generation():
    op = make_operator()
    context = make_context(try_number=2)
    token = op.base_request_id(context)
    stubber = stub(op.hook.conn)
    stubber.add_response("start_run", start_response("1111111"), expected_params=expected_start_params(token))
    stubber.add_response("get_run", run_response("1111111", "FAILED", "disk full"), expected_params={"id": "1111111"})
    stubber.add_response(
        "start_run", start_response("2222222"), expected_params=expected_start_params(f"{token}-g2")
    )
    stubber.add_response("get_run", run_response("2222222", "PENDING"), expected_params={"id": "2222222"})

    assert op.execute(context) == "2222222"
    stubber.assert_no_pending_responses()


def test_a_run_that_already_completed_is_not_waited_for_again():
    op = make_operator(wait_for_completion=True, deferrable=True)
    context = make_context(try_number=3)
    stubber = stub(op.hook.conn)
    stubber.add_response("start_run", start_response("1234567", "PENDING"))
    stubber.add_response("get_run", run_response("1234567", "COMPLETED"), expected_params={"id": "1234567"})
    assert op.execute(context) == "1234567"  # no TaskDeferred, no further GetRun
    stubber.assert_no_pending_responses()


def test_static_storage_and_optional_fields_reach_the_request():
    op = make_operator(
        storage_type="STATIC",
        storage_capacity=1200,
        run_name="custom name",
        log_level="ERROR",
        workflow_version_name="v1-0-0",
        cache_id="7777777",
        cache_behavior="CACHE_ON_FAILURE",
        start_run_kwargs={"retentionMode": "REMOVE"},
    )
    context = make_context()
    stubber = stub(op.hook.conn)
    stubber.add_response(
        "start_run",
        start_response("1234567"),
        expected_params=expected_start_params(
            op.base_request_id(context),
            storageType="STATIC",
            storageCapacity=1200,
            name="custom name",
            logLevel="ERROR",
            workflowVersionName="v1-0-0",
            cacheId="7777777",
            cacheBehavior="CACHE_ON_FAILURE",
            retentionMode="REMOVE",
        ),
    )
    stubber.add_response("get_run", run_response("1234567", "PENDING"))
    op.execute(context)
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"storage_type": "ELASTIC"}, "storage_type"),
        ({"storage_capacity": 100}, "storage_capacity"),
        ({"log_level": "DEBUG"}, "log_level"),
        ({"sample_id": ""}, "sample_id"),
        ({"output_uri": "/tmp/out"}, "output_uri"),
        ({"retention_mode": "KEEP"}, "retention_mode"),
        ({"cache_id": "4455667", "cache_behavior": "CACHE_SOMETIMES"}, "cache_behavior"),
        ({"cache_behavior": "CACHE_ON_FAILURE"}, "cache_behavior needs a cache_id"),
        ({"cache_id": "arn:aws:omics:eu-west-1:123456789012:runCache/4455667"}, "cache_id must be"),
    ],
)
def test_bad_arguments_fail_before_any_api_call(overrides, message):
    op = make_operator(**overrides)
    stubber = stub(op.hook.conn)  # no responses queued: any call would raise
    with pytest.raises(ValueError, match=message):
        op.execute(make_context())
    stubber.assert_no_pending_responses()


def test_waits_synchronously_until_completed():
    op = make_operator(wait_for_completion=True)
    stubber = stub(op.hook.conn)
    stubber.add_response("start_run", start_response("1234567"))
    stubber.add_response("get_run", run_response("1234567", "PENDING"))
    for status in ("STARTING", "RUNNING", "COMPLETED"):
        stubber.add_response("get_run", run_response("1234567", status), expected_params={"id": "1234567"})
    assert op.execute(make_context()) == "1234567"
    stubber.assert_no_pending_responses()


def test_synchronous_wait_fails_with_the_status_message():
    op = make_operator(wait_for_completion=True)
    stubber = stub(op.hook.conn)
    stubber.add_response("start_run", start_response("1234567"))
    stubber.add_response("get_run", run_response("1234567", "PENDING"))
    stubber.add_response("get_run", run_response("1234567", "FAILED", "Task call_variants failed"))
    with pytest.raises(OmicsRunFailedError, match="ended FAILED.*Task call_variants failed"):
        op.execute(make_context())


def test_deferrable_defers_to_the_run_complete_trigger():
    op = make_operator(wait_for_completion=True, deferrable=True, waiter_delay=30, waiter_max_attempts=99)
    stubber = stub(op.hook.conn)
    stubber.add_response("start_run", start_response("1234567"))
    stubber.add_response("get_run", run_response("1234567", "PENDING"))

    with pytest.raises(TaskDeferred) as deferred:
        op.execute(make_context())

    stubber.assert_no_pending_responses()
    trigger = deferred.value.trigger
    assert isinstance(trigger, OmicsRunCompleteTrigger)
    assert deferred.value.method_name == "execute_complete"
    classpath, kwargs = trigger.serialize()
    assert classpath == "seqflow.aws.omics.triggers.OmicsRunCompleteTrigger"
    assert kwargs == {
        "omics_run_id": "1234567",
        "waiter_delay": 30,
        "waiter_max_attempts": 99,
        "aws_conn_id": "aws_default",
        "region_name": REGION,
    }


def test_execute_complete_returns_the_run_id_or_raises_the_run_message():
    op = make_operator()
    ok = {"status": "success", "omics_run_id": "1234567", "run_status": "COMPLETED", "message": "done"}
    assert op.execute_complete(make_context(), ok) == "1234567"
    failed = {
        "status": "error",
        "omics_run_id": "1234567",
        "run_status": "CANCELLED",
        "message": "HealthOmics run 1234567 ended CANCELLED (statusMessage: cancelled by user)",
    }
    with pytest.raises(OmicsRunFailedError, match="cancelled by user"):
        op.execute_complete(make_context(), failed)


def test_on_kill_cancels_the_run():
    op = make_operator()
    stubber = stub(op.hook.conn)
    stubber.add_response("start_run", start_response("1234567"))
    stubber.add_response("get_run", run_response("1234567", "RUNNING"))
    stubber.add_response("cancel_run", {}, expected_params={"id": "1234567"})
    op.execute(make_context())
    op.on_kill()
    stubber.assert_no_pending_responses()


def test_on_kill_before_a_run_exists_or_after_it_ended_does_not_raise():
    op = make_operator()
    stubber = stub(op.hook.conn)
    op.on_kill()  # nothing started: no call at all
    op.omics_run_id = "1234567"
    stubber.add_client_error("cancel_run", service_error_code="ConflictException", http_status_code=409)
    op.on_kill()
    stubber.assert_no_pending_responses()
    assert not make_operator(cancel_on_kill=False).on_kill()


def test_extra_link_reads_the_persisted_run():
    op = make_operator()
    link = OmicsRunLink()
    assert [type(extra) for extra in op.operator_extra_links] == [OmicsRunLink]
    persisted = {"region_name": "us-east-1", "aws_domain": "aws.amazon.com", "run_id": "7654321"}
    with mock.patch("airflow.providers.amazon.aws.links.base_aws.XCom.get_value", return_value=persisted):
        url = link.get_link(op, ti_key=mock.sentinel.ti_key)
    assert url == "https://console.aws.amazon.com/omics/home?region=us-east-1#/runs/7654321"
    assert link.name == "AWS HealthOmics Run"


def test_client_error_on_start_is_not_swallowed():
    op = make_operator()
    stubber = stub(op.hook.conn)
    stubber.add_client_error("start_run", service_error_code="AccessDeniedException", http_status_code=403)
    with pytest.raises(ClientError, match="AccessDenied"):
        op.execute(make_context())


def test_arguments_are_templated_from_params_and_variables():
    op = make_operator(
        sample_id="{{ params.sample_id }}",
        run_id="{{ params.run_id }}",
        parameters={"sample_id": "{{ params.sample_id }}"},
        tags={"requested_by": "{{ params.who }}"},
    )
    op.render_template_fields({"params": {"sample_id": "NA12891", "run_id": "260302_X", "who": "ops"}})
    assert (op.sample_id, op.run_id) == ("NA12891", "260302_X")
    assert op.parameters == {"sample_id": "NA12891"}
    assert op.run_tags() == {
        "requested_by": "ops",
        "run_id": "260302_X",
        "sample_id": "NA12891",
        "project": "genomes-2026",
        "pipeline_version": "1.0.0",
    }
