"""
### seqflow: analysis of one sequencing run

One DAG run per sequencing run, started by **seqflow_daily_ingest** or by hand
from the trigger form (every param is validated by its JSON schema there, and
again by the first task).

1. **plan**: validates the params against the run's sample sheet (unknown
   samples, bad run ids and traversal attempts fail here, with the reason) and
   lists each selected sample's FASTQs.
2. **prepare_reference**: fetches the reference and builds the aligner index
   once; later runs reuse it.
3. **per sample** (dynamic task mapping, one group per sample):
   `fastp` QC → `bwa mem` or `minimap2` | `samtools fixmate/sort/markdup` →
   `bcftools mpileup/call/norm` → `samtools`/`bcftools stats` → VCF to Parquet.
   The commands are the scripts under `containers/<tool>/`, the same that the
   container images run.
4. **register_partitions**: registers the new lake partitions in the catalog.
5. **finalise_run**: per-sample QC metrics (and concordance with the truth set
   for demo runs) into the lake's `qc_metrics` table, `qc_summary.json/.md`
   and `manifest.json` under `results/<run_id>/<pipeline_version>/`.

**aws profile** (`SEQFLOW_PROFILE=aws`, see docs/aws.md): the same steps on AWS.
`restore_archived` first restores Glacier / Deep Archive inputs; `engine`
(empty: the deployment's default) picks one Batch job per sample and step
(group `batch`) or one HealthOmics run per sample (`omics_run`); then a Glue
job per VCF (`convert_to_parquet`), partitions in the Glue Data Catalog, the QC
summary through Athena (`qc_summary`) and the DynamoDB registry.

Results of each pipeline version live side by side; a run already analysed with
this version is skipped unless `force` is set.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowSkipException

from seqflow.alerts import on_task_failure
from seqflow.aws.alerts import on_task_failure as on_task_failure_sns
from seqflow.aws.analysis import aws_analysis_params
from seqflow.config import profile
from seqflow.params import analysis_params

DAG_ID = "seqflow_analysis"
#: local | aws (env SEQFLOW_PROFILE): which operators sit at the edges
PROFILE = profile()

default_args = {
    "owner": "seqflow",
    "retries": 2,
    "retry_delay": pendulum.duration(seconds=30),
    "on_failure_callback": on_task_failure_sns if PROFILE == "aws" else on_task_failure,
}

with DAG(
    dag_id=DAG_ID,
    description="QC, alignment, variant calling and the variant lake for one sequencing run",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args=default_args,
    tags=["seqflow", "analysis", PROFILE],
    params=aws_analysis_params() if PROFILE == "aws" else analysis_params(),
    # aws: resource ids such as a HealthOmics workflow id are digit strings and must stay strings
    render_template_as_native_obj=PROFILE == "local",
) as dag:

    @task(retries=0)
    def plan(params=None) -> dict:
        """Validated params and the jobs of the selected samples."""
        from seqflow.tasks.analysis import AlreadyAnalysed, plan as make_plan

        try:
            return make_plan(dict(params))
        except AlreadyAnalysed as done:
            raise AirflowSkipException(str(done)) from None

    @task
    def prepare_reference(run_plan: dict) -> str:
        """Reference FASTA with its aligner index (cached)."""
        from seqflow.tasks.analysis import prepare_reference as prepare

        return prepare(run_plan["reference"], run_plan["aligner"])

    @task
    def sample_jobs(run_plan: dict, fasta: str) -> list[dict]:
        from seqflow.tasks.analysis import with_reference

        return with_reference(run_plan["jobs"], fasta)

    def label(sample_id: str) -> None:
        """Show the sample id, not a number, as the map index in the UI."""
        get_current_context()["sample_id"] = sample_id

    def sample_task(fn):
        """A per-sample task, labelled with its sample in the UI."""
        return task(map_index_template="{{ sample_id }}")(fn)

    @task_group(group_id="sample")
    def per_sample(job: dict):
        @sample_task
        def fastp(job: dict) -> dict:
            from seqflow.tasks.analysis import qc_reads

            label(job["sample_id"])
            return qc_reads(job)

        @sample_task
        def align(state: dict) -> dict:
            from seqflow.tasks.analysis import align as run

            label(state["job"]["sample_id"])
            return run(state)

        @sample_task
        def call_variants(state: dict) -> dict:
            from seqflow.tasks.analysis import call_variants as run

            label(state["job"]["sample_id"])
            return run(state)

        @sample_task
        def qc_stats(state: dict) -> dict:
            from seqflow.tasks.analysis import qc_stats as run

            label(state["job"]["sample_id"])
            return run(state)

        @sample_task
        def to_parquet(state: dict, params=None) -> dict:
            from seqflow.tasks.analysis import to_parquet as run

            label(state["job"]["sample_id"])
            return run(state, params["reference"])

        return to_parquet(qc_stats(call_variants(align(fastp(job)))))

    @task
    def register_partitions(states: list[dict]) -> int:
        from seqflow.tasks.analysis import register_partitions as register

        return register(list(states))

    @task
    def finalise_run(run_plan: dict, states: list[dict]) -> dict:
        from seqflow.tasks.analysis import finalise_run as finalise

        return finalise(run_plan, list(states))

    if PROFILE == "aws":
        # Glacier restore, then Batch or HealthOmics per `engine`, Glue, Athena, DynamoDB
        from seqflow.aws.wiring import build_analysis

        build_analysis()
    else:
        run_plan = plan()
        jobs = sample_jobs(run_plan, prepare_reference(run_plan))
        states = per_sample.expand(job=jobs)
        registered = register_partitions(states)
        registered >> finalise_run(run_plan, states)
