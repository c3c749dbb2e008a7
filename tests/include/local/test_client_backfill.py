"""``AirflowClient.create_backfill`` repeats the request while SQLite is locked.

The 503 body is the one Airflow 3.3's API server sends (``_raise_locked_response_or_reraise`` in
``airflow/api_fastapi/core_api/routes/public/backfills.py``), seen in CI beside a busy scheduler; the
real end-to-end backfill is ``tests/e2e/test_local_backfill.py``."""

from __future__ import annotations

import json

import httpx
import pytest

from seqflow.local.client import AirflowClient

LOCKED = {"detail": "Database is locked. Backfill creation is not supported on SQLite under concurrent access. "
                    "Please use PostgreSQL or MySQL."}


def _client(answers: list[tuple[int, dict]], seen: list[dict]) -> AirflowClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        status, body = answers.pop(0)
        return httpx.Response(status, json=body)

    return AirflowClient("http://127.0.0.1:1", transport=httpx.MockTransport(handler))


def test_a_locked_database_is_waited_out_with_backoff():
    seen, slept = [], []
    client = _client([(503, LOCKED), (503, LOCKED), (200, {"id": 7, "dag_id": "d"})], seen)
    created = client.create_backfill("d", "2026-03-10", "2026-03-10", conf={"reference": "lambda"},
                                     sleep=slept.append)
    assert created == {"id": 7, "dag_id": "d"}
    assert slept == [1.0, 2.0]
    assert len(seen) == 3 and all(body == seen[0] for body in seen)
    assert seen[0]["from_date"] == "2026-03-10T00:00:00Z" and seen[0]["dag_run_conf"] == {"reference": "lambda"}


def test_a_lock_that_does_not_clear_is_reported_with_the_attempts():
    seen, slept = [], []
    client = _client([(503, LOCKED)] * 4, seen)
    with pytest.raises(RuntimeError, match=r"failed after 4 attempts \(503\).*Database is locked"):
        client.create_backfill("d", "2026-03-10", "2026-03-10", attempts=4, sleep=slept.append)
    assert slept == [1.0, 2.0, 4.0]


def test_a_half_made_backfill_left_by_a_locked_attempt_is_named():
    seen = []
    client = _client([(503, LOCKED), (409, {"detail": "There is already a running backfill for dag d"})], seen)
    with pytest.raises(RuntimeError, match="half-made backfill was not removed.*cancel it"):
        client.create_backfill("d", "2026-03-10", "2026-03-10", sleep=lambda _: None)


def test_other_refusals_are_not_repeated():
    seen = []
    client = _client([(422, {"detail": "No runs to create"})], seen)
    with pytest.raises(RuntimeError, match=r"failed \(422\)"):
        client.create_backfill("d", "2026-03-10", "2026-03-10", sleep=lambda _: None)
    assert len(seen) == 1
