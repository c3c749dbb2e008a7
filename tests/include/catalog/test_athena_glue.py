"""The aws profile's query side: the shipped SQL parses as Athena/Trino SQL and names only defined objects.

sqlglot's Athena and Trino dialects are the judges here, not Athena: moto runs
no SQL, so nothing in the tests proves Athena's planner accepts a query.
"""

from __future__ import annotations

import pytest

from seqflow.catalog import athena
from seqflow.catalog.sql import SQL_DIR, list_queries, list_views, load
from seqflow.lake.iceberg import TABLES

RUN = "240101_A00123_0001_AHXXXXXXXX"


@pytest.mark.parametrize("path", sorted(SQL_DIR.glob("*.sql")) + sorted((SQL_DIR / "views").glob("*.sql")),
                         ids=lambda p: p.name)
def test_every_shipped_statement_parses_as_athena_and_trino_and_reads_defined_objects(path):
    read = athena.objects_read(path.read_text())
    assert read, path.name
    # the lake's Iceberg tables and the views of sql/views (created on Athena too: seqflow.glue.views)
    assert read <= set(TABLES) | set(list_views()), (path.name, read)


def test_objects_read_skips_ctes_and_the_created_view():
    assert athena.objects_read(load("variants_latest", "views")) == {"variants"}
    assert athena.objects_read(load("allele_frequency")) == {"variants_latest"}  # calls/sites/counts are CTEs
    assert athena.objects_read("WITH v AS (SELECT 1 AS x) SELECT * FROM v JOIN qc_metrics AS q ON true") == {"qc_metrics"}


def test_the_qc_query_reads_only_what_the_glue_database_holds():
    from seqflow.tasks.analysis import qc_summary_sql

    sql = qc_summary_sql({"run_id": RUN, "pipeline_version": "1.0.0", "reference": "GRCh38", "aligner": "bwa",
                          "caller": "bcftools"})
    assert athena.objects_read(sql) == {"variants"} <= athena.AWS_OBJECTS
    assert athena.check_runs_on_aws(sql) == sql


def test_a_query_naming_an_object_the_glue_database_lacks_is_refused_for_athena():
    # the tables and the views, which the converter job creates on Athena (seqflow.glue.views)
    assert athena.AWS_OBJECTS == {"variants", "qc_metrics", "step_costs", "variants_latest", "qc_metrics_latest"}
    assert athena.check_runs_on_aws(load("titv")) == load("titv")
    with pytest.raises(ValueError, match="samples"):
        athena.check_runs_on_aws("SELECT * FROM variants JOIN samples USING (sample_id)")
    with pytest.raises(Exception):
        athena.parse("SELECT FROM WHERE")
    assert "titv" in list_queries()
