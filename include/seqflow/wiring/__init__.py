"""The operators at the edges of the two DAGs, per profile.

The DAG files wire one graph with the same task ids in both profiles; where
a step must run on the profile's own service they call the profile's edges:

| task id | local (:mod:`seqflow.wiring.local`) | aws (:mod:`seqflow.aws.wiring`) |
|---|---|---|
| ingest: ``transfer_runs``, ``wait_for_completion_flag`` (``find_runs`` is one task: it reads the share locally, the raw bucket on AWS) | the landing share's complete runs of the window → checksum-verified copy → file sensor | ``flags_include_filter`` → ``discover_flags`` (DataSync copying only the flag files) → ``find_runs`` (the raw bucket's complete runs of the window) → ``include_filter`` → ``transfer_runs`` (``DataSyncOperator``) → ``flag_keys`` → deferrable ``S3KeySensor`` |
| ``restore_archived`` | nothing is archived: succeeds at once | Glacier / Deep Archive restore, then waits |
| ``sample.requests`` … ``sample.vcf_stats`` | step scripts as processes | ``sample.requests`` (SubmitJob arguments) + deferrable ``BatchOperator`` per step |
| ``scatter_reads``, ``align_chunks``, ``scatter_calls``, ``call_shards`` | the read chunks and calling shards of every sample; one mapped process per chunk or shard | no mapped shard (``align_chunks``, ``call_shards`` skipped): ``sample.call_variants`` submits the calling shards as one Batch array job and ``gather_calls`` after it (one interval: one whole-genome job; :mod:`seqflow.aws.scattered_calling`); ``sample.align`` aligns the whole sample |
| ``omics_requests``, ``omics_run`` | (none: the local profile has no HealthOmics) | one HealthOmics run per sample |
| ``convert_to_parquet`` | the converter in process | the Glue job (``GlueJobOperator``) |
| ``qc_summary`` | the QC query on DuckDB | the same query on Athena (``AthenaOperator``) |

:data:`EDGE_TASKS` and :data:`EDGE_ORDER` list what may differ; ``tests/dags`` builds both DAGs
under both profiles and checks that everything else is equal.
"""

from __future__ import annotations

#: task ids that exist in one profile only (documented above)
EDGE_TASKS: dict[str, dict[str, frozenset[str]]] = {
    "seqflow_analysis": {
        "local": frozenset(),
        "aws": frozenset({"omics_requests", "omics_run"}),
    },
    "seqflow_daily_ingest": {
        "local": frozenset(),
        "aws": frozenset({"flags_include_filter", "discover_flags", "include_filter", "flag_keys"}),
    },
}


#: tasks present in both profiles whose order among themselves is an edge (none: on AWS the
#: flags-only DataSync execution lets find_runs come first, as locally)
EDGE_ORDER: dict[str, frozenset[str]] = {
    "seqflow_analysis": frozenset(),
    "seqflow_daily_ingest": frozenset(),
}


def edges(profile: str):
    """The edge module of ``profile`` (imported lazily: the local profile never imports the provider's AWS operators)."""
    if profile == "aws":
        from seqflow.aws import wiring
    else:
        from seqflow.wiring import local as wiring
    return wiring
