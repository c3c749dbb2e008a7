"""The aws profile's convert_to_parquet runs in a pool of the Glue job's MaxConcurrentRuns slots.

The size has one owner, seqflow.glue.MAX_CONCURRENT_RUNS; the Terraform side is
checked in tests/terraform/test_terraform_converter_pool.py.
"""

from __future__ import annotations

import json
import os

import pytest

from seqflow.glue import CONVERTER_POOL, CONVERTER_POOL_CLI, MAX_CONCURRENT_RUNS


def test_the_aws_converter_task_takes_a_slot_of_the_converter_pool(monkeypatch):
    pytest.importorskip("airflow.providers.amazon")
    from airflow.sdk import DAG

    from seqflow.aws import wiring

    with DAG("pool_probe", schedule=None):
        task = wiring.convert_to_parquet([{"--manifest_uri": "s3://lake/lake/_manifests/m.json"}])
    assert task.task_id == "convert_to_parquet"
    assert task.pool == CONVERTER_POOL == "glue_converter"
    assert task.pool_slots == 1  # one Glue job run per mapped task instance (one per analysis)


def test_init_db_creates_the_pool_with_the_jobs_concurrency_counting_deferred_tasks(tmp_path):
    from seqflow.local import services

    home = tmp_path / "airflow"
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}"}
    services.init_db(env)
    services._airflow(env, *CONVERTER_POOL_CLI)  # idempotent: init_db runs at every start
    done = services._airflow(env, "pools", "get", CONVERTER_POOL, "-o", "json")
    [pool] = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("[")))
    assert int(pool["slots"]) == MAX_CONCURRENT_RUNS == 20
    # the GlueJobOperator defers while the run converts: a deferred task must keep its slot
    assert str(pool["include_deferred"]).lower() == "true"
    assert CONVERTER_POOL_CLI[:3] == ("pools", "set", "--include-deferred")
