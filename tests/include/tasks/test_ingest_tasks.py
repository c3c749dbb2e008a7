"""Ingest task bodies of the local profile that need no Airflow."""

from __future__ import annotations

import datetime as dt

import pytest

from seqflow.registry import INGEST, SqliteRunRegistry
from seqflow.tasks.ingest import analysis_trigger, resolve_run_date, runs_to_ingest

RUN = "261120_A01234_0001_AHYGV8DSXY"


def test_run_date_param_wins_then_logical_date_then_trigger_day():
    logical = dt.datetime(2026, 11, 19, tzinfo=dt.timezone.utc)
    after = dt.datetime(2026, 11, 21, 8, tzinfo=dt.timezone.utc)
    assert resolve_run_date("2026-11-18", logical, after) == dt.date(2026, 11, 18)
    assert resolve_run_date(None, logical, after) == dt.date(2026, 11, 19)
    assert resolve_run_date(None, None, after) == dt.date(2026, 11, 21)
    with pytest.raises(ValueError, match="run_date: '18/11/2026' is not a date"):
        resolve_run_date("18/11/2026", logical, after)


def test_analysis_trigger_carries_force_and_names_the_ingest_run():
    conf = {"run_id": RUN, "pipeline_version": "1.0.0", "reference": "lambda", "aligner": "bwa"}
    args = analysis_trigger(conf, force=True, ingest_dag_run_id="manual__2026-11-21")
    assert args == {"trigger_run_id": f"ingest__{RUN}__1.0.0__manual__2026-11-21", "conf": {**conf, "force": True}}


def test_runs_already_ingested_are_skipped_unless_forced(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQFLOW_HOME", str(tmp_path))
    landing = tmp_path / "landing"
    for name in (RUN, "261120_A01234_0002_BHYGV8DSXY", "261121_A01234_0003_AHYGV8DSXY", ".tmp-261120_x"):
        (landing / name).mkdir(parents=True)
    registry = SqliteRunRegistry(tmp_path / "registry.sqlite")
    registry.put(RUN, INGEST, "ingested")
    day = dt.date(2026, 11, 20)
    assert runs_to_ingest(day, registry=registry) == ["261120_A01234_0002_BHYGV8DSXY"]
    assert runs_to_ingest(day, force=True, registry=registry) == [RUN, "261120_A01234_0002_BHYGV8DSXY"]
