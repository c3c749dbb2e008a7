"""Batch: Spot first with On-Demand fallback, IMDSv2 and encrypted gp3
scratch, and every job definition retries Spot reclaims only, with a timeout.
The job definitions are the step catalogue's (containers/<tool>/steps.yaml):
terraform itself decodes it (the provider-less module batch/steps, applied here
with the real terraform) and must agree with the catalogue as Python reads it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tf_helpers import MODULES, REPO, blocks, parse, resources

BATCH = MODULES / "batch"
STEPS = BATCH / "steps"
TERRAFORM = shutil.which("terraform") or "/usr/local/bin/terraform"
# the terraform runs share the worker of tests/terraform/test_terraform_cli.py
pytestmark = pytest.mark.xdist_group("terraform")


def _apply_steps(tmp_path: Path, overrides: str = "{}") -> subprocess.CompletedProcess:
    """Apply batch/steps on the repository's catalogue in a scratch root module (no provider, no state kept)."""
    (tmp_path / "main.tf").write_text(
        f'module "steps" {{\n  source         = "{STEPS}"\n  containers_dir = "{REPO / "containers"}"\n'
        f"  overrides      = {overrides}\n}}\n"
        'output "job_definitions" {\n  value = module.steps.job_definitions\n}\n'
    )
    env = {"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "PATH": "/usr/bin:/bin",
           "TF_CLI_CONFIG_FILE": str(tmp_path / "none.tfrc"), "HOME": str(tmp_path)}
    init = subprocess.run([TERRAFORM, "init", "-input=false", "-backend=false", "-no-color"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    return subprocess.run([TERRAFORM, "apply", "-auto-approve", "-input=false", "-lock=false", "-no-color",
                           "-json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def _outputs(tmp_path: Path) -> dict:
    env = {"PATH": "/usr/bin:/bin", "TF_CLI_CONFIG_FILE": str(tmp_path / "none.tfrc"), "HOME": str(tmp_path)}
    done = subprocess.run([TERRAFORM, "output", "-json", "job_definitions"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


needs_terraform = pytest.mark.skipif(not Path(TERRAFORM).exists(), reason="terraform is not installed")


@needs_terraform
def test_terraform_decodes_the_job_definitions_the_catalogue_declares(tmp_path):
    from seqflow.aws.batch import job_definitions

    done = _apply_steps(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    expected = {k: {**v, "attempts": 3} for k, v in job_definitions().items()}
    assert _outputs(tmp_path) == expected
    assert set(expected) == {"fastp", "align_bwa", "align_minimap2", "call_variants_bcftools", "call_variants_freebayes",
                             "bam_qc", "vcf_stats", "gather_calls"}


@needs_terraform
def test_an_environment_raises_resources_per_job_definition_and_cannot_invent_one(tmp_path):
    done = _apply_steps(tmp_path, "{ align_bwa = { memory_mib = 65536, attempts = 5 } }")
    assert done.returncode == 0, done.stdout[-3000:]
    found = _outputs(tmp_path)
    assert (found["align_bwa"]["memory_mib"], found["align_bwa"]["attempts"]) == (65536, 5)
    # the numbers bench/genome_cost.py derived (tests/bench/test_genome_cost.py holds the catalogue to them)
    assert found["align_bwa"]["vcpus"] == 16 and found["align_minimap2"]["memory_mib"] == 18432
    bad = tmp_path / "bad"
    bad.mkdir()
    done = _apply_steps(bad, "{ call = { vcpus = 8 } }")
    assert done.returncode != 0
    assert "the step catalogue does not have" in done.stdout + done.stderr


def test_the_batch_module_reads_the_repositorys_catalogue():
    (steps_call,) = parse(BATCH / "main.tf")["module"]
    call = steps_call["steps"]
    assert call["source"] == "./steps"
    assert call["overrides"] == "${var.job_definitions}"
    assert call["containers_dir"] == '${coalesce(var.containers_dir, "${path.module}/../../../containers")}'
    assert (BATCH / ".." / ".." / ".." / "containers").resolve() == REPO / "containers"
    assert "yamldecode(file(" in (STEPS / "main.tf").read_text()


@needs_terraform
def test_the_batch_module_is_terraform_fmt_clean():
    done = subprocess.run([TERRAFORM, "fmt", "-check", "-recursive", "-no-color", str(BATCH)],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert done.returncode == 0, done.stdout


def test_every_job_definition_retries_spot_reclaims_and_exits_otherwise():
    definition = resources(BATCH)[("aws_batch_job_definition", "this")]
    assert definition["for_each"] == "${module.steps.job_definitions}"
    strategy = definition["retry_strategy"][0]
    assert strategy["evaluate_on_exit"] == [
        {"on_status_reason": "Host EC2*", "action": "RETRY"},
        {"on_reason": "*", "action": "EXIT"},
    ]
    assert strategy["attempts"] == "${each.value.attempts}"
    assert definition["propagate_tags"] is True


def test_every_job_definition_has_a_timeout_resources_and_its_threads():
    from seqflow.aws.batch import job_definitions

    definition = resources(BATCH)[("aws_batch_job_definition", "this")]
    assert definition["timeout"][0]["attempt_duration_seconds"] == "${each.value.timeout_seconds}"
    assert definition["parameters"] == {"threads": "${tostring(each.value.vcpus)}", "regions": "-"}
    for key in ("image", "command", "vcpus", "memory_mib"):
        assert f"each.value.{key}" in definition["container_properties"], key
    assert definition["retry_strategy"][0]["attempts"] == "${each.value.attempts}"
    assert blocks(STEPS, "variable")["default_attempts"]["default"] >= 2, \
        "a Spot reclaim needs at least one retry"
    for step, spec in job_definitions().items():
        assert spec["timeout_seconds"] >= 60, step
        assert spec["vcpus"] >= 1 and spec["memory_mib"] >= 512, step


def test_job_definitions_run_scripts_their_images_ship():
    from seqflow.aws.batch import job_definitions

    for step, spec in job_definitions().items():
        script = spec["command"][0]
        dockerfile = (REPO / "containers" / spec["image"] / "Dockerfile").read_text()
        assert f"{spec['image']}/{script}" in dockerfile, f"{step}: image {spec['image']} does not ship {script}"
        assert "outputs" in spec["command"] and "Ref::sample_id" in spec["command"], step


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
    root = template["block_device_mappings"][0]["ebs"][0]
    assert root["volume_type"] == "gp3" and root["encrypted"] is True
    assert root["volume_size"] == "${var.root_volume_size_gib}"
    # job scratch on a volume of its own (or the instance store), not the root volume
    scratch = template["dynamic"][0]["block_device_mappings"]
    assert scratch["for_each"] == '${var.scratch_storage == "ebs" ? [1] : []}'
    ebs = scratch["content"][0]["ebs"][0]
    assert ebs["volume_type"] == "gp3" and ebs["encrypted"] is True
    assert ebs["volume_size"] == "${var.scratch_volume_size_gib}"


def test_compute_environments_use_the_service_linked_role():
    found = resources(BATCH)
    for name in ("spot", "on_demand"):
        assert "service_role" not in found[("aws_batch_compute_environment", name)], name
    assert not any(rtype == "aws_iam_role_policy_attachment" and "AWSBatchServiceRole" in str(body)
                   for (rtype, _), body in found.items())


def test_container_never_runs_privileged():
    definition = resources(BATCH)[("aws_batch_job_definition", "this")]
    assert "privileged = false" in definition["container_properties"]
