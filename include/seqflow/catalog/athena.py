"""Athena / Glue Data Catalog: DDL and partition registration, as arguments.

Nothing here calls AWS: functions return SQL strings or the keyword arguments
of a boto3 call, so they are testable without credentials and the Airflow
operators (Athena, Glue) stay thin. Registration is explicit and idempotent —
``ALTER TABLE ... ADD IF NOT EXISTS PARTITION`` or Glue
``BatchCreatePartition`` whose ``AlreadyExistsException`` entries are ignored —
and never a crawler on the hot path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from seqflow.catalog.sql import load
from seqflow.lake.staging import Partition, check_table

#: Athena accepts at most this many PARTITION clauses per ALTER TABLE in
#: practice (statement size limit); Glue BatchCreatePartition takes 100.
PARTITIONS_PER_CALL = 100

PARQUET_STORAGE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}


@dataclass(frozen=True)
class TableDef:
    """Columns and partition keys declared by a table's DDL file."""

    name: str
    columns: list[tuple[str, str]]  # (name, Hive type)
    partition_keys: list[tuple[str, str]]


def render_ddl(table: str, location: str) -> str:
    """The table's CREATE EXTERNAL TABLE with its location filled in."""
    check_table(table)
    if not re.match(r"^(s3|file)://[^\s']+/$", location):
        raise ValueError(f"table location {location!r} must be an s3:// or file:// URI ending in '/'")
    return load(table, "ddl").replace("${location}", location)


def table_def(table: str) -> TableDef:
    """Parse a DDL file into its column and partition definitions."""
    tree = sqlglot.parse_one(render_ddl(table, "s3://bucket/prefix/"), read="athena")
    schema = tree.this
    columns = [(c.name, c.args["kind"].sql("hive").lower()) for c in schema.expressions]
    parts = tree.find(exp.PartitionedByProperty)
    keys = [(c.name, c.args["kind"].sql("hive").lower()) for c in parts.this.expressions] if parts else []
    return TableDef(table, columns, keys)


def partition_location(location_root: str, partition: Partition) -> str:
    """URI of a partition's folder under the lake root (``s3://bucket/lake``)."""
    return f"{location_root.rstrip('/')}/{partition.relpath}/"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def add_partitions_sql(table: str, partitions: Iterable[Partition], location_root: str) -> list[str]:
    """``ALTER TABLE ... ADD IF NOT EXISTS PARTITION`` statements (idempotent)."""
    check_table(table)
    parts = [p for p in partitions if p.table == table]
    statements = []
    for i in range(0, len(parts), PARTITIONS_PER_CALL):
        clauses = []
        for p in parts[i : i + PARTITIONS_PER_CALL]:
            spec = ", ".join(f"{k} = {_quote(v)}" for k, v in p.values.items())
            clauses.append(f"  PARTITION ({spec}) LOCATION {_quote(partition_location(location_root, p))}")
        statements.append(f"ALTER TABLE {table} ADD IF NOT EXISTS\n" + "\n".join(clauses))
    return statements


def glue_batch_create_partition_args(
    database: str, table: str, partitions: Iterable[Partition], location_root: str
) -> list[dict]:
    """Keyword arguments of ``glue.batch_create_partition`` calls (100 per call).

    ``Values`` are in the table's partition key order (``run_id``,
    ``pipeline_version``, ``reference``, ``aligner``, ``caller``, then
    ``sample_id`` for ``variants``), the location is the partition's folder.
    Each partition gets the table's columns and Parquet storage so that Athena
    reads it without a crawler. Pair with :func:`unexpected_partition_errors`.
    """
    tdef = table_def(table)
    columns = [{"Name": n, "Type": t} for n, t in tdef.columns]
    keys = [k for k, _ in tdef.partition_keys]
    parts = [p for p in partitions if p.table == table]
    calls = []
    for i in range(0, len(parts), PARTITIONS_PER_CALL):
        inputs = []
        for p in parts[i : i + PARTITIONS_PER_CALL]:
            values = p.values
            if list(values) != keys:
                raise ValueError(f"partition {p.relpath} does not match the keys {keys} of {table}")
            inputs.append(
                {
                    "Values": [values[k] for k in keys],
                    "StorageDescriptor": {
                        "Columns": columns,
                        "Location": partition_location(location_root, p),
                        **PARQUET_STORAGE,
                    },
                }
            )
        calls.append({"DatabaseName": database, "TableName": table, "PartitionInputList": inputs})
    return calls


def unexpected_partition_errors(response: dict) -> list[dict]:
    """Errors of a BatchCreatePartition response other than "already exists"."""
    return [
        e for e in response.get("Errors", [])
        if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"
    ]
