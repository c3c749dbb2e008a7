"""Follow a daily-ingest DAG run and the analysis runs it starts, with progress lines."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from seqflow.analysis.catalog import SAMPLE_STEPS as CATALOGUE_STEPS
from seqflow.local.client import AirflowClient

INGEST_DAG_ID = "seqflow_daily_ingest"
ANALYSIS_DAG_ID = "seqflow_analysis"
FINISHED = {"success", "failed"}
#: per-sample tasks in pipeline order (task ids inside the ``sample`` group: the step catalogue's steps)
SAMPLE_STEPS = ("requests", *CATALOGUE_STEPS)


@dataclass
class Outcome:
    state: str
    ingest_run_id: str
    analysis_run_ids: list[str] = field(default_factory=list)
    failed_tasks: list[tuple[str, str, dict]] = field(default_factory=list)  # (dag_id, dag_run_id, ti)
    seconds: float = 0.0


def _sample_progress(tis: list[dict], names: dict[int, str] | None = None) -> dict[str, str]:
    """sample id -> "step (state)" of the furthest step reached."""
    by_index: dict[int, tuple[int, str, str]] = {}
    names = dict(names or {})
    for ti in tis:
        task = ti["task_id"].removeprefix("sample.")
        if task not in SAMPLE_STEPS or ti.get("map_index", -1) < 0:
            continue
        idx = ti["map_index"]
        if ti.get("rendered_map_index") and not ti["rendered_map_index"].isdigit():
            names[idx] = ti["rendered_map_index"]
        rank = SAMPLE_STEPS.index(task)
        state = ti.get("state") or "waiting"
        current = by_index.get(idx)
        if state not in ("waiting", "none") and (current is None or rank >= current[0]):
            by_index[idx] = (rank, task, state)
        elif current is None:
            by_index[idx] = (-1, "waiting", "")
    return {
        names.get(i, f"#{i}"): (f"{task} ({state})" if state else task) for i, (_, task, state) in sorted(by_index.items())
    }


def wait_for(client: AirflowClient, dag_id: str, dag_run_id: str, *, timeout_s: float = 600,
             poll_s: float = 2) -> str:
    """Wait until one DAG run has finished; its final state (``success`` or ``failed``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = client.dag_run(dag_id, dag_run_id)
        if run and run["state"] in FINISHED:
            return run["state"]
        time.sleep(poll_s)
    raise TimeoutError(f"{dag_id} {dag_run_id} not finished after {timeout_s:.0f} s")


def describe(client: AirflowClient, dag_id: str, run_id: str) -> tuple[str, str, list[dict]]:
    run = client.dag_run(dag_id, run_id)
    state = (run or {}).get("state", "queued")
    tis = client.task_instances(dag_id, run_id) if run else []
    counts = Counter(ti.get("state") or "waiting" for ti in tis)
    done = counts.get("success", 0) + counts.get("skipped", 0)
    return state, f"{done}/{len(tis)} tasks done" + (f", {counts['running']} running" if counts.get("running") else ""), tis


def follow(
    client: AirflowClient, ingest_run_id: str, *, say: Callable[[str], None] = print,
    poll_s: float = 3.0, timeout_s: float = 4 * 3600,
) -> Outcome:
    """Poll until the ingest DAG run and the analyses it started are finished (the ingest does not
    wait for its analyses); print a line whenever progress changes. The outcome is ``failed`` when
    the ingest or any of its analyses failed."""
    start = time.monotonic()
    last = ""
    sample_names: dict[str, dict[int, str]] = {}
    while True:
        state, summary, tis = describe(client, INGEST_DAG_ID, ingest_run_id)
        parts = [f"ingest {state}: {summary}"]
        analysis_ids = []
        for ti in tis:
            if ti["task_id"] == "trigger_analysis" and ti.get("rendered_fields", {}).get("trigger_run_id"):
                analysis_ids.append(ti["rendered_fields"]["trigger_run_id"])
        analysis_ids = sorted(set(analysis_ids))
        analysis_states = []
        for rid in analysis_ids:
            a_state, a_summary, a_tis = describe(client, ANALYSIS_DAG_ID, rid)
            analysis_states.append(a_state)
            if rid not in sample_names:
                jobs = client.xcom(ANALYSIS_DAG_ID, rid, "sample_jobs")
                if isinstance(jobs, list):
                    sample_names[rid] = {i: job.get("sample_id", f"#{i}") for i, job in enumerate(jobs)}
            samples = _sample_progress(a_tis, sample_names.get(rid))
            parts.append(f"analysis {rid.split('__')[1] if '__' in rid else rid} {a_state}: {a_summary}")
            parts += [f"    {sample}: {step}" for sample, step in samples.items()]
        line = "\n  ".join(parts)
        if line != last:
            say(f"[{time.monotonic() - start:6.0f}s] {line}")
            last = line
        if state in FINISHED and all(s in FINISHED for s in analysis_states):
            overall = "failed" if "failed" in (state, *analysis_states) else state
            outcome = Outcome(overall, ingest_run_id, analysis_ids, seconds=time.monotonic() - start)
            for ti in tis:
                if ti.get("state") == "failed":
                    outcome.failed_tasks.append((INGEST_DAG_ID, ingest_run_id, ti))
            for rid in analysis_ids:
                for ti in client.task_instances(ANALYSIS_DAG_ID, rid):
                    if ti.get("state") == "failed":
                        outcome.failed_tasks.append((ANALYSIS_DAG_ID, rid, ti))
            return outcome
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"{INGEST_DAG_ID} run {ingest_run_id} not finished after {timeout_s:.0f} s")
        time.sleep(poll_s)


def failure_report(client: AirflowClient, outcome: Outcome, tail_lines: int = 40) -> str:
    """The failing tasks with the tail of each one's log."""
    blocks = []
    for dag_id, dag_run_id, ti in outcome.failed_tasks:
        log = client.task_log(dag_id, dag_run_id, ti["task_id"], ti.get("try_number") or 1, ti.get("map_index", -1))
        tail = "\n".join(log.splitlines()[-tail_lines:])
        label = ti["task_id"] + (f"[{ti.get('rendered_map_index') or ti['map_index']}]" if ti.get("map_index", -1) >= 0 else "")
        blocks.append(f"--- {dag_id} / {dag_run_id} / {label} failed; log tail:\n{tail}")
    return "\n".join(blocks)
