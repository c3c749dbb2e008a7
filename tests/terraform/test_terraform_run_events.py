"""The run-events rule matches the flags the code treats as completion (one owner: seqflow.config); the
launch-files rule the code's launch prefix (seqflow.aws.launch_uploads)."""

from __future__ import annotations

from tf_helpers import MODULES, STACK, blocks, resources

from seqflow.aws.launch_uploads import DEFAULT_LAUNCH_PREFIX
from seqflow.config import DEFAULT_COMPLETION_FLAGS


def test_the_stacks_completion_flags_are_the_codes():
    assert blocks(STACK, "variable")["completion_flags"]["default"] == list(DEFAULT_COMPLETION_FLAGS)


def test_the_queue_has_a_dead_letter_queue_and_long_polling():
    queues = resources(MODULES / "run_events")
    run_flags = queues[("aws_sqs_queue", "this")]
    assert "dead_letter" in run_flags["redrive_policy"] and run_flags["receive_wait_time_seconds"] == 20
    target = queues[("aws_cloudwatch_event_target", "run_flags")]
    assert target["dead_letter_config"]


def test_the_launch_prefix_is_the_codes_and_its_queue_is_kept_like_the_run_flags():
    assert blocks(STACK, "variable")["launch_prefix"]["default"] == DEFAULT_LAUNCH_PREFIX
    assert blocks(MODULES / "run_events", "variable")["launch_prefix"]["default"] == DEFAULT_LAUNCH_PREFIX
    queues = resources(MODULES / "run_events")
    launch = queues[("aws_sqs_queue", "launch")]
    assert "launch_dead_letter" in launch["redrive_policy"] and launch["receive_wait_time_seconds"] == 20
    assert launch["kms_master_key_id"] == queues[("aws_sqs_queue", "this")]["kms_master_key_id"]
    assert queues[("aws_cloudwatch_event_target", "launch_files")]["dead_letter_config"]
    # one bucket notification (EventBridge on) serves both rules
    assert [k for k in queues if k[0] == "aws_s3_bucket_notification"] == [("aws_s3_bucket_notification", "raw")]
