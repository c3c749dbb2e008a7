"""Shipped SQL on DuckDB over a lake built here; Athena/Glue arguments."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from seqflow.catalog import list_queries, register_partitions_duckdb, registered_partitions, run_query
from seqflow.catalog import athena
from seqflow.catalog.sql import to_athena
from seqflow.lake import (
    VARIANT_SCHEMA,
    QC_METRICS_SCHEMA,
    AnalysisIdentity,
    convert_vcf_to_parquet,
    publish_qc_metrics,
)
from seqflow.lake.publish import Partition

DATA = Path(__file__).resolve().parents[1] / "lake" / "data"
RUN = "240101_A00123_0001_AHXXXXXXXX"
RUN2 = "240102_A00123_0002_BHXXXXXXXX"
#: one analysis configuration of RUN in two pipeline versions
OLD = AnalysisIdentity(RUN, "1.9.0", "GRCh38", "bwa", "bcftools")
NEW = replace(OLD, pipeline_version="1.10.0")
PREFIX = f"run_id={RUN}/pipeline_version=1.0.0/reference=GRCh38/aligner=bwa/caller=bcftools"


@pytest.fixture
def lake(tmp_path):
    """edge.vcf as run RUN in versions 1.9.0 (stale data) and 1.10.0, plus QC."""
    root, catalog = tmp_path / "lake", tmp_path / "catalog.duckdb"
    old = convert_vcf_to_parquet(DATA / "sites_only.vcf", root, identity=OLD, sample_id="S1")
    new = convert_vcf_to_parquet(DATA / "edge.vcf", root, identity=NEW, sample_id=None)
    qc_old = publish_qc_metrics(root, [{"sample_id": "S1", "read_pairs": 1}], identity=OLD)
    qc = publish_qc_metrics(root, [
        {"sample_id": "S1", "read_pairs": 1000, "pct_mapped": 99.5, "pct_duplicates": 2.5, "mean_depth": 31.0,
         "variants_called": 7, "precision": 0.99, "recall": 0.97, "f1": 0.98},
        {"sample_id": "S2", "read_pairs": 800, "pct_mapped": 97.0, "pct_duplicates": 4.0, "mean_depth": 25.0,
         "variants_called": 7},
    ], identity=NEW)
    register_partitions_duckdb(catalog, root, [old, new, qc_old, qc])
    return catalog, root


def q(lake, name, params=None):
    catalog, root = lake
    cols, rows = run_query(catalog, root, name, params)
    return [dict(zip(cols, r)) for r in rows]


def test_every_shipped_query_runs(lake):
    params = {"genotypes_in_region": {"contig": "chr1", "region_start": 250, "region_end": 420}}
    assert list_queries() == ["allele_frequency", "genotypes_in_region", "qc_metrics", "sample_variant_qc",
                              "titv", "variant_counts_by_type"]
    for name in list_queries():
        assert q(lake, name, params.get(name)), name


def test_variant_counts_by_type(lake):
    got = {(r["sample_id"], r["variant_type"]): r["n_variants"] for r in q(lake, "variant_counts_by_type")}
    assert got == {
        ("S1", "SNV"): 3, ("S1", "DEL"): 1, ("S1", "SYMBOLIC"): 1, ("S1", "MNV"): 1,
        ("S2", "SNV"): 2, ("S2", "INS"): 1, ("S2", "MNV"): 1,
        ("S3", "SNV"): 1, ("S3", "DEL"): 1, ("S3", "SYMBOLIC"): 1, ("S3", "MNV"): 1,
    }


def test_titv(lake):
    got = {r["sample_id"]: (r["transitions"], r["transversions"], r["titv"]) for r in q(lake, "titv")}
    assert got == {"S1": (2, 1, 2.0), "S2": (2, 0, None), "S3": (1, 0, None)}
    assert all(r["pipeline_version"] == "1.10.0" for r in q(lake, "titv"))  # latest, semantically


def test_allele_frequency_across_samples(lake):
    got = {(r["pos"], r["alt"]): (r["n_samples"], r["allele_count"], r["allele_number"], r["allele_frequency"])
           for r in q(lake, "allele_frequency")}
    assert got[(100, "G")] == (3, 4, 6, pytest.approx(4 / 6))
    assert got[(200, "A")] == (3, 1, 4, 0.25) and got[(200, "T")] == (3, 1, 4, 0.25)
    assert got[(400, "TAA")] == (3, 1, 6, pytest.approx(1 / 6)) and got[(400, "<DEL>")] == (3, 3, 6, 0.5)
    assert got[(300, "A")] == (3, 3, 6, 0.5) and got[(2000, "TC")] == (3, 4, 6, pytest.approx(4 / 6))
    assert got[(1000, "T")] == (3, 1, 2, 0.5)  # haploid calls; the no-call adds no allele
    assert (500, None) not in got and len(got) == 8


def test_genotypes_in_region(lake):
    rows = q(lake, "genotypes_in_region", {"contig": "chr1", "region_start": 250, "region_end": 420})
    assert [(r["pos"], r["sample_id"], r["genotype"], r["alt"]) for r in rows] == [
        (300, "S1", "0/1", "A"), (300, "S2", "0/0", "A"), (300, "S3", "1/1", "A"),
        (400, "S1", "0/2", "TAA,<DEL>"), (400, "S2", "0/1", "TAA,<DEL>"), (400, "S3", "2/2", "TAA,<DEL>"),
    ]
    # the <DEL> at 400 spans to 450: a region after its POS still overlaps it
    assert [r["pos"] for r in q(lake, "genotypes_in_region", {"contig": "chr1", "region_start": 440, "region_end": 445})] == [400] * 3
    with pytest.raises(ValueError, match="missing parameter.*region_end"):
        q(lake, "genotypes_in_region", {"contig": "chr1", "region_start": 1})


def test_qc_metrics_and_sample_variant_qc(lake):
    qc = q(lake, "qc_metrics")
    assert [(r["sample_id"], r["pipeline_version"], r["read_pairs"], r["variants_in_lake"], r["f1"]) for r in qc] == [
        ("S1", "1.10.0", 1000, 7, 0.98), ("S2", "1.10.0", 800, 7, None)]
    sv = {r["sample_id"]: r for r in q(lake, "sample_variant_qc")}
    assert (sv["S1"]["records"], sv["S1"]["het"], sv["S1"]["hom_alt"], sv["S1"]["mean_gq"]) == (7, 5, 0, pytest.approx(80 / 3))
    assert (sv["S2"]["het"], sv["S2"]["hom_alt"], sv["S2"]["het_hom_ratio"]) == (1, 3, pytest.approx(1 / 3))
    assert sv["S3"]["no_calls"] == 2  # ./. at 200 and the haploid '.' at chrX:1000


def test_ad_hoc_sql_and_old_versions_stay_queryable(lake):
    rows = q(lake, "SELECT pipeline_version, count(*) AS n FROM variants GROUP BY 1 ORDER BY 1")
    assert rows == [{"pipeline_version": "1.10.0", "n": 21}, {"pipeline_version": "1.9.0", "n": 4}]
    rows = q(lake, "SELECT element_at(info, 'ANN') AS ann, cardinality(alt) AS n FROM variants_latest "
                   "WHERE pos = :pos AND sample_id = 'S1'", {"pos": 200})
    assert rows == [{"ann": "x|y,z", "n": 2}]


def test_registration_is_explicit_and_idempotent(lake, tmp_path):
    catalog, root = lake
    n = len(registered_partitions(catalog))
    extra = convert_vcf_to_parquet(DATA / "edge.vcf", root, identity=replace(OLD, run_id=RUN2), sample_id="S3")
    count = f"SELECT count(*) AS n FROM variants WHERE run_id = '{RUN2}'"
    assert q(lake, count) == [{"n": 0}]  # not yet registered
    register_partitions_duckdb(catalog, root, extra)
    register_partitions_duckdb(catalog, root, extra)
    assert len(registered_partitions(catalog)) == n + 1
    assert (RUN2, "variants", "1.9.0", "GRCh38", "bwa", "bcftools", "S3") in [
        (r[1], r[0], *r[2:]) for r in registered_partitions(catalog)]
    assert q(lake, count) == [{"n": 7}]
    nope = {"run_id": "NOPE", "pipeline_version": "1", "reference": "GRCh38", "aligner": "bwa", "caller": "bcftools",
            "sample_id": "S"}
    with pytest.raises(FileNotFoundError):
        register_partitions_duckdb(catalog, root, [nope])
    with pytest.raises(ValueError, match="lacks aligner"):
        register_partitions_duckdb(catalog, root, [{k: v for k, v in nope.items() if k != "aligner"}])
    # a dict naming the partition registers it as well as the Partition does
    as_dict = {"table": "variants", **replace(OLD, run_id=RUN2).to_dict(), "sample_id": "S3"}
    register_partitions_duckdb(catalog, root, [as_dict])
    assert len(registered_partitions(catalog)) == n + 1


def test_empty_catalog_answers_with_no_rows(tmp_path):
    cols, rows = run_query(tmp_path / "c.duckdb", tmp_path / "lake", "titv")
    assert cols[:6] == ["run_id", "pipeline_version", "reference", "aligner", "caller", "sample_id"] and rows == []


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


def test_named_parameters_become_athena_execution_parameters():
    from seqflow.catalog.sql import load
    sql, values = to_athena(load("genotypes_in_region"), {"contig": "chr'1", "region_start": 5, "region_end": 9})
    assert "WHERE v.contig = ? AND v.\"start\" < ? AND v.\"end\" > ? - 1" in sql
    assert values == ["'chr''1'", "9", "5"]


def test_cli_query_prints_a_table(lake, capsys):
    from seqflow.lake.commands import _query, register
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    catalog, root = lake
    args = parser.parse_args(["query", "titv", "--catalog", str(catalog), "--lake", str(root)])
    assert args.handler(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["run_id", "pipeline_version", "reference", "aligner", "caller", "sample_id",
                              "transitions", "transversions", "titv"]
    assert out[2].split() == [RUN, "1.10.0", "GRCh38", "bwa", "bcftools", "S1", "2", "1", "2.0"]
    assert out[-1] == "(3 rows)"


# --- the analysis identity: two references of one run side by side -------------------------


@pytest.fixture
def two_references(lake):
    """The lake fixture plus RUN analysed on GRCh37 too, only in 1.9.0 (older than GRCh38's 1.10.0)."""
    catalog, root = lake
    grch37 = replace(OLD, reference="GRCh37")
    published = [
        convert_vcf_to_parquet(DATA / "edge.vcf", root, identity=grch37, sample_id="S2"),
        publish_qc_metrics(root, [{"sample_id": "S2", "read_pairs": 37}], identity=grch37),
    ]
    register_partitions_duckdb(catalog, root, published)
    return lake


def test_latest_views_keep_the_latest_version_per_reference(two_references):
    rows = q(two_references, "SELECT reference, pipeline_version, sample_id, count(*) AS n FROM variants_latest "
                             "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
    # GRCh37's only (older) version is not hidden by GRCh38's newer one; GRCh38's 1.9.0 is
    assert [tuple(r.values()) for r in rows] == [
        ("GRCh37", "1.9.0", "S2", 7), ("GRCh38", "1.10.0", "S1", 7), ("GRCh38", "1.10.0", "S2", 7),
        ("GRCh38", "1.10.0", "S3", 7)]
    qc = q(two_references, "SELECT reference, pipeline_version, sample_id, read_pairs FROM qc_metrics_latest ORDER BY 1, 3")
    assert [tuple(r.values()) for r in qc] == [
        ("GRCh37", "1.9.0", "S2", 37), ("GRCh38", "1.10.0", "S1", 1000), ("GRCh38", "1.10.0", "S2", 800)]
    # all of it stays in the base tables, with the partition keys queryable as columns
    assert q(two_references, "SELECT count(DISTINCT reference || '/' || pipeline_version) AS n, "
                             "min(aligner) AS aligner, min(caller) AS caller FROM variants") == [
        {"n": 3, "aligner": "bwa", "caller": "bcftools"}]


def test_another_aligner_or_caller_is_another_analysis_not_an_older_one(lake):
    catalog, root = lake
    minimap2 = replace(OLD, aligner="minimap2")  # 1.9.0: older than bwa's 1.10.0
    register_partitions_duckdb(catalog, root, convert_vcf_to_parquet(DATA / "edge.vcf", root, identity=minimap2,
                                                                     sample_id="S1"))
    rows = q(lake, "SELECT aligner, pipeline_version, count(*) AS n FROM variants_latest WHERE sample_id = 'S1' "
                   "GROUP BY 1, 2 ORDER BY 1")
    assert rows == [{"aligner": "bwa", "pipeline_version": "1.10.0", "n": 7},
                    {"aligner": "minimap2", "pipeline_version": "1.9.0", "n": 7}]


def test_per_sample_queries_report_each_analysis(two_references):
    titv = {(r["reference"], r["sample_id"]): (r["pipeline_version"], r["transitions"], r["transversions"])
            for r in q(two_references, "titv")}
    # S2 of GRCh37 is its own row: not summed into GRCh38's S2
    assert titv == {("GRCh37", "S2"): ("1.9.0", 2, 0), ("GRCh38", "S1"): ("1.10.0", 2, 1),
                    ("GRCh38", "S2"): ("1.10.0", 2, 0), ("GRCh38", "S3"): ("1.10.0", 1, 0)}
    qc = [(r["reference"], r["aligner"], r["caller"], r["sample_id"], r["read_pairs"], r["variants_in_lake"])
          for r in q(two_references, "qc_metrics")]
    assert qc == [("GRCh37", "bwa", "bcftools", "S2", 37, 7), ("GRCh38", "bwa", "bcftools", "S1", 1000, 7),
                  ("GRCh38", "bwa", "bcftools", "S2", 800, 7)]
    sv = {(r["reference"], r["sample_id"]): r["records"] for r in q(two_references, "sample_variant_qc")}
    assert sv == {("GRCh37", "S2"): 7, ("GRCh38", "S1"): 7, ("GRCh38", "S2"): 7, ("GRCh38", "S3"): 7}
    counts = {(r["reference"], r["sample_id"], r["variant_type"]): r["n_variants"]
              for r in q(two_references, "variant_counts_by_type")}
    assert counts[("GRCh37", "S2", "SNV")] == 2 and counts[("GRCh38", "S2", "SNV")] == 2
    region = q(two_references, "genotypes_in_region", {"contig": "chr1", "region_start": 299, "region_end": 301})
    assert [(r["reference"], r["sample_id"], r["genotype"]) for r in region] == [
        ("GRCh37", "S2", "0/0"), ("GRCh38", "S1", "0/1"), ("GRCh38", "S2", "0/0"), ("GRCh38", "S3", "1/1")]
    # allele frequencies are per reference: GRCh37's single sample is its own cohort
    af = {(r["reference"], r["pos"], r["alt"]): (r["n_samples"], r["allele_count"], r["allele_number"])
          for r in q(two_references, "allele_frequency")}
    assert af[("GRCh38", 100, "G")] == (3, 4, 6) and af[("GRCh37", 100, "G")] == (1, 2, 2)


def test_a_catalog_of_the_pre_identity_layout_is_set_aside(tmp_path):
    from seqflow.catalog.local import LEGACY_PARTITIONS_TABLE

    catalog, root = tmp_path / "catalog.duckdb", tmp_path / "lake"
    with duckdb.connect(str(catalog)) as con:
        con.execute("CREATE TABLE seqflow_partitions (table_name VARCHAR, run_id VARCHAR, pipeline_version VARCHAR, "
                    "sample_id VARCHAR, location VARCHAR, PRIMARY KEY (table_name, run_id, pipeline_version, sample_id))")
        con.execute("INSERT INTO seqflow_partitions VALUES ('variants', 'RUN1', '1.0.0', 'S1', '/old/place')")
        con.execute("CREATE VIEW variants AS SELECT 1 AS stale")
    # a query upgrades it: the old registrations do not match the tables any more
    cols, rows = run_query(catalog, root, "titv")
    assert cols[:6] == ["run_id", "pipeline_version", "reference", "aligner", "caller", "sample_id"] and rows == []
    with duckdb.connect(str(catalog), read_only=True) as con:
        assert con.execute(f"SELECT run_id, location FROM {LEGACY_PARTITIONS_TABLE}").fetchall() == [
            ("RUN1", "/old/place")]
    register_partitions_duckdb(catalog, root, convert_vcf_to_parquet(DATA / "edge.vcf", root, identity=NEW,
                                                                     sample_id="S1"))
    assert registered_partitions(catalog) == [("variants", RUN, "1.10.0", "GRCh38", "bwa", "bcftools", "S1")]


def test_cli_vcf_to_parquet_takes_the_whole_identity(tmp_path, capsys):
    from seqflow.cli import main

    lake, catalog = tmp_path / "lake", tmp_path / "catalog.duckdb"
    base = ["vcf-to-parquet", str(DATA / "edge.vcf"), "--lake", str(lake), "--run-id", RUN, "--sample-id", "S1",
            "--pipeline-version", "1.0.0", "--reference", "GRCh38", "--caller", "bcftools"]
    with pytest.raises(SystemExit):  # --aligner is required, as --reference and --caller are
        main(base)
    assert "--aligner" in capsys.readouterr().err
    assert main(base + ["--aligner", "minimap2", "--register", "--catalog", str(catalog)]) == 0
    out = capsys.readouterr().out
    expected = lake / f"variants/run_id={RUN}/pipeline_version=1.0.0/reference=GRCh38/aligner=minimap2/caller=bcftools/sample_id=S1"
    assert out == f"{expected}\t7 rows\n"
    assert registered_partitions(catalog) == [("variants", RUN, "1.0.0", "GRCh38", "minimap2", "bcftools", "S1")]
    assert main(base + ["--aligner", "Bad-Name"]) == 1
    assert "invalid aligner name" in capsys.readouterr().err


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
