"""
### seqflow: daily ingest

Every scan (the daily schedule; `SEQFLOW_INGEST_SCHEDULE` sets another interval,
or `none`) picks up the sequencer runs that have **finished**, whatever the date
in their name, copies each once to raw storage and starts its analysis.

* **Which runs**: the run folders `YYMMDD_<instrument>_<run>_<flowcell>` of the
  look-back window (`lookback_days`, default 14: run-name dates at most that old)
  whose completion flag (`CopyComplete.txt` / `RTAComplete.txt`) is there and,
  when `qa_flag` is set, the technician's QA-pass flag too, and that are not
  ingested yet (`force` re-ingests). A run still being written (a NovaSeq run
  sequences for about two days) is recorded **waiting**, never failed; a later
  scan picks it up. One alert is raised when a run has waited longer than
  `alert_after_hours` (default 72). A manual trigger with `run_date` scans only
  the runs of that date; one with `run_folders` exactly the runs it names.
* **Event-driven start** (aws, optional): with `SEQFLOW_RUN_EVENTS_QUEUE` set, the
  `seqflow_run_events` DAG starts this DAG for a run within minutes of its flag
  reaching raw storage (docs/aws.md); the schedule stays as the catch-up scan.
* **Where the flags are seen**: locally on the landing share; on AWS, where
  Airflow cannot list the on-prem share, a first DataSync execution copies only
  the flag files (`discover_flags`), and the raw bucket shows which runs are done.
* **Copy**: one transfer with an include filter naming exactly those run folders,
  checksum-verified (local profile: a local copy; aws profile: AWS DataSync).
  Transfers never overlap: the DAG runs one at a time and the task uses the
  `datasync` pool.
* **Completion**: a sensor per run checks its flag in raw storage after the copy.
* **Hand-over**: one analysis DAG run per run and genome
  (`ingest__<run>__<version>__<this DAG run>`, `…__<reference>` when the sheet maps
  its samples to several genomes). The ingest does **not** wait for its analyses:
  the registry tracks them, and an analysis that takes a day never holds up the
  next scan.
* **Reference**: the `reference` param, else each sample's reference from the sheet
  through the deployment's mapping table (`seqflow reference map Sample_Project
  PROJECT NAME`), else the default (`seqflow reference default NAME`). The schedule
  sets no reference param: a run that nothing maps to a genome stops at the
  analysis's `plan`, with a message that says how to set one. Add a genome with
  `seqflow reference add NAME --fasta PATH|URI` (docs/references.md).

**Backfills** select runs by the date in their name, from raw storage (the share
may have been purged): `airflow backfill create --dag-id seqflow_daily_ingest
--from-date 2026-11-01 --to-date 2026-11-07` (MWAA; locally `seqflow backfill
--from-date … --to-date …`, through the API server) re-analyses the runs dated in that
range with the current pipeline version (a run already analysed with exactly
this analysis identity is skipped unless `force`).
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, Param, get_current_context, task

from seqflow.alerts import failure_callback
from seqflow.config import DEFAULT_ALERT_AFTER_HOURS, DEFAULT_LOOKBACK_DAYS, ingest_schedule, profile
from seqflow.params import param
from seqflow.wiring import edges

DAG_ID = "seqflow_daily_ingest"
ANALYSIS_DAG_ID = "seqflow_analysis"
#: local | aws (env SEQFLOW_PROFILE): which operators sit at the edges
PROFILE = profile()
EDGES = edges(PROFILE)

default_args = {
    "owner": "seqflow",
    "retries": 2,
    "retry_delay": pendulum.duration(minutes=1),
    "on_failure_callback": failure_callback(PROFILE),
}

with DAG(
    dag_id=DAG_ID,
    description="Copy the day's sequencer runs to raw storage and start their analyses",
    doc_md=__doc__,
    # @daily unless SEQFLOW_INGEST_SCHEDULE says otherwise (a shorter interval, or none)
    schedule=ingest_schedule(),
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
        "run_folders": Param([], type="array", items={"type": "string"}, title="Run folders",
                             description="Ingest exactly these run folders (YYMMDD_<instrument>_<run>_<flowcell>), "
                                         "whatever their date; empty: the look-back window (or run_date). "
                                         "The run-events DAG sets it for the runs an event announced."),
        "reference": param("reference", description=(
            "Registered reference genome for every run of this ingest. Empty (the schedule): each sample's "
            "reference comes from its sample sheet through the deployment's mapping table, else the default "
            "reference (seqflow reference map / default); a run that none of these names stops at plan."
        )),
        "aligner": param("aligner"),
        # passed on to the analyses (seqflow.tasks.ingest.SHARDING_PARAMS)
        "align_reads_per_shard": param("align_reads_per_shard"),
        "call_interval_mb": param("call_interval_mb"),
        "force": Param(False, type="boolean", title="Re-ingest and re-analyse runs already done"),
        "lookback_days": Param(DEFAULT_LOOKBACK_DAYS, type="integer", minimum=1, maximum=365,
                               title="Look-back window (days)",
                               description="Run folders whose name date is at most this many days old are scanned."),
        "qa_flag": Param(None, type=["null", "string"], pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
                         title="QA-pass flag",
                         description="File name of the empty file a technician writes when a run passed QA; "
                                     "empty: the completion flag alone makes a run complete."),
        "alert_after_hours": Param(DEFAULT_ALERT_AFTER_HOURS, type="number", minimum=1,
                                   title="Alert after (hours)",
                                   description="One alert when a run has waited this long for its flag(s)."),
        "flag_timeout_s": Param(6 * 3600, type="integer", minimum=1, title="Completion-flag timeout (s)",
                                description="How long the copied flag may take to appear in raw storage."),
    },
) as dag:

    @task
    def find_runs(params=None, logical_date=None, data_interval_end=None, dag_run=None) -> list[str]:
        """The complete runs of the look-back window that still need ingesting (a backfill: the runs in
        raw storage whose name carries its date)."""
        from seqflow.compat import AirflowSkipException
        from seqflow.tasks.ingest import find_runs as find

        runs, why = find(dict(params), logical_date=logical_date, data_interval_end=data_interval_end,
                         dag_run=dag_run, candidates=EDGES.RUN_CANDIDATES)
        if not runs:
            raise AirflowSkipException(why)
        return runs

    @task(map_index_template="{{ run_folder }}")
    def record_ingested(run_folder: str) -> str:
        """Registry: ingested."""
        from seqflow.tasks.ingest import record_ingested as record

        get_current_context()["run_folder"] = run_folder
        return record(run_folder)

    @task
    def analysis_triggers(run_folders: list[str], params=None, run_id=None) -> list[dict]:
        """One analysis per run and reference (a sheet may map its samples to several genomes)."""
        from seqflow.tasks.ingest import analysis_triggers as triggers

        return [t for run in run_folders for t in triggers(run, dict(params), ingest_dag_run_id=run_id)]

    runs, flags = EDGES.ingest_runs(find_runs())
    recorded = record_ingested.expand(run_folder=runs)
    flags >> recorded
    triggers = analysis_triggers(recorded)

    TriggerDagRunOperator.partial(
        task_id="trigger_analysis",
        trigger_dag_id=ANALYSIS_DAG_ID,
        # the ingest never waits for analyses: the registry tracks them, the next scan is not held up
        wait_for_completion=False,
        # the analysis DAG retries its own tasks; retrying this one would re-run the whole analysis
        retries=0,
        # a cleared daily run re-analyses; the analysis plan skips what is already done
        reset_dag_run=True,
        # labelled by run folder (and genome, when the sheet maps the run to several)
        map_index_template=("{{ task.conf.run_id }}{% if task.conf.reference %} / {{ task.conf.reference }}"
                            "{% elif task.conf.samples %} / {{ task.conf.samples | length }} sample(s){% endif %}"),
    ).expand_kwargs(triggers)
