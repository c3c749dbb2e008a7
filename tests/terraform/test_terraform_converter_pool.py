"""The converter job's MaxConcurrentRuns is the size of the Airflow pool its task runs in (seqflow.glue)."""

from __future__ import annotations

import pytest

from tf_helpers import MODULES, blocks, parse, resources

glue = pytest.importorskip("seqflow.glue")


def test_terraforms_max_concurrent_runs_is_the_pools_size():
    assert blocks(MODULES / "glue_athena", "variable")["max_concurrent_runs"]["default"] == glue.MAX_CONCURRENT_RUNS
    job = resources(MODULES / "glue_athena")[("aws_glue_job", "this")]
    assert job["execution_property"][0]["max_concurrent_runs"] == "${var.max_concurrent_runs}"
    # no caller sets another value (the stack takes the module's default)
    callers = [module for item in parse(MODULES.parent / "stack" / "main.tf").get("module", [])
               for module in item.values() if str(module.get("source", "")).endswith("/modules/glue_athena")]
    assert len(callers) == 1
    assert "max_concurrent_runs" not in callers[0]
