"""Daily ingest, local profile: find the date's runs, copy them, check their flags, hand them over.

The ``aws`` profile runs the same steps with DataSync and an S3 key sensor; what
is shared (which runs, the include filter, the registry records) lives here.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from seqflow.config import DEFAULT_COMPLETION_FLAGS, PIPELINE_VERSION, local_paths
from seqflow.backends import Backend, get_backend
from seqflow.registry import INGEST, RunRegistry, local_registry
from seqflow.runfolder import RunFolder, RunFolderName, discover_runs
from seqflow.transfer import build_include_filter, transfer_runs

log = logging.getLogger(__name__)

#: statuses after which a run is not ingested again (unless forced)
DONE_STATUSES = ("ingested",)


def resolve_run_date(param_value: str | None, logical_date: datetime | None, run_after: datetime | None) -> date:
    """The sequencing date whose runs a DAG run ingests.

    An explicit ``run_date`` param wins (manual triggers); otherwise the logical
    date (scheduled runs and backfills); a manual trigger with neither uses the
    day it was triggered.
    """
    if param_value:
        try:
            return date.fromisoformat(str(param_value))
        except ValueError:
            raise ValueError(f"run_date: {param_value!r} is not a date in YYYY-MM-DD form") from None
    when = logical_date or run_after
    if when is None:
        raise ValueError("no run_date param and no logical date: cannot tell which runs to ingest")
    return when.date()


def runs_to_ingest(run_date: date, *, force: bool = False, registry: RunRegistry | None = None) -> list[str]:
    """Run ids on the landing share for ``run_date`` that have not been ingested yet."""
    registry = registry or local_registry()
    landing = local_paths().landing
    landing.mkdir(parents=True, exist_ok=True)
    found = discover_runs(landing, run_date)
    todo = []
    for run in found:
        record = registry.get(run.run_id, INGEST)
        if record and record.status in DONE_STATUSES and not force:
            log.info("%s: already ingested at %s, skipping (force=true re-ingests)", run.run_id, record.updated_at)
            continue
        todo.append(run.run_id)
    log.info("runs dated %s on %s: %d found, %d to ingest: %s", run_date, landing, len(found), len(todo), todo)
    return todo


def transfer_to_raw(run_ids: list[str], *, registry: RunRegistry | None = None) -> dict[str, Any]:
    """Copy the runs from the landing share to raw storage (the local DataSync).

    One transfer with an include filter for exactly these run folders,
    checksum-verified, incremental on retry.
    """
    registry = registry or local_registry()
    paths = local_paths()
    include = build_include_filter(run_ids)
    for run_id in run_ids:
        registry.put(run_id, INGEST, "ingesting", include_filter=include)
    report = transfer_runs(paths.landing, paths.raw, include, verify=True, progress=log.info)
    log.info("transfer summary:\n%s", report.summary())
    return {
        "include_filter": include,
        "files_copied": report.files_copied,
        "files_skipped": report.files_skipped,
        "bytes_copied": report.bytes_copied,
    }


def raw_run(run_id: str) -> RunFolder:
    """The run folder in raw storage."""
    return RunFolder(path=local_paths().raw / run_id, name=RunFolderName.parse(run_id))


def completion_flag_present(run_id: str, flags: tuple[str, ...] = DEFAULT_COMPLETION_FLAGS) -> str | None:
    """The completion flag's path in raw storage, or None while the run is not complete."""
    flag = raw_run(run_id).completion_flag(flags)
    return str(flag) if flag else None


def mark_incomplete(run_id: str, waited_s: float, *, registry: RunRegistry | None = None) -> None:
    """Record that a run's flag never came, so the timeout is visible in the registry too."""
    (registry or local_registry()).put(run_id, INGEST, "incomplete", waited_s=waited_s)


def record_ingested(run_id: str, *, backend: Backend | None = None) -> str:
    """Registry: the run is ingested (its flag is in raw storage). Returns the run id."""
    backend = backend or get_backend()
    backend.registry().put(run_id, INGEST, "ingested", raw_uri=backend.run_uri(run_id))
    return run_id


def analysis_triggers(
    run_id: str, params: dict[str, Any], *, ingest_dag_run_id: str, backend: Backend | None = None
) -> list[dict[str, Any]]:
    """Arguments of the ``TriggerDagRunOperator`` runs that analyse one ingested run.

    One analysis per reference: with the ``reference`` param, or when every
    sample resolves to the same reference (or to none, which the analysis's
    ``plan`` then explains), one analysis of the whole run; when the sample
    sheet maps samples to several references, one analysis per reference with
    its samples.

    The analysis DAG run id names the run, the pipeline version and the ingest
    DAG run that started it: clearing that ingest run resets the same analysis
    run (same conf), while a new ingest of the run (a forced re-ingest, a
    backfill) starts a new analysis run with its own conf. A reset run would
    keep its first conf, so a ``force`` would otherwise be lost.
    """
    from seqflow.references.resolve import group_by_reference, resolve_references

    backend = backend or get_backend()
    version = params.get("pipeline_version") or PIPELINE_VERSION
    base = {
        "run_id": run_id,
        "aligner": params.get("aligner") or "bwa",
        "pipeline_version": version,
        "force": bool(params.get("force")),
    }
    name = f"ingest__{run_id}__{version}__{ingest_dag_run_id}"
    reference = params.get("reference") or None
    if reference is None:
        sheet = backend.read_sample_sheet(run_id)
        first: dict[str, Any] = {}
        for record in sheet.samples:  # a sample spans lanes: its first row
            first.setdefault(record.sample_id, record)
        records = list(first.values())
        groups = group_by_reference(resolve_references(records, sheet, backend.references().rules()))
        if len(groups) > 1:
            # each analysis names its samples; its plan resolves them again (to the same
            # reference), so the registry records where the reference came from
            return [
                {"trigger_run_id": f"{name}__{ref or 'unresolved'}",
                 "conf": {**base, "reference": None, "samples": samples}}
                for ref, samples in groups.items()
            ]
    return [{"trigger_run_id": name, "conf": {**base, "reference": reference}}]
