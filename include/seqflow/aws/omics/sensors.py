"""Wait for a HealthOmics run started elsewhere (another task, a re-attached run)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from seqflow.aws.omics.hooks import OmicsHook, OmicsRunFailedError
from seqflow.aws.omics.links import OmicsRunLink
from seqflow.aws.omics.triggers import OmicsRunCompleteTrigger
from seqflow.compat import conf

if TYPE_CHECKING:
    from airflow.sdk import Context


class OmicsRunSensor(AwsBaseSensor[OmicsHook]):
    """
    Wait until a HealthOmics run completes.

    Succeeds on COMPLETED; fails on FAILED, CANCELLED or DELETED with the run's
    ``statusMessage`` in the error; keeps waiting in PENDING, STARTING, RUNNING and STOPPING.

    :param omics_run_id: The HealthOmics run id to watch. (templated)
    :param deferrable: Wait in the triggerer instead of a worker slot.
        (default: the ``[operators] default_deferrable`` setting)
    :param poke_interval: Seconds between two polls. (default: 60)
    :param max_retries: Polls before the deferred wait gives up. (default: 1440, one day at 60 s)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: AWS region of the run.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    """

    INTERMEDIATE_STATES = OmicsHook.INTERMEDIATE_STATES
    SUCCESS_STATES = OmicsHook.SUCCESS_STATES
    FAILURE_STATES = OmicsHook.FAILURE_STATES

    aws_hook_class = OmicsHook
    template_fields: Sequence[str] = aws_template_fields("omics_run_id")
    operator_extra_links = (OmicsRunLink(),)
    ui_color = "#66b3a6"

    def __init__(
        self,
        *,
        omics_run_id: str,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float = 60,
        max_retries: int = 1440,
        **kwargs,
    ):
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.omics_run_id = omics_run_id
        self.deferrable = deferrable
        self.max_retries = max_retries

    def execute(self, context: Context) -> Any:
        """Surface the console link, then poke or defer."""
        OmicsRunLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            run_id=self.omics_run_id,
        )
        if self.deferrable:
            self.defer(
                trigger=OmicsRunCompleteTrigger(
                    omics_run_id=self.omics_run_id,
                    waiter_delay=int(self.poke_interval),
                    waiter_max_attempts=self.max_retries,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        return super().execute(context=context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Resume after the trigger fired: succeed on COMPLETED, fail with the run's message otherwise."""
        validated = validate_execute_complete_event(event)
        if validated["status"] != "success":
            raise OmicsRunFailedError(validated.get("message") or f"HealthOmics run failed: {validated}")
        self.log.info("HealthOmics run %s completed", validated["omics_run_id"])

    def poke(self, context: Context) -> bool:
        """One ``GetRun``: True when COMPLETED, raise when it ended otherwise, else False."""
        run = self.hook.get_run(self.omics_run_id)
        state = run["status"]
        if state in self.SUCCESS_STATES:
            self.log.info("HealthOmics run %s completed", self.omics_run_id)
            return True
        if state in self.FAILURE_STATES:
            raise OmicsRunFailedError(OmicsHook.failure_message(run), run)
        self.log.info("HealthOmics run %s is %s %s", self.omics_run_id, state, run.get("statusMessage") or "")
        return False
