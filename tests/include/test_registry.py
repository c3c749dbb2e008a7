"""The SQLite run registry (the local stand-in for the DynamoDB table)."""

from __future__ import annotations

import multiprocessing

import pytest

from seqflow.registry import INGEST, SqliteRunRegistry


def test_put_get_merge_and_analyses_side_by_side(tmp_path):
    reg = SqliteRunRegistry(tmp_path / "r.sqlite")
    assert reg.get("RUN1") is None
    reg.put("RUN1", INGEST, "ingesting", include_filter="/RUN1")
    rec = reg.put("RUN1", INGEST, "ingested", raw_path="/raw/RUN1")
    assert rec.details == {"include_filter": "/RUN1", "raw_path": "/raw/RUN1"}
    reg.put("RUN1", "1.0.0/lambda/bwa/bcftools", "analysed", samples=["A"])
    reg.put("RUN1", "1.0.0/GRCh38/bwa/bcftools", "analysing")
    reg.put("RUN1", "1.1.0/lambda/bwa/bcftools", "analysing")
    assert reg.get("RUN1").status == "ingested"
    assert reg.get("RUN1", "1.0.0/lambda/bwa/bcftools").status == "analysed"
    assert [(r.analysis, r.status) for r in reg.list("RUN1")] == [
        ("-", "ingested"), ("1.0.0/GRCh38/bwa/bcftools", "analysing"), ("1.0.0/lambda/bwa/bcftools", "analysed"),
        ("1.1.0/lambda/bwa/bcftools", "analysing"),
    ]
    assert reg.list("OTHER") == []


def test_unknown_status_rejected(tmp_path):
    reg = SqliteRunRegistry(tmp_path / "r.sqlite")
    with pytest.raises(ValueError, match="unknown run status 'done'"):
        reg.put("RUN1", INGEST, "done")


def _writer(path, n):
    reg = SqliteRunRegistry(path)
    for i in range(20):
        reg.put(f"RUN{n}", INGEST, "ingesting", step=i)


def test_concurrent_writers(tmp_path):
    path = tmp_path / "r.sqlite"
    SqliteRunRegistry(path)
    procs = [multiprocessing.Process(target=_writer, args=(path, n)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    reg = SqliteRunRegistry(path)
    assert sorted(r.run_id for r in reg.list()) == ["RUN0", "RUN1", "RUN2", "RUN3"]
    assert all(r.details["step"] == 19 for r in reg.list())
