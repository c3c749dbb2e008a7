"""Bring your own genome, end to end on the local profile: two genomes seqflow has never heard of,
registered with one command each, analysed from real reads through a real Airflow.

* a piece of human chr22 (diploid, ``--ploidy 2``) with real NA12878 reads and the GIAB truth set;
* HIV-1 (haploid) with real MiSeq reads;

both in one run, whose sample sheet maps each ``Sample_Project`` to its genome: the daily ingest
(no reference param, as on the schedule) starts one analysis per genome. A manual trigger (what
the trigger form sends) then re-analyses HIV-1 with another aligner, side by side.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import subprocess

import pyarrow.dataset as ds
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-genomes")]

RUN_DATE = dt.date(2026, 11, 17)
HUMAN, VIRUS, BEE_VIRUS = "na12878_chr22_tiny", "hiv1_dq234790", "dwv_nc004830"
SINGLE_END_DATE = RUN_DATE - dt.timedelta(days=1)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("seqflow-home-genomes")
    mp.setenv("SEQFLOW_HOME", str(home))
    mp.setenv("SEQFLOW_INGEST_SCHEDULE", "none")  # the scans run on the test's clock only
    mp.setenv("SEQFLOW_PROFILE", "local")
    yield home
    mp.undo()


@pytest.fixture(scope="module")
def registered(home):
    """The two genomes registered and mapped with the `seqflow reference` command, as a user would."""
    from real_runs import DWV_FASTA, HIV_FASTA, NA12878_FASTA

    from seqflow.cli import main

    assert main(["reference", "add", HUMAN, "--fasta", NA12878_FASTA, "--ploidy", "2"]) == 0
    assert main(["reference", "add", VIRUS, "--fasta", HIV_FASTA, "--ploidy", "1", "--aligner", "bwa"]) == 0
    assert main(["reference", "map", "Sample_Project", "GIAB", HUMAN]) == 0
    assert main(["reference", "map", "Sample_Project", "Virology", VIRUS]) == 0
    assert main(["reference", "add", BEE_VIRUS, "--fasta", DWV_FASTA, "--ploidy", "1", "--aligner", "bwa"]) == 0
    assert main(["reference", "map", "Sample_Project", "Bees", BEE_VIRUS]) == 0


@pytest.fixture(scope="module")
def real_run(home, registered, tmp_path_factory):
    from real_runs import build_run

    from seqflow.config import local_paths

    paths = local_paths()
    return build_run(paths.landing, paths.truth, RUN_DATE, tmp_path_factory.mktemp("reads"))


@pytest.fixture(scope="module")
def single_end_run(home, registered):
    from real_runs import build_single_end_run

    from seqflow.config import local_paths

    return build_single_end_run(local_paths().landing, SINGLE_END_DATE)


@pytest.fixture(scope="module")
def pipeline(real_run, single_end_run):
    from seqflow.local.client import AirflowClient
    from seqflow.local.services import running_airflow
    from seqflow.local.watch import ANALYSIS_DAG_ID, INGEST_DAG_ID, failure_report, follow, wait_for

    logging.getLogger("httpx").setLevel(logging.WARNING)
    with running_airflow(dag_ids=(INGEST_DAG_ID, ANALYSIS_DAG_ID)) as airflow:
        client = AirflowClient(airflow.url)
        client.trigger(INGEST_DAG_ID, dag_run_id="daily", conf={"run_date": RUN_DATE.isoformat()})
        daily = follow(client, "daily", say=print, poll_s=2, timeout_s=1200)
        assert daily.state == "success", failure_report(client, daily)
        # the trigger form's conf: one run, one sample, another aligner
        client.trigger(ANALYSIS_DAG_ID, dag_run_id="by-hand", conf={
            "run_id": real_run.name, "samples": ["HIV1"], "reference": VIRUS, "aligner": "minimap2"})
        by_hand = wait_for(client, ANALYSIS_DAG_ID, "by-hand")
        states = {ti["task_id"]: ti["state"] for ti in client.task_instances(ANALYSIS_DAG_ID, "by-hand")}
        # the single-end run of the day before, scanned by its date
        client.trigger(INGEST_DAG_ID, dag_run_id="single-end", conf={"run_date": SINGLE_END_DATE.isoformat()})
        single = follow(client, "single-end", say=print, poll_s=2, timeout_s=1200)
        assert single.state == "success", failure_report(client, single)
        yield {"daily": daily, "by_hand": (by_hand, states), "single_end": single}


def _results(run, reference, aligner="bwa"):
    from seqflow.config import local_paths

    return local_paths().results / run.name / "1.0.0" / reference / f"{aligner}-bcftools"


def _records(vcf):
    with gzip.open(vcf, "rt") as fh:
        return [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]


def test_the_daily_ingest_starts_one_analysis_per_genome_of_the_sheet(pipeline, real_run):
    assert sorted(pipeline["daily"].analysis_run_ids) == sorted([
        f"ingest__{real_run.name}__1.0.0__daily__{HUMAN}", f"ingest__{real_run.name}__1.0.0__daily__{VIRUS}"])
    from seqflow.registry import local_registry

    records = {r.analysis: r for r in local_registry().list(real_run.name)}
    for key, sample, origin in ((f"1.0.0/{HUMAN}/bwa/bcftools", "NA12878", "Sample_Project=GIAB"),
                                (f"1.0.0/{VIRUS}/bwa/bcftools", "HIV1", "Sample_Project=Virology")):
        assert records[key].status == "analysed", records[key]
        assert records[key].details["reference_origin"] == {sample: f"sample sheet {origin}"}


def test_human_calls_are_diploid_valid_and_recover_the_giab_truth(pipeline, real_run):
    results = _results(real_run, HUMAN)
    vcf = results / "NA12878" / "NA12878.vcf.gz"
    # htslib is the judge of a valid VCF
    subprocess.run(["bcftools", "view", "-h", str(vcf)], check=True, capture_output=True)
    records = _records(vcf)
    assert {r[0] for r in records} == {"q"} and len(records) >= 14
    assert {r[9].split(":")[0] for r in records} <= {"0/1", "1/1"}
    summary = {r["sample_id"]: r for r in json.loads((results / "qc_summary.json").read_text())["samples"]}
    row = summary["NA12878"]
    # 14 GIAB SNPs. Measured: 12 found, 15 calls (P 0.80, R 0.857): fastp's default N filter drops
    # 41 % of these reads (N-masked in the CRAM they came from), leaving depth ~20 at the two misses
    assert row["recall"] >= 0.85 and row["precision"] >= 0.75, row
    assert row["pct_mapped"] > 99 and row["mean_depth"] > 15
    assert row["variants_in_lake"] == row["variants_called"] == len(records)


def test_virus_calls_are_haploid(pipeline, real_run):
    results = _results(real_run, VIRUS)
    records = _records(results / "HIV1" / "HIV1.vcf.gz")
    assert len(records) > 400  # another strain than the reference: hundreds of SNPs
    assert {r[9].split(":")[0] for r in records} == {"1"}
    summary = json.loads((results / "qc_summary.json").read_text())
    assert summary["reference"] == VIRUS and summary["samples"][0]["f1"] is None  # no truth set


def test_manual_trigger_of_one_sample_with_another_aligner_lives_side_by_side(pipeline, real_run):
    state, tasks = pipeline["by_hand"]
    assert state == "success", tasks
    minimap = _records(_results(real_run, VIRUS, "minimap2") / "HIV1" / "HIV1.vcf.gz")
    bwa = _records(_results(real_run, VIRUS) / "HIV1" / "HIV1.vcf.gz")
    assert minimap and bwa  # both analyses kept
    from seqflow.config import local_paths

    paths = local_paths()
    from seqflow.lake import Lake

    table = Lake.local(paths.lake).table("variants").scan().to_arrow()  # the Iceberg table's current snapshot
    hiv = table.filter(ds.field("sample_id") == "HIV1")
    by_aligner = {a: hiv.filter(ds.field("aligner") == a).num_rows for a in ("bwa", "minimap2")}
    assert by_aligner == {"bwa": len(bwa), "minimap2": len(minimap)}


def test_results_name_the_reference_they_came_from(pipeline, real_run):
    from seqflow.references import LocalReferenceCatalog
    from seqflow.registry import local_registry
    from seqflow.config import local_paths

    ref = LocalReferenceCatalog(local_paths().references).require(HUMAN)
    record = local_registry().get(real_run.name, f"1.0.0/{HUMAN}/bwa/bcftools")
    assert record.details["reference_md5"] == {"q": ref.contigs[0].md5}
    manifest = json.loads((_results(real_run, HUMAN) / "manifest.json").read_text())
    assert manifest["reference"] == HUMAN and manifest["aligner"] == "bwa" and manifest["caller"] == "bcftools"


def test_a_single_end_run_of_real_reads_is_analysed_end_to_end(pipeline, single_end_run):
    """100,000 real 72-bp reads of a honeybee sample against the deformed wing virus: fastp, bwa and the
    calls all single-end. No truth set exists for this sample, so no F1 is reported (f1 is None)."""
    from seqflow.registry import local_registry

    [analysis] = pipeline["single_end"].analysis_run_ids
    assert analysis == f"ingest__{single_end_run.name}__1.0.0__single-end"
    record = local_registry().get(single_end_run.name, f"1.0.0/{BEE_VIRUS}/bwa/bcftools")
    assert record.status == "analysed", record
    results = _results(single_end_run, BEE_VIRUS)
    sample = results / "DWV1"
    fastp = json.loads((sample / "DWV1.fastp.json").read_text())
    assert "read2_before_filtering" not in fastp and fastp["summary"]["before_filtering"]["total_reads"] == 100000
    flagstat = json.loads((sample / "DWV1.flagstat.json").read_text())["QC-passed reads"]
    assert flagstat["paired in sequencing"] == 0 and flagstat["primary mapped %"] > 60  # measured 68 % with bwa
    vcf = sample / "DWV1.vcf.gz"
    subprocess.run(["bcftools", "view", "-h", str(vcf)], check=True, capture_output=True)  # htslib: a valid VCF
    records = _records(vcf)
    assert records and {r[0] for r in records} == {"NC_004830.2"}  # the catalogue keeps the accession
    assert {r[9].split(":")[0] for r in records} <= {"0", "1", "2", "3"}  # haploid calls
    summary = json.loads((results / "qc_summary.json").read_text())
    [row] = summary["samples"]
    assert row["f1"] is None and row["variants_in_lake"] == row["variants_called"] == len(records)
