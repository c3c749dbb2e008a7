"""Deferrable wait for a HealthOmics run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from airflow.triggers.base import TriggerEvent

from seqflow.aws.omics.hooks import OmicsHook
from seqflow.compat import RETRIABLE_ERROR_CODES


class OmicsRunCompleteTrigger(AwsBaseWaiterTrigger):
    """
    Fire when a HealthOmics run reaches a terminal state.

    The event is ``{"status": "success", "omics_run_id": ..., "run_status": "COMPLETED"}`` on
    COMPLETED and ``{"status": "error", ..., "message": ...}`` on FAILED, CANCELLED, DELETED, a
    non-retriable API error or when the attempts run out; the message carries the run's
    ``statusMessage``.

    Serialisation is that of the provider's ``AwsBaseWaiterTrigger``; :meth:`hook` builds the hook.
    :meth:`run` polls ``GetRun`` with the synchronous client in a worker thread instead of the
    base class's aiobotocore waiter: aiobotocore is not in the deployment's lock, and reading the
    run itself gives the ``statusMessage`` that the waiter's error text leaves out.

    :param omics_run_id: The HealthOmics run id to watch.
    :param waiter_delay: Seconds between two polls. (default: 60)
    :param waiter_max_attempts: Polls before giving up. (default: 1440, i.e. one day at 60 s)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: AWS region of the run; the connection's region if not given.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    """

    aws_hook_class = OmicsHook

    def __init__(
        self,
        omics_run_id: str,
        waiter_delay: int = 60,
        waiter_max_attempts: int = 1440,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ):
        super().__init__(
            serialized_fields={"omics_run_id": omics_run_id},
            waiter_name="run_complete",
            waiter_args={"id": omics_run_id},
            failure_message=f"HealthOmics run {omics_run_id} failed",
            status_message=f"HealthOmics run {omics_run_id} status",
            status_queries=["status", "statusMessage"],
            return_key="omics_run_id",
            return_value=omics_run_id,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )
        self.omics_run_id = omics_run_id

    def hook(self) -> OmicsHook:
        """The hook this trigger polls with, from the serialised connection parameters. Current
        providers build it from ``aws_hook_class``; Amazon provider 9.12.0 (MWAA 3.0.6) leaves
        ``hook`` abstract."""
        return OmicsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                         config=self.botocore_config)

    def _event(self, status: str, run_status: str | None, message: str) -> TriggerEvent:
        payload: dict[str, Any] = {
            "status": status,
            "omics_run_id": self.omics_run_id,
            "run_status": run_status,
            "message": message,
        }
        return TriggerEvent(payload)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook: OmicsHook = self.hook()  # type: ignore[assignment]
        attempt = 0
        while attempt < self.attempts:
            if attempt:
                await asyncio.sleep(self.waiter_delay)
            try:
                run = await asyncio.to_thread(hook.get_run, self.omics_run_id)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code in RETRIABLE_ERROR_CODES:
                    # throttling must not eat into the attempts that bound the run's duration
                    self.log.info("GetRun %s throttled (%s), retrying", self.omics_run_id, code)
                    await asyncio.sleep(self.waiter_delay)
                    continue
                yield self._event("error", None, f"{self.failure_message}: {error}")
                return
            except BotoCoreError as error:
                yield self._event("error", None, f"{self.failure_message}: {error}")
                return
            attempt += 1
            state = run.get("status")
            if state in OmicsHook.SUCCESS_STATES:
                yield self._event("success", state, f"HealthOmics run {self.omics_run_id} completed")
                return
            if state in OmicsHook.FAILURE_STATES:
                yield self._event("error", state, OmicsHook.failure_message(run))
                return
            self.log.info("%s: %s %s", self.status_message, state, run.get("statusMessage") or "")
        yield self._event(
            "error",
            None,
            f"HealthOmics run {self.omics_run_id} still not finished after "
            f"{self.attempts} polls {self.waiter_delay} s apart",
        )
