"""The Iceberg lake: one commit per publish, overwrite by filter, time travel, killed writers, migration."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from helpers import IDENTITY, RUN  # noqa: E402

from seqflow.catalog import run_query
from seqflow.lake import Lake, convert_vcf_to_parquet, publish_qc_metrics, publish_staged, publish_vcf
from seqflow.lake.iceberg import PARTITION_SPEC, live_files, snapshots

REPO = Path(__file__).resolve().parents[3]


def rows(lake_root, sql):
    cols, data = run_query(lake_root, sql)
    return [dict(zip(cols, r)) for r in data]


def counts(lake_root):
    return {(r["pipeline_version"], r["aligner"], r["sample_id"]): r["n"] for r in rows(
        lake_root, "SELECT pipeline_version, aligner, sample_id, count(*) AS n FROM variants GROUP BY 1, 2, 3")}


def test_a_runs_samples_are_one_commit_and_carry_their_provenance(data_dir, tmp_path):
    lake = Lake.local(tmp_path / "lake")
    staging = tmp_path / "staging"
    for sample in ("S1", "S2", "S3"):  # converted one by one, as the DAG's mapped tasks do
        convert_vcf_to_parquet(data_dir / "edge.vcf", staging, identity=IDENTITY, sample_id=sample)
    result = publish_staged(lake, staging, IDENTITY, ["S1", "S2", "S3"])
    tbl = lake.table("variants")
    assert len(tbl.metadata.snapshots) == 1 and result.snapshot_id == tbl.current_snapshot().snapshot_id
    assert snapshots(tbl)[0]["seqflow.sample_id"] == "S1,S2,S3" and snapshots(tbl)[0]["added-records"] == "21"
    data = tbl.scan().to_arrow()
    assert data.num_rows == 21
    assert set(data.column("run_id").to_pylist()) == {RUN} and set(data.column("caller").to_pylist()) == {"bcftools"}
    assert sorted(set(data.column("sample_id").to_pylist())) == ["S1", "S2", "S3"]
    assert not any(Path(staging).rglob("*.parquet"))  # staged copies go once committed
    # hidden partitioning: one file per sample, the spec's partition value in the manifest
    files = list(tbl.scan().plan_files())
    assert len(files) == 3 and [f.name for f in tbl.spec().fields] == [name for _, _, name in PARTITION_SPEC]


def test_republishing_an_analysis_overwrites_by_filter_in_one_commit(data_dir, tmp_path):
    root = tmp_path / "lake"
    lake = Lake.local(root)
    publish_vcf(data_dir / "edge.vcf", lake, identity=IDENTITY, sample_id=None)
    minimap2 = replace(IDENTITY, aligner="minimap2")
    newer = replace(IDENTITY, pipeline_version="1.1.0")
    publish_vcf(data_dir / "edge.vcf", lake, identity=minimap2, sample_id="S1")
    publish_vcf(data_dir / "edge.vcf", lake, identity=newer, sample_id="S2")
    before = lake.table("variants")
    n_snapshots = len(before.metadata.snapshots)
    publish_vcf(data_dir / "edge.vcf", lake, identity=IDENTITY, sample_id="S2")  # the same analysis and sample again
    tbl = lake.table("variants")
    assert len(tbl.metadata.snapshots) == n_snapshots + 1
    last = snapshots(tbl)[-1]
    assert last["operation"] == "overwrite" and last["added-records"] == last["deleted-records"] == "7"
    # no duplicates, and nothing of another sample, aligner or version was touched
    assert counts(root) == {("1.0.0", "bwa", "S1"): 7, ("1.0.0", "bwa", "S2"): 7, ("1.0.0", "bwa", "S3"): 7,
                            ("1.0.0", "minimap2", "S1"): 7, ("1.1.0", "bwa", "S2"): 7}
    # the commit replaced whole files (no file rewritten, no delete files)
    assert len(live_files(tbl)) == 5


def test_snapshots_give_time_travel_between_pipeline_versions(data_dir, tmp_path):
    root = tmp_path / "lake"
    lake = Lake.local(root)
    publish_vcf(data_dir / "edge.vcf", lake, identity=IDENTITY, sample_id="S1")
    first = lake.table("variants").current_snapshot()
    time.sleep(0.01)
    publish_vcf(data_dir / "edge.vcf", lake, identity=replace(IDENTITY, pipeline_version="1.1.0"), sample_id="S1")
    tbl = lake.table("variants")
    assert tbl.scan(snapshot_id=first.snapshot_id).to_arrow().num_rows == 7
    assert tbl.scan().to_arrow().num_rows == 14
    cols, data = run_query(root, "SELECT pipeline_version, count(*) FROM variants GROUP BY 1 ORDER BY 1",
                           as_of_ms=first.timestamp_ms)
    assert data == [("1.0.0", 7)]


def test_qc_metrics_are_replaced_per_analysis(tmp_path):
    root = tmp_path / "lake"
    lake = Lake.local(root)
    publish_qc_metrics(lake, [{"sample_id": "S1", "read_pairs": 1}, {"sample_id": "S2"}], identity=IDENTITY)
    publish_qc_metrics(lake, [{"sample_id": "S1", "read_pairs": 5}], identity=replace(IDENTITY, reference="GRCh37"))
    publish_qc_metrics(lake, [{"sample_id": "S1", "read_pairs": 2}], identity=IDENTITY)
    got = rows(root, "SELECT reference, sample_id, read_pairs FROM qc_metrics ORDER BY 1, 2")
    assert got == [{"reference": "GRCh37", "sample_id": "S1", "read_pairs": 5},
                   {"reference": "GRCh38", "sample_id": "S1", "read_pairs": 2}]
    with pytest.raises(ValueError, match="does not match the identity"):
        publish_qc_metrics(lake, [{"sample_id": "S1", "reference": "hg19"}], identity=IDENTITY)


def test_a_sample_neither_staged_nor_committed_fails_the_commit(data_dir, tmp_path):
    lake = Lake.local(tmp_path / "lake")
    convert_vcf_to_parquet(data_dir / "edge.vcf", tmp_path / "st", identity=IDENTITY, sample_id="S1")
    with pytest.raises(FileNotFoundError, match="S2"):
        publish_staged(lake, tmp_path / "st", IDENTITY, ["S1", "S2"])
    assert not lake.exists("variants") or lake.table("variants").current_snapshot() is None
    publish_staged(lake, tmp_path / "st", IDENTITY, ["S1"])
    # a retry after a commit whose clean-up finished: S1 is already in the table, nothing to do
    assert publish_staged(lake, tmp_path / "st", IDENTITY, ["S1"]).snapshot_id is None
    assert len(lake.table("variants").metadata.snapshots) == 1


# --- killed writers --------------------------------------------------------------------------

WRITER = textwrap.dedent('''
    import os, sys, time
    sys.path.insert(0, {include!r})
    point, signal_file = sys.argv[1], sys.argv[2]

    def pause():
        open(signal_file, "w").write(str(os.getpid()))
        time.sleep(600)

    import pyiceberg.catalog.sql as sql
    import sqlalchemy.orm
    from seqflow.lake import iceberg, Lake, publish_staged
    from seqflow.identity import AnalysisIdentity
    if point == "files-written":          # data files written, nothing committed
        real = iceberg.commit_replace
        iceberg.commit_replace = lambda *a, **k: (pause(), real(*a, **k))[1]
        import seqflow.lake.api as api; api.iceberg = iceberg
    elif point == "metadata-written":     # new metadata file written, catalog pointer not swapped
        real_write = sql.SqlCatalog._write_metadata  # a staticmethod
        def write(*a, **k):
            real_write(*a, **k); pause()
        sql.SqlCatalog._write_metadata = staticmethod(write)
    elif point == "swap-uncommitted":     # UPDATE of the pointer executed, its SQLite transaction not committed
        real_commit = sqlalchemy.orm.Session.commit
        def commit(self):
            pause(); real_commit(self)
        sqlalchemy.orm.Session.commit = commit
    identity = AnalysisIdentity("{run}", "1.0.0", "GRCh38", "bwa", "bcftools")
    publish_staged(Lake.local(sys.argv[3]), sys.argv[4], identity, sys.argv[5].split(","))
    open(signal_file + ".done", "w").write("done")
''')


@pytest.fixture
def old_lake(data_dir, tmp_path):
    """A lake whose variants hold S1..S3 of the edge VCF (the old snapshot), and S1..S3 of chr22 staged."""
    root = tmp_path / "lake"
    publish_vcf(data_dir / "edge.vcf", Lake.local(root), identity=IDENTITY, sample_id=None)
    return root


def _kill_at(point, root, staging, samples, tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(include=str(REPO / "include"), run=RUN))
    sig = tmp_path / f"{point}.signal"
    proc = subprocess.Popen([sys.executable, str(script), point, str(sig), str(root), str(staging), ",".join(samples)])
    deadline = time.monotonic() + 120
    while not sig.exists():
        assert proc.poll() is None, f"writer exited ({proc.returncode}) before reaching {point}"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("point", ["files-written", "metadata-written", "swap-uncommitted"])
def test_a_writer_killed_mid_commit_leaves_readers_the_old_snapshot(extdata, old_lake, tmp_path, point):
    root = old_lake
    staging = tmp_path / "staging"
    samples = ["HG00096", "HG00097", "HG00099"]
    convert_vcf_to_parquet(extdata / "chr22.vcf.gz", staging, identity=IDENTITY, sample_id=None)
    old = counts(root)
    old_snapshot = Lake.local(root).table("variants").current_snapshot().snapshot_id
    _kill_at(point, root, staging, samples, tmp_path)
    # readers: exactly the old snapshot, whatever the writer had done
    assert counts(root) == old
    assert Lake.local(root).table("variants").current_snapshot().snapshot_id == old_snapshot
    # the next writer commits on top of it, all samples at once
    publish_staged(Lake.local(root), staging, IDENTITY, samples)
    new = counts(root)
    assert {k: v for k, v in new.items() if k[2] in samples} == {("1.0.0", "bwa", s): 10376 for s in samples}
    assert {k: v for k, v in new.items() if k[2] not in samples} == old


def test_a_writer_killed_at_any_time_leaves_the_old_or_the_new_snapshot(extdata, old_lake, tmp_path):
    """Kills at increasing delays during a whole publish: every reader sees all or none of the run."""
    root = old_lake
    samples = ["HG00096", "HG00097", "HG00099", "HG00100", "HG00101"]
    old = counts(root)
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(include=str(REPO / "include"), run=RUN))
    for delay in (0.5, 1.0, 1.5, 2.0, 3.0):
        staging = tmp_path / f"staging-{delay}"
        convert_vcf_to_parquet(extdata / "chr22.vcf.gz", staging, identity=IDENTITY, sample_id=None)
        proc = subprocess.Popen([sys.executable, str(script), "none", str(tmp_path / "x"), str(root), str(staging),
                                 ",".join(samples)])
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = counts(root)
        run_rows = {k: v for k, v in now.items() if k[2] in samples}
        assert run_rows in ({}, {("1.0.0", "bwa", s): 10376 for s in samples}), f"killed after {delay}s: {run_rows}"
        assert {k: v for k, v in now.items() if k[2] not in samples} == old
    publish_staged(Lake.local(root), staging, IDENTITY, samples)
    assert sum(v for k, v in counts(root).items() if k[2] in samples) == 5 * 10376


# --- migration from the Hive layout ------------------------------------------------------------


def test_migrate_copies_a_hive_layout_lake_once(data_dir, tmp_path, capsys):
    from seqflow.cli import main
    from seqflow.lake.schema import QC_METRICS_SCHEMA
    import pyarrow as pa

    root = tmp_path / "lake"
    # the earlier layout: the converter's per-sample folders were the lake itself
    convert_vcf_to_parquet(data_dir / "edge.vcf", root, identity=IDENTITY, sample_id=None)
    convert_vcf_to_parquet(data_dir / "edge.vcf", root, identity=replace(IDENTITY, caller="gatk"), sample_id="S2")
    qc_dir = root / f"qc_metrics/run_id={RUN}/pipeline_version=1.0.0/reference=GRCh38/aligner=bwa/caller=bcftools"
    qc_dir.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([{"sample_id": "S1", "read_pairs": 10, "f1": 0.5}], schema=QC_METRICS_SCHEMA),
                   qc_dir / "part-00000.parquet")
    old = root / f"variants/run_id={RUN}/pipeline_version=1.0.0/sample_id=S9"  # pre-identity layout
    old.mkdir(parents=True)
    pq.write_table(pa.table({"contig": ["c"]}), old / "part-00000.parquet")
    hive_s1 = pq.read_table(root / f"variants/run_id={RUN}/pipeline_version=1.0.0/reference=GRCh38/aligner=bwa/"
                                   f"caller=bcftools/sample_id=S1/part-00000.parquet")

    assert main(["lake", "migrate", "--lake", str(root)]) == 0
    out = capsys.readouterr().out
    assert "3 commit(s), 29 rows" in out and f"skipped\t{old}" in out
    got = rows(root, "SELECT caller, sample_id, count(*) AS n FROM variants GROUP BY 1, 2 ORDER BY 1, 2")
    assert got == [{"caller": "bcftools", "sample_id": s, "n": 7} for s in ("S1", "S2", "S3")] + [
        {"caller": "gatk", "sample_id": "S2", "n": 7}]
    assert rows(root, "SELECT sample_id, read_pairs, f1, caller FROM qc_metrics") == [
        {"sample_id": "S1", "read_pairs": 10, "f1": 0.5, "caller": "bcftools"}]
    # values unchanged, row for row
    lake = Lake.local(root)
    migrated = lake.table("variants").scan(row_filter="sample_id == 'S1' and caller == 'bcftools'").to_arrow()
    assert migrated.select(hive_s1.schema.names).to_pylist() == hive_s1.to_pylist()
    # a second run converges: same rows, nothing duplicated
    assert main(["lake", "migrate", "--lake", str(root), "--remove"]) == 0
    assert rows(root, "SELECT count(*) AS n FROM variants") == [{"n": 28}]
    assert not (root / f"variants/run_id={RUN}/pipeline_version=1.0.0/reference=GRCh38").exists()
    assert old.exists()  # what it could not migrate stays
