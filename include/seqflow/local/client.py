"""A small client of Airflow 3's REST API (``/api/v2``) for the local services.

The local profile runs the simple auth manager with every user an admin, so
requests need no token.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import httpx

# SQLite's lock conflicts clear within seconds; 8 attempts with doubling backoff (capped at 15 s) span about a minute
BACKFILL_ATTEMPTS = 8


class AirflowClient:
    def __init__(self, base_url: str, timeout: float = 30, transport: httpx.BaseTransport | None = None):
        self._http = httpx.Client(base_url=base_url.rstrip("/") + "/api/v2", timeout=timeout, transport=transport)

    def _get(self, path: str, **params: Any) -> Any:
        response = self._http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def healthy(self) -> bool:
        try:
            health = self._get("/monitor/health")
        except httpx.HTTPError:
            return False
        return health.get("scheduler", {}).get("status") == "healthy"

    def dag_loaded(self, dag_id: str) -> bool:
        try:
            self._get(f"/dags/{dag_id}")
        except httpx.HTTPError:
            return False
        return True

    def trigger(self, dag_id: str, *, conf: dict | None = None, dag_run_id: str | None = None,
                logical_date: str | None = None) -> dict:
        body: dict[str, Any] = {"conf": conf or {}, "logical_date": logical_date}
        if dag_run_id:
            body["dag_run_id"] = dag_run_id
        response = self._http.post(f"/dags/{dag_id}/dagRuns", json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"triggering {dag_id} failed ({response.status_code}): {response.text}")
        return response.json()

    def dag_run(self, dag_id: str, dag_run_id: str) -> dict | None:
        response = self._http.get(f"/dags/{dag_id}/dagRuns/{dag_run_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def create_backfill(self, dag_id: str, from_date: str, to_date: str, *, conf: dict | None = None,
                        max_active_runs: int = 1, attempts: int = BACKFILL_ATTEMPTS,
                        sleep: Callable[[float], None] = time.sleep) -> dict:
        """Create a backfill (``POST /backfills``): one DAG run per schedule interval of the range.

        On SQLite the API server answers 503 ("Database is locked … not supported on SQLite under
        concurrent access") when its write meets the scheduler's: Airflow then removes the half-made
        backfill so that the request can be repeated, and it is, with backoff, ``attempts`` times."""
        body = {"dag_id": dag_id, "from_date": f"{from_date}T00:00:00Z", "to_date": f"{to_date}T00:00:00Z",
                "dag_run_conf": conf or {}, "max_active_runs": max_active_runs}
        delay, locked = 1.0, 0
        for attempt in range(1, attempts + 1):
            response = self._http.post("/backfills", json=body)
            if response.status_code != 503 or attempt == attempts:
                break
            locked += 1
            sleep(delay)
            delay = min(delay * 2, 15.0)
        if response.status_code == 409 and locked:
            # Airflow's clean-up of the locked attempt is best effort: what is left blocks the retry
            raise RuntimeError(
                f"backfill of {dag_id}: an attempt met a locked database and its half-made backfill was not "
                f"removed ({response.text}); cancel it (Browse → Backfills, or PUT /api/v2/backfills/<id>/cancel)"
                " and run the command again")
        if response.status_code >= 400:
            tried = f" after {attempts} attempts" if response.status_code == 503 else ""
            raise RuntimeError(f"backfill of {dag_id} failed{tried} ({response.status_code}): {response.text}")
        return response.json()

    def dag_runs(self, dag_id: str, *, run_type: str | None = None) -> list[dict]:
        """The DAG's runs (the first 100), optionally of one run type (``backfill``, ``manual``, ``scheduled``)."""
        filters = {"run_type": [run_type]} if run_type else {}
        return self._get(f"/dags/{dag_id}/dagRuns", limit=100, **filters)["dag_runs"]

    def active_runs(self, dag_id: str) -> list[dict]:
        """DAG runs still queued or running."""
        runs = self._get(f"/dags/{dag_id}/dagRuns", state=["queued", "running"], limit=100)
        return runs["dag_runs"]

    def mark_run(self, dag_id: str, dag_run_id: str, state: str, note: str | None = None) -> None:
        response = self._http.patch(f"/dags/{dag_id}/dagRuns/{dag_run_id}", json={"state": state})
        response.raise_for_status()
        if note:
            self._http.patch(f"/dags/{dag_id}/dagRuns/{dag_run_id}", json={"note": note})

    def task_instances(self, dag_id: str, dag_run_id: str) -> list[dict]:
        out: list[dict] = []
        while True:
            page = self._get(f"/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances", limit=100, offset=len(out))
            out += page["task_instances"]
            if len(out) >= page["total_entries"] or not page["task_instances"]:
                return out

    def xcom(self, dag_id: str, dag_run_id: str, task_id: str, key: str = "return_value") -> Any:
        """A task's XCom value, or None while it has none."""
        response = self._http.get(f"/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/{key}")
        if response.status_code >= 400:
            return None
        return response.json().get("value")

    def task_log(self, dag_id: str, dag_run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        response = self._http.get(
            f"/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{max(try_number, 1)}",
            params={"map_index": map_index, "full_content": True},
            headers={"Accept": "application/json"},
        )
        if response.status_code >= 400:
            return f"(log unavailable: HTTP {response.status_code})"
        content = response.json().get("content")
        if isinstance(content, list):
            lines = []
            for item in content:
                if isinstance(item, dict):
                    event = item.get("event", "")
                    level = item.get("level", "")
                    lines.append(f"{item.get('timestamp', '')} {level} {event}".strip())
                    for error in item.get("error_detail") or []:
                        lines.append(f"    {error.get('exc_type')}: {error.get('exc_value')}")
                else:
                    lines.append(str(item))
            return "\n".join(lines)
        return str(content)
