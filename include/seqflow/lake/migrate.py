"""``seqflow lake migrate``: a lake of the earlier Hive layout into the Iceberg tables.

The earlier layout kept one folder per analysis and sample::

    <root>/variants/run_id=…/pipeline_version=…/reference=…/aligner=…/caller=…/sample_id=…/*.parquet
    <root>/qc_metrics/run_id=…/pipeline_version=…/reference=…/aligner=…/caller=…/*.parquet

Each analysis becomes one Iceberg commit per table that replaces that
analysis's rows (of the samples found), so a migration that is interrupted or
run twice converges: nothing is duplicated. Rows are copied unchanged, with
the folder names' values as the provenance columns. Folders of the layout
before the analysis identity (``run_id=/pipeline_version=/sample_id=``, no
reference, aligner or caller) are reported and left alone: their reference is
unknown, and guessing it would store a value that is not in the data.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from seqflow.identity import FIELDS as IDENTITY_FIELDS
from seqflow.identity import AnalysisIdentity
from seqflow.lake import iceberg
from seqflow.lake.staging import check_value

HIVE_TABLES = {"variants": (*IDENTITY_FIELDS, "sample_id"), "qc_metrics": tuple(IDENTITY_FIELDS)}


@dataclass
class MigrationReport:
    """What a migration committed and what it left alone."""

    commits: list[tuple[str, str, int, int]] = field(default_factory=list)  # table, analysis, samples, rows
    skipped: list[tuple[str, str]] = field(default_factory=list)  # folder, reason
    removed: int = 0

    def lines(self) -> list[str]:
        out = [f"{t}\t{a}\t{n} sample(s)\t{rows} rows" for t, a, n, rows in self.commits]
        out += [f"skipped\t{folder}\t{why}" for folder, why in self.skipped]
        out.append(f"{len(self.commits)} commit(s), {sum(c[3] for c in self.commits)} rows"
                   + (f", {self.removed} Hive folder(s) removed" if self.removed else ""))
        return out


def _parse(folder: Path, root: Path) -> dict[str, str] | None:
    values = {}
    for part in folder.relative_to(root).parts:
        key, sep, value = part.partition("=")
        if not sep:
            return None
        values[key] = value
    return values


def hive_partitions(root: str | Path, table: str) -> tuple[dict[AnalysisIdentity, dict[str | None, list[Path]]], list]:
    """{identity: {sample_id (None for qc_metrics): [files]}} of a Hive-layout table, and the folders skipped."""
    base = Path(root) / table
    keys = HIVE_TABLES[table]
    found: dict[AnalysisIdentity, dict[str | None, list[Path]]] = {}
    skipped = []
    if not base.is_dir():
        return found, skipped
    folders = sorted({f.parent for f in base.rglob("*.parquet") if not any(p.startswith(("_", ".")) for p in f.relative_to(base).parts)})
    for folder in folders:
        values = _parse(folder, base)
        if values is None or tuple(values) != keys:
            skipped.append((str(folder), f"not a {table} partition of the layout {'/'.join(k + '=' for k in keys)}"))
            continue
        try:
            identity = AnalysisIdentity.from_dict(values)
            sample = check_value("sample_id", values["sample_id"]) if "sample_id" in values else None
        except ValueError as exc:
            skipped.append((str(folder), str(exc)))
            continue
        found.setdefault(identity, {}).setdefault(sample, []).extend(sorted(folder.glob("*.parquet")))
    return found, skipped


def _batches(files: list[Path]):
    for f in files:
        yield from pq.ParquetFile(f).iter_batches(batch_size=1 << 18)


def _prune_empty(folder: Path, stop: Path) -> None:
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty
            return
        folder = folder.parent


def migrate_hive_lake(source: str | Path, lake: iceberg.Lake, *, remove: bool = False) -> MigrationReport:
    """Copy every analysis of a Hive-layout lake under ``source`` into ``lake``'s Iceberg tables."""
    report = MigrationReport()
    source = Path(source)
    for table in HIVE_TABLES:
        found, skipped = hive_partitions(source, table)
        report.skipped += skipped
        if not found:
            continue
        tbl = lake.ensure(table)
        for identity, samples in sorted(found.items(), key=lambda kv: kv[0].label()):
            values = iceberg.identity_values(identity)
            data_files, rows = [], 0
            if table == "variants":
                for sid, files in sorted(samples.items()):
                    written, n = iceberg.write_sample_files(tbl, _batches(files), {**values, "sample_id": sid})
                    data_files += written
                    rows += n
                replace = {**values, "sample_id": sorted(samples)}
            else:
                schema = iceberg.arrow_schema(table)
                writer = iceberg.DataFileWriter(tbl, values)
                for batch in _batches(samples[None]):
                    data = iceberg.with_provenance(batch, values, schema)
                    rows += data.num_rows
                    writer.write(data)
                data_files = writer.close()
                replace = values
            iceberg.commit_replace(tbl, replace, data_files, properties={"seqflow.migrated-from": "hive"})
            report.commits.append((table, identity.label(), len(samples), rows))
            if remove:
                for files in samples.values():
                    for folder in {f.parent for f in files}:
                        shutil.rmtree(folder, ignore_errors=True)
                        report.removed += 1
                        _prune_empty(folder.parent, source / table)
    return report
