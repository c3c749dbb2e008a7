"""``seqflow report`` on the aws profile (seqflow.report.aws_report): the DynamoDB registry (moto's, for
real: what the runs' records hold decides turnaround and failures) and the cost rows from the lake
through Athena. moto runs no SQL: its Athena answers with rows seeded here, so this proves the calls
(the statement, its parameters, the Glue database, workgroup and results location) and the typed
reading of the answer, not the query's result; that the statement reads only what Terraform declares
is tests/terraform's, and check_runs_on_aws refuses a local-only object before any call."""

from __future__ import annotations

from datetime import date

import pytest

from aws_helpers import REGION, create_registry_table, of, settings

RUN = "261119_A01234_0003_AHREPORTDX"
KEY = "1.0.0/lambda/bwa/bcftools"
#: Athena's execution parameters are SQL literals: the dates quoted
PARAMETERS = ["'2026-11-20'", "'2026-11-20'"]
COLUMNS = [("run_id", "varchar"), ("pipeline_version", "varchar"), ("reference", "varchar"), ("aligner", "varchar"),
           ("caller", "varchar"), ("sample_id", "varchar"), ("project", "varchar"), ("engines", "varchar"),
           ("steps", "bigint"), ("failed_steps", "bigint"), ("cpu_seconds", "double"), ("wall_seconds", "double"),
           ("cost_usd", "double")]


def _seed_athena(rows):
    from moto.athena.models import QueryResults, athena_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    def row(values):
        return {"Data": [{"VarCharValue": None if v is None else str(v)} for v in values]}

    info = [{"Name": c, "Label": c, "Type": t, "CatalogName": "hive", "SchemaName": "", "TableName": "",
             "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": False} for c, t in COLUMNS]
    athena_backends[DEFAULT_ACCOUNT_ID][REGION].query_results_queue.append(
        QueryResults(rows=[row([c for c, _ in COLUMNS])] + [row(r) for r in rows], column_info=info))


@pytest.fixture
def registry(moto):
    from seqflow.aws.registry import DynamoDbRunRegistry
    from seqflow.registry import INGEST

    import boto3

    create_registry_table("seqflow-report-registry")
    boto3.client("athena", region_name=REGION).create_work_group(Name=settings().require("athena_workgroup"))
    registry = DynamoDbRunRegistry("seqflow-report-registry")
    registry.put(RUN, INGEST, "ingesting", scan="2026-11-20T08:00:00+00:00")
    registry.put(RUN, INGEST, "ingested")
    registry.put(RUN, KEY, "partially_analysed", lake_committed_at="2026-11-20T08:42:30+00:00",
                 finished_at="2026-11-20T08:43:00+00:00", failed_samples={"S2": {"step": "align", "error": "OOM"}})
    return registry


def test_the_aws_report_reads_the_dynamodb_registry_and_the_costs_through_athena(registry, calls):
    import boto3

    from seqflow.report import aws_report, format_report

    cfg = settings()
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=cfg.require("athena_results_bucket"), CreateBucketConfiguration={"LocationConstraint": REGION})
    _seed_athena([[RUN, "1.0.0", "lambda", "bwa", "bcftools", "S1", "oncology", "batch", 5, 0, 812.5, 301.0, 0.0123],
                  [RUN, "1.0.0", "lambda", "bwa", "bcftools", "S2", "oncology", "batch", 2, 1, 40.0, 30.0, None]])
    report = aws_report(date(2026, 11, 20), date(2026, 11, 20), settings=cfg, registry=registry)

    [started] = of(calls, "athena", "StartQueryExecution")
    assert "FROM step_costs" in started["QueryString"]
    assert "BETWEEN ? AND ?" in started["QueryString"]  # the dates are parameters, not spliced in
    assert started["ExecutionParameters"] == PARAMETERS, started["ExecutionParameters"]
    assert started["QueryExecutionContext"] == {"Database": cfg.require("glue_database")}
    assert started["WorkGroup"] == cfg.require("athena_workgroup")
    assert started["ResultConfiguration"]["OutputLocation"].startswith(f"s3://{cfg.require('athena_results_bucket')}/")

    text = format_report(report)
    assert RUN in text and "align" in text and "oncology" in text
    assert report == aws_report.__globals__["build_report"](
        registry.list(), [dict(zip([c for c, _ in COLUMNS], r)) for r in [
            [RUN, "1.0.0", "lambda", "bwa", "bcftools", "S1", "oncology", "batch", 5, 0, 812.5, 301.0, 0.0123],
            [RUN, "1.0.0", "lambda", "bwa", "bcftools", "S2", "oncology", "batch", 2, 1, 40.0, 30.0, None]]],
        date(2026, 11, 20), date(2026, 11, 20))


def test_a_query_that_fails_on_athena_is_an_error_not_an_empty_report(registry, monkeypatch):
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    from seqflow.report import aws_report

    monkeypatch.setattr(AthenaHook, "poll_query_status", lambda self, query_id, *a, **k: "FAILED")
    monkeypatch.setattr(AthenaHook, "get_state_change_reason", lambda self, query_id, *a, **k: "TABLE_NOT_FOUND")
    with pytest.raises(RuntimeError, match="cost_per_sample.*FAILED: TABLE_NOT_FOUND"):
        aws_report(date(2026, 11, 20), date(2026, 11, 20), settings=settings(), registry=registry)
