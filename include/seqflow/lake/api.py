"""The lake's public operations: convert VCFs, publish them in one Iceberg commit, publish QC metrics.

Publishing is two steps, so that a run's samples (converted one by one, in
parallel) reach readers in one atomic commit:

1. :func:`convert_vcf_to_parquet` converts a VCF into per-sample Parquet files
   in a staging folder that no reader looks at (:mod:`seqflow.lake.staging`);
2. :func:`publish_staged` rewrites every staged sample of an analysis into the
   ``variants`` table's data files (adding the provenance columns) and makes
   one Iceberg commit that replaces exactly those samples' rows of that
   analysis (:func:`seqflow.lake.iceberg.commit_replace`).

:func:`publish_vcf` does both for one VCF (the ``seqflow vcf-to-parquet``
command).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from seqflow.identity import AnalysisIdentity
from seqflow.lake import iceberg
from seqflow.lake.converter import DEFAULT_BLOCK_SIZE, WRITE_SCHEMA, SampleOutput, convert_stream
from seqflow.lake.header import VcfFormatError, read_header
from seqflow.lake.schema import QC_METRICS_SCHEMA, STEP_COSTS_SCHEMA
from seqflow.lake.staging import Partition, PublishResult, Staging, check_table, check_value, safe_sample_id

#: Sample id of a sites-only VCF converted without one.
SITES_ONLY_SAMPLE_ID = "sites"
PART_FILE = "part-00000.parquet"
#: Rows per batch when staged files are rewritten into the table.
REWRITE_BATCH_ROWS = 1 << 18


def _sample_plan(vcf: Path, vcf_samples: list[str], sample_id: str | None) -> list[tuple[str | None, str]]:
    """(VCF column, lake sample id) pairs to convert.

    A VCF sample name in any script maps to a safe sample id (:func:`safe_sample_id`: itself if
    already safe); the name itself goes to the ``sample_name`` column."""
    if not vcf_samples:
        return [(None, check_value("sample_id", sample_id or SITES_ONLY_SAMPLE_ID))]
    if sample_id is None:
        plan = [(s, safe_sample_id(s)) for s in vcf_samples]
        ids = [sid for _, sid in plan]
        if len(set(ids)) != len(ids):
            raise VcfFormatError(vcf, None, f"sample names {vcf_samples} give repeated sample ids {ids}")
        return plan
    if len(vcf_samples) == 1:
        # the run's sample id wins over whatever the caller named its column
        return [(vcf_samples[0], check_value("sample_id", sample_id))]
    if sample_id not in vcf_samples:
        check_value("sample_id", sample_id)
        raise VcfFormatError(vcf, None, f"sample {sample_id!r} is not among the VCF's samples {vcf_samples}")
    return [(sample_id, safe_sample_id(sample_id))]


def _check_identity(identity: AnalysisIdentity) -> AnalysisIdentity:
    if not isinstance(identity, AnalysisIdentity):
        raise TypeError(f"identity must be a seqflow.identity.AnalysisIdentity, not {type(identity).__name__}")
    for key, value in identity.to_dict().items():
        check_value(key, value)
    return identity


def convert_vcf_to_parquet(
    vcf: str | Path,
    staging_root: str | Path,
    *,
    identity: AnalysisIdentity,
    sample_id: str | None,
    table: str = "variants",
    block_size: int = DEFAULT_BLOCK_SIZE,
    bcftools: str = "bcftools",
    lake_table=None,
) -> PublishResult:
    """Convert one VCF into staged per-sample Parquet files (not yet in the lake).

    Each sample's rows go to
    ``<staging_root>/<table>/run_id=…/pipeline_version=…/reference=…/aligner=…/caller=…/sample_id=<s>/part-00000.parquet``
    (the variant columns only; the identity and sample are added when
    :func:`publish_staged` commits them). ``vcf`` may be VCF, VCF.gz or BCF
    with any number of samples or none (sites-only: sample ``sample_id`` or
    ``"sites"``). ``sample_id=None`` takes every sample of the VCF; a given one
    names the only sample of a single-sample VCF or selects one of a
    multi-sample VCF. Converting a sample again replaces its staged folder.
    Malformed input raises :class:`VcfFormatError` naming the file and line and
    stages nothing.

    ``lake_table`` (the lake's pyiceberg table ``table``, optional): the staged
    files are then written in that table's own form, provenance columns and
    field ids included (:func:`seqflow.lake.iceberg.converter_schema`), and
    :func:`publish_staged` commits them without rewriting them (measured by
    ``bench/vcf_to_parquet``: the rewrite cost more than the conversion).
    """
    started = time.monotonic()
    vcf = Path(vcf)
    check_table(table)
    _check_identity(identity)
    header = read_header(vcf, bcftools=bcftools)
    plan = _sample_plan(vcf, header.samples, sample_id)
    table_schema = None
    if lake_table is not None:
        if lake_table.name()[-1] != table:
            raise ValueError(f"lake_table is {'.'.join(lake_table.name())}, not the table {table!r}")
        table_schema = iceberg.converter_schema(lake_table, WRITE_SCHEMA)
    with Staging(staging_root) as staging:
        outputs = [
            SampleOutput(vcf_sample, staging.folder(Partition.of(table, identity, sid)) / PART_FILE,
                         provenance={**iceberg.identity_values(identity), "sample_id": sid, "sample_name": vcf_sample}
                         if table_schema else None, sample_name=vcf_sample)
            for vcf_sample, sid in plan
        ]
        stats = convert_stream(vcf, header, outputs, bcftools=bcftools, block_size=block_size,
                               table_schema=table_schema)
        done = [
            Partition.of(table, identity, sid, rows=o.rows, files=(PART_FILE,))
            for (_, sid), o in zip(plan, outputs)
        ]
        for part in done:
            staging.place(part)
    result = PublishResult(table=table, lake_root=Path(staging_root), partitions=done, records=stats.records)
    result.seconds = time.monotonic() - started  # type: ignore[attr-defined]
    return result


def staged(staging_root: str | Path, identity: AnalysisIdentity, sample_ids: Iterable[str], table: str = "variants"
           ) -> dict[str, list[Path]]:
    """The staged files of each sample (an empty list: not staged)."""
    out = {}
    for sid in sample_ids:
        folder = Partition.of(table, identity, check_value("sample_id", sid)).path(staging_root)
        out[sid] = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    return out


def _batches(files: list[Path]):
    for f in files:
        yield from pq.ParquetFile(f).iter_batches(batch_size=REWRITE_BATCH_ROWS)


def _samples_in_table(tbl, identity: AnalysisIdentity, sample_ids: list[str]) -> set[str]:
    if tbl.current_snapshot() is None:
        return set()
    files = iceberg.files_to_replace(tbl, {**iceberg.identity_values(identity), "sample_id": sample_ids})
    schema = tbl.schema()
    field = schema.find_field("sample_id")
    return {iceberg._bound(f, field.field_id, field.field_type) for f in files}


def publish_staged(
    lake: iceberg.Lake,
    staging_root: str | Path,
    identity: AnalysisIdentity,
    sample_ids: Iterable[str],
    *,
    table: str = "variants",
    remove_staged: bool = True,
) -> PublishResult:
    """Commit the staged samples of one analysis to ``table`` in one Iceberg commit.

    The commit replaces the rows of exactly these samples of this analysis
    (overwrite by filter: the identity and ``sample_id IN (…)``); other
    samples, runs, versions, references, aligners and callers are untouched.
    Readers see the table before or after the commit, never a part of it.
    A sample that is not staged but already in the table (a retry after a
    commit whose clean-up did not finish) is kept as committed; one that is
    in neither is an error, and nothing is committed.
    """
    _check_identity(identity)
    check_table(table)
    sample_ids = [check_value("sample_id", s) for s in sample_ids]
    if len(set(sample_ids)) != len(sample_ids):
        raise ValueError(f"sample ids repeat: {sample_ids}")
    tbl = lake.ensure(table)
    files = staged(staging_root, identity, sample_ids, table)
    missing = [s for s, fs in files.items() if not fs]
    if missing:
        present = _samples_in_table(tbl, identity, missing)
        absent = [s for s in missing if s not in present]
        if absent:
            raise FileNotFoundError(
                f"{identity.label()}: sample(s) {', '.join(absent)} neither staged under {staging_root} "
                f"nor in the lake's {table}: convert them first"
            )
    todo = [s for s in sample_ids if files[s]]
    data_files, parts = [], []
    for sid in todo:
        values = {**iceberg.identity_values(identity), "sample_id": sid}
        written, rows = iceberg.sample_data_files(tbl, files[sid], values, _batches)
        data_files += written
        parts.append(Partition.of(table, identity, sid, rows=rows, files=tuple(f.file_path for f in written)))
    snapshot = None
    if todo:
        snapshot = iceberg.commit_replace(
            tbl, {**iceberg.identity_values(identity), "sample_id": todo}, data_files,
            properties={"seqflow.samples": str(len(todo))},
        )
    if remove_staged:
        for sid in todo:
            shutil.rmtree(Partition.of(table, identity, sid).path(staging_root), ignore_errors=True)
    return PublishResult(table=table, lake_root=Path(staging_root), partitions=parts,
                         records=sum(p.rows for p in parts), snapshot_id=snapshot)


def publish_vcf(
    vcf: str | Path,
    lake: iceberg.Lake,
    *,
    identity: AnalysisIdentity,
    sample_id: str | None,
    table: str = "variants",
    block_size: int = DEFAULT_BLOCK_SIZE,
    bcftools: str = "bcftools",
    staging_root: str | Path | None = None,
) -> PublishResult:
    """Convert one VCF and commit its samples to the lake in one commit (the staged files are
    written in the table's form and committed as they are: see :func:`convert_vcf_to_parquet`)."""
    started = time.monotonic()
    tbl = lake.ensure(table)
    with tempfile.TemporaryDirectory(prefix="seqflow-stage-", dir=staging_root) as tmp:
        converted = convert_vcf_to_parquet(vcf, tmp, identity=identity, sample_id=sample_id, table=table,
                                           block_size=block_size, bcftools=bcftools, lake_table=tbl)
        result = publish_staged(lake, tmp, identity, [p.sample_id for p in converted.partitions], table=table)
    result.records = converted.records
    result.seconds = time.monotonic() - started  # type: ignore[attr-defined]
    return result


def qc_metrics_table(rows: list[dict], identity: AnalysisIdentity) -> pa.Table:
    """The ``qc_metrics`` rows of one analysis, validated, in the table's Arrow schema."""
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
    schema = iceberg.arrow_schema("qc_metrics")
    return pa.Table.from_pylist([{**{k: r.get(k) for k in schema.names}, **expected} for r in rows], schema=schema)


def publish_qc_metrics(lake: iceberg.Lake, rows: list[dict], *, identity: AnalysisIdentity,
                       table: str = "qc_metrics") -> PublishResult:
    """Publish one analysis's per-sample QC metrics (one row per sample) in one commit.

    Each row needs ``sample_id``; ``read_pairs``, ``pct_mapped``,
    ``pct_duplicates``, ``mean_depth``, ``variants_called``, ``precision``,
    ``recall`` and ``f1`` may be missing or None (stored as null). A row may
    repeat identity fields if they equal ``identity``'s. Publishing the same
    identity again replaces its rows (overwrite by filter on the identity).
    """
    check_table(table)
    data = qc_metrics_table(rows, identity)
    tbl = lake.ensure(table)
    values = iceberg.identity_values(identity)
    writer = iceberg.DataFileWriter(tbl, values)
    writer.write(data)
    files = writer.close()
    snapshot = iceberg.commit_replace(tbl, values, files)
    part = Partition.of(table, identity, rows=data.num_rows, files=tuple(f.file_path for f in files))
    return PublishResult(table=table, lake_root=Path(lake.location.removeprefix("file://")), partitions=[part],
                         snapshot_id=snapshot)


def step_costs_table(rows: list[dict], identity: AnalysisIdentity) -> pa.Table:
    """The ``step_costs`` rows of one analysis (one per step and sample), validated, in the table's schema."""
    _check_identity(identity)
    names = set(STEP_COSTS_SCHEMA.names)
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(rows):
        unknown = set(row) - names - set(identity.to_dict())
        if unknown:
            raise ValueError(f"step cost row {i}: unknown field(s) {sorted(unknown)}; expected {sorted(names)}")
        key = (check_value("sample_id", row.get("sample_id")), str(row.get("step") or ""))
        if not key[1] or not row.get("engine"):
            raise ValueError(f"step cost row {i}: step and engine are required, got {row!r}")
        if key in seen:
            raise ValueError(f"step cost row {i}: step {key[1]!r} of sample {key[0]!r} appears twice")
        seen.add(key)
    schema = iceberg.arrow_schema("step_costs")
    expected = identity.to_dict()
    return pa.Table.from_pylist([{**{k: r.get(k) for k in schema.names}, **expected} for r in rows], schema=schema)


def publish_step_costs(lake: iceberg.Lake, rows: list[dict], *, identity: AnalysisIdentity) -> PublishResult:
    """Publish what one analysis's steps used and cost in one commit to ``step_costs``, replacing that
    analysis's earlier rows (overwrite by filter on the identity, as :func:`publish_qc_metrics`)."""
    data = step_costs_table(rows, identity)
    tbl = lake.ensure("step_costs")
    values = iceberg.identity_values(identity)
    writer = iceberg.DataFileWriter(tbl, values)
    writer.write(data)
    files = writer.close()
    snapshot = iceberg.commit_replace(tbl, values, files)
    part = Partition.of("step_costs", identity, rows=data.num_rows, files=tuple(f.file_path for f in files))
    return PublishResult(table="step_costs", lake_root=Path(lake.location.removeprefix("file://")), partitions=[part],
                         snapshot_id=snapshot)


#: Staging folder of a local lake's conversions (``<lake>/_converted/``): beside the
#: Iceberg tables, never read by a query.
LOCAL_STAGING_DIR = "_converted"


def local_staging_root(lake_root: str | Path) -> Path:
    """Where the local profile stages converted samples until their commit."""
    return Path(lake_root) / LOCAL_STAGING_DIR


def publish_samples(lake: iceberg.Lake, staging_root: str | Path, partitions: Iterable[Partition]) -> list[PublishResult]:
    """Commit staged samples, one commit per (table, analysis) among ``partitions``."""
    groups: dict[tuple[str, AnalysisIdentity], list[str]] = {}
    for p in partitions:
        if p.sample_id is None:
            raise ValueError(f"{p.relpath}: only sample rows are staged")
        groups.setdefault((p.table, p.identity), []).append(p.sample_id)
    return [publish_staged(lake, staging_root, identity, samples, table=table)
            for (table, identity), samples in groups.items()]
