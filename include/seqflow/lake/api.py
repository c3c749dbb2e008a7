"""The lake's public operations: convert a VCF, publish QC metrics."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from seqflow.identity import AnalysisIdentity
from seqflow.lake.converter import DEFAULT_BLOCK_SIZE, SampleOutput, convert_stream
from seqflow.lake.header import VcfFormatError, read_header
from seqflow.lake.publish import Partition, PublishResult, Transaction, check_table, check_value
from seqflow.lake.schema import QC_METRICS_SCHEMA

#: Partition name used for a sites-only VCF converted without a sample id.
SITES_ONLY_SAMPLE_ID = "sites"
PART_FILE = "part-00000.parquet"


def _sample_plan(vcf: Path, vcf_samples: list[str], sample_id: str | None) -> list[tuple[str | None, str]]:
    """(VCF column, partition sample id) pairs to convert."""
    if not vcf_samples:
        return [(None, check_value("sample_id", sample_id or SITES_ONLY_SAMPLE_ID))]
    if sample_id is None:
        return [(s, check_value("sample_id", s)) for s in vcf_samples]
    check_value("sample_id", sample_id)
    if len(vcf_samples) == 1:
        # the run's sample id wins over whatever the caller named its column
        return [(vcf_samples[0], sample_id)]
    if sample_id not in vcf_samples:
        raise VcfFormatError(vcf, None, f"sample {sample_id!r} is not among the VCF's samples {vcf_samples}")
    return [(sample_id, sample_id)]


def _check_identity(identity: AnalysisIdentity) -> AnalysisIdentity:
    if not isinstance(identity, AnalysisIdentity):
        raise TypeError(f"identity must be a seqflow.identity.AnalysisIdentity, not {type(identity).__name__}")
    for key, value in identity.to_dict().items():
        check_value(key, value)
    return identity


def convert_vcf_to_parquet(
    vcf: str | Path,
    lake_root: str | Path,
    *,
    identity: AnalysisIdentity,
    sample_id: str | None,
    table: str = "variants",
    block_size: int = DEFAULT_BLOCK_SIZE,
    bcftools: str = "bcftools",
) -> PublishResult:
    """Convert and atomically publish one VCF into the lake under partition path
    ``<lake_root>/<table>/run_id=<run>/pipeline_version=<pv>/reference=<ref>/aligner=<a>/caller=<c>/sample_id=<sample>/part-00000.parquet``.

    ``identity`` is the analysis that produced the VCF; its five parts are
    partition values (queryable columns, not stored in the files). ``vcf`` may
    be VCF, VCF.gz (bgzip or gzip) or BCF, with any number of samples or none
    (sites-only: one row per variant, partition ``sample_id=<sample_id or
    "sites">``). ``sample_id=None`` takes the sample names from the VCF, one
    partition per sample; a given ``sample_id`` names the only sample of a
    single-sample VCF or selects one of a multi-sample VCF.

    Publishing replaces exactly the partitions written (same identity and
    sample): re-running never duplicates rows and never touches another
    analysis (other version, reference, aligner or caller). Malformed input
    raises :class:`VcfFormatError` naming the file and line, and publishes
    nothing. Returns the partitions and row counts.
    """
    started = time.monotonic()
    vcf = Path(vcf)
    check_table(table)
    _check_identity(identity)
    header = read_header(vcf, bcftools=bcftools)
    plan = _sample_plan(vcf, header.samples, sample_id)
    with Transaction(lake_root, table) as txn:
        outputs = [
            SampleOutput(vcf_sample, txn.stage(Partition.of(table, identity, sid)) / PART_FILE)
            for vcf_sample, sid in plan
        ]
        stats = convert_stream(vcf, header, outputs, bcftools=bcftools, block_size=block_size)
        done = [
            Partition.of(table, identity, sid, rows=o.rows, files=(PART_FILE,))
            for (_, sid), o in zip(plan, outputs)
        ]
        txn.commit(done)
    result = PublishResult(table=table, lake_root=Path(lake_root), partitions=done, records=stats.records)
    result.seconds = time.monotonic() - started  # type: ignore[attr-defined]
    return result


def publish_qc_metrics(
    lake_root: str | Path, rows: list[dict], *, identity: AnalysisIdentity, table: str = "qc_metrics"
) -> PublishResult:
    """Atomically publish one analysis's per-sample QC metrics (one row per sample)
    under ``<lake_root>/<table>/run_id=<run>/pipeline_version=<pv>/reference=<ref>/aligner=<a>/caller=<c>/``.

    Each row needs ``sample_id``; ``read_pairs``, ``pct_mapped``,
    ``pct_duplicates``, ``mean_depth``, ``variants_called``, ``precision``,
    ``recall`` and ``f1`` may be missing or None (stored as null). A row may
    repeat identity fields (``run_id``, ``reference``, ...) if they equal
    ``identity``'s; they are partition values, not stored in the file.
    Publishing the same identity again replaces that partition only.
    """
    check_table(table)
    _check_identity(identity)
    names = set(QC_METRICS_SCHEMA.names)
    expected = identity.to_dict()
    seen: set[str] = set()
    for i, row in enumerate(rows):
        unknown = set(row) - names - set(expected)
        if unknown:
            raise ValueError(f"QC row {i}: unknown field(s) {sorted(unknown)}; expected {sorted(names)}")
        for key in [k for k in expected if k in row]:
            if row[key] != expected[key]:
                raise ValueError(f"QC row {i}: {key}={row[key]!r} does not match the identity's {expected[key]!r}")
        sid = check_value("sample_id", row.get("sample_id"))
        if sid in seen:
            raise ValueError(f"QC row {i}: sample {sid!r} appears twice")
        seen.add(sid)
    data = pa.Table.from_pylist(
        [{k: r.get(k) for k in QC_METRICS_SCHEMA.names} for r in rows], schema=QC_METRICS_SCHEMA
    )
    part = Partition.of(table, identity, rows=data.num_rows, files=(PART_FILE,))
    with Transaction(lake_root, table) as txn:
        pq.write_table(data, txn.stage(part) / PART_FILE, compression="zstd")
        txn.commit([part])
    return PublishResult(table=table, lake_root=Path(lake_root), partitions=[part])
