"""The lake's views on Athena: Terraform names them, grants the converter job what creating them takes,
and hands the job the workgroup (the job runs the views' CREATE OR REPLACE VIEW: seqflow.glue.views)."""

from __future__ import annotations

import json

import pytest

from tf_helpers import MODULES, locals_of, parse, resources

athena = pytest.importorskip("seqflow.catalog.athena")


def _statements() -> dict[str, dict]:
    for item in parse(MODULES / "glue_athena" / "main.tf").get("data", []):
        document = item.get("aws_iam_policy_document", {})
        if "this" in document:
            return {s["sid"]: s for s in document["this"]["statement"]}
    raise AssertionError("glue_athena has no aws_iam_policy_document.this")


def test_terraform_names_the_views_the_job_creates_and_their_arns_are_granted():
    found = locals_of(MODULES / "glue_athena")
    assert found["views"] == sorted(athena.VIEWS)
    # table_arns (the job's IcebergCatalog statement, and the Airflow role's GetTable) covers the views
    assert "concat(local.tables, local.views)" in json.dumps(found["table_arns"])
    catalog = _statements()["IcebergCatalog"]
    assert {"glue:CreateTable", "glue:UpdateTable", "glue:GetTable"} <= set(catalog["actions"])


def test_the_job_may_run_the_view_statements_in_the_workgroup_and_gets_its_name():
    statements = _statements()
    views = statements["AthenaViews"]
    assert set(views["actions"]) == {"athena:StartQueryExecution", "athena:GetQueryExecution"}
    assert views["resources"] == ["${aws_athena_workgroup.this.arn}"]
    results = statements["AthenaResults"]
    assert "s3:PutObject" in results["actions"]
    assert "local.athena_results_bucket_arn" in json.dumps(results["resources"])
    job = resources(MODULES / "glue_athena")[("aws_glue_job", "this")]
    arguments = json.dumps(job["default_arguments"])
    assert '\\"--athena_workgroup\\" = aws_athena_workgroup.this.name' in arguments
