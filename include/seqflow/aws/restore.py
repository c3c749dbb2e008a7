"""Archived runs: restore raw objects from S3 Glacier / Deep Archive before a re-analysis.

A lifecycle rule moves old run folders to GLACIER or DEEP_ARCHIVE; a backfill
that re-analyses them must first ask S3 for a temporary copy
(``RestoreObject``, tier from ``seqflow_restore_tier``) and wait until every
object's ``Restore`` header says ``ongoing-request="false"``. That takes minutes
(Expedited) to 48 hours (Deep Archive Bulk), so the DAG waits in a sensor in
reschedule mode, which holds no worker slot between pokes. Each poke is
idempotent: objects already restoring are not asked for again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

ARCHIVE_CLASSES = ("GLACIER", "DEEP_ARCHIVE")
#: Deep Archive has no Expedited tier
DEEP_ARCHIVE_TIERS = ("Standard", "Bulk")
#: days the restored copy stays readable: long enough for a slow re-analysis
RESTORE_DAYS = 7


@dataclass
class RestoreStatus:
    """Where the run's inputs stand."""

    ready: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return not self.requested and not self.in_progress


def restore_state(head: dict) -> str:
    """``online``, ``archived`` (no restore yet), ``restoring`` or ``restored`` from a HeadObject response."""
    if head.get("StorageClass") not in ARCHIVE_CLASSES:
        return "online"
    header = head.get("Restore")
    if not header:
        return "archived"
    return "restoring" if 'ongoing-request="true"' in header else "restored"


def tier_for(storage_class: str, tier: str) -> str:
    """The requested tier, or Standard where the class does not offer it (Deep Archive Expedited)."""
    if storage_class == "DEEP_ARCHIVE" and tier not in DEEP_ARCHIVE_TIERS:
        log.warning("DEEP_ARCHIVE has no %s tier; using Standard", tier)
        return "Standard"
    return tier


def restore_and_check(s3_client, bucket: str, keys: list[str], tier: str, days: int = RESTORE_DAYS) -> RestoreStatus:
    """Request a restore of every archived key not yet restoring; report who is ready."""
    status = RestoreStatus()
    for key in keys:
        head = s3_client.head_object(Bucket=bucket, Key=key)
        state = restore_state(head)
        if state in ("online", "restored"):
            status.ready.append(key)
        elif state == "restoring":
            status.in_progress.append(key)
        else:
            try:
                s3_client.restore_object(
                    Bucket=bucket,
                    Key=key,
                    RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier_for(head["StorageClass"], tier)}},
                )
            except ClientError as error:
                # a concurrent request (another DAG run) got there first: same outcome
                if error.response.get("Error", {}).get("Code") != "RestoreAlreadyInProgress":
                    raise
            status.requested.append(key)
    log.info(
        "s3://%s: %d object(s) readable, %d restore(s) requested, %d in progress",
        bucket, len(status.ready), len(status.requested), len(status.in_progress),
    )
    return status


def restore_run_inputs(run_plan: dict, *, settings=None, s3_client=None) -> RestoreStatus:
    """Task body: restore what the analysis of this run reads (sample sheet, FASTQs)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from seqflow.aws.settings import AWS_CONN_ID, load_settings

    settings = settings or load_settings()
    client = s3_client or S3Hook(aws_conn_id=AWS_CONN_ID).get_conn()
    buckets = {uri.removeprefix("s3://").split("/", 1)[0] for uri in run_plan["inputs"]}
    if len(buckets) != 1:
        raise ValueError(f"the run's inputs should be in one raw bucket, found {sorted(buckets)}")
    keys = [uri.removeprefix("s3://").split("/", 1)[1] for uri in run_plan["inputs"]]
    return restore_and_check(client, buckets.pop(), keys, settings.tier)
