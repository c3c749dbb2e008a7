"""The ``aws`` profile's tasks of the two DAGs, built inside the DAG's context.

The DAG files stay thin: under ``SEQFLOW_PROFILE=aws`` they call
:func:`build_ingest` / :func:`build_analysis` where the local profile wires its
own tasks. Task ids match the local profile's where the step is the same
(``find_runs``, ``transfer_runs``, ``wait_for_completion_flag``,
``record_ingested``, ``plan``, ``prepare_reference``, ``sample_jobs``,
``register_partitions``, ``finalise_run``), so runbooks and alerts read the same.

Building touches no AWS, Variable or file: operator arguments are templates
or XComs, task bodies read the configuration when they run.
"""

from __future__ import annotations

from airflow.sdk import PokeReturnValue, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowSkipException

from seqflow.aws.settings import AWS_CONN_ID, poll_seconds, template

#: Restores from Deep Archive (Bulk) take up to 48 hours.
RESTORE_TIMEOUT_S = 3 * 24 * 3600


def _run_date(params, logical_date, dag_run):
    from seqflow.tasks.ingest import resolve_run_date

    return resolve_run_date(params["run_date"], logical_date, getattr(dag_run, "run_after", None))


def build_ingest():
    """DataSync → runs in the raw bucket → flag sensors → registry. Returns the analysis trigger kwargs."""
    from seqflow.aws import ingest

    @task
    def include_filter(params=None, logical_date=None, dag_run=None) -> str:
        """DataSync include filter selecting every run folder of the date."""
        return ingest.date_include_filter(_run_date(params, logical_date, dag_run))

    @task(task_id="find_runs")
    def find_copied_runs(params=None, logical_date=None, dag_run=None) -> list[str]:
        """Run folders of the date in the raw bucket that still need ingesting."""
        run_date = _run_date(params, logical_date, dag_run)
        runs = ingest.runs_to_ingest(run_date, force=params["force"])
        if not runs:
            raise AirflowSkipException(f"no new run folders dated {run_date} in the raw bucket")
        return runs

    @task
    def flag_keys(run_ids: list[str]) -> list[str]:
        return [ingest.flag_key_pattern(run_id) for run_id in run_ids]

    @task(task_id="record_ingested")
    def record_ingested(run_folder: str, params=None, run_id=None) -> dict:
        """Registry: ingested. Returns the arguments of the analysis trigger (a forced re-ingest re-analyses)."""
        from seqflow.tasks.ingest import analysis_trigger

        conf = ingest.record_ingested(run_folder, reference=params["reference"], aligner=params["aligner"])
        return analysis_trigger(conf, force=params["force"], ingest_dag_run_id=run_id)

    copied = ingest.datasync_operator(include_filter())
    runs = find_copied_runs()
    copied >> runs
    complete = ingest.flag_sensor(flag_keys(runs))
    triggers = record_ingested.expand(run_folder=runs)
    complete >> triggers
    return triggers


def _label(sample_id: str) -> None:
    get_current_context()["sample_id"] = sample_id


def build_analysis():
    """plan → restore → reference → samples → Batch | HealthOmics → Glue → partitions → Athena → registry."""
    from airflow.providers.amazon.aws.operators.athena import AthenaOperator
    from airflow.providers.amazon.aws.operators.glue import GlueJobOperator

    from seqflow.aws import analysis as aws
    from seqflow.aws.batch import BATCH_STEPS, batch_operator
    from seqflow.aws.omics import OmicsStartRunOperator

    poll = poll_seconds(60)

    @task(task_id="plan", retries=0)
    def plan(params=None) -> dict:
        """Validated params, the engine, and the run's objects in S3."""
        try:
            return aws.plan(dict(params))
        except aws.AlreadyAnalysed as done:
            raise AirflowSkipException(str(done)) from None

    @task.sensor(mode="reschedule", poke_interval=max(poll, 1), timeout=RESTORE_TIMEOUT_S)
    def restore_archived(run_plan: dict) -> PokeReturnValue:
        """Restore the run's archived inputs (GLACIER / DEEP_ARCHIVE) and wait until they are readable."""
        from seqflow.aws.restore import restore_run_inputs

        return PokeReturnValue(is_done=restore_run_inputs(run_plan).done)

    @task(task_id="prepare_reference")
    def prepare_reference(run_plan: dict) -> dict:
        """The reference and its aligner index in S3."""
        return aws.reference(run_plan["reference"], run_plan["aligner"])

    @task
    def sample_jobs(run_plan: dict, ref: dict) -> list[dict]:
        jobs = aws.sample_jobs(run_plan, ref)
        aws.record_analysing(run_plan, jobs)
        return jobs

    @task.branch
    def choose_engine(run_plan: dict) -> str:
        """The engine of this DAG run (param, default from seqflow_default_engine)."""
        return "batch.requests" if run_plan["engine"] == "batch" else "omics_requests"

    @task_group(group_id="batch")
    def batch_sample(job: dict):
        @task(map_index_template="{{ sample_id }}", multiple_outputs=True)
        def requests(job: dict) -> dict:
            """SubmitJob arguments of the sample's steps, one XCom per operator argument."""
            from seqflow.aws.batch import flat_requests, sample_requests
            from seqflow.aws.settings import load_settings

            _label(job["sample_id"])
            return flat_requests(sample_requests(job, load_settings()))

        submitted = requests(job)
        previous = submitted
        for step in BATCH_STEPS:
            operator = batch_operator(step, submitted)
            previous >> operator
            previous = operator

    @task
    def omics_requests(jobs: list[dict]) -> list[dict]:
        """StartRun arguments, one HealthOmics run per sample."""
        return aws.omics_requests(jobs)

    @task(trigger_rule="none_failed_min_one_success")
    def collect_vcfs(run_plan: dict, jobs: list[dict]) -> list[dict]:
        """Each sample's VCF URI, from whichever engine ran."""
        ids = None
        if run_plan["engine"] == "omics":
            ids = list(get_current_context()["ti"].xcom_pull(task_ids="omics_run", key="return_value") or [])
        return aws.vcf_uris(jobs, run_plan["engine"], ids)

    @task
    def glue_args(run_plan: dict, vcfs: list[dict]) -> list[dict]:
        return aws.glue_script_args(run_plan, vcfs)

    @task
    def register_partitions(run_plan: dict, vcfs: list[dict]) -> int:
        """Glue Data Catalog: the run's partitions (idempotent)."""
        return aws.register_partitions(run_plan, vcfs)

    @task
    def qc_summary_sql(run_plan: dict) -> str:
        return aws.qc_summary_sql(run_plan)

    @task
    def finalise_run(run_plan: dict, vcfs: list[dict], query_execution_id: str | None) -> dict:
        """Registry: analysed, with the outputs and the QC summary."""
        return aws.finalise(run_plan, vcfs, query_execution_id)

    run_plan = plan()
    restored = restore_archived(run_plan)
    ref = prepare_reference(run_plan)
    restored >> ref
    jobs = sample_jobs(run_plan, ref)
    branch = choose_engine(run_plan)
    jobs >> branch

    batch = batch_sample.expand(job=jobs)
    branch >> batch

    requests = omics_requests(jobs)
    branch >> requests
    omics = OmicsStartRunOperator.partial(
        task_id="omics_run",
        aws_conn_id=AWS_CONN_ID,
        deferrable=True,
        waiter_delay=poll,
        waiter_max_attempts=max(1, 3 * 24 * 3600 // poll),
        map_index_template="{{ task.sample_id }}",
    ).expand_kwargs(requests)

    vcfs = collect_vcfs(run_plan, jobs)
    [batch, omics] >> vcfs

    convert = GlueJobOperator.partial(
        task_id="convert_to_parquet",
        aws_conn_id=AWS_CONN_ID,
        job_name=template("glue_job_name"),
        deferrable=True,
        durable=True,
        waiter_delay=poll,
        waiter_max_attempts=max(1, 6 * 3600 // poll),
        verbose=False,
    ).expand(script_args=glue_args(run_plan, vcfs))

    registered = register_partitions(run_plan, vcfs)
    convert >> registered

    qc = AthenaOperator(
        task_id="qc_summary",
        aws_conn_id=AWS_CONN_ID,
        query=qc_summary_sql(run_plan),
        database=template("glue_database"),
        workgroup=template("athena_workgroup"),
        output_location="s3://%s/seqflow/qc_summary/" % template("athena_results_bucket"),
        deferrable=True,
        sleep_time=poll,
    )
    registered >> qc
    return finalise_run(run_plan, vcfs, qc.output)
