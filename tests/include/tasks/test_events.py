"""Run folders from raw-storage notifications, in the three shapes an SQS queue receives them."""

from __future__ import annotations

import json

from seqflow.tasks.events import run_of_key, runs_from_asset_events, runs_from_messages

RUN = "261120_A01234_0100_AHSCANDSXY"
OTHER = "20261121_M00123_0007_000000000-KX7RT"


def s3_notification(*keys: str, event: str = "ObjectCreated:Put") -> dict:
    """An S3 event notification as the bucket sends it to SQS (keys URL-encoded)."""
    return {"Body": json.dumps({"Records": [
        {"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": event,
         "s3": {"bucket": {"name": "seqflow-dev-raw"}, "object": {"key": key, "size": 0}}} for key in keys]})}


def eventbridge(key: str) -> dict:
    """An EventBridge *Object Created* event as an SQS target receives it."""
    return {"Body": json.dumps({"version": "0", "source": "aws.s3", "detail-type": "Object Created",
                                "detail": {"bucket": {"name": "seqflow-dev-raw"}, "object": {"key": key}}})}


def test_each_shape_names_its_run():
    # S3 -> SNS -> SQS: the event is a JSON string inside the SNS notification
    via_sns = {"Body": json.dumps({"Type": "Notification",
                                   "Message": eventbridge(f"raw/{OTHER}/CopyComplete.txt")["Body"]})}
    messages = [s3_notification(f"raw/{RUN}/CopyComplete.txt"), eventbridge(f"raw/{RUN}/QAPassed.txt"), via_sns]
    assert runs_from_messages(messages) == sorted([RUN, OTHER])  # once each


def test_stray_messages_are_skipped_not_fatal(caplog):
    messages = [
        {"Body": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "seqflow-dev-raw"})},
        {"Body": "not json"},
        s3_notification(f"raw/{RUN}/CopyComplete.txt", event="ObjectRemoved:Delete"),
        s3_notification("raw/CopyComplete.txt", f"raw/{RUN}/Data/Intensities/x.bcl", "raw/not_a_run/flag.txt"),
        s3_notification(f"raw/{OTHER}/CopyComplete.txt"),
    ]
    assert runs_from_messages(messages) == [OTHER]
    assert "not a file directly inside a run folder" in caplog.text


def test_keys_are_url_decoded_and_the_run_is_the_parent_folder():
    assert runs_from_messages([s3_notification(f"raw/landing+area/{RUN}/CopyComplete.txt")]) == [RUN]
    assert run_of_key(f"{RUN}/RTAComplete.txt") == RUN
    assert run_of_key(f"raw/{RUN}/") is None  # the folder itself, no file
    assert run_of_key(f"raw/{RUN}") is None


def test_asset_events_carry_the_trigger_payload():
    class Event:  # the shape of airflow.sdk's AssetEvent in a task's context: .extra
        extra = {"from_trigger": True,
                 "payload": {"status": "success", "message_batch": [s3_notification(f"raw/{RUN}/CopyComplete.txt")]}}

    manual = {"extra": {}}  # an asset event someone made by hand, without a payload
    assert runs_from_asset_events([Event(), manual]) == [RUN]
