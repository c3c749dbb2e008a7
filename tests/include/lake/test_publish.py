"""Atomic, idempotent publishing: kills, crashes mid-commit, repeats."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dataclasses import replace

sys.path.insert(0, str(Path(__file__).parent))
from helpers import IDENTITY, RUN  # noqa: E402

from seqflow.lake import Partition, convert_vcf_to_parquet, publish_qc_metrics, recover
from seqflow.lake import publish as publish_mod

V1 = IDENTITY
V11 = replace(IDENTITY, pipeline_version="1.1.0")
#: run/version/aligner/caller of V1, another reference
GRCH37 = replace(IDENTITY, reference="GRCh37")

#: variants/run_id=/pipeline_version=/reference=/aligner=/caller=/sample_id=/file
VARIANT_FILES = "variants/*/*/*/*/*/*/*.parquet"
QC_FILES = "qc_metrics/*/*/*/*/*/*.parquet"


def snapshot(lake: Path) -> dict[str, str]:
    """Every visible Parquet file of the lake and its digest."""
    return {
        str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
        for pattern in (VARIANT_FILES, QC_FILES)
        for p in sorted(lake.glob(pattern))
    }


def rows_per_partition(lake: Path) -> dict[str, int]:
    return {str(p.parent.relative_to(lake)): pq.ParquetFile(p).metadata.num_rows for p in lake.glob(VARIANT_FILES)}


def convert(vcf, lake, identity=V1, sample_id=None, **kw):
    return convert_vcf_to_parquet(vcf, lake, identity=identity, sample_id=sample_id, **kw)


def test_layout_is_keyed_by_the_whole_analysis_identity(data_dir, tmp_path):
    result = convert(data_dir / "edge.vcf", tmp_path, sample_id="S2")
    qc = publish_qc_metrics(tmp_path, [{"sample_id": "S2"}], identity=V1)
    prefix = f"run_id={RUN}/pipeline_version=1.0.0/reference=GRCh38/aligner=bwa/caller=bcftools"
    assert sorted(snapshot(tmp_path)) == [
        f"qc_metrics/{prefix}/part-00000.parquet",
        f"variants/{prefix}/sample_id=S2/part-00000.parquet",
    ]
    [part] = result.partitions
    assert part == Partition("variants", RUN, "1.0.0", "GRCh38", "bwa", "bcftools", "S2", rows=7,
                             files=("part-00000.parquet",))
    assert part.identity == V1 and part.relpath == f"variants/{prefix}/sample_id=S2"
    assert list(part.values) == ["run_id", "pipeline_version", "reference", "aligner", "caller", "sample_id"]
    assert qc.partitions[0].sample_id is None and qc.partitions[0].relpath == f"qc_metrics/{prefix}"
    # identity parts are partition values only: no file repeats them as columns
    for path in tmp_path.glob("*/**/*.parquet"):
        assert not set(pq.ParquetFile(path).schema_arrow.names) & {"run_id", "pipeline_version", "reference",
                                                                  "aligner", "caller"}, path


def test_analyses_differing_in_reference_aligner_or_caller_never_overwrite_each_other(data_dir, tmp_path):
    vcf = data_dir / "edge.vcf"
    others = [GRCH37, replace(V1, aligner="minimap2"), replace(V1, caller="gatk")]
    convert(vcf, tmp_path, sample_id="S1")
    before = snapshot(tmp_path)
    for identity in others:
        convert(data_dir / "sites_only.vcf", tmp_path, identity=identity, sample_id="S1")
    after = snapshot(tmp_path)
    # the first analysis's file is byte for byte what it was; each other one has its own partition
    assert {k: v for k, v in after.items() if k in before} == before
    counts = rows_per_partition(tmp_path)
    assert len(counts) == 4
    assert counts[f"variants/run_id={RUN}/pipeline_version=1.0.0/reference=GRCh38/aligner=bwa/caller=bcftools/sample_id=S1"] == 7
    assert counts[f"variants/run_id={RUN}/pipeline_version=1.0.0/reference=GRCh37/aligner=bwa/caller=bcftools/sample_id=S1"] == 4
    assert counts[f"variants/run_id={RUN}/pipeline_version=1.0.0/reference=GRCh38/aligner=minimap2/caller=bcftools/sample_id=S1"] == 4
    assert counts[f"variants/run_id={RUN}/pipeline_version=1.0.0/reference=GRCh38/aligner=bwa/caller=gatk/sample_id=S1"] == 4
    # re-publishing one analysis replaces exactly its partition
    again = convert(vcf, tmp_path, identity=GRCH37, sample_id="S1")
    assert again.rows == 7
    final = snapshot(tmp_path)
    changed = {k for k in final if final[k] != after[k]}
    assert changed == {f"{again.partitions[0].relpath}/part-00000.parquet"}
    grch38 = pq.read_table(tmp_path / f"variants/run_id={RUN}/pipeline_version=1.0.0/reference=GRCh38/aligner=bwa/"
                                      "caller=bcftools/sample_id=S1/part-00000.parquet")
    grch37 = pq.read_table(again.partitions[0].path(tmp_path))
    assert grch38.equals(grch37) and grch38.num_rows == 7  # the same VCF: equal rows, two partitions


def test_qc_metrics_of_two_references_are_two_partitions(tmp_path):
    publish_qc_metrics(tmp_path, [{"sample_id": "S1", "read_pairs": 1}], identity=V1)
    publish_qc_metrics(tmp_path, [{"sample_id": "S1", "read_pairs": 2}, {"sample_id": "S2"}], identity=GRCH37)
    tables = {p.parent.relative_to(tmp_path).parts[3]: pq.read_table(p).to_pylist() for p in tmp_path.glob(QC_FILES)}
    assert {k: [r["read_pairs"] for r in v] for k, v in tables.items()} == {
        "reference=GRCh38": [1], "reference=GRCh37": [2, None]}
    # identity fields in a row must agree with the identity; they are not stored
    publish_qc_metrics(tmp_path, [{"sample_id": "S1", "run_id": RUN, "reference": "GRCh37"}], identity=GRCH37)
    with pytest.raises(ValueError, match="reference='GRCh38' does not match"):
        publish_qc_metrics(tmp_path, [{"sample_id": "S1", "reference": "GRCh38"}], identity=GRCH37)
    with pytest.raises(TypeError, match="AnalysisIdentity"):
        publish_qc_metrics(tmp_path, [{"sample_id": "S1"}], identity=GRCH37.to_dict())


def test_repeat_replaces_exactly_that_partition(data_dir, tmp_path):
    first = convert(data_dir / "edge.vcf", tmp_path, identity=V1)
    convert(data_dir / "edge.vcf", tmp_path, identity=V11)
    before = snapshot(tmp_path)
    again = convert(data_dir / "edge.vcf", tmp_path, identity=V1, sample_id="S2")
    after = snapshot(tmp_path)
    assert [p.rows for p in first.partitions] == [7, 7, 7] and again.rows == 7
    # no duplicate files or rows; the other version and samples untouched
    assert sorted(after) == sorted(before)
    assert {k: v for k, v in after.items() if "sample_id=S2" not in k or "1.1.0" in k} == {
        k: v for k, v in before.items() if "sample_id=S2" not in k or "1.1.0" in k
    }
    assert set(rows_per_partition(tmp_path).values()) == {7}
    assert len(rows_per_partition(tmp_path)) == 6
    assert not list((tmp_path / "_staging").iterdir()) and not list((tmp_path / "_txn").glob("*.json"))


KILL_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from seqflow.lake import AnalysisIdentity, convert_vcf_to_parquet
    identity = AnalysisIdentity.from_dict(json.loads(sys.argv[3]))
    convert_vcf_to_parquet(sys.argv[1], sys.argv[2], identity=identity, sample_id=None, block_size=1 << 16)
    """
)


def test_conversion_killed_half_way_leaves_lake_unchanged(extdata, tmp_path):
    vcf = extdata / "chr22.vcf.gz"
    lake = tmp_path / "lake"
    convert(vcf, lake)
    before = snapshot(lake)
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(vcf), str(lake), json.dumps(V1.to_dict())])
    deadline = time.monotonic() + 60
    staged: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        staged = [p for p in (lake / "_staging").glob(f"*/{VARIANT_FILES}") if p.stat().st_size > 50_000]
        if staged:
            break
        time.sleep(0.01)
    assert staged, "the conversion finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert snapshot(lake) == before  # readers still see exactly the old data
    recover(lake)  # sweeps the dead writer's staging
    assert not list((lake / "_staging").iterdir())
    result = convert(vcf, lake)
    counts = rows_per_partition(lake)
    assert len(counts) == 5 and set(counts.values()) == {10376} and result.rows == 5 * 10376


def test_crash_mid_commit_is_rolled_forward(data_dir, tmp_path, monkeypatch):
    # the new data differs from the old in the first record's QUAL (50 -> 51)
    new_vcf = tmp_path / "new.vcf"
    new_vcf.write_text((data_dir / "edge.vcf").read_text().replace("\t50\tPASS\tDP=30", "\t51\tPASS\tDP=30"))
    lake = tmp_path / "lake"
    convert(data_dir / "edge.vcf", lake)
    real = publish_mod.os.rename
    calls = {"n": 0}

    def dying_rename(a, b):
        calls["n"] += 1
        if calls["n"] == 2:  # after the first partition was swapped in
            raise KeyboardInterrupt("killed mid-commit")
        return real(a, b)

    monkeypatch.setattr(publish_mod.os, "rename", dying_rename)
    with pytest.raises(KeyboardInterrupt):
        convert(new_vcf, lake)
    monkeypatch.setattr(publish_mod.os, "rename", real)
    assert len(list((lake / "_txn").glob("*.json"))) == 1
    assert len(recover(lake)) == 1
    first_qual = {p.parent.name: pq.read_table(p, columns=["qual"]).column(0)[0].as_py() for p in lake.glob(VARIANT_FILES)}
    assert first_qual == {"sample_id=S1": 51.0, "sample_id=S2": 51.0, "sample_id=S3": 51.0}
    assert set(rows_per_partition(lake).values()) == {7}
    assert not list((lake / "_trash").glob("*/*"))


def test_qc_metrics_publish_is_idempotent_per_analysis(tmp_path):
    rows = [
        {"sample_id": "S1", "read_pairs": 1000, "pct_mapped": 99.5, "pct_duplicates": 3.0, "mean_depth": 30.1,
         "variants_called": 7, "precision": 0.99, "recall": 0.98, "f1": 0.985},
        {"sample_id": "S2", "read_pairs": 900, "pct_mapped": 98.0},
    ]
    publish_qc_metrics(tmp_path, rows, identity=V1)
    publish_qc_metrics(tmp_path, rows[:1], identity=V11)
    publish_qc_metrics(tmp_path, rows, identity=V1)
    files = sorted(tmp_path.glob(QC_FILES))
    assert [str(f.parent.relative_to(tmp_path)) for f in files] == [
        f"qc_metrics/run_id={RUN}/pipeline_version=1.0.0/reference=GRCh38/aligner=bwa/caller=bcftools",
        f"qc_metrics/run_id={RUN}/pipeline_version=1.1.0/reference=GRCh38/aligner=bwa/caller=bcftools",
    ]
    table = pq.read_table(files[0]).to_pylist()
    assert [r["sample_id"] for r in table] == ["S1", "S2"]
    assert table[1]["precision"] is None and table[1]["mean_depth"] is None and table[0]["f1"] == 0.985
    with pytest.raises(ValueError, match="appears twice"):
        publish_qc_metrics(tmp_path, rows + rows[:1], identity=V1)
    with pytest.raises(ValueError, match="unknown field"):
        publish_qc_metrics(tmp_path, [{"sample_id": "S1", "depth": 3}], identity=V1)
