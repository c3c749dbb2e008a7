"""The local profile's query side: the lake's Iceberg tables, queried with DuckDB.

For each query an in-memory DuckDB gets one view per Iceberg table over the
data files of the table's current snapshot (or the snapshot current at a
given time: time travel), then the shipped views (``sql/views``), then the
query, transpiled from Athena's dialect by sqlglot. Which snapshot and which
files come from the Iceberg metadata via pyiceberg; DuckDB's Parquet reader
reads them (measured against a pyiceberg scan to Arrow and DuckDB's iceberg
extension: ``bench/lake_query.py``, ``docs/lake.md``). seqflow's commits
never write delete files, so a snapshot's rows are exactly its files' rows
(:func:`seqflow.lake.iceberg.live_files` refuses a table that has some).

The connection can read the tables' data folders and nothing else, and runs
one query only (:mod:`seqflow.catalog.guard`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from seqflow.catalog import guard
from seqflow.catalog import sql as sqlfiles
from seqflow.lake import iceberg

#: Tables of the lake (Iceberg), one view each.
TABLES = iceberg.TABLES


def _quote_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _local_path(uri: str) -> str:
    return uri.removeprefix("file://")


def _empty(table: str) -> pa.Table:
    return iceberg.arrow_schema(table).empty_table()


def _snapshot_as_of(tbl, as_of_ms: int | None) -> int | None:
    if as_of_ms is None:
        snap = tbl.current_snapshot()
    else:
        snap = tbl.snapshot_as_of_timestamp(as_of_ms)
    return snap.snapshot_id if snap else None


def table_views(con: duckdb.DuckDBPyConnection, lake: iceberg.Lake, as_of_ms: int | None = None) -> list[str]:
    """Create a view per lake table over its snapshot's files; returns the folders they read."""
    folders = []
    for table in TABLES:
        tbl = lake.table(table) if lake.exists(table) else None
        snapshot = _snapshot_as_of(tbl, as_of_ms) if tbl is not None else None
        files = [_local_path(f) for f in iceberg.live_files(tbl, snapshot)] if snapshot is not None else []
        columns = ", ".join(f'"{n}"' for n in iceberg.arrow_schema(table).names)
        if files:
            # files written before a column was added (sample_name) lack it: read it as null
            source = f"read_parquet({_quote_list(files)}, union_by_name = true)"
            present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
            columns = ", ".join(f'"{f.name}"' if f.name in present else f'CAST(NULL AS VARCHAR) AS "{f.name}"'
                                for f in iceberg.arrow_schema(table))
            con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT {columns} FROM {source}")
            folders.append(_local_path(tbl.location()).rstrip("/") + "/data")
        else:
            con.register(f"_empty_{table}", _empty(table))
            con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT {columns} FROM _empty_{table}")
    for view in sqlfiles.list_views():
        con.execute(sqlfiles.to_duckdb(sqlfiles.load(view, "views")))
    return folders


def queryable_names() -> set[str]:
    """The tables and views a query may name."""
    return set(TABLES) | set(sqlfiles.list_views())


def open_readonly(lake: iceberg.Lake, as_of_ms: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake's views that can read the lake's data folders only."""
    con = duckdb.connect(":memory:")
    try:
        folders = table_views(con, lake, as_of_ms)
        guard.lock_down(con, folders)
    except Exception:
        con.close()
        raise
    return con


def run_query(
    lake_root: str | Path | iceberg.Lake,
    name_or_sql: str,
    params: dict | None = None,
    *,
    as_of_ms: int | None = None,
) -> tuple[list[str], list[tuple]]:
    """Run a named query (``sql/<name>.sql``) or one ad-hoc Athena SQL query on the lake, read-only.

    ``lake_root`` is a local lake's root folder (or a :class:`~seqflow.lake.iceberg.Lake`).
    ``:name`` parameters are bound from ``params``; ``as_of_ms`` (epoch
    milliseconds) reads each table as it was then. Anything but one query over
    the lake's tables and views raises :class:`~seqflow.catalog.guard.QueryRefused`
    and runs nothing. Returns (column names, rows).
    """
    text = sqlfiles.load(name_or_sql) if sqlfiles.looks_like_name(name_or_sql) else name_or_sql
    guard.check_query(text, queryable_names())
    params = sqlfiles.check_params(text, params)
    sql = sqlfiles.to_duckdb(text)
    lake = lake_root if isinstance(lake_root, iceberg.Lake) else iceberg.Lake.local(lake_root)
    with open_readonly(lake, as_of_ms) as con:
        guard.check_duckdb_statement(con, sql)
        cur = con.execute(sql, params) if params else con.execute(sql)
        columns = [d[0] for d in cur.description]
        return columns, cur.fetchall()
