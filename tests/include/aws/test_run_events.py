"""The event-driven start on AWS: the provider's real SQS trigger against an SQS endpoint (moto's server),
and the run-events DAG as the DagBag builds it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys

import pytest

from seqflow.config import REPO_ROOT, run_events_queue

RUN = "261120_A01234_0100_AHSCANDSXY"
QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/seqflow-dev-run-flags"


@pytest.fixture
def sqs_endpoint(monkeypatch):
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    for key, value in {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "eu-west-1", "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield url
    server.stop()


def test_the_asset_watcher_receives_a_flag_notification_and_names_the_run(sqs_endpoint):
    import boto3

    from seqflow.aws.events import run_flags_asset
    from seqflow.tasks.events import runs_from_asset_events

    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="seqflow-dev-run-flags")["QueueUrl"]
    body = {"version": "0", "source": "aws.s3", "detail-type": "Object Created",
            "detail": {"bucket": {"name": "seqflow-dev-raw"}, "object": {"key": f"raw/{RUN}/CopyComplete.txt"}}}
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(body))

    [watcher] = run_flags_asset(queue).watchers
    trigger = watcher.trigger
    trigger.wait_time_seconds = 0  # moto answers at once; the deployed watcher long-polls 20 s

    async def first_event():
        return await asyncio.wait_for(anext(aiter(trigger.run())), timeout=30)

    event = asyncio.run(first_event())
    # what the triggerer stores on the asset event (airflow.models.trigger: extra={"from_trigger", "payload"})
    assert runs_from_asset_events([{"extra": {"from_trigger": True, "payload": event.payload}}]) == [RUN]
    # the trigger deleted what it received: delivery is at most once (the schedule is the catch-up)
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)


def test_the_queue_setting_must_be_an_sqs_url(monkeypatch):
    monkeypatch.setenv("SEQFLOW_RUN_EVENTS_QUEUE", "https://example.com/queue")
    with pytest.raises(ValueError, match="is not an SQS queue URL"):
        run_events_queue()
    monkeypatch.setenv("SEQFLOW_RUN_EVENTS_QUEUE", QUEUE_URL)
    assert run_events_queue() == QUEUE_URL
    monkeypatch.delenv("SEQFLOW_RUN_EVENTS_QUEUE")
    assert run_events_queue() is None
    # MWAA: Terraform's airflow_configuration_options "seqflow.run_events_queue", exported by MWAA
    monkeypatch.setenv("AIRFLOW__SEQFLOW__RUN_EVENTS_QUEUE", QUEUE_URL)
    assert run_events_queue() == QUEUE_URL


_DUMP = """
import json
from seqflow.compat import DagBag, DagSerialization
bag = DagBag(dag_folder="dags")
assert not bag.import_errors, bag.import_errors
out = {"dag_ids": sorted(bag.dag_ids)}
dag = bag.dags.get("seqflow_run_events")
if dag is not None:
    [asset] = dag.timetable.asset_condition.objects
    ser = DagSerialization.to_dict(dag)
    out["asset"] = {"name": asset.name, "uri": asset.uri,
                    "watchers": [(w.name, type(w.trigger).__name__, w.trigger.sqs_queue) for w in asset.watchers]}
    out["tasks"] = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    out["serialized"] = "raw_flag_notifications" in json.dumps(ser)
print(json.dumps(out))
"""


@pytest.mark.parametrize("queue", [QUEUE_URL, ""])
def test_the_run_events_dag_exists_only_with_a_queue(queue, tmp_path):
    env = {**os.environ, "SEQFLOW_PROFILE": "aws", "SEQFLOW_HOME": str(tmp_path), "SEQFLOW_RUN_EVENTS_QUEUE": queue}
    proc = subprocess.run([sys.executable, "-c", _DUMP], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if not queue:
        assert "seqflow_run_events" not in out["dag_ids"]
        return
    assert out["asset"] == {"name": "seqflow_raw_run_flags", "uri": QUEUE_URL,
                            "watchers": [["raw_flag_notifications", "SqsSensorTrigger", QUEUE_URL]]}
    assert out["tasks"] == {"announced_runs": ["start_ingest"], "start_ingest": []}
    assert out["serialized"]
