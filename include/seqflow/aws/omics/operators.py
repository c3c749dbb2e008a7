"""Start one HealthOmics run per sample, idempotently, and wait for it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from seqflow.aws.omics.hooks import OmicsHook, OmicsRunFailedError
from seqflow.aws.omics.links import OmicsRunLink
from seqflow.aws.omics.triggers import OmicsRunCompleteTrigger
from seqflow.compat import AirflowException, conf

if TYPE_CHECKING:
    from airflow.sdk import Context

STORAGE_TYPES = ("STATIC", "DYNAMIC")
LOG_LEVELS = ("OFF", "FATAL", "ERROR", "ALL")
RETENTION_MODES = ("RETAIN", "REMOVE")
CACHE_BEHAVIORS = ("CACHE_ON_FAILURE", "CACHE_ALWAYS")
#: The tags every run carries for cost allocation (DESIGN: conventions).
COST_TAG_KEYS = ("run_id", "sample_id", "project", "pipeline_version")


class OmicsStartRunOperator(AwsBaseOperator[OmicsHook]):
    """
    Start an AWS HealthOmics workflow run for one sample and, optionally, wait for it.

    **Idempotency.** ``requestId`` is derived from the task instance (DAG id, DAG run id,
    task id, map index; never the try number) and from ``run_id``, ``sample_id`` and
    ``pipeline_version``, so a retry of the task gets the run the first try started back from
    HealthOmics instead of starting a second one. A new DAG run (a manual re-analysis or a
    backfill) is a deliberate new analysis and gets a new token.
    When the run a token returns has already ended FAILED, CANCELLED or DELETED (the earlier
    try failed *because of the run*, or someone cancelled it), retrying it would only fail
    again, so the operator moves on to the next *generation* token (``<token>-g2``, ``-g3``,
    ...) and reattaches to or starts the run of the first generation that has not failed.
    Every token is still a pure function of the task instance, so two tries never race two
    live runs.

    **Tags.** Every run carries the cost tags ``run_id``, ``sample_id``, ``project`` and
    ``pipeline_version``; extra ``tags`` are added, but cannot override those four.

    :param workflow_id: HealthOmics workflow id (digits). (templated)
    :param role_arn: IAM role the run assumes. (templated)
    :param output_uri: S3 URI under which the run writes its outputs. (templated)
    :param run_id: Sequencer run folder name (cost tag, part of the idempotency key). (templated)
    :param sample_id: Sample id (cost tag, part of the idempotency key). (templated)
    :param project: Project name (cost tag). (templated)
    :param pipeline_version: Pipeline version (cost tag, part of the idempotency key). (templated)
    :param parameters: Workflow parameters (the workflow's inputs). (templated)
    :param run_group_id: Run group bounding CPUs, duration and concurrency. (templated)
    :param storage_type: ``DYNAMIC`` (default; storage grows with the run) or ``STATIC``. (templated)
    :param storage_capacity: GiB of STATIC run storage; only with ``storage_type="STATIC"``. (templated)
    :param run_name: Run name shown in the console; default ``<run_id>_<sample_id>_<pipeline_version>``.
        (templated)
    :param tags: Extra tags. (templated)
    :param log_level: ``OFF``, ``FATAL``, ``ERROR`` or ``ALL`` (default). (templated)
    :param workflow_type: ``PRIVATE`` (default) or ``READY2RUN``.
    :param workflow_version_name: Version of the workflow to run. (templated)
    :param retention_mode: ``RETAIN`` or ``REMOVE`` (HealthOmics default if not given).
    :param cache_id: Run cache id (call caching) and ``cache_behavior`` with it.
    :param cache_behavior: ``CACHE_ON_FAILURE`` or ``CACHE_ALWAYS``.
    :param priority: Run priority within its run group.
    :param start_run_kwargs: Any other ``StartRun`` parameter, in the API's spelling.
    :param request_id: Explicit idempotency token, replacing the derived one. (templated)
    :param wait_for_completion: Wait until the run ends. (default: True)
    :param deferrable: Wait in the triggerer instead of a worker slot; needs
        ``wait_for_completion``. (default: the ``[operators] default_deferrable`` setting)
    :param waiter_delay: Seconds between two status polls. (default: 60)
    :param waiter_max_attempts: Polls before giving up. (default: 1440, one day at 60 s)
    :param cancel_on_kill: Cancel the run when the task is killed. (default: True)
    :return: The HealthOmics run id; ``omics_run_id``, ``omics_run_arn`` and
        ``omics_run_output_uri`` are pushed to XCom as well.
    """

    aws_hook_class = OmicsHook
    template_fields: Sequence[str] = aws_template_fields(
        "workflow_id",
        "role_arn",
        "output_uri",
        "run_id",
        "sample_id",
        "project",
        "pipeline_version",
        "parameters",
        "run_group_id",
        "storage_type",
        "storage_capacity",
        "run_name",
        "tags",
        "log_level",
        "workflow_version_name",
        "request_id",
    )
    template_fields_renderers = {"parameters": "json", "tags": "json", "start_run_kwargs": "json"}
    operator_extra_links = (OmicsRunLink(),)
    ui_color = "#66b3a6"

    #: How many generations of failed runs one task instance may step over before giving up.
    MAX_RUN_GENERATIONS = 20

    def __init__(
        self,
        *,
        workflow_id: str,
        role_arn: str,
        output_uri: str,
        run_id: str,
        sample_id: str,
        project: str,
        pipeline_version: str,
        parameters: dict[str, Any] | None = None,
        run_group_id: str | None = None,
        storage_type: str = "DYNAMIC",
        storage_capacity: int | None = None,
        run_name: str | None = None,
        tags: dict[str, str] | None = None,
        log_level: str = "ALL",
        workflow_type: str = "PRIVATE",
        workflow_version_name: str | None = None,
        retention_mode: str | None = None,
        cache_id: str | None = None,
        cache_behavior: str | None = None,
        priority: int | None = None,
        start_run_kwargs: dict[str, Any] | None = None,
        request_id: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        waiter_delay: int = 60,
        waiter_max_attempts: int = 1440,
        cancel_on_kill: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.workflow_id = workflow_id
        self.role_arn = role_arn
        self.output_uri = output_uri
        self.run_id = run_id
        self.sample_id = sample_id
        self.project = project
        self.pipeline_version = pipeline_version
        self.parameters = parameters or {}
        self.run_group_id = run_group_id
        self.storage_type = storage_type
        self.storage_capacity = storage_capacity
        self.run_name = run_name
        self.tags = tags or {}
        self.log_level = log_level
        self.workflow_type = workflow_type
        self.workflow_version_name = workflow_version_name
        self.retention_mode = retention_mode
        self.cache_id = cache_id
        self.cache_behavior = cache_behavior
        self.priority = priority
        self.start_run_kwargs = start_run_kwargs or {}
        self.request_id = request_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.cancel_on_kill = cancel_on_kill
        self.omics_run_id: str | None = None

    # -- request building --------------------------------------------------------------------

    def _validate(self) -> None:
        """Fail before any API call on arguments HealthOmics would reject, naming the argument."""
        for arg in ("workflow_id", "role_arn", "output_uri", *COST_TAG_KEYS):
            value = getattr(self, arg)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{type(self).__name__}: {arg} must be a non-empty string, got {value!r}")
        if self.storage_type not in STORAGE_TYPES:
            raise ValueError(f"storage_type must be one of {STORAGE_TYPES}, got {self.storage_type!r}")
        if self.storage_capacity is not None and self.storage_type != "STATIC":
            raise ValueError("storage_capacity applies to storage_type='STATIC' only")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {LOG_LEVELS}, got {self.log_level!r}")
        if not self.output_uri.startswith("s3://"):
            raise ValueError(f"output_uri must be an s3:// URI, got {self.output_uri!r}")
        if self.retention_mode is not None and self.retention_mode not in RETENTION_MODES:
            raise ValueError(f"retention_mode must be one of {RETENTION_MODES}, got {self.retention_mode!r}")
        if self.cache_behavior is not None and self.cache_behavior not in CACHE_BEHAVIORS:
            raise ValueError(f"cache_behavior must be one of {CACHE_BEHAVIORS}, got {self.cache_behavior!r}")
        if self.cache_behavior and not self.cache_id:
            raise ValueError("cache_behavior needs a cache_id (the run cache to use)")
        if self.cache_id is not None and not str(self.cache_id).isdigit():
            raise ValueError(f"cache_id must be a HealthOmics run cache id (digits), got {self.cache_id!r}")

    def base_request_id(self, context: Context) -> str:
        """The first-generation idempotency token of this task instance (try-independent)."""
        if self.request_id:
            return self.request_id
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        key = {
            "dag_id": ti.dag_id,
            "dag_run_id": ti.run_id,
            "task_id": ti.task_id,
            "map_index": -1 if map_index is None else map_index,
            "run_id": self.run_id,
            "sample_id": self.sample_id,
            "pipeline_version": self.pipeline_version,
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        return f"seqflow-{digest[:48]}"

    @staticmethod
    def generation_request_id(base: str, generation: int) -> str:
        """Token of the n-th generation; the first one is the base token itself."""
        return base if generation == 1 else f"{base}-g{generation}"

    def run_tags(self) -> dict[str, str]:
        """Extra tags, then the cost tags (which win)."""
        cost = {key: str(getattr(self, key)) for key in COST_TAG_KEYS}
        return {**{str(k): str(v) for k, v in self.tags.items()}, **cost}

    def start_run_params(self) -> dict[str, Any]:
        """``StartRun`` parameters except ``requestId``, in the API's spelling."""
        name = self.run_name or f"{self.run_id}_{self.sample_id}_{self.pipeline_version}"
        params: dict[str, Any] = {
            "role_arn": self.role_arn,
            "output_uri": self.output_uri,
            "workflowId": self.workflow_id,
            "workflowType": self.workflow_type,
            "workflowVersionName": self.workflow_version_name,
            "name": name[:128],
            "parameters": self.parameters,
            "runGroupId": self.run_group_id,
            "storageType": self.storage_type,
            "storageCapacity": self.storage_capacity,
            "logLevel": self.log_level,
            "retentionMode": self.retention_mode,
            "cacheId": self.cache_id,
            "cacheBehavior": self.cache_behavior,
            "priority": self.priority,
            "tags": self.run_tags(),
        }
        params.update(self.start_run_kwargs)
        return params

    def start_or_reattach(self, context: Context) -> dict[str, Any]:
        """
        Start the run of this task instance, or get back the one an earlier try started.

        :return: ``GetRun`` of the run to follow, with ``runOutputUri`` from ``StartRun``.
        """
        base = self.base_request_id(context)
        params = self.start_run_params()
        for generation in range(1, self.MAX_RUN_GENERATIONS + 1):
            token = self.generation_request_id(base, generation)
            started = self.hook.start_run(request_id=token, **params)
            # StartRun replays the status of the original request; GetRun tells the current one
            run = {"runOutputUri": started.get("runOutputUri"), **self.hook.get_run(started["id"])}
            if run["status"] not in OmicsHook.FAILURE_STATES:
                if generation > 1:
                    self.log.info("Following generation %d run %s (requestId %s)", generation, run["id"], token)
                return run
            self.log.warning(
                "%s; it belongs to an earlier try of this task, moving on to generation %d",
                OmicsHook.failure_message(run),
                generation + 1,
            )
        raise AirflowException(
            f"{self.MAX_RUN_GENERATIONS} HealthOmics runs of this task instance all failed; "
            f"not starting another (requestId {base})"
        )

    # -- task life cycle ---------------------------------------------------------------------

    def execute(self, context: Context) -> str:
        """Start (or reattach to) the run, surface its id and link, then wait if asked to."""
        self._validate()
        run = self.start_or_reattach(context)
        self.omics_run_id = run_id = run["id"]
        ti = context["ti"]
        for key, value in (("omics_run_id", run_id), ("omics_run_arn", run.get("arn")),
                           ("omics_run_output_uri", run.get("runOutputUri"))):
            if value is not None:  # Airflow 3.0 (MWAA) rejects an XCom whose value is None
                ti.xcom_push(key=key, value=value)
        OmicsRunLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            run_id=run_id,
        )
        self.log.info(
            "HealthOmics run %s is %s; monitor it at %s",
            run_id,
            run["status"],
            OmicsRunLink.format_str.format(
                aws_domain=OmicsRunLink.get_aws_domain(self.hook.conn_partition),
                region_name=self.hook.conn_region_name,
                run_id=run_id,
            ),
        )
        if run["status"] in OmicsHook.SUCCESS_STATES or not self.wait_for_completion:
            return run_id
        if self.deferrable:
            self.defer(
                trigger=OmicsRunCompleteTrigger(
                    omics_run_id=run_id,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        self.hook.wait_for_run(run_id, waiter_delay=self.waiter_delay, waiter_max_attempts=self.waiter_max_attempts)
        self.log.info("HealthOmics run %s completed", run_id)
        return run_id

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger fired: return the run id or fail with the run's message."""
        validated = validate_execute_complete_event(event)
        if validated["status"] != "success":
            raise OmicsRunFailedError(validated.get("message") or f"HealthOmics run failed: {validated}")
        self.log.info("HealthOmics run %s completed", validated["omics_run_id"])
        return validated["omics_run_id"]

    def on_kill(self) -> None:
        """Cancel the run, so that a killed task stops paying for it."""
        if not (self.cancel_on_kill and self.omics_run_id):
            return
        try:
            self.hook.cancel_run(self.omics_run_id)
        except (ClientError, BotoCoreError):
            # typically the run had just ended; nothing left to stop
            self.log.exception("Could not cancel HealthOmics run %s", self.omics_run_id)
