"""The aws profile's configuration keys name one Batch job definition per step implementation of the
step catalogue: no more, no fewer (Terraform writes the same keys: tests/terraform)."""

from __future__ import annotations

from seqflow.analysis.catalog import catalog
from seqflow.aws.batch import BATCH_STEPS, image_job_definition_keys, job_definition_key
from seqflow.aws.config_keys import AWS_CONFIG_KEYS


def test_one_job_definition_key_per_sample_step_implementation():
    configured = {k for k in AWS_CONFIG_KEYS if k.startswith("batch_job_definition_")}
    expected = {job_definition_key(s) for s in catalog().steps if s.scope == "sample"}
    assert configured == expected
    assert {k for keys in BATCH_STEPS.values() for k in keys} == expected


def test_every_image_the_workflow_needs_has_a_job_definition_key():
    images = image_job_definition_keys()
    assert set(images) == {f"{s.image}_image" for s in catalog().steps if s.scope == "sample"}
    assert set(images.values()) <= set(AWS_CONFIG_KEYS)
