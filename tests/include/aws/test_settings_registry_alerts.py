"""Configuration, the DynamoDB registry and SNS alerts of the aws profile."""

from __future__ import annotations

import json

import boto3
import pytest

from aws_helpers import REGION, RUN, of, settings


def test_templates_name_the_variables_terraform_writes():
    from seqflow.aws.settings import template

    assert template("raw_bucket") == "{{ var.value.seqflow_raw_bucket }}"
    with pytest.raises(KeyError):
        template("not_a_key")


def test_load_settings_reads_variables_at_run_time(monkeypatch):
    from seqflow.aws.settings import load_settings

    monkeypatch.setenv("AIRFLOW_VAR_SEQFLOW_RAW_BUCKET", "my-raw")
    assert load_settings().raw_bucket == "my-raw"


def test_missing_key_names_the_variable_and_ssm_parameter():
    from seqflow.aws.settings import AwsConfigError

    with pytest.raises(AwsConfigError, match="seqflow_alerts_topic_arn.*/airflow/variables/seqflow_alerts_topic_arn"):
        settings().require("alerts_topic_arn")


def test_derived_locations_are_validated():
    s = settings()
    assert s.raw_run_uri(RUN) == f"s3://raw/runs/{RUN}/"
    assert s.results_uri(RUN, "1.0.0", "S1") == f"s3://results/results/{RUN}/1.0.0/S1/"
    assert settings(raw_prefix="").raw_run_prefix(RUN) == f"{RUN}/"
    assert s.reference_uri("lambda") == "s3://raw/references/lambda/"
    with pytest.raises(ValueError):
        s.results_uri(RUN, "1.0.0", "../x")
    with pytest.raises(LookupError):
        settings(default_engine="local").engine


@pytest.fixture
def registry(moto):
    from seqflow.aws.registry import DynamoDbRunRegistry

    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="registry", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"},
                   {"AttributeName": "pipeline_version", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"},
                              {"AttributeName": "pipeline_version", "AttributeType": "S"}],
    )
    return DynamoDbRunRegistry("registry")


def test_registry_puts_merges_and_lists(registry, calls):
    registry.put(RUN, "-", "ingesting", raw_uri="s3://raw/x/")
    record = registry.put(RUN, "-", "ingested", files=3)
    assert record.details == {"raw_uri": "s3://raw/x/", "files": 3}
    puts = of(calls, "dynamodb", "PutItem")
    assert puts[-1]["TableName"] == "registry"
    assert puts[-1]["Item"]["run_id"] == RUN and puts[-1]["Item"]["status"] == "ingested"
    registry.put(RUN, "1.0.0", "analysed", samples=[{"sample_id": "S1", "f1": 0.99}])
    registry.put("261121_A01234_0043_AHBJ8YDSXY", "-", "ingested")
    assert [(r.run_id, r.pipeline_version) for r in registry.list(RUN)] == [(RUN, "-"), (RUN, "1.0.0")]
    assert len(registry.list()) == 3
    assert registry.get(RUN, "1.0.0").details["samples"][0]["f1"] == 0.99
    assert registry.get("261122_A01234_0044_AHBJ8YDSXY") is None


def test_registry_rejects_unknown_status(registry):
    with pytest.raises(ValueError, match="unknown run status"):
        registry.put(RUN, "-", "done")


class _TI:
    dag_id, run_id, task_id, map_index, try_number = "seqflow_analysis", "manual__1", "batch.fastp", 0, 1
    log_url = "http://airflow/log"
    rendered_map_index = "S1"


def test_failure_alert_is_published_to_sns_with_run_sample_task_and_log(moto, calls, monkeypatch):
    from seqflow.aws.alerts import on_task_failure

    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    monkeypatch.setenv("AIRFLOW_VAR_SEQFLOW_ALERTS_TOPIC_ARN", topic)

    class Run:
        conf = {"run_id": RUN}

    on_task_failure({"ti": _TI(), "dag_run": Run(), "exception": RuntimeError("job FAILED")})
    publish = of(calls, "sns", "Publish")
    assert len(publish) == 1 and publish[0]["TargetArn"] == topic
    assert publish[0]["Subject"] == f"seqflow failed: batch.fastp {RUN} S1"
    body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert body["run_id"] == RUN and body["sample_id"] == "S1" and body["task_id"] == "batch.fastp"
    assert body["log_url"] == "http://airflow/log" and body["error"] == "job FAILED"


def test_alert_failure_never_masks_the_task_error(moto, caplog, monkeypatch):
    from seqflow.aws.alerts import on_task_failure

    monkeypatch.delenv("AIRFLOW_VAR_SEQFLOW_ALERTS_TOPIC_ARN", raising=False)
    on_task_failure({"ti": _TI(), "exception": RuntimeError("boom")})  # no topic configured: logged only
    assert "could not publish the failure alert" in caplog.text
