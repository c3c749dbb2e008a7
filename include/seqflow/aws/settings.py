"""Run-time configuration of the ``aws`` profile.

Every resource name (buckets, DataSync task, Batch queues and job definitions,
HealthOmics workflow, Glue job, Athena workgroup, DynamoDB table, SNS topic) is
an Airflow Variable ``seqflow_<key>`` (:mod:`seqflow.aws.config_keys`), which
the SSM Parameter Store secrets backend serves from
``/airflow/variables/seqflow_<key>``, where Terraform writes it.

Nothing here is read at DAG parse time: operators get Jinja templates
(:func:`template`) that Airflow renders when the task runs, and task bodies call
:func:`load_settings`. The only parse-time settings are environment variables
(cheap, no I/O): the AWS connection id and the poll interval of the deferred
waits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from seqflow.aws.config_keys import AWS_CONFIG_KEYS, ssm_parameter_name, variable_name
from seqflow.identity import AnalysisIdentity
from seqflow.params import AWS_ENGINES
from seqflow.paths import check_reference_name, check_run_id, result_prefix

#: Airflow connection every seqflow AWS operator and hook uses (MWAA: the execution role).
AWS_CONN_ID = os.environ.get("SEQFLOW_AWS_CONN_ID", "aws_default")

#: Keys that have a sensible default when Terraform left them empty.
DEFAULTS: dict[str, str] = {
    "raw_prefix": "",
    "default_engine": "batch",
    "restore_tier": "Standard",
    "batch_priority_job_queue": "",
    "omics_run_group_id": "",
    "scratch_bucket": "",
    "athena_results_bucket": "",
}

#: the engines of the aws profile (one owner: seqflow.params)
ENGINES = tuple(AWS_ENGINES)
RESTORE_TIERS = ("Expedited", "Standard", "Bulk")


#: key prefix of the lake in the lake bucket (terraform/modules/glue_athena: lake_prefix)
LAKE_PREFIX = "lake"


class AwsConfigError(LookupError):
    """A configuration key the aws profile needs is missing or invalid."""


def poll_seconds(default: int = 60) -> int:
    """Seconds between two polls of a deferred wait (``SEQFLOW_AWS_POLL_S``; tests shorten it)."""
    return max(1, int(os.environ.get("SEQFLOW_AWS_POLL_S", default)))


def template(key: str) -> str:
    """Jinja template of a configuration key, rendered by Airflow when the task runs."""
    return "{{ var.value.%s }}" % variable_name(key)


def _get_variable(name: str) -> str | None:
    from airflow.sdk import Variable

    try:
        return Variable.get(name, default=None)
    except KeyError:
        return None


@dataclass(frozen=True)
class AwsSettings:
    """The aws profile's configuration, as read at run time."""

    values: dict[str, str]

    def __getattr__(self, key: str) -> str:
        if key.startswith("_") or key not in AWS_CONFIG_KEYS:
            raise AttributeError(key)
        return self.require(key)

    def get(self, key: str) -> str:
        """The value, or its default ('' when there is none)."""
        return self.values.get(key) or DEFAULTS.get(key, "")

    def require(self, key: str) -> str:
        """The value, failing with the Variable and SSM parameter to set when it is empty."""
        value = self.get(key)
        if not value:
            raise AwsConfigError(
                f"aws profile: configuration {key!r} is not set; set the Airflow Variable "
                f"{variable_name(key)!r} (SSM parameter {ssm_parameter_name(key)!r}, written by Terraform)"
            )
        return value

    # -- derived locations ---------------------------------------------------------------

    @property
    def raw_prefix_norm(self) -> str:
        """The raw prefix with exactly one trailing slash ('' for the bucket root)."""
        prefix = self.get("raw_prefix").strip("/")
        return f"{prefix}/" if prefix else ""

    def raw_run_prefix(self, run_id: str) -> str:
        """Key prefix of a run folder in the raw bucket: ``<raw_prefix><run_id>/``."""
        return f"{self.raw_prefix_norm}{check_run_id(run_id)}/"

    def raw_run_uri(self, run_id: str) -> str:
        return f"s3://{self.require('raw_bucket')}/{self.raw_run_prefix(run_id)}"

    def results_prefix(self, identity: AnalysisIdentity, sample_id: str | None = None) -> str:
        """``results/<run>/<version>/<reference>/<aligner>-<caller>/[<sample>/]``: the local layout, as keys."""
        return result_prefix(identity, sample_id) + "/"

    def results_uri(self, identity: AnalysisIdentity, sample_id: str | None = None) -> str:
        return f"s3://{self.require('results_bucket')}/{self.results_prefix(identity, sample_id)}"

    def reference_uri(self, reference: str) -> str:
        """Prefix of a reference and its indexes: ``s3://<raw_bucket>/references/<reference>/``."""
        return f"s3://{self.require('raw_bucket')}/references/{check_reference_name(reference)}/"

    def lake_uri(self) -> str:
        """Root of the Parquet lake (the Glue job's ``--lake_uri``, no trailing slash).

        Tables live under ``<lake_uri>/<table>/``: the prefix is the default of
        Terraform's ``glue_athena`` ``lake_prefix``, where the Glue tables point,
        and it keeps the converter's ``_staging/`` out of the bucket root.
        """
        return f"s3://{self.require('lake_bucket')}/{LAKE_PREFIX}"

    @property
    def engine(self) -> str:
        value = self.get("default_engine")
        if value not in ENGINES:
            raise AwsConfigError(f"seqflow_default_engine is {value!r}; expected one of {', '.join(ENGINES)}")
        return value

    @property
    def tier(self) -> str:
        value = self.get("restore_tier")
        if value not in RESTORE_TIERS:
            raise AwsConfigError(f"seqflow_restore_tier is {value!r}; expected one of {', '.join(RESTORE_TIERS)}")
        return value


def load_settings(overrides: dict[str, Any] | None = None) -> AwsSettings:
    """Read every configuration key (Variables, i.e. SSM through the secrets backend). Run time only."""
    values = {key: (_get_variable(variable_name(key)) or "") for key in AWS_CONFIG_KEYS}
    values.update({k: str(v) for k, v in (overrides or {}).items()})
    return AwsSettings(values)
