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
