"""Configuration, the DynamoDB registry and SNS alerts of the aws profile."""

from __future__ import annotations

import json

import boto3
import pytest

from aws_helpers import create_registry_table, REGION, RUN, of, settings


class _Var:
    """Airflow's ``var`` in a template context: ``var.value.<name>``."""

    def __init__(self, values):
        self.value = type("Value", (), values)()


class _TaskInstance:
    """The parts of a running task instance that the settings code uses."""

    def __init__(self, task_id: str, dag_task_ids, xcoms=None):
        self.task_id = task_id
        self.task = type("Task", (), {"dag": type("Dag", (), {"task_ids": list(dag_task_ids)})()})()
        self.xcoms = dict(xcoms or {})
        self.pulls: list[dict] = []

    def xcom_push(self, key, value):
        self.xcoms[(self.task_id, key)] = value

    def xcom_pull(self, task_ids, key, map_indexes=None):
        self.pulls.append({"task_ids": task_ids, "key": key, "map_indexes": map_indexes})
        return self.xcoms.get((task_ids, key))


def _render(text: str, ti, variables: dict[str, str]) -> str:
    import jinja2

    return jinja2.Environment().from_string(text).render(ti=ti, dag=ti.task.dag, var=_Var(variables))


def test_templates_render_the_plans_settings_in_the_analysis_and_the_variable_elsewhere():
    from seqflow.aws.settings import SETTINGS_XCOM_KEY, template

    text = template("raw_bucket")
    assert "var.value.seqflow_raw_bucket" in text
    # analysis DAG: the value plan read, no Variable (no SSM call) per task instance
    mapped = _TaskInstance("sample.fastp", ["plan", "sample.fastp"],
                           {("plan", SETTINGS_XCOM_KEY): {"raw_bucket": "from-plan"}})
    assert _render(text, mapped, {"seqflow_raw_bucket": "from-ssm"}) == "from-plan"
    assert mapped.pulls == [{"task_ids": "plan", "key": SETTINGS_XCOM_KEY, "map_indexes": -1}]
    # the ingest DAG has no plan: the Variable, and no XCom asked for
    ingest = _TaskInstance("transfer_runs", ["find_runs", "transfer_runs"])
    assert _render(text, ingest, {"seqflow_raw_bucket": "from-ssm"}) == "from-ssm"
    assert ingest.pulls == []
    # a plan XCom without the key (an older plan): the Variable
    older = _TaskInstance("qc_summary", ["plan", "qc_summary"], {("plan", SETTINGS_XCOM_KEY): {"project": "p"}})
    assert _render(text, older, {"seqflow_raw_bucket": "from-ssm"}) == "from-ssm"
    with pytest.raises(KeyError):
        template("not_a_key")


def test_load_settings_reads_variables_at_run_time(monkeypatch):
    from seqflow.aws.settings import load_settings

    monkeypatch.setenv("AIRFLOW_VAR_SEQFLOW_RAW_BUCKET", "my-raw")
    assert load_settings().raw_bucket == "my-raw"


def test_plan_reads_the_settings_once_and_every_later_task_of_the_run_pulls_them(monkeypatch):
    from seqflow.aws import settings as module

    reads = []
    monkeypatch.setattr(module, "read_settings", lambda: reads.append(1) or module.AwsSettings({"raw_bucket": "r"}))
    tasks = ["plan", "restore_archived", "sample.requests", "sample.fastp"]
    plan = _TaskInstance("plan", tasks)
    monkeypatch.setattr(module, "_task_instance", lambda: plan)
    assert module.load_settings().raw_bucket == "r"
    assert plan.xcoms == {("plan", module.SETTINGS_XCOM_KEY): {"raw_bucket": "r"}}
    for task_id in tasks[1:] * 100:  # e.g. 100 samples' mapped tasks
        ti = _TaskInstance(task_id, tasks, plan.xcoms)
        monkeypatch.setattr(module, "_task_instance", lambda ti=ti: ti)
        assert module.load_settings().raw_bucket == "r"
        assert ti.pulls == [{"task_ids": "plan", "key": module.SETTINGS_XCOM_KEY, "map_indexes": -1}]
    assert reads == [1]
    # a DAG without plan (the ingest) reads them itself, and pushes nothing
    ingest = _TaskInstance("find_runs", ["find_runs"])
    monkeypatch.setattr(module, "_task_instance", lambda: ingest)
    assert module.load_settings({"raw_bucket": "other"}).raw_bucket == "other"
    assert reads == [1, 1] and ingest.xcoms == {} and ingest.pulls == []


def _ssm_config(ssm, values: dict[str, str]) -> None:
    from seqflow.aws.config_keys import ssm_parameter_name

    for key, value in values.items():
        ssm.put_parameter(Name=ssm_parameter_name(key), Value=value, Type="String")


def test_read_settings_is_one_batched_ssm_read_with_the_variables_ssm_lacks(moto, calls, monkeypatch):
    from aws_helpers import CONFIG

    from seqflow.aws.config_keys import CONFIG_KEYS
    from seqflow.aws.settings import read_settings

    ssm = boto3.client("ssm", region_name=REGION)
    in_ssm = {k: v for k, v in CONFIG.items() if v}
    _ssm_config(ssm, in_ssm)
    monkeypatch.setenv("AIRFLOW_VAR_SEQFLOW_OMICS_RUN_CACHE_ID", "1122334")
    calls.clear()
    values = read_settings(ssm=ssm).values
    assert {k: values[k] for k in in_ssm} == in_ssm
    assert values["omics_run_cache_id"] == "1122334"  # not in SSM: the Variable
    gets = of(calls, "ssm", "GetParameters")
    assert len(gets) == -(-len(CONFIG_KEYS) // 10) == 4
    assert sorted(n for g in gets for n in g["Names"]) == sorted(f"/airflow/variables/seqflow_{k}" for k in CONFIG_KEYS)
    assert all(len(g["Names"]) <= 10 and g["WithDecryption"] for g in gets)
    assert of(calls, "ssm", "GetParameter") == []


def test_read_settings_finds_the_ssm_secrets_backend_and_reads_with_adaptive_retries(moto, calls, monkeypatch):
    try:
        from airflow.sdk.configuration import clear_secrets_backends_cache
    except ImportError:  # Airflow 3.0 (MWAA) loads the workers' backends afresh each time
        def clear_secrets_backends_cache():
            return None

    from seqflow.aws.config_keys import CONFIG_KEYS
    from seqflow.aws.settings import SSM_RETRIES, read_settings, ssm_client, ssm_variables_backend

    _ssm_config(boto3.client("ssm", region_name=REGION), {"raw_bucket": "from-ssm", "project": "p"})
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND",
                       "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend")
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND_KWARGS", json.dumps(
        {"variables_prefix": "/airflow/variables", "connections_prefix": None, "region_name": REGION}))
    monkeypatch.setenv("AIRFLOW_VAR_SEQFLOW_REGISTRY_TABLE", "from-env")
    clear_secrets_backends_cache()
    try:
        backend = ssm_variables_backend()
        assert backend is not None and backend.variables_prefix == "/airflow/variables"
        assert ssm_client(backend).meta.config.retries == SSM_RETRIES == {"mode": "adaptive", "total_max_attempts": 10}
        calls.clear()
        settings = read_settings()
    finally:
        monkeypatch.delenv("AIRFLOW__SECRETS__BACKEND")
        clear_secrets_backends_cache()
    assert (settings.raw_bucket, settings.project, settings.registry_table) == ("from-ssm", "p", "from-env")
    assert len(of(calls, "ssm", "GetParameters")) == 4
    # the keys SSM lacks are asked for once more each, through the Variable lookup (not found there either)
    assert len(of(calls, "ssm", "GetParameter")) == len(CONFIG_KEYS) - 2


def _throttled_client(failures: int):
    """An SSM client whose first ``failures`` requests SSM answers with ThrottlingException (HTTP 400)."""
    from botocore.awsrequest import AWSResponse

    from seqflow.aws.settings import SSM_RETRIES

    client = boto3.client("ssm", region_name=REGION, config=__import__("botocore.config").config.Config(
        retries=dict(SSM_RETRIES)))
    sent = []

    class _Raw:
        def __init__(self, body):
            self.body = body

        def stream(self, **_):
            yield self.body

    def answer(request, **_):
        sent.append(request)
        if len(sent) <= failures:
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
            return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "ThrottlingException"}, _Raw(body))
        return AWSResponse(request.url, 200, {}, _Raw(json.dumps(
            {"Parameters": [{"Name": "/airflow/variables/seqflow_project", "Value": "p", "Type": "String"}],
             "InvalidParameters": []}).encode()))

    client.meta.events.register("before-send.ssm.GetParameters", answer)
    return client, sent


def test_a_throttled_read_is_retried_and_then_says_it_was_throttled_not_unset(aws_env, monkeypatch):
    from botocore.retries import bucket, standard

    from seqflow.aws.settings import AwsConfigError, AwsSettingsThrottled, read_ssm_parameters

    # no waiting in the test: botocore's backoff between retries and adaptive mode's client-side rate limit
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    monkeypatch.setattr(bucket.TokenBucket, "acquire", lambda self, amount=1, block=True: True)
    client, sent = _throttled_client(failures=2)
    assert read_ssm_parameters(client) == {"project": "p"}
    assert len(sent) == 2 + 4  # two throttled attempts, then the 4 calls
    client, sent = _throttled_client(failures=10**6)
    with pytest.raises(AwsSettingsThrottled, match=r"SSM throttled .*ThrottlingException.* after 9 retries in "
                                                    r"botocore's adaptive mode.*probably set") as caught:
        read_ssm_parameters(client)
    assert isinstance(caught.value, AwsConfigError) and "not set" not in str(caught.value)
    assert len(sent) == 10


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
