"""What ``seqflow query`` accepts: one read-only query over the lake's tables and views.

Two independent locks, so that a gap in one does not open the other:

1. the text is parsed with sqlglot (Athena/Trino dialect) and must be exactly
   one query statement (``SELECT``/``WITH``/``UNION``/``VALUES``) whose every
   table is one of the lake's tables or views, a CTE of the query, or
   ``UNNEST``: no table functions (``read_csv``, ``read_parquet``, ``glob``,
   ``duckdb_settings`` …), no qualified names (``other_db.t``), nothing that
   writes, attaches, installs, loads or sets;
2. DuckDB runs it in an in-memory database whose file access is restricted
   to the lake tables' data folders (``allowed_directories``,
   ``enable_external_access = false``) with extension loading off and the
   configuration locked (``lock_configuration``), so even a statement that got
   past the parse could neither read another file nor undo the settings.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from seqflow.catalog.sql import SOURCE_DIALECT


class QueryRefused(ValueError):
    """The SQL is not one read-only query over the lake."""


_QUERY_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values)


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def check_query(sql: str, allowed_tables: set[str]) -> exp.Expression:
    """The parsed statement, or :class:`QueryRefused` naming the reason."""
    import logging

    quiet = logging.getLogger("sqlglot")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "falling back to parsing as a Command" is ours to report
    try:
        statements = [s for s in sqlglot.parse(sql, read=SOURCE_DIALECT) if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise QueryRefused(f"not valid Athena/Trino SQL: {str(exc).splitlines()[0]}") from None
    finally:
        quiet.setLevel(level)
    if len(statements) != 1:
        raise QueryRefused(
            f"one statement at a time: this text holds {len(statements)} statements; none was run"
        )
    tree = statements[0]
    root = tree.this if isinstance(tree, exp.Subquery) else tree
    if not isinstance(root, _QUERY_ROOTS):
        kind = (sql.split() or ["empty"])[0].upper()
        raise QueryRefused(f"only queries (SELECT, WITH … SELECT) are run; this is a {kind} statement")
    for node in tree.walk():
        if isinstance(node, (exp.Insert, exp.Delete, exp.Update, exp.Merge, exp.Create, exp.Drop, exp.Alter,
                             exp.Copy, exp.Command, exp.Set, exp.Pragma, exp.Into, exp.Use, exp.TruncateTable)):
            raise QueryRefused(f"only reads are run: the query contains {type(node).__name__.upper()}")
    ctes = _cte_names(tree)
    allowed = {t.lower() for t in allowed_tables}
    for table in tree.find_all(exp.Table):
        if table.args.get("db") or table.args.get("catalog"):
            raise QueryRefused(f"qualified table names are not accepted ({table.sql(dialect=SOURCE_DIALECT)}); "
                               f"name one of: {', '.join(sorted(allowed))}")
        if not isinstance(table.this, exp.Identifier):
            raise QueryRefused(
                f"table functions are not accepted ({table.this.sql(dialect=SOURCE_DIALECT)[:80]}): "
                f"the lake's tables and views are {', '.join(sorted(allowed))}"
            )
        name = table.name.lower()
        if name not in allowed and name not in ctes:
            raise QueryRefused(f"unknown table {table.name!r}: the lake's tables and views are {', '.join(sorted(allowed))}")
    for fn in tree.find_all(exp.Func):
        # file readers parsed as functions (read_csv(...) in a FROM, or as a scalar)
        name = (fn.sql_name() if not isinstance(fn, exp.Anonymous) else fn.name).lower()
        if name.startswith(("read_", "glob", "parquet_", "iceberg_", "sniff_", "duckdb_")) or isinstance(
            fn, (exp.ReadCSV,)
        ):
            raise QueryRefused(f"function {name}() reads outside the lake and is not accepted")
    return tree


def lock_down(con, allowed_directories: list[str]) -> None:
    """Restrict a DuckDB connection to reading the lake's folders, then lock its settings."""
    dirs = [d if d.endswith("/") else d + "/" for d in allowed_directories]
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET allow_community_extensions = false")
    con.execute("SET allowed_directories = $dirs", {"dirs": dirs})
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def check_duckdb_statement(con, sql: str) -> None:
    """DuckDB's own view of the transpiled text: one SELECT statement."""
    import duckdb

    statements = con.extract_statements(sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise QueryRefused("the transpiled text is not one SELECT statement; nothing was run")
