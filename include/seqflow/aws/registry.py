"""The run registry of the ``aws`` profile: a DynamoDB table.

Same interface as :class:`seqflow.registry.SqliteRunRegistry`: items are keyed
by ``run_id`` (hash key) and ``analysis`` (range key: the analysis key
``<version>/<reference>/<aligner>/<caller>``; ``"-"`` for the ingest record), as the Terraform table is. ``details`` are stored as one JSON
string attribute, so nested outputs need no DynamoDB type mapping (no Decimal).

Launch requests (:mod:`seqflow.launch`) share the table: one item each under the hash key
:data:`REQUESTS` (no run folder is named so) with the request id as range key, a ``created_at`` and a
``version`` that every write checks and increments (a conditional put), so that the analyses of one
request, which end at the same time and each record its run, never overwrite one another.
"""

from __future__ import annotations

import json
from typing import Any

from seqflow.registry import INGEST, RequestChange, RequestRecord, RunRecord, _check_status, _now, merge_request

#: hash key of the launch request items (not a run folder name: runs have no "@")
REQUESTS = "@requests"
#: conditional writes of one request tried before giving up (each retry re-reads the request)
REQUEST_WRITE_ATTEMPTS = 20


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
            items.extend(i for i in page.get("Items", []) if i["run_id"] != REQUESTS)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        records = [self._record(item) for item in items]
        return sorted(records, key=lambda r: (r.run_id, r.analysis))


    @staticmethod
    def _request(item: dict[str, Any]) -> RequestRecord:
        return RequestRecord(request_id=item["analysis"], status=item["status"], created_at=item["created_at"],
                             updated_at=item["updated_at"], details=json.loads(item.get("details") or "{}"))

    def _request_item(self, request_id: str) -> dict[str, Any] | None:
        return self.table.get_item(Key={"run_id": REQUESTS, "analysis": request_id}, ConsistentRead=True).get("Item")

    def put_request(self, request_id: str, status: str, **details: Any) -> RequestRecord:
        """Create or update a launch request (as :meth:`seqflow.registry.SqliteRunRegistry.put_request`)."""
        return self.update_request(request_id, lambda _current: (status, details))

    def update_request(self, request_id: str, change: RequestChange) -> RequestRecord:
        """Read, change and write a launch request, the write conditional on the version read (retried
        on a concurrent write, re-reading): as :meth:`seqflow.registry.SqliteRunRegistry.update_request`."""
        from botocore.exceptions import ClientError

        for _ in range(REQUEST_WRITE_ATTEMPTS):
            item = self._request_item(request_id)
            current = None if item is None else self._request(item)
            status, details = change(current)
            record = merge_request(current, request_id, status, details)
            version = int(item.get("version", 0)) if item else 0
            condition = ({"ConditionExpression": "attribute_not_exists(run_id)"} if item is None else
                         {"ConditionExpression": "version = :read", "ExpressionAttributeValues": {":read": version}})
            try:
                self.table.put_item(Item={
                    "run_id": REQUESTS, "analysis": request_id, "status": record.status,
                    "created_at": record.created_at, "updated_at": record.updated_at, "version": version + 1,
                    "details": json.dumps(record.details, sort_keys=True, default=str),
                }, **condition)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                continue  # another writer came first: read again
            return record
        raise RuntimeError(f"request {request_id}: {REQUEST_WRITE_ATTEMPTS} concurrent writes in a row, not updated")

    def get_request(self, request_id: str) -> RequestRecord | None:
        """A launch request, or None."""
        item = self._request_item(request_id)
        return None if item is None else self._request(item)

    def list_requests(self) -> list[RequestRecord]:
        """All launch requests, oldest first."""
        from boto3.dynamodb.conditions import Key

        items: list[dict] = []
        kwargs: dict[str, Any] = {"ConsistentRead": True, "KeyConditionExpression": Key("run_id").eq(REQUESTS)}
        while True:
            page = self.table.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted((self._request(i) for i in items), key=lambda r: (r.created_at, r.request_id))


def aws_registry(settings=None) -> DynamoDbRunRegistry:
    """The aws profile's registry (table name from ``seqflow_registry_table``). Run time only."""
    from seqflow.aws.settings import load_settings

    settings = settings or load_settings()
    return DynamoDbRunRegistry(settings.require("registry_table"))
