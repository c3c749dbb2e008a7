"""The ingest: which runs are complete, copy them, record them, start their analyses.

A scan goes by completion, not by the date in a run's name: sequencers write a
run for one to two days, so every scan (the daily schedule, or more often)
looks at every run folder of the look-back window and ingests those whose
completion flag (and, where configured, the technician's QA flag) is there and
that are not ingested yet. A run still being written is recorded *waiting*,
never failed, and a later scan picks it up; one alert is raised when it has
waited longer than the configured age. A backfill selects runs by the date in
their name, from raw storage (the share may have been purged long ago).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from seqflow.config import (
    DEFAULT_ALERT_AFTER_HOURS,
    DEFAULT_COMPLETION_FLAGS,
    DEFAULT_LOOKBACK_DAYS,
    PIPELINE_VERSION,
    local_paths,
)
from seqflow.backends import Backend, get_backend
from seqflow.registry import INGEST, RunRegistry, local_registry
from seqflow.runfolder import RunFolder, RunFolderName, discover_runs_between
from seqflow.transfer import build_include_filter, transfer_runs

log = logging.getLogger(__name__)

#: statuses after which a run is not ingested again (unless forced)
DONE_STATUSES = ("ingested",)


@dataclass(frozen=True)
class ScanSettings:
    """How a scan decides (params of the ingest DAG, defaults from the environment)."""

    #: run folders whose name date is at most this many days before the scan are looked at
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    #: an empty file the technician writes when a run passed QA; None: not required
    qa_flag: str | None = None
    #: a run still incomplete after this many hours raises one alert
    alert_after_hours: float = DEFAULT_ALERT_AFTER_HOURS
    force: bool = False
    #: exactly these run folders, whatever their date (an event announced them, or a user named them)
    run_folders: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ScanSettings:
        qa = params.get("qa_flag")
        if qa is not None and (not isinstance(qa, str) or "/" in qa or qa in ("", ".", "..")):
            raise ValueError(f"qa_flag: {qa!r} is not a file name")
        return cls(
            lookback_days=int(params.get("lookback_days") or DEFAULT_LOOKBACK_DAYS),
            qa_flag=qa or None,
            alert_after_hours=float(params.get("alert_after_hours") or DEFAULT_ALERT_AFTER_HOURS),
            force=bool(params.get("force")),
            run_folders=named_runs(params.get("run_folders")),
        )


def named_runs(value: Any) -> tuple[str, ...]:
    """The ``run_folders`` param: run folder names, each checked against the naming convention."""
    if not value:
        return ()
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"run_folders: {value!r} is not a list of run folder names")
    for name in value:
        RunFolderName.parse(name)  # raises naming the folder and the rule it breaks
    return tuple(sorted(set(value)))


def scan_time(logical_date: datetime | None, data_interval_end: datetime | None,
              run_after: datetime | None, *, scheduled: bool = True) -> datetime:
    """The moment a scan stands for: a scheduled run, the end of its data interval (the run for
    day D scans at D+1 00:00); a manual one, its logical date (the REST API's ``logical_date``:
    a controllable clock), else when it was triggered."""
    when = (data_interval_end or logical_date or run_after) if scheduled else (logical_date or run_after)
    if when is None:
        raise ValueError("a scan needs a logical date or a trigger time")
    return when


def triage(candidates: dict[str, bool], now: datetime, settings: ScanSettings, *,
           backend: Backend | None = None) -> list[str]:
    """The runs to ingest among ``candidates`` (run id -> complete), recording the others.

    A complete run not yet ingested (or any complete run with ``force``) is to
    ingest. An incomplete one is recorded *waiting* with the time it was first
    seen; once it has waited longer than ``alert_after_hours`` one alert is
    raised (and remembered, so later scans do not repeat it).
    """
    backend = backend or get_backend()
    registry = backend.registry()
    todo = []
    for run_id, complete in sorted(candidates.items()):
        record = registry.get(run_id, INGEST)
        if record and record.status in DONE_STATUSES and not settings.force:
            continue
        if complete:
            todo.append(run_id)
            registry.put(run_id, INGEST, "ingesting", raw_uri=backend.run_uri(run_id), scan=now.isoformat())
            continue
        details = record.details if record and record.status == "waiting" else {}
        since = details.get("waiting_since") or now.isoformat()
        waited_h = (now - datetime.fromisoformat(since)).total_seconds() / 3600
        alerted = bool(details.get("alerted"))
        if waited_h > settings.alert_after_hours and not alerted:
            backend.alert({
                "event": "run still incomplete", "run_id": run_id, "waiting_since": since,
                "waited_hours": round(waited_h, 1),
                "missing": "the completion flag" + (f" or the QA flag {settings.qa_flag}" if settings.qa_flag else ""),
            })
            alerted = True
        registry.put(run_id, INGEST, "waiting", waiting_since=since, last_scan=now.isoformat(), alerted=alerted,
                     qa_flag=settings.qa_flag)
    log.info("scan at %s: %d candidate(s), %d complete to ingest: %s", now.isoformat(), len(candidates), len(todo),
             todo)
    return todo


def window(now: datetime, lookback_days: int) -> tuple[date, date]:
    """The run-name dates a scan at ``now`` looks at: the last ``lookback_days`` days, today included."""
    return (now - timedelta(days=lookback_days)).date(), now.date()


def share_candidates(now: datetime, settings: ScanSettings, *, run_date: date | None = None) -> dict[str, bool]:
    """Local profile: the run folders of the window (or of ``run_date``) on the landing share,
    each with whether it is complete (completion flag, and the QA flag when configured)."""
    landing = local_paths().landing
    landing.mkdir(parents=True, exist_ok=True)
    if settings.run_folders:
        runs = [RunFolder(path=landing / name, name=RunFolderName.parse(name))
                for name in settings.run_folders if (landing / name).is_dir()]
    else:
        first, last = (run_date, run_date) if run_date else window(now, settings.lookback_days)
        runs = discover_runs_between(landing, first, last)
    out = {}
    for run in runs:
        complete = run.is_complete()
        if complete and settings.qa_flag:
            complete = (run.path / settings.qa_flag).is_file()
        out[run.run_id] = complete
    return out


def is_backfill(dag_run) -> bool:
    """A DAG run made by ``airflow backfill create``."""
    return str(getattr(dag_run, "run_type", "")).lower().endswith("backfill")


def find_runs(params: dict[str, Any], *, logical_date, data_interval_end, dag_run, candidates: str,
              backend: Backend | None = None) -> tuple[list[str], str]:
    """Task body of ``find_runs``: the runs this ingest DAG run copies and analyses, and why none.

    ``candidates`` says where complete runs are seen: ``share`` (local: the
    landing share itself) or ``raw`` (aws: the flags that the flags-only DataSync
    execution just copied to the raw bucket).
    """
    backend = backend or get_backend()
    if is_backfill(dag_run):
        run_date = logical_date.date()
        return backfill_runs(run_date, backend=backend), f"no run dated {run_date} in raw storage"
    now = scan_time(logical_date, data_interval_end, getattr(dag_run, "run_after", None),
                    scheduled=str(getattr(dag_run, "run_type", "")).lower().endswith("scheduled"))
    settings = ScanSettings.from_params(params)
    run_date = resolve_run_date(params["run_date"], None, None) if params.get("run_date") else None
    if candidates == "share":
        seen = share_candidates(now, settings, run_date=run_date)
    else:
        seen = raw_candidates(now, settings, run_date=run_date, backend=backend)
    runs = triage(seen, now, settings, backend=backend)
    waiting = sorted(r for r, complete in seen.items() if not complete)
    if settings.run_folders:
        absent = sorted(set(settings.run_folders) - set(seen))
        scope = f"among {', '.join(settings.run_folders)}" + (f" (not found: {', '.join(absent)})" if absent else "")
    elif run_date:
        scope = f"dated {run_date}"
    else:
        scope = f"of the last {settings.lookback_days} days"
    why = (f"no complete run {scope} to ingest ({len(seen)} run folder(s) seen"
           + (f"; still waiting for their flag: {', '.join(waiting)}" if waiting else "") + ")")
    return runs, why


def raw_candidates(now: datetime, settings: ScanSettings, *, run_date: date | None = None,
                   backend: Backend | None = None) -> dict[str, bool]:
    """aws profile: the run folders of the window in raw storage, each with whether its flags are there."""
    backend = backend or get_backend()
    first, last = (run_date, run_date) if run_date else window(now, settings.lookback_days)
    out = {}
    for run_id in backend.raw_runs():
        if settings.run_folders:
            if run_id not in settings.run_folders:
                continue
        elif not first <= RunFolderName.parse(run_id).run_date <= last:
            continue
        files = set(backend.run_files(run_id))
        complete = any(flag in files for flag in DEFAULT_COMPLETION_FLAGS)
        out[run_id] = complete and (not settings.qa_flag or settings.qa_flag in files)
    return out


def backfill_runs(run_date: date, *, backend: Backend | None = None) -> list[str]:
    """The runs a backfill for ``run_date`` re-analyses: those whose name carries the date, in raw storage."""
    backend = backend or get_backend()
    found = [run for run in backend.raw_runs() if RunFolderName.parse(run).run_date == run_date]
    log.info("backfill of %s: %d run(s) in raw storage: %s", run_date, len(found), found)
    return sorted(found)


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


def transfer_to_raw(run_ids: list[str], *, registry: RunRegistry | None = None) -> dict[str, Any]:
    """Copy the runs from the landing share to raw storage (the local DataSync).

    One transfer with an include filter for exactly these run folders,
    checksum-verified, incremental on retry.
    """
    registry = registry or local_registry()
    paths = local_paths()
    on_share = [r for r in run_ids if (paths.landing / r).is_dir()]
    if len(on_share) < len(run_ids):
        # a backfill re-analyses runs the share may have purged: they are in raw storage already
        log.info("not on the landing share (already in raw storage): %s", sorted(set(run_ids) - set(on_share)))
    if not on_share:
        return {"include_filter": "", "files_copied": 0, "files_skipped": 0, "bytes_copied": 0}
    run_ids = on_share
    include = build_include_filter(run_ids)
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


#: analysis params an ingest passes on to the analyses it starts when its trigger sets them
SHARDING_PARAMS = ("align_reads_per_shard", "call_interval_mb")


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
        # how the analysis shards its alignment and calling, where the ingest's trigger sets it
        **{name: params[name] for name in SHARDING_PARAMS if params.get(name) is not None},
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
