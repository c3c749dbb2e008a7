"""Helpers shared by the HealthOmics tests: stubbed clients, GetRun responses, task contexts."""

from __future__ import annotations

from typing import Any
from unittest import mock

from botocore.stub import Stubber

REGION = "eu-west-1"


def stub(client) -> Stubber:
    """Activate a Stubber on a client (callers assert_no_pending_responses at the end)."""
    stubber = Stubber(client)
    stubber.activate()
    return stubber


def run_response(run_id: str, status: str, message: str | None = None, **extra: Any) -> dict[str, Any]:
    """A GetRun response as HealthOmics returns it."""
    response: dict[str, Any] = {
        "id": run_id,
        "arn": f"arn:aws:omics:{REGION}:123456789012:run/{run_id}",
        "status": status,
        **extra,
    }
    if message:
        response["statusMessage"] = message
    return response


def make_context(
    *, try_number: int = 1, dag_run_id: str = "scheduled__2026-03-02T00:00:00+00:00", map_index: int = -1
) -> dict[str, Any]:
    """A task context whose TaskInstance records what the operator pushes to XCom."""
    ti = mock.MagicMock(name="ti")
    ti.dag_id = "seqflow_daily"
    ti.task_id = "analyse.omics_run"
    ti.run_id = dag_run_id
    ti.map_index = map_index
    ti.try_number = try_number
    ti.pushed = {}
    ti.xcom_push.side_effect = lambda key, value: ti.pushed.__setitem__(key, value)
    return {"ti": ti}
