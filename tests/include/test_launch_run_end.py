"""A launched run records its own end: finalise_run's request update (seqflow.launch.record_run_end), in one
transaction per write, and what `seqflow status` still adds afterwards (the Airflow task log links)."""

from __future__ import annotations

import json
import threading

from seqflow.launch import dag_run_id, needs_refresh, parse_launch, refresh, submit
from seqflow.registry import SqliteRunRegistry

RUNS = [f"2611{21 + i:02d}_A01234_{i + 1:04d}_AHLAMBDADX" for i in range(6)]
KEY = "1.0.0/lambda/bwa/bcftools"


class Airflow:
    """The REST calls submit and refresh make, for DAG runs that all succeeded."""

    def __init__(self):
        self.triggered = []

    def trigger(self, dag_id, *, conf=None, dag_run_id=None, logical_date=None):
        self.triggered.append((dag_run_id, conf))

    def dag_run(self, dag_id, dag_run_id):
        return {"state": "success"}

    def xcom(self, dag_id, dag_run_id, task_id, key="return_value"):
        return {"identity_key": KEY}

    def task_instances(self, dag_id, dag_run_id):
        return [{"task_id": "finalise_run", "map_index": -1, "state": "success"}]


def _launched(tmp_path, runs):
    registry = SqliteRunRegistry(tmp_path / "registry.sqlite")
    launch = parse_launch("reference: lambda\nruns:\n" + "".join(f"  - run_id: {r}\n" for r in runs), "l.yaml")
    airflow = Airflow()
    record = submit(launch, airflow, registry, request_id="r20261202T050000-abcdef")
    return registry, airflow, record["request_id"]


def _finalise(tmp_path, registry, airflow, run_id, status="analysed"):
    """What the run's finalise_run does at its end: the analysis record, then the request's run."""
    from seqflow.tasks.analysis import record_launched_run_end

    results = tmp_path / "results" / run_id
    results.mkdir(parents=True, exist_ok=True)
    (results / "manifest.json").write_text(json.dumps({"files": [{"path": "S1.vcf.gz"}, {"path": "S1.align.log"}]}))
    analysis = registry.put(run_id, KEY, status, results_uri=str(results), manifest=str(results / "manifest.json"),
                            cost={"cpu_seconds": 1.5}, failed_samples={"S2": {"step": "align"}} if status != "analysed"
                            else {})
    [conf] = [c for d, c in airflow.triggered if c["run_id"] == run_id]
    record_launched_run_end(registry, conf["launch_request"], analysis, dag_run_id="x")


def test_finalise_run_moves_the_request_from_running_to_its_final_status(tmp_path):
    registry, airflow, request_id = _launched(tmp_path, RUNS[:2])
    _finalise(tmp_path, registry, airflow, RUNS[0])
    record = registry.get_request(request_id)
    assert record.status == "running"  # the other run is not over
    first = record.details["runs"][RUNS[0]]
    assert first["status"] == "analysed" and first["analysis"] == KEY and first["cost"] == {"cpu_seconds": 1.5}
    assert first["finished_at"] and first["dag_run_id"] == dag_run_id(request_id, RUNS[0])  # the launch's, kept
    results = tmp_path / "results" / RUNS[0]
    assert first["outputs"] == [(results / "manifest.json").as_uri(), (results / "S1.vcf.gz").as_uri()]
    assert first["logs"] == [(results / "S1.align.log").as_uri()]
    _finalise(tmp_path, registry, airflow, RUNS[1], status="partially_analysed")
    record = registry.get_request(request_id)
    assert record.status == "partially_analysed"
    assert record.details["runs"][RUNS[1]]["failed_samples"] == {"S2": {"step": "align"}}
    assert [h["status"] for h in record.details["history"]] == ["requested", "running", "partially_analysed"]
    # `seqflow status` has only the Airflow task log links left to add; the status stays what the runs wrote
    assert needs_refresh(record)
    refreshed = refresh(request_id, airflow, registry, base_url="http://localhost:8080")
    assert refreshed["status"] == "partially_analysed" and not needs_refresh(registry.get_request(request_id))
    assert refreshed["details"]["runs"][RUNS[1]]["status"] == "partially_analysed"
    assert refreshed["details"]["runs"][RUNS[0]]["airflow_logs"] == [
        f"http://localhost:8080/dags/seqflow_analysis/runs/{dag_run_id(request_id, RUNS[0])}/tasks/finalise_run"]


def test_runs_ending_at_once_each_keep_their_result(tmp_path):
    registry, airflow, request_id = _launched(tmp_path, RUNS)
    threads = [threading.Thread(target=_finalise, args=(tmp_path, registry, airflow, run)) for run in RUNS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = registry.get_request(request_id)
    assert record.status == "analysed"
    assert {k: r["status"] for k, r in record.details["runs"].items()} == dict.fromkeys(RUNS, "analysed")


def test_a_conf_naming_no_recorded_request_changes_nothing(tmp_path, caplog):
    from seqflow.tasks.analysis import record_launched_run_end

    registry = SqliteRunRegistry(tmp_path / "registry.sqlite")
    analysis = registry.put(RUNS[0], KEY, "analysed")
    record_launched_run_end(registry, {"request_id": "r20261202T050000-000000", "run": RUNS[0]}, analysis)
    record_launched_run_end(registry, {"request_id": "not-an-id", "run": RUNS[0]}, analysis)
    assert registry.list_requests() == []
    assert "is not in the registry" in caplog.text and "is invalid" in caplog.text


def _ended_before_finalise(registry, airflow, run_id, states, notifier=None, plan=None):
    """What the analysis DAG's teardown record_launch_end does for a launched DAG run."""
    from seqflow.launch import record_dag_run_end

    [conf] = [c for d, c in airflow.triggered if c["run_id"] == run_id]
    params = {k: v for k, v in conf.items() if k != "launch_request"}
    order = ["plan", "restore_archived", "prepare_reference", "sample_jobs", "sample.align", "samples_done",
             "collect_vcfs", "convert_to_parquet", "register_partitions", "qc_summary", "finalise_run"]
    return record_dag_run_end(registry, conf["launch_request"], states, params=params, plan=plan,
                              dag_run_id="x", task_order=order, notifier=notifier)


def test_a_run_that_fails_before_finalise_run_ends_its_request_failed_with_the_failed_step(tmp_path):
    registry, airflow, request_id = _launched(tmp_path, RUNS[:2])
    sent = []
    record = _ended_before_finalise(registry, airflow, RUNS[0], {
        "plan": "success", "sample.align_0": "failed", "sample.align_1": "failed", "samples_done": "upstream_failed",
        "collect_vcfs": "upstream_failed", "finalise_run": "upstream_failed"}, notifier=sent.append,
        plan={"identity_key": KEY})
    run = record.details["runs"][RUNS[0]]
    assert run["status"] == "failed" and run["failed_step"] == "sample.align"
    assert run["failed_tasks"][:2] == ["sample.align_0", "sample.align_1"] and "sample.align_0 failed" in run["error"]
    assert record.status == "running" and sent == []  # the other run is not over: no notice yet
    _finalise(tmp_path, registry, airflow, RUNS[1])
    record = registry.get_request(request_id)
    assert record.status == "partially_analysed"
    # a plan that failed is the failed step; a run finalise_run already recorded keeps what it wrote
    registry2, airflow2, request2 = _launched(tmp_path / "b", RUNS[2:3])
    record = _ended_before_finalise(registry2, airflow2, RUNS[2], {"plan": "failed", "finalise_run": "upstream_failed"})
    assert record.status == "failed" and record.details["runs"][RUNS[2]]["failed_step"] == "plan"
    before = registry.get_request(request_id).details["runs"][RUNS[1]]
    _ended_before_finalise(registry, airflow, RUNS[1], {"plan": "success", "finalise_run": "success"})
    assert registry.get_request(request_id).details["runs"][RUNS[1]] == before


def test_the_notice_goes_once_to_the_notify_addresses_when_the_request_ends(tmp_path):
    from seqflow.launch import parse_launch, submit

    registry = SqliteRunRegistry(tmp_path / "registry.sqlite")
    launch = parse_launch(f"reference: lambda\nnotify: [lab@example.org]\nruns:\n  - run_id: {RUNS[0]}\n", "l.yaml")
    airflow = Airflow()
    submit(launch, airflow, registry, request_id="r20261202T050000-fedcba")
    sent = []
    states = {"plan": "failed", "finalise_run": "upstream_failed"}
    _ended_before_finalise(registry, airflow, RUNS[0], states, notifier=sent.append)
    _ended_before_finalise(registry, airflow, RUNS[0], states, notifier=sent.append)  # a retried teardown
    [notice] = sent
    assert notice["notify"] == ["lab@example.org"] and notice["status"] == "failed"
    assert notice["runs"][RUNS[0]]["failed_step"] == "plan"
