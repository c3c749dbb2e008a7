"""
### seqflow: run events (aws, optional)

Starts the ingest for a run within minutes of its flag reaching raw storage,
instead of at the next scheduled scan. Defined only when the deployment sets
`SEQFLOW_RUN_EVENTS_QUEUE`, or the Airflow option `seqflow.run_events_queue` that
Terraform sets with `run_events_enabled` (the SQS queue that `modules/run_events`
fills with the raw bucket's S3 *Object Created* events for the flag files).

* **Schedule**: the asset `seqflow_raw_run_flags`, whose watcher (the Amazon
  provider's SQS trigger, in the triggerer) receives the notifications; each batch
  of messages is one asset event and one run of this DAG.
* **What it does**: reads the run folders from the events and starts
  `seqflow_daily_ingest` with `run_folders` set to them. The ingest checks each
  run's flags (and the QA flag) itself, copies, records and analyses it exactly as
  a scan does, and skips runs already ingested, so an event for a run the
  scheduled scan took first changes nothing.
* **At most once**: the trigger deletes the messages it receives. The ingest's
  schedule stays on as the catch-up scan for a lost event.

Switch: `run_events_enabled` in Terraform, or set/unset `SEQFLOW_RUN_EVENTS_QUEUE` on a
self-hosted Airflow (docs/aws.md, "Event-driven start").
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, task

from seqflow.alerts import failure_callback
from seqflow.config import profile, run_events_queue

DAG_ID = "seqflow_run_events"
INGEST_DAG_ID = "seqflow_daily_ingest"
PROFILE = profile()
QUEUE = run_events_queue() if PROFILE == "aws" else None

if QUEUE:
    from seqflow.aws.events import run_flags_asset

    with DAG(
        dag_id=DAG_ID,
        description="Start the ingest of the runs whose flag just reached raw storage",
        doc_md=__doc__,
        schedule=[run_flags_asset(QUEUE)],
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        default_args={"owner": "seqflow", "retries": 2, "retry_delay": pendulum.duration(minutes=1),
                      "on_failure_callback": failure_callback(PROFILE)},
        tags=["seqflow", "ingest", "events", PROFILE],
    ) as dag:

        @task
        def announced_runs(triggering_asset_events=None, run_id=None) -> list[dict]:
            """The run folders the notifications name: one ingest for all of them."""
            from seqflow.compat import AirflowSkipException
            from seqflow.tasks.events import runs_from_asset_events

            events = [e for batch in (triggering_asset_events or {}).values() for e in batch]
            runs = runs_from_asset_events(events)
            if not runs:
                raise AirflowSkipException(f"{len(events)} asset event(s) named no run folder")
            return [{"trigger_run_id": f"events__{run_id}", "conf": {"run_folders": runs}}]

        TriggerDagRunOperator.partial(
            task_id="start_ingest",
            trigger_dag_id=INGEST_DAG_ID,
            wait_for_completion=False,
            retries=0,
            map_index_template="{{ task.conf.run_folders | join(', ') }}",
        ).expand_kwargs(announced_runs())
