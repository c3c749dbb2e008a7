"""Choosing the caller per run: the caller param offers the catalogue's callers, a freebayes analysis is
an identity of its own (results beside bcftools', never over them), and each engine runs the chosen
caller's step (Batch job definition, HealthOmics image)."""

from __future__ import annotations

import pytest

from seqflow.analysis.catalog import catalog
from seqflow.analysis.steps import SampleJob
from seqflow.aws.omics.inputs import start_run_parameters
from seqflow.params import ANALYSIS_PARAM_SCHEMAS, ParamsError, validate_analysis_params


def test_the_caller_param_offers_exactly_the_catalogues_callers():
    schema = ANALYSIS_PARAM_SCHEMAS["caller"]
    assert schema["enum"] == list(catalog().callers) == ["bcftools", "freebayes"]
    assert schema["default"] == "bcftools"
    assert validate_analysis_params({"run_id": "261119_A01234_0001_AHVBCSDSXY", "caller": "freebayes"}).caller == "freebayes"
    with pytest.raises(ParamsError, match="caller"):
        validate_analysis_params({"run_id": "261119_A01234_0001_AHVBCSDSXY", "caller": "gatk"})


def _job(caller: str) -> SampleJob:
    return SampleJob(run_id="261119_A01234_0001_AHVBCSDSXY", pipeline_version="1.0.0", sample_id="S1", r1=["a.fq.gz"], r2=["b.fq.gz"],
                     reference_fasta="/ref/g.fa", reference="g", caller=caller, results_root="/res")


def test_a_freebayes_analysis_has_its_own_identity_and_results_beside_bcftools():
    fb, bc = _job("freebayes"), _job("bcftools")
    assert fb.identity.caller == "freebayes" and fb.identity.key == "1.0.0/g/bwa/freebayes"
    assert fb.identity != bc.identity
    assert str(fb.results_dir) == "/res/261119_A01234_0001_AHVBCSDSXY/1.0.0/g/bwa-freebayes/S1" != str(bc.results_dir)


def test_healthomics_runs_the_freebayes_task_with_its_image_only_when_chosen():
    job = {"sample_id": "S1", "aligner": "bwa", "r1": "s3://raw/S1_R1.fastq.gz", "r2": "s3://raw/S1_R2.fastq.gz",
           "reference_fasta": "s3://raw/ref/g.fa", "ploidy_file": "s3://raw/ref/g.ploidy"}
    images = {f"{i}_image": f"ecr/{i}:1" for i in catalog().images}
    fb = start_run_parameters({**job, "caller": "freebayes"}, images)
    bc = start_run_parameters({**job, "caller": "bcftools"}, images)
    assert fb["caller"] == "freebayes" and fb["freebayes_image"] == "ecr/freebayes:1"
    assert "freebayes_image" not in bc
    # vcf_stats runs in the bcftools image whichever caller called
    assert fb["bcftools_image"] == "ecr/bcftools:1"
    assert catalog().step("call_variants", caller="freebayes").id == "call_variants_freebayes"
