"""The converter Glue job, run against a moto server: S3 and the Glue Data Catalog (pyiceberg's Glue catalog).

moto stands in for S3 and Glue's catalog API (CreateTable, GetTable,
UpdateTable with the version check); it proves the calls and what lands in
S3 and the catalog, read back with pyiceberg. It does not run Athena: nothing
here says Athena reads these tables (docs/lake.md, *AWS*).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("moto")

from seqflow.glue import job, package  # noqa: E402
from seqflow.glue.manifest import Manifest, SampleEntry, job_arguments, manifest_uri, result_uri  # noqa: E402
from seqflow.identity import AnalysisIdentity  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "lake" / "data"
REPO = Path(__file__).resolve().parents[3]
REGION = "eu-west-1"
RUN = "240101_A00123_0001_AHXXXXXXXX"
IDENTITY = AnalysisIdentity(RUN, "1.0.0", "GRCh38", "bwa", "bcftools")
LAKE = "s3://lake/lake"
QC_FILES = {
    "fastp_json": json.dumps({"summary": {"before_filtering": {"total_reads": 2000},
                                          "after_filtering": {"total_reads": 1980}}}),
    "flagstat": json.dumps({"QC-passed reads": {"mapped %": 97.5}}),
    "markdup": "EXAMINED: 1000\nDUPLICATE TOTAL: 40\n",
    "coverage": ("#rname\tstartpos\tendpos\tnumreads\tcovbases\tcoverage\tmeandepth\tmeanbaseq\tmeanmapq\n"
                 "chr1\t1\t1200\t1000\t1200\t100\t25.0\t36\t60\n"),
    "bcftools_stats": "SN\t0\tnumber of records:\t7\nSN\t0\tnumber of SNPs:\t4\nSN\t0\tnumber of indels:\t2\n",
}


@pytest.fixture(scope="module")
def moto_url():
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    mp = pytest.MonkeyPatch()
    url = f"http://127.0.0.1:{port}"
    for key, value in {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
        mp.setenv(key, value)
    mp.delenv("AWS_PROFILE", raising=False)
    yield url
    mp.undo()
    server.stop()


@pytest.fixture
def aws(moto_url):
    """Fresh buckets and Glue database (moto's state is reset per test)."""
    import boto3
    import requests

    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("results", "lake"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.upload_file(str(DATA / "edge.vcf"), "results", "r/joint.vcf")
    for name, body in QC_FILES.items():
        s3.put_object(Bucket="results", Key=f"r/S1/S1.{name}", Body=body.encode())
    boto3.client("glue", region_name=REGION).create_database(DatabaseInput={"Name": "lake_db"})
    return s3


def _manifest(identity=IDENTITY, samples=("S1", "S2")) -> Manifest:
    qc = {name: f"s3://results/r/S1/S1.{name}" for name in QC_FILES}
    return Manifest(identity, tuple(SampleEntry(s, "s3://results/r/joint.vcf", qc if s == "S1" else None)
                                    for s in samples))


def _start(s3, manifest: Manifest) -> dict[str, str]:
    """What converter_args does on AWS: the manifest object, and the run's arguments."""
    uri = manifest_uri(LAKE, manifest)
    bucket, key = uri[5:].split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=manifest.to_json().encode())
    return job_arguments(manifest, uri, lake_uri=LAKE, database="lake_db")


def _argv(arguments: dict[str, str]) -> list[str]:
    # what Glue hands the script: the run's arguments and its own
    return [t for pair in arguments.items() for t in pair] + ["--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1",
                                                               "--job-bookmark-option", "job-bookmark-disable"]


def _lake():
    from seqflow.lake.iceberg import Lake

    return Lake.glue(LAKE, "lake_db", region=REGION, **job.endpoint_properties())


def _rows(table: str, columns: list[str]) -> list[tuple]:
    arrow = _lake().table(table).scan(selected_fields=tuple(columns)).to_arrow()
    return sorted(tuple(r[c] for c in columns) for r in arrow.to_pylist())


def test_one_job_run_converts_every_sample_and_commits_them_in_one_snapshot(aws, tmp_path):
    import boto3

    arguments = _start(aws, _manifest())
    assert job.main(_argv(arguments)) == 0

    glue = boto3.client("glue", region_name=REGION)
    for table in ("variants", "qc_metrics"):
        described = glue.get_table(DatabaseName="lake_db", Name=table)["Table"]
        assert described["Parameters"]["table_type"] == "ICEBERG"
        assert described["Parameters"]["metadata_location"].startswith(f"{LAKE}/iceberg/{table}/metadata/")
    tbl = _lake().table("variants")
    # the local lake's spec and properties, from the same code
    assert [(f.name, str(f.transform)) for f in tbl.spec().fields] == [("sample_bucket", "bucket[16]")]
    assert tbl.properties["write.metadata.metrics.column.sample_id"] == "full"
    [snapshot] = tbl.metadata.snapshots  # one commit for the whole run
    assert snapshot.summary["seqflow.sample_id"] == "S1,S2" and snapshot.summary["seqflow.samples"] == "2"
    assert snapshot.summary["seqflow.manifest"] == arguments["--manifest_uri"]
    rows = _rows("variants", ["sample_id", "pos", "run_id", "pipeline_version", "reference", "aligner", "caller"])
    assert len(rows) == 14  # edge.vcf: 7 records, each sample's column
    assert {r[0] for r in rows} == {"S1", "S2"} and {r[2:] for r in rows} == {(RUN, "1.0.0", "GRCh38", "bwa", "bcftools")}
    assert sorted(r[1] for r in rows if r[0] == "S1") == [100, 200, 300, 400, 500, 1000, 2000]
    # data files under the table's location in the lake bucket; nothing staged left in S3
    keys = [o["Key"] for o in aws.list_objects_v2(Bucket="lake")["Contents"]]
    assert all(k.startswith(("lake/iceberg/", "lake/_manifests/")) for k in keys), keys
    # qc_metrics: the sample with QC files has its figures, the other (HealthOmics-like) nulls
    qc = _rows("qc_metrics", ["sample_id", "read_pairs", "pct_mapped", "pct_duplicates", "mean_depth", "variants_called"])
    assert qc == [("S1", 1000, 97.5, 4.0, 25.0, 7), ("S2", None, None, None, None, None)]
    result = json.loads(aws.get_object(Bucket="lake", Key=result_uri(LAKE, IDENTITY)[len("s3://lake/"):])["Body"].read())
    assert result["snapshots"]["variants"] == snapshot.snapshot_id
    assert result["samples"] == {"S1": {"rows": 7, "records": 7, "files": 1}, "S2": {"rows": 7, "records": 7, "files": 1}}


def test_a_rerun_replaces_by_filter_and_other_analyses_stay_beside(aws):
    assert job.main(_argv(_start(aws, _manifest()))) == 0
    assert job.main(_argv(_start(aws, _manifest(samples=("S2",))))) == 0  # re-analyse one sample
    newer = AnalysisIdentity(RUN, "1.1.0", "GRCh38", "bwa", "bcftools")
    assert job.main(_argv(_start(aws, _manifest(newer, samples=("S3",))))) == 0
    rows = _rows("variants", ["pipeline_version", "sample_id"])
    counts = {key: rows.count(key) for key in set(rows)}
    assert counts == {("1.0.0", "S1"): 7, ("1.0.0", "S2"): 7, ("1.1.0", "S3"): 7}  # no duplicates of S2
    tbl = _lake().table("variants")
    assert len(tbl.metadata.snapshots) == 3  # one per job run
    assert _rows("qc_metrics", ["pipeline_version", "sample_id"]) == [
        ("1.0.0", "S2"), ("1.1.0", "S3")]  # qc_metrics: the analysis's rows replaced by its latest run


def test_a_failing_sample_commits_nothing(aws):
    assert job.main(_argv(_start(aws, _manifest()))) == 0
    before = _lake().table("variants").current_snapshot().snapshot_id
    aws.put_object(Bucket="results", Key="r/bad.vcf", Body=(DATA / "bad_integer.vcf").read_bytes())
    bad = Manifest(IDENTITY, (SampleEntry("S1", "s3://results/r/joint.vcf"), SampleEntry("S9", "s3://results/r/bad.vcf")))
    with pytest.raises(Exception, match="bad_integer|bad.vcf|line"):
        job.main(_argv(_start(aws, bad)))
    assert _lake().table("variants").current_snapshot().snapshot_id == before


def test_arguments_and_manifest_are_checked_before_any_work():
    with pytest.raises(SystemExit, match="--manifest_uri"):
        job.parse_args(["--lake_uri", LAKE, "--database", "lake_db"])
    with pytest.raises(SystemExit, match="--parallel"):
        job.parse_args(["--manifest_uri", "s3://l/m.json", "--lake_uri", LAKE, "--database", "d", "--parallel", "0"])
    with pytest.raises(ValueError, match="appears twice"):
        Manifest(IDENTITY, (SampleEntry("S1", "s3://r/a.vcf"), SampleEntry("S1", "s3://r/b.vcf")))
    with pytest.raises(ValueError, match="not an s3"):
        Manifest(IDENTITY, (SampleEntry("S1", "/etc/passwd"),))
    with pytest.raises(ValueError, match="not allowed"):
        Manifest(IDENTITY, (SampleEntry("../x", "s3://r/a.vcf"),))
    manifest = _manifest()
    assert Manifest.from_json(manifest.to_json()) == manifest
    # named by content: a retried converter_args writes the same object
    assert manifest_uri(LAKE, manifest) == manifest_uri(LAKE, _manifest())
    assert manifest_uri(LAKE, manifest).startswith(f"{LAKE}/_manifests/{RUN}/1.0.0/GRCh38/bwa-bcftools/")


# -- the slim package ------------------------------------------------------------------------------


def test_the_package_is_exactly_the_modules_the_job_imports_and_reproducible(tmp_path):
    first = package.build(tmp_path / "a" / "seqflow-glue.zip")
    second = package.build(tmp_path / "b" / "seqflow-glue.zip")
    assert (tmp_path / "a" / "seqflow-glue.zip").read_bytes() == (tmp_path / "b" / "seqflow-glue.zip").read_bytes()
    assert first == second
    names = set(first["files"])
    assert {"seqflow/glue/job.py", "seqflow/glue/manifest.py", "seqflow/lake/iceberg.py", "seqflow/lake/converter.py",
            "seqflow/lake/staging.py", "seqflow/identity.py", "seqflow/analysis/qc.py"} <= names
    # nothing that imports Airflow, the provider, duckdb or pysam
    for absent in ("seqflow/aws/", "seqflow/catalog/", "seqflow/tasks/", "seqflow/wiring/", "seqflow/demo/",
                   "seqflow/cli.py", "seqflow/lake/commands.py", "seqflow/lake/migrate.py",
                   "seqflow/analysis/steps.py", "seqflow/glue/package.py"):
        assert not [n for n in names if n.startswith(absent)], absent
    _, third = package.module_closure()
    assert third == {"pyiceberg", "pyarrow", "numpy", "boto3"}
    pins = dict(r.split("==") for r in first["requirements"])
    lock = package.lock_pins()
    assert pins["pyiceberg"] == lock["pyiceberg"] and pins["pyarrow"] == lock["pyarrow"]
    assert pins["numpy"] == lock["numpy"]
    assert all(lock[name] == version for name, version in pins.items())
    assert not set(pins) & {"boto3", "botocore", "s3transfer", "apache-airflow", "duckdb", "pysam", "sqlglot",
                            "apache-airflow-providers-amazon", "sqlalchemy"}


def test_the_job_script_runs_from_the_zip_alone(aws, tmp_path):
    """The uploaded script with only the zip on the path (the editable install removed) and
    Airflow, the provider, duckdb, pysam and sqlglot made unimportable."""
    zip_path = tmp_path / "seqflow-glue.zip"
    package.build(zip_path)
    arguments = _start(aws, _manifest(samples=("S1",)))
    bootstrap = f"""
import json, runpy, sys
sys.path[:] = [p for p in sys.path if not p.rstrip('/').endswith('/include')]
sys.path.insert(0, {str(zip_path)!r})
for name in ("airflow", "duckdb", "pysam", "sqlglot", "sqlalchemy"):
    sys.modules[name] = None  # import fails
sys.argv = ["vcf_to_parquet_job.py", *{_argv(arguments)!r}]
try:
    runpy.run_path({str(REPO / "include/seqflow/glue/vcf_to_parquet_job.py")!r}, run_name="__main__")
except SystemExit as exit:
    code = exit.code
loaded = {{m: getattr(mod, "__file__", "") for m, mod in sys.modules.items() if m.split(".")[0] == "seqflow" and mod}}
print("LOADED " + json.dumps({{"code": code, "loaded": loaded}}))
"""
    done = subprocess.run([sys.executable, "-c", bootstrap], capture_output=True, text=True, timeout=300,
                          env={**os.environ}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.rsplit("LOADED ", 1)[1])
    assert report["code"] == 0, done.stderr[-3000:]
    assert report["loaded"] and all(path.startswith(str(zip_path)) for path in report["loaded"].values()), report
    assert _rows("variants", ["sample_id"]) == [("S1",)] * 7
