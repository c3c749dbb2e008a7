"""Cost per step, sample, run and project: the rows of the lake's ``step_costs`` table and the summary
a run's registry record carries.

One row per step of each sample of an analysis (schema :data:`seqflow.lake.schema.STEP_COSTS_SCHEMA`),
with the sample's project (the sample sheet's ``Sample_Project``), the engine, the CPU and wall
seconds and, where a price applies, ``cost_usd``:

* **local** (:func:`local_step_costs`): what the step runner measured of each run of each step script
  (``<sample>.<step>.usage.jsonl``, one :class:`seqflow.analysis.steps.StepUsage` line per run: user +
  system CPU seconds of the script and its tools, wall seconds, peak RSS); a step's retries and the
  shards of a scattered step are summed into its row. A local machine has no price list;
  ``cost_usd`` is the CPU hours times ``SEQFLOW_LOCAL_CPU_HOUR_USD`` when that is set, else null.
* **aws** (:mod:`seqflow.aws.costs`): each Batch job's attempts or each HealthOmics run's tasks,
  priced by instance type from a dated price table.

:func:`cost_summary` folds the rows into what ``finalise_run`` records in the registry and
``seqflow status`` / ``seqflow report`` show.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Any

#: price of one CPU hour of the local machine, in USD; unset: local rows have no cost_usd
LOCAL_CPU_HOUR_ENV = "SEQFLOW_LOCAL_CPU_HOUR_USD"


def month_of(timestamp: str | None) -> str | None:
    """``YYYY-MM`` of an ISO 8601 timestamp (the row's month in ``step_costs``)."""
    return timestamp[:7] if timestamp and len(timestamp) >= 7 else None


def sample_projects(sheet, sample_ids) -> dict[str, str | None]:
    """Each sample's ``Sample_Project`` (its first row in the sheet), or None."""
    out: dict[str, str | None] = {}
    for sample_id in sample_ids:
        records = sheet.records_for(sample_id)
        out[sample_id] = records[0].sample_project if records else None
    return out


def local_cpu_hour_price() -> float | None:
    """``SEQFLOW_LOCAL_CPU_HOUR_USD`` as a number, or None; a value that is not a price is an error."""
    text = os.environ.get(LOCAL_CPU_HOUR_ENV, "").strip()
    if not text:
        return None
    try:
        price = float(text)
    except ValueError:
        raise ValueError(f"{LOCAL_CPU_HOUR_ENV}={text!r} is not a price in USD per CPU hour") from None
    if price < 0:
        raise ValueError(f"{LOCAL_CPU_HOUR_ENV}={text!r} is negative")
    return price


def local_row(runs: list[dict[str, Any]], sample_id: str, project: str | None, *, price: float | None
              ) -> dict[str, Any]:
    """The ``step_costs`` row of one local step from the runs of its script (its usage log's
    :class:`~seqflow.analysis.steps.StepUsage` lines: retries, shards): CPU and wall seconds summed,
    the largest peak RSS, the first start; *succeeded* when its last run exited 0."""
    cpu = round(sum(float(u["cpu_seconds"]) for u in runs), 3)
    started = min(u["started_at"] for u in runs)
    return {
        "sample_id": sample_id,
        "project": project,
        "step": runs[0]["step"],
        "engine": "local",
        "status": "succeeded" if runs[-1].get("exit_code") == 0 else "failed",
        "job_id": None,
        "attempts": len(runs),
        "instance_type": None,
        "vcpus": None,
        "memory_mib": None,
        "cpu_seconds": cpu,
        "wall_seconds": round(sum(float(u["wall_seconds"]) for u in runs), 3),
        "max_rss_kib": max(int(u.get("max_rss_kib") or 0) for u in runs),
        "cost_usd": None if price is None else round(cpu / 3600 * price, 6),
        "price_source": None if price is None else f"{LOCAL_CPU_HOUR_ENV}={price}",
        "started_at": started,
        "month": month_of(started),
    }


def local_step_costs(run_plan: dict[str, Any], backend) -> list[dict[str, Any]]:
    """The ``step_costs`` rows of a local analysis: every usage log its samples' steps left in the
    results folders (the failed samples' too: a failed step used the machine as well)."""
    from seqflow.analysis.catalog import catalog
    from seqflow.analysis.steps import USAGE_SUFFIX
    from seqflow.identity import AnalysisIdentity

    identity = AnalysisIdentity.from_dict(run_plan)
    projects = run_plan.get("projects") or {}
    price = local_cpu_hour_price()
    rows = []
    for sample_id in run_plan["samples"]:
        if sample_id in (run_plan.get("failed_samples") or {}):
            continue  # refused at plan: no step ran
        results = backend.results_uri(identity, sample_id)
        for step in catalog().sample_step_names:
            uri = f"{results.rstrip('/')}/{sample_id}.{step}{USAGE_SUFFIX}"
            if backend.exists(uri):
                runs = [json.loads(line) for line in backend.read_text(uri).splitlines() if line.strip()]
                if runs:
                    rows.append(local_row(runs, sample_id, projects.get(sample_id), price=price))
    return rows


def _add(total: dict[str, Any], row: dict[str, Any]) -> None:
    total["cpu_seconds"] = round(total.get("cpu_seconds", 0.0) + (row.get("cpu_seconds") or 0.0), 3)
    total["wall_seconds"] = round(total.get("wall_seconds", 0.0) + (row.get("wall_seconds") or 0.0), 3)
    if row.get("cost_usd") is not None:
        total["cost_usd"] = round((total.get("cost_usd") or 0.0) + row["cost_usd"], 6)
    else:
        total.setdefault("cost_usd", None)
        if row.get("engine") != "local":
            total["unpriced_steps"] = total.get("unpriced_steps", 0) + 1


def cost_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The registry's ``cost`` of an analysis: totals (CPU seconds, wall seconds, USD where priced), per
    sample and per project, the engines, and how many step rows the lake holds for it."""
    total: dict[str, Any] = {}
    samples: dict[str, dict[str, Any]] = defaultdict(dict)
    projects: dict[str, dict[str, Any]] = defaultdict(dict)
    for row in rows:
        _add(total, row)
        sample = samples[row["sample_id"]]
        sample.setdefault("project", row.get("project"))
        _add(sample, row)
        _add(projects[row.get("project") or "(none)"], row)
    return {
        **{"cpu_seconds": 0.0, "wall_seconds": 0.0, "cost_usd": None, **total},
        "engines": sorted({r["engine"] for r in rows}),
        "steps": len(rows),
        "samples": dict(samples),
        "projects": dict(projects),
        "table": "step_costs",
    }
