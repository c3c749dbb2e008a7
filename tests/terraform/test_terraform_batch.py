"""Batch: Spot first with On-Demand fallback, IMDSv2 and encrypted gp3
scratch, and every job definition retries Spot reclaims only, with a timeout."""

from __future__ import annotations

from tf_helpers import MODULES, REPO, blocks, resources

BATCH = MODULES / "batch"


def _job_definition_defaults() -> dict:
    return blocks(BATCH, "variable")["job_definitions"]["default"]


def test_every_job_definition_retries_spot_reclaims_and_exits_otherwise():
    definition = resources(BATCH)[("aws_batch_job_definition", "this")]
    assert definition["for_each"] == "${var.job_definitions}"
    strategy = definition["retry_strategy"][0]
    assert strategy["evaluate_on_exit"] == [
        {"on_status_reason": "Host EC2*", "action": "RETRY"},
        {"on_reason": "*", "action": "EXIT"},
    ]
    assert strategy["attempts"] == "${each.value.attempts}"
    assert definition["propagate_tags"] is True


def test_every_job_definition_has_a_timeout_and_resources():
    definition = resources(BATCH)[("aws_batch_job_definition", "this")]
    assert definition["timeout"][0]["attempt_duration_seconds"] == "${each.value.timeout_seconds}"
    for step, spec in _job_definition_defaults().items():
        assert spec["timeout_seconds"] >= 60, step
        assert spec["vcpus"] >= 1 and spec["memory_mib"] >= 512, step
        assert spec.get("attempts", 3) >= 2, f"{step}: a Spot reclaim needs at least one retry"


def test_job_definitions_cover_the_ssm_steps_and_run_existing_scripts():
    defaults = _job_definition_defaults()
    assert {"fastp", "align", "call", "stats"} <= set(defaults)
    for step, spec in defaults.items():
        script = spec["command"][0]
        dockerfile = (REPO / "containers" / spec["image"] / "Dockerfile").read_text()
        assert script in dockerfile, f"{step}: image {spec['image']} does not ship {script}"


def test_queues_order_spot_then_on_demand_and_priority_is_on_demand():
    found = resources(BATCH)
    default = found[("aws_batch_job_queue", "this")]["compute_environment_order"]
    assert [o["compute_environment"] for o in sorted(default, key=lambda o: o["order"])] == [
        "${aws_batch_compute_environment.spot.arn}",
        "${aws_batch_compute_environment.on_demand.arn}",
    ]
    priority = found[("aws_batch_job_queue", "priority")]["compute_environment_order"]
    assert [o["compute_environment"] for o in priority] == ["${aws_batch_compute_environment.on_demand.arn}"]
    spot = found[("aws_batch_compute_environment", "spot")]["compute_resources"][0]
    assert spot["type"] == "SPOT" and spot["allocation_strategy"] == "SPOT_PRICE_CAPACITY_OPTIMIZED"
    assert found[("aws_batch_compute_environment", "on_demand")]["compute_resources"][0]["type"] == "EC2"


def test_launch_template_requires_imdsv2_and_encrypts_gp3_scratch_sized_by_variable():
    template = resources(BATCH)[("aws_launch_template", "this")]
    metadata = template["metadata_options"][0]
    assert metadata["http_tokens"] == "required"
    assert metadata["http_put_response_hop_limit"] == 1
    ebs = template["block_device_mappings"][0]["ebs"][0]
    assert ebs["volume_type"] == "gp3" and ebs["encrypted"] is True
    assert ebs["volume_size"] == "${var.scratch_volume_size_gib}"


def test_container_never_runs_privileged():
    definition = resources(BATCH)[("aws_batch_job_definition", "this")]
    assert "privileged = false" in definition["container_properties"]
