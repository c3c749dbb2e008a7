"""The variant lake: VCF -> Parquet conversion and Apache Iceberg tables.

Three Iceberg tables, ``variants`` (one row per variant per sample),
``qc_metrics`` (one row per sample per analysis), and ``step_costs`` (one row per step of each
sample: what it used and cost), in the Glue Data Catalog on
AWS and a SQL catalog (SQLite) locally (:mod:`seqflow.lake.iceberg`). Each row
carries its provenance: the analysis identity
(:class:`seqflow.identity.AnalysisIdentity`) and ``sample_id``. A run's
samples are converted into a staging folder (:mod:`seqflow.lake.staging`),
then published in one atomic commit (:func:`publish_staged`); see
``docs/lake.md`` for the tables, their snapshots and the partition spec.
"""

from seqflow.identity import AnalysisIdentity
from seqflow.lake.api import (
    SITES_ONLY_SAMPLE_ID,
    convert_vcf_to_parquet,
    publish_qc_metrics,
    publish_staged,
    publish_step_costs,
    publish_vcf,
)
from seqflow.lake.header import VcfFormatError
from seqflow.lake.iceberg import Lake
from seqflow.lake.schema import QC_METRICS_SCHEMA, VARIANT_SCHEMA
from seqflow.lake.staging import Partition, PublishResult

__all__ = [
    "AnalysisIdentity",
    "Lake",
    "SITES_ONLY_SAMPLE_ID",
    "QC_METRICS_SCHEMA",
    "VARIANT_SCHEMA",
    "Partition",
    "PublishResult",
    "VcfFormatError",
    "convert_vcf_to_parquet",
    "publish_qc_metrics",
    "publish_staged",
    "publish_step_costs",
    "publish_vcf",
]
