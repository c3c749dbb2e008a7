"""Arrow schemas of the lake's tables.

The Athena DDL in ``seqflow/sql/ddl/`` declares the same columns; a test keeps
the two in step. Partition columns (the analysis identity ``run_id``,
``pipeline_version``, ``reference``, ``aligner``, ``caller``, then
``sample_id`` for ``variants``) live in the Hive-style path, not in the files,
because Athena refuses a column that is both a partition key and a data
column; queries still read them as columns.
"""

from __future__ import annotations

import pyarrow as pa

from seqflow.identity import FIELDS as IDENTITY_KEYS

#: Hive partition keys of the ``variants`` table, in path order: the analysis
#: identity, then the sample.
VARIANT_PARTITION_KEYS = (*IDENTITY_KEYS, "sample_id")
#: Hive partition keys of the ``qc_metrics`` table, in path order.
QC_PARTITION_KEYS = tuple(IDENTITY_KEYS)

#: INFO fields promoted to typed columns: VCF ID -> (column, value type, is_list).
#: Types are fixed whatever a header declares so that every file of the lake
#: has one schema (AF declared Number=1 still lands as a one-element list).
#: A promoted field lives only in its typed column, not in the ``info`` map,
#: which holds every other declared INFO field (and a promoted ID that the
#: header declares as a Flag, which has no typed column).
PROMOTED_INFO: dict[str, tuple[str, pa.DataType, bool]] = {
    "DP": ("info_dp", pa.int32(), False),
    "AN": ("info_an", pa.int32(), False),
    "MQ": ("info_mq", pa.float64(), False),
    "AF": ("info_af", pa.float64(), True),
    "AC": ("info_ac", pa.int32(), True),
}

#: FORMAT fields promoted to typed columns (GT is handled on its own).
PROMOTED_FORMAT: dict[str, tuple[str, pa.DataType, bool]] = {
    "GQ": ("gq", pa.int32(), False),
    "DP": ("dp", pa.int32(), False),
    "AD": ("ad", pa.int32(), True),
    "PL": ("pl", pa.int32(), True),
}

STRING_MAP = pa.map_(pa.string(), pa.string())

VARIANT_SCHEMA = pa.schema(
    [
        pa.field("contig", pa.string(), nullable=False),
        pa.field("pos", pa.int64(), nullable=False),  # 1-based, as in the VCF
        pa.field("start", pa.int64(), nullable=False),  # 0-based, inclusive
        pa.field("end", pa.int64(), nullable=False),  # 0-based, exclusive
        pa.field("ids", pa.list_(pa.string())),
        pa.field("ref", pa.string(), nullable=False),
        pa.field("alt", pa.list_(pa.string()), nullable=False),
        pa.field("qual", pa.float64()),
        pa.field("filters", pa.list_(pa.string())),
        pa.field("info", STRING_MAP),  # INFO fields other than the promoted ones
        pa.field("info_dp", pa.int32()),
        pa.field("info_an", pa.int32()),
        pa.field("info_mq", pa.float64()),
        pa.field("info_af", pa.list_(pa.float64())),
        pa.field("info_ac", pa.list_(pa.int32())),
        pa.field("gt", pa.list_(pa.int16())),
        pa.field("gt_phased", pa.bool_()),
        pa.field("gq", pa.int32()),
        pa.field("dp", pa.int32()),
        pa.field("ad", pa.list_(pa.int32())),
        pa.field("pl", pa.list_(pa.int32())),
        pa.field("format", STRING_MAP),
    ]
)

QC_METRICS_SCHEMA = pa.schema(
    [
        pa.field("sample_id", pa.string(), nullable=False),
        pa.field("read_pairs", pa.int64()),
        pa.field("pct_mapped", pa.float64()),
        pa.field("pct_duplicates", pa.float64()),
        pa.field("mean_depth", pa.float64()),
        pa.field("variants_called", pa.int64()),
        pa.field("precision", pa.float64()),
        pa.field("recall", pa.float64()),
        pa.field("f1", pa.float64()),
    ]
)

#: What each step of each sample of an analysis used and cost (one row per step and sample;
#: seqflow.analysis.costs): the local runner's measurements, or a Batch job's attempts / a
#: HealthOmics run's tasks priced by instance type (seqflow.aws.costs). ``cost_usd`` is null where
#: no price applies (the local profile without SEQFLOW_LOCAL_CPU_HOUR_USD; an unpriced instance type).
STEP_COSTS_SCHEMA = pa.schema(
    [
        pa.field("sample_id", pa.string(), nullable=False),
        pa.field("project", pa.string()),  # the sample sheet's Sample_Project
        pa.field("step", pa.string(), nullable=False),
        pa.field("engine", pa.string(), nullable=False),  # local, batch or omics
        pa.field("status", pa.string()),  # succeeded or failed
        pa.field("job_id", pa.string()),  # Batch job id or HealthOmics run id (null locally)
        pa.field("attempts", pa.int32()),
        pa.field("instance_type", pa.string()),
        pa.field("vcpus", pa.float64()),
        pa.field("memory_mib", pa.int64()),
        pa.field("cpu_seconds", pa.float64()),  # measured (local) or reserved vCPU x wall (AWS)
        pa.field("wall_seconds", pa.float64()),
        pa.field("max_rss_kib", pa.int64()),
        pa.field("cost_usd", pa.float64()),
        pa.field("price_source", pa.string()),
        pa.field("started_at", pa.string()),  # UTC, ISO 8601
        pa.field("month", pa.string()),  # YYYY-MM of started_at
    ]
)

TABLE_SCHEMAS = {"variants": VARIANT_SCHEMA, "qc_metrics": QC_METRICS_SCHEMA, "step_costs": STEP_COSTS_SCHEMA}
TABLE_PARTITION_KEYS = {"variants": VARIANT_PARTITION_KEYS, "qc_metrics": QC_PARTITION_KEYS,
                        "step_costs": QC_PARTITION_KEYS}
