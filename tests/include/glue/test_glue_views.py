"""The lake's views on Athena: the converter job creates them after its commits, from ``sql/views/``.

sqlglot's Athena and Trino dialects judge the statements, moto's Athena takes them
(it runs no SQL): nothing here proves Athena's planner accepts a view.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest
import sqlglot

from seqflow.catalog import athena
from seqflow.catalog.sql import SQL_DIR, list_views, load
from seqflow.glue import job, package, views
from seqflow.lake.iceberg import TABLES


def _glue_job_tests():
    """The converter job tests' moto fixtures and helpers (this folder is not a package)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_seqflow_glue_job_tests", Path(__file__).with_name("test_glue_job.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_jobs = _glue_job_tests()
REGION, _manifest, _rows, _start = _jobs.REGION, _jobs._manifest, _jobs._rows, _jobs._start
aws, moto_url = _jobs.aws, _jobs.moto_url  # fixtures


def test_the_views_sent_to_athena_are_the_local_catalogs_files_checked_as_athena_and_trino():
    statements = athena.view_statements()  # checks each: CREATE OR REPLACE VIEW <its name>, reads only the tables
    assert [name for name, _ in statements] == list_views() == sorted(athena.VIEWS)
    for name, statement in statements:
        assert "--" not in statement and not statement.endswith(";")
        for dialect in athena.ATHENA_DIALECTS:
            sent = sqlglot.parse_one(statement, read=dialect)
            # the same statement as the file DuckDB runs locally, comments aside
            assert sent == sqlglot.parse_one(load(name, "views"), read=dialect), (name, dialect)
            assert sent.sql(dialect=dialect)
        assert athena.objects_read(statement) <= set(TABLES)
    assert athena.AWS_OBJECTS == set(TABLES) | set(list_views())


def test_the_named_queries_read_only_what_the_glue_database_holds_now():
    for path in sorted(SQL_DIR.glob("*.sql")):
        assert athena.check_runs_on_aws(path.read_text()) == path.read_text()
    assert "variants_latest" in athena.objects_read(load("titv"))
    with pytest.raises(ValueError, match="samples"):
        athena.check_runs_on_aws("SELECT * FROM samples")


def test_a_file_that_is_not_a_create_or_replace_view_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "sql" / "views"
    folder.mkdir(parents=True)
    (folder / "v.sql").write_text("-- a view\nCREATE VIEW v AS SELECT 1 AS x\n")
    monkeypatch.setattr(views, "_folder", lambda: folder)
    with pytest.raises(ValueError, match="not a CREATE OR REPLACE VIEW v"):
        views.view_statements()
    (folder / "v.sql").write_text("-- a view\nCREATE OR REPLACE VIEW v AS SELECT x FROM variants;\n")
    assert views.view_statements() == [("v", "CREATE OR REPLACE VIEW v AS SELECT x FROM variants")]


def test_the_job_creates_the_views_on_athena_after_its_commits(aws):
    athena_client = boto3.client("athena", region_name=REGION)
    athena_client.create_work_group(Name="wg", Configuration={"ResultConfiguration": {"OutputLocation": "s3://lake/athena/"}})
    args = {k[2:]: v for k, v in _start(aws, _manifest(samples=("S1",))).items()}
    result = job.run({**job.DEFAULTS, **args, "athena_workgroup": "wg"}, s3=aws)
    assert _rows("variants", ["sample_id"]) == [("S1",)] * 7
    assert sorted(result["views"]) == list_views()
    for name, statement in views.view_statements():
        execution = athena_client.get_query_execution(QueryExecutionId=result["views"][name])["QueryExecution"]
        assert execution["Query"] == statement
        assert execution["QueryExecutionContext"]["Database"] == "lake_db"
        assert execution["WorkGroup"] == "wg"
    # a run again replaces them (CREATE OR REPLACE): two more statements, no error
    again = job.run({**job.DEFAULTS, **args, "athena_workgroup": "wg"}, s3=aws)
    assert sorted(again["views"]) == list_views() and set(again["views"].values()).isdisjoint(result["views"].values())
    # without a workgroup (a run outside the deployment) the job commits and creates no view
    assert job.run({**job.DEFAULTS, **args}, s3=aws)["views"] == {}


class _FailingAthena:
    def __init__(self):
        self.started = []

    def start_query_execution(self, **kwargs):
        self.started.append(kwargs)
        return {"QueryExecutionId": f"q{len(self.started)}"}

    def get_query_execution(self, QueryExecutionId):
        return {"QueryExecution": {"Status": {"State": "FAILED", "StateChangeReason": "TABLE_NOT_FOUND: variants"}}}


def test_a_view_athena_refuses_fails_with_its_reason():
    client = _FailingAthena()
    with pytest.raises(RuntimeError, match=r"lake_db.qc_metrics_latest \(query q1: FAILED, TABLE_NOT_FOUND: variants\)"):
        views.create_views(client, "lake_db", "wg")
    assert len(client.started) == 1  # stops at the first


def test_the_slim_package_ships_the_view_files_and_reads_them_from_the_zip(tmp_path):
    zip_path = tmp_path / "seqflow-glue.zip"
    manifest = package.build(zip_path)
    assert {f"seqflow/sql/views/{v}.sql" for v in list_views()} <= set(manifest["files"])
    assert not [n for n in manifest["files"] if n.startswith("seqflow/sql/") and "/views/" not in n]
    code = f"""
import json, sys
sys.path[:] = [p for p in sys.path if not p.rstrip('/').endswith('/include')]
sys.path.insert(0, {str(zip_path)!r})
for name in ("airflow", "duckdb", "pysam", "sqlglot"):
    sys.modules[name] = None
from seqflow.glue import views
assert views.__file__.startswith({str(zip_path)!r}), views.__file__
print(json.dumps(views.view_statements()))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [tuple(v) for v in json.loads(done.stdout)] == views.view_statements()
