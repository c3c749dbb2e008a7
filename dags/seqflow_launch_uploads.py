"""
### seqflow: launch by upload (aws, optional)

Starts the runs of a launch file (the file `seqflow launch FILE` takes) uploaded
to the launch prefix of the raw bucket (`s3://<raw bucket>/launch/`). Defined
only when the deployment sets `SEQFLOW_LAUNCH_QUEUE`, or the Airflow option
`seqflow.launch_queue` that Terraform sets with `launch_uploads_enabled` (the
SQS queue that `modules/run_events` fills with the raw bucket's S3 *Object
Created* events under the launch prefix).

* **Schedule**: the asset `seqflow_launch_files`, whose watcher (the Amazon
  provider's SQS trigger, in the triggerer) receives the notifications; each
  batch of messages is one asset event and one run of this DAG.
* **launch_requests**: reads each uploaded file and validates it as
  `seqflow launch` does (every error at once, each with its line). A valid file
  becomes a request in the registry (*requested*) with one analysis DAG run
  per run, named `launch__<request>__<run>`; a file with errors becomes a
  *failed* request listing every error, and an SNS alert.
* **start_analyses**: one `seqflow_analysis` DAG run per run, its conf the
  run's params and the request it belongs to (the run's `finalise_run`
  records its end in the request).
* **record_started**: the requests *running*, with their DAG run ids (a run
  whose DAG run could not be created is *failed*). `seqflow status` shows them.
* **Again by hand**: trigger this DAG with `{"uploads": ["s3://<raw bucket>/launch/<file>"]}`
  (the trigger deletes the messages it receives: delivery is at most once).

Switch: `launch_uploads_enabled` in Terraform, or set/unset `SEQFLOW_LAUNCH_QUEUE`
on a self-hosted Airflow (docs/aws.md, "Launch by upload").
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, task

from seqflow.alerts import failure_callback
from seqflow.config import launch_queue, profile
from seqflow.launch import ANALYSIS_DAG_ID

DAG_ID = "seqflow_launch_uploads"
PROFILE = profile()
QUEUE = launch_queue() if PROFILE == "aws" else None

if QUEUE:
    from seqflow.aws.launch_uploads import launch_files_asset

    with DAG(
        dag_id=DAG_ID,
        description="Start the runs of the launch files uploaded to the launch prefix",
        doc_md=__doc__,
        schedule=[launch_files_asset(QUEUE)],
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        default_args={"owner": "seqflow", "retries": 2, "retry_delay": pendulum.duration(minutes=1),
                      "on_failure_callback": failure_callback(PROFILE)},
        tags=["seqflow", "launch", "events", PROFILE],
    ) as dag:

        @task
        def launch_requests(triggering_asset_events=None, dag_run=None) -> list[dict]:
            """Each uploaded launch file validated and recorded: the analysis DAG runs to start."""
            from seqflow.aws.launch_uploads import launch_uploads, uploads_of_asset_events
            from seqflow.compat import AirflowSkipException

            events = [e for batch in (triggering_asset_events or {}).values() for e in batch]
            uploads = list((dag_run.conf or {}).get("uploads") or []) or uploads_of_asset_events(events)
            if not uploads:
                raise AirflowSkipException(f"{len(events)} asset event(s) named no uploaded file")
            at = dag_run.run_after or dag_run.start_date or pendulum.now("UTC")
            return launch_uploads(uploads, dag_run_id=dag_run.run_id, at=at)

        @task(trigger_rule="all_done")
        def record_started(triggers: list[dict] | None, ti=None) -> list[dict]:
            """The requests running with their DAG run ids (a run not created: failed)."""
            from seqflow.aws.launch_uploads import record_started as record

            return record(triggers or [],
                          lambda run_id: ti.get_dr_count(dag_id=ANALYSIS_DAG_ID, run_ids=[run_id]) > 0)

        launched = launch_requests()
        started = TriggerDagRunOperator.partial(
            task_id="start_analyses",
            trigger_dag_id=ANALYSIS_DAG_ID,
            wait_for_completion=False,
            skip_when_already_exists=True,  # a retry finds its DAG run there already
            map_index_template="{{ task.trigger_run_id }}",
        ).expand_kwargs(launched)
        started >> record_started(launched)
