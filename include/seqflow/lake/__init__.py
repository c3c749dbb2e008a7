"""The variant lake: VCF -> Parquet conversion and atomic publishing.

Layout: every partition is keyed by the whole analysis identity
(:class:`seqflow.identity.AnalysisIdentity`), then the sample::

    <lake_root>/variants/run_id=<run>/pipeline_version=<pv>/reference=<ref>/aligner=<a>/caller=<c>/sample_id=<s>/part-00000.parquet
    <lake_root>/qc_metrics/run_id=<run>/pipeline_version=<pv>/reference=<ref>/aligner=<a>/caller=<c>/part-00000.parquet

See :mod:`seqflow.lake.schema` for the columns and :mod:`seqflow.lake.publish`
for the commit protocol.
"""

from seqflow.identity import AnalysisIdentity
from seqflow.lake.api import SITES_ONLY_SAMPLE_ID, convert_vcf_to_parquet, publish_qc_metrics
from seqflow.lake.header import VcfFormatError
from seqflow.lake.publish import Partition, PublishResult, recover
from seqflow.lake.schema import QC_METRICS_SCHEMA, VARIANT_SCHEMA

__all__ = [
    "AnalysisIdentity",
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
