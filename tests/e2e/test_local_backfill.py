"""End to end on the local profile: a backfill (``seqflow backfill``, the local form of ``airflow backfill
create``) re-analyses archived runs by the date in their name, from raw storage (the share has long been
purged). The ingest keeps its real ``@daily`` schedule here: its own scan (the newest interval, by the
real clock) finds nothing, since the runs are months old and not on the share. (A trigger of one sample
of a larger run: tests/e2e/test_local_genomes.py.)"""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-backfill")]

ARCHIVED = dt.date(2026, 3, 10)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("seqflow-home-backfill")
    mp.setenv("SEQFLOW_HOME", str(home))
    mp.setenv("SEQFLOW_INGEST_SCHEDULE", "@daily")
    mp.setenv("SEQFLOW_PROFILE", "local")
    yield home
    mp.undo()


@pytest.fixture(scope="module")
def archived(home):
    """Two one-sample runs in raw storage only: one of the backfilled day, one of the next day."""
    from seqflow.config import local_paths
    from seqflow.demo.runfolder import generate_run

    paths = local_paths()
    day = generate_run(paths.raw, paths.truth, paths.references, reference="lambda", run_date=ARCHIVED,
                       run_number=11, samples=1, coverage=10, seed=21)
    next_day = generate_run(paths.raw, paths.truth, paths.references, reference="lambda",
                            run_date=ARCHIVED + dt.timedelta(days=1), run_number=12, samples=1, coverage=10, seed=22)
    return day, next_day


def _wait_for_backfill_run(client, dag_id: str, timeout_s: float = 120) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = client.dag_runs(dag_id, run_type="backfill")
        if runs:
            return runs[0]["dag_run_id"]
        time.sleep(2)
    raise TimeoutError(f"no backfill run of {dag_id} after {timeout_s} s")


@pytest.fixture(scope="module")
def pipeline(archived):
    from seqflow.local.client import AirflowClient
    from seqflow.local.services import running_airflow
    from seqflow.local.watch import ANALYSIS_DAG_ID, INGEST_DAG_ID, failure_report, follow

    logging.getLogger("httpx").setLevel(logging.WARNING)
    with running_airflow(dag_ids=(INGEST_DAG_ID, ANALYSIS_DAG_ID)) as airflow:
        client = AirflowClient(airflow.url)
        # as a user would, beside the running services
        created = subprocess.run(
            [sys.executable, "-m", "seqflow.cli", "backfill", "--port", str(airflow.port),
             "--from-date", ARCHIVED.isoformat(), "--to-date", ARCHIVED.isoformat(),
             "--conf", json.dumps({"reference": "lambda"})],
            capture_output=True, text=True, timeout=300)
        assert created.returncode == 0, created.stdout[-2000:] + created.stderr[-3000:]
        backfill_id = _wait_for_backfill_run(client, INGEST_DAG_ID)
        backfill = follow(client, backfill_id, say=print, poll_s=2, timeout_s=1200)
        assert backfill.state == "success", failure_report(client, backfill)
        backfill_run = client.dag_run(INGEST_DAG_ID, backfill_id)
        scheduled = client.dag_runs(INGEST_DAG_ID, run_type="scheduled")
        yield {"backfill": backfill, "backfill_run": backfill_run, "scheduled": scheduled}


def test_backfill_reanalyses_the_runs_named_for_its_date_from_raw_storage(pipeline, archived):
    from seqflow.registry import INGEST, local_registry

    day, next_day = archived
    run = pipeline["backfill_run"]
    assert run["run_type"] == "backfill" and run["logical_date"].startswith(ARCHIVED.isoformat())
    assert [rid.split("__")[1] for rid in pipeline["backfill"].analysis_run_ids] == [day.name]
    assert local_registry().get(day.name, INGEST).status == "ingested"
    [analysis] = [r for r in local_registry().list(day.name) if r.analysis != INGEST]
    assert analysis.status == "analysed"
    # the next day's run is not the backfill's: not ingested, not analysed
    assert local_registry().list(next_day.name) == []


def test_the_schedules_own_scan_leaves_archived_runs_alone(pipeline, archived):
    from seqflow.registry import local_registry

    for run in pipeline["scheduled"]:  # catchup=False: at most the newest interval's scan, which finds nothing
        assert run["state"] in ("success", "running", "queued")
    # nothing but the backfill touched the registry
    assert {r.run_id for r in local_registry().list()} == {archived[0].name}
