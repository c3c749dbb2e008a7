"""Athena (engine v3) over the lake's Iceberg tables in the Glue Data Catalog: what a query reads.

On AWS the lake's tables are Apache Iceberg tables that the converter's Glue
job creates at first use and commits to (:mod:`seqflow.glue.job`): there are
no partitions to register and no DDL to run. What is left for Airflow is the
SQL, written once in the Athena/Trino dialect; this module says which catalog
objects a statement reads, so that a query sent to Athena names only objects
that exist there (:data:`AWS_OBJECTS`), and checks a statement parses as
Athena and Trino SQL (sqlglot; that is a parser's opinion, not Athena's).
Nothing here calls AWS.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from seqflow.lake.iceberg import TABLES

#: Dialects an Athena statement is checked with (Athena engine v3 is Trino).
ATHENA_DIALECTS = ("athena", "trino")
#: Catalog objects of the Glue database on AWS: the Iceberg tables (the views of ``sql/views/``
#: exist in the local DuckDB only).
AWS_OBJECTS = frozenset(TABLES)


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
