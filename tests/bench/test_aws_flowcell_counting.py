"""The counting of bench/aws_flowcell.py (the benchmark itself is not part of the suite): calls by
service, SSM reads by what they read, Glue runs alive at once, intervals open at once, loop time."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "aws_flowcell.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("aws_flowcell", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_calls_are_counted_by_service_and_operation(bench):
    calls = [("batch", "SubmitJob", {}), ("batch", "SubmitJob", {}), ("glue", "StartJobRun", {}),
             ("batch", "DescribeJobs", {})]
    assert bench.call_counts(calls) == {("batch", "SubmitJob"): 2, ("glue", "StartJobRun"): 1,
                                        ("batch", "DescribeJobs"): 1}


def test_ssm_calls_are_told_apart_by_what_they_read(bench):
    calls = [
        ("ssm", "GetParameters", {"Names": ["/airflow/variables/seqflow_raw_bucket", "/airflow/variables/seqflow_x"]}),
        ("ssm", "GetParameter", {"Name": "/airflow/variables/seqflow_omics_run_cache_id"}),
        ("ssm", "GetParameter", {"Name": "/airflow/connections/aws_default"}),
        ("ssm", "GetParameter", {"Name": "/airflow/connections/aws_default"}),
        ("ssm", "GetParameter", {"Name": "/other/thing"}),
        ("s3", "GetObject", {"Name": "/airflow/variables/not-ssm"}),
    ]
    assert bench.ssm_reads(calls) == {"variables": 2, "connections": 2, "other": 1}


def _start(t, run_id=None, error=""):
    return (t, "glue", "StartJobRun", {"JobName": "j"}, {"JobRunId": run_id} if run_id else {}, error)


def _get(t, run_id, state):
    return (t, "glue", "GetJobRun", {"JobName": "j", "RunId": run_id}, {"JobRun": {"Id": run_id, "JobRunState": state}},
            "")


def test_glue_runs_are_alive_from_their_start_until_seen_ending(bench):
    timeline = [
        _start(1, "a"), _start(2, "b"), _get(3, "a", "RUNNING"), _start(4, "c"),  # a, b, c alive: 3
        _get(5, "a", "SUCCEEDED"), _get(6, "b", "FAILED"), _start(7, "d"),        # c, d alive: 2
        _start(8, error="ConcurrentRunsExceededException: Job with name j already running"),
        (9, "batch", "SubmitJob", {}, {"jobId": "x"}, ""),
    ]
    # given out of order: the times decide
    assert bench.max_concurrent_glue_runs(list(reversed(timeline))) == (3, 1)
    assert bench.max_concurrent_glue_runs([]) == (0, 0)


def test_intervals_open_at_once_and_the_loops_time_per_task(bench):
    assert bench.max_alive([(0, 10), (1, 2), (3, 4), (3.5, 5)]) == 3
    assert bench.max_alive([(0, 1), (1, 2)]) == 1  # one ends as the next starts
    assert bench.max_alive([]) == 0
    assert bench.scheduler_seconds_per_task(100.0, 60.0, 20.0, 40) == 0.5
    assert bench.scheduler_seconds_per_task(10.0, 9.0, 2.0, 0) == 0.0
