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
