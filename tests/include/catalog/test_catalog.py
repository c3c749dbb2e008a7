"""Shipped SQL on DuckDB over an Iceberg lake built here; the read-only guard; Athena SQL."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from seqflow.catalog import QueryRefused, list_queries, run_query
from seqflow.catalog.sql import to_athena
from seqflow.lake import AnalysisIdentity, Lake, publish_qc_metrics, publish_step_costs, publish_vcf

DATA = Path(__file__).resolve().parents[1] / "lake" / "data"
RUN = "240101_A00123_0001_AHXXXXXXXX"
RUN2 = "240102_A00123_0002_BHXXXXXXXX"
#: one analysis configuration of RUN in two pipeline versions
OLD = AnalysisIdentity(RUN, "1.9.0", "GRCh38", "bwa", "bcftools")
NEW = replace(OLD, pipeline_version="1.10.0")


@pytest.fixture
def lake(tmp_path):
    """edge.vcf as run RUN in versions 1.9.0 (stale data) and 1.10.0, plus QC."""
    root = tmp_path / "lake"
    lk = Lake.local(root)
    publish_vcf(DATA / "sites_only.vcf", lk, identity=OLD, sample_id="S1")
    publish_vcf(DATA / "edge.vcf", lk, identity=NEW, sample_id=None)
    publish_qc_metrics(lk, [{"sample_id": "S1", "read_pairs": 1}], identity=OLD)
    publish_qc_metrics(lk, [
        {"sample_id": "S1", "read_pairs": 1000, "pct_mapped": 99.5, "pct_duplicates": 2.5, "mean_depth": 31.0,
         "variants_called": 7, "precision": 0.99, "recall": 0.97, "f1": 0.98},
        {"sample_id": "S2", "read_pairs": 800, "pct_mapped": 97.0, "pct_duplicates": 4.0, "mean_depth": 25.0,
         "variants_called": 7},
    ], identity=NEW)
    publish_step_costs(lk, [
        {"sample_id": "S1", "project": "P1", "step": "fastp", "engine": "local", "cpu_seconds": 3.5,
         "wall_seconds": 2.0, "started_at": "2026-11-19T10:00:00+00:00", "month": "2026-11"},
        {"sample_id": "S1", "project": "P1", "step": "align", "engine": "local", "status": "failed",
         "cpu_seconds": 1.5, "wall_seconds": 1.0, "started_at": "2026-11-19T10:01:00+00:00", "month": "2026-11"},
    ], identity=NEW)
    return root


def q(lake, name, params=None):
    cols, rows = run_query(lake, name, params)
    return [dict(zip(cols, r)) for r in rows]


def test_every_shipped_query_runs(lake):
    params = {"genotypes_in_region": {"contig": "chr1", "region_start": 250, "region_end": 420},
              "cost_per_sample": {"from_date": "2026-11-01", "to_date": "2026-11-30"}}
    assert list_queries() == ["allele_frequency", "cost_by_project_month", "cost_per_sample", "genotypes_in_region",
                              "qc_metrics", "sample_variant_qc", "titv", "variant_counts_by_type"]
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


def test_empty_lake_answers_with_no_rows(tmp_path):
    cols, rows = run_query(tmp_path / "lake", "titv")
    assert cols[:6] == ["run_id", "pipeline_version", "reference", "aligner", "caller", "sample_id"] and rows == []


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
    args = parser.parse_args(["query", "titv", "--lake", str(lake)])
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
    grch37 = replace(OLD, reference="GRCh37")
    publish_vcf(DATA / "edge.vcf", Lake.local(lake), identity=grch37, sample_id="S2")
    publish_qc_metrics(Lake.local(lake), [{"sample_id": "S2", "read_pairs": 37}], identity=grch37)
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
    minimap2 = replace(OLD, aligner="minimap2")  # 1.9.0: older than bwa's 1.10.0
    publish_vcf(DATA / "edge.vcf", Lake.local(lake), identity=minimap2, sample_id="S1")
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


def test_cli_vcf_to_parquet_takes_the_whole_identity(tmp_path, capsys):
    from seqflow.cli import main

    lake = tmp_path / "lake"
    base = ["vcf-to-parquet", str(DATA / "edge.vcf"), "--lake", str(lake), "--run-id", RUN, "--sample-id", "S1",
            "--pipeline-version", "1.0.0", "--reference", "GRCh38", "--caller", "bcftools"]
    with pytest.raises(SystemExit):  # --aligner is required, as --reference and --caller are
        main(base)
    assert "--aligner" in capsys.readouterr().err
    assert main(base + ["--aligner", "minimap2"]) == 0
    assert capsys.readouterr().out == "S1\t7 rows\n"
    assert q(lake, "SELECT run_id, pipeline_version, reference, aligner, caller, sample_id, count(*) AS n FROM variants "
                   "GROUP BY ALL") == [{**replace(OLD, pipeline_version="1.0.0", aligner="minimap2").to_dict(),
                                        "sample_id": "S1", "n": 7}]
    assert main(base + ["--aligner", "Bad-Name"]) == 1
    assert "invalid aligner name" in capsys.readouterr().err




# --- the query interface only reads ------------------------------------------------------------

ATTACKS = [
    ("SELECT * FROM read_csv('/etc/passwd')", "table functions"),
    ("SELECT * FROM read_csv_auto('/etc/passwd')", "table functions"),
    ("SELECT * FROM read_parquet('/etc/x.parquet')", "table functions"),
    ("SELECT * FROM '/etc/passwd'", "unknown table"),
    ("SELECT * FROM duckdb_settings()", "table functions"),
    ("SELECT read_text('/etc/passwd') AS t", "reads outside the lake"),
    ("COPY (SELECT * FROM variants) TO '/tmp/out.csv'", "COPY"),
    ("COPY variants TO '/tmp/out.parquet'", "COPY"),
    ("ATTACH '/tmp/other.duckdb' AS other", "not valid|only queries"),
    ("INSTALL httpfs", "only queries"),
    ("LOAD httpfs", "LOAD"),
    ("SET enable_external_access = true", "SET"),
    ("CREATE TABLE stolen AS SELECT * FROM variants", "CREATE"),
    ("INSERT INTO variants SELECT * FROM variants", "INSERT"),
    ("DELETE FROM variants", "DELETE"),
    ("DROP VIEW variants", "DROP"),
    ("SELECT 1 AS a; COPY (SELECT 1) TO '/tmp/x.csv'", "one statement at a time"),
    ("SELECT count(*) FROM variants; SELECT 2", "one statement at a time"),
    ("SELECT * FROM main.variants", "qualified"),
    ("SELECT * FROM memory.main.variants", "qualified"),
    ("WITH x AS (SELECT 1 AS a) SELECT * FROM x, nosuch", "unknown table"),
]


@pytest.mark.parametrize("sql,message", ATTACKS, ids=[a[0][:40] for a in ATTACKS])
def test_query_refuses_every_way_out_and_runs_nothing(lake, tmp_path, sql, message):
    before = sorted(p.relative_to(lake) for p in lake.rglob("*"))
    with pytest.raises(QueryRefused, match=message):
        run_query(lake, sql)
    assert sorted(p.relative_to(lake) for p in lake.rglob("*")) == before  # nothing written in the lake
    assert not Path("/tmp/out.csv").exists() and not (tmp_path / "stolen").exists()


def test_duckdb_itself_can_read_only_the_lake_folders(lake):
    """The second lock: even past the parser, the connection cannot open another file or undo it."""
    import duckdb

    from seqflow.catalog.local import open_readonly

    with open_readonly(Lake.local(lake)) as con:
        assert con.execute("SELECT count(*) FROM variants").fetchone()[0] == 25
        for sql in ("SELECT * FROM read_csv('/etc/passwd')", "COPY (SELECT 1) TO '/tmp/seqflow-x.csv'",
                    "ATTACH '/tmp/seqflow-x.duckdb'", "SET enable_external_access = true",
                    "SET allowed_directories = ['/']", "LOAD httpfs"):
            with pytest.raises((duckdb.PermissionException, duckdb.InvalidInputException)):
                con.execute(sql)
    assert not Path("/tmp/seqflow-x.csv").exists() and not Path("/tmp/seqflow-x.duckdb").exists()


def test_cli_query_says_why_it_refuses(lake, capsys):
    from seqflow.cli import main

    assert main(["query", "SELECT 1 AS a; SELECT 2 AS b", "--lake", str(lake)]) == 1
    assert "one statement at a time" in capsys.readouterr().err


def test_time_travel_reads_the_tables_as_they_were(lake):
    from seqflow.lake.iceberg import snapshots

    lk = Lake.local(lake)
    before = snapshots(lk.table("variants"))[-1]["timestamp_ms"]
    publish_vcf(DATA / "edge.vcf", lk, identity=replace(NEW, run_id=RUN2), sample_id="S3")
    count = "SELECT count(*) AS n FROM variants WHERE run_id = '%s'" % RUN2
    assert q(lake, count) == [{"n": 7}]
    cols, rows = run_query(lake, count, as_of_ms=before)
    assert rows == [(0,)]


def test_cost_by_project_and_month_sums_the_step_rows(lake):
    [row] = q(lake, "cost_by_project_month")
    assert (row["project"], row["month"], row["runs"], row["samples"], row["steps"]) == ("P1", "2026-11", 1, 1, 2)
    assert row["cpu_hours"] == round(5.0 / 3600, 4) and row["cost_usd"] is None and row["priced_steps"] == 0
    [sample] = q(lake, "cost_per_sample", {"from_date": "2026-11-19", "to_date": "2026-11-19"})
    assert (sample["cpu_seconds"], sample["wall_seconds"], sample["failed_steps"]) == (5.0, 3.0, 1)
