"""The ``aws`` profile's edges of the two DAGs (see :mod:`seqflow.wiring`): provider operators.

The DAG files call these where the local profile calls :mod:`seqflow.wiring.local`;
the task ids are the same, except the aws-only ``include_filter``, ``flag_keys``,
``omics_requests`` and ``omics_run`` (:data:`seqflow.wiring.EDGE_TASKS`).

Building touches no AWS, Variable or file: operator arguments are templates
or XComs, task bodies read the configuration when they run.
"""

from __future__ import annotations

from airflow.sdk import PokeReturnValue, get_current_context, task, task_group


from seqflow.aws.settings import AWS_CONN_ID, poll_seconds, template

#: Restores from Deep Archive (Bulk) take up to 48 hours.
RESTORE_TIMEOUT_S = 3 * 24 * 3600


def _run_date(params, logical_date, dag_run):
    from seqflow.tasks.ingest import resolve_run_date

    return resolve_run_date(params["run_date"], logical_date, getattr(dag_run, "run_after", None))


def _label(sample_id: str) -> None:
    get_current_context()["sample_id"] = sample_id


# -- ingest --------------------------------------------------------------------------------


#: where find_runs sees which runs are complete: the flags the flags-only DataSync copied to S3
RUN_CANDIDATES = "raw"


def ingest_runs(runs):
    """Flags-only DataSync → ``runs`` (find_runs, on the raw bucket) → per-run DataSync → flag sensors.

    Airflow cannot list the on-prem share, so DataSync itself finds the complete
    runs: a first execution copies only the flag files (``/*/CopyComplete.txt|…``),
    ``find_runs`` then sees which runs of the look-back window have them in the
    raw bucket, and a second execution copies exactly those runs. Returns the
    run folders to record and the sensors that must finish first.
    """
    from seqflow.aws import ingest
    from seqflow.transfer import build_include_filter

    @task
    def flags_include_filter(params=None) -> str:
        """DataSync include filter of the flag files only (completion flags, the QA flag if configured)."""
        return ingest.flags_include_filter(params.get("qa_flag"))

    @task
    def include_filter(run_ids: list[str]) -> str:
        """DataSync include filter naming exactly these run folders."""
        return build_include_filter(run_ids)

    @task
    def flag_keys(run_ids: list[str]) -> list[str]:
        return [ingest.flag_key_pattern(run_id) for run_id in run_ids]

    flags = ingest.datasync_operator(flags_include_filter(), task_id="discover_flags")
    flags >> runs
    copied = ingest.datasync_operator(include_filter(runs))
    sensors = ingest.flag_sensor(flag_keys(runs))
    copied >> sensors
    return runs, sensors


# -- analysis ------------------------------------------------------------------------------


def restore_archived(run_plan):
    @task.sensor(mode="reschedule", poke_interval=max(poll_seconds(60), 1), timeout=RESTORE_TIMEOUT_S)
    def restore_archived(run_plan: dict) -> PokeReturnValue:
        """Restore the run's archived inputs (GLACIER / DEEP_ARCHIVE) and wait until they are readable."""
        from seqflow.aws.restore import restore_run_inputs

        return PokeReturnValue(is_done=restore_run_inputs(run_plan).done)

    return restore_archived(run_plan)


def per_sample(run_plan, jobs, branch):
    """``engine=batch``: one mapped group per sample, a deferrable BatchOperator per step, and the
    graph of the local profile's scattered calling (``scatter_calls`` → ``call_shards`` →
    ``sample.call_variants``); ``engine=omics``: one HealthOmics run per sample. Returns both ends
    for the VCF collection.

    Calling is scattered on AWS inside ``sample.call_variants``, not by mapped tasks: when the
    sample's reference is more than one interval of the run's ``call_interval_mb``,
    ``sample.requests`` lists its shards and ``sample.call_variants`` submits one Batch array job
    of the shards still to call (the completed ones are reused) and the ``gather_calls`` job after
    it, and waits for the gather (:mod:`seqflow.aws.scattered_calling`); with one interval it is
    one whole-genome job as before. So ``scatter_calls`` plans no shard and ``call_shards`` is
    skipped, as are ``scatter_reads`` and ``align_chunks``: ``sample.align`` aligns the whole
    sample in one job (alignment chunks on Batch: not built). On Airflow 3.0 (MWAA) the shard
    tasks do not feed the sample's steps (:data:`seqflow.compat.JOINS_INTO_MAPPED_GROUPS`); the
    array job keeps the graph the same on every version."""
    from seqflow.aws.batch import BATCH_STEPS, SeqflowBatchOperator, batch_operator
    from seqflow.compat import JOINS_INTO_MAPPED_GROUPS
    from seqflow.aws.omics import OmicsStartRunOperator

    poll = poll_seconds(60)

    @task(trigger_rule="all_done")
    def scatter_calls(run_plan: dict, jobs: list[dict]) -> list[dict]:
        """SubmitJob arguments of the calling shards as mapped tasks: none on AWS, where
        ``sample.call_variants`` submits them as one Batch array job (seqflow.aws.scattered_calling)."""
        return []

    @task(trigger_rule="all_done")
    def scatter_reads(run_plan: dict, jobs: list[dict]) -> list[dict]:
        """SubmitJob arguments of the alignment chunks: none on AWS yet (``sample.align`` aligns the
        whole sample)."""
        return []

    def shard_jobs(task_id: str, requests):
        return SeqflowBatchOperator.partial(
            task_id=task_id,
            aws_conn_id=AWS_CONN_ID,
            deferrable=True,
            poll_interval=poll_seconds(30),
            max_retries=max(1, 2 * 24 * 3600 // poll_seconds(30)),
            awslogs_enabled=True,
        ).expand_kwargs(requests)

    read_chunks = scatter_reads(run_plan, jobs)
    aligned_chunks = shard_jobs("align_chunks", read_chunks)
    scattered = scatter_calls(run_plan, jobs)
    called = shard_jobs("call_shards", scattered)

    @task_group(group_id="sample")
    def sample(job: dict):
        @task(map_index_template="{{ sample_id }}", multiple_outputs=True)
        def requests(job: dict, run_plan: dict) -> dict:
            """SubmitJob arguments of the sample's steps, one XCom per operator argument, with the
            calling shards of its reference (``call_interval_mb``) and the gather's."""
            from seqflow.aws.batch import flat_requests, sample_requests
            from seqflow.aws.scattered_calling import with_call_shards
            from seqflow.aws.settings import load_settings

            _label(job["sample_id"])
            settings = load_settings()
            return flat_requests(with_call_shards(sample_requests(job, settings), job, settings,
                                                  interval_mb=run_plan.get("call_interval_mb"),
                                                  force=bool(run_plan.get("force"))))

        submitted = requests(job, run_plan)
        # the shards' graph of the local profile: a skipped align_chunks or call_shards (no shard) does
        # not skip the step after it, but two skipped upstreams do (engine omics: the branch skipped fastp)
        operators = {step: batch_operator(step, submitted, **({"trigger_rule": "none_failed_min_one_success"}
                                                               if JOINS_INTO_MAPPED_GROUPS
                                                               and step in ("align", "call_variants") else {}))
                     for step in BATCH_STEPS}
        submitted >> operators["fastp"] >> read_chunks
        operators["fastp"] >> operators["align"] >> operators["bam_qc"]
        operators["align"] >> scattered
        operators["align"] >> operators["call_variants"] >> operators["vcf_stats"]
        # on Airflow 3.0 (MWAA) the mapped shard tasks, which AWS never has (its calling shards are a Batch
        # array job inside sample.call_variants), stay beside the sample's steps, whose
        # trigger rules stay the default: the graph that 3.0.6 runs
        if JOINS_INTO_MAPPED_GROUPS:
            aligned_chunks >> operators["align"]
            called >> operators["call_variants"]

    @task
    def omics_requests(jobs: list[dict]) -> list[dict]:
        """StartRun arguments, one HealthOmics run per sample."""
        from seqflow.aws.analysis import omics_requests as build

        return build(jobs)

    batch = sample.expand(job=jobs)
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
    return [batch, omics]


def convert_to_parquet(args):
    """The converter Glue job: one deferrable run per analysis (``args`` holds one set, naming the
    manifest of all its VCFs; seqflow.tasks.analysis.converter_args), which converts them and
    commits them to the Iceberg lake in one commit; a retried task reattaches to its run
    (seqflow.compat.glue_job_operator). Mapped over that one set, so the task keeps the
    local profile's shape (one graph). In the pool ``glue_converter`` (seqflow.glue.CONVERTER_POOL), sized
    to the job's MaxConcurrentRuns, which must exist (docs/lake.md)."""
    from seqflow.compat import glue_job_operator
    from seqflow.glue import CONVERTER_POOL

    operator, retry_kwargs = glue_job_operator()  # a retry reattaches to its run, on every provider
    poll = poll_seconds(60)
    return operator.partial(
        task_id="convert_to_parquet",
        aws_conn_id=AWS_CONN_ID,
        pool=CONVERTER_POOL,  # MaxConcurrentRuns slots (deferred runs count): the 21st waits, Glue refuses none
        job_name=template("glue_job_name"),
        deferrable=True,
        **retry_kwargs,
        waiter_delay=poll,
        waiter_max_attempts=max(1, 6 * 3600 // poll),
        verbose=False,
    ).expand(script_args=args)


def qc_summary(sql):
    """The per-sample QC query over this analysis, on Athena."""
    from airflow.providers.amazon.aws.operators.athena import AthenaOperator

    return AthenaOperator(
        task_id="qc_summary",
        aws_conn_id=AWS_CONN_ID,
        query=sql,
        database=template("glue_database"),
        workgroup=template("athena_workgroup"),
        output_location="s3://%s/seqflow/qc_summary/" % template("athena_results_bucket"),
        deferrable=True,
        sleep_time=poll_seconds(60),
    )


def qc_result(qc):
    """What finalise_run gets of the QC query: its Athena query execution id."""
    return qc.output
