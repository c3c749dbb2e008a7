"""The variant lake: VCF -> Parquet conversion and atomic publishing.

Layout: ``<lake_root>/<table>/run_id=<run>/pipeline_version=<pv>/sample_id=<s>/part-*.parquet``
(``qc_metrics`` has no ``sample_id`` level). See :mod:`seqflow.lake.schema`
for the columns and :mod:`seqflow.lake.publish` for the commit protocol.
"""

from seqflow.lake.api import SITES_ONLY_SAMPLE_ID, convert_vcf_to_parquet, publish_qc_metrics
from seqflow.lake.header import VcfFormatError
from seqflow.lake.publish import Partition, PublishResult, recover
from seqflow.lake.schema import QC_METRICS_SCHEMA, VARIANT_SCHEMA

__all__ = [
    "SITES_ONLY_SAMPLE_ID",
    "QC_METRICS_SCHEMA",
    "VARIANT_SCHEMA",
    "Partition",
    "PublishResult",
    "VcfFormatError",
    "convert_vcf_to_parquet",
    "publish_qc_metrics",
    "recover",
]
