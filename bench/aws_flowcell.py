"""A flow cell of many tiny samples through the aws-profile DAGs, with AWS answered by moto.

It uses the moto-server harness of ``tests/e2e/test_aws_profile.py`` (the same
resources as Terraform creates them, the same call recorder), with one change
that matters here: Airflow reads its Variables through the **SSM Parameter
Store secrets backend** (pointed at moto), as MWAA does, so every SSM call the
DAGs make is counted. The daily ingest copies a run of ``--samples`` samples,
then the analysis DAG runs on Batch with the conf the ingest hands over, both
with ``dag.test`` (one task at a time, deferred waits run in line). It prints:

* task instances by task and state;
* XCom: rows and bytes of the analysis run (the metadata DB's ``xcom`` table);
* the AWS calls by service and operation; SSM split into Variable reads and
  connection look-ups (``/airflow/connections/aws_default``, one per hook);
* the most Glue job runs alive at once (started, not yet seen ending) and how
  many ``StartJobRun`` calls Glue refused (``ConcurrentRunsExceededException``)
  against the job's ``MaxConcurrentRuns``;
* the triggers started and the most alive at once;
* the scheduler loop's time per task: the DAG run's wall time minus the time in
  the tasks and in the triggers, per task instance.

``dag.test`` runs one task at a time, so the concurrency figures are those of
that loop, not of a scheduler with many worker slots (bench/README.md says what
follows for a real deployment).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "include"))
from seqflow.aws.config_keys import (  # noqa: E402  (the deployment's backend kwargs: one owner)
    SSM_CONNECTIONS_PREFIX as CONNECTIONS_PREFIX,
    SSM_VARIABLES_PREFIX as VARIABLES_PREFIX,
    secrets_backend_kwargs,
)
from seqflow.glue import MAX_CONCURRENT_RUNS  # noqa: E402  (the job's MaxConcurrentRuns, as Terraform sets it)

GLUE_TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR")


# -- counting (tests/bench/test_aws_flowcell_counting.py) -------------------------------------------


def call_counts(calls) -> Counter:
    """``(service, operation)`` -> calls, from ``(service, operation, params)`` records."""
    return Counter((service, operation) for service, operation, *_ in calls)


def ssm_reads(calls) -> dict[str, int]:
    """SSM calls by what they read: ``variables`` (seqflow's configuration and other Variables),
    ``connections`` (the secrets backend's connection look-ups), ``other``."""
    out = {"variables": 0, "connections": 0, "other": 0}
    for service, operation, params, *_ in calls:
        if service != "ssm":
            continue
        names = params.get("Names") or [params.get("Name") or params.get("Path") or ""]
        if all(n.startswith(VARIABLES_PREFIX + "/") for n in names):
            out["variables"] += 1
        elif all(n.startswith(CONNECTIONS_PREFIX + "/") for n in names):
            out["connections"] += 1
        else:
            out["other"] += 1
    return out


def max_concurrent_glue_runs(timeline) -> tuple[int, int]:
    """The most Glue job runs alive at once, and how many starts Glue refused.

    ``timeline`` holds ``(time, service, operation, params, response, error)`` in call order;
    a run is alive from its ``StartJobRun`` until a ``GetJobRun`` sees it in a terminal state.
    """
    alive: set[str] = set()
    most, refused = 0, 0
    for _, service, operation, params, response, error in sorted(timeline, key=lambda e: e[0]):
        if service != "glue":
            continue
        if operation == "StartJobRun":
            if error:
                refused += "ConcurrentRunsExceeded" in error
                continue
            alive.add(response["JobRunId"])
            most = max(most, len(alive))
        elif operation == "GetJobRun" and not error:
            run = response.get("JobRun", {})
            if run.get("JobRunState") in GLUE_TERMINAL:
                alive.discard(run.get("Id") or params.get("RunId"))
    return most, refused


def max_alive(intervals) -> int:
    """The most ``(start, end)`` intervals open at one time."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def scheduler_seconds_per_task(wall: float, in_tasks: float, in_triggers: float, task_instances: int) -> float:
    """The loop's own time per task instance: what is left of the wall time outside tasks and triggers."""
    return max(0.0, wall - in_tasks - in_triggers) / max(1, task_instances)


# -- the run ------------------------------------------------------------------------------------


def _timeline_recorder(recorder):
    """Also keep each call's time, response and error (the harness keeps the params only)."""
    import botocore.client

    recorder.timeline = []
    inner = botocore.client.BaseClient._make_api_call

    def timed(self, operation_name, api_params):
        start = time.monotonic()
        try:
            response = inner(self, operation_name, api_params)
        except Exception as exc:
            recorder.timeline.append((start, self.meta.service_model.service_name, operation_name, dict(api_params),
                                      {}, f"{type(exc).__name__}: {exc}"))
            raise
        recorder.timeline.append((start, self.meta.service_model.service_name, operation_name, dict(api_params),
                                  response, ""))
        return response

    botocore.client.BaseClient._make_api_call = timed
    try:  # the deferred waits poll in the trigger with aiobotocore's client (not botocore's)
        import aiobotocore.client
    except ImportError:
        return inner
    async_inner = aiobotocore.client.AioBaseClient._make_api_call

    async def async_timed(self, operation_name, api_params):
        start, service = time.monotonic(), self.meta.service_model.service_name
        recorder.calls.append((service, operation_name, dict(api_params)))
        try:
            response = await async_inner(self, operation_name, api_params)
        except Exception as exc:
            recorder.timeline.append((start, service, operation_name, dict(api_params), {},
                                      f"{type(exc).__name__}: {exc}"))
            raise
        recorder.timeline.append((start, service, operation_name, dict(api_params), response, ""))
        return response

    aiobotocore.client.AioBaseClient._make_api_call = async_timed
    return inner


def _time_tasks_and_triggers():
    """Wrap dag.test's in-process task runner and inline trigger runner to time them."""
    from airflow.sdk.execution_time import supervisor

    spans = {"tasks": [], "triggers": []}
    run_task = supervisor.run_task_in_process
    run_trigger = supervisor.InProcessTestSupervisor.run_trigger_in_process

    def timed_task(*args, **kwargs):
        start = time.monotonic()
        try:
            return run_task(*args, **kwargs)
        finally:
            spans["tasks"].append((start, time.monotonic()))

    def timed_trigger(*args, **kwargs):
        start = time.monotonic()
        try:
            return run_trigger(*args, **kwargs)
        finally:
            spans["triggers"].append((start, time.monotonic()))

    supervisor.run_task_in_process = timed_task
    supervisor.InProcessTestSupervisor.run_trigger_in_process = staticmethod(timed_trigger)
    return spans


def _xcom_bytes(dag_id: str, run_id: str) -> tuple[int, int]:
    from sqlalchemy import func, select

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows, size = session.execute(
            select(func.count(), func.coalesce(func.sum(func.length(XComModel.value)), 0))
            .where(XComModel.dag_id == dag_id, XComModel.run_id == run_id)).one()
    return int(rows), int(size)


def run(samples: int, glue_limit: int, workdir: Path, lookup_pattern: str | None = None) -> dict:
    sys.path.insert(0, str(REPO / "tests" / "e2e"))
    import pytest

    import test_aws_profile as harness

    env = pytest.MonkeyPatch()
    server, url = harness.start_moto_server(env)
    try:
        recorder = harness.install_recorder(env)
        _timeline_recorder(recorder)
        aws = harness.deploy(env, recorder, workdir / "reference", n_samples=samples,
                             glue_max_concurrent_runs=glue_limit)
        # Variables from SSM through the secrets backend, as on MWAA: not from the environment
        for key in aws["config"]:
            from seqflow.aws.config_keys import variable_name

            env.delenv(f"AIRFLOW_VAR_{variable_name(key).upper()}", raising=False)
        env.setenv("AIRFLOW__SECRETS__BACKEND",
                   "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend")
        # the kwargs Terraform gives MWAA's backend (config_keys.secrets_backend_kwargs()), but for
        # --lookup-pattern: "" looks every name up in SSM (as before the patterns), RE replaces both
        backend_kwargs = {**secrets_backend_kwargs(), "region_name": harness.REGION, "endpoint_url": url}
        if lookup_pattern is not None:
            backend_kwargs.pop("variables_lookup_pattern"), backend_kwargs.pop("connections_lookup_pattern")
            if lookup_pattern:  # only names matching it are looked up in SSM (variables and connections)
                backend_kwargs |= {"variables_lookup_pattern": lookup_pattern,
                                   "connections_lookup_pattern": lookup_pattern}
        env.setenv("AIRFLOW__SECRETS__BACKEND_KWARGS", json.dumps(backend_kwargs))
        harness.airflow_metadata_db(env, workdir / "airflow")
        spans = _time_tasks_and_triggers()

        t0 = time.monotonic()
        ingest = harness.run_ingest(recorder)
        ingest_wall = time.monotonic() - t0
        if not ingest["triggers"]:
            raise SystemExit(f"the ingest handed over no analysis: {harness._states(ingest['run'])}")
        [trigger] = ingest["triggers"]
        harness._seed_qc_query(url, aws, "1.0.0", {s: 9 for s in aws["samples"]})
        dag = harness._load("seqflow_analysis")
        calls_before, timeline_before = len(recorder.calls), len(recorder.timeline)
        tasks_before, triggers_before = len(spans["tasks"]), len(spans["triggers"])
        t0 = time.monotonic()
        analysis = dag.test(run_conf=trigger["conf"],
                            logical_date=dt.datetime(2026, 11, 20, 1, tzinfo=dt.timezone.utc))
        wall = time.monotonic() - t0
        calls = recorder.calls[calls_before:]
        timeline = recorder.timeline[timeline_before:]
        task_spans, trigger_spans = spans["tasks"][tasks_before:], spans["triggers"][triggers_before:]
        tis = analysis.get_task_instances()
        by_task = Counter((ti.task_id, ti.state) for ti in tis)
        xcom_rows, xcom_bytes = _xcom_bytes("seqflow_analysis", analysis.run_id)
        glue_most, glue_refused = max_concurrent_glue_runs(timeline)
        return {
            "samples": samples, "state": str(analysis.state),
            "lookup_patterns": {k: backend_kwargs.get(k) for k in ("variables_lookup_pattern",
                                                                   "connections_lookup_pattern")},
            "ingest_wall_s": round(ingest_wall, 1),
            "ingest_calls": {f"{s}:{o}": n for (s, o), n in sorted(call_counts(ingest["calls"]).items())},
            "ingest_ssm": ssm_reads(ingest["calls"]),
            "wall_s": round(wall, 1), "task_instances": len(tis),
            "tasks": {f"{t} [{s}]": n for (t, s), n in sorted(by_task.items())},
            "xcom_rows": xcom_rows, "xcom_bytes": xcom_bytes,
            "calls": {f"{s}:{o}": n for (s, o), n in sorted(call_counts(calls).items())},
            "ssm": ssm_reads(calls),
            "ssm_get_parameter_names": dict(Counter(p["Name"] for sv, o, p in calls
                                                    if (sv, o) == ("ssm", "GetParameter")).most_common()),
            "glue_most_concurrent": glue_most, "glue_refused": glue_refused, "glue_limit": glue_limit,
            "task_runs": len(task_spans), "triggers": len(trigger_spans), "triggers_alive_at_once": max_alive(trigger_spans),
            "seconds_in_tasks": round(sum(e - s for s, e in task_spans), 1),
            "seconds_in_triggers": round(sum(e - s for s, e in trigger_spans), 1),
            "scheduler_s_per_task": round(scheduler_seconds_per_task(
                wall, sum(e - s for s, e in task_spans), sum(e - s for s, e in trigger_spans), len(tis)), 3),
        }
    finally:
        server.stop()
        env.undo()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=384)
    parser.add_argument("--glue-limit", type=int, default=MAX_CONCURRENT_RUNS,
                        help="the Glue job's MaxConcurrentRuns (default: Terraform's, seqflow.glue.MAX_CONCURRENT_RUNS)")
    parser.add_argument("--lookup-pattern", help="the SSM backend's variables/connections_lookup_pattern, "
                                                  "e.g. '^seqflow_'; '' for none (default: the patterns of "
                                                  "seqflow.aws.config_keys, as terraform/modules/airflow sets them)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="seqflow-bench-aws-") as tmp:
        (Path(tmp) / "reference").mkdir()
        (Path(tmp) / "airflow").mkdir()
        figures = run(args.samples, args.glue_limit, Path(tmp), args.lookup_pattern)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if figures["state"] == "success" else 1


if __name__ == "__main__":
    raise SystemExit(main())
