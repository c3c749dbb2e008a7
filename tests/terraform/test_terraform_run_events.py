"""The run-events rule matches the flags the code treats as completion (one owner: seqflow.config)."""

from __future__ import annotations

from tf_helpers import MODULES, STACK, blocks, resources

from seqflow.config import DEFAULT_COMPLETION_FLAGS


def test_the_stacks_completion_flags_are_the_codes():
    assert blocks(STACK, "variable")["completion_flags"]["default"] == list(DEFAULT_COMPLETION_FLAGS)


def test_the_queue_has_a_dead_letter_queue_and_long_polling():
    queues = resources(MODULES / "run_events")
    run_flags = queues[("aws_sqs_queue", "this")]
    assert "dead_letter" in run_flags["redrive_policy"] and run_flags["receive_wait_time_seconds"] == 20
    target = queues[("aws_cloudwatch_event_target", "run_flags")]
    assert target["dead_letter_config"]
