"""The local profile's catalog: a DuckDB file standing in for Glue + Athena.

Tables are views over exactly the registered partitions' Parquet files (read
with Hive partitioning), so the local lake answers the same SQL as Athena and
shows only what was registered — registration is explicit here too. The
column list comes from the Athena DDL files, the views and queries from the
same SQL files, transpiled by sqlglot.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb
import sqlglot

from seqflow.catalog import sql as sqlfiles
from seqflow.catalog.athena import table_def
from seqflow.lake.publish import Partition, PublishResult, check_table, check_value

#: Tables the catalog knows (one DDL file each under sql/ddl/).
TABLES = ("variants", "qc_metrics")

_PARTITIONS_DDL = """
CREATE TABLE IF NOT EXISTS seqflow_partitions (
    table_name VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    pipeline_version VARCHAR NOT NULL,
    sample_id VARCHAR NOT NULL,  -- '' for tables without a sample level
    location VARCHAR NOT NULL,
    registered_at TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (table_name, run_id, pipeline_version, sample_id)
)
"""


def _as_partitions(partitions) -> list[Partition]:
    """Accept Partitions, PublishResults, or dicts with the partition keys."""
    if isinstance(partitions, (PublishResult, Partition, dict)):
        partitions = [partitions]
    out: list[Partition] = []
    for p in partitions:
        if isinstance(p, PublishResult):
            out.extend(p.partitions)
        elif isinstance(p, Partition):
            out.append(p)
        elif isinstance(p, dict):
            out.append(Partition(p.get("table", "variants"), p["run_id"], p["pipeline_version"], p.get("sample_id")))
        else:
            raise TypeError(f"cannot register {p!r} as a partition")
    for p in out:
        check_table(p.table)
        for k, v in p.values.items():
            check_value(k, v)
    return out


def _duckdb_type(hive_type: str) -> str:
    return sqlglot.parse_one(f"CAST(NULL AS {hive_type})", read="hive").to.sql("duckdb")


def _table_view(con: duckdb.DuckDBPyConnection, table: str) -> None:
    tdef = table_def(table)
    locations = [r[0] for r in con.execute(
        "SELECT location FROM seqflow_partitions WHERE table_name = ? ORDER BY location", [table]
    ).fetchall()]
    columns = tdef.columns + tdef.partition_keys
    if not locations:
        cols = ", ".join(f'CAST(NULL AS {_duckdb_type(t)}) AS "{n}"' for n, t in columns)
        con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT {cols} WHERE false")
        return
    files = "[" + ", ".join("'" + (loc.rstrip("/") + "/*.parquet").replace("'", "''") + "'" for loc in locations) + "]"
    hive_types = "{" + ", ".join(f"'{k}': 'VARCHAR'" for k, _ in tdef.partition_keys) + "}"
    cols = ", ".join(f'CAST("{n}" AS {_duckdb_type(t)}) AS "{n}"' for n, t in columns)
    con.execute(
        f"CREATE OR REPLACE VIEW {table} AS SELECT {cols} FROM read_parquet({files}, "
        f"hive_partitioning = true, hive_types = {hive_types})"
    )


def _refresh(con: duckdb.DuckDBPyConnection, tables: Iterable[str] = TABLES) -> None:
    con.execute(_PARTITIONS_DDL)
    for table in tables:
        _table_view(con, table)
    for view in sqlfiles.list_views():
        con.execute(sqlfiles.to_duckdb(sqlfiles.load(view, "views")))


def init_catalog(catalog_path: str | Path) -> None:
    """Create the catalog's tables and views if missing (idempotent)."""
    Path(catalog_path).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(catalog_path)) as con:
        _refresh(con)


def register_partitions_duckdb(catalog_path: str | Path, lake_root: str | Path, partitions) -> None:
    """Register published partitions in the local catalog; idempotent.

    ``partitions``: :class:`~seqflow.lake.publish.Partition` objects, a
    :class:`~seqflow.lake.publish.PublishResult`, or dicts with ``table``,
    ``run_id``, ``pipeline_version`` and ``sample_id``. A partition whose
    folder does not exist under ``lake_root`` is refused.
    """
    parts = _as_partitions(partitions)
    lake_root = Path(lake_root).resolve()
    rows = []
    for p in parts:
        folder = p.path(lake_root)
        if not any(folder.glob("*.parquet")):
            raise FileNotFoundError(f"partition {p.relpath} has no Parquet files under {lake_root}")
        rows.append((p.table, p.run_id, p.pipeline_version, p.sample_id or "", str(folder)))
    Path(catalog_path).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(catalog_path)) as con:
        con.execute(_PARTITIONS_DDL)
        con.executemany(
            "INSERT INTO seqflow_partitions (table_name, run_id, pipeline_version, sample_id, location) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            rows,
        )
        _refresh(con)


def registered_partitions(catalog_path: str | Path) -> list[tuple[str, str, str, str]]:
    """(table, run_id, pipeline_version, sample_id) of every registered partition."""
    with duckdb.connect(str(catalog_path)) as con:
        con.execute(_PARTITIONS_DDL)
        return con.execute(
            "SELECT table_name, run_id, pipeline_version, sample_id FROM seqflow_partitions ORDER BY ALL"
        ).fetchall()


def run_query(
    catalog_path: str | Path, lake_root: str | Path, name_or_sql: str, params: dict | None = None
) -> tuple[list[str], list[tuple]]:
    """Run a named query (``sql/<name>.sql``) or ad-hoc Athena SQL on DuckDB.

    The SQL is transpiled from Athena's dialect with sqlglot; ``:name``
    parameters are bound from ``params``. Returns (column names, rows).
    ``lake_root`` is where the catalog's partitions live; it is only used to
    create an empty catalog when none exists yet.
    """
    text = sqlfiles.load(name_or_sql) if sqlfiles.looks_like_name(name_or_sql) else name_or_sql
    params = sqlfiles.check_params(text, params)
    sql = sqlfiles.to_duckdb(text)
    catalog_path = Path(catalog_path)
    if not catalog_path.exists():
        Path(lake_root).mkdir(parents=True, exist_ok=True)
        init_catalog(catalog_path)
    with duckdb.connect(str(catalog_path), read_only=True) as con:
        cur = con.execute(sql, params) if params else con.execute(sql)
        columns = [d[0] for d in cur.description]
        return columns, cur.fetchall()
