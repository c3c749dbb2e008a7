"""Terraform writes exactly the SSM parameters the aws profile reads
(seqflow.aws.config_keys), under the names ssm_parameter_name() gives."""

from __future__ import annotations

from seqflow.aws import config_keys
from tf_helpers import MODULES, locals_of, resources

AIRFLOW = MODULES / "airflow"


def _ssm_parameter():
    return resources(AIRFLOW)[("aws_ssm_parameter", "config")]


def _rendered_names() -> dict[str, str]:
    """Evaluate the parameter name expression for every key the module writes."""
    local = locals_of(AIRFLOW)
    template = _ssm_parameter()["name"]
    assert template == "${local.ssm_variables_prefix}/${local.variable_prefix}${each.key}"
    return {
        key: f"{local['ssm_variables_prefix']}/{local['variable_prefix']}{key}"
        for key in local["config_descriptions"]
    }


def test_every_key_the_aws_profile_reads_is_written_and_nothing_else():
    local = locals_of(AIRFLOW)
    assert set(local["config_descriptions"]) == set(config_keys.AWS_CONFIG_KEYS)
    assert set(local["config_values"]) == set(config_keys.AWS_CONFIG_KEYS)


def test_optional_keys_are_written_when_their_feature_is_on_under_the_same_names():
    local = locals_of(AIRFLOW)
    assert local["optional_config_descriptions"] == config_keys.OPTIONAL_CONFIG_KEYS
    assert set(local["optional_config_enabled"]) == set(local["optional_config_values"]) == set(
        config_keys.OPTIONAL_CONFIG_KEYS)
    optional = resources(AIRFLOW)[("aws_ssm_parameter", "optional_config")]
    assert optional["name"] == _ssm_parameter()["name"]
    assert optional["value"] == "${local.optional_config_values[each.key]}"
    assert "local.optional_config_enabled[k]" in optional["for_each"]


def test_parameter_names_are_the_packages_names():
    names = _rendered_names()
    assert names == {key: config_keys.ssm_parameter_name(key) for key in config_keys.AWS_CONFIG_KEYS}


def test_parameter_descriptions_are_the_packages_texts():
    assert locals_of(AIRFLOW)["config_descriptions"] == config_keys.AWS_CONFIG_KEYS
    assert _ssm_parameter()["description"] == "${each.value}"


def test_one_parameter_per_key_with_its_value():
    parameter = _ssm_parameter()
    assert parameter["for_each"] == "${local.config_descriptions}"
    assert parameter["value"] == "${local.config_values[each.key]}"
    assert parameter["type"] == "String"


def test_secrets_backend_prefixes_match_the_scheme():
    local = locals_of(AIRFLOW)
    assert local["ssm_variables_prefix"] == config_keys.SSM_VARIABLES_PREFIX
    assert local["variable_prefix"] == config_keys.VARIABLE_PREFIX
    mwaa = resources(AIRFLOW)[("aws_mwaa_environment", "this")]
    assert "local.mwaa_secrets_options" in mwaa["airflow_configuration_options"]
    options = local["mwaa_secrets_options"]
    assert options["secrets.backend"].endswith("SystemsManagerParameterStoreBackend")
    assert options["secrets.backend_kwargs"] == "${jsonencode(local.secrets_backend_kwargs)}"


def test_secrets_backend_looks_up_only_the_codes_names():
    """The prefixes and lookup patterns MWAA's backend gets are the package's (the plans check the
    rendered JSON too): no SSM look-up of aws_default per hook."""
    local = locals_of(AIRFLOW)
    rendered = {k: v.replace("${local.ssm_variables_prefix}", local["ssm_variables_prefix"])
                .replace("${local.ssm_connections_prefix}", local["ssm_connections_prefix"])
                .replace("${local.variable_prefix}", local["variable_prefix"])
                .replace("${local.connection_prefix}", local["connection_prefix"])
                for k, v in local["secrets_backend_kwargs"].items()}
    assert rendered == config_keys.secrets_backend_kwargs()


def test_execution_role_may_read_the_parameters():
    import json

    from tf_helpers import parse

    text = json.dumps(parse(AIRFLOW / "main.tf"))
    assert "parameter${local.ssm_variables_prefix}/*" in text
