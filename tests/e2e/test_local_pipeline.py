"""End to end on the local profile: a real Airflow (api-server, scheduler,
dag-processor, triggerer) runs the daily ingest and the analysis DAGs on a tiny
lambda-phage run with two samples, using the real tools."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pyarrow.dataset as ds
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow-e2e")]

RUN_DATE = dt.date(2026, 11, 19)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("seqflow-home")
    mp.setenv("SEQFLOW_HOME", str(home))
    yield home
    mp.undo()


@pytest.fixture(scope="module")
def demo_run(home):
    from seqflow.config import local_paths
    from seqflow.demo.runfolder import generate_run

    paths = local_paths()
    return generate_run(paths.landing, paths.truth, paths.references, reference="lambda",
                        run_date=RUN_DATE, samples=2, coverage=30, seed=7)


@pytest.fixture(scope="module")
def pipeline(home, demo_run):
    """Trigger the daily ingest for the run's date and wait for it and its analysis."""
    from seqflow.local.client import AirflowClient
    from seqflow.local.services import running_airflow
    from seqflow.local.watch import ANALYSIS_DAG_ID, INGEST_DAG_ID, failure_report, follow, wait_for

    logging.getLogger("httpx").setLevel(logging.WARNING)
    with running_airflow(dag_ids=(INGEST_DAG_ID, ANALYSIS_DAG_ID)) as airflow:
        client = AirflowClient(airflow.url)
        client.trigger(INGEST_DAG_ID, dag_run_id="e2e-1",
                       conf={"run_date": RUN_DATE.isoformat(), "reference": "lambda"})
        first = follow(client, "e2e-1", say=print, poll_s=2, timeout_s=1200)
        assert first.state == "success", failure_report(client, first)
        # the same date again: the run is already ingested, so nothing is copied or analysed twice
        client.trigger(INGEST_DAG_ID, dag_run_id="e2e-2",
                       conf={"run_date": RUN_DATE.isoformat(), "reference": "lambda"})
        second = follow(client, "e2e-2", say=print, poll_s=2, timeout_s=600)
        second_tis = {ti["task_id"]: ti["state"] for ti in client.task_instances(INGEST_DAG_ID, "e2e-2")}
        # a manual trigger naming a sample the sheet does not have fails in `plan`, with the reason in its log
        client.trigger(ANALYSIS_DAG_ID, dag_run_id="e2e-bad-sample",
                       conf={"run_id": demo_run.name, "samples": ["LAM-S09"], "reference": "lambda"})
        bad_state = wait_for(client, ANALYSIS_DAG_ID, "e2e-bad-sample")
        bad_tis = {ti["task_id"]: ti for ti in client.task_instances(ANALYSIS_DAG_ID, "e2e-bad-sample")}
        bad_log = client.task_log(ANALYSIS_DAG_ID, "e2e-bad-sample", "plan", bad_tis["plan"]["try_number"])
        yield {"first": first, "second": second, "second_tis": second_tis,
               "bad": (bad_state, bad_tis["plan"]["state"], bad_log)}


def test_pipeline_succeeds_and_analyses_once(pipeline, demo_run):
    assert pipeline["first"].analysis_run_ids == [f"ingest__{demo_run.name}__1.0.0__e2e-1"]
    assert pipeline["second"].state == "success"
    assert pipeline["second_tis"]["find_runs"] == "skipped"
    assert pipeline["second"].analysis_run_ids == []


def test_raw_copy_is_verified(pipeline, demo_run, home):
    from seqflow.config import local_paths

    raw = local_paths().raw / demo_run.name
    manifest = json.loads((raw / ".seqflow-manifest.json").read_text())
    landing_files = sorted(
        str(p.relative_to(demo_run)) for p in demo_run.rglob("*") if p.is_file() and not p.name.startswith(".")
    )
    assert sorted(f["path"] for f in manifest["files"]) == landing_files
    assert (raw / "CopyComplete.txt").is_file()


def test_lake_rows_per_sample_and_truth_f1(pipeline, demo_run):
    from seqflow.config import local_paths

    paths = local_paths()
    results = paths.results / demo_run.name / "1.0.0" / "lambda" / "bwa-bcftools"
    summary = json.loads((results / "qc_summary.json").read_text())
    rows = {r["sample_id"]: r for r in summary["samples"]}
    assert sorted(rows) == ["LAM-S01", "LAM-S02"]

    table = ds.dataset(paths.lake / "variants", format="parquet", partitioning="hive").to_table()
    for sample_id, row in rows.items():
        # every call of the sample's VCF is one lake row
        n_vcf = sum(1 for line in _vcf_lines(results / sample_id / f"{sample_id}.vcf.gz"))
        lake_rows = table.filter(ds.field("sample_id") == sample_id).num_rows
        assert lake_rows == n_vcf == row["variants_called"] > 20
        assert row["f1"] == 1.0, row
        assert row["pct_mapped"] > 99 and 25 < row["mean_depth"] < 35
    manifest = json.loads((results / "manifest.json").read_text())
    assert {f"{s}/{s}.bam" for s in rows} <= {f["path"] for f in manifest["files"]}


def test_sql_on_the_lake(pipeline, demo_run):
    from seqflow.catalog import run_query
    from seqflow.config import local_paths

    paths = local_paths()
    columns, rows = run_query(paths.catalog, paths.lake, "qc_metrics")
    assert len(rows) == 2
    assert "f1" in columns


def test_manual_trigger_with_unknown_sample_fails_with_the_reason(pipeline):
    state, plan_state, log = pipeline["bad"]
    assert (state, plan_state) == ("failed", "failed")
    assert "unknown sample(s) 'LAM-S09'" in log and "LAM-S01, LAM-S02" in log


def _vcf_lines(path):
    import gzip

    with gzip.open(path, "rt") as fh:
        yield from (line for line in fh if not line.startswith("#"))
