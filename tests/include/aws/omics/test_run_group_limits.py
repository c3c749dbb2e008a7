"""The HealthOmics run group's limits follow from the step catalogue (what Terraform's run group
must allow), and the request that creates it is one HealthOmics takes (botocore's model)."""

from __future__ import annotations

import boto3
import pytest

from seqflow.analysis.catalog import catalog
from seqflow.aws.omics.inputs import TASK_START_ALLOWANCE_S, run_group_limits, run_shape


def test_a_run_peaks_at_its_alignment_and_lasts_at_most_its_longest_chain_of_timeouts():
    shape = run_shape()
    steps = {s.id: s.resources for s in catalog().steps if s.scope == "sample"}
    # alignment (16 vCPUs with bwa) alone is more than calling and BAM QC side by side (1 + 1)
    assert shape.peak_vcpus == max(steps["align_bwa"].vcpus, steps["align_minimap2"].vcpus,
                                   steps["call_variants_bcftools"].vcpus + steps["bam_qc"].vcpus) == 16
    # fastp -> align (minimap2's 9 h) -> call (freebayes' 18 h) -> vcf_stats is the longest chain
    # (the timeouts bench/genome_cost.py derived for a 30x genome called in one piece)
    assert shape.longest_chain == ("fastp", "align_minimap2", "call_variants_freebayes", "vcf_stats")
    assert shape.longest_seconds == sum(steps[s].timeout_seconds + TASK_START_ALLOWANCE_S
                                        for s in shape.longest_chain) == 136800  # 38 h


@pytest.mark.parametrize("max_runs", [1, 50, 384])
def test_run_group_limits_scale_with_the_runs_and_are_a_valid_create_run_group(max_runs):
    from botocore.validate import validate_parameters

    limits = run_group_limits(max_runs)
    assert limits == {"maxRuns": max_runs, "maxCpus": 16 * max_runs, "maxDuration": 2280}
    shape = boto3.client("omics", region_name="eu-west-1").meta.service_model.operation_model(
        "CreateRunGroup").input_shape
    validate_parameters({"name": "seqflow-prod-germline", "requestId": "seqflow-run-group", **limits}, shape)


def test_a_slower_step_in_the_catalogue_lengthens_the_run_group_limit():
    import dataclasses

    cat = catalog()
    slow = [dataclasses.replace(s, resources=dataclasses.replace(s.resources, timeout_seconds=30 * 3600))
            if s.id == "bam_qc" else s for s in cat.steps]
    slower = dataclasses.replace(cat, steps=tuple(slow))
    shape = run_shape(slower)
    assert shape.longest_chain == ("fastp", "align_minimap2", "bam_qc")
    # fastp 9 h + align 9 h + bam_qc 30 h, and a start allowance per task
    assert run_group_limits(10, slower)["maxDuration"] == (9 + 9 + 30) * 60 + 3 * 15
