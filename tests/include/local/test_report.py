"""``seqflow report``: turnaround (flag seen -> rows in the lake), failures by step and cost per sample over a
date range, from the local registry and the lake's step_costs table."""

from __future__ import annotations

import json

import pytest

RUN = "261119_A01234_0003_AHREPORTDX"
RUN2 = "261120_A01234_0004_AHREPORTDX"
OLD = "261001_A01234_0001_AHREPORTDX"
KEY = "1.0.0/lambda/bwa/bcftools"


@pytest.fixture
def home(tmp_path, monkeypatch):
    from seqflow.config import local_paths
    from seqflow.identity import AnalysisIdentity
    from seqflow.lake import Lake, publish_step_costs
    from seqflow.registry import INGEST, local_registry

    monkeypatch.setenv("SEQFLOW_HOME", str(tmp_path))
    registry = local_registry()
    registry.put(RUN, INGEST, "ingesting", scan="2026-11-20T08:00:00+00:00")
    registry.put(RUN, INGEST, "ingested")  # the scan time is kept
    registry.put(RUN, KEY, "partially_analysed", lake_committed_at="2026-11-20T08:42:30+00:00",
                 finished_at="2026-11-20T08:43:00+00:00",
                 failed_samples={"S2": {"step": "align", "error": "bwa: mates differ\nmore"}})
    registry.put(RUN2, KEY, "failed", finished_at="2026-11-21T09:00:00+00:00",
                 failed_samples={"T1": {"step": "fastp", "error": "input error: truncated gzip"},
                                 "T2": {"step": "fastp", "error": "input error: no reads"}})
    registry.put(OLD, KEY, "analysed", finished_at="2026-10-02T00:00:00+00:00")  # outside the range
    rows = [{"sample_id": s, "project": p, "step": step, "engine": "local", "status": "succeeded",
             "cpu_seconds": cpu, "wall_seconds": cpu / 2, "started_at": "2026-11-20T08:10:00+00:00",
             "month": "2026-11"}
            for s, p in (("S1", "Phage"), ("S2", "Phage")) for step, cpu in (("fastp", 4.0), ("align", 6.0))]
    publish_step_costs(Lake.local(local_paths().lake), rows,
                       identity=AnalysisIdentity(RUN, "1.0.0", "lambda", "bwa", "bcftools"))
    return tmp_path


def test_the_report_gives_turnaround_failures_by_step_and_cost_per_sample(home, capsys):
    from seqflow.cli import main

    assert main(["report", "--from-date", "2026-11-19", "--to-date", "2026-11-21"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("seqflow report 2026-11-19 … 2026-11-21: 2 analysis(es) finished (1 failed, "
                          "1 partially analysed)")
    turnaround = out[out.index("Turnaround"):out.index("Failures by step")]
    assert f"{RUN}  {KEY}  partially_analysed  2026-11-20T08:00:00+00:00  2026-11-20T08:42:30+00:00  42m30s" \
        in turnaround
    assert "- (no ingest scan)" in turnaround and OLD not in out
    failures = out[out.index("Failures by step"):out.index("Cost per sample")]
    assert failures.splitlines()[2].split() == ["fastp", "2"] and failures.splitlines()[3].split() == ["align", "1"]
    assert f"{RUN} S2 at align: bwa: mates differ" in failures
    cost = out[out.index("Cost per sample"):]
    assert f"{RUN}  S1      Phage    local    2      0       10.0   5.0     -" in cost
    assert "Phage    2        0.0056" in cost  # 20 CPU s over both samples
    assert "SEQFLOW_LOCAL_CPU_HOUR_USD" in cost


def test_the_report_as_json_and_an_empty_range(home, capsys):
    from seqflow.cli import main

    assert main(["report", "--from-date", "2026-11-20", "--to-date", "2026-11-20", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["analyses"] == 1 and report["median_turnaround_s"] == 2550
    assert report["failures_by_step"] == {"align": 1}
    assert [r["sample_id"] for r in report["cost_per_sample"]] == ["S1", "S2"]
    assert report["cost_by_project"] == {"Phage": {"samples": 2, "cpu_seconds": 20.0, "wall_seconds": 10.0,
                                                   "cost_usd": None}}

    assert main(["report", "--from-date", "2026-12-01", "--to-date", "2026-12-31"]) == 0
    out = capsys.readouterr().out
    assert "no analysis finished in the range" in out and "no sample failed" in out
    assert "no step cost recorded in the range" in out
    assert main(["report", "--from-date", "2026-12-31", "--to-date", "2026-12-01"]) == 2
