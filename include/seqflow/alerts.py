"""Failure alerts. Local profile: one structured log line per failed task (the aws
profile publishes the same message to SNS, see ``seqflow.aws``)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("seqflow.alerts")


def failure_message(context: dict[str, Any]) -> dict[str, Any]:
    """What an operator needs to act on a failed task: run, sample, task, log link, error."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    params = context.get("params") or {}
    conf = getattr(dag_run, "conf", None) or {}
    return {
        "dag_id": getattr(ti, "dag_id", None),
        "dag_run_id": getattr(ti, "run_id", None),
        "task_id": getattr(ti, "task_id", None),
        "map_index": getattr(ti, "map_index", None),
        "try_number": getattr(ti, "try_number", None),
        "run_id": conf.get("run_id") or params.get("run_id"),
        "log_url": getattr(ti, "log_url", None),
        "error": str(context.get("exception") or ""),
    }


def on_task_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` of every seqflow task."""
    message = failure_message(context)
    log.error("ALERT seqflow task failed: %s", message)


def failure_callback(profile: str):
    """The failure callback of ``profile``'s tasks: a log line (local), plus SNS (aws)."""
    if profile == "aws":
        from seqflow.aws.alerts import on_task_failure as on_task_failure_sns

        return on_task_failure_sns
    return on_task_failure


def notify_request_end(message: dict[str, Any], profile: str | None = None) -> None:
    """The notice of a launch request that reached its final status (:func:`seqflow.launch.request_notice`)
    to its ``notify`` addresses: a log line naming them (local); on AWS also one SNS message to the alerts
    topic, the addresses in its ``notify`` attribute (:func:`seqflow.aws.alerts.publish_request_notice`)."""
    if profile is None:
        from seqflow.config import profile as active

        profile = active()
    log.warning("NOTICE seqflow launch request %s %s, to %s: %s", message.get("request_id"), message.get("status"),
                ", ".join(message.get("notify") or []), message)
    if profile == "aws":
        from seqflow.aws.alerts import publish_request_notice
        from seqflow.aws.settings import load_settings

        topic = load_settings().require("alerts_topic_arn")
        message_id = publish_request_notice(message, topic)
        log.info("launch request notice published to %s as %s", topic, message_id)
