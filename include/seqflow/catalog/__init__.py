"""Catalog of the variant lake: local DuckDB and Athena/Glue helpers.

The SQL in ``seqflow/sql`` is written once for Athena; locally it runs on
DuckDB after transpiling with sqlglot.
"""

from seqflow.catalog.local import init_catalog, register_partitions_duckdb, registered_partitions, run_query
from seqflow.catalog.sql import list_queries

__all__ = ["init_catalog", "list_queries", "register_partitions_duckdb", "registered_partitions", "run_query"]
