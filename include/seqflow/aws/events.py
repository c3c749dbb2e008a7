"""The aws profile's event source: an asset watched on the SQS queue of raw-storage flag notifications.

Terraform (``modules/run_events``) sends S3 *Object Created* events for the runs'
flag files in the raw bucket through EventBridge to an SQS queue (with a
dead-letter queue); with ``run_events_enabled`` it sets the Airflow option
``seqflow.run_events_queue`` to its URL (read by :func:`seqflow.config.run_events_queue`). The asset's watcher is the Amazon provider's
:class:`~airflow.providers.amazon.aws.triggers.sqs.SqsSensorTrigger`, which the
triggerer runs; every batch of messages it receives becomes one asset event, and
so one run of the ``seqflow_run_events`` DAG.

The trigger deletes the messages it received: delivery is at most once. The
ingest's schedule stays on as the catch-up scan, so a run whose event was lost
is still found by the next scan.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from seqflow.aws.settings import AWS_CONN_ID

#: the asset's name: the runs whose flag reached raw storage
RUN_FLAGS_ASSET = "seqflow_raw_run_flags"
#: SQS long polling (seconds, the API's maximum): one ReceiveMessage call waits for messages this long
LONG_POLL_S = 20
#: pause between polls when the queue was empty
POLL_PAUSE_S = 10
#: messages per ReceiveMessage call (the API's maximum)
MAX_MESSAGES = 10


def sqs_watched_asset(name: str, watcher: str, queue_url: str) -> Asset:
    """An asset named ``name`` whose watcher ``watcher`` is the provider's SQS trigger on ``queue_url``
    (long polling, one batch of up to :data:`MAX_MESSAGES` messages per asset event). The one shape
    of seqflow's event-driven DAGs: the run flags here, the launch files (:mod:`seqflow.aws.launch_uploads`)."""
    from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger

    trigger = SqsSensorTrigger(
        sqs_queue=queue_url,
        aws_conn_id=AWS_CONN_ID,
        max_messages=MAX_MESSAGES,
        num_batches=1,
        wait_time_seconds=LONG_POLL_S,
        waiter_delay=POLL_PAUSE_S,
    )
    return Asset(name=name, uri=queue_url, watchers=[AssetWatcher(name=watcher, trigger=trigger)])


def run_flags_asset(queue_url: str) -> Asset:
    """The asset a run's flag arriving in raw storage updates, watched on ``queue_url``."""
    return sqs_watched_asset(RUN_FLAGS_ASSET, "raw_flag_notifications", queue_url)
