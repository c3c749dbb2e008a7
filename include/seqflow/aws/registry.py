"""The run registry of the ``aws`` profile: a DynamoDB table.

Same interface as :class:`seqflow.registry.SqliteRunRegistry`: items are keyed
by ``run_id`` (hash key) and ``analysis`` (range key: the analysis key
``<version>/<reference>/<aligner>/<caller>``; ``"-"`` for the ingest record), as the Terraform table is. ``details`` are stored as one JSON
string attribute, so nested outputs need no DynamoDB type mapping (no Decimal).
"""

from __future__ import annotations

import json
from typing import Any

from seqflow.registry import INGEST, RunRecord, _check_status, _now


class DynamoDbRunRegistry:
    """Registry in a DynamoDB table (hash key ``run_id``, range key ``analysis``)."""

    def __init__(self, table_name: str, *, aws_conn_id: str | None = None, hook=None):
        from airflow.providers.amazon.aws.hooks.dynamodb import DynamoDBHook

        from seqflow.aws.settings import AWS_CONN_ID

        self.table_name = table_name
        self.hook = hook or DynamoDBHook(aws_conn_id=aws_conn_id or AWS_CONN_ID, table_name=table_name)
        self._table = None

    @property
    def table(self):
        if self._table is None:
            self._table = self.hook.conn.Table(self.table_name)
        return self._table

    @staticmethod
    def _record(item: dict[str, Any]) -> RunRecord:
        return RunRecord(
            run_id=item["run_id"],
            analysis=item["analysis"],
            status=item["status"],
            updated_at=item["updated_at"],
            details=json.loads(item.get("details") or "{}"),
        )

    def put(self, run_id: str, analysis: str, status: str, **details: Any) -> RunRecord:
        """Create or update an item; ``details`` are merged into the stored ones."""
        _check_status(status)
        current = self.get(run_id, analysis)
        merged = {**(current.details if current else {}), **details}
        record = RunRecord(run_id, analysis, status, _now(), merged)
        self.table.put_item(
            Item={
                "run_id": run_id,
                "analysis": analysis,
                "status": status,
                "updated_at": record.updated_at,
                "details": json.dumps(merged, sort_keys=True, default=str),
            }
        )
        return record

    def get(self, run_id: str, analysis: str = INGEST) -> RunRecord | None:
        """The item of a run (``INGEST`` for its ingest record), or None."""
        response = self.table.get_item(
            Key={"run_id": run_id, "analysis": analysis}, ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else self._record(item)

    def list(self, run_id: str | None = None) -> list[RunRecord]:
        """All items, or those of one run, ordered by run and analysis."""
        from boto3.dynamodb.conditions import Key

        items: list[dict] = []
        kwargs: dict[str, Any] = {"ConsistentRead": True}
        if run_id is not None:
            kwargs["KeyConditionExpression"] = Key("run_id").eq(run_id)
        while True:
            page = self.table.query(**kwargs) if run_id is not None else self.table.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        records = [self._record(item) for item in items]
        return sorted(records, key=lambda r: (r.run_id, r.analysis))


def aws_registry(settings=None) -> DynamoDbRunRegistry:
    """The aws profile's registry (table name from ``seqflow_registry_table``). Run time only."""
    from seqflow.aws.settings import load_settings

    settings = settings or load_settings()
    return DynamoDbRunRegistry(settings.require("registry_table"))
