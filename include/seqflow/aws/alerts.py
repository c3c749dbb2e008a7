"""Failure alerts of the ``aws`` profile: the local log line, then an SNS message.

The message is :func:`seqflow.alerts.failure_message` (run, task, try, log
link, error) plus the sample of a per-sample task (its map index label), as
JSON, to the topic of ``seqflow_alerts_topic_arn``. An alert that cannot be
published is logged, never raised: a callback must not hide the task's error.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from seqflow.alerts import failure_message, on_task_failure as log_failure

log = logging.getLogger("seqflow.alerts")

#: SNS subjects are limited to 100 characters
SUBJECT_MAX = 100


def alert_message(context: dict[str, Any]) -> dict[str, Any]:
    """The failure message with the sample id of per-sample tasks."""
    message = failure_message(context)
    ti = context.get("ti") or context.get("task_instance")
    sample = getattr(ti, "rendered_map_index", None)
    if not sample:
        sample = (context.get("params") or {}).get("sample_id")
    message["sample_id"] = sample
    if not message.get("run_id"):
        message["run_id"] = (context.get("params") or {}).get("run_id")
    return message


def subject(message: dict[str, Any]) -> str:
    parts = ["seqflow failed:", str(message.get("task_id"))]
    if message.get("run_id"):
        parts.append(str(message["run_id"]))
    if message.get("sample_id"):
        parts.append(str(message["sample_id"]))
    return " ".join(parts)[:SUBJECT_MAX]


def publish_alert(message: dict[str, Any], topic_arn: str, *, hook=None) -> str:
    """Publish one alert; returns the SNS message id."""
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    from seqflow.aws.settings import AWS_CONN_ID

    hook = hook or SnsHook(aws_conn_id=AWS_CONN_ID)
    response = hook.publish_to_target(
        target_arn=topic_arn,
        message=json.dumps(message, sort_keys=True, default=str),
        subject=subject(message),
        message_attributes={"dag_id": str(message.get("dag_id")), "task_id": str(message.get("task_id"))},
    )
    return response["MessageId"]


def request_subject(message: dict[str, Any]) -> str:
    return f"seqflow launch request {message.get('request_id')} {str(message.get('status')).replace('_', ' ')}"[
        :SUBJECT_MAX]


def publish_request_notice(message: dict[str, Any], topic_arn: str, *, hook=None) -> str:
    """The notice of a launch request at its final status, to the alerts topic; its ``notify`` addresses
    are the ``notify`` attribute (a String.Array: an e-mail subscription's filter policy selects its own
    address) and in the message. Returns the SNS message id."""
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    from seqflow.aws.settings import AWS_CONN_ID

    hook = hook or SnsHook(aws_conn_id=AWS_CONN_ID)
    attributes: dict[str, Any] = {"event": "launch_request", "status": str(message.get("status"))}
    if message.get("notify"):
        attributes["notify"] = list(message["notify"])
    response = hook.publish_to_target(target_arn=topic_arn, message=json.dumps(message, sort_keys=True, default=str),
                                      subject=request_subject(message), message_attributes=attributes)
    return response["MessageId"]


def on_task_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` of every task in the aws profile."""
    log_failure(context)
    message = alert_message(context)
    try:
        from seqflow.aws.settings import load_settings

        topic = load_settings().require("alerts_topic_arn")
        message_id = publish_alert(message, topic)
        log.info("alert published to %s as %s", topic, message_id)
    except Exception:  # noqa: BLE001 - the alert must never mask the task's own failure
        log.exception("could not publish the failure alert to SNS: %s", message)
