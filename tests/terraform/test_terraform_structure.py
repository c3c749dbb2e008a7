"""Conventions of the Terraform tree: files parse, modules are complete,
variables and outputs are typed and described, names are snake_case,
versions are pinned and every environment has its own state key."""

from __future__ import annotations

import re

import pytest

from tf_helpers import ENVS, MODULES, REPO, STACK, TERRAFORM, blocks, module_dirs, parse, resources, tf_files

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
EXPECTED_MODULES = {"network", "storage", "datasync", "batch", "ecr", "omics", "glue_athena", "events", "monitoring",
                    "airflow", "cost", "run_events"}
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")


@pytest.mark.parametrize("path", tf_files(), ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_tf_file_parses(path):
    assert isinstance(parse(path), dict)


@pytest.mark.parametrize("path", sorted(TERRAFORM.rglob("*.tfvars")) + sorted(TERRAFORM.rglob("*.hcl")),
                         ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_tfvars_and_backend_file_parses(path):
    assert isinstance(parse(path), dict)


def test_every_concern_has_a_module():
    assert {p.name for p in MODULES.iterdir() if p.is_dir()} == EXPECTED_MODULES


@pytest.mark.parametrize("directory", module_dirs(), ids=lambda p: p.name)
def test_module_has_main_variables_outputs_versions(directory):
    missing = [f for f in MODULE_FILES if not (directory / f).is_file()]
    assert not missing, f"{directory.relative_to(TERRAFORM)} lacks {missing}"


@pytest.mark.parametrize("directory", module_dirs() + sorted(ENVS.iterdir()), ids=lambda p: p.name)
def test_every_variable_has_type_and_description(directory):
    variables = blocks(directory, "variable")
    assert variables, f"{directory.name} declares no variables"
    for name, body in variables.items():
        assert SNAKE.match(name), f"{directory.name}: variable {name} is not snake_case"
        assert body.get("type"), f"{directory.name}: variable {name} has no type"
        assert str(body.get("description", "")).strip(), f"{directory.name}: variable {name} has no description"


@pytest.mark.parametrize("directory", module_dirs() + sorted(ENVS.iterdir()), ids=lambda p: p.name)
def test_every_output_has_a_description(directory):
    outputs = blocks(directory, "output")
    assert outputs, f"{directory.name} declares no outputs"
    for name, body in outputs.items():
        assert SNAKE.match(name), f"{directory.name}: output {name} is not snake_case"
        assert str(body.get("description", "")).strip(), f"{directory.name}: output {name} has no description"


@pytest.mark.parametrize("directory", sorted(p for p in MODULES.iterdir() if p.is_dir()), ids=lambda p: p.name)
def test_resource_names_are_snake_case_and_main_resource_is_this(directory):
    found = resources(directory)
    for rtype, name in found:
        assert SNAKE.match(name), f"{directory.name}: {rtype}.{name} is not snake_case"
    assert any(name == "this" for _, name in found), f"module {directory.name} has no main resource named this"


@pytest.mark.parametrize("directory", module_dirs() + sorted(ENVS.iterdir()), ids=lambda p: p.name)
def test_terraform_and_provider_versions_are_pinned(directory):
    terraform = parse(directory / "versions.tf")["terraform"][0]
    assert "<" in terraform["required_version"] or "~>" in terraform["required_version"]
    providers = terraform["required_providers"][0] if isinstance(terraform["required_providers"], list) else terraform["required_providers"]
    assert "aws" in providers
    for name, spec in providers.items():
        version = spec["version"]
        assert "~>" in version or "<" in version, f"{directory.name}: provider {name} is not pinned to a major ({version})"
        assert spec["source"].startswith("hashicorp/")


def test_envs_are_thin_with_their_own_backend_key_and_tfvars():
    keys = set()
    for env in sorted(ENVS.iterdir()):
        terraform = parse(env / "versions.tf")["terraform"][0]
        backend = terraform["backend"][0]["s3"]
        assert backend["encrypt"] is True and backend["use_lockfile"] is True
        assert env.name in backend["key"]
        keys.add(backend["key"])
        assert (env / "terraform.tfvars").is_file() and (env / "backend.hcl").is_file()
        main = parse(env / "main.tf")
        # thin: providers and one call of the shared composition, nothing else
        assert "resource" not in main and "data" not in main
        assert [list(m) for m in main["module"]] == [["seqflow"]]
        assert main["module"][0]["seqflow"]["source"] == "../../stack"
    assert len(keys) == len(list(ENVS.iterdir())) >= 2


def test_env_providers_set_default_tags_and_refuse_other_accounts():
    for env in sorted(ENVS.iterdir()):
        aws = [p["aws"] for p in parse(env / "main.tf")["provider"] if "aws" in p][0]
        assert aws["allowed_account_ids"] == ["${[var.account_id]}"] or "var.account_id" in str(aws["allowed_account_ids"])
        tags = aws["default_tags"][0]["tags"]
        assert set(tags) >= {"project", "environment", "managed_by"}


def test_env_tfvars_pipeline_version_is_the_packages():
    from seqflow.config import PIPELINE_VERSION

    for env in sorted(ENVS.iterdir()):
        assert parse(env / "terraform.tfvars")["pipeline_version"] == PIPELINE_VERSION, env.name


def test_stack_calls_every_module():
    called = {list(m)[0]: list(m.values())[0]["source"] for m in parse(STACK / "main.tf")["module"]}
    assert {src.rsplit("/", 1)[1] for src in called.values()} == EXPECTED_MODULES


def test_files_the_stack_reads_from_the_repo_exist():
    repo = REPO
    """file(), fileset() and filemd5() fail a plan when these are missing."""
    wanted = [
        repo / "include/seqflow/workflows/germline/main.wdl",
        repo / "terraform/scripts/build_workflow_bundle.py",
        repo / "include/seqflow/workflows/germline/parameters.json",
        repo / "include/seqflow/glue/vcf_to_parquet_job.py",
        repo / "mwaa/requirements.txt",
        repo / "mwaa/startup.sh",
    ]
    missing = [str(p.relative_to(repo)) for p in wanted if not p.is_file()]
    assert not missing, f"the stack reads files that do not exist: {missing}"
