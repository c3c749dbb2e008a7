"""``plan``: the params, the sheet and the reference catalogue make the analysis identity and the jobs."""

from __future__ import annotations

import pytest

from seqflow.backends import RunNotInRawStorage
from seqflow.params import ParamsError
from seqflow.references import UnknownReference
from seqflow.references.resolve import MappingRule, ReferenceRules, UnresolvedReference
from seqflow.tasks.analysis import AlreadyAnalysed, plan

from .conftest import RUN


def test_reference_param_makes_the_identity_and_jobs(world):
    p = plan({"run_id": RUN, "reference": "toy", "samples": ["H1"]}, backend=world)
    assert {k: p[k] for k in ("run_id", "pipeline_version", "reference", "aligner", "caller", "engine")} == {
        "run_id": RUN, "pipeline_version": "1.0.0", "reference": "toy", "aligner": "bwa", "caller": "bcftools",
        "engine": "local"}
    (job,) = p["jobs"]
    ref = world.references().require("toy")
    assert job["reference_fasta"] == ref.fasta and job["ploidy_file"] == ref.ploidy_file
    assert job["r1"] == [str(world.paths.raw / RUN / "Analysis/1/Data/fastq/H1_S1_L001_R1_001.fastq.gz")]
    assert p["results_uri"] == str(world.paths.results / RUN / "1.0.0" / "toy" / "bwa-bcftools")
    record = world.registry().get(RUN, "1.0.0/toy/bwa/bcftools")
    assert record.status == "analysing" and record.details["reference_origin"] == {"H1": "the reference param"}
    assert record.details["samples"] == ["H1"]


def test_unknown_reference_lists_the_registered_ones(world):
    with pytest.raises(UnknownReference, match=r"'hg38' is not registered; registered references: toy, toy2"):
        plan({"run_id": RUN, "reference": "hg38"}, backend=world)
    assert world.registry().list(RUN) == []


def test_a_run_nothing_names_a_reference_for_stops_with_how_to_set_one(world):
    with pytest.raises(UnresolvedReference, match="seqflow reference default"):
        plan({"run_id": RUN}, backend=world)


def test_sheet_mapping_then_default(world):
    catalog = world.references()
    catalog.save_rules(ReferenceRules("toy2", (MappingRule("Sample_Project", "Human", "toy"),)))
    human = plan({"run_id": RUN, "samples": ["H1", "H2"]}, backend=world)
    assert human["reference"] == "toy" and human["samples"] == ["H1", "H2"]
    phage = plan({"run_id": RUN, "samples": ["B1"]}, backend=world)
    assert phage["reference"] == "toy2"
    origins = world.registry().get(RUN, "1.0.0/toy2/bwa/bcftools").details["reference_origin"]
    assert origins == {"B1": "the deployment's default reference"}
    with pytest.raises(UnresolvedReference, match=r"2 references \(toy: H1, H2; toy2: B1\)"):
        plan({"run_id": RUN}, backend=world)


def test_already_analysed_means_this_exact_identity(world):
    world.registry().put(RUN, "1.0.0/toy/bwa/bcftools", "analysed")
    with pytest.raises(AlreadyAnalysed, match="toy, bwa, bcftools"):
        plan({"run_id": RUN, "reference": "toy"}, backend=world)
    assert plan({"run_id": RUN, "reference": "toy2"}, backend=world)["reference"] == "toy2"
    assert plan({"run_id": RUN, "reference": "toy", "aligner": "minimap2"}, backend=world)["aligner"] == "minimap2"
    assert plan({"run_id": RUN, "reference": "toy", "force": True}, backend=world)["force"] is True


def test_engines_the_profile_cannot_run_and_runs_not_ingested(world):
    with pytest.raises(ParamsError, match="engine: 'batch' cannot run in the local profile"):
        plan({"run_id": RUN, "reference": "toy", "engine": "batch"}, backend=world)
    with pytest.raises(RunNotInRawStorage, match="ingest it first"):
        plan({"run_id": "261120_A01234_0043_AHXXXXXDSX", "reference": "toy"}, backend=world)


def test_a_sample_whose_files_do_not_match_the_sheet_fails_alone(world):
    fastq = world.paths.raw / RUN / "Analysis" / "1" / "Data" / "fastq"
    sheet = world.paths.raw / RUN / "SampleSheet.csv"
    # H2 is listed on lanes 1 and 2 but only lane 1 has files; B1 has no files at all
    sheet.write_text(sheet.read_text().replace("1,B1,GGATCCAA,Phage\n", "2,H2,TTGCAACC,Human\n1,B1,GGATCCAA,Phage\n"))
    for read in (1, 2):
        (fastq / f"B1_S3_L001_R{read}_001.fastq.gz").unlink()
    (fastq / "X9_S9_L001_R1_001.fastq.gz").write_bytes(b"")  # a sample the sheet does not list
    p = plan({"run_id": RUN, "reference": "toy"}, backend=world)
    assert [j["sample_id"] for j in p["jobs"]] == ["H1"]
    assert p["samples"] == ["H1", "H2", "B1"]
    assert p["failed_samples"]["H2"]["error"].endswith("lists lane(s) 2 but there are FASTQ files for lane(s) 1 only")
    assert "no FASTQ files for sample 'B1'" in p["failed_samples"]["B1"]["error"]
    assert p["unlisted_fastqs"] == ["Analysis/1/Data/fastq/X9_S9_L001_R1_001.fastq.gz"]
    record = world.registry().get(RUN, "1.0.0/toy/bwa/bcftools")
    assert set(record.details["failed_samples"]) == {"H2", "B1"}


def test_when_no_sample_can_be_analysed_plan_fails_and_records_failed(world):
    from seqflow.runfolder import FastqError

    for path in (world.paths.raw / RUN).rglob("*.fastq.gz"):
        path.unlink()
    with pytest.raises(FastqError, match="no sample can be analysed"):
        plan({"run_id": RUN, "reference": "toy"}, backend=world)
    assert world.registry().get(RUN, "1.0.0/toy/bwa/bcftools").status == "failed"


def test_a_single_end_run_plans_r1_only_and_refuses_a_stray_r2(world):
    sheet = world.paths.raw / RUN / "SampleSheet.csv"
    sheet.write_text(sheet.read_text().replace("Read2Cycles,151\n", ""))
    fastq = world.paths.raw / RUN / "Analysis" / "1" / "Data" / "fastq"
    for sample in ("H1", "H2"):
        (fastq / f"{sample}_S{1 if sample == 'H1' else 2}_L001_R2_001.fastq.gz").unlink()
    p = plan({"run_id": RUN, "reference": "toy"}, backend=world)
    assert p["single_end"] is True
    jobs = {j["sample_id"]: j for j in p["jobs"]}
    assert set(jobs) == {"H1", "H2"} and jobs["H1"]["r2"] == [] and len(jobs["H1"]["r1"]) == 1
    assert "needs one R1 and no R2" in p["failed_samples"]["B1"]["error"]  # B1 still has its R2
