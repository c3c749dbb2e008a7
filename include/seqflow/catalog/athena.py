"""Athena (engine v3) over the lake's Iceberg tables in the Glue Data Catalog: what a query reads.

On AWS the lake's tables are Apache Iceberg tables that Terraform declares and
the converter's Glue job commits to (:mod:`seqflow.glue.job`): there are no
partitions to register. The views of ``sql/views/`` (``variants_latest``,
``qc_metrics_latest``) are Athena views, created by the same job after each
run's commits (:mod:`seqflow.glue.views`) from the files the local DuckDB
catalog runs, so the view text has one owner. What is left for Airflow is the SQL, written once
in the Athena/Trino dialect; this module says which catalog objects a
statement reads, so that a query sent to Athena names only objects that exist
there (:data:`AWS_OBJECTS`), and checks a statement parses as Athena and Trino
SQL (sqlglot; that is a parser's opinion, not Athena's). Nothing here calls AWS.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from seqflow.catalog.sql import list_views
from seqflow.lake.iceberg import TABLES

#: Dialects an Athena statement is checked with (Athena engine v3 is Trino).
ATHENA_DIALECTS = ("athena", "trino")
#: The views of ``sql/views/``, created on Athena after each run's commit (:func:`view_statements`).
VIEWS = tuple(list_views())
#: Catalog objects of the Glue database on AWS: the Iceberg tables and the views.
AWS_OBJECTS = frozenset(TABLES) | frozenset(VIEWS)


def parse(sql: str) -> exp.Expression:
    """One statement, parsed as Athena and as Trino SQL (raises sqlglot.errors.ParseError)."""
    trees = [sqlglot.parse_one(sql, read=dialect, error_level=sqlglot.ErrorLevel.RAISE) for dialect in ATHENA_DIALECTS]
    return trees[0]


def objects_read(sql: str) -> set[str]:
    """Tables and views a statement reads (CTE names and ``UNNEST`` aliases excluded), lower case."""
    tree = parse(sql)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    created = tree.this if isinstance(tree, exp.Create) else None  # CREATE VIEW v AS …: v is written, not read
    out = set()
    for table in tree.find_all(exp.Table):
        if not table.name or table.name.lower() in ctes or table is created:
            continue
        if table.find_ancestor(exp.CTE) is None and isinstance(table.parent, exp.Unnest):
            continue
        out.add(table.name.lower())
    return out


def check_runs_on_aws(sql: str) -> str:
    """``sql`` if every object it reads exists in the Glue database on AWS, else ValueError naming them."""
    missing = objects_read(sql) - AWS_OBJECTS
    if missing:
        raise ValueError(f"the query reads {sorted(missing)}, which the Glue database does not hold "
                         f"(it holds {sorted(AWS_OBJECTS)})")
    return sql


def view_statements() -> list[tuple[str, str]]:
    """``(view, statement)`` as the converter job sends them to Athena (:func:`seqflow.glue.views.view_statements`:
    the files of ``sql/views/``, comment lines dropped), each checked here to be one
    ``CREATE OR REPLACE VIEW`` of its own name that parses as Athena and Trino SQL and reads only the
    lake's tables."""
    from seqflow.glue import views

    out = views.view_statements()
    for name, statement in out:
        tree = parse(statement)
        if not (isinstance(tree, exp.Create) and tree.kind == "VIEW" and tree.args.get("replace")):
            raise ValueError(f"sql/views/{name}.sql is not one CREATE OR REPLACE VIEW statement")
        if tree.this.name.lower() != name:
            raise ValueError(f"sql/views/{name}.sql creates {tree.this.name!r}, not {name!r}")
        extra = objects_read(statement) - set(TABLES)
        if extra:
            raise ValueError(f"sql/views/{name}.sql reads {sorted(extra)}: an Athena view here reads the tables only")
    return out
