"""The Glue side of the lake's Iceberg tables: Terraform declares the tables the lake code writes.

Terraform declares each table (``aws_glue_catalog_table.iceberg``, Glue's Iceberg CREATE from
the columns of ``lake_tables.json``, which ``seqflow.lake.iceberg.glue_tables_json()`` generates);
the first writer's ``Lake.ensure`` sets the partition spec and properties the provider cannot
declare (``tests/include/lake/test_table_form.py``), and Terraform ignores what the commits change.
"""

from __future__ import annotations

import json

import pytest

from tf_helpers import MODULES, locals_of, resources

iceberg = pytest.importorskip("seqflow.lake.iceberg")


def test_terraform_names_the_lakes_iceberg_tables():
    found = locals_of(MODULES / "glue_athena")
    assert found["tables"] == list(iceberg.TABLES)
    assert ("aws_glue_catalog_table", "this") not in resources(MODULES / "glue_athena")  # no Hive tables any more


def test_terraform_declares_each_table_as_iceberg_with_the_lakes_columns_and_leaves_commits_alone():
    table = resources(MODULES / "glue_athena")[("aws_glue_catalog_table", "iceberg")]
    assert table["for_each"] == "${toset(local.tables)}" and table["name"] == "${each.key}"
    assert table["open_table_format_input"] == [{"iceberg_input": [{"metadata_operation": "CREATE", "version": "2"}]}]
    [sd] = table["storage_descriptor"]
    # the location the lake code uses: Lake.glue(<lake_uri>) puts each table under <lake_uri>/iceberg/<table>
    assert sd["location"] == "${local.lake_root}iceberg/${each.key}"
    assert sd["dynamic"][0]["columns"]["for_each"] == "${local.table_columns[each.key]}"
    assert "lake_tables.json" in locals_of(MODULES / "glue_athena")["table_columns"]
    columns = (MODULES / "glue_athena" / "lake_tables.json").read_text()
    assert columns == iceberg.glue_tables_json(), (
        "lake_tables.json is stale: .venv/bin/python -c 'from seqflow.lake import iceberg; "
        "print(iceberg.glue_tables_json(), end=\"\")' > terraform/modules/glue_athena/lake_tables.json")
    assert set(json.loads(columns)) == set(iceberg.TABLES)
    # every commit moves metadata_location (a table parameter) and rewrites the columns
    ignored = set(table["lifecycle"][0]["ignore_changes"])
    assert {"parameters", "storage_descriptor", "open_table_format_input"} <= ignored


def _policy_statements() -> list[dict]:
    from tf_helpers import parse

    for item in parse(MODULES / "glue_athena" / "main.tf").get("data", []):
        document = item.get("aws_iam_policy_document", {})
        if "this" in document:
            return document["this"]["statement"]
    raise AssertionError("glue_athena has no aws_iam_policy_document.this")


def test_the_converter_may_create_and_commit_the_tables_and_nothing_of_partitions():
    statements = _policy_statements()
    catalog = next(s for s in statements if s["sid"] == "IcebergCatalog")
    assert {"glue:CreateTable", "glue:UpdateTable", "glue:GetTable"} <= set(catalog["actions"])
    assert not [a for s in statements for a in s["actions"] if "Partition" in a]
    assert "local.table_arns" in json.dumps(catalog["resources"])
    lake = next(s for s in statements if s["sid"] == "WriteLakeAndTemp")
    assert "s3:DeleteObject" in lake["actions"]  # pyiceberg expires old metadata files
