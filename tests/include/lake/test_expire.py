"""``seqflow lake expire``: old snapshots leave the table's metadata, the newest N and the current stay."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace

import pytest

from seqflow.catalog import run_query
from seqflow.identity import AnalysisIdentity
from seqflow.lake import Lake, publish_qc_metrics
from seqflow.lake.expire import expire_snapshots, to_expire

IDENTITY = AnalysisIdentity("240101_A00123_0001_AHXXXXXXXX", "1.0.0", "GRCh38", "bwa", "bcftools")


def _history(root, n: int) -> list[int]:
    """n commits of qc_metrics (read_pairs 1..n, one analysis replaced each time), a few ms apart."""
    lake = Lake.local(root)
    ids = []
    for i in range(1, n + 1):
        ids.append(publish_qc_metrics(lake, [{"sample_id": "S1", "read_pairs": i}], identity=IDENTITY).snapshot_id)
        time.sleep(0.01)
    return ids


def _snapshot_ids(root, table="qc_metrics") -> list[int]:
    return [s.snapshot_id for s in sorted(Lake.local(root).table(table).metadata.snapshots, key=lambda s: s.timestamp_ms)]


def test_expire_keeps_the_newest_n_and_the_current_and_readers_see_the_same_rows(tmp_path):
    root = tmp_path / "lake"
    ids = _history(root, 5)
    assert _snapshot_ids(root) == ids
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=10)
    # nothing is older than 30 days
    [none] = expire_snapshots(Lake.local(root), older_than_days=30, retain_last=1, now=later)
    assert none.expired == [] and _snapshot_ids(root) == ids
    # dry run: lists, commits nothing
    [dry] = expire_snapshots(Lake.local(root), older_than_days=7, retain_last=2, now=later, dry_run=True)
    assert dry.expired == ids[:3] and _snapshot_ids(root) == ids
    [done] = expire_snapshots(Lake.local(root), older_than_days=7, retain_last=2, now=later)
    assert done.table == "qc_metrics" and done.expired == ids[:3] and done.kept == ids[3:]
    assert _snapshot_ids(root) == ids[3:]
    assert Lake.local(root).table("qc_metrics").current_snapshot().snapshot_id == ids[-1]
    assert run_query(root, "SELECT read_pairs FROM qc_metrics")[1] == [(5,)]
    # again: the two left are the newest two, nothing more goes
    [again] = expire_snapshots(Lake.local(root), older_than_days=7, retain_last=2, now=later)
    assert again.expired == [] and _snapshot_ids(root) == ids[3:]
    # retain_last=1: all but the current
    [last] = expire_snapshots(Lake.local(root), older_than_days=7, retain_last=1, now=later)
    assert last.expired == [ids[3]] and _snapshot_ids(root) == [ids[4]]
    assert run_query(root, "SELECT read_pairs FROM qc_metrics")[1] == [(5,)]


def test_the_current_snapshot_is_never_expired_and_bad_arguments_are_refused(tmp_path):
    root = tmp_path / "lake"
    ids = _history(root, 2)
    tbl = Lake.local(root).table("qc_metrics")
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    assert to_expire(tbl, older_than=future, retain_last=1) == [ids[0]]
    with pytest.raises(ValueError, match="at least 1"):
        to_expire(tbl, older_than=future, retain_last=0)
    with pytest.raises(ValueError, match="aware"):
        to_expire(tbl, older_than=future.replace(tzinfo=None), retain_last=1)
    with pytest.raises(ValueError, match=">= 0"):
        expire_snapshots(Lake.local(root), older_than_days=-1, retain_last=1)


def test_time_travel_to_an_expired_snapshot_ends_and_other_tables_are_untouched(tmp_path):
    root = tmp_path / "lake"
    ids = _history(root, 3)
    middle = Lake.local(root).table("qc_metrics").snapshot_by_id(ids[1]).timestamp_ms
    assert run_query(root, "SELECT read_pairs FROM qc_metrics", as_of_ms=middle)[1] == [(2,)]
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    # a table that does not exist (variants) is skipped; only qc_metrics is reported
    result = expire_snapshots(Lake.local(root), older_than_days=1, retain_last=1, now=later)
    assert [(r.table, r.expired) for r in result] == [("qc_metrics", ids[:2])]
    # the metadata no longer knows a snapshot of that time: the table reads as empty then
    assert run_query(root, "SELECT read_pairs FROM qc_metrics", as_of_ms=middle)[1] == []


def test_the_cli_expires_and_says_what_it_did(tmp_path, capsys):
    from seqflow.cli import main

    root = tmp_path / "lake"
    ids = _history(root, 3)
    assert main(["lake", "expire", "--older-than", "0", "--retain-last", "2", "--dry-run", "--lake", str(root)]) == 0
    assert f"qc_metrics: would expire 1 snapshot(s) ({ids[0]}); 2 kept" in capsys.readouterr().out
    assert _snapshot_ids(root) == ids
    assert main(["lake", "expire", "--older-than", "0", "--retain-last", "2", "--lake", str(root)]) == 0
    assert f"qc_metrics: expired 1 snapshot(s) ({ids[0]}); 2 kept" in capsys.readouterr().out
    assert _snapshot_ids(root) == ids[1:]
    assert main(["lake", "expire", "--older-than", "0", "--retain-last", "0", "--lake", str(root)]) != 0
    assert _snapshot_ids(root) == ids[1:]
