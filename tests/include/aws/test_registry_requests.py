"""Launch requests in the DynamoDB registry: beside the runs' items, never listed with them, and written
with a version check so that runs ending at once do not overwrite one another."""

from __future__ import annotations

import threading

import pytest

from seqflow.aws.registry import REQUESTS, DynamoDbRunRegistry

TABLE = "seqflow-test-run-registry"


@pytest.fixture
def registry(moto):
    import boto3

    boto3.client("dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}, {"AttributeName": "analysis", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"},
                              {"AttributeName": "analysis", "AttributeType": "S"}])
    return DynamoDbRunRegistry(TABLE)


def test_requests_walk_their_statuses_beside_the_runs(registry):
    registry.put("261121_A01234_0001_AHLAMBDADX", "-", "ingested")
    registry.put_request("r20261202T050000-abcdef", "requested", runs={"a": {}, "b": {}}, priority="high")
    record = registry.put_request("r20261202T050000-abcdef", "running")
    assert record.details["priority"] == "high" and set(record.details["runs"]) == {"a", "b"}
    assert [r.run_id for r in registry.list()] == ["261121_A01234_0001_AHLAMBDADX"]  # no request among the runs
    registry.put_request("r20261202T040000-000001", "failed", errors=[{"line": 2}])
    # oldest first (created in the same second here: then by id)
    assert [r.request_id for r in registry.list_requests()] == ["r20261202T040000-000001", "r20261202T050000-abcdef"]
    registry.put_request("r20261202T050000-abcdef", "analysed")
    with pytest.raises(ValueError, match="cannot become running"):
        registry.put_request("r20261202T050000-abcdef", "running")
    stored = registry.get_request("r20261202T050000-abcdef")
    assert [h["status"] for h in stored.details["history"]] == ["requested", "running", "analysed"]
    assert registry.table.get_item(Key={"run_id": REQUESTS, "analysis": stored.request_id})["Item"]["version"] == 3


def test_concurrent_updates_of_one_request_are_all_kept(registry):
    registry.put_request("r20261202T050000-abcdef", "running", runs={str(i): {} for i in range(6)})

    def end(key):
        def change(current):
            runs = {k: dict(v) for k, v in current.details["runs"].items()}
            runs[key]["status"] = "analysed"
            done = all(r.get("status") == "analysed" for r in runs.values())
            return ("analysed" if done else "running"), {"runs": runs}

        registry.update_request("r20261202T050000-abcdef", change)

    threads = [threading.Thread(target=end, args=(str(i),)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = registry.get_request("r20261202T050000-abcdef")
    assert record.status == "analysed" and all(r["status"] == "analysed" for r in record.details["runs"].values())
