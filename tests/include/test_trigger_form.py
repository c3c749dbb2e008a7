"""seqflow.trigger_form and seqflow.params.refusals against Airflow's own param validation: the
refusals are worded by seqflow, but whether a trigger is refused is Airflow's decision (the served
DAG's params, as the API server's trigger route validates them), so the two must agree on every conf.
The middleware is tried on a FastAPI app whose trigger route refuses exactly as Airflow's does
(the served DAG's params validated, 400 with str(error)); tests/e2e/test_trigger_form_browser.py tries it on
the real API server in a real browser."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, HTTPException, Request  # module level: the route's annotations name Request
from fastapi.testclient import TestClient

from seqflow.params import _EXPECTED, analysis_params, refusals
from seqflow.trigger_form import REFUSAL, ParamRefusals, plain_detail

GOOD_RUN = "241120_A01234_0042_AHXXXXXDSX"

CONFS = [
    {"run_id": GOOD_RUN},
    {"run_id": GOOD_RUN, "samples": ["S1", "S2"], "reference": "lambda", "force": True},
    {},
    {"run_id": None},
    {"run_id": "run;rm -rf /"},
    {"run_id": GOOD_RUN, "pipeline_version": "v2"},
    {"run_id": "x", "pipeline_version": "v2", "min_mapped_pct": 150},
    {"run_id": GOOD_RUN, "samples": ["S1", "S1"]},
    {"run_id": GOOD_RUN, "samples": ["../etc"]},
    {"run_id": GOOD_RUN, "engine": "batch"},
    {"run_id": GOOD_RUN, "aligner": "bowtie"},
    {"run_id": GOOD_RUN, "min_reads": -1},
    {"run_id": GOOD_RUN, "min_reads": "many"},
    {"run_id": GOOD_RUN, "reference": "../../x"},
]


def _airflow_refuses(params, conf) -> str | None:
    """Airflow's answer to a trigger of a DAG with ``params``: the DAG serialized and read back as the
    API server reads it, and its params merged with ``conf`` and validated as trigger_dag_run does."""
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    served = DagSerialization.from_dict(DagSerialization.to_dict(DAG("t", params=params, schedule=None)))
    try:
        served.params.deep_merge(conf).validate()
    except Exception as exc:  # ParamValidationError, what the trigger route turns into a 400
        return str(exc)
    return None


@pytest.mark.parametrize("profile", ["local", "aws"])
@pytest.mark.parametrize("conf", CONFS, ids=[str(c) for c in CONFS])
def test_seqflow_refuses_exactly_what_airflow_refuses(profile, conf):
    params = analysis_params(profile)
    airflow = _airflow_refuses(params, conf)
    ours = refusals(params, conf)
    assert bool(ours) == bool(airflow), (airflow, ours)
    if airflow:
        # Airflow names the first bad param; seqflow names it too, by its title
        name = airflow.removeprefix(REFUSAL).split(":", 1)[0]
        assert any(m.startswith(params[name].schema["title"] + ":") for m in ours), (airflow, ours)


def test_every_bad_value_is_named_at_once_in_the_rule_s_words():
    messages = refusals(analysis_params("local"), {"run_id": "x", "pipeline_version": "v2", "min_mapped_pct": 150,
                                                   "engine": "batch", "samples": ["ok", "a b"]})
    assert messages == [
        f"Run: 'x' is not valid; it must be {_EXPECTED['run_id'].removesuffix(' or null')}",
        "Samples: 'a b' is not valid; each must be a Sample_ID: letters, digits, '-' and '_' only, starting with a "
        "letter or digit, at most 100 characters (no '/', '..' or spaces)",
        "Pipeline version: 'v2' is not valid; it must be MAJOR.MINOR.PATCH, e.g. 1.0.0",
        "Engine: 'batch' is not valid; it must be one of local",
        "Minimum % mapped: 150 is not valid; it must be a percentage from 0 to 100",
    ]
    assert refusals(analysis_params("local"), {}) == [
        f"Run: a value is required; it must be {_EXPECTED['run_id'].removesuffix(' or null')}"]
    assert refusals(analysis_params("aws"), {"run_id": GOOD_RUN, "engine": "local"}) == [
        "Engine: 'local' is not valid; it must be one of batch, omics"]


def test_other_dags_keep_airflow_s_first_line_and_other_answers_pass_through():
    detail = f"{REFUSAL}run_date: 'x' is not a 'date'\n\nFailed validating 'format' in schema:\n    {{'type': ...}}"
    assert plain_detail("seqflow_daily_ingest", detail, {"run_date": "x"}) == f"{REFUSAL}run_date: 'x' is not a 'date'"
    assert plain_detail("seqflow_analysis", "Dag with dag_id: 'x' not found", {}) == "Dag with dag_id: 'x' not found"


@pytest.fixture
def client():
    app = FastAPI()
    params = analysis_params("local")

    @app.post("/api/v2/dags/{dag_id}/dagRuns")
    async def trigger(dag_id: str, request: Request):  # refuses as airflow's trigger_dag_run does
        body = await request.json()
        refused = _airflow_refuses(params, body.get("conf") or {})
        if refused:
            raise HTTPException(400, refused)
        if body.get("dag_run_id") == "taken":
            raise HTTPException(409, "exists")
        return {"dag_run_id": body.get("dag_run_id"), "conf": body.get("conf")}

    @app.get("/api/v2/dags/{dag_id}/dagRuns")
    async def runs(dag_id: str):
        raise HTTPException(400, f"{REFUSAL}not a trigger")

    app.add_middleware(ParamRefusals)  # as Airflow's init_plugins adds a plugin's root middleware
    return TestClient(app)


def test_the_middleware_rewords_refusals_and_passes_everything_else(client):
    bad = client.post("/api/v2/dags/seqflow_analysis/dagRuns", json={"conf": {"run_id": "x", "pipeline_version": "v2"}})
    assert bad.status_code == 400
    detail = bad.json()["detail"]
    assert detail.startswith("Not triggered: Run: 'x' is not valid") and "Pipeline version: 'v2'" in detail
    assert int(bad.headers["content-length"]) == len(bad.content)

    good = client.post("/api/v2/dags/seqflow_analysis/dagRuns", json={"dag_run_id": "r1", "conf": {"run_id": GOOD_RUN}})
    assert good.status_code == 200 and good.json() == {"dag_run_id": "r1", "conf": {"run_id": GOOD_RUN}}
    assert client.post("/api/v2/dags/seqflow_analysis/dagRuns",
                       json={"dag_run_id": "taken", "conf": {"run_id": GOOD_RUN}}).json() == {"detail": "exists"}
    # a GET's 400 (not a trigger) is Airflow's own answer, untouched
    assert client.get("/api/v2/dags/seqflow_analysis/dagRuns").json() == {"detail": f"{REFUSAL}not a trigger"}


def test_a_request_body_in_several_chunks_reaches_the_app_whole(client):
    import json

    body = json.dumps({"dag_run_id": "r2", "conf": {"run_id": GOOD_RUN, "samples": ["S" + str(i) for i in range(300)]}})

    def chunks():
        data = body.encode()
        for i in range(0, len(data), 100):
            yield data[i:i + 100]

    answer = client.post("/api/v2/dags/seqflow_analysis/dagRuns", content=chunks(),
                         headers={"content-type": "application/json"})
    assert answer.status_code == 200 and len(answer.json()["conf"]["samples"]) == 300
