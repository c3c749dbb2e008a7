"""Analysis task bodies of the aws profile: plan from S3, HealthOmics requests, Glue, Athena, against moto."""

from __future__ import annotations

import tempfile

import boto3
import pytest

from aws_helpers import REGION, RUN, of, settings

SHEET = "\r\n".join([
    "[Header]", "FileFormatVersion,2", "", "[BCLConvert_Data]", "Lane,Sample_ID,Index,Index2",
    "1,S1,ACGTACGT,TTGGCCAA", "1,S2,TGCATGCA,AACCGGTT",
]) + "\r\n"


def _registry():
    from seqflow.registry import SqliteRunRegistry

    return SqliteRunRegistry(tempfile.mkdtemp() + "/r.sqlite")


@pytest.fixture
def s3(moto):
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket="raw", CreateBucketConfiguration={"LocationConstraint": REGION})
    prefix = f"runs/{RUN}/"
    client.put_object(Bucket="raw", Key=prefix + "SampleSheet.csv", Body=SHEET.encode())
    client.put_object(Bucket="raw", Key=prefix + "Data/Intensities/BaseCalls/L001/C1.1/x.bcl", Body=b"x")
    for sample, n in (("S1", 1), ("S2", 2)):
        for read in (1, 2):
            client.put_object(Bucket="raw", Key=f"{prefix}fastq/{sample}_S{n}_R{read}_001.fastq.gz", Body=b"x")
    for suffix in ("", ".fai", ".amb", ".ann", ".bwt", ".pac", ".sa"):
        client.put_object(Bucket="raw", Key=f"references/lambda/lambda.fa{suffix}", Body=b"x")
    return client


def test_plan_resolves_the_default_engine_and_lists_only_what_the_analysis_reads(s3):
    from seqflow.aws.analysis import plan

    result = plan({"run_id": RUN, "engine": None}, registry=_registry(), settings=settings(default_engine="omics"))
    assert result["engine"] == "omics"
    assert result["raw_bucket"] == "raw" and result["raw_prefix"] == f"runs/{RUN}/"
    assert f"runs/{RUN}/SampleSheet.csv" in result["input_keys"]
    assert not any(k.endswith(".bcl") for k in result["input_keys"])
    assert len(result["input_keys"]) == 5


def test_plan_rejects_local_engine_unknown_runs_and_skips_analysed_ones(s3):
    from seqflow.aws.analysis import AlreadyAnalysed, plan
    from seqflow.params import ParamsError

    with pytest.raises(ParamsError, match="local profile only"):
        plan({"run_id": RUN, "engine": "local"}, registry=_registry(), settings=settings())
    with pytest.raises(FileNotFoundError, match="ingest it first"):
        plan({"run_id": "261121_A01234_0043_AHBJ8YDSXY"}, registry=_registry(), settings=settings())
    with pytest.raises(ParamsError):
        plan({"run_id": "../etc"}, registry=_registry(), settings=settings())
    registry = _registry()
    registry.put(RUN, "1.0.0", "analysed")
    with pytest.raises(AlreadyAnalysed):
        plan({"run_id": RUN}, registry=registry, settings=settings())
    assert plan({"run_id": RUN, "force": True}, registry=registry, settings=settings())["engine"] == "batch"


def test_reference_must_be_complete_in_s3(s3):
    from seqflow.aws.analysis import reference

    assert reference("lambda", "bwa", settings=settings()) == {
        "reference_uri": "s3://raw/references/lambda/", "reference_fasta": "s3://raw/references/lambda/lambda.fa"}
    with pytest.raises(FileNotFoundError, match="lambda.fa.mmi"):
        reference("lambda", "minimap2", settings=settings())


def test_sample_jobs_from_the_sample_sheet_in_s3(s3):
    from seqflow.aws.analysis import plan, reference, sample_jobs
    from seqflow.params import ParamsError

    ref = reference("lambda", "bwa", settings=settings())
    run_plan = plan({"run_id": RUN, "samples": ["S2"]}, registry=_registry(), settings=settings())
    [job] = sample_jobs(run_plan, ref)
    assert job["sample_id"] == "S2" and job["ploidy"] == 1
    assert job["r1"] == f"s3://raw/runs/{RUN}/fastq/S2_S2_R1_001.fastq.gz"
    with pytest.raises(ParamsError, match="unknown sample"):
        sample_jobs({**run_plan, "samples": ["S9"]}, ref)


JOB = {"run_id": RUN, "pipeline_version": "1.0.0", "sample_id": "S1", "r1": "s3://raw/r1.fastq.gz",
       "r2": "s3://raw/r2.fastq.gz", "aligner": "bwa", "ploidy": 1, "reference": "lambda",
       "reference_uri": "s3://raw/references/lambda/", "reference_fasta": "s3://raw/references/lambda/lambda.fa"}


def test_omics_images_come_from_the_batch_job_definitions(moto):
    from seqflow.aws.analysis import omics_images

    batch = boto3.client("batch", region_name=REGION)
    for name, image in (("sf-fastp", "fastp"), ("sf-align", "bwa"), ("sf-align-minimap2", "minimap2"),
                        ("sf-call", "bcftools"), ("sf-stats", "bcftools")):
        batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties={
            "image": f"ecr/{image}:1", "vcpus": 1, "memory": 512, "command": ["true"]})
    assert omics_images(settings()) == {"fastp_image": "ecr/fastp:1", "bwa_image": "ecr/bwa:1",
                                        "minimap2_image": "ecr/minimap2:1", "samtools_image": "ecr/bcftools:1",
                                        "bcftools_image": "ecr/bcftools:1"}


def test_omics_requests_match_the_workflow_parameters():
    import json
    from pathlib import Path

    import seqflow
    from seqflow.aws.analysis import omics_requests, omics_vcf_uri

    images = {"fastp_image": "f", "bwa_image": "b", "minimap2_image": "m", "samtools_image": "s",
              "bcftools_image": "c"}
    [request] = omics_requests([JOB], settings=settings(), images=images)
    template = json.loads((Path(seqflow.__file__).parent / "workflows/germline/parameters.json").read_text())
    assert set(request["parameters"]) <= set(template)
    required = {name for name, spec in template.items() if not spec["optional"]}
    assert required <= set(request["parameters"])
    assert "minimap2_image" not in request["parameters"]
    assert request["output_uri"] == f"s3://results/omics/{RUN}/1.0.0/S1/"
    assert request["workflow_id"] == "1234567" and request["run_group_id"] is None
    assert omics_vcf_uri(request["output_uri"], "42", "S1") == f"s3://results/omics/{RUN}/1.0.0/S1/42/out/vcf/S1.vcf.gz"


def test_glue_arguments_and_idempotent_partition_registration(moto, calls):
    from seqflow.aws.analysis import glue_script_args, register_partitions, vcf_uris
    from seqflow.catalog.athena import PARQUET_STORAGE, table_def

    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": "lake_db"})
    tdef = table_def("variants")
    glue.create_table(DatabaseName="lake_db", TableInput={
        "Name": "variants", "PartitionKeys": [{"Name": n, "Type": t} for n, t in tdef.partition_keys],
        "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in tdef.columns],
                              "Location": "s3://lake/lake/variants/", **PARQUET_STORAGE}})
    run_plan = {"run_id": RUN, "pipeline_version": "1.0.0", "reference": "lambda", "engine": "batch"}
    vcfs = vcf_uris([JOB, {**JOB, "sample_id": "S2"}], "batch", settings=settings())
    assert vcfs[1] == {"sample_id": "S2", "vcf": f"s3://results/results/{RUN}/1.0.0/S2/S2.vcf.gz"}
    args = glue_script_args(run_plan, vcfs, settings=settings())
    assert args[0] == {"--vcf_uri": f"s3://results/results/{RUN}/1.0.0/S1/S1.vcf.gz", "--lake_uri": "s3://lake/lake",
                       "--run_id": RUN, "--pipeline_version": "1.0.0", "--reference": "lambda",
                       "--caller": "bcftools", "--sample_id": "S1", "--table": "variants", "--database": "lake_db"}
    assert register_partitions(run_plan, vcfs, settings=settings()) == 2
    assert register_partitions(run_plan, vcfs, settings=settings()) == 2  # again: already there is fine
    [call, _again] = of(calls, "glue", "BatchCreatePartition")
    assert call["DatabaseName"] == "lake_db" and call["TableName"] == "variants"
    assert [p["Values"] for p in call["PartitionInputList"]] == [[RUN, "1.0.0", "S1"], [RUN, "1.0.0", "S2"]]
    assert call["PartitionInputList"][0]["StorageDescriptor"]["Location"] == (
        f"s3://lake/lake/variants/run_id={RUN}/pipeline_version=1.0.0/sample_id=S1/")
    assert len(glue.get_partitions(DatabaseName="lake_db", TableName="variants")["Partitions"]) == 2


def test_qc_summary_query_is_restricted_to_the_run(moto):
    import sqlglot

    from seqflow.aws.analysis import qc_summary_sql

    sql = qc_summary_sql({"run_id": RUN, "pipeline_version": "1.0.0"})
    sqlglot.parse_one(sql, read="athena")
    assert f"q.run_id = '{RUN}'" in sql and "q.pipeline_version = '1.0.0'" in sql
    with pytest.raises(ValueError):
        qc_summary_sql({"run_id": "x' OR 1=1 --", "pipeline_version": "1.0.0"})


def test_athena_qc_summary_and_registry_record(moto, calls):
    from airflow.providers.amazon.aws.operators.athena import AthenaOperator

    from seqflow.aws.analysis import finalise, qc_summary_sql

    boto3.client("athena", region_name=REGION).create_work_group(Name="wg")
    run_plan = {"run_id": RUN, "pipeline_version": "1.0.0", "engine": "batch"}
    op = AthenaOperator(task_id="qc_summary", query=qc_summary_sql(run_plan), database="lake_db",
                        workgroup="wg", output_location="s3://athena/seqflow/qc_summary/", sleep_time=0)

    class TI:
        dag_id, run_id, task_id, map_index, try_number = "seqflow_analysis", "r", "qc_summary", -1, 1

        def xcom_push(self, key, value):
            pass

    query_id = op.execute({"ti": TI(), "task_instance": TI()})
    [start] = of(calls, "athena", "StartQueryExecution")
    assert start["QueryExecutionContext"] == {"Database": "lake_db", "Catalog": "AwsDataCatalog"}
    assert start["WorkGroup"] == "wg"
    assert start["ResultConfiguration"] == {"OutputLocation": "s3://athena/seqflow/qc_summary/"}
    registry = _registry()
    vcfs = [{"sample_id": "S1", "vcf": "s3://results/x.vcf.gz"}]
    outputs = finalise(run_plan, vcfs, query_id, registry=registry, settings=settings())
    record = registry.get(RUN, "1.0.0")
    assert record.status == "analysed" and record.details["qc_query_execution_id"] == query_id
    assert outputs["vcfs"] == {"S1": "s3://results/x.vcf.gz"}
