"""``seqflow report --from-date --to-date``: what the operations over a date range looked like, from the
run registry and the lake.

* **Turnaround** per analysis finished in the range: from the completion flag seen (the ingest scan that
  found the run complete: the ingest record's ``scan``) to its rows in the lake (the analysis record's
  ``lake_committed_at``, written by ``register_partitions`` after the Iceberg commit). An analysis of a
  run that no scan ingested (launched on a run already in raw storage) has no flag time.
* **Failures by step**: the failed samples of those analyses (``failed_samples``: the step and the
  cause), and the analyses that failed as a whole.
* **Cost per sample**: the lake's ``step_costs`` rows whose steps started in the range (the named
  query ``cost_per_sample``), and their totals by project.

The range is inclusive and in UTC; an analysis is in it when it finished (``finished_at``, else its
record's last update) on one of its days.

One module for both profiles: :func:`make_report` takes a registry (anything with ``list()``: the local
SQLite registry or the aws profile's DynamoDB table, :class:`seqflow.aws.registry.DynamoDbRunRegistry`)
and a cost source (a function of the range giving the ``cost_per_sample`` rows: :func:`local_cost_rows`,
DuckDB over the local lake, or :func:`athena_cost_rows`, the same SQL on Athena through the Amazon
provider's ``AthenaHook``). :func:`profile_report` picks both from ``SEQFLOW_PROFILE``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from seqflow.registry import INGEST

FINAL = ("analysed", "partially_analysed", "failed")


def _day(timestamp: str | None) -> str | None:
    return timestamp[:10] if timestamp else None


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def analyses_in_range(records, from_date: date, to_date: date) -> list:
    """The analysis records (not ingest records) over and finished in the range."""
    lo, hi = from_date.isoformat(), to_date.isoformat()
    return [r for r in records if r.analysis != INGEST and r.status in FINAL
            and lo <= (_day(r.details.get("finished_at")) or _day(r.updated_at)) <= hi]


def build_report(records, cost_rows: list[dict[str, Any]], from_date: date, to_date: date) -> dict[str, Any]:
    """The report's content: ``records`` are the registry's (every run), ``cost_rows`` the
    ``cost_per_sample`` query's rows over the range."""
    ingests = {r.run_id: r for r in records if r.analysis == INGEST}
    turnaround = []
    failures: Counter[str] = Counter()
    failed_samples = []
    analyses = analyses_in_range(records, from_date, to_date)
    for r in analyses:
        ingest = ingests.get(r.run_id)
        flag = ingest.details.get("scan") if ingest else None
        lake = r.details.get("lake_committed_at")
        turnaround.append({"run_id": r.run_id, "analysis": r.analysis, "status": r.status, "flag_seen_at": flag,
                           "lake_committed_at": lake, "turnaround_s": _seconds(flag, lake)})
        for sample_id, failure in sorted((r.details.get("failed_samples") or {}).items()):
            step = failure.get("step", "unknown") if isinstance(failure, dict) else "unknown"
            failures[step] += 1
            failed_samples.append({"run_id": r.run_id, "analysis": r.analysis, "sample_id": sample_id, "step": step,
                                   "error": (failure.get("error") or "") if isinstance(failure, dict) else str(failure)})
    projects: dict[str, dict[str, Any]] = {}
    for row in cost_rows:
        total = projects.setdefault(row["project"], {"samples": 0, "cpu_seconds": 0.0, "wall_seconds": 0.0,
                                                     "cost_usd": None})
        total["samples"] += 1
        total["cpu_seconds"] = round(total["cpu_seconds"] + (row["cpu_seconds"] or 0.0), 3)
        total["wall_seconds"] = round(total["wall_seconds"] + (row["wall_seconds"] or 0.0), 3)
        if row.get("cost_usd") is not None:
            total["cost_usd"] = round((total["cost_usd"] or 0.0) + row["cost_usd"], 6)
    done = [t["turnaround_s"] for t in turnaround if t["turnaround_s"] is not None]
    return {
        "from_date": from_date.isoformat(), "to_date": to_date.isoformat(),
        "analyses": len(analyses),
        "statuses": dict(Counter(r.status for r in analyses)),
        "turnaround": turnaround,
        "median_turnaround_s": sorted(done)[len(done) // 2] if done else None,
        "failures_by_step": dict(failures.most_common()),
        "failed_samples": failed_samples,
        "cost_per_sample": cost_rows,
        "cost_by_project": projects,
    }


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _usd(value) -> str:
    return "-" if value is None else f"${value:.4f}"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return out


def format_report(report: dict[str, Any]) -> str:
    """The report as text: a heading per part, a table each."""
    lines = [f"seqflow report {report['from_date']} … {report['to_date']}: {report['analyses']} analysis(es) finished"
             + (" (" + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(report["statuses"].items())) + ")"
                if report["statuses"] else "")]
    lines += ["", "Turnaround (completion flag seen -> rows in the lake)"]
    if report["turnaround"]:
        lines += _table(["run", "analysis", "status", "flag seen", "in the lake", "turnaround"],
                        [[t["run_id"], t["analysis"], t["status"], t["flag_seen_at"] or "- (no ingest scan)",
                          t["lake_committed_at"] or "-", _duration(t["turnaround_s"])] for t in report["turnaround"]])
        lines.append(f"median: {_duration(report['median_turnaround_s'])}")
    else:
        lines.append("no analysis finished in the range")
    lines += ["", "Failures by step"]
    if report["failures_by_step"]:
        lines += _table(["step", "failed samples"], [[s, str(n)] for s, n in report["failures_by_step"].items()])
        for f in report["failed_samples"]:
            lines.append(f"  {f['run_id']} {f['sample_id']} at {f['step']}: {f['error'].splitlines()[0][:160] if f['error'] else ''}")
    else:
        lines.append("no sample failed")
    lines += ["", "Cost per sample (steps started in the range; the lake's step_costs)"]
    if report["cost_per_sample"]:
        lines += _table(["run", "sample", "project", "engines", "steps", "failed", "CPU s", "wall s", "cost"],
                        [[r["run_id"], r["sample_id"], r["project"], r["engines"], str(r["steps"]),
                          str(r["failed_steps"]), f"{r['cpu_seconds']:.1f}", f"{r['wall_seconds']:.1f}",
                          _usd(r["cost_usd"])] for r in report["cost_per_sample"]])
        lines += ["", "By project"]
        lines += _table(["project", "samples", "CPU h", "wall h", "cost"],
                        [[p, str(t["samples"]), f"{t['cpu_seconds'] / 3600:.4f}", f"{t['wall_seconds'] / 3600:.4f}",
                          _usd(t["cost_usd"])] for p, t in sorted(report["cost_by_project"].items())])
        if all(r["cost_usd"] is None for r in report["cost_per_sample"]):
            lines.append("(no USD: local steps are measured in CPU seconds; set SEQFLOW_LOCAL_CPU_HOUR_USD to price them)")
    else:
        lines.append("no step cost recorded in the range")
    return "\n".join(lines)


#: the named query (``sql/cost_per_sample.sql``; an Athena named query on AWS) the cost part reads
COST_QUERY = "cost_per_sample"

CostSource = Callable[[date, date], list[dict[str, Any]]]


def _range(from_date: date, to_date: date) -> dict[str, str]:
    return {"from_date": from_date.isoformat(), "to_date": to_date.isoformat()}


def local_cost_rows(from_date: date, to_date: date) -> list[dict[str, Any]]:
    """The ``cost_per_sample`` rows of the local lake (DuckDB)."""
    from seqflow.catalog import run_query
    from seqflow.config import local_paths

    columns, rows = run_query(local_paths().lake, COST_QUERY, _range(from_date, to_date))
    return [dict(zip(columns, r)) for r in rows]


def athena_cost_query(from_date: date, to_date: date) -> tuple[str, list[str]]:
    """The ``cost_per_sample`` statement as Athena gets it (``?`` placeholders) and its
    ``ExecutionParameters``; checked to read only what the Glue database holds."""
    from seqflow.catalog.athena import check_runs_on_aws
    from seqflow.catalog.sql import load, to_athena

    sql, parameters = to_athena(load(COST_QUERY), _range(from_date, to_date))
    return check_runs_on_aws(sql), parameters


def athena_cost_rows(from_date: date, to_date: date, *, settings=None, athena_hook=None) -> list[dict[str, Any]]:
    """The ``cost_per_sample`` rows of the lake on AWS: the query on Athena (the Glue database, the
    workgroup and the results bucket of the settings), through the Amazon provider's ``AthenaHook``,
    waited for and read typed by its column metadata (:meth:`seqflow.aws.backend.AwsBackend.query_rows`)."""
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    from seqflow.aws.backend import AwsBackend
    from seqflow.aws.settings import AWS_CONN_ID, load_settings

    settings = settings or load_settings()
    hook = athena_hook or AthenaHook(aws_conn_id=AWS_CONN_ID)
    sql, parameters = athena_cost_query(from_date, to_date)
    started = hook.get_conn().start_query_execution(
        QueryString=sql, ExecutionParameters=parameters,
        QueryExecutionContext={"Database": settings.require("glue_database")},
        ResultConfiguration={"OutputLocation": f"s3://{settings.require('athena_results_bucket')}/seqflow/report/"},
        WorkGroup=settings.require("athena_workgroup"))
    query_id = started["QueryExecutionId"]
    # a person waits at the command line: every 2 s (the hook's default is 30 s, also before the first
    # look), for up to 30 minutes
    state = hook.poll_query_status(query_id, max_polling_attempts=900, sleep_time=2)
    if state != "SUCCEEDED":
        reason = hook.get_state_change_reason(query_id) if state else None
        raise RuntimeError(f"Athena query {COST_QUERY} ({query_id}) ended {state}: {reason or 'no reason given'}")
    return AwsBackend(settings).query_rows(query_id, athena_hook=hook)


def make_report(registry, cost_rows: CostSource, from_date: date, to_date: date) -> dict[str, Any]:
    """The report from a registry (its ``list()``) and a cost source over the range."""
    return build_report(registry.list(), cost_rows(from_date, to_date), from_date, to_date)


def local_report(from_date: date, to_date: date) -> dict[str, Any]:
    """The report of the local profile: its SQLite registry and its lake (DuckDB)."""
    from seqflow.registry import local_registry

    return make_report(local_registry(), local_cost_rows, from_date, to_date)


def aws_report(from_date: date, to_date: date, *, settings=None, registry=None, athena_hook=None) -> dict[str, Any]:
    """The report of the aws profile: the DynamoDB registry and the lake through Athena."""
    from seqflow.aws.registry import aws_registry
    from seqflow.aws.settings import load_settings

    settings = settings or load_settings()
    return make_report(registry or aws_registry(settings),
                       lambda lo, hi: athena_cost_rows(lo, hi, settings=settings, athena_hook=athena_hook),
                       from_date, to_date)


def profile_report(from_date: date, to_date: date) -> dict[str, Any]:
    """The report of the profile ``SEQFLOW_PROFILE`` names."""
    from seqflow.config import profile

    return aws_report(from_date, to_date) if profile() == "aws" else local_report(from_date, to_date)
