"""The aws profile's lake path (not on Iceberg yet): Athena Hive DDL, Glue partitions, the Glue job."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from seqflow.catalog import athena
from seqflow.lake import QC_METRICS_SCHEMA, VARIANT_SCHEMA, AnalysisIdentity
from seqflow.lake.staging import Partition

DATA = Path(__file__).resolve().parents[1] / "lake" / "data"
RUN = "240101_A00123_0001_AHXXXXXXXX"
OLD = AnalysisIdentity(RUN, "1.9.0", "GRCh38", "bwa", "bcftools")
PREFIX = f"run_id={RUN}/pipeline_version=1.0.0/reference=GRCh38/aligner=bwa/caller=bcftools"


def test_ddl_declares_the_converter_schema():
    variants = athena.table_def("variants")
    assert [c for c, _ in variants.columns] == VARIANT_SCHEMA.names
    assert [k for k, _ in variants.partition_keys] == [
        "run_id", "pipeline_version", "reference", "aligner", "caller", "sample_id"]
    assert dict(variants.columns)["info"] == "map<string, string>" and dict(variants.columns)["gt"] == "array<smallint>"
    qc = athena.table_def("qc_metrics")
    assert [c for c, _ in qc.columns] == QC_METRICS_SCHEMA.names
    assert [k for k, _ in qc.partition_keys] == ["run_id", "pipeline_version", "reference", "aligner", "caller"]
    for tdef in (variants, qc):  # a column may not be both a partition key and a data column
        assert not {c for c, _ in tdef.columns} & {k for k, _ in tdef.partition_keys}


def test_athena_partition_sql_and_glue_args():
    identity = replace(OLD, pipeline_version="1.0.0")
    parts = [Partition.of("variants", identity, f"S{i}") for i in range(150)]
    sql = athena.add_partitions_sql("variants", parts, "s3://lake-bucket/lake")
    assert len(sql) == 2 and sql[0].startswith("ALTER TABLE variants ADD IF NOT EXISTS")
    assert (f"PARTITION (run_id = '{RUN}', pipeline_version = '1.0.0', reference = 'GRCh38', aligner = 'bwa', "
            f"caller = 'bcftools', sample_id = 'S0') "
            f"LOCATION 's3://lake-bucket/lake/variants/{PREFIX}/sample_id=S0/'") in sql[0]
    calls = athena.glue_batch_create_partition_args("seqflow", "variants", parts, "s3://lake-bucket/lake")
    assert [len(c["PartitionInputList"]) for c in calls] == [100, 50]
    first = calls[0]["PartitionInputList"][0]
    # Values in the table's key order: the five identity parts, then the sample
    assert first["Values"] == [RUN, "1.0.0", "GRCh38", "bwa", "bcftools", "S0"]
    assert first["StorageDescriptor"]["Location"] == f"s3://lake-bucket/lake/variants/{PREFIX}/sample_id=S0/"
    assert first["StorageDescriptor"]["Columns"][0] == {"Name": "contig", "Type": "string"}
    assert "reference" not in [c["Name"] for c in first["StorageDescriptor"]["Columns"]]
    [qc_call] = athena.glue_batch_create_partition_args(
        "seqflow", "qc_metrics", [Partition.of("qc_metrics", identity)], "s3://lake-bucket/lake")
    [qc_input] = qc_call["PartitionInputList"]
    assert qc_input["Values"] == [RUN, "1.0.0", "GRCh38", "bwa", "bcftools"]
    assert qc_input["StorageDescriptor"]["Location"] == f"s3://lake-bucket/lake/qc_metrics/{PREFIX}/"
    with pytest.raises(ValueError, match="does not match the keys"):
        athena.glue_batch_create_partition_args("seqflow", "variants", [Partition.of("variants", identity)], "s3://b/l")
    resp = {"Errors": [{"PartitionValues": ["a"], "ErrorDetail": {"ErrorCode": "AlreadyExistsException"}},
                       {"PartitionValues": ["b"], "ErrorDetail": {"ErrorCode": "InternalServiceException"}}]}
    assert [e["PartitionValues"] for e in athena.unexpected_partition_errors(resp)] == [["b"]]
    ddl = athena.render_ddl("variants", "s3://lake-bucket/lake/variants/")
    assert "LOCATION 's3://lake-bucket/lake/variants/'" in ddl and "${" not in ddl


# --- the Glue job ----------------------------------------------------------------------------


def test_glue_job_requires_the_aligner_and_builds_the_identity():
    from seqflow.glue import vcf_to_parquet_job as job

    argv = ["--vcf_uri", "s3://r/x.vcf.gz", "--lake_uri", "s3://l/lake", "--run_id", RUN, "--pipeline_version", "1.0.0",
            "--reference", "GRCh38", "--caller", "bcftools"]
    with pytest.raises(SystemExit, match="--aligner"):
        job.parse_args(argv)
    args = job.parse_args(argv + ["--aligner", "bwa"])
    assert job.analysis_identity(args) == replace(OLD, pipeline_version="1.0.0")
    with pytest.raises(ValueError, match="invalid aligner"):
        job.analysis_identity({**args, "aligner": "bwa-mem"})


@pytest.fixture
def moto_aws(monkeypatch):
    pytest.importorskip("moto")
    from moto import mock_aws

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def test_glue_job_publishes_and_registers_the_identity_partitions(moto_aws, tmp_path):
    import boto3

    from seqflow.glue import vcf_to_parquet_job as job

    s3, glue = boto3.client("s3"), boto3.client("glue")
    for bucket in ("results", "lake"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.upload_file(str(DATA / "edge.vcf"), "results", "in/edge.vcf")
    glue.create_database(DatabaseInput={"Name": "lake_db"})
    tdef = athena.table_def("variants")
    glue.create_table(DatabaseName="lake_db", TableInput={
        "Name": "variants", "PartitionKeys": [{"Name": n, "Type": t} for n, t in tdef.partition_keys],
        "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in tdef.columns],
                              "Location": "s3://lake/lake/variants/", **athena.PARQUET_STORAGE}})
    argv = ["--vcf_uri", "s3://results/in/edge.vcf", "--lake_uri", "s3://lake/lake", "--run_id", RUN,
            "--pipeline_version", "1.0.0", "--reference", "GRCh38", "--aligner", "bwa", "--caller", "bcftools",
            "--sample_id", "-", "--database", "lake_db"]
    assert job.main(argv) == 0
    assert job.main(argv) == 0  # a retry converges: same objects, partitions already registered
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"])
    assert keys == [f"lake/variants/{PREFIX}/sample_id={s}/part-00000.parquet" for s in ("S1", "S2", "S3")]
    parts = glue.get_partitions(DatabaseName="lake_db", TableName="variants")["Partitions"]
    assert sorted(p["Values"] for p in parts) == [[RUN, "1.0.0", "GRCh38", "bwa", "bcftools", s] for s in ("S1", "S2", "S3")]
    assert {p["StorageDescriptor"]["Location"] for p in parts} == {
        f"s3://lake/lake/variants/{PREFIX}/sample_id={s}/" for s in ("S1", "S2", "S3")}
