"""OmicsHook: the API calls it makes, its states and its run_complete waiter."""

from __future__ import annotations

import json

import botocore.session
import pytest
from omics_testkit import REGION, run_response, stub

from seqflow.aws.omics.hooks import WAITERS_DIR, OmicsHook, OmicsRunFailedError


@pytest.fixture
def hook():
    return OmicsHook(aws_conn_id="aws_default", region_name=REGION)


def test_states_partition_the_services_run_statuses():
    """Every RunStatus the installed botocore knows is in exactly one of the state tuples."""
    statuses = botocore.session.get_session().get_service_model("omics").shape_for("RunStatus").enum
    tuples = OmicsHook.INTERMEDIATE_STATES + OmicsHook.SUCCESS_STATES + OmicsHook.FAILURE_STATES
    assert sorted(tuples) == sorted(statuses)
    assert OmicsHook.FAILURE_STATES == ("FAILED", "CANCELLED", "DELETED")
    assert OmicsHook.SUCCESS_STATES == ("COMPLETED",)


def test_run_complete_waiter_agrees_with_the_state_tuples(hook):
    model = json.loads((WAITERS_DIR / "omics.json").read_text())["waiters"]["run_complete"]
    by_state: dict[str, set[str]] = {}
    for acceptor in model["acceptors"]:
        assert (acceptor["matcher"], acceptor["argument"]) == ("path", "status")
        by_state.setdefault(acceptor["state"], set()).add(acceptor["expected"])
    assert by_state == {
        "success": set(OmicsHook.SUCCESS_STATES),
        "retry": set(OmicsHook.INTERMEDIATE_STATES),
        "failure": set(OmicsHook.FAILURE_STATES),
    }
    assert model["operation"] == "GetRun"
    assert "run_complete" in hook.list_waiters()


def test_builtin_waiter_would_not_stop_on_cancelled():
    """Why the custom waiter exists: botocore's RunCompleted has no CANCELLED/DELETED acceptor."""
    model = botocore.session.get_session().get_waiter_model("omics")
    expected = {a.expected for a in model.get_waiter("RunCompleted").acceptors}
    assert "CANCELLED" not in expected and "DELETED" not in expected


def test_client_is_omics(hook):
    assert hook.client_type == "omics"
    assert hook.conn.meta.service_model.service_name == "omics"
    assert hook.conn.meta.region_name == REGION


def test_start_run_sends_exactly_the_given_parameters(hook):
    stubber = stub(hook.conn)
    stubber.add_response(
        "start_run",
        {"id": "1234567", "arn": f"arn:aws:omics:{REGION}:123456789012:run/1234567", "status": "PENDING"},
        expected_params={
            "requestId": "token-1",
            "roleArn": "arn:aws:iam::123456789012:role/omics",
            "outputUri": "s3://results/omics/",
            "workflowId": "9876543",
            "parameters": {"sample_id": "S1"},
            "tags": {"run_id": "R1"},
        },
    )
    response = hook.start_run(
        request_id="token-1",
        role_arn="arn:aws:iam::123456789012:role/omics",
        output_uri="s3://results/omics/",
        workflowId="9876543",
        parameters={"sample_id": "S1"},
        tags={"run_id": "R1"},
        runGroupId=None,  # None is left out, not sent
    )
    assert response["id"] == "1234567"
    stubber.assert_no_pending_responses()


def test_get_run_state_and_cancel_run(hook):
    stubber = stub(hook.conn)
    stubber.add_response("get_run", run_response("1234567", "RUNNING"), expected_params={"id": "1234567"})
    stubber.add_response("cancel_run", {}, expected_params={"id": "1234567"})
    assert hook.get_run_state("1234567") == "RUNNING"
    hook.cancel_run("1234567")
    stubber.assert_no_pending_responses()


def test_wait_for_run_returns_on_completed(hook):
    stubber = stub(hook.conn)
    for status in ("PENDING", "STARTING", "RUNNING", "COMPLETED"):
        stubber.add_response("get_run", run_response("1234567", status), expected_params={"id": "1234567"})
    hook.wait_for_run("1234567", waiter_delay=0, waiter_max_attempts=10)
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED", "DELETED"])
def test_wait_for_run_raises_with_the_status_message(hook, status):
    stubber = stub(hook.conn)
    stubber.add_response("get_run", run_response("1234567", "RUNNING"), expected_params={"id": "1234567"})
    stubber.add_response(
        "get_run",
        run_response("1234567", status, "Task align exited 137: out of memory"),
        expected_params={"id": "1234567"},
    )
    with pytest.raises(OmicsRunFailedError) as excinfo:
        hook.wait_for_run("1234567", waiter_delay=0, waiter_max_attempts=10)
    message = str(excinfo.value)
    assert f"HealthOmics run 1234567 ended {status}" in message
    assert "Task align exited 137: out of memory" in message
    assert excinfo.value.run["status"] == status
    stubber.assert_no_pending_responses()


def test_wait_for_run_gives_up_after_max_attempts(hook):
    stubber = stub(hook.conn)
    for _ in range(3):
        stubber.add_response("get_run", run_response("1234567", "RUNNING"), expected_params={"id": "1234567"})
    with pytest.raises(Exception, match="max attempts"):
        hook.wait_for_run("1234567", waiter_delay=0, waiter_max_attempts=3)
    stubber.assert_no_pending_responses()


def test_failure_message_names_status_message_and_failure_reason():
    run = run_response("42", "FAILED", "bwa: index not found", failureReason="WORKFLOW_RUN_FAILED")
    assert OmicsHook.failure_message(run) == (
        "HealthOmics run 42 ended FAILED (statusMessage: bwa: index not found; failureReason: WORKFLOW_RUN_FAILED)"
    )
    assert OmicsHook.failure_message({"id": "42", "status": "DELETED"}) == "HealthOmics run 42 ended DELETED"
