"""Launch by upload on the ``aws`` profile against moto, end to end.

The deployment is the aws e2e harness's (``test_aws_profile``: moto server, call recorder, resources as
Terraform creates them, the Airflow metadata DB; its fixtures imported, not copied), plus what
``modules/run_events`` adds for launch files: EventBridge on for the raw bucket, a rule for Object Created
under ``launch/`` with the pattern Terraform writes, and the launch-files queue as its target. Two launch
files are put under the prefix: moto delivers their events through the rule to the queue, the real SQS
trigger of the ``seqflow_launch_files`` asset's watcher receives them, and the ``seqflow_launch_uploads``
DAG (``dag.test``) runs on the files they name: the valid file becomes a *running* request in DynamoDB
with its analysis DAG run created, named after the request and the run, its conf naming the request; the
file with three errors a *failed* request listing all three with their lines, and an SNS alert. (The
analysis run's own ``finalise_run`` recording the end is tested on the local profile,
tests/e2e/test_local_launch.py: a whole aws analysis would double this module's time.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from test_aws_profile import (  # noqa: F401 - the harness's fixtures, used by name
    ACCOUNT,
    DAGS,
    REGION,
    _client,
    _load,
    _registry,
    _states,
    airflow_db,
    aws,
    env,
    moto_server,
    recorder,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("aws-launch-e2e")]

QUEUE = "seqflow-e2e-launch-files"
#: the queue URL the DAG file is parsed with (the asset's URI; the watcher is run below on moto's)
PARSE_QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{QUEUE}"


@pytest.fixture(scope="module")
def launch_queue(aws, env):
    """What modules/run_events creates for launch files: EventBridge notifications of the raw bucket,
    the rule for Object Created under the launch prefix (Terraform's pattern), the queue as its target."""
    from seqflow.aws.launch_uploads import DEFAULT_LAUNCH_PREFIX

    raw = aws["buckets"]["raw"]
    s3 = _client("s3")
    # the run in raw storage, as the ingest's DataSync copy leaves it (the harness puts it on the landing share)
    for obj in s3.list_objects_v2(Bucket=aws["buckets"]["landing"], Prefix=f"{aws['run']}/")["Contents"]:
        s3.copy_object(Bucket=raw, Key=f"runs/{obj['Key']}", CopySource={"Bucket": aws["buckets"]["landing"],
                                                                         "Key": obj["Key"]})
    s3.put_bucket_notification_configuration(
        Bucket=raw, NotificationConfiguration={"EventBridgeConfiguration": {}})
    sqs, events = _client("sqs"), _client("events")
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=QUEUE, EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [raw]}, "object": {"key": [{"prefix": DEFAULT_LAUNCH_PREFIX}]}}}))
    events.put_targets(Rule=QUEUE, Targets=[{"Id": "sqs", "Arn": arn}])
    env.setenv("SEQFLOW_LAUNCH_QUEUE", PARSE_QUEUE_URL)
    return {"url": url, "prefix": DEFAULT_LAUNCH_PREFIX}


def _good(aws) -> str:
    return (f"name: e2e upload\nreference: lambda\npriority: high\nnotify: [ops@example.org]\n"
            f"runs:\n  - run_id: {aws['run']}\n    samples: [{aws['samples'][0]}]\n")


def _bad(aws) -> str:
    return (f"reference: lambda\npriority: urgent\nruns:\n  - run_id: {aws['run']}\n"
            f"    samples: [S-S01, ../etc]\n  - run_id: {aws['run']}\n    aligner: nosuch\n")


def _received_uploads(queue_url: str, want: int) -> list[str]:
    """The uploads the asset's watcher (the provider's SQS trigger) receives, as the DAG reads them."""
    from seqflow.aws.launch_uploads import launch_files_asset, uploads_of_asset_events

    [watcher] = launch_files_asset(queue_url).watchers
    trigger = watcher.trigger
    trigger.wait_time_seconds = 0  # moto answers at once; the deployed watcher long-polls 20 s
    uploads: list[str] = []

    async def next_event():
        return await asyncio.wait_for(anext(aiter(trigger.run())), timeout=30)

    for _ in range(10):
        event = asyncio.run(next_event())
        # what the triggerer stores on the asset event (airflow.models.trigger: extra={"from_trigger", "payload"})
        uploads += uploads_of_asset_events([{"extra": {"from_trigger": True, "payload": event.payload}}])
        if len(uploads) >= want:
            break
    return uploads


def _known_analysis_dag() -> None:
    """The analysis DAG in the metadata DB, as the DAG processor puts it there: Airflow 3.3's dag.test
    stores every DAG of the dags-folder bundle, 3.0.6's (MWAA) only the one it runs, and a trigger of a
    DAG the DB does not know fails ("DAG with dag_id: 'seqflow_analysis' not found")."""
    from airflow.models.dag import DagModel

    from seqflow.compat import DagBag

    if DagModel.get_dagmodel("seqflow_analysis") is not None:
        return
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=str(DAGS / "seqflow_analysis.py"))
    try:
        from airflow.dag_processing.dagbag import sync_bag_to_db  # after 3.0.6
    except ImportError:
        bag.sync_to_db("dags-folder", None)
    else:
        sync_bag_to_db(bag, "dags-folder", None)


@pytest.fixture(scope="module")
def uploaded(aws, airflow_db, launch_queue, recorder):
    s3 = _client("s3")
    raw = aws["buckets"]["raw"]
    keys = {"good": f"{launch_queue['prefix']}lambda-rerun.yaml", "bad": f"{launch_queue['prefix']}three-errors.yaml"}
    s3.put_object(Bucket=raw, Key=keys["good"], Body=_good(aws).encode())
    s3.put_object(Bucket=raw, Key=keys["bad"], Body=_bad(aws).encode())
    # an object outside the prefix is no launch file: the rule does not match it
    s3.put_object(Bucket=raw, Key=f"runs/{aws['run']}/notes.yaml", Body=_good(aws).encode())
    uploads = _received_uploads(launch_queue["url"], 2)
    dag = _load("seqflow_launch_uploads")
    _known_analysis_dag()
    start = len(recorder.calls)
    run = dag.test(run_conf={"uploads": uploads}, logical_date=dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc))
    requests = {r.details.get("uploaded"): r for r in _registry(aws).list_requests()}
    return {"run": run, "uploads": uploads, "calls": recorder.calls[start:],
            "good": requests.get(f"s3://{raw}/{keys['good']}"), "bad": requests.get(f"s3://{raw}/{keys['bad']}")}


def test_the_uploads_events_reach_the_watcher_through_the_rule(uploaded, aws, launch_queue):
    raw = aws["buckets"]["raw"]
    assert sorted(uploaded["uploads"]) == [f"s3://{raw}/{launch_queue['prefix']}lambda-rerun.yaml",
                                           f"s3://{raw}/{launch_queue['prefix']}three-errors.yaml"]
    # the trigger deleted what it received (at most once), and nothing else was queued
    assert "Messages" not in _client("sqs").receive_message(QueueUrl=launch_queue["url"], WaitTimeSeconds=0)


def test_a_valid_upload_becomes_a_running_request_with_its_analysis_dag_run(uploaded, aws):
    from airflow.models.dagrun import DagRun

    assert uploaded["run"].state == "success", _states(uploaded["run"])
    request = uploaded["good"]
    assert request is not None and request.status == "running", request
    assert [h["status"] for h in request.details["history"]] == ["requested", "running"]
    assert request.details["priority"] == "high" and request.details["notify"] == ["ops@example.org"]
    assert request.details["launched_by"] == uploaded["run"].run_id
    [(key, run)] = request.details["runs"].items()
    assert key == run["run_id"] == aws["run"]
    assert run["dag_run_id"] == f"launch__{request.request_id}__{aws['run']}"
    # the analysis DAG run exists, named after the request and the sequencing run, its conf naming both
    [analysis_run] = DagRun.find(dag_id="seqflow_analysis", run_id=run["dag_run_id"])
    assert analysis_run.conf == {"reference": "lambda", "run_id": aws["run"], "samples": [aws["samples"][0]],
                                 "launch_request": {"request_id": request.request_id, "run": aws["run"]}}
    # the file was read from S3 (GetObject under the launch prefix: the execution role's ReadLaunchFiles)
    reads = [p["Key"] for s, o, p in uploaded["calls"] if (s, o) == ("s3", "GetObject")]
    assert "launch/lambda-rerun.yaml" in reads


def test_a_file_with_three_errors_is_a_failed_request_listing_them_and_an_alert(uploaded, aws):
    request = uploaded["bad"]
    assert request is not None and request.status == "failed" and request.details["runs"] == {}
    assert [(e["line"], e["where"]) for e in request.details["errors"]] == [
        (2, "priority"), (5, "runs[0].samples[1]"), (7, "runs[1].aligner")]
    assert "expected one of low, normal, high" in request.details["errors"][0]["message"]
    # the SNS alert (the harness subscribes a queue to the alerts topic)
    sqs = _client("sqs")
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
        if not got.get("Messages"):
            break
        bodies += [json.loads(m["Body"]) for m in got["Messages"]]
    [alert] = [b for b in bodies if b.get("event") == "launch file rejected"]
    assert alert["request_id"] == request.request_id and alert["source"] == request.details["uploaded"]
    assert [e.split(":")[0] for e in alert["errors"]] == ["line 2", "line 5", "line 7"]
