"""Shipped SQL on DuckDB over a lake built here; Athena/Glue arguments."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from seqflow.catalog import list_queries, register_partitions_duckdb, registered_partitions, run_query
from seqflow.catalog import athena
from seqflow.catalog.sql import to_athena
from seqflow.lake import VARIANT_SCHEMA, QC_METRICS_SCHEMA, convert_vcf_to_parquet, publish_qc_metrics
from seqflow.lake.publish import Partition

DATA = Path(__file__).resolve().parents[1] / "lake" / "data"


@pytest.fixture
def lake(tmp_path):
    """edge.vcf as run RUN1 in versions 1.9.0 (stale data) and 1.10.0, plus QC."""
    root, catalog = tmp_path / "lake", tmp_path / "catalog.duckdb"
    old = convert_vcf_to_parquet(DATA / "sites_only.vcf", root, run_id="RUN1", sample_id="S1",
                                 pipeline_version="1.9.0", reference="GRCh38", caller="old")
    new = convert_vcf_to_parquet(DATA / "edge.vcf", root, run_id="RUN1", sample_id=None,
                                 pipeline_version="1.10.0", reference="GRCh38", caller="new")
    qc_old = publish_qc_metrics(root, [{"sample_id": "S1", "read_pairs": 1}], run_id="RUN1", pipeline_version="1.9.0")
    qc = publish_qc_metrics(root, [
        {"sample_id": "S1", "read_pairs": 1000, "pct_mapped": 99.5, "pct_duplicates": 2.5, "mean_depth": 31.0,
         "variants_called": 7, "precision": 0.99, "recall": 0.97, "f1": 0.98},
        {"sample_id": "S2", "read_pairs": 800, "pct_mapped": 97.0, "pct_duplicates": 4.0, "mean_depth": 25.0,
         "variants_called": 7},
    ], run_id="RUN1", pipeline_version="1.10.0")
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
    extra = convert_vcf_to_parquet(DATA / "edge.vcf", root, run_id="RUN2", sample_id="S3",
                                   pipeline_version="1.0.0", reference="GRCh38", caller="x")
    assert q(lake, "SELECT count(*) AS n FROM variants WHERE run_id = 'RUN2'") == [{"n": 0}]  # not yet registered
    register_partitions_duckdb(catalog, root, extra)
    register_partitions_duckdb(catalog, root, extra)
    assert len(registered_partitions(catalog)) == n + 1
    assert q(lake, "SELECT count(*) AS n FROM variants WHERE run_id = 'RUN2'") == [{"n": 7}]
    with pytest.raises(FileNotFoundError):
        register_partitions_duckdb(catalog, root, [{"run_id": "NOPE", "pipeline_version": "1", "sample_id": "S"}])


def test_empty_catalog_answers_with_no_rows(tmp_path):
    cols, rows = run_query(tmp_path / "c.duckdb", tmp_path / "lake", "titv")
    assert cols[:3] == ["run_id", "pipeline_version", "sample_id"] and rows == []


def test_ddl_declares_the_converter_schema():
    variants = athena.table_def("variants")
    assert [c for c, _ in variants.columns] == VARIANT_SCHEMA.names
    assert [k for k, _ in variants.partition_keys] == ["run_id", "pipeline_version", "sample_id"]
    assert dict(variants.columns)["info"] == "map<string, string>" and dict(variants.columns)["gt"] == "array<smallint>"
    assert [c for c, _ in athena.table_def("qc_metrics").columns] == QC_METRICS_SCHEMA.names


def test_athena_partition_sql_and_glue_args():
    parts = [Partition("variants", "RUN1", "1.0.0", f"S{i}") for i in range(150)]
    sql = athena.add_partitions_sql("variants", parts, "s3://lake-bucket/lake")
    assert len(sql) == 2 and sql[0].startswith("ALTER TABLE variants ADD IF NOT EXISTS")
    assert ("PARTITION (run_id = 'RUN1', pipeline_version = '1.0.0', sample_id = 'S0') "
            "LOCATION 's3://lake-bucket/lake/variants/run_id=RUN1/pipeline_version=1.0.0/sample_id=S0/'") in sql[0]
    calls = athena.glue_batch_create_partition_args("seqflow", "variants", parts, "s3://lake-bucket/lake")
    assert [len(c["PartitionInputList"]) for c in calls] == [100, 50]
    first = calls[0]["PartitionInputList"][0]
    assert first["Values"] == ["RUN1", "1.0.0", "S0"]
    assert first["StorageDescriptor"]["Location"].endswith("/sample_id=S0/")
    assert first["StorageDescriptor"]["Columns"][0] == {"Name": "contig", "Type": "string"}
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
    assert out[0].split() == ["run_id", "pipeline_version", "sample_id", "transitions", "transversions", "titv"]
    assert out[2].split() == ["RUN1", "1.10.0", "S1", "2", "1", "2.0"] and out[-1] == "(3 rows)"
