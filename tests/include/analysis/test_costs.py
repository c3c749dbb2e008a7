"""Local cost per step (seqflow.analysis.steps usage, seqflow.analysis.costs): real step scripts on tiny
real data record what they used (the kernel's rusage of the script and its tools), a failed step too;
the rows reach the lake's step_costs table in one commit and the named queries sum them by project and
month and per sample."""

from __future__ import annotations

import gzip
import random
import shutil
import subprocess

import pytest

from seqflow.analysis import costs, steps
from seqflow.analysis.steps import SampleJob, StepError

RUN = "261118_A01234_0007_AHCOSTXXDX"


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """One sample through fastp and bwa alignment (real scripts, 2,000 read pairs), then a bam_qc
    step that fails on a BAM that is not one."""
    from seqflow.backends.local import LocalBackend

    rng = random.Random(11)
    d = tmp_path_factory.mktemp("costs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQFLOW_HOME", str(d / "home"))
        backend = LocalBackend()  # its paths are fixed when built
    seq = "".join(rng.choice("ACGT") for _ in range(8000))
    ref = d / "ref" / "toy.fa"
    ref.parent.mkdir()
    ref.write_text(">chrC\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + "\n")
    subprocess.run(["wgsim", "-e", "0", "-r", "0", "-R", "0", "-1", "100", "-2", "100", "-N", "2000", "-S", "4",
                    str(ref), str(d / "a.fq"), str(d / "b.fq")], check=True, capture_output=True)
    reads = {}
    for end, fq in ((1, "a.fq"), (2, "b.fq")):
        reads[end] = d / f"C1_S1_L001_R{end}_001.fastq.gz"
        with open(d / fq, "rb") as src, gzip.open(reads[end], "wb") as dst:
            shutil.copyfileobj(src, dst)
    job = SampleJob(run_id=RUN, pipeline_version="1.0.0", sample_id="C1", r1=[str(reads[1])], r2=[str(reads[2])],
                    reference_fasta=str(ref), reference="toy", aligner="bwa", caller="bcftools",
                    ploidy_file="", threads=2, results_root=backend.results_root,
                    scratch_root=backend.scratch_root)
    steps.index_reference(ref, "bwa")
    fastp = steps.qc_reads(job)
    steps.align(job, fastp["trimmed_r1"], fastp["trimmed_r2"])
    not_a_bam = d / "broken.bam"
    not_a_bam.write_bytes(b"this is not a BAM file\n")
    (d / "broken.bam.bai").write_bytes(b"")
    with pytest.raises(StepError):
        steps.bam_qc(job, str(not_a_bam))
    return {"job": job, "dir": d, "backend": backend}


def _usage(job: SampleJob, step: str) -> dict:
    [usage] = steps.read_usage(steps.usage_file(job, step))  # one run of each step's script
    return usage


def test_each_step_run_records_the_cpu_wall_and_peak_memory_of_its_script_and_tools(measured):
    job = measured["job"]
    for step in ("fastp", "align"):
        usage = _usage(job, step)
        assert usage["step"] == step and usage["exit_code"] == 0
        assert usage["cpu_seconds"] == pytest.approx(usage["user_seconds"] + usage["system_seconds"], abs=0.002)
        # fastp and bwa ran as children of the script: their CPU is the script's rusage, not zero
        assert usage["cpu_seconds"] > 0 and usage["wall_seconds"] > 0
        # a bash script alone peaks at a few MiB; fastp and bwa mem need more (ru_maxrss, KiB)
        assert usage["max_rss_kib"] > 4096
        assert usage["started_at"].startswith("20") and usage["started_at"].endswith("+00:00")
    assert _usage(job, "align")["step_id"] == "align_bwa"
    # the usage sits beside the step's log among the sample's results, fastp's too (it runs in scratch)
    assert steps.usage_file(job, "fastp").parent == job.results_dir
    assert steps.usage_file(job, "fastp").name == "C1.fastp.usage.jsonl"


def test_a_failed_step_records_what_it_used_with_its_exit_status(measured):
    usage = _usage(measured["job"], "bam_qc")
    assert usage["exit_code"] != 0 and usage["wall_seconds"] > 0


def test_every_run_of_a_step_is_appended_and_the_row_sums_them(measured, tmp_path, monkeypatch):
    """A retry (or the shards of a scattered step) appends a line; the step's row sums its runs."""
    monkeypatch.delenv(costs.LOCAL_CPU_HOUR_ENV, raising=False)
    job = measured["job"]
    log = tmp_path / "C1.bam_qc.usage.jsonl"
    shutil.copy(steps.usage_file(job, "bam_qc"), log)
    [failed] = steps.read_usage(log)
    ok = {**failed, "exit_code": 0, "cpu_seconds": 1.25, "wall_seconds": 2.5, "max_rss_kib": 1,
          "started_at": "2099-01-01T00:00:00+00:00"}
    steps.append_usage(log, steps.StepUsage(**ok))
    runs = steps.read_usage(log)
    assert [r["exit_code"] for r in runs] == [failed["exit_code"], 0]
    row = costs.local_row(runs, "C1", "Phage", price=None)
    assert (row["attempts"], row["status"]) == (2, "succeeded")  # the retry succeeded
    assert row["cpu_seconds"] == round(failed["cpu_seconds"] + 1.25, 3)
    assert row["max_rss_kib"] == failed["max_rss_kib"] and row["started_at"] == failed["started_at"]


def test_the_first_step_starts_the_samples_usage_afresh(measured, tmp_path):
    job = measured["job"]
    fresh = SampleJob(**{**job.to_dict(), "results_root": str(tmp_path / "r"), "scratch_root": str(tmp_path / "s")})
    stale = steps.usage_file(fresh, "align")
    steps.append_usage(stale, steps.StepUsage(**_usage(job, "align")))  # from an earlier analysis of it
    steps.qc_reads(fresh)
    assert not stale.exists() and len(steps.read_usage(steps.usage_file(fresh, "fastp"))) == 1


def _plan(job: SampleJob) -> dict:
    return {**job.identity.to_dict(), "samples": ["C1"], "projects": {"C1": "Phage"}, "failed_samples": {}}


def test_local_rows_are_the_measured_steps_with_the_samples_project_priced_only_when_a_rate_is_set(
        measured, monkeypatch):
    job = measured["job"]
    monkeypatch.delenv(costs.LOCAL_CPU_HOUR_ENV, raising=False)
    rows = costs.local_step_costs(_plan(job), measured["backend"])
    assert [(r["step"], r["status"]) for r in rows] == [("fastp", "succeeded"), ("align", "succeeded"),
                                                          ("bam_qc", "failed")]
    assert {r["project"] for r in rows} == {"Phage"} and {r["engine"] for r in rows} == {"local"}
    assert [r["cpu_seconds"] for r in rows] == [_usage(job, s)["cpu_seconds"] for s in ("fastp", "align", "bam_qc")]
    assert all(r["cost_usd"] is None and r["month"] == r["started_at"][:7] for r in rows)

    monkeypatch.setenv(costs.LOCAL_CPU_HOUR_ENV, "0.05")
    priced = costs.local_step_costs(_plan(job), measured["backend"])
    assert [r["cost_usd"] for r in priced] == [round(r["cpu_seconds"] / 3600 * 0.05, 6) for r in rows]
    summary = costs.cost_summary(priced)
    assert summary["steps"] == 3 and summary["engines"] == ["local"]
    assert summary["cpu_seconds"] == pytest.approx(sum(r["cpu_seconds"] for r in rows), abs=0.01)
    assert summary["samples"]["C1"]["project"] == "Phage"
    assert summary["projects"]["Phage"]["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in priced))

    monkeypatch.setenv(costs.LOCAL_CPU_HOUR_ENV, "cheap")
    with pytest.raises(ValueError, match="SEQFLOW_LOCAL_CPU_HOUR_USD"):
        costs.local_step_costs(_plan(job), measured["backend"])


def test_the_rows_reach_the_lake_in_one_commit_and_the_named_queries_sum_them(measured, tmp_path, monkeypatch):
    from seqflow.catalog import run_query
    from seqflow.lake import Lake, publish_step_costs

    job = measured["job"]
    monkeypatch.delenv(costs.LOCAL_CPU_HOUR_ENV, raising=False)
    rows = costs.local_step_costs(_plan(job), measured["backend"])
    lake = Lake.local(tmp_path / "lake")
    first = publish_step_costs(lake, rows, identity=job.identity)
    again = publish_step_costs(lake, rows, identity=job.identity)  # a re-analysis replaces, never adds
    assert first.snapshot_id != again.snapshot_id
    assert len(lake.table("step_costs").snapshots()) == 2

    columns, result = run_query(lake, "cost_by_project_month")
    [by_month] = [dict(zip(columns, r)) for r in result]
    month = rows[0]["month"]
    assert by_month["project"] == "Phage" and by_month["month"] == month
    assert (by_month["runs"], by_month["samples"], by_month["steps"], by_month["priced_steps"]) == (1, 1, 3, 0)
    assert by_month["cpu_hours"] == pytest.approx(round(sum(r["cpu_seconds"] for r in rows) / 3600, 4))
    assert by_month["cost_usd"] is None

    day = rows[0]["started_at"][:10]
    columns, result = run_query(lake, "cost_per_sample", {"from_date": day, "to_date": day})
    [sample] = [dict(zip(columns, r)) for r in result]
    assert (sample["sample_id"], sample["project"], sample["steps"], sample["failed_steps"]) == ("C1", "Phage", 3, 1)
    assert sample["cpu_seconds"] == pytest.approx(sum(r["cpu_seconds"] for r in rows), abs=0.002)
    assert run_query(lake, "cost_per_sample", {"from_date": "2000-01-01", "to_date": "2000-01-31"})[1] == []


def test_rows_that_repeat_a_step_or_lack_the_engine_are_refused():
    from seqflow.identity import AnalysisIdentity
    from seqflow.lake.api import step_costs_table

    identity = AnalysisIdentity(RUN, "1.0.0", "toy", "bwa", "bcftools")
    row = {"sample_id": "C1", "step": "fastp", "engine": "local", "cpu_seconds": 1.0}
    assert step_costs_table([row], identity).num_rows == 1
    with pytest.raises(ValueError, match="appears twice"):
        step_costs_table([row, row], identity)
    with pytest.raises(ValueError, match="engine are required"):
        step_costs_table([{**row, "engine": None}], identity)
    with pytest.raises(ValueError, match="unknown field"):
        step_costs_table([{**row, "dollars": 3}], identity)
