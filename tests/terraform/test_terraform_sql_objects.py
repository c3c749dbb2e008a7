"""Every table and view a shipped query reads exists on AWS before the query runs.

Each SQL file of include/seqflow/sql (the named queries Terraform ships: glue_athena's
named_query_file takes every *.sql there) and of sql/views is parsed (sqlglot, Athena and
Trino dialects: seqflow.catalog.athena.objects_read); each object it reads must be either
* an Iceberg table Terraform declares (aws_glue_catalog_table.iceberg, for_each local.tables), or
* a view of sql/views, which the converter Glue job creates after its commits
  (seqflow.glue.views, before any query of the run's results; Terraform names them in
  local.views and grants the job what creating them takes), each view reading declared tables only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tf_helpers import MODULES, REPO, locals_of, resources

athena = pytest.importorskip("seqflow.catalog.athena")

SQL = REPO / "include" / "seqflow" / "sql"


def _declared_tables() -> set[str]:
    found = resources(MODULES / "glue_athena")
    assert found[("aws_glue_catalog_table", "iceberg")]["for_each"] == "${toset(local.tables)}"
    return set(locals_of(MODULES / "glue_athena")["tables"])


def _views_the_job_creates() -> set[str]:
    from seqflow.glue import views

    return {name for name, _ in views.view_statements()}


def test_terraform_ships_every_sql_file_of_the_folder_as_a_named_query():
    assert locals_of(MODULES / "glue_athena")["named_query_file"] == (
        '${{for f in fileset(var.sql_dir, "*.sql") : trimsuffix(f, ".sql") => "${var.sql_dir}/${f}"}}')
    assert "/include/seqflow/sql" in (REPO / "terraform" / "stack" / "main.tf").read_text()


@pytest.mark.parametrize("path", sorted(SQL.glob("*.sql")) + sorted((SQL / "views").glob("*.sql")),
                         ids=lambda p: str(p.relative_to(SQL)))
def test_each_object_a_query_reads_is_declared_in_terraform_or_created_before_it(path: Path):
    tables = _declared_tables()
    views = _views_the_job_creates()
    assert views == set(locals_of(MODULES / "glue_athena")["views"])
    # :name parameters (genotypes_in_region's :contig, …) are bound by the caller: a literal stands in
    sql = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("--"))
    sql = re.sub(r"(?<![:\w]):([a-z_]+)\b", "'1'", sql)
    read = athena.objects_read(sql)
    assert read, f"{path.name} reads nothing?"
    if path.parent.name == "views":
        assert read <= tables, f"view {path.stem} reads {sorted(read - tables)}, not declared in Terraform"
    else:
        assert read <= tables | views, (
            f"{path.name} reads {sorted(read - tables - views)}: neither a table Terraform declares "
            f"({sorted(tables)}) nor a view the converter job creates ({sorted(views)})")
