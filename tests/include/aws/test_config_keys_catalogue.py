"""The aws profile's configuration keys name one Batch job definition per step implementation of the
step catalogue: no more, no fewer (Terraform writes the same keys: tests/terraform)."""

from __future__ import annotations

from seqflow.analysis.catalog import catalog
from seqflow.aws.batch import BATCH_STEPS, image_job_definition_keys, job_definition_key
from seqflow.aws.config_keys import AWS_CONFIG_KEYS


def test_one_job_definition_key_per_sample_step_implementation_and_gather_step():
    configured = {k for k in AWS_CONFIG_KEYS if k.startswith("batch_job_definition_")}
    sample = {job_definition_key(s) for s in catalog().steps if s.scope == "sample"}
    gather = {job_definition_key(s) for s in catalog().steps if s.scope == "gather"}
    assert gather == {"batch_job_definition_gather_calls"}
    assert configured == sample | gather
    # the per-sample task group runs the sample steps; a gather step is not one of them
    assert {k for keys in BATCH_STEPS.values() for k in keys} == sample


def test_every_image_the_workflow_needs_has_a_job_definition_key():
    images = image_job_definition_keys()
    assert set(images) == {f"{s.image}_image" for s in catalog().steps if s.scope == "sample"}
    assert set(images.values()) <= set(AWS_CONFIG_KEYS)
