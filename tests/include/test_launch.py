"""Launch files: the published schema, every error at once with its line, submission and the request record."""

from __future__ import annotations

import json

import pytest

from seqflow.launch import (
    SCHEMA_FILE,
    LaunchFileError,
    dag_run_id,
    launch_schema,
    parse_launch,
    refresh,
    submit,
)
from seqflow.params import ANALYSIS_PARAM_SCHEMAS
from seqflow.registry import SqliteRunRegistry

RUN = "261121_A01234_0001_AHLAMBDADX"
RUN2 = "261122_A01234_0002_AHLAMBDADX"

GOOD = f"""\
name: lambda re-run
reference: lambda
priority: high
notify: [ops@example.org]
runs:
  - run_id: {RUN}
    samples: [LAM-S01]
  - run_id: {RUN2}
    caller: {ANALYSIS_PARAM_SCHEMAS["caller"]["enum"][-1]}
"""


def test_the_published_schema_is_the_one_built_from_the_params():
    assert json.loads(SCHEMA_FILE.read_text()) == launch_schema(), (
        "the published launch schema is stale: regenerate it with "
        "`.venv/bin/seqflow launch --schema > include/seqflow/schemas/launch.schema.json`")
    run = launch_schema()["properties"]["runs"]["items"]["properties"]
    # one owner per rule: the launch schema's param rules are params.py's
    assert run["samples"]["items"] == ANALYSIS_PARAM_SCHEMAS["samples"]["items"]
    assert run["run_id"]["pattern"] == ANALYSIS_PARAM_SCHEMAS["run_id"]["pattern"]
    assert run["aligner"]["enum"] == ANALYSIS_PARAM_SCHEMAS["aligner"]["enum"]


def test_a_good_yaml_file_gives_each_run_its_params():
    launch = parse_launch(GOOD, "good.yaml")
    assert launch.priority == "high" and launch.notify == ("ops@example.org",) and launch.name == "lambda re-run"
    first, second = launch.runs
    assert first.run_id == RUN and first.params == {"reference": "lambda", "run_id": RUN, "samples": ["LAM-S01"]}
    assert second.params["caller"] == ANALYSIS_PARAM_SCHEMAS["caller"]["enum"][-1]
    assert second.params["reference"] == "lambda"


def test_json_is_accepted_with_lines_too():
    text = json.dumps({"runs": [{"run_id": RUN}, {"run_id": "bad run"}]}, indent=2)
    with pytest.raises(LaunchFileError) as caught:
        parse_launch(text, "l.json")
    [error] = caught.value.errors
    assert error.where == "runs[1].run_id" and error.line == text.splitlines().index('      "run_id": "bad run"') + 1


def test_three_errors_are_reported_at_once_each_with_its_line():
    text = f"""\
reference: lambda
priority: urgent
runs:
  - run_id: {RUN}
    samples: [LAM-S01, ../etc]
  - run_id: {RUN2}
    aligner: nosuch
"""
    with pytest.raises(LaunchFileError) as caught:
        parse_launch(text, "bad.yaml")
    errors = caught.value.errors
    assert [(e.line, e.where) for e in errors] == [
        (2, "priority"), (5, "runs[0].samples[1]"), (7, "runs[1].aligner")]
    assert "expected one of low, normal, high" in errors[0].message
    assert "'../etc' is invalid, expected a Sample_ID" in errors[1].message
    assert "'nosuch' is invalid, expected one of" in errors[2].message
    text_of = str(caught.value)
    assert "bad.yaml: 3 error(s)" in text_of and "bad.yaml:7: runs[1].aligner" in text_of


def test_unknown_fields_missing_runs_and_syntax_errors_name_their_lines():
    with pytest.raises(LaunchFileError) as caught:
        parse_launch("referenc: lambda\nrunz: []\n", "typo.yaml")
    assert [(e.line, e.where) for e in caught.value.errors] == [
        (1, "launch file"), (1, "referenc"), (2, "runz")]
    assert "'runs' is a required property" in caught.value.errors[0].message
    with pytest.raises(LaunchFileError) as caught:
        parse_launch("runs:\n  - run_id: [unclosed\n", "broken.yaml")
    [error] = caught.value.errors
    assert error.line == 3 and "not valid YAML or JSON" in error.message


def test_a_key_given_twice_is_an_error_not_a_silent_override():
    text = f"reference: lambda\nruns:\n  - run_id: {RUN}\nreference: GRCh38\n"
    with pytest.raises(LaunchFileError) as caught:
        parse_launch(text, "twice.yaml")
    [error] = caught.value.errors
    assert (error.line, error.where, error.message) == (4, "reference", "given again (first on line 1)")


def test_rules_beyond_the_schema_come_from_validate_analysis_params():
    # the pattern's "$" lets a trailing newline through; params.py's fullmatch does not
    text = 'runs:\n  - run_id: "261121_A01234_0001_AHLAMBDADX\\n"\n'
    with pytest.raises(LaunchFileError) as caught:
        parse_launch(text, "nl.yaml")
    [error] = caught.value.errors
    assert (error.line, error.where) == (2, "runs[0]") and error.message.startswith("run_id:")


class FakeAirflow:
    """The REST calls submit and refresh make, answered as Airflow would for two DAG runs."""

    def __init__(self, fail_trigger_for=()):
        self.triggered: list[tuple[str, dict, str]] = []
        self.states: dict[str, str] = {}
        self.fail_trigger_for = fail_trigger_for

    def trigger(self, dag_id, *, conf=None, dag_run_id=None, logical_date=None):
        if conf["run_id"] in self.fail_trigger_for:
            raise RuntimeError("triggering seqflow_analysis failed (409): exists")
        self.triggered.append((dag_id, conf, dag_run_id))
        self.states[dag_run_id] = "running"
        return {"dag_run_id": dag_run_id}

    def dag_run(self, dag_id, dag_run_id):
        return {"state": self.states[dag_run_id]}

    def xcom(self, dag_id, dag_run_id, task_id, key="return_value"):
        return {"identity_key": "1.0.0/lambda/bwa/bcftools"}

    def task_instances(self, dag_id, dag_run_id):
        return [{"task_id": "plan", "map_index": -1, "state": "success"},
                {"task_id": "sample.align", "map_index": 0,
                 "state": "success" if self.states[dag_run_id] == "success" else "failed"}]


def test_submit_and_refresh_walk_the_request_through_its_statuses(tmp_path):
    registry = SqliteRunRegistry(tmp_path / "registry.sqlite")
    launch = parse_launch(f"reference: lambda\nruns:\n  - run_id: {RUN}\n  - run_id: {RUN2}\n", "two.yaml")
    airflow = FakeAirflow()
    request_id = "r20261202T001500-abcdef"
    record = submit(launch, airflow, registry, request_id=request_id)
    assert record["status"] == "running"
    assert [t[2] for t in airflow.triggered] == [dag_run_id(request_id, RUN), dag_run_id(request_id, RUN2)]
    assert airflow.triggered[0][2] == f"launch__{request_id}__{RUN}"
    # the conf: the run's params, and the request and run it belongs to (finalise_run records its end there)
    assert airflow.triggered[0][1] == {"reference": "lambda", "run_id": RUN,
                                       "launch_request": {"request_id": request_id, "run": RUN}}

    # the first analysis is over: its record, with a manifest, is what the analysis DAG's finalise_run writes
    results = tmp_path / "results" / RUN
    (results / "S1").mkdir(parents=True)
    (results / "S1" / "S1.vcf.gz").write_text("x")
    (results / "S1" / "S1.align.log").write_text("x")
    manifest = results / "manifest.json"
    manifest.write_text(json.dumps({"files": [{"path": "S1/S1.vcf.gz"}, {"path": "S1/S1.align.log"}]}))
    cost = {"cpu_seconds": 12.5, "wall_seconds": 9.0, "cost_usd": None, "steps": 5, "engines": ["local"],
            "samples": {"S1": {"project": "Phage", "cpu_seconds": 12.5, "wall_seconds": 9.0, "cost_usd": None}}}
    registry.put(RUN, "1.0.0/lambda/bwa/bcftools", "analysed", results_uri=str(results), manifest=str(manifest),
                 cost=cost)
    airflow.states[dag_run_id(request_id, RUN)] = "success"
    record = refresh(request_id, airflow, registry, base_url="http://127.0.0.1:8080")
    assert record["status"] == "running"
    first = record["details"]["runs"][RUN]
    assert first["status"] == "analysed"
    assert first["outputs"] == [manifest.as_uri(), (results / "S1" / "S1.vcf.gz").as_uri()]
    assert first["logs"] == [(results / "S1" / "S1.align.log").as_uri()]
    assert first["cost"] == cost  # the analysis record's, as finalise_run wrote it
    assert first["airflow_logs"] == [
        f"http://127.0.0.1:8080/dags/seqflow_analysis/runs/launch__{request_id}__{RUN}/tasks/plan",
        f"http://127.0.0.1:8080/dags/seqflow_analysis/runs/launch__{request_id}__{RUN}/tasks/sample.align/mapped/0"]

    # the second DAG run fails before any analysis record: the request is partially analysed
    airflow.states[dag_run_id(request_id, RUN2)] = "failed"
    record = refresh(request_id, airflow, registry, base_url="http://127.0.0.1:8080")
    assert record["status"] == "partially_analysed"
    assert record["details"]["runs"][RUN2]["status"] == "failed"
    assert record["details"]["runs"][RUN2]["failed_tasks"] == ["sample.align"]
    stored = registry.get_request(request_id)
    assert [h["status"] for h in stored.details["history"]] == ["requested", "running", "partially_analysed"]
    assert [r.request_id for r in registry.list_requests()] == [request_id]
    with pytest.raises(ValueError, match="cannot become running"):
        registry.put_request(request_id, "running")


def test_a_request_none_of_whose_runs_could_be_triggered_fails(tmp_path):
    registry = SqliteRunRegistry(tmp_path / "registry.sqlite")
    launch = parse_launch(f"runs:\n  - run_id: {RUN}\n", "one.yaml")
    record = submit(launch, FakeAirflow(fail_trigger_for={RUN}), registry, request_id="r20261202T001500-000001")
    assert record["status"] == "failed"
    assert "409" in record["details"]["runs"][RUN]["error"]


def test_the_launch_command_prints_every_error_and_exits_2(tmp_path, capsys):
    from seqflow.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(f"priority: urgent\nruns:\n  - run_id: {RUN}\n    engine: nosuch\n    force: maybe\n")
    assert main(["launch", str(bad)]) == 2
    out = capsys.readouterr().out
    assert f"{bad}:1: priority" in out and f"{bad}:4: runs[0].engine" in out and f"{bad}:5: runs[0].force" in out
    assert main(["launch", "--schema"]) == 0
    assert json.loads(capsys.readouterr().out) == launch_schema()


def test_status_shows_requests_as_recorded_when_no_airflow_answers(tmp_path, monkeypatch, capsys):
    from seqflow.cli import main
    from seqflow.local.services import free_port
    from seqflow.registry import local_registry

    monkeypatch.setenv("SEQFLOW_HOME", str(tmp_path))
    launch = parse_launch(f"name: nightly\nruns:\n  - run_id: {RUN}\n", "one.yaml")
    request_id = "r20261202T001500-00000a"
    submit(launch, FakeAirflow(), local_registry(), request_id=request_id)
    port = free_port("127.0.0.1")
    assert main(["status", "--port", str(port)]) == 0
    out = capsys.readouterr().out
    assert f"no local Airflow on port {port}: running requests shown as last recorded" in out
    assert f"{request_id}  running" in out and "nightly" in out
    assert f"{RUN}: submitted, DAG run launch__{request_id}__{RUN}" in out
    assert main(["status", "--json", "--no-refresh"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["runs"] == [] and [r["request_id"] for r in shown["requests"]] == [request_id]


def test_status_prints_each_analysis_and_requests_cost(tmp_path, monkeypatch, capsys):
    from seqflow.cli import main
    from seqflow.registry import local_registry

    monkeypatch.setenv("SEQFLOW_HOME", str(tmp_path))
    registry = local_registry()
    cost = {"cpu_seconds": 12.5, "wall_seconds": 9.0, "cost_usd": 0.0042, "steps": 5, "engines": ["batch"],
            "samples": {"S1": {"project": "Phage", "cpu_seconds": 12.5, "wall_seconds": 9.0, "cost_usd": 0.0042}}}
    registry.put(RUN, "1.0.0/lambda/bwa/bcftools", "analysed", cost=cost)
    registry.put_request("r20261202T001500-abcdef", "analysed",
                         runs={RUN: {"run_id": RUN, "status": "analysed", "cost": cost}})
    registry.put(RUN2, "1.0.0/lambda/bwa/bcftools", "analysed", cost={"error": "ClientError: AccessDenied"})
    assert main(["status", "--no-refresh"]) == 0
    out = capsys.readouterr().out
    line = "cost: 12.5 CPU s, 9.0 wall s over 5 step(s), $0.0042; S1 12.5 CPU s $0.0042"
    assert out.count(line) == 2  # the analysis record and the request's run
    assert "cost: not known (ClientError: AccessDenied)" in out
