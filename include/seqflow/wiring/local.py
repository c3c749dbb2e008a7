"""The local profile's edges of the two DAGs (see :mod:`seqflow.wiring`): processes and files."""

from __future__ import annotations

import pendulum
from airflow.sdk import PokeReturnValue, get_current_context, task, task_group


def _label(sample_id: str) -> None:
    """Show the sample id, not a number, as the map index in the UI."""
    get_current_context()["sample_id"] = sample_id


def _sample_task(fn):
    """A per-sample task, labelled with its sample in the UI; a bad input fails it without retries."""
    import functools

    @functools.wraps(fn)
    def run(*args, **kwargs):
        from seqflow.compat import AirflowFailException
        from seqflow.tasks.analysis import SampleInputError

        try:
            return fn(*args, **kwargs)
        except SampleInputError as exc:
            raise AirflowFailException(str(exc)) from exc

    return task(map_index_template="{{ sample_id }}")(run)


# -- ingest --------------------------------------------------------------------------------


#: where find_runs sees which runs are complete: the landing share itself
RUN_CANDIDATES = "share"


def ingest_runs(runs):
    """``runs`` (find_runs) → transfer_runs → wait_for_completion_flag (mapped).

    Returns the run folders to record and the tasks that must finish first (here the same:
    the sensors' XComs are the run folders)."""
    from seqflow.compat import AirflowFailException

    @task(pool="datasync")
    def transfer_runs(run_ids: list[str]) -> dict:
        """One checksum-verified copy of exactly these run folders (the local DataSync)."""
        from seqflow.tasks.ingest import transfer_to_raw

        return transfer_to_raw(run_ids)

    @task.sensor(mode="reschedule", poke_interval=10, timeout=7 * 24 * 3600, map_index_template="{{ run_folder }}")
    def wait_for_completion_flag(run_folder: str, params=None, dag_run=None) -> PokeReturnValue:
        """Done once the run's completion flag is in raw storage; explicit failure after the timeout."""
        from seqflow.tasks.ingest import completion_flag_present, mark_incomplete

        get_current_context()["run_folder"] = run_folder
        if completion_flag_present(run_folder):
            return PokeReturnValue(is_done=True, xcom_value=run_folder)
        waited = (pendulum.now("UTC") - dag_run.start_date).total_seconds()
        if waited > params["flag_timeout_s"]:
            mark_incomplete(run_folder, waited)
            raise AirflowFailException(
                f"{run_folder}: no completion flag in raw storage after {waited:.0f} s; recorded as incomplete."
                " Clear this task once the instrument has finished the run."
            )
        return PokeReturnValue(is_done=False)

    copied = transfer_runs(runs)
    complete = wait_for_completion_flag.expand(run_folder=runs)
    copied >> complete
    return complete, complete


# -- analysis ------------------------------------------------------------------------------


def restore_archived(run_plan):
    """Nothing is archived in the local profile's raw storage: the task only marks the step."""

    @task.sensor(poke_interval=1, timeout=60)
    def restore_archived(run_plan: dict) -> PokeReturnValue:
        """Archived inputs restored (local profile: there is no archive tier)."""
        return PokeReturnValue(is_done=True)

    return restore_archived(run_plan)


def per_sample(run_plan, jobs, branch):
    """The per-sample steps as local processes, one mapped group per sample, with alignment and
    variant calling scattered: ``sample.fastp`` → ``scatter_reads`` (every sample's read chunks) →
    ``align_chunks`` (one mapped task per chunk, labelled by sample and chunk) → ``sample.align``
    (the chunks merged, duplicates marked) → ``scatter_calls`` (every aligned sample's shards) →
    ``call_shards`` (one mapped task per shard, labelled by sample and interval) →
    ``sample.call_variants`` (the sample's shards gathered) → ``sample.vcf_stats``; ``sample.bam_qc``
    runs beside the calling. Returns the tasks the VCF collection waits for."""

    # every sample's read chunks: waits for every sample's fastp, failed ones included
    @task(trigger_rule="all_done")
    def scatter_reads(run_plan: dict, jobs: list[dict]) -> list[dict]:
        """One alignment job per chunk of read pairs of every sample whose reads passed fastp."""
        from seqflow.tasks.analysis import scatter_reads as scatter

        return scatter(run_plan, jobs)

    @task(map_index_template="{{ chunk_label }}")
    def align_chunks(chunk: dict) -> dict:
        """bwa mem or minimap2 | samtools fixmate/sort/markdup of one chunk of a sample's reads."""
        from seqflow.tasks.analysis import align_chunk

        get_current_context()["chunk_label"] = chunk["label"]
        return align_chunk(chunk)

    read_chunks = scatter_reads(run_plan, jobs)
    aligned_chunks = align_chunks.expand(chunk=read_chunks)

    # every aligned sample's shards: waits for every sample's alignment, failed ones included
    @task(trigger_rule="all_done")
    def scatter_calls(run_plan: dict, jobs: list[dict]) -> list[dict]:
        """One calling job per shard (interval of the reference) of every aligned sample."""
        from seqflow.tasks.analysis import scatter_calls as scatter

        return scatter(run_plan, jobs)

    @task(map_index_template="{{ shard_label }}")
    def call_shards(shard: dict) -> dict:
        """bcftools mpileup/call/norm of one sample on one interval (reused when it completed with the
        same inputs)."""
        from seqflow.tasks.analysis import call_shard

        get_current_context()["shard_label"] = shard["label"]
        return call_shard(shard)

    scattered = scatter_calls(run_plan, jobs)
    called = call_shards.expand(shard=scattered)

    @task_group(group_id="sample")
    def sample(job: dict):
        @_sample_task
        def requests(job: dict) -> dict:
            """The sample's job (the aws profile builds its Batch requests here)."""
            _label(job["sample_id"])
            return job

        @_sample_task
        def fastp(job: dict) -> dict:
            from seqflow.tasks.analysis import qc_reads

            _label(job["sample_id"])
            return qc_reads(job)

        # each sample merges its own chunks: one sample's failed chunk does not stop the others'
        @task(map_index_template="{{ sample_id }}", trigger_rule="all_done")
        def align(state: dict, chunk_jobs: list[dict]) -> dict:
            from seqflow.compat import AirflowFailException
            from seqflow.tasks.analysis import SampleInputError, merge_alignment

            _label(state["job"]["sample_id"])
            try:
                return merge_alignment(state, list(chunk_jobs or []))
            except SampleInputError as exc:
                raise AirflowFailException(str(exc)) from exc

        # each sample gathers its own shards: one sample's failed shard does not stop the others'
        @task(map_index_template="{{ sample_id }}", trigger_rule="all_done")
        def call_variants(state: dict, shard_jobs: list[dict], results: list[dict]) -> dict:
            from seqflow.compat import AirflowFailException
            from seqflow.tasks.analysis import SampleInputError, call_variants as gather

            _label(state["job"]["sample_id"])
            try:
                return gather(state, list(shard_jobs or []), list(results or []))
            except SampleInputError as exc:
                raise AirflowFailException(str(exc)) from exc

        @_sample_task
        def bam_qc(state: dict) -> dict:
            from seqflow.tasks.analysis import bam_qc as run

            _label(state["job"]["sample_id"])
            return run(state)

        @_sample_task
        def vcf_stats(state: dict) -> dict:
            from seqflow.tasks.analysis import vcf_stats as run

            _label(state["job"]["sample_id"])
            return run(state)

        trimmed = fastp(requests(job))
        trimmed >> read_chunks
        aligned = align(trimmed, read_chunks)
        aligned_chunks >> aligned
        aligned >> scattered
        bam_qc(aligned)
        vcf_stats(call_variants(aligned, scattered, called))

    group = sample.expand(job=jobs)  # the group (its function returns nothing), not its last XCom
    branch >> group
    return [group]


def convert_to_parquet(args):
    """The converter in process, one mapped task per VCF (labelled by sample)."""

    @task(map_index_template="{{ sample_id }}")
    def convert_to_parquet(args: dict) -> dict:
        """VCF → Parquet into the lake (atomic; replaces only this analysis and sample)."""
        from seqflow.tasks.analysis import convert_in_process

        _label(args["--sample_id"])
        return convert_in_process(args)

    return convert_to_parquet.expand(args=args)


def qc_summary(sql):
    @task
    def qc_summary(sql: str) -> list[dict]:
        """The per-sample QC query over this analysis, on the local DuckDB catalog."""
        from seqflow.tasks.analysis import local_query

        return local_query(sql)

    return qc_summary(sql)


def qc_result(qc):
    """What finalise_run gets of the QC query: its rows."""
    return qc
