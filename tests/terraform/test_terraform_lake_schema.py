"""The Glue side of the lake's Iceberg tables: Terraform names the tables the lake code creates.

The tables themselves are created by the converter job at first use
(seqflow.lake.iceberg.Lake.ensure; docs/lake.md says why Terraform does not
declare them): Terraform owns the database, the table ARNs IAM grants and the
job that creates and commits to them.
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
