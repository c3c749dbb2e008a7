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
from seqflow.identity import FIELDS as IDENTITY_FIELDS
from seqflow.lake.publish import Partition, PublishResult, check_table, check_value

#: Tables the catalog knows (one DDL file each under sql/ddl/).
TABLES = ("variants", "qc_metrics")

#: Where a catalog made before partitions carried the whole analysis identity
#: keeps its registrations: their folders (``run_id=/pipeline_version=/
#: sample_id=``) do not match the tables any more, so they are set aside, not
#: lost; re-publishing the analyses registers them again.
LEGACY_PARTITIONS_TABLE = "seqflow_partitions_v1"

_PARTITIONS_DDL = """
CREATE TABLE IF NOT EXISTS seqflow_partitions (
    table_name VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    pipeline_version VARCHAR NOT NULL,
    reference VARCHAR NOT NULL,
    aligner VARCHAR NOT NULL,
    caller VARCHAR NOT NULL,
    sample_id VARCHAR NOT NULL,  -- '' for tables without a sample level
    location VARCHAR NOT NULL,
    registered_at TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (table_name, run_id, pipeline_version, reference, aligner, caller, sample_id)
)
"""

_KEY_COLUMNS = ("table_name", *IDENTITY_FIELDS, "sample_id")


def _partition_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'seqflow_partitions'"
    ).fetchall()}


def _ensure_partitions_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create the registration table; set aside one of the pre-identity layout."""
    columns = _partition_columns(con)
    if columns and "aligner" not in columns:
        legacy = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [LEGACY_PARTITIONS_TABLE]
        ).fetchone()[0]
        if legacy:
            con.execute(f"INSERT INTO {LEGACY_PARTITIONS_TABLE} SELECT * FROM seqflow_partitions ON CONFLICT DO NOTHING")
            con.execute("DROP TABLE seqflow_partitions")
        else:
            con.execute(f"ALTER TABLE seqflow_partitions RENAME TO {LEGACY_PARTITIONS_TABLE}")
    con.execute(_PARTITIONS_DDL)


def _as_partitions(partitions) -> list[Partition]:
    """Accept Partitions, PublishResults, or dicts with the partition keys
    (``table``, the five identity fields, ``sample_id``)."""
    if isinstance(partitions, (PublishResult, Partition, dict)):
        partitions = [partitions]
    out: list[Partition] = []
    for p in partitions:
        if isinstance(p, PublishResult):
            out.extend(p.partitions)
        elif isinstance(p, Partition):
            out.append(p)
        elif isinstance(p, dict):
            missing = [k for k in IDENTITY_FIELDS if not p.get(k)]
            if missing:
                raise ValueError(f"partition {p!r} lacks {', '.join(missing)}")
            out.append(Partition(
                p.get("table", "variants"), *(p[k] for k in IDENTITY_FIELDS), p.get("sample_id")
            ))
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
    _ensure_partitions_table(con)
    for table in tables:
        _table_view(con, table)
    for view in sqlfiles.list_views():
        con.execute(sqlfiles.to_duckdb(sqlfiles.load(view, "views")))


def _is_legacy(catalog_path: Path) -> bool:
    """True for a catalog whose registrations predate identity partitions."""
    with duckdb.connect(str(catalog_path), read_only=True) as con:
        columns = _partition_columns(con)
    return bool(columns) and "aligner" not in columns


def init_catalog(catalog_path: str | Path) -> None:
    """Create the catalog's tables and views if missing (idempotent)."""
    Path(catalog_path).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(catalog_path)) as con:
        _refresh(con)


def register_partitions_duckdb(catalog_path: str | Path, lake_root: str | Path, partitions) -> None:
    """Register published partitions in the local catalog; idempotent.

    ``partitions``: :class:`~seqflow.lake.publish.Partition` objects, a
    :class:`~seqflow.lake.publish.PublishResult`, or dicts with ``table``,
    ``run_id``, ``pipeline_version``, ``reference``, ``aligner``, ``caller``
    and ``sample_id``. A partition whose folder does not exist under
    ``lake_root`` is refused.
    """
    parts = _as_partitions(partitions)
    lake_root = Path(lake_root).resolve()
    rows = []
    for p in parts:
        folder = p.path(lake_root)
        if not any(folder.glob("*.parquet")):
            raise FileNotFoundError(f"partition {p.relpath} has no Parquet files under {lake_root}")
        rows.append((p.table, *(getattr(p, k) for k in IDENTITY_FIELDS), p.sample_id or "", str(folder)))
    Path(catalog_path).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(catalog_path)) as con:
        _ensure_partitions_table(con)
        names = ", ".join((*_KEY_COLUMNS, "location"))
        marks = ", ".join("?" * (len(_KEY_COLUMNS) + 1))
        con.executemany(
            f"INSERT INTO seqflow_partitions ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING", rows
        )
        _refresh(con)


def registered_partitions(catalog_path: str | Path) -> list[tuple[str, ...]]:
    """(table, run_id, pipeline_version, reference, aligner, caller, sample_id)
    of every registered partition (``sample_id`` is '' for ``qc_metrics``)."""
    with duckdb.connect(str(catalog_path)) as con:
        _ensure_partitions_table(con)
        return con.execute(
            f"SELECT {', '.join(_KEY_COLUMNS)} FROM seqflow_partitions ORDER BY ALL"
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
    if not catalog_path.exists() or _is_legacy(catalog_path):
        Path(lake_root).mkdir(parents=True, exist_ok=True)
        init_catalog(catalog_path)
    with duckdb.connect(str(catalog_path), read_only=True) as con:
        cur = con.execute(sql, params) if params else con.execute(sql)
        columns = [d[0] for d in cur.description]
        return columns, cur.fetchall()
