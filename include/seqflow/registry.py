"""The run registry: which runs were ingested and analysed, and where their outputs are.

One interface, two backends: :class:`SqliteRunRegistry` for the local profile
(a SQLite file under ``SEQFLOW_HOME``) and a DynamoDB table for the ``aws``
profile (``seqflow.aws.registry``). Keys are the run id and the *analysis key*
(:attr:`seqflow.identity.AnalysisIdentity.key`: pipeline version, reference,
aligner and caller), so each analysis of a run has its own record, side by
side; the run's ingest record has the key :data:`INGEST`.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Callable
from typing import Any, Protocol

#: status values, in the order a run goes through them
STATUSES = ("waiting", "ingesting", "ingested", "incomplete", "analysing", "analysed", "partially_analysed",
            "failed")

#: analysis key of the ingest record, which no analysis owns
INGEST = "-"

#: status values of a launch request (``seqflow launch``), in the order it goes through them
REQUEST_STATUSES = ("requested", "running", "analysed", "partially_analysed", "failed")


@dataclass
class RunRecord:
    """One registry item."""

    run_id: str
    #: the analysis key ``<version>/<reference>/<aligner>/<caller>``, or :data:`INGEST`
    analysis: str
    status: str
    updated_at: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class RequestRecord:
    """One launch request (:mod:`seqflow.launch`): its runs, their DAG run ids, outputs and logs in
    ``details``, and every status it went through in ``details["history"]``."""

    request_id: str
    status: str
    created_at: str
    updated_at: str
    details: dict[str, Any] = field(default_factory=dict)


class RunRegistry(Protocol):
    """What the DAGs need of a registry."""

    def put(self, run_id: str, analysis: str, status: str, **details: Any) -> RunRecord: ...

    def get(self, run_id: str, analysis: str = INGEST) -> RunRecord | None: ...

    def list(self, run_id: str | None = None) -> list[RunRecord]: ...


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown run status {status!r}; expected one of {', '.join(STATUSES)}")


#: ``change(current)`` of :meth:`SqliteRunRegistry.update_request`: the new status and details to merge
RequestChange = Callable[[RequestRecord | None], tuple[str, dict[str, Any]]]


def merge_request(current: RequestRecord | None, request_id: str, status: str, details: dict[str, Any]
                  ) -> RequestRecord:
    """The request record after a change (both backends): ``details`` merged into the stored ones, a
    change of status appended to ``details["history"]``; a request never leaves a final status."""
    if status not in REQUEST_STATUSES:
        raise ValueError(f"unknown request status {status!r}; expected one of {', '.join(REQUEST_STATUSES)}")
    now = _now()
    old_status, created, stored = (current.status, current.created_at, current.details) if current else (None, now, {})
    if old_status in REQUEST_STATUSES[2:] and status != old_status:
        raise ValueError(f"request {request_id} is {old_status}; it cannot become {status}")
    history = list(stored.get("history", []))
    if status != old_status:
        history.append({"status": status, "at": now})
    return RequestRecord(request_id, status, created, now, {**stored, **details, "history": history})


class SqliteRunRegistry:
    """Registry in a SQLite file; safe for the concurrent task processes of a LocalExecutor."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            # "analyses" replaced the "runs" table of a registry keyed by pipeline version only
            db.execute(
                "CREATE TABLE IF NOT EXISTS analyses ("
                " run_id TEXT NOT NULL, analysis TEXT NOT NULL, status TEXT NOT NULL,"
                " updated_at TEXT NOT NULL, details TEXT NOT NULL,"
                " PRIMARY KEY (run_id, analysis))"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS requests ("
                " request_id TEXT PRIMARY KEY, status TEXT NOT NULL, created_at TEXT NOT NULL,"
                " updated_at TEXT NOT NULL, details TEXT NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        # WAL + a busy timeout: several task processes write at once
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def put(self, run_id: str, analysis: str, status: str, **details: Any) -> RunRecord:
        """Create or update a record; ``details`` are merged into the stored ones."""
        _check_status(status)
        with closing(self._connect()) as db, db:
            row = db.execute(
                "SELECT details FROM analyses WHERE run_id = ? AND analysis = ?",
                (run_id, analysis),
            ).fetchone()
            merged = {**(json.loads(row[0]) if row else {}), **details}
            record = RunRecord(run_id, analysis, status, _now(), merged)
            db.execute(
                "INSERT INTO analyses VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, analysis)"
                " DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at,"
                " details = excluded.details",
                (run_id, analysis, status, record.updated_at, json.dumps(merged, sort_keys=True)),
            )
        return record

    def get(self, run_id: str, analysis: str = INGEST) -> RunRecord | None:
        """The record of a run (``INGEST`` for its ingest record), or None."""
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT run_id, analysis, status, updated_at, details FROM analyses"
                " WHERE run_id = ? AND analysis = ?",
                (run_id, analysis),
            ).fetchone()
        return None if row is None else RunRecord(*row[:4], json.loads(row[4]))

    def list(self, run_id: str | None = None) -> list[RunRecord]:
        """All records, or those of one run, ordered by run and analysis."""
        query = "SELECT run_id, analysis, status, updated_at, details FROM analyses"
        args: tuple = ()
        if run_id is not None:
            query += " WHERE run_id = ?"
            args = (run_id,)
        with closing(self._connect()) as db:
            rows = db.execute(query + " ORDER BY run_id, analysis", args).fetchall()
        return [RunRecord(*r[:4], json.loads(r[4])) for r in rows]

    def put_request(self, request_id: str, status: str, **details: Any) -> RequestRecord:
        """Create or update a launch request; ``details`` are merged into the stored ones and a change
        of status is appended to its history. A request never leaves a final status."""
        return self.update_request(request_id, lambda _current: (status, details))

    def update_request(self, request_id: str, change: RequestChange) -> RequestRecord:
        """Read, change and write a launch request as one transaction: ``change(current)`` (the stored
        record, or None) gives the new status and the details to merge (:func:`merge_request`). The
        analyses of one request end at the same time and each writes its run: none overwrites another."""
        db = self._connect()
        try:
            db.isolation_level = None  # the transaction below is ours
            db.execute("BEGIN IMMEDIATE")  # one writer from the read on
            row = db.execute("SELECT request_id, status, created_at, updated_at, details FROM requests"
                             " WHERE request_id = ?", (request_id,)).fetchone()
            current = None if row is None else RequestRecord(*row[:4], json.loads(row[4]))
            status, details = change(current)
            record = merge_request(current, request_id, status, details)
            db.execute(
                "INSERT INTO requests VALUES (?, ?, ?, ?, ?) ON CONFLICT (request_id) DO UPDATE SET"
                " status = excluded.status, updated_at = excluded.updated_at, details = excluded.details",
                (request_id, record.status, record.created_at, record.updated_at,
                 json.dumps(record.details, sort_keys=True)),
            )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()
        return record

    def get_request(self, request_id: str) -> RequestRecord | None:
        """A launch request, or None."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT request_id, status, created_at, updated_at, details FROM requests"
                             " WHERE request_id = ?", (request_id,)).fetchone()
        return None if row is None else RequestRecord(*row[:4], json.loads(row[4]))

    def list_requests(self) -> list[RequestRecord]:
        """All launch requests, oldest first."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT request_id, status, created_at, updated_at, details FROM requests"
                              " ORDER BY created_at, request_id").fetchall()
        return [RequestRecord(*r[:4], json.loads(r[4])) for r in rows]


def local_registry() -> SqliteRunRegistry:
    """The local profile's registry."""
    from seqflow.config import local_paths

    return SqliteRunRegistry(local_paths().registry)
