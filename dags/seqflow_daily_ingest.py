"""
### seqflow: daily ingest

Every day, picks up the sequencer runs of its date from the instrument share,
copies them to raw storage, waits for each run's completion flag and starts one
**seqflow_analysis** DAG run per complete run.

* **Which runs**: run folders named `YYMMDD_<instrument>_<run>_<flowcell>` whose
  date is the DAG run's logical date (or the `run_date` param of a manual
  trigger). Runs already ingested are skipped unless `force` is set.
* **Copy**: one transfer with an include filter naming exactly those folders,
  checksum-verified (local profile: a local copy; aws profile: AWS DataSync).
  Transfers never overlap: the DAG runs one at a time and the task uses the
  `datasync` pool.
* **Completion**: a sensor per run waits for `CopyComplete.txt` / `RTAComplete.txt`
  in raw storage. After `flag_timeout_s` the run is recorded as *incomplete* in
  the registry and the sensor fails with that message.
* **Hand-over**: one analysis DAG run per run (`ingest__<run_id>`), and this DAG
  run waits for them, so its state is the state of the day's analyses.

Backfill a date range with `airflow backfill create --dag-id seqflow_daily_ingest
--from-date 2026-11-01 --to-date 2026-11-07`.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, Param, PokeReturnValue, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from seqflow.alerts import on_task_failure
from seqflow.aws.alerts import on_task_failure as on_task_failure_sns
from seqflow.config import profile
from seqflow.params import ALIGNERS, DEFAULT_REFERENCE, REFERENCES

DAG_ID = "seqflow_daily_ingest"
ANALYSIS_DAG_ID = "seqflow_analysis"
#: local | aws (env SEQFLOW_PROFILE): which operators sit at the edges
PROFILE = profile()

default_args = {
    "owner": "seqflow",
    "retries": 2,
    "retry_delay": pendulum.duration(minutes=1),
    "on_failure_callback": on_task_failure_sns if PROFILE == "aws" else on_task_failure,
}

with DAG(
    dag_id=DAG_ID,
    description="Copy the day's sequencer runs to raw storage and start their analyses",
    doc_md=__doc__,
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["seqflow", "ingest", PROFILE],
    params={
        "run_date": Param(
            None, type=["null", "string"], format="date", title="Run date",
            description="Sequencing date to ingest (YYYY-MM-DD); empty means the DAG run's logical date.",
        ),
        "reference": Param(DEFAULT_REFERENCE, enum=REFERENCES, title="Reference genome"),
        "aligner": Param("bwa", enum=ALIGNERS, title="Aligner"),
        "force": Param(False, type="boolean", title="Re-ingest and re-analyse runs already done"),
        "flag_timeout_s": Param(6 * 3600, type="integer", minimum=1, title="Completion-flag timeout (s)"),
    },
) as dag:

    @task
    def find_runs(params=None, logical_date=None, dag_run=None) -> list[str]:
        """The run ids of the date on the landing share that still need ingesting."""
        from seqflow.tasks.ingest import resolve_run_date, runs_to_ingest

        run_date = resolve_run_date(params["run_date"], logical_date, getattr(dag_run, "run_after", None))
        runs = runs_to_ingest(run_date, force=params["force"])
        if not runs:
            raise AirflowSkipException(f"no new run folders dated {run_date} on the landing share")
        return runs

    @task(pool="datasync")
    def transfer_runs(run_ids: list[str]) -> dict:
        """One checksum-verified copy of exactly these run folders (the local DataSync)."""
        from seqflow.tasks.ingest import transfer_to_raw

        return transfer_to_raw(run_ids)

    @task.sensor(mode="reschedule", poke_interval=10, timeout=7 * 24 * 3600)
    def wait_for_completion_flag(run_folder: str, params=None, dag_run=None) -> PokeReturnValue:
        """Done once the run's completion flag is in raw storage; explicit failure after the timeout."""
        from seqflow.tasks.ingest import completion_flag_present, mark_incomplete

        flag = completion_flag_present(run_folder)
        if flag:
            return PokeReturnValue(is_done=True, xcom_value=run_folder)
        waited = (pendulum.now("UTC") - dag_run.start_date).total_seconds()
        if waited > params["flag_timeout_s"]:
            mark_incomplete(run_folder, waited)
            raise AirflowFailException(
                f"{run_folder}: no completion flag in raw storage after {waited:.0f} s; recorded as incomplete."
                " Clear this task once the instrument has finished the run."
            )
        return PokeReturnValue(is_done=False)

    @task
    def record_ingested(run_folder: str, params=None, run_id=None) -> dict:
        """Registry: ingested. Returns the arguments of the analysis trigger (a forced re-ingest re-analyses)."""
        from seqflow.tasks.ingest import analysis_trigger, record_ingested as record

        conf = record(run_folder, reference=params["reference"], aligner=params["aligner"])
        return analysis_trigger(conf, force=params["force"], ingest_dag_run_id=run_id)

    if PROFILE == "aws":
        # DataSync (date include filter) -> runs in S3 -> deferrable S3KeySensor per run flag
        from seqflow.aws.wiring import build_ingest

        triggers = build_ingest()
    else:
        runs = find_runs()
        copied = transfer_runs(runs)
        complete = wait_for_completion_flag.expand(run_folder=runs)
        copied >> complete
        triggers = record_ingested.expand(run_folder=complete)

    TriggerDagRunOperator.partial(
        task_id="trigger_analysis",
        trigger_dag_id=ANALYSIS_DAG_ID,
        wait_for_completion=True,
        deferrable=True,
        poke_interval=5,
        # the analysis DAG retries its own tasks; retrying this one would re-run the whole analysis
        retries=0,
        # a cleared daily run re-analyses; the analysis plan skips what is already done
        reset_dag_run=True,
    ).expand_kwargs(triggers)
