"""Launch by upload (aws profile): a launch file put under the launch prefix of the raw bucket starts its runs.

Terraform (``modules/run_events``) sends the raw bucket's S3 *Object Created* events for keys under
``var.launch_prefix`` (``launch/`` by default) through EventBridge to an SQS queue of their own (with a
dead-letter queue); with ``launch_uploads_enabled`` it sets the Airflow option ``seqflow.launch_queue`` to
its URL (:func:`seqflow.config.launch_queue`). The asset's watcher is the Amazon provider's SQS trigger, as
for the run events (:mod:`seqflow.aws.events`); each batch of messages is one run of the
``seqflow_launch_uploads`` DAG, which for each uploaded file does what ``seqflow launch FILE`` does
(:mod:`seqflow.launch`): validates it (every error at once, each with its line), records the request in the
registry and triggers one analysis DAG run per run, named ``launch__<request>__<run>``, whose conf names
the request, so that the run's ``finalise_run`` records its end there. A file with errors becomes a
``failed`` request listing them, and an alert (SNS).

The trigger deletes the messages it receives (at most once): a file whose event was lost is launched again
by triggering the DAG by hand with ``{"uploads": ["s3://<raw bucket>/launch/<file>"]}``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any


log = logging.getLogger(__name__)

#: the asset's name: the launch files uploaded to the launch prefix
LAUNCH_FILES_ASSET = "seqflow_launch_files"
#: the key prefix of launch files in the raw bucket (Terraform's var.launch_prefix; a test keeps them equal)
DEFAULT_LAUNCH_PREFIX = "launch/"


def launch_files_asset(queue_url: str):
    """The asset an upload to the launch prefix updates, watched on ``queue_url``."""
    from seqflow.aws.events import sqs_watched_asset

    return sqs_watched_asset(LAUNCH_FILES_ASSET, "launch_file_uploads", queue_url)


def uploads_of_asset_events(events: Iterable[Any]) -> list[str]:
    """The ``s3://`` URIs of the launch files the asset events announce, in order, once each (messages
    that name no bucket and key are logged and skipped)."""
    from seqflow.tasks.events import created_objects, messages_of_asset_events

    uris: list[str] = []
    for message in messages_of_asset_events(events):
        objects = created_objects(message.get("Body") if isinstance(message, Mapping) else None)
        if not objects:
            log.warning("skipping a message that names no created S3 object: %.300s", message)
        for bucket, key in objects:
            if not bucket or key.endswith("/"):
                log.warning("skipping s3 object %r of bucket %r: not a launch file", key, bucket)
            elif f"s3://{bucket}/{key}" not in uris:
                uris.append(f"s3://{bucket}/{key}")
    return uris


def upload_request_id(uri: str, dag_run_id: str, at: datetime) -> str:
    """The request id of an uploaded file in a DAG run (:func:`seqflow.launch.new_request_id`'s form): the
    same on a retry of the task, so a retry records the same request instead of a second one."""
    digest = hashlib.sha256(f"{dag_run_id}|{uri}".encode()).hexdigest()[:6]
    return f"r{at:%Y%m%dT%H%M%S}-{digest}"


def launch_uploads(uris: Iterable[str], *, dag_run_id: str, at: datetime, backend=None) -> list[dict]:
    """Read and validate each uploaded launch file and record its request, as ``seqflow launch`` does.

    Returns the analysis DAG runs to start, one ``{"trigger_run_id", "conf"}`` each (the conf names the
    request and the run: :func:`record_started` reads them back). A file with errors (or that cannot be
    read) is recorded ``failed`` with every error and its line, and alerted."""
    from seqflow.backends import get_backend
    from seqflow.launch import (LaunchError, LaunchFileError, parse_launch, planned_runs, record_invalid,
                                record_requested)

    backend = backend or get_backend()
    registry = backend.registry()
    triggers: list[dict] = []
    for uri in uris:
        request_id = upload_request_id(uri, dag_run_id, at)
        try:
            try:
                text = backend.read_text(uri)
            except Exception as exc:  # noqa: BLE001 - a missing or unreadable object is the file's error
                raise LaunchFileError(uri, [LaunchError(None, "file", f"cannot be read: {exc}")]) from None
            launch = parse_launch(text, uri)
        except LaunchFileError as error:
            record_invalid(registry, request_id, error, uploaded=uri, launched_by=dag_run_id)
            log.error("launch request %s: %s", request_id, error)
            backend.alert({"event": "launch file rejected", "request_id": request_id, "source": uri,
                           "errors": [str(e) for e in error.errors]})
            continue
        planned = planned_runs(launch, request_id)
        record_requested(launch, registry, request_id, planned, uploaded=uri, launched_by=dag_run_id)
        log.info("launch request %s: %s, %d run(s)", request_id, uri, len(planned))
        triggers += [{"trigger_run_id": run["dag_run_id"], "conf": run["conf"]} for run in planned.values()]
    return triggers


def record_started(triggers: Iterable[Mapping[str, Any]], dag_run_exists, *, backend=None) -> list[dict]:
    """After the triggers: each request ``running`` with its DAG run ids, a run whose DAG run does not
    exist ``failed`` (``dag_run_exists(dag_run_id)``: the Task SDK's DAG run count), as ``seqflow launch``
    records it (:func:`seqflow.launch.record_submitted`). Returns each request's id and status."""
    from seqflow.backends import get_backend
    from seqflow.launch import CONF_KEY, record_submitted

    backend = backend or get_backend()
    registry = backend.registry()
    requests: dict[str, dict[str, dict]] = {}
    for trigger in triggers:
        conf = dict(trigger["conf"])
        launch = conf.pop(CONF_KEY)
        requests.setdefault(launch["request_id"], {})[launch["run"]] = {
            "run_id": conf["run_id"], "params": conf, "dag_run_id": trigger["trigger_run_id"]}
    out = []
    for request_id, planned in requests.items():
        submitted = {key: run["dag_run_id"] for key, run in planned.items() if dag_run_exists(run["dag_run_id"])}
        errors = {key: "its analysis DAG run was not created (see the start_analyses task's log)"
                  for key in planned if key not in submitted}
        record = record_submitted(registry, request_id, planned, submitted, errors)
        out.append({"request_id": record.request_id, "status": record.status, "source": record.details.get("source")})
        if errors:
            backend.alert({"event": "launch request runs not started", "request_id": record.request_id,
                           "source": record.details.get("source"), "runs": sorted(errors)})
    return out
