"""Daily ingest, ``aws`` profile: DataSync the date's run folders, wait for their flags in S3.

The on-prem landing share is DataSync's source location, which Airflow cannot
list; so the transfer selects the date's runs with an include filter on the
date (``/241120_*|/20241120_*``: both the six- and the eight-digit Illumina
forms), and the runs are then discovered in the raw bucket. DataSync copies
incrementally, so runs already copied cost a listing only.

Task bodies (``*_task`` helpers are called from the DAG's ``@task`` wrappers)
read the configuration at run time; the operator builders return provider
operators whose resource names are templates.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import PurePosixPath
from typing import Any

from seqflow.aws.settings import AWS_CONN_ID, load_settings, poll_seconds, template
from seqflow.config import DEFAULT_COMPLETION_FLAGS
from seqflow.registry import INGEST, RunRegistry
from seqflow.runfolder import RunFolderError, RunFolderName
from seqflow.tasks.ingest import DONE_STATUSES
from seqflow.transfer import parse_include_filter

log = logging.getLogger(__name__)

#: DataSync runs one execution of a task at a time and a large run takes hours:
#: poll every minute for up to a day before the task fails (its retry re-attaches
#: nothing: DataSync refuses a second execution while one is running, so retries wait).
DATASYNC_MAX_WAIT_S = 24 * 3600
#: How long a run's completion flag may take to appear after the copy.
FLAG_TIMEOUT_S = 6 * 3600
DATASYNC_POOL = "datasync"


def date_include_filter(run_date: date) -> str:
    """DataSync include filter selecting every run folder of ``run_date``."""
    value = f"/{run_date:%y%m%d}_*|/{run_date:%Y%m%d}_*"
    parse_include_filter(value)  # same validation (and length limit) as the local transfer
    return value


def datasync_operator(include_filter, *, task_id: str = "transfer_runs", **kwargs):
    """The DataSync transfer of the date's runs (one execution at a time: ``datasync`` pool)."""
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


def list_run_folders(s3_hook, bucket: str, prefix: str, run_date: date) -> list[str]:
    """Run folder names of ``run_date`` directly under ``prefix`` in the raw bucket."""
    found = []
    for folder in s3_hook.list_prefixes(bucket_name=bucket, prefix=prefix, delimiter="/") or []:
        name = PurePosixPath(folder).name
        try:
            parsed = RunFolderName.parse(name)
        except RunFolderError:
            continue
        if parsed.run_date == run_date:
            found.append(name)
    return sorted(found)


def runs_to_ingest(
    run_date: date, *, force: bool = False, registry: RunRegistry | None = None, settings=None, s3_hook=None
) -> list[str]:
    """Run ids of the date in the raw bucket that have not been ingested yet."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from seqflow.aws.registry import aws_registry

    settings = settings or load_settings()
    registry = registry or aws_registry(settings)
    s3_hook = s3_hook or S3Hook(aws_conn_id=AWS_CONN_ID)
    found = list_run_folders(s3_hook, settings.require("raw_bucket"), settings.raw_prefix_norm, run_date)
    todo = []
    for run_id in found:
        record = registry.get(run_id, INGEST)
        if record and record.status in DONE_STATUSES and not force:
            log.info("%s: already ingested at %s, skipping (force=true re-ingests)", run_id, record.updated_at)
            continue
        todo.append(run_id)
    for run_id in todo:
        registry.put(run_id, INGEST, "ingesting", raw_uri=settings.raw_run_uri(run_id))
    log.info("runs dated %s in the raw bucket: %d found, %d to ingest: %s", run_date, len(found), len(todo), todo)
    return todo


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
