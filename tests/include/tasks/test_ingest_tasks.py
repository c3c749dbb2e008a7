"""Ingest task bodies of the local profile that need no Airflow."""

from __future__ import annotations

import datetime as dt

import pytest

from seqflow.references.resolve import MappingRule, ReferenceRules
from seqflow.tasks.ingest import analysis_triggers, resolve_run_date

RUN = "261120_A01234_0001_AHYGV8DSXY"


def test_run_date_param_wins_then_logical_date_then_trigger_day():
    logical = dt.datetime(2026, 11, 19, tzinfo=dt.timezone.utc)
    after = dt.datetime(2026, 11, 21, 8, tzinfo=dt.timezone.utc)
    assert resolve_run_date("2026-11-18", logical, after) == dt.date(2026, 11, 18)
    assert resolve_run_date(None, logical, after) == dt.date(2026, 11, 19)
    assert resolve_run_date(None, None, after) == dt.date(2026, 11, 21)
    with pytest.raises(ValueError, match="run_date: '18/11/2026' is not a date"):
        resolve_run_date("18/11/2026", logical, after)


def test_one_analysis_per_run_carries_force_and_names_the_ingest_run(world):
    from .conftest import RUN as WORLD_RUN

    params = {"reference": "toy", "aligner": "bwa", "force": True}
    assert analysis_triggers(WORLD_RUN, params, ingest_dag_run_id="manual__2026-11-21", backend=world) == [{
        "trigger_run_id": f"ingest__{WORLD_RUN}__1.0.0__manual__2026-11-21",
        "conf": {"run_id": WORLD_RUN, "reference": "toy", "aligner": "bwa", "pipeline_version": "1.0.0",
                 "force": True},
    }]
    # the trigger's sharding settings go on to the analysis
    (sharded,) = analysis_triggers(WORLD_RUN, {**params, "call_interval_mb": 0.01, "align_reads_per_shard": 0},
                                   ingest_dag_run_id="manual__2026-11-21", backend=world)
    assert sharded["conf"]["call_interval_mb"] == 0.01 and sharded["conf"]["align_reads_per_shard"] == 0
    # nothing names a reference: one analysis, whose plan explains how to set one
    (only,) = analysis_triggers(WORLD_RUN, {}, ingest_dag_run_id="scheduled__x", backend=world)
    assert only["conf"]["reference"] is None and "samples" not in only["conf"]


def test_a_sheet_mapping_samples_to_two_genomes_gives_one_analysis_per_genome(world):
    from .conftest import RUN as WORLD_RUN

    world.references().save_rules(ReferenceRules("toy2", (MappingRule("Sample_Project", "Human", "toy"),)))
    triggers = analysis_triggers(WORLD_RUN, {}, ingest_dag_run_id="scheduled__x", backend=world)
    assert [(t["trigger_run_id"].rsplit("__", 1)[1], t["conf"]["reference"], t["conf"]["samples"])
            for t in triggers] == [("toy", None, ["H1", "H2"]), ("toy2", None, ["B1"])]
    # each analysis's plan resolves its samples to one reference again
    from seqflow.tasks.analysis import plan

    assert [plan(t["conf"], backend=world)["reference"] for t in triggers] == ["toy", "toy2"]
