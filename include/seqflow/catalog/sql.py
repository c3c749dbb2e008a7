"""The shipped SQL: load it, bind parameters, transpile Athena -> DuckDB.

Queries are written once in Athena's engine-v3 (Trino) dialect, views too;
the table DDL is Athena's Hive DDL. Named parameters are written ``:name``:
DuckDB receives them as ``$name`` prepared parameters, Athena as positional
``?`` with ``ExecutionParameters``.
"""

from __future__ import annotations

from pathlib import Path

import sqlglot
from sqlglot import exp

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
SOURCE_DIALECT = "athena"


def list_queries() -> list[str]:
    """Names accepted by ``run_query`` / ``seqflow query`` (``sql/<name>.sql``)."""
    return sorted(p.stem for p in SQL_DIR.glob("*.sql"))


def list_views() -> list[str]:
    """View definitions (``sql/views/<name>.sql``), in creation order."""
    return sorted(p.stem for p in (SQL_DIR / "views").glob("*.sql"))


def load(name: str, kind: str = "") -> str:
    """Text of ``sql/[kind/]<name>.sql``; unknown names list the known ones."""
    folder = SQL_DIR / kind if kind else SQL_DIR
    path = folder / f"{name}.sql"
    if not name.replace("_", "").isalnum() or not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.sql"))
        raise KeyError(f"no {kind or 'query'} named {name!r}; known: {', '.join(known)}")
    return path.read_text()


def looks_like_name(text: str) -> bool:
    """True when ``text`` is a query name rather than SQL."""
    return text.replace("_", "").isalnum()


def placeholders(sql: str) -> list[str]:
    """Named parameters (``:name``) of a query, in order of first use."""
    seen: list[str] = []
    for node in sqlglot.parse_one(sql, read=SOURCE_DIALECT).find_all(exp.Placeholder):
        if node.name and node.name not in seen:
            seen.append(node.name)
    return seen


def check_params(sql: str, params: dict | None) -> dict:
    """The parameters a query needs, failing on missing or unexpected ones."""
    params = dict(params or {})
    wanted = placeholders(sql)
    missing = [p for p in wanted if p not in params]
    extra = [p for p in params if p not in wanted]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing parameter(s): {', '.join(missing)}")
        if extra:
            parts.append(f"unknown parameter(s): {', '.join(extra)}")
        raise ValueError("; ".join(parts) + (f" (query takes: {', '.join(wanted)})" if wanted else " (query takes none)"))
    return params


def to_duckdb(sql: str) -> str:
    """Transpile Athena/Trino SQL (one statement) to DuckDB."""
    return sqlglot.transpile(sql, read=SOURCE_DIALECT, write="duckdb")[0]


def to_athena(sql: str, params: dict | None = None) -> tuple[str, list[str]]:
    """SQL for Athena's StartQueryExecution and its ``ExecutionParameters``.

    ``:name`` placeholders become ``?`` in order of appearance; each value is
    rendered as a SQL literal string, as Athena expects.
    """
    params = check_params(sql, params)
    tree = sqlglot.parse_one(sql, read=SOURCE_DIALECT)
    order: list[str] = []

    def swap(node):
        if isinstance(node, exp.Placeholder) and node.name:
            order.append(node.name)
            return exp.Placeholder()
        return node

    tree = tree.transform(swap)
    literals = [_literal(params[name]) for name in order]
    return tree.sql(dialect=SOURCE_DIALECT), literals


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"
