"""Event-driven start: which run folders the raw-storage notifications announce.

On AWS, an S3 object-created notification for a run's flag (the completion
flag, or the QA flag where one is configured) reaches an SQS queue, through
EventBridge or straight from the bucket. The ``seqflow_run_events`` DAG is
scheduled on an asset whose :class:`~airflow.sdk.AssetWatcher` reads that queue;
each asset event carries the trigger's payload, the batch of SQS messages.
This module turns those messages into run folder names; the ingest DAG, started
with ``run_folders``, then checks each run's flags itself and copies, records
and analyses it exactly as a scan would. Which object keys notify is the event
rule's filter (Terraform, from the same flag names); here, any object directly
inside a run folder announces that run.

Messages this cannot read (another service's event, a test event, a key outside
a run folder) are logged and skipped: a stray message must not stop the runs
announced beside it, and the scheduled scan stays the catch-up for anything missed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from seqflow.runfolder import RunFolderError, RunFolderName

log = logging.getLogger(__name__)


def created_objects(body: Any) -> list[tuple[str | None, str]]:
    """The S3 objects (bucket, key) one message body says were created (S3 notification, EventBridge,
    or either inside SNS); the bucket is None where the message does not name it."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return []
    if not isinstance(body, Mapping):
        return []
    if body.get("Type") == "Notification" and isinstance(body.get("Message"), str):  # S3 -> SNS -> SQS
        return created_objects(body["Message"])
    if body.get("source") == "aws.s3" and isinstance(body.get("detail"), Mapping):  # EventBridge
        key = (body["detail"].get("object") or {}).get("key")
        bucket = (body["detail"].get("bucket") or {}).get("name")
        return [(bucket if isinstance(bucket, str) else None, key)] if isinstance(key, str) else []
    objects = []
    for record in body.get("Records") or []:  # S3 event notification (keys are URL-encoded)
        if isinstance(record, Mapping) and str(record.get("eventName", "")).startswith("ObjectCreated"):
            s3 = record.get("s3") or {}
            key = (s3.get("object") or {}).get("key")
            bucket = (s3.get("bucket") or {}).get("name")
            if isinstance(key, str):
                objects.append((bucket if isinstance(bucket, str) else None, unquote_plus(key)))
    return objects


def _object_keys(body: Any) -> list[str]:
    """The S3 object keys one message body names (S3 notification, EventBridge, or either inside SNS)."""
    return [key for _bucket, key in created_objects(body)]


def messages_of_asset_events(events: Iterable[Any]) -> list[Mapping[str, Any]]:
    """The SQS messages the asset events that started a DAG run carry.

    An event from an asset watcher carries ``extra = {"from_trigger": True, "payload": …}``, the
    payload being what the SQS trigger yielded: ``{"status": "success", "message_batch": [...]}``.
    """
    messages = []
    for event in events:
        extra = getattr(event, "extra", None) or (event.get("extra") if isinstance(event, Mapping) else None) or {}
        payload = extra.get("payload") or {}
        messages.extend(payload.get("message_batch") or [])
    return messages


def run_of_key(key: str) -> str | None:
    """The run folder an object key is directly inside (``…/<run folder>/<file>``), or None."""
    parts = key.strip("/").split("/")
    if len(parts) < 2:
        return None
    try:
        return RunFolderName.parse(parts[-2]).run_id
    except RunFolderError:
        return None


def runs_from_messages(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    """The run folders a batch of SQS messages (``{"Body": …}`` each) announces, sorted, once each."""
    runs: set[str] = set()
    for message in messages:
        keys = _object_keys(message.get("Body") if isinstance(message, Mapping) else None)
        if not keys:
            log.warning("skipping a message that names no created S3 object: %.300s", message)
        for key in keys:
            run = run_of_key(key)
            if run is None:
                log.warning("skipping s3 key %r: not a file directly inside a run folder", key)
            else:
                runs.add(run)
    return sorted(runs)


def runs_from_asset_events(events: Iterable[Any]) -> list[str]:
    """The run folders announced by the asset events that started a DAG run (:func:`messages_of_asset_events`)."""
    return runs_from_messages(messages_of_asset_events(events))
