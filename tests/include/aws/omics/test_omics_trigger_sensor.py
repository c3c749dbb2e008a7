"""OmicsRunCompleteTrigger and OmicsRunSensor end right on every terminal state."""

from __future__ import annotations

import asyncio

import pytest
from omics_testkit import REGION, make_context, run_response, stub

from seqflow.compat import TaskDeferred
from seqflow.aws.omics import OmicsHook, OmicsRunCompleteTrigger, OmicsRunFailedError, OmicsRunSensor

FAILURES = {
    "FAILED": "Task align failed: exit code 137",
    "CANCELLED": "Run cancelled by user",
    "DELETED": "Run deleted",
}


def stubbed_trigger(statuses, *, attempts: int = 10, messages: dict[str, str] | None = None):
    """A trigger whose hook answers GetRun with the given statuses, in order."""
    trigger = OmicsRunCompleteTrigger(
        omics_run_id="1234567", waiter_delay=0, waiter_max_attempts=attempts, region_name=REGION
    )
    hook = OmicsHook(aws_conn_id="aws_default", region_name=REGION)
    stubber = stub(hook.conn)
    for status in statuses:
        if status == "THROTTLED":
            stubber.add_client_error("get_run", service_error_code="ThrottlingException", http_status_code=429)
        elif status == "DENIED":
            stubber.add_client_error("get_run", service_error_code="AccessDeniedException", http_status_code=403)
        else:
            message = (messages or FAILURES).get(status)
            stubber.add_response("get_run", run_response("1234567", status, message), expected_params={"id": "1234567"})
    trigger.hook = lambda: hook  # type: ignore[method-assign]
    return trigger, stubber


def first_event(trigger):
    async def collect():
        async for event in trigger.run():
            return event.payload
        return None

    return asyncio.run(collect())


def test_trigger_succeeds_on_completed():
    trigger, stubber = stubbed_trigger(["PENDING", "STARTING", "RUNNING", "STOPPING", "COMPLETED"])
    assert first_event(trigger) == {
        "status": "success",
        "omics_run_id": "1234567",
        "run_status": "COMPLETED",
        "message": "HealthOmics run 1234567 completed",
    }
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("status", sorted(FAILURES))
def test_trigger_fails_on_failure_states_with_the_status_message(status):
    trigger, stubber = stubbed_trigger(["RUNNING", status])
    event = first_event(trigger)
    assert event["status"] == "error"
    assert event["run_status"] == status
    assert event["omics_run_id"] == "1234567"
    assert event["message"] == f"HealthOmics run 1234567 ended {status} (statusMessage: {FAILURES[status]})"
    stubber.assert_no_pending_responses()


def test_trigger_gives_up_after_max_attempts():
    trigger, stubber = stubbed_trigger(["RUNNING"] * 3, attempts=3)
    event = first_event(trigger)
    assert event["status"] == "error" and event["run_status"] is None
    assert "still not finished after 3 polls" in event["message"]
    stubber.assert_no_pending_responses()


def test_trigger_retries_throttling_without_spending_attempts():
    trigger, stubber = stubbed_trigger(["THROTTLED", "RUNNING", "THROTTLED", "COMPLETED"], attempts=2)
    assert first_event(trigger)["status"] == "success"
    stubber.assert_no_pending_responses()


def test_trigger_reports_a_non_retriable_api_error():
    trigger, stubber = stubbed_trigger(["DENIED"])
    event = first_event(trigger)
    assert event["status"] == "error" and "AccessDeniedException" in event["message"]


def test_trigger_serialises_and_round_trips():
    trigger = OmicsRunCompleteTrigger(
        omics_run_id="1234567", waiter_delay=30, waiter_max_attempts=120, aws_conn_id="omics", region_name=REGION
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "seqflow.aws.omics.triggers.OmicsRunCompleteTrigger"
    again = OmicsRunCompleteTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    hook = again.hook()
    assert isinstance(hook, OmicsHook) and hook.aws_conn_id == "omics" and hook.region_name == REGION


def make_sensor(**overrides) -> OmicsRunSensor:
    kwargs = dict(task_id="wait_omics", omics_run_id="1234567", aws_conn_id="aws_default", region_name=REGION)
    kwargs.update(overrides)
    return OmicsRunSensor(**kwargs)


@pytest.mark.parametrize("status", OmicsHook.INTERMEDIATE_STATES)
def test_sensor_keeps_waiting_while_the_run_is_active(status):
    sensor = make_sensor()
    stubber = stub(sensor.hook.conn)
    stubber.add_response("get_run", run_response("1234567", status), expected_params={"id": "1234567"})
    assert sensor.poke(make_context()) is False
    stubber.assert_no_pending_responses()


def test_sensor_succeeds_on_completed():
    sensor = make_sensor()
    stubber = stub(sensor.hook.conn)
    stubber.add_response("get_run", run_response("1234567", "COMPLETED"), expected_params={"id": "1234567"})
    assert sensor.poke(make_context()) is True


@pytest.mark.parametrize("status", sorted(FAILURES))
def test_sensor_fails_on_failure_states_with_the_status_message(status):
    sensor = make_sensor()
    stubber = stub(sensor.hook.conn)
    stubber.add_response("get_run", run_response("1234567", status, FAILURES[status]), expected_params={"id": "1234567"})
    with pytest.raises(OmicsRunFailedError) as excinfo:
        sensor.poke(make_context())
    assert str(excinfo.value) == f"HealthOmics run 1234567 ended {status} (statusMessage: {FAILURES[status]})"


def test_sensor_execute_pokes_until_completed_and_persists_the_link():
    sensor = make_sensor(poke_interval=0, timeout=30)
    context = make_context()
    stubber = stub(sensor.hook.conn)
    for status in ("RUNNING", "COMPLETED"):
        stubber.add_response("get_run", run_response("1234567", status), expected_params={"id": "1234567"})
    sensor.execute(context)
    stubber.assert_no_pending_responses()
    assert context["ti"].pushed["omics_run"]["run_id"] == "1234567"


def test_deferrable_sensor_defers_to_the_trigger():
    sensor = make_sensor(deferrable=True, poke_interval=45, max_retries=200)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(make_context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, OmicsRunCompleteTrigger)
    assert (trigger.omics_run_id, trigger.waiter_delay, trigger.attempts) == ("1234567", 45, 200)
    assert deferred.value.method_name == "execute_complete"


@pytest.mark.parametrize("status", sorted(FAILURES))
def test_sensor_resumes_from_the_trigger_event(status):
    sensor = make_sensor(deferrable=True)
    sensor.execute_complete(make_context(), {"status": "success", "omics_run_id": "1234567"})
    trigger, _ = stubbed_trigger([status])
    with pytest.raises(OmicsRunFailedError, match=FAILURES[status]):
        sensor.execute_complete(make_context(), first_event(trigger))
