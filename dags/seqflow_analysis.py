"""
### seqflow: analysis of one sequencing run

One DAG run per sequencing run (and reference), started by
**seqflow_daily_ingest** or by hand from the trigger form (**Run** is required;
the help under each field says what a value must look like, and `plan`
validates every param again).

1. **plan**: validates the params against the run's sample sheet (unknown
   samples, bad run ids and traversal attempts fail here, with the reason),
   picks the **reference** (the `reference` param; else the sample sheet
   through the deployment's mapping table; else the deployment's default; a
   run that none of these names stops here and says how to set one) from the
   reference catalogue, and lists each selected sample's FASTQs. The
   *analysis identity* is the run, pipeline version, reference, aligner and
   caller: a run already analysed with exactly this identity is skipped
   unless `force` is set.
2. [local] **restore_archived**: nothing is archived in local raw storage; the task only marks the step.
2. [aws] **restore_archived**: restores the run's Glacier / Deep Archive objects and waits for them.
3. [local] **prepare_reference**: the reference's aligner index, built once and cached.
3. [aws] **prepare_reference**: the reference's aligner index, built by a Batch job at registration.
4. **sample** (one mapped group per sample, labelled by sample): `fastp` QC →
   **scatter_reads** cuts the trimmed reads into chunks of `align_reads_per_shard`
   read pairs (the count from the FASTQ's size) → **align_chunks** (one mapped
   task per chunk: bwa mem or minimap2 | samtools fixmate/sort/markdup) →
   `align` (the chunks merged, duplicates marked over the sample) → `bam_qc`
   (samtools), and beside it the calling: **scatter_calls** cuts the reference
   into intervals of about `call_interval_mb` (borders at contig ends or in
   assembly gaps where one is near) → **call_shards** (one mapped task per
   sample and interval, labelled by both: bcftools mpileup/call/norm with the
   reference's ploidy file; a shard that completed with the same inputs is
   reused unless `force` is set) → `call_variants` (the sample's shards
   gathered with bcftools concat) → `vcf_stats` (bcftools stats): the step
   scripts under `containers/<tool>/`,
   [local] run as processes on this machine (engine `local`).
   [aws] run as AWS Batch jobs (engine `batch`; `call_variants` submits the
   calling shards as one Batch array job, then `gather_calls`, so `call_shards`
   is skipped; `align` aligns the whole sample and `align_chunks` is skipped); `engine=omics`
   runs them as one AWS HealthOmics run per sample instead (`omics_run`).
5. [local] **convert_to_parquet** (per VCF, in process, into the Iceberg lake) → **register_partitions** → **qc_summary** (DuckDB) → **finalise_run**.
5. [aws] **convert_to_parquet** (one Glue job run per analysis) → **register_partitions** → **qc_summary** (Athena) → **finalise_run**.

**finalise_run** writes the QC metrics, `qc_summary.json/.md`, the
**MultiQC report** (`multiqc_report.html`: fastp, samtools and bcftools over
every sample, with seqflow's per-sample table) and `manifest.json` under
`results/<run>/<version>/<reference>/<aligner>-<caller>/`, and records the
analysis *analysed* in the registry; a DAG run of a launch request (`seqflow launch`,
or an upload to the launch prefix on AWS) records its end in the request too;
**record_launch_end** (a teardown: it runs whatever happened before it and does not change the DAG
run's state) records a launched run that ended before finalise_run as *failed*, with the failed step.
Each DAG run's **MultiQC report** tab
shows its report.

**Add a genome**: `seqflow reference add NAME --fasta PATH|URI [--ploidy 2 --ploidy chrM=1]`,
then trigger with `reference=NAME` (or map the sheet's `Sample_Project` to it:
`seqflow reference map Sample_Project PROJECT NAME`). `seqflow reference list`
shows what is registered.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task, teardown

from seqflow.alerts import failure_callback
from seqflow.compat import ALL_DONE_MIN_ONE_SUCCESS
from seqflow.config import profile
from seqflow.dagdocs import for_profile
from seqflow.params import analysis_params
from seqflow.wiring import edges

DAG_ID = "seqflow_analysis"
#: local | aws (env SEQFLOW_PROFILE): which operators sit at the edges
PROFILE = profile()
EDGES = edges(PROFILE)

default_args = {
    "owner": "seqflow",
    "retries": 2,
    "retry_delay": pendulum.duration(seconds=30),
    "on_failure_callback": failure_callback(PROFILE),
}

with DAG(
    dag_id=DAG_ID,
    description="QC, alignment, variant calling and the variant lake for one sequencing run",
    doc_md=for_profile(__doc__, PROFILE),
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args=default_args,
    tags=["seqflow", "analysis", PROFILE],
    params=analysis_params(PROFILE),
    # resource ids such as a HealthOmics workflow id are digit strings and must stay strings
    render_template_as_native_obj=False,
) as dag:

    @task(retries=0)
    def plan(params=None) -> dict:
        """Validated params, the reference, the analysis identity and the jobs of the selected samples."""
        from seqflow.compat import AirflowSkipException
        from seqflow.tasks.analysis import AlreadyAnalysed, plan as make_plan

        try:
            return make_plan(dict(params))
        except AlreadyAnalysed as done:
            raise AirflowSkipException(str(done)) from None

    @task
    def prepare_reference(run_plan: dict) -> dict:
        """The reference's FASTA, ploidy file and aligner index."""
        from seqflow.tasks.analysis import prepare_reference as prepare

        return prepare(run_plan)

    @task
    def sample_jobs(run_plan: dict, ref: dict) -> list[dict]:
        """One job per sample, pointing at the prepared reference."""
        from seqflow.tasks.analysis import with_reference

        return with_reference(run_plan["jobs"], ref)

    @task.branch
    def choose_engine(run_plan: dict) -> str:
        """The engine of this DAG run: the per-sample steps, or one HealthOmics run per sample."""
        return "omics_requests" if run_plan["engine"] == "omics" else "sample.requests"

    # one failed sample does not sink the run: the others go on to the lake and the QC summary
    @task(trigger_rule=ALL_DONE_MIN_ONE_SUCCESS)
    def samples_done() -> None:
        """The per-sample steps are over with at least one sample analysed (skipped when the run
        went to HealthOmics or was already analysed; failed samples are recorded by finalise_run)."""
        from seqflow.compat import check_all_done_min_one_success

        check_all_done_min_one_success()  # the rule's check where the scheduler lacks it (MWAA's 3.0.6)

    @task(trigger_rule="none_failed_min_one_success")
    def collect_vcfs(run_plan: dict, jobs: list[dict]) -> list[dict]:
        """Each analysed sample's VCF, from whichever engine ran (failed samples are left out;
        finalise_run records them)."""
        from airflow.sdk import get_current_context

        from seqflow.tasks.analysis import collect_vcfs as collect

        omics_ids = None
        if run_plan["engine"] == "omics":
            omics_ids = list(get_current_context()["ti"].xcom_pull(task_ids="omics_run", key="return_value") or [])
        return collect(run_plan, jobs, omics_run_ids=omics_ids)

    @task
    def converter_args(run_plan: dict, vcfs: list[dict]) -> list[dict]:
        """Arguments of the VCF → Parquet converter, one set per VCF (the Glue job's on AWS)."""
        from seqflow.tasks.analysis import converter_args as args

        return args(run_plan, vcfs)

    @task
    def qc_summary_sql(run_plan: dict) -> str:
        """The per-sample QC query over exactly this analysis (the same SQL on DuckDB and Athena)."""
        from seqflow.tasks.analysis import qc_summary_sql as sql

        return sql(run_plan)

    @task
    def register_partitions(run_plan: dict, vcfs: list[dict]) -> int:
        """The run's lake partitions in the catalog (idempotent)."""
        from seqflow.tasks.analysis import register_partitions as register

        return register(run_plan, vcfs)

    @task
    def finalise_run(run_plan: dict, vcfs: list[dict], qc, dag_run=None) -> dict:
        """QC summary, manifest, registry: analysed (and the launch request of the run, if any)."""
        from seqflow.launch import CONF_KEY
        from seqflow.tasks.analysis import finalise_run as finalise

        return finalise(run_plan, vcfs, qc, launch=(dag_run.conf or {}).get(CONF_KEY), dag_run_id=dag_run.run_id)

    # a teardown: it runs whatever happened upstream, and the DAG run's state stays the other tasks'
    @teardown
    @task  # idempotent: a retry keeps what a first try wrote
    def record_launch_end(params=None, dag_run=None, ti=None, dag=None) -> None:
        """A DAG run of a launch request that ended before finalise_run (plan failed, every sample
        failed...) records its end, failed and where, in the request (nothing for other DAG runs)."""
        from seqflow.launch import CONF_KEY
        from seqflow.tasks.analysis import record_launch_end as record

        launch = (dag_run.conf or {}).get(CONF_KEY)
        if launch:
            record(launch, dict(params or {}), ti=ti, dag_run_id=dag_run.run_id, task_order=list(dag.task_ids))

    run_plan = plan()
    restored = EDGES.restore_archived(run_plan)
    ref = prepare_reference(run_plan)
    restored >> ref
    jobs = sample_jobs(run_plan, ref)
    branch = choose_engine(run_plan)
    jobs >> branch
    per_sample, *other_engines = EDGES.per_sample(run_plan, jobs, branch)
    done = samples_done()
    per_sample >> done
    vcfs = collect_vcfs(run_plan, jobs)
    [done, *other_engines] >> vcfs
    converted = EDGES.convert_to_parquet(converter_args(run_plan, vcfs))
    registered = register_partitions(run_plan, vcfs)
    converted >> registered
    qc = EDGES.qc_summary(qc_summary_sql(run_plan))
    registered >> qc
    finalise_run(run_plan, vcfs, EDGES.qc_result(qc)) >> record_launch_end()
