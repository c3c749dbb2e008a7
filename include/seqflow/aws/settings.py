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

**One read per DAG run.** A 384-sample run has thousands of task instances; one
``GetParameter`` per key and task would be ~10,000 SSM calls in a burst against
SSM's default 40 per second. So:

* :func:`read_settings` reads every key at once: with the SSM secrets backend
  configured, ``GetParameters`` (10 names a call: 4 calls for all 31 keys), with
  botocore's adaptive retry mode; a throttled read fails as
  :class:`AwsSettingsThrottled`, never as "not set". Keys SSM does not hold (and
  every key without the SSM backend: environment, metastore) are Airflow
  Variables as before.
* In the analysis DAG, ``plan`` reads them and pushes them as its XCom
  ``seqflow_settings`` (:data:`SETTINGS_XCOM_KEY`); every later task of the run
  (the mapped ones too) and every template (:func:`template`) uses that XCom
  instead of SSM (:func:`load_settings`). One configuration per DAG run, however
  many samples.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from seqflow.aws.config_keys import CONFIG_KEYS, SSM_VARIABLES_PREFIX, ssm_parameter_name, variable_name
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
    "omics_run_cache_id": "",
}

#: the task that reads the settings of an analysis DAG run, and the XCom it leaves them in
PLAN_TASK_ID = "plan"
SETTINGS_XCOM_KEY = "seqflow_settings"

#: botocore retries of the settings read: adaptive mode also rate-limits the client when SSM
#: throttles, so a burst of tasks backs off instead of failing at once
SSM_RETRIES = {"mode": "adaptive", "total_max_attempts": 10}
#: GetParameters takes at most 10 names a call
SSM_NAMES_PER_CALL = 10
#: error codes of a throttled AWS call (SSM answers ThrottlingException)
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
                              "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException"})

#: the engines of the aws profile (one owner: seqflow.params)
ENGINES = tuple(AWS_ENGINES)
RESTORE_TIERS = ("Expedited", "Standard", "Bulk")


#: key prefix of the lake in the lake bucket (terraform/modules/glue_athena: lake_prefix)
LAKE_PREFIX = "lake"


class AwsConfigError(LookupError):
    """A configuration key the aws profile needs is missing or invalid."""


class AwsSettingsThrottled(AwsConfigError):
    """SSM throttled the settings read even after botocore's retries: the settings may well be set."""


def poll_seconds(default: int = 60) -> int:
    """Seconds between two polls of a deferred wait (``SEQFLOW_AWS_POLL_S``; tests shorten it)."""
    return max(1, int(os.environ.get("SEQFLOW_AWS_POLL_S", default)))


def template(key: str) -> str:
    """Jinja template of a configuration key, rendered by Airflow when the task runs.

    In a DAG with a ``plan`` task (the analysis) it renders the value ``plan``
    read (its XCom :data:`SETTINGS_XCOM_KEY`): no SSM call per task instance. In
    the others (the ingest) and when the XCom lacks the key, the Variable.
    """
    name = variable_name(key)
    from_plan = ("((ti.xcom_pull(task_ids='%s', key='%s', map_indexes=-1) if '%s' in dag.task_ids else none)"
                 " or {}).get('%s')" % (PLAN_TASK_ID, SETTINGS_XCOM_KEY, PLAN_TASK_ID, key))
    return "{{ %s or var.value.%s }}" % (from_plan, name)


def _get_variable(name: str) -> str | None:
    from airflow.sdk import Variable

    try:
        return Variable.get(name, default=None)
    except KeyError:
        return None
    except ImportError:
        # Airflow 3.0's task SDK outside a task (the CLI, tests): after the environment and the secrets
        # backends it asks a supervisor that is not there; the Variable is not set anywhere it can read
        return None


def ssm_variables_backend():
    """The SSM Parameter Store secrets backend this process reads Variables from, or None."""
    try:
        from airflow.providers.amazon.aws.secrets.systems_manager import SystemsManagerParameterStoreBackend
        from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded
    except ImportError:  # pragma: no cover - the provider and the task SDK are installed wherever this runs
        return None
    for backend in ensure_secrets_backend_loaded():
        if isinstance(backend, SystemsManagerParameterStoreBackend) and backend.variables_prefix is not None:
            return backend
    return None


def ssm_client(backend):
    """An SSM client like the secrets backend's own (its region, endpoint and credentials), with
    :data:`SSM_RETRIES`: the backend's client retries in botocore's legacy mode."""
    from botocore.config import Config

    from airflow.providers.amazon.aws.hooks.base_aws import SessionFactory
    from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper

    conn = AwsConnectionWrapper.from_connection_metadata(conn_id=f"{type(backend).__name__}__connection",
                                                         extra=backend.kwargs)
    config = Config(retries=dict(SSM_RETRIES))
    if conn.botocore_config is not None:  # what the deployment configured wins
        config = config.merge(conn.botocore_config)
    kwargs = {k: v for k, v in {"region_name": conn.region_name, "verify": conn.verify,
                                "endpoint_url": conn.endpoint_url, "api_version": getattr(backend, "api_version", None),
                                "use_ssl": getattr(backend, "use_ssl", None)}.items() if v is not None}
    return SessionFactory(conn=conn).create_session().client("ssm", config=config, **kwargs)


def read_ssm_parameters(client, variables_prefix: str = SSM_VARIABLES_PREFIX) -> dict[str, str]:
    """Every configuration key SSM holds, in ``ceil(keys / 10)`` ``GetParameters`` calls.

    Keys SSM does not have are left out (``InvalidParameters``). A throttled call
    (after the client's retries) raises :class:`AwsSettingsThrottled`.
    """
    from botocore.exceptions import ClientError

    names = {ssm_parameter_name(key, variables_prefix): key for key in CONFIG_KEYS}
    batch = list(names)
    values: dict[str, str] = {}
    for start in range(0, len(batch), SSM_NAMES_PER_CALL):
        chunk = batch[start:start + SSM_NAMES_PER_CALL]
        try:
            response = client.get_parameters(Names=chunk, WithDecryption=True)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            if code in THROTTLING_CODES:
                raise AwsSettingsThrottled(
                    f"aws profile: SSM throttled reading the configuration ({code} on GetParameters of "
                    f"{', '.join(chunk)}, after {attempts} retries in botocore's "
                    f"{SSM_RETRIES['mode']} mode); the parameters are probably set: retry the task, and "
                    "look for what else calls SSM at this rate (SSM's default is 40 GetParameters a second)"
                ) from exc
            raise
        for parameter in response.get("Parameters", []):
            values[names[parameter["Name"]]] = parameter["Value"]
    return values


def read_settings(*, ssm=None) -> AwsSettings:
    """Read every configuration key now: one batched SSM read, then the Variables SSM lacks.

    ``ssm`` is an SSM client (tests); by default the one of the SSM secrets
    backend, when it is configured for Variables. Without it, each key is an
    Airflow Variable (environment or metastore: no AWS call).
    """
    values: dict[str, str] = {}
    backend = None if ssm is not None else ssm_variables_backend()
    if ssm is not None or backend is not None:
        prefix = backend.variables_prefix if backend is not None else SSM_VARIABLES_PREFIX
        values = read_ssm_parameters(ssm if ssm is not None else ssm_client(backend), prefix)
    for key in CONFIG_KEYS:
        if key not in values:
            values[key] = _get_variable(variable_name(key)) or ""
    return AwsSettings(values)


def _task_instance():
    """The running task instance, or None outside a task (CLI, tests)."""
    try:
        from airflow.sdk import get_current_context

        return get_current_context()["ti"]
    except Exception:  # no task context: "Current context was requested but no context was found!"
        return None


def _has_plan(ti) -> bool:
    dag = getattr(getattr(ti, "task", None), "dag", None)
    return dag is not None and PLAN_TASK_ID in getattr(dag, "task_ids", ())


@dataclass(frozen=True)
class AwsSettings:
    """The aws profile's configuration, as read at run time."""

    values: dict[str, str]

    def __getattr__(self, key: str) -> str:
        if key.startswith("_") or key not in CONFIG_KEYS:
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
    """The configuration of this DAG run. Run time only.

    In a task of a DAG with a ``plan`` task: ``plan`` reads it (:func:`read_settings`)
    and pushes it as XCom; every other task pulls that XCom (one Airflow API call,
    no SSM). Elsewhere (the ingest, the CLI): :func:`read_settings`.
    """
    ti = _task_instance()
    values = None
    if ti is not None and _has_plan(ti) and ti.task_id != PLAN_TASK_ID:
        values = ti.xcom_pull(task_ids=PLAN_TASK_ID, key=SETTINGS_XCOM_KEY, map_indexes=-1)
    if values:
        settings = AwsSettings(dict(values))
    else:
        settings = read_settings()
        if ti is not None and ti.task_id == PLAN_TASK_ID and _has_plan(ti):
            ti.xcom_push(key=SETTINGS_XCOM_KEY, value=settings.values)
    if overrides:
        settings = AwsSettings({**settings.values, **{k: str(v) for k, v in overrides.items()}})
    return settings
