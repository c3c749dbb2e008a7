"""Configuration, the DynamoDB registry and SNS alerts of the aws profile."""

from __future__ import annotations

import json

import boto3
import pytest

from aws_helpers import create_registry_table, REGION, RUN, of, settings


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


IDENTITY = {"run_id": RUN, "pipeline_version": "1.0.0", "reference": "GRCh38.p14", "aligner": "bwa",
            "caller": "bcftools"}


def test_derived_locations_carry_the_analysis_identity_and_are_validated():
    from seqflow.identity import AnalysisIdentity
    from seqflow.paths import UnsafePathError

    s = settings()
    identity = AnalysisIdentity(**IDENTITY)
    assert s.raw_run_uri(RUN) == f"s3://raw/runs/{RUN}/"
    assert settings(raw_prefix="").raw_run_prefix(RUN) == f"{RUN}/"
    assert settings(raw_prefix="/a/b//").raw_run_prefix(RUN) == f"a/b/{RUN}/"
    analysis = f"results/{RUN}/1.0.0/GRCh38.p14/bwa-bcftools/"
    assert s.results_prefix(identity) == analysis
    assert s.results_prefix(identity, "S1") == analysis + "S1/"
    assert s.results_uri(identity) == f"s3://results/{analysis}"
    assert s.results_uri(identity, "S1") == f"s3://results/{analysis}S1/"
    # each part of the identity is its own path component: another caller is another prefix
    other = AnalysisIdentity(**{**IDENTITY, "aligner": "minimap2"})
    assert s.results_uri(other, "S1") == f"s3://results/results/{RUN}/1.0.0/GRCh38.p14/minimap2-bcftools/S1/"
    with pytest.raises(UnsafePathError):
        s.results_uri(identity, "../x")
    with pytest.raises(UnsafePathError):
        s.raw_run_uri("../etc")
    assert s.reference_uri("lambda") == "s3://raw/references/lambda/"
    assert s.reference_uri("GRCh38.p14") == "s3://raw/references/GRCh38.p14/"
    for bad in ("../x", "a/b", "..", "x..y", ".hidden"):
        with pytest.raises(UnsafePathError):
            s.reference_uri(bad)
    assert s.lake_uri() == "s3://lake/lake"
    with pytest.raises(LookupError, match="seqflow_default_engine is 'local'"):
        settings(default_engine="local").engine
    assert settings(default_engine="omics").engine == "omics"
    with pytest.raises(LookupError, match="seqflow_restore_tier"):
        settings(restore_tier="Fast").tier


@pytest.fixture
def registry(moto):
    from seqflow.aws.registry import DynamoDbRunRegistry

    create_registry_table()
    return DynamoDbRunRegistry("registry")


KEY = "1.0.0/lambda/bwa/bcftools"


def test_registry_puts_merges_and_lists(registry, calls):
    registry.put(RUN, "-", "ingesting", raw_uri="s3://raw/x/")
    record = registry.put(RUN, "-", "ingested", files=3)
    assert record.details == {"raw_uri": "s3://raw/x/", "files": 3}
    puts = of(calls, "dynamodb", "PutItem")
    assert len(puts) == 2 and puts[-1]["TableName"] == "registry"
    item = puts[-1]["Item"]
    # (the boto3 resource layer records plain values; it types them after this point)
    assert item["run_id"] == RUN and item["analysis"] == "-" and item["status"] == "ingested"
    assert json.loads(item["details"]) == {"files": 3, "raw_uri": "s3://raw/x/"}
    # every read is consistent and by the full key
    gets = of(calls, "dynamodb", "GetItem")
    assert gets[-1]["Key"] == {"run_id": RUN, "analysis": "-"} and gets[-1]["ConsistentRead"] is True

    registry.put(RUN, KEY, "analysed", samples=[{"sample_id": "S1", "f1": 0.99}])
    registry.put(RUN, "1.0.0/lambda/minimap2/bcftools", "analysing")
    registry.put("261121_A01234_0043_AHBJ8YDSXY", "-", "ingested")
    assert [(r.run_id, r.analysis) for r in registry.list(RUN)] == [
        (RUN, "-"), (RUN, KEY), (RUN, "1.0.0/lambda/minimap2/bcftools")]
    assert len(registry.list()) == 4
    assert registry.get(RUN, KEY).details["samples"][0]["f1"] == 0.99
    assert registry.get(RUN, KEY).status == "analysed"
    assert registry.get(RUN, "1.0.0/lambda/minimap2/bcftools").status == "analysing"
    assert registry.get(RUN, "1.0.0/other/bwa/bcftools") is None
    assert registry.get("261122_A01234_0044_AHBJ8YDSXY") is None
    raw = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName="registry", Key={"run_id": {"S": RUN}, "analysis": {"S": KEY}})["Item"]
    assert set(raw) == {"run_id", "analysis", "status", "updated_at", "details"}


def test_registry_from_settings_names_the_table(moto, monkeypatch):
    from seqflow.aws.registry import aws_registry

    assert aws_registry(settings(registry_table="my-registry")).table_name == "my-registry"
    monkeypatch.setenv("AIRFLOW_VAR_SEQFLOW_REGISTRY_TABLE", "from-variable")
    assert aws_registry().table_name == "from-variable"


def test_registry_rejects_unknown_status(registry):
    with pytest.raises(ValueError, match="unknown run status"):
        registry.put(RUN, "-", "done")


class _TI:
    dag_id, run_id, task_id, map_index, try_number = "seqflow_analysis", "manual__1", "sample.fastp", 0, 1
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
    assert publish[0]["Subject"] == f"seqflow failed: sample.fastp {RUN} S1"
    body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert body["run_id"] == RUN and body["sample_id"] == "S1" and body["task_id"] == "sample.fastp"
    assert body["log_url"] == "http://airflow/log" and body["error"] == "job FAILED"


def test_alert_failure_never_masks_the_task_error(moto, caplog, monkeypatch):
    from seqflow.aws.alerts import on_task_failure

    monkeypatch.delenv("AIRFLOW_VAR_SEQFLOW_ALERTS_TOPIC_ARN", raising=False)
    on_task_failure({"ti": _TI(), "exception": RuntimeError("boom")})  # no topic configured: logged only
    assert "could not publish the failure alert" in caplog.text
