"""Shared values of the aws profile's unit tests."""

from __future__ import annotations

from seqflow.aws.config_keys import AWS_CONFIG_KEYS
from seqflow.aws.settings import AwsSettings

REGION = "eu-west-1"
RUN = "261120_A01234_0042_AHBJ8YDSXY"
CONFIG = {key: "" for key in AWS_CONFIG_KEYS} | {
    "region": "eu-west-1",
    "project": "seqflow-test",
    "raw_bucket": "raw",
    "raw_prefix": "runs/",
    "results_bucket": "results",
    "lake_bucket": "lake",
    "athena_results_bucket": "athena-results",
    "batch_job_queue": "queue",
    "batch_job_definition_fastp": "sf-fastp",
    "batch_job_definition_align_bwa": "sf-align-bwa",
    "batch_job_definition_align_minimap2": "sf-align-minimap2",
    "batch_job_definition_call_variants_bcftools": "sf-call-variants-bcftools",
    "batch_job_definition_call_variants_freebayes": "sf-call-variants-freebayes",
    "batch_job_definition_bam_qc": "sf-bam-qc",
    "batch_job_definition_vcf_stats": "sf-vcf-stats",
    "omics_workflow_id": "1234567",
    "omics_role_arn": "arn:aws:iam::123456789012:role/omics",
    "omics_output_uri": "s3://results/omics/",
    "glue_job_name": "sf-vcf-to-parquet",
    "glue_database": "lake_db",
    "athena_workgroup": "wg",
    "registry_table": "registry",
    "alerts_topic_arn": "",
    "default_engine": "batch",
    "restore_tier": "Bulk",
}


def settings(**overrides) -> AwsSettings:
    return AwsSettings({**CONFIG, **overrides})


def of(calls, service: str, operation: str) -> list[dict]:
    """The params of every recorded call of one operation."""
    return [p for s, o, p in calls if s == service and o == operation]


def set_variables(monkeypatch, values: dict[str, str]) -> None:
    """The configuration as Airflow Variables from the environment (what ``load_settings`` reads)."""
    from seqflow.aws.config_keys import variable_name

    for key in AWS_CONFIG_KEYS:
        name = f"AIRFLOW_VAR_{variable_name(key).upper()}"
        if values.get(key):
            monkeypatch.setenv(name, values[key])
        else:
            monkeypatch.delenv(name, raising=False)


def genome(path, contigs: dict[str, int], *, seed: int = 7, width: int = 60):
    """A small synthetic FASTA (random bases, wrapped at ``width``) to register as a reference."""
    import random

    rng = random.Random(seed)
    with open(path, "w") as out:
        for name, length in contigs.items():
            seq = "".join(rng.choice("ACGT") for _ in range(length))
            out.write(f">{name} synthetic\n")
            out.writelines(seq[i:i + width] + "\n" for i in range(0, len(seq), width))
    return path


def create_registry_table(name: str = "registry") -> None:
    """The run registry table as terraform/modules/airflow creates it: hash run_id, range analysis."""
    import boto3

    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"},
                   {"AttributeName": "analysis", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"},
                              {"AttributeName": "analysis", "AttributeType": "S"}],
    )


def moto_batch_queue(definitions, *, image: str | None = None, vcpus: int = 1, memory: int = 512):
    """On moto: the Batch job queue ``queue`` (an unmanaged compute environment behind it) and a container
    job definition of each name in ``definitions`` (image ``image``, or ``seqflow/<name less "sf-">``).
    Returns the Batch client."""
    import boto3

    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    batch = boto3.client("batch", region_name=REGION)
    ce = batch.create_compute_environment(computeEnvironmentName="seqflow-ce", type="UNMANAGED", state="ENABLED",
                                          serviceRole=role)["computeEnvironmentArn"]
    batch.create_job_queue(jobQueueName="queue", state="ENABLED", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])
    for name in definitions:
        batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties={
            "image": image or f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/seqflow/{name[3:]}:1",
            "vcpus": vcpus, "memory": memory, "command": ["true"]})
    return batch
