"""Querying the variant lake: the shipped SQL, a read-only DuckDB locally, Athena on AWS.

The SQL in ``seqflow/sql`` is written once for Athena (engine v3, Trino);
locally it runs on DuckDB over the same Iceberg tables after transpiling with
sqlglot (:mod:`seqflow.catalog.local`), behind :mod:`seqflow.catalog.guard`.
"""

from seqflow.catalog.guard import QueryRefused
from seqflow.catalog.local import run_query
from seqflow.catalog.sql import list_queries

__all__ = ["QueryRefused", "list_queries", "run_query"]
