"""The ingest's edges on AWS: DataSync executions and the flag sensors in S3.

The on-prem landing share is DataSync's source location, which Airflow cannot
list; so DataSync finds the complete runs itself. Each scan starts one cheap
execution whose include filter names only the flag files
(``/*/CopyComplete.txt|/*/RTAComplete.txt``, plus the QA flag where one is
configured): the share is listed and a few empty files are copied. The raw
bucket then shows which runs are complete (``seqflow.tasks.ingest.find_runs``),
and a second execution copies exactly those runs (``/RUN_A|/RUN_B``). DataSync
copies incrementally, so runs already copied cost a listing only.

Task bodies (``*_task`` helpers are called from the DAG's ``@task`` wrappers)
read the configuration at run time; the operator builders return provider
operators whose resource names are templates.
"""

from __future__ import annotations

import logging
import re
from pathlib import PurePosixPath
from typing import Any

from seqflow.aws.settings import AWS_CONN_ID, load_settings, poll_seconds, template
from seqflow.config import DEFAULT_COMPLETION_FLAGS
from seqflow.registry import INGEST
from seqflow.runfolder import RunFolderError, RunFolderName

log = logging.getLogger(__name__)

_FLAG_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

#: DataSync runs one execution of a task at a time and a large run takes hours:
#: poll every minute for up to a day before the task fails (its retry re-attaches
#: nothing: DataSync refuses a second execution while one is running, so retries wait).
DATASYNC_MAX_WAIT_S = 24 * 3600
#: How long a run's completion flag may take to appear after the copy.
FLAG_TIMEOUT_S = 6 * 3600
DATASYNC_POOL = "datasync"


def flags_include_filter(qa_flag: str | None = None) -> str:
    """DataSync include filter that copies only the runs' flag files (a cheap execution: the
    share is listed, a few empty files are copied), so the raw bucket shows which runs are done."""
    names = [*DEFAULT_COMPLETION_FLAGS, *([qa_flag] if qa_flag else [])]
    bad = [n for n in names if not _FLAG_NAME_RE.fullmatch(n)]
    if bad:
        raise ValueError(f"flag file name(s) {bad} are not plain file names (letters, digits, '.', '_', '-')")
    return "|".join(f"/*/{name}" for name in names)


def datasync_operator(include_filter, *, task_id: str = "transfer_runs", **kwargs):
    """A DataSync execution of the share with ``include_filter`` (one at a time: ``datasync`` pool)."""
    from airflow.providers.amazon.aws.operators.datasync import DataSyncOperator

    interval = poll_seconds(60)
    return DataSyncOperator(
        task_id=task_id,
        aws_conn_id=AWS_CONN_ID,
        task_arn=template("datasync_task_arn"),
        task_execution_kwargs={"Includes": [{"FilterType": "SIMPLE_PATTERN", "Value": include_filter}]},
        wait_for_completion=True,
        wait_interval_seconds=interval,
        max_iterations=max(1, DATASYNC_MAX_WAIT_S // interval),
        pool=DATASYNC_POOL,
        **kwargs,
    )


def flag_key_pattern(run_id: str, settings=None) -> str:
    """Wildcard key of a run's completion flags (``check_fn`` keeps the exact names)."""
    settings = settings or load_settings()
    return f"{settings.raw_run_prefix(run_id)}*Complete.txt"


def is_completion_flag(files: list[dict[str, Any]], **_context) -> bool:
    """S3KeySensor ``check_fn``: one of the flags, directly in the run folder (zero bytes is fine)."""
    for item in files:
        key = PurePosixPath(item.get("Key", ""))
        if key.name in DEFAULT_COMPLETION_FLAGS and _is_run_name(key.parent.name):
            return True
    return False


def _is_run_name(name: str) -> bool:
    try:
        RunFolderName.parse(name)
    except RunFolderError:
        return False
    return True


def mark_incomplete_on_timeout(context: dict[str, Any]) -> None:
    """Failure callback of the flag sensor: a timed-out run is recorded as *incomplete*, then alerted."""
    from airflow.exceptions import AirflowSensorTimeout

    from seqflow.aws.alerts import on_task_failure
    from seqflow.aws.registry import aws_registry

    error = context.get("exception")
    ti = context.get("ti")
    key = getattr(getattr(ti, "task", None), "bucket_key", "") or ""
    run_id = PurePosixPath(str(key)).parent.name
    timed_out = isinstance(error, AirflowSensorTimeout) or "timeout" in type(error).__name__.lower()
    if timed_out and _is_run_name(run_id):
        try:
            aws_registry().put(run_id, INGEST, "incomplete", waited_s=FLAG_TIMEOUT_S, flag_pattern=key)
            log.error("%s: no completion flag after %d s; recorded as incomplete", run_id, FLAG_TIMEOUT_S)
        except Exception:  # noqa: BLE001
            log.exception("could not record %s as incomplete", run_id)
    on_task_failure(context)


def flag_sensor(bucket_keys, *, task_id: str = "wait_for_completion_flag", **kwargs):
    """Deferrable S3KeySensor per run on its completion flag; times out after :data:`FLAG_TIMEOUT_S`.

    The outcome of a timeout is explicit: the task fails (sensor timeouts are not
    retried), the run is recorded as *incomplete* in the registry and an alert is
    published. Clear the task once the instrument has finished the run.
    """
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

    return S3KeySensor.partial(
        task_id=task_id,
        aws_conn_id=AWS_CONN_ID,
        bucket_name=template("raw_bucket"),
        wildcard_match=True,
        check_fn=is_completion_flag,
        deferrable=True,
        poke_interval=poll_seconds(60),
        timeout=FLAG_TIMEOUT_S,
        soft_fail=False,
        on_failure_callback=mark_incomplete_on_timeout,
        **kwargs,
    ).expand(bucket_key=bucket_keys)
