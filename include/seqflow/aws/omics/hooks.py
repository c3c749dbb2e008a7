"""Hook for AWS HealthOmics workflow runs (the Amazon provider has none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from seqflow.compat import AirflowException, WaiterTerminalFailure, wait

#: Custom waiter models of this package, in the provider's ``waiters/<client_type>.json`` format.
WAITERS_DIR = Path(__file__).parent / "waiters"


class OmicsRunFailedError(AirflowException):
    """A HealthOmics run ended in a failure state (FAILED, CANCELLED or DELETED)."""

    def __init__(self, message: str, run: dict[str, Any] | None = None):
        super().__init__(message)
        self.run = run or {}


class OmicsHook(AwsBaseHook):
    """
    Interact with AWS HealthOmics workflow runs.

    Provide thin wrapper around :external+boto3:py:class:`boto3.client("omics") <Omics.Client>`.

    The ``run_complete`` waiter is a custom waiter (``waiters/omics.json`` beside this module)
    rather than botocore's built-in ``RunCompleted``: the built-in one has no acceptor for
    CANCELLED or DELETED, so a cancelled run would be polled until the attempts run out.

    Additional arguments (such as ``aws_conn_id``) may be specified and
    are passed down to the underlying AwsBaseHook.

    .. seealso::
        - :class:`airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`
    """

    INTERMEDIATE_STATES: tuple[str, ...] = ("PENDING", "STARTING", "RUNNING", "STOPPING")
    SUCCESS_STATES: tuple[str, ...] = ("COMPLETED",)
    FAILURE_STATES: tuple[str, ...] = ("FAILED", "CANCELLED", "DELETED")
    TERMINAL_STATES: tuple[str, ...] = SUCCESS_STATES + FAILURE_STATES

    def __init__(self, *args, **kwargs) -> None:
        kwargs["client_type"] = "omics"
        super().__init__(*args, **kwargs)

    @property
    def waiter_path(self) -> Path | None:
        """Custom waiter model of this package (the provider only looks inside itself)."""
        path = WAITERS_DIR / f"{self.client_type}.json"
        return path if path.exists() else None

    def start_run(self, *, request_id: str, role_arn: str, output_uri: str, **kwargs: Any) -> dict[str, Any]:
        """
        Start a workflow run.

        .. seealso::
            - :external+boto3:py:meth:`Omics.Client.start_run`

        :param request_id: Idempotency token: HealthOmics returns the run already started with
            this token instead of starting a second one.
        :param role_arn: IAM role the run assumes.
        :param output_uri: S3 URI under which the run writes its outputs.
        :param kwargs: Any other ``StartRun`` parameter in the API's spelling (``workflowId``,
            ``parameters``, ``runGroupId``, ``storageType``, ``name``, ``tags``, ...);
            ``None`` values are left out.
        :return: The ``StartRun`` response (``id``, ``arn``, ``status``, ``runOutputUri``, ...).
        """
        params = {k: v for k, v in kwargs.items() if v is not None}
        response = self.conn.start_run(requestId=request_id, roleArn=role_arn, outputUri=output_uri, **params)
        self.log.info("HealthOmics run %s (%s) is %s", response["id"], response.get("arn"), response.get("status"))
        return response

    def get_run(self, run_id: str) -> dict[str, Any]:
        """
        Describe a run.

        .. seealso::
            - :external+boto3:py:meth:`Omics.Client.get_run`

        :param run_id: The HealthOmics run id (digits, not the ARN).
        """
        return self.conn.get_run(id=run_id)

    def get_run_state(self, run_id: str) -> str:
        """Return the run's status, one of the state tuples of this class."""
        return self.get_run(run_id)["status"]

    def cancel_run(self, run_id: str) -> None:
        """
        Cancel a run (it moves through STOPPING to CANCELLED).

        .. seealso::
            - :external+boto3:py:meth:`Omics.Client.cancel_run`
        """
        self.log.info("Cancelling HealthOmics run %s", run_id)
        self.conn.cancel_run(id=run_id)

    @staticmethod
    def failure_message(run: dict[str, Any]) -> str:
        """One line naming the run, its end state and why, for task logs and alerts."""
        message = f"HealthOmics run {run.get('id', '?')} ended {run.get('status', 'UNKNOWN')}"
        reasons = [f"{key}: {run[key]}" for key in ("statusMessage", "failureReason") if run.get(key)]
        return f"{message} ({'; '.join(reasons)})" if reasons else message

    def wait_for_run(self, run_id: str, *, waiter_delay: int = 60, waiter_max_attempts: int = 1440) -> None:
        """
        Block until the run completes, polling with the ``run_complete`` waiter.

        :param run_id: The HealthOmics run id.
        :param waiter_delay: Seconds between two polls.
        :param waiter_max_attempts: Polls before giving up.
        :raises OmicsRunFailedError: The run ended FAILED, CANCELLED or DELETED; the message carries
            the run's ``statusMessage``.
        """
        try:
            wait(
                waiter=self.get_waiter("run_complete"),
                waiter_delay=waiter_delay,
                waiter_max_attempts=waiter_max_attempts,
                args={"id": run_id},
                failure_message=f"HealthOmics run {run_id} failed",
                status_message=f"HealthOmics run {run_id} status",
                status_args=["status", "statusMessage"],
            )
        except WaiterTerminalFailure as error:
            run = error.last_response or {"id": run_id}
            raise OmicsRunFailedError(self.failure_message(run), run) from error
