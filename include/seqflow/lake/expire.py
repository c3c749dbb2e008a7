"""Expiry of the lake's old Iceberg snapshots (``seqflow lake expire``).

pyiceberg 0.12 has ``Table.maintenance.expire_snapshots()`` with ``by_ids`` and
``older_than`` (no "retain the last N", and no file deletion: it removes the
snapshots from the table's metadata in one commit and skips branch and tag
heads). :func:`expire_snapshots` picks the snapshots itself — older than the
cutoff and not among the ``retain_last`` newest, never the current one — and
expires them by id in one commit per table. Readers of the current snapshot
are untouched; time travel (``--as-of``) to a time before the oldest kept
snapshot then reads no rows (the metadata knows no snapshot of then). The
expired snapshots' data and manifest files stay on disk, unreferenced (an
orphan-file sweep is not written yet).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from seqflow.lake import iceberg


@dataclass(frozen=True)
class Expired:
    """What one table's expiry did: the snapshots it removed and those it kept, oldest first."""

    table: str
    expired: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)


def to_expire(tbl, *, older_than: dt.datetime, retain_last: int) -> list[int]:
    """Ids of the snapshots older than ``older_than`` and not among the ``retain_last`` newest
    (nor the current snapshot, nor a branch or tag head), oldest first."""
    if retain_last < 1:
        raise ValueError(f"retain_last must be at least 1 (the current snapshot), not {retain_last}")
    if older_than.tzinfo is None:
        raise ValueError("older_than must be an aware datetime")
    cutoff_ms = int(older_than.timestamp() * 1000)
    snaps = sorted(tbl.metadata.snapshots, key=lambda s: (s.timestamp_ms, s.sequence_number or 0))
    protected = {ref.snapshot_id for ref in tbl.metadata.refs.values()}
    current = tbl.current_snapshot()
    if current is not None:
        protected.add(current.snapshot_id)
    newest = {s.snapshot_id for s in snaps[-retain_last:]}
    return [s.snapshot_id for s in snaps
            if s.timestamp_ms < cutoff_ms and s.snapshot_id not in newest and s.snapshot_id not in protected]


def expire_snapshots(lake: iceberg.Lake, *, older_than_days: float, retain_last: int,
                     tables: tuple[str, ...] = iceberg.TABLES, dry_run: bool = False,
                     now: dt.datetime | None = None) -> list[Expired]:
    """Expire, in each existing table, the snapshots older than ``older_than_days`` days except the
    ``retain_last`` newest: one commit per table with something to expire (none with ``dry_run``)."""
    if older_than_days < 0:
        raise ValueError(f"older_than_days must be >= 0, not {older_than_days}")
    cutoff = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=older_than_days)
    out = []
    for name in tables:
        if not lake.exists(name):
            continue
        tbl = lake.table(name)
        ids = to_expire(tbl, older_than=cutoff, retain_last=retain_last)
        if ids and not dry_run:
            tbl.maintenance.expire_snapshots().by_ids(ids).commit()
            tbl = lake.table(name)
        kept = [s.snapshot_id for s in sorted(tbl.metadata.snapshots, key=lambda s: s.timestamp_ms)
                if s.snapshot_id not in ids]
        out.append(Expired(name, ids, kept))
    return out
