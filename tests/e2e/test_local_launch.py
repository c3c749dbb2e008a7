"""End to end on the local profile: a launch file submitted with `seqflow launch` to the real local Airflow
analyses a one-sample lambda run already in raw storage, and its request record ends *analysed* (written by
the analysis DAG run's own finalise_run, not by polling) with the
analysis's output files, step logs, Airflow task log URLs and cost (the steps' measured CPU seconds, also in
the lake's step_costs table); `seqflow status` and `seqflow report` show it."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow-e2e")]

RUN_DATE = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from local_runs import seqflow_home

    yield from seqflow_home(tmp_path_factory)


@pytest.fixture(scope="module")
def run_folder(home):
    """A one-sample lambda run at low coverage, already in raw storage (what the ingest leaves there)."""
    from local_runs import lambda_run_in_raw

    return lambda_run_in_raw(RUN_DATE, seed=13)


@pytest.fixture(scope="module")
def launched(home, run_folder, tmp_path_factory):
    from seqflow.cli import main
    from seqflow.launch import REQUEST_FINAL, needs_refresh
    from seqflow.local.services import running_airflow
    from seqflow.local.watch import ANALYSIS_DAG_ID
    from seqflow.registry import local_registry

    logging.getLogger("httpx").setLevel(logging.WARNING)
    launch_file = tmp_path_factory.mktemp("launch") / "lambda.yaml"
    launch_file.write_text(f"name: e2e launch\nreference: lambda\npriority: high\nnotify: [ops@example.org]\n"
                           f"runs:\n  - run_id: {run_folder.name}\n    samples: [LAM-S01]\n")
    with running_airflow(dag_ids=(ANALYSIS_DAG_ID,)) as airflow:
        port = urlparse(airflow.url).port
        code = main(["launch", str(launch_file), "--port", str(port)])
        [request] = local_registry().list_requests()
        # nobody polls Airflow here: the analysis DAG run's finalise_run writes the request's end itself
        deadline = time.monotonic() + 900
        while request.status not in REQUEST_FINAL and time.monotonic() < deadline:
            time.sleep(3)
            request = local_registry().get_request(request.request_id)
        finalised = request
        # `seqflow status` adds the Airflow task log links once the DAG run is over
        while needs_refresh(request) and time.monotonic() < deadline:
            status_code = main(["status", "--port", str(port)])
            request = local_registry().get_request(request.request_id)
            time.sleep(1)
        status_code = main(["status", "--port", str(port)])
        yield {"code": code, "request": request, "finalised": finalised, "status_code": status_code,
               "url": airflow.url}


def test_a_launch_file_reaches_analysed_with_its_outputs_and_logs(launched, run_folder):
    request = launched["request"]
    assert launched["code"] == 0, json.dumps(request.__dict__, indent=2)
    assert request.status == "analysed"
    assert [h["status"] for h in request.details["history"]] == ["requested", "running", "analysed"]
    # written by the run's finalise_run (record_run_end), before any `seqflow status` asked Airflow
    finalised = launched["finalised"]
    assert finalised.status == "analysed", json.dumps(finalised.__dict__, indent=2)
    [run_at_end] = finalised.details["runs"].values()
    assert run_at_end["status"] == "analysed" and run_at_end["finished_at"] and run_at_end["cost"]
    assert request.details["priority"] == "high" and request.details["notify"] == ["ops@example.org"]
    [run] = request.details["runs"].values()
    assert run["dag_run_id"] == f"launch__{request.request_id}__{run_folder.name}"
    assert run["analysis"] == "1.0.0/lambda/bwa/bcftools"
    outputs = [Path(urlparse(u).path) for u in run["outputs"]]
    assert all(p.is_file() for p in outputs)
    names = {p.name for p in outputs}
    assert {"manifest.json", "qc_summary.json", "LAM-S01.vcf.gz"} <= names
    logs = [Path(urlparse(u).path) for u in run["logs"]]
    assert logs and all(p.is_file() and p.name.startswith("LAM-S01.") and p.suffix == ".log" for p in logs)
    assert any(u.endswith("/tasks/finalise_run") for u in run["airflow_logs"])
    assert all(u.startswith(f"{launched['url']}/dags/seqflow_analysis/runs/{run['dag_run_id']}/tasks/")
               for u in run["airflow_logs"])


def test_status_shows_the_request(launched, capsys):
    from seqflow.cli import main

    assert launched["status_code"] == 0
    assert main(["status", "--no-refresh"]) == 0
    out = capsys.readouterr().out
    request = launched["request"]
    assert f"{request.request_id}  analysed" in out
    assert f"DAG run launch__{request.request_id}__" in out


def test_the_request_lists_the_cost_the_steps_measured_and_the_lake_holds_it(launched):
    from seqflow.catalog import run_query
    from seqflow.config import local_paths

    [run] = launched["request"].details["runs"].values()
    cost = run["cost"]
    assert cost["engines"] == ["local"] and cost["table"] == "step_costs" and cost["snapshot_id"]
    sample = cost["samples"]["LAM-S01"]
    # fastp, bwa, bcftools and samtools really ran: CPU seconds measured, wall time beside them
    assert sample["cpu_seconds"] > 0 and sample["wall_seconds"] > 0 and cost["steps"] >= 5
    assert cost["cpu_seconds"] == sample["cpu_seconds"]
    day = launched["request"].created_at[:10]
    columns, rows = run_query(local_paths().lake, "cost_per_sample", {"from_date": day, "to_date": day})
    [row] = [dict(zip(columns, r)) for r in rows]
    assert row["sample_id"] == "LAM-S01" and row["steps"] == cost["steps"] and row["failed_steps"] == 0
    assert row["cpu_seconds"] == pytest.approx(sample["cpu_seconds"], abs=0.01)


def test_status_and_report_show_the_cost(launched, capsys):
    from seqflow.cli import main

    assert main(["status", "--no-refresh"]) == 0
    assert "cost: " in capsys.readouterr().out
    day = launched["request"].created_at[:10]
    assert main(["report", "--from-date", day, "--to-date", day]) == 0
    out = capsys.readouterr().out
    assert "1 analysis(es) finished (1 analysed)" in out and "no sample failed" in out
    assert "LAM-S01" in out[out.index("Cost per sample"):]
