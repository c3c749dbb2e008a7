"""End to end on the local profile: a real Airflow (api-server, scheduler,
dag-processor, triggerer) runs the daily ingest and the analysis DAGs on tiny
lambda-phage runs, using the real tools.

The scans run on a controllable clock (each ingest DAG run's ``logical_date``):
a two-sample run complete at the first scan, and a one-sample run of the day
before that is still being written then and gets its flag before the next scan."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pyarrow.dataset as ds
import pytest

from seqflow.lake import Lake

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow-e2e")]

RUN_DATE = dt.date(2026, 11, 19)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("seqflow-home")
    mp.setenv("SEQFLOW_HOME", str(home))
    mp.setenv("SEQFLOW_INGEST_SCHEDULE", "none")  # the scans run on the test's clock only
    yield home
    mp.undo()


@pytest.fixture(scope="module")
def demo_run(home):
    from seqflow.config import local_paths
    from seqflow.demo.runfolder import generate_run

    paths = local_paths()
    return generate_run(paths.landing, paths.truth, paths.references, reference="lambda",
                        run_date=RUN_DATE, samples=2, coverage=30, seed=7)


@pytest.fixture(scope="module")
def late_run(home):
    """A one-sample run of the day before, still being written at the first scan (no flag yet)."""
    from seqflow.config import local_paths
    from seqflow.demo.runfolder import generate_run

    paths = local_paths()
    run = generate_run(paths.landing, paths.truth, paths.references, reference="lambda",
                       run_date=RUN_DATE - dt.timedelta(days=1), run_number=2, samples=1, coverage=20, seed=8)
    (run / "CopyComplete.txt").unlink()
    return run


@pytest.fixture(scope="module")
def broken_run(home):
    """A complete two-sample run whose second sample's R1 is plain text named .fastq.gz."""
    from seqflow.config import local_paths
    from seqflow.demo.runfolder import generate_run

    paths = local_paths()
    run = generate_run(paths.landing, paths.truth, paths.references, reference="lambda",
                       run_date=RUN_DATE, run_number=3, samples=2, coverage=10, seed=9)
    [r1] = run.rglob("LAM-S02_*_R1_001.fastq.gz")
    r1.write_text("@read1\nACGT\n+\nIIII\n")
    return run


def _scan(day: dt.date, hour: int = 6) -> str:
    """A scan's clock: the logical date of a manually triggered ingest DAG run."""
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.timezone.utc).isoformat()


@pytest.fixture(scope="module")
def pipeline(home, demo_run, late_run, broken_run):
    """Scan at D+1 (one run complete, one still sequencing), again at D+1, then at D+2 after the late
    run's flag; wait for each and the analyses it started."""
    from seqflow.local.client import AirflowClient
    from seqflow.local.services import running_airflow
    from seqflow.local.watch import ANALYSIS_DAG_ID, INGEST_DAG_ID, failure_report, follow, wait_for

    logging.getLogger("httpx").setLevel(logging.WARNING)
    with running_airflow(dag_ids=(INGEST_DAG_ID, ANALYSIS_DAG_ID)) as airflow:
        client = AirflowClient(airflow.url)
        from seqflow.registry import INGEST, local_registry

        client.trigger(INGEST_DAG_ID, dag_run_id="e2e-1", conf={"reference": "lambda"},
                       logical_date=_scan(RUN_DATE + dt.timedelta(days=1)))
        first = follow(client, "e2e-1", say=print, poll_s=2, timeout_s=1200)
        assert first.state == "success", failure_report(client, first)
        waiting = local_registry().get(late_run.name, INGEST)
        # the same clock again: the run is already ingested, so nothing is copied or analysed twice
        client.trigger(INGEST_DAG_ID, dag_run_id="e2e-2", conf={"reference": "lambda"},
                       logical_date=_scan(RUN_DATE + dt.timedelta(days=1), hour=7))
        second = follow(client, "e2e-2", say=print, poll_s=2, timeout_s=600)
        second_tis = {ti["task_id"]: ti["state"] for ti in client.task_instances(INGEST_DAG_ID, "e2e-2")}
        # the late run finishes; the next day's scan ingests it (and the ingest does not wait for it)
        (late_run / "CopyComplete.txt").write_text("")
        # this scan's analysis calls in 10-kb shards (the ingest passes the setting on)
        client.trigger(INGEST_DAG_ID, dag_run_id="e2e-3", conf={"reference": "lambda", "call_interval_mb": 0.01},
                       logical_date=_scan(RUN_DATE + dt.timedelta(days=2)))
        third = follow(client, "e2e-3", say=print, poll_s=2, timeout_s=1200)
        assert third.state == "success", failure_report(client, third)
        third_ingest = client.dag_run(INGEST_DAG_ID, "e2e-3")
        third_analysis = client.dag_run(ANALYSIS_DAG_ID, third.analysis_run_ids[0])
        # a manual trigger naming a sample the sheet does not have fails in `plan`, with the reason in its log
        client.trigger(ANALYSIS_DAG_ID, dag_run_id="e2e-bad-sample",
                       conf={"run_id": demo_run.name, "samples": ["LAM-S09"], "reference": "lambda"})
        bad_state = wait_for(client, ANALYSIS_DAG_ID, "e2e-bad-sample")
        bad_tis = {ti["task_id"]: ti for ti in client.task_instances(ANALYSIS_DAG_ID, "e2e-bad-sample")}
        bad_log = client.task_log(ANALYSIS_DAG_ID, "e2e-bad-sample", "plan", bad_tis["plan"]["try_number"])
        shard_tis = [ti for ti in client.task_instances(ANALYSIS_DAG_ID, third.analysis_run_ids[0])
                     if ti["task_id"] == "call_shards"]
        yield {"first": first, "second": second, "second_tis": second_tis, "waiting": waiting,
               "third": (third, third_ingest, third_analysis),
               "bad": (bad_state, bad_tis["plan"]["state"], bad_log),
               "shard_tis": shard_tis}


def test_pipeline_succeeds_and_analyses_once(pipeline, demo_run, broken_run):
    assert pipeline["first"].analysis_run_ids == sorted(
        [f"ingest__{demo_run.name}__1.0.0__e2e-1", f"ingest__{broken_run.name}__1.0.0__e2e-1"])
    assert pipeline["second"].state == "success"
    assert pipeline["second_tis"]["find_runs"] == "skipped"
    assert pipeline["second"].analysis_run_ids == []


def test_a_run_still_sequencing_waits_and_the_first_scan_after_its_flag_ingests_it(pipeline, late_run):
    from seqflow.registry import INGEST, local_registry

    waiting = pipeline["waiting"]
    assert waiting.status == "waiting"  # not failed, not incomplete: a later scan picks it up
    assert waiting.details["waiting_since"].startswith((RUN_DATE + dt.timedelta(days=1)).isoformat())
    third, ingest_run, analysis_run = pipeline["third"]
    assert third.analysis_run_ids == [f"ingest__{late_run.name}__1.0.0__e2e-3"]
    assert local_registry().get(late_run.name, INGEST).status == "ingested"
    assert local_registry().get(late_run.name, "1.0.0/lambda/bwa/bcftools").status == "analysed"
    # the ingest run ended when it had started the analysis, before the analysis did
    assert ingest_run["end_date"] < analysis_run["end_date"]


def test_a_one_sample_run_is_analysed_end_to_end(pipeline, late_run):
    from seqflow.config import local_paths

    results = local_paths().results / late_run.name / "1.0.0" / "lambda" / "bwa-bcftools"
    summary = json.loads((results / "qc_summary.json").read_text())
    [row] = summary["samples"]
    assert row["variants_called"] == row["variants_in_lake"] > 20 and row["f1"] > 0.95


def test_one_bad_sample_fails_alone_and_the_run_is_partially_analysed(pipeline, broken_run):
    from seqflow.config import local_paths
    from seqflow.registry import local_registry

    record = local_registry().get(broken_run.name, "1.0.0/lambda/bwa/bcftools")
    assert record.status == "partially_analysed", record
    assert list(record.details["failed_samples"]) == ["LAM-S02"]
    failure = record.details["failed_samples"]["LAM-S02"]
    assert failure["step"] == "fastp" and "LAM-S02" in failure["error"]
    assert [row["sample_id"] for row in record.details["samples"]] == ["LAM-S01"]
    paths = local_paths()
    table = Lake.local(paths.lake).table("variants").scan().to_arrow()  # the Iceberg table's current snapshot
    rows = table.filter(ds.field("run_id") == broken_run.name)
    assert set(rows.column("sample_id").to_pylist()) == {"LAM-S01"} and rows.num_rows > 10


def test_raw_copy_is_verified(pipeline, demo_run, home):
    from seqflow.config import local_paths

    raw = local_paths().raw / demo_run.name
    manifest = json.loads((raw / ".seqflow-manifest.json").read_text())
    landing_files = sorted(
        str(p.relative_to(demo_run)) for p in demo_run.rglob("*") if p.is_file() and not p.name.startswith(".")
    )
    assert sorted(f["path"] for f in manifest["files"]) == landing_files
    assert (raw / "CopyComplete.txt").is_file()


def test_lake_rows_per_sample_and_truth_f1(pipeline, demo_run):
    from seqflow.config import local_paths

    paths = local_paths()
    results = paths.results / demo_run.name / "1.0.0" / "lambda" / "bwa-bcftools"
    summary = json.loads((results / "qc_summary.json").read_text())
    rows = {r["sample_id"]: r for r in summary["samples"]}
    assert sorted(rows) == ["LAM-S01", "LAM-S02"]

    table = Lake.local(paths.lake).table("variants").scan().to_arrow()
    for sample_id, row in rows.items():
        # every call of the sample's VCF is one lake row
        n_vcf = sum(1 for line in _vcf_lines(results / sample_id / f"{sample_id}.vcf.gz"))
        lake_rows = table.filter((ds.field("sample_id") == sample_id) & (ds.field("run_id") == demo_run.name)).num_rows
        assert lake_rows == n_vcf == row["variants_called"] > 20
        assert row["f1"] == 1.0, row
        assert row["pct_mapped"] > 99 and 25 < row["mean_depth"] < 35
    manifest = json.loads((results / "manifest.json").read_text())
    assert {f"{s}/{s}.bam" for s in rows} <= {f["path"] for f in manifest["files"]}


def test_sql_on_the_lake(pipeline, demo_run, late_run, broken_run):
    from seqflow.catalog import run_query
    from seqflow.config import local_paths

    paths = local_paths()
    columns, rows = run_query(paths.lake, "qc_metrics")
    got = sorted((r[columns.index("run_id")], r[columns.index("sample_id")]) for r in rows)
    assert got == sorted([(demo_run.name, "LAM-S01"), (demo_run.name, "LAM-S02"), (late_run.name, "LAM-S01"),
                          (broken_run.name, "LAM-S01")])  # the broken run's failed sample has no row
    assert "f1" in columns


def test_manual_trigger_with_unknown_sample_fails_with_the_reason(pipeline):
    state, plan_state, log = pipeline["bad"]
    assert (state, plan_state) == ("failed", "failed")
    assert "unknown sample(s) 'LAM-S09'" in log and "LAM-S01, LAM-S02" in log


def test_calling_scattered_over_shards_gives_the_whole_genome_records(pipeline, late_run, tmp_path):
    """The late run's analysis called lambda (48,502 bp) in 5 shards of about 10 kb: mapped tasks
    labelled by sample and region; its VCF holds the records of a whole-genome call of its BAM."""
    import subprocess

    from seqflow.analysis.catalog import catalog
    from seqflow.config import local_paths
    from seqflow.references.catalog import reference_catalog
    from seqflow.registry import local_registry

    labels = sorted(ti["rendered_map_index"] for ti in pipeline["shard_tis"])
    assert len(labels) == 5 and all(label.startswith("LAM-S01 NC_001416.1:") for label in labels), labels
    assert {ti["state"] for ti in pipeline["shard_tis"]} == {"success"}
    sample = local_paths().results / late_run.name / "1.0.0" / "lambda" / "bwa-bcftools" / "LAM-S01"
    ref = reference_catalog().require("lambda")
    script = catalog().step("call_variants", caller="bcftools").script_path()
    subprocess.run([str(script), "LAM-S01", ref.fasta, str(sample / "LAM-S01.bam"), str(tmp_path), ref.ploidy_file,
                    "2", "-"], check=True, capture_output=True)
    whole = _records(tmp_path / "LAM-S01.vcf.gz")
    assert _records(sample / "LAM-S01.vcf.gz") == whole and len(whole) > 10
    shards = local_registry().get(late_run.name, "1.0.0/lambda/bwa/bcftools").details["shards"]["LAM-S01"]
    assert shards["count"] == 5 and len(shards["called"]) == 5 and shards["reused"] == []


def _records(vcf) -> list[str]:
    """The VCF's records as bcftools prints them."""
    import subprocess

    return subprocess.run(["bcftools", "view", "-H", str(vcf)], capture_output=True, text=True,
                          check=True).stdout.splitlines()


def _vcf_lines(path):
    import gzip

    with gzip.open(path, "rt") as fh:
        yield from (line for line in fh if not line.startswith("#"))
