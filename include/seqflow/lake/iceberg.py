"""The lake's Apache Iceberg tables: catalog, schemas, partition spec, atomic commits.

Three tables, ``variants``, ``qc_metrics`` and ``step_costs``, in one namespace (the Glue
database on AWS, a SQL catalog on SQLite locally). Rows carry their
provenance as ordinary columns (the analysis identity and ``sample_id``);
the partition spec is hidden (:data:`PARTITION_SPEC`, chosen by
``bench/lake_partitioning.py``, see ``docs/lake.md``).

Every publish is one Iceberg commit: the data files are written first (no
reader sees them, since readers only read the files a snapshot lists), then
one ``OVERWRITE`` snapshot removes the files of the rows being replaced and
adds the new ones, and the catalog swaps the table's metadata pointer in one
compare-and-swap (a SQLite transaction locally, Glue ``UpdateTable`` with the
table version on AWS). A writer killed at any point leaves readers on the old
snapshot or the new one; what it wrote before the swap is unreferenced files.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from seqflow.identity import FIELDS as IDENTITY_FIELDS
from seqflow.identity import AnalysisIdentity
from seqflow.lake.schema import QC_METRICS_SCHEMA, STEP_COSTS_SCHEMA, VARIANT_SCHEMA
from seqflow.lake.staging import check_table, check_value

log = logging.getLogger(__name__)

#: Namespace of the local SQL catalog (on AWS: the Glue database's name).
LOCAL_NAMESPACE = "seqflow"
#: Folder of the Iceberg tables under the lake root (``<root>/iceberg/<table>/``), in both
#: profiles; a lake of the earlier Hive layout keeps ``<root>/<table>/run_id=…`` beside it
#: until ``seqflow lake migrate`` has copied it.
ICEBERG_DIR = "iceberg"
#: The local SQL catalog's file, beside the tables.
LOCAL_CATALOG_FILE = "catalog.sqlite"
TABLES = ("variants", "qc_metrics", "step_costs")
#: Provenance columns of each table, appended after the data columns.
PROVENANCE = {"variants": (*IDENTITY_FIELDS, "sample_id"), "qc_metrics": tuple(IDENTITY_FIELDS),
              "step_costs": tuple(IDENTITY_FIELDS)}

#: Hidden partitioning of ``variants``: (source column, transform, partition field name).
#: Chosen by measurement on cohort queries (bench/lake_partitioning.py, docs/lake.md).
#: Columns after the provenance that keep what a provenance value was made from:
#: ``sample_name`` is the VCF's own name of the sample (any Unicode text), whose
#: ``sample_id`` may be a safe mapping of it (:func:`seqflow.lake.staging.safe_sample_id`);
#: null where the VCF has no sample column (sites-only). Not part of any commit filter.
ORIGINALS = {"variants": ("sample_name",)}
#: Parquet key-value metadata of a staged file in the converter's plain form: the sample's VCF name.
SAMPLE_NAME_KEY = b"seqflow.sample_name"
PARTITION_SPEC: tuple[tuple[str, str, str], ...] = (("sample_id", "bucket[16]", "sample_bucket"),)
QC_PARTITION_SPEC: tuple[tuple[str, str, str], ...] = ()

#: Columns whose full min/max go into the manifests: provenance (so an
#: overwrite finds the files of an analysis exactly, without rewriting any)
#: and coordinates (region queries prune whole files).
FULL_METRICS = (*IDENTITY_FIELDS, "sample_id", "contig")
BOUNDED_METRICS = ("pos", "start", "end", "qual")

#: Rows of a data file before the writer starts another (bounds memory of the
#: commit step and keeps files at a size Athena splits well).
TARGET_FILE_ROWS = 4_000_000

#: Parquet writer settings of the data files: the converter's (measured
#: there) plus dictionary pages and statistics for the provenance columns.
WRITER_OPTIONS = dict(
    use_dictionary=[
        "contig", "ref", "filters.list.element", "info.key_value.key", "info.key_value.value",
        "format.key_value.key", "gt.list.element", "alt.list.element", *IDENTITY_FIELDS, "sample_id",
    ],
    write_statistics=["contig", "pos", "start", "end", "qual", "info_dp", "gq", "dp", *IDENTITY_FIELDS, "sample_id"],
    column_encoding={"pos": "DELTA_BINARY_PACKED", "start": "DELTA_BINARY_PACKED", "end": "DELTA_BINARY_PACKED"},
    compression="zstd",
)


def arrow_schema(table: str) -> pa.Schema:
    """The table's Arrow schema: the data columns, then the provenance columns."""
    check_table(table)
    if table == "variants":
        data = VARIANT_SCHEMA
    elif table == "qc_metrics":
        data = pa.schema([f for f in QC_METRICS_SCHEMA if f.name not in PROVENANCE["qc_metrics"]])
    elif table == "step_costs":
        data = pa.schema([f for f in STEP_COSTS_SCHEMA if f.name not in PROVENANCE["step_costs"]])
    else:
        raise ValueError(f"unknown lake table {table!r}; known: {', '.join(TABLES)}")
    names = set(data.names)
    extra = [pa.field(k, pa.string(), nullable=False) for k in PROVENANCE[table] if k not in names]
    originals = [pa.field(k, pa.string()) for k in ORIGINALS.get(table, ())]
    return pa.schema(list(data) + extra + originals)


def iceberg_schema(table: str):
    """The table's Iceberg schema (field ids assigned in column order)."""
    from pyiceberg.io.pyarrow import _pyarrow_to_schema_without_ids
    from pyiceberg.schema import assign_fresh_schema_ids

    return assign_fresh_schema_ids(_pyarrow_to_schema_without_ids(arrow_schema(table)))


def glue_columns(table: str) -> list[dict[str, str]]:
    """The table's columns as the Glue Data Catalog types them (pyiceberg's own mapping, the one its
    commits write): what Terraform declares the table with (``terraform/modules/glue_athena/lake_tables.json``,
    :func:`glue_tables_json`)."""
    from pyiceberg.catalog.glue import _IcebergSchemaToGlueType
    from pyiceberg.schema import visit

    return [{"name": f.name, "type": visit(f.field_type, _IcebergSchemaToGlueType())}
            for f in iceberg_schema(table).fields]


def glue_tables_json() -> str:
    """``lake_tables.json`` of ``terraform/modules/glue_athena``: each table's Glue columns."""
    import json

    return json.dumps({t: glue_columns(t) for t in TABLES}, indent=2) + "\n"


def _transform(text: str):
    from pyiceberg.transforms import parse_transform

    return parse_transform(text)


def partition_spec(schema, spec: Iterable[tuple[str, str, str]]):
    """A PartitionSpec of ``schema`` from (source column, transform, name) triples."""
    from pyiceberg.partitioning import PartitionField, PartitionSpec

    fields = [
        PartitionField(source_id=schema.find_field(src).field_id, field_id=1000 + i, transform=_transform(tr), name=name)
        for i, (src, tr, name) in enumerate(spec)
    ]
    return PartitionSpec(*fields)


def table_properties(table: str) -> dict[str, str]:
    """Iceberg table properties: zstd, format v2, what the manifests keep of each column."""
    props = {
        "format-version": "2",
        "write.parquet.compression-codec": "zstd",
        # only the columns the data files keep statistics for (WRITER_OPTIONS) have metrics
        "write.metadata.metrics.default": "none",
        # old metadata files are not kept forever; snapshots (time travel) are expired explicitly
        "write.metadata.delete-after-commit.enabled": "true",
        "write.metadata.previous-versions-max": "100",
    }
    names = set(arrow_schema(table).names)
    for col in FULL_METRICS:
        if col in names:
            props[f"write.metadata.metrics.column.{col}"] = "full"
    for col in BOUNDED_METRICS:
        if col in names:
            props[f"write.metadata.metrics.column.{col}"] = "truncate(16)"
    return props


# -- the catalog ---------------------------------------------------------------------------


def local_catalog(lake_root: str | Path):
    """The SQL catalog (SQLite) of a local lake: ``<lake_root>/iceberg/catalog.sqlite``."""
    from pyiceberg.catalog.sql import SqlCatalog

    root = Path(lake_root).resolve() / ICEBERG_DIR
    root.mkdir(parents=True, exist_ok=True)
    return SqlCatalog("seqflow", uri=f"sqlite:///{root / LOCAL_CATALOG_FILE}", warehouse=root.as_uri())


def glue_catalog(region: str | None = None, **properties: str):
    """The Glue Data Catalog (AWS). ``properties`` are pyiceberg's (e.g. ``glue.endpoint``, ``s3.endpoint``)."""
    from pyiceberg.catalog.glue import GlueCatalog

    props = dict(properties)
    if region:
        props.setdefault("glue.region", region)
        props.setdefault("s3.region", region)
    return GlueCatalog("seqflow", **props)


@dataclass
class Lake:
    """The lake's tables in one catalog namespace; table folders under ``location``."""

    catalog: object
    namespace: str
    location: str  # folder of the tables: file:///<root>/iceberg or s3://bucket/prefix/iceberg
    partition: tuple[tuple[str, str, str], ...] = PARTITION_SPEC

    @classmethod
    def local(cls, lake_root: str | Path, *, partition=PARTITION_SPEC) -> Lake:
        """The local profile's lake: SQLite catalog and tables under ``<lake_root>/iceberg/``."""
        root = Path(lake_root).resolve()
        return cls(local_catalog(root), LOCAL_NAMESPACE, (root / ICEBERG_DIR).as_uri(), tuple(partition))

    @classmethod
    def glue(cls, lake_uri: str, database: str, *, region: str | None = None, partition=PARTITION_SPEC,
             **properties: str) -> Lake:
        """The aws profile's lake: the Glue database ``database``, tables under ``<lake_uri>/iceberg/``."""
        if not lake_uri.startswith("s3://"):
            raise ValueError(f"lake_uri {lake_uri!r} is not an s3:// URI")
        return cls(glue_catalog(region, **properties), database, f"{lake_uri.rstrip('/')}/{ICEBERG_DIR}",
                   tuple(partition))

    def identifier(self, table: str) -> tuple[str, str]:
        return (self.namespace, check_table(table))

    def table_location(self, table: str) -> str:
        return f"{self.location.rstrip('/')}/{check_table(table)}"

    def exists(self, table: str) -> bool:
        return self.catalog.table_exists(self.identifier(table))

    def ensure(self, table: str):
        """The table, created (empty) if missing."""
        from pyiceberg.exceptions import NamespaceAlreadyExistsError, TableAlreadyExistsError

        ident = self.identifier(table)
        if self.catalog.table_exists(ident):
            return self._align(self.catalog.load_table(ident), table)
        try:
            self.catalog.create_namespace(self.namespace)
        except NamespaceAlreadyExistsError:
            pass
        schema = iceberg_schema(table)
        spec = partition_spec(schema, self._spec(table))
        try:
            return self.catalog.create_table(
                ident, schema=schema, partition_spec=spec, location=self.table_location(table),
                properties=table_properties(table),
            )
        except TableAlreadyExistsError:  # another writer created it first
            return self.catalog.load_table(ident)

    def _spec(self, table: str) -> tuple[tuple[str, str, str], ...]:
        return self.partition if table == "variants" else QC_PARTITION_SPEC

    def _align(self, tbl, table: str):
        """A table declared before its first commit by someone else (Terraform's
        ``aws_glue_catalog_table`` with ``metadata_operation = "CREATE"``: Glue writes the Iceberg
        metadata from the columns, unpartitioned, with its own field ids and properties) gets
        this lake's partition spec and table properties in one commit, while it has no snapshot.
        A table that has data keeps its spec (its files were written to it). Any table gets the
        optional columns the code added since it was made (``sample_name``)."""
        names = {f.name for f in tbl.schema().fields}
        added = [f for f in iceberg_schema(table).fields if f.name not in names]
        if added:
            # a column the code added since the table was made (sample_name): an optional column,
            # null in the files written before (Iceberg schema evolution, no file rewritten)
            if any(f.name in PROVENANCE[table] for f in added):
                raise RuntimeError(f"{'.'.join(tbl.name())} lacks the provenance column(s) "
                                   f"{[f.name for f in added if f.name in PROVENANCE[table]]} of the lake's {table}")
            log.info("%s: adding column(s) %s", ".".join(tbl.name()), [f.name for f in added])
            with tbl.update_schema() as update:
                for f in added:
                    update.add_column(f.name, f.field_type, doc=f.doc)
            tbl.refresh()
        if tbl.current_snapshot() is not None:
            return tbl
        schema = tbl.schema()
        have_spec = [(schema.find_field(f.source_id).name, str(f.transform), f.name) for f in tbl.spec().fields]
        want_spec = [(src, str(_transform(tr)), name) for src, tr, name in self._spec(table)]
        props = {k: v for k, v in table_properties(table).items()
                 if k != "format-version" and tbl.properties.get(k) != v}
        if have_spec == want_spec and not props:
            return tbl
        log.info("%s: declared outside seqflow; setting its partition spec %s and %d properties",
                 ".".join(tbl.name()), want_spec, len(props))
        with tbl.transaction() as tx:
            if have_spec != want_spec:
                with tx.update_spec() as update:
                    for _, _, name in have_spec:
                        update.remove_field(name)
                    for src, tr, name in self._spec(table):
                        update.add_field(src, _transform(tr), name)
            if props:
                tx.set_properties(props)
        tbl.refresh()
        return tbl

    def table(self, table: str):
        """The table (it must exist)."""
        return self.catalog.load_table(self.identifier(table))

    def ensure_all(self) -> None:
        for t in TABLES:
            self.ensure(t)


# -- writing data files ---------------------------------------------------------------------


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string()))


def with_provenance(batch: pa.RecordBatch | pa.Table, values: dict[str, str], schema: pa.Schema,
                    constants: dict[str, str | None] | None = None) -> pa.Table:
    """The data columns of ``batch`` with constant provenance columns, in ``schema``'s order.

    A column that ``batch`` lacks takes its value from ``constants`` (``sample_name``), else null
    (a file written before the column existed)."""
    n = batch.num_rows
    values = {**(constants or {}), **values}
    cols = []
    have = set(batch.schema.names)
    for f in schema:
        if f.name in values and values[f.name] is not None:
            cols.append(_constant(values[f.name], n))
        elif f.name in have:
            col = batch.column(f.name)
            cols.append(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
        else:
            cols.append(pa.nulls(n, pa.dictionary(pa.int32(), pa.string()) if f.name in values else f.type))
    write_schema = pa.schema(
        [f.with_type(pa.dictionary(pa.int32(), pa.string())) if f.name in values else f for f in schema],
        metadata=schema.metadata,
    )
    return pa.Table.from_arrays(cols, schema=write_schema)


def _small(t: pa.DataType) -> pa.DataType:
    """``t`` with 32-bit offsets (pyiceberg's Arrow schema uses large types; Parquet has no such
    distinction, and the converter's Arrow columns are small): a cast is then a relabel, not a copy."""
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_list(t) or pa.types.is_list(t):
        f = t.value_field
        return pa.list_(f.with_type(_small(f.type)))
    if pa.types.is_map(t):
        k, v = t.key_field, t.item_field
        return pa.map_(k.with_type(_small(k.type)), v.with_type(_small(v.type)))
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_small(f.type)) for f in t])
    return t


def file_schema(iceberg) -> pa.Schema:
    """The Arrow schema of the lake's data files: the table's columns with their Iceberg field ids."""
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    return pa.schema([f.with_type(_small(f.type)) for f in schema_to_pyarrow(iceberg)])


def _partition_record(spec, schema, values: dict[str, object]):
    from pyiceberg.typedef import Record

    out = []
    for pf in spec.fields:
        source = schema.find_field(pf.source_id)
        out.append(pf.transform.transform(source.field_type)(values[source.name]))
    return Record(*out)


def data_file(tbl, path: str, meta: pq.FileMetaData, partition):
    """The pyiceberg ``DataFile`` entry of a finished Parquet file of ``tbl`` (statistics from its footer)."""
    from pyiceberg.io.pyarrow import (
        compute_statistics_plan,
        data_file_statistics_from_parquet_metadata,
        parquet_path_to_id_mapping,
    )
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat

    schema = tbl.schema()
    stats = data_file_statistics_from_parquet_metadata(
        parquet_metadata=meta,
        stats_columns=compute_statistics_plan(schema, tbl.properties),
        parquet_column_mapping=parquet_path_to_id_mapping(schema),
    )
    return DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=partition,
        file_size_in_bytes=len(tbl.io.new_input(path)),
        sort_order_id=None,
        spec_id=tbl.metadata.default_spec_id,
        equality_ids=None,
        key_metadata=None,
        **stats.to_serialized_dict(),
    )


class DataFileWriter:
    """Writes rows of one partition of a table into data files under the table's ``data/`` folder.

    Files are named by a fresh uuid: nothing a reader sees changes until they
    are committed. :meth:`close` returns their pyiceberg ``DataFile`` entries.
    """

    def __init__(self, tbl, partition_values: dict[str, object], *, target_rows: int = TARGET_FILE_ROWS):
        self.tbl = tbl
        self.schema = tbl.schema()
        self.spec = tbl.spec()
        self.arrow = file_schema(self.schema)
        self.partition = _partition_record(self.spec, self.schema, partition_values)
        self.target_rows = target_rows
        self.files: list = []
        self._writer = None
        self._stream = None
        self._out = None
        self._rows = 0

    def _open(self, write_schema: pa.Schema) -> None:
        path = f"{self.tbl.location().rstrip('/')}/data/{uuid.uuid4()}.parquet"
        self._out = self.tbl.io.new_output(path)
        self._stream = self._out.create(overwrite=False)
        self._writer = pq.ParquetWriter(self._stream, write_schema, store_schema=False, **WRITER_OPTIONS)
        self._path = path
        self._rows = 0

    def write(self, table: pa.Table) -> None:
        """Append rows (already in the table's column order, see :func:`with_provenance`)."""
        if table.num_rows == 0 and self._writer is not None:
            return
        # carry the Iceberg field ids in the Parquet schema (readers map columns by id);
        # constant provenance columns stay dictionary-encoded (one value per file)
        schema = pa.schema(
            [af.with_type(tf.type) if pa.types.is_dictionary(tf.type) else af for af, tf in zip(self.arrow, table.schema)]
        )
        table = table.cast(schema) if table.schema != schema else table
        if self._writer is None:
            self._open(schema)
        self._writer.write_table(table)
        self._rows += table.num_rows
        if self._rows >= self.target_rows:
            self._finish()

    def _finish(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._stream.close()
        self.files.append(data_file(self.tbl, self._path, self._writer.writer.metadata, self.partition))
        self._writer = self._stream = None

    def close(self) -> list:
        self._finish()
        return self.files


def write_sample_files(tbl, batches: Iterator[pa.RecordBatch], values: dict[str, str],
                       constants: dict[str, str | None] | None = None) -> tuple[list, int]:
    """Data files of one sample's rows (``values``: its provenance), split by the partition spec.

    A spec with ``contig`` in it gets one writer per contig (VCFs are sorted,
    so one is open at a time in practice). Returns (DataFiles, rows).
    """
    schema = arrow_schema(tbl.name()[-1])
    spec_sources = {tbl.schema().find_field(f.source_id).name for f in tbl.spec().fields}
    by_contig = "contig" in spec_sources
    writers: dict[object, DataFileWriter] = {}
    rows = 0
    for batch in batches:
        data = with_provenance(batch, values, schema, constants)
        rows += data.num_rows
        if by_contig:
            import pyarrow.compute as pc

            contigs = data.column("contig")
            for contig in pc.unique(contigs).to_pylist():
                part = data.filter(pc.equal(contigs, contig))
                key = contig
                if key not in writers:
                    writers[key] = DataFileWriter(tbl, {**values, "contig": contig})
                writers[key].write(part)
        else:
            if None not in writers:
                writers[None] = DataFileWriter(tbl, dict(values))
            if data.num_rows:
                writers[None].write(data)
    files = [f for w in writers.values() for f in w.close()]
    return files, rows


# -- data files written by the converter itself --------------------------------------------------


def _merge_type(file_field: pa.Field, write_field: pa.Field | None) -> pa.Field:
    """``file_field`` (the table's type, with its Iceberg field ids) with the converter's
    dictionary encoding where the converter has it (``write_field``), so that the writer stores
    the converter's dictionaries as they are instead of decoding and re-hashing them."""
    ft = file_field.type
    if write_field is None:  # a provenance column: one value per file
        return file_field.with_type(pa.dictionary(pa.int32(), pa.string()))
    wt = write_field.type
    if pa.types.is_dictionary(wt) and pa.types.is_string(ft):
        return file_field.with_type(wt)
    if pa.types.is_map(ft) and pa.types.is_map(wt):
        return file_field.with_type(pa.map_(_merge_type(ft.key_field, wt.key_field),
                                            _merge_type(ft.item_field, wt.item_field)))
    if pa.types.is_list(ft) and (pa.types.is_list(wt) or pa.types.is_large_list(wt)):
        return file_field.with_type(pa.list_(_merge_type(ft.value_field, wt.value_field)))
    return file_field


def converter_schema(tbl, write_schema: pa.Schema) -> pa.Schema:
    """The schema in which the converter writes a sample's rows straight into a data file of
    ``tbl``: the table's columns, field ids and types (provenance columns included), keeping the
    converter's dictionary-encoded columns (``write_schema``) as such. A file in this schema is
    a data file of the table as :class:`DataFileWriter` writes them, and is taken into a commit
    without being rewritten (:func:`sample_data_files`)."""
    by_name = {f.name: f for f in write_schema}
    return pa.schema([_merge_type(f, by_name.get(f.name)) for f in file_schema(tbl.schema())])


def _plain(t: pa.DataType) -> pa.DataType:
    """``t`` without dictionary encoding, anywhere in it."""
    if pa.types.is_dictionary(t):
        return _plain(t.value_type)
    if pa.types.is_map(t):
        return pa.map_(t.key_field.with_type(_plain(t.key_type)), t.item_field.with_type(_plain(t.item_type)))
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_plain(t.value_type)))
    return t


def _is_table_file(tbl, meta: pq.FileMetaData, values: dict[str, str]) -> bool:
    """Whether a Parquet file is a data file of ``tbl`` holding only rows of ``values``: the table's
    current schema (names, types, field ids) and every row group's provenance min = max = value."""
    want = file_schema(tbl.schema())
    have = meta.schema.to_arrow_schema()
    if len(have) != len(want):
        return False
    for h, w in zip(have, want):
        if h.name != w.name or not _plain(h.type).equals(_plain(w.type), check_metadata=True) or (
                (h.metadata or {}).get(b"PARQUET:field_id") != (w.metadata or {}).get(b"PARQUET:field_id")):
            return False
    index = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
    for name, value in values.items():
        if name not in index:
            return False
        for g in range(meta.num_row_groups):
            st = meta.row_group(g).column(index[name]).statistics
            if st is None or not st.has_min_max or st.min != value or st.max != value:
                return False
    return True


def _place(tbl, src: Path) -> str:
    """A copy of ``src`` under the table's ``data/`` folder (a hard link when the table is on the
    same local file system): the staged file stays until its sample is committed."""
    import os
    import shutil

    dest = f"{tbl.location().rstrip('/')}/data/{uuid.uuid4()}.parquet"
    if dest.startswith("file://"):
        local = Path(dest.removeprefix("file://"))
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, local)
        except OSError:
            shutil.copyfile(src, local)
        return dest
    with open(src, "rb") as fin, tbl.io.new_output(dest).create(overwrite=False) as out:
        shutil.copyfileobj(fin, out, 8 << 20)
    return dest


def sample_data_files(tbl, files: list[Path], values: dict[str, str], batches) -> tuple[list, int]:
    """The data files of one sample's staged ``files`` (``values``: its provenance).

    Files the converter wrote in the table's own form (:func:`converter_schema`) are taken as
    they are (linked or copied under the table's ``data/``, statistics from their footers) when
    the partition spec depends on provenance columns only; any other file is rewritten by
    :func:`write_sample_files` (``batches(files)`` gives its rows). Returns (DataFiles, rows).
    """
    spec_sources = {tbl.schema().find_field(f.source_id).name for f in tbl.spec().fields}
    metas = [pq.read_metadata(f) for f in files]
    if spec_sources <= set(values) and all(_is_table_file(tbl, m, values) for m in metas):
        partition = _partition_record(tbl.spec(), tbl.schema(), values)
        out = [data_file(tbl, _place(tbl, f), m, partition) for f, m in zip(files, metas) if m.num_rows]
        return out, sum(m.num_rows for m in metas)
    names = {(m.metadata or {}).get(SAMPLE_NAME_KEY) for m in metas}
    name = names.pop().decode("utf-8", "surrogateescape") if len(names) == 1 and None not in names else None
    return write_sample_files(tbl, batches(files), values, {"sample_name": name})


# -- committing --------------------------------------------------------------------------------


def _bound(data_file, field_id: int, field_type):
    from pyiceberg.conversions import from_bytes

    lo = (data_file.lower_bounds or {}).get(field_id)
    hi = (data_file.upper_bounds or {}).get(field_id)
    if lo is None or hi is None:
        return None
    lo, hi = from_bytes(field_type, lo), from_bytes(field_type, hi)
    return lo if lo == hi else None


def replace_filter(values: dict[str, str | list[str]]):
    """The row filter of an overwrite: each provenance column equal to a value (or in a list)."""
    from pyiceberg.expressions import And, AlwaysTrue, EqualTo, In

    expr = AlwaysTrue()
    for k, v in values.items():
        if isinstance(v, (list, tuple, set)):
            for item in v:
                check_value(k, item)
            term = In(k, tuple(sorted(v)))
        else:
            term = EqualTo(k, check_value(k, v))
        expr = term if isinstance(expr, AlwaysTrue) else And(expr, term)
    return expr


def files_to_replace(tbl, values: dict[str, str | list[str]]) -> list:
    """The live data files of the rows selected by ``values``, exactly.

    Each data file of the lake holds one analysis of one sample, and the
    manifests keep the full min/max of the provenance columns, so a file is
    either wholly selected or not at all: no file is ever rewritten. A file
    that mixes values (which seqflow never writes) is refused rather than
    partly deleted.
    """
    if tbl.current_snapshot() is None:
        return []
    schema = tbl.schema()
    out = []
    for task in tbl.scan(row_filter=replace_filter(values)).plan_files():
        df = task.file
        for name, want in values.items():
            f = schema.find_field(name)
            have = _bound(df, f.field_id, f.field_type)
            wanted = set(want) if isinstance(want, (list, tuple, set)) else {want}
            if have is None:
                raise RuntimeError(f"{df.file_path}: holds several values of {name}; refusing a partial overwrite")
            if have not in wanted:
                break
        else:
            out.append(df)
    return out


def publish_id(files: Iterable) -> str:
    """A stable id of a set of data files: a retried commit of the same files is recognised."""
    digest = hashlib.sha256()
    for path in sorted(f.file_path for f in files):
        digest.update(path.encode() + b"\n")
    return digest.hexdigest()[:32]


#: Attempts of a commit that another writer's commit got in before (optimistic concurrency).
COMMIT_ATTEMPTS = 5


def commit_replace(tbl, values: dict[str, str | list[str]], new_files: list, *, properties: dict | None = None) -> int | None:
    """One OVERWRITE snapshot: drop the files of the rows ``values`` selects, add ``new_files``.

    Idempotent: when the table's current snapshot was made by a commit of the
    same files, nothing is done. When another writer committed first (the
    catalog's compare-and-swap fails), the table is re-read and the commit
    made again on top of it. Returns the snapshot id.
    """
    import time

    from pyiceberg.exceptions import CommitFailedException

    for attempt in range(COMMIT_ATTEMPTS):
        try:
            return _commit_replace(tbl, values, new_files, properties)
        except CommitFailedException:
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            log.warning("%s: another writer committed first; retrying", ".".join(tbl.name()))
            time.sleep(0.2 * (attempt + 1))
            tbl.refresh()
    return None


def _commit_replace(tbl, values, new_files, properties) -> int | None:
    pid = publish_id(new_files)
    current = tbl.current_snapshot()
    if current is not None and new_files and current.summary.get("seqflow.publish-id") == pid:
        return current.snapshot_id
    old = files_to_replace(tbl, values)
    props = {"seqflow.publish-id": pid, **{f"seqflow.{k}": (",".join(sorted(v)) if isinstance(v, (list, tuple, set)) else v)
                                          for k, v in values.items()}, **(properties or {})}
    with tbl.transaction() as tx:
        if old or current is not None:
            with tx.update_snapshot(snapshot_properties=props).overwrite() as op:
                for df in old:
                    op.delete_data_file(df)
                for df in new_files:
                    op.append_data_file(df)
        else:
            with tx.update_snapshot(snapshot_properties=props).fast_append() as op:
                for df in new_files:
                    op.append_data_file(df)
    tbl.refresh()
    snap = tbl.current_snapshot()
    log.info("%s: snapshot %s replaced %d file(s) with %d", ".".join(tbl.name()), snap.snapshot_id if snap else None,
             len(old), len(new_files))
    return snap.snapshot_id if snap else None


def identity_values(identity: AnalysisIdentity) -> dict[str, str]:
    return {k: check_value(k, v) for k, v in identity.to_dict().items()}


def snapshots(tbl) -> list[dict]:
    """The table's snapshots, oldest first: id, time, operation and seqflow's summary fields."""
    out = []
    for s in tbl.metadata.snapshots:
        summary = s.summary.additional_properties if s.summary else {}
        out.append({
            "snapshot_id": s.snapshot_id,
            "timestamp_ms": s.timestamp_ms,
            "operation": s.summary.operation.value if s.summary else None,
            **{k: v for k, v in summary.items() if k.startswith("seqflow.") or k in ("added-records", "deleted-records", "total-records")},
        })
    return out


def live_files(tbl, snapshot_id: int | None = None) -> list[str]:
    """Paths of the data files a snapshot (default: the current one) lists.

    seqflow's commits never write delete files (every overwrite replaces whole
    files), so these files are exactly the snapshot's rows; a table with delete
    files (written by another engine) is refused here.
    """
    scan = tbl.scan(snapshot_id=snapshot_id) if snapshot_id is not None else tbl.scan()
    if tbl.current_snapshot() is None and snapshot_id is None:
        return []
    paths = []
    for task in scan.plan_files():
        if task.delete_files:
            raise RuntimeError(f"{'.'.join(tbl.name())} has delete files: read it with pyiceberg instead")
        paths.append(task.file.file_path)
    return paths
