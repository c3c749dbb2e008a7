"""The scan goes by completion, not by the date in a run's name, on a controllable clock.

A NovaSeq 2x150 run started on day D sequences for ~40-48 h: the scans of D+1
and D+2 see it still being written, the first scan after its flag ingests it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from seqflow.registry import INGEST
from seqflow.tasks.ingest import ScanSettings, backfill_runs, find_runs, record_ingested, share_candidates, triage

D = dt.date(2026, 11, 20)
RUN = f"{D:%y%m%d}_A01234_0100_AHSCANDSXY"
OTHER = f"{D - dt.timedelta(days=3):%y%m%d}_A01234_0099_AHSCANDSXY"  # another date inside the window
OLD = f"{D - dt.timedelta(days=30):%y%m%d}_A01234_0042_AHSCANDSXY"  # outside the 14-day window


def at(day_offset: float) -> dt.datetime:
    return dt.datetime(D.year, D.month, D.day, tzinfo=dt.timezone.utc) + dt.timedelta(days=day_offset)


class Recorder:
    def __init__(self, backend):
        self.backend, self.alerts = backend, []

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def alert(self, message):
        self.alerts.append(message)


@pytest.fixture
def share(world):
    landing = world.paths.landing
    for run in (RUN, OTHER, OLD):
        (landing / run).mkdir(parents=True)
        (landing / run / "RunInfo.xml").write_text("<RunInfo/>")
    return landing


def scan(backend, when, settings=ScanSettings(), **kw):
    return triage(share_candidates(when, settings, **kw), when, settings, backend=backend)


def flag(share: Path, run: str, name: str = "CopyComplete.txt") -> None:
    (share / run / name).write_text("")


def test_a_run_finishing_two_days_after_its_date_is_ingested_by_the_first_scan_after_its_flag(world, share):
    backend = Recorder(world)
    registry = world.registry()
    flag(share, OTHER)
    assert scan(backend, at(1)) == [OTHER]  # the same scan ingests a run of another date in the window
    record_ingested(OTHER, backend=world)
    assert registry.get(RUN, INGEST).status == "waiting"  # still sequencing: waiting, never failed
    assert registry.get(RUN, INGEST).details["waiting_since"] == at(1).isoformat()
    assert scan(backend, at(2)) == []
    assert registry.get(RUN, INGEST).status == "waiting"
    flag(share, RUN)
    assert scan(backend, at(2.5)) == [RUN]
    assert registry.get(RUN, INGEST).status == "ingesting"
    record_ingested(RUN, backend=world)
    assert scan(backend, at(3)) == []  # analysed once: later scans leave it alone
    assert scan(backend, at(3), ScanSettings(force=True)) == [OTHER, RUN]
    assert registry.get(OLD, INGEST) is None  # outside the look-back window: not even recorded
    assert backend.alerts == []


def test_one_alert_when_a_run_waits_too_long(world, share):
    backend = Recorder(world)
    settings = ScanSettings(alert_after_hours=48)
    for day in (1, 2, 3.5, 4, 5):
        scan(backend, at(day), settings)
    assert [a["run_id"] for a in backend.alerts] == [OTHER, RUN]  # once each, at the first scan past 48 h
    assert backend.alerts[0]["waited_hours"] == 60.0
    assert world.registry().get(RUN, INGEST).status == "waiting"


def test_with_a_qa_flag_a_run_waits_for_it(world, share):
    settings = ScanSettings(qa_flag="QAPassed.txt")
    flag(share, RUN)
    assert scan(world, at(2), settings) == []
    flag(share, RUN, "QAPassed.txt")
    assert scan(world, at(3), settings) == [RUN]


def test_a_manual_run_date_scans_only_that_date(world, share):
    flag(share, RUN)
    flag(share, OTHER)
    assert scan(world, at(1), run_date=D) == [RUN]


def test_find_runs_of_a_scheduled_run_and_of_a_backfill(world, share):
    class DagRun:
        run_type = "scheduled"
        run_after = at(1)

    flag(share, RUN)
    params = {"run_date": None, "force": False, "lookback_days": 14, "qa_flag": None, "alert_after_hours": 72}
    runs, _ = find_runs(params, logical_date=at(0), data_interval_end=at(1), dag_run=DagRun(), candidates="share",
                        backend=world)
    assert runs == [RUN]
    runs, why = find_runs(params, logical_date=at(1), data_interval_end=at(2), dag_run=DagRun(), candidates="share",
                          backend=world)
    assert runs == [RUN] and why.startswith("no complete run")  # not recorded as ingested yet

    class Backfill(DagRun):
        run_type = "backfill"

    # a backfill selects by the name's date, from raw storage (the world's run is there, the share's are not)
    from .conftest import RUN as RAW_RUN

    raw_date = dt.datetime.strptime(RAW_RUN[:6], "%y%m%d").replace(tzinfo=dt.timezone.utc)
    runs, _ = find_runs(params, logical_date=raw_date, data_interval_end=None, dag_run=Backfill(),
                        candidates="share", backend=world)
    assert runs == [RAW_RUN] == backfill_runs(raw_date.date(), backend=world)


def test_a_qa_flag_must_be_a_file_name():
    with pytest.raises(ValueError, match="qa_flag"):
        ScanSettings.from_params({"qa_flag": "../QAPassed.txt"})


def test_named_run_folders_are_scanned_whatever_their_date(world, share):
    """``run_folders`` (the run-events DAG, or a user) scans exactly those runs, even outside the window."""
    flag(share, RUN)
    flag(share, OLD)
    flag(share, OTHER)
    assert scan(world, at(1), ScanSettings.from_params({"run_folders": [OLD, RUN]})) == [OLD, RUN]
    record_ingested(OLD, backend=world)
    # an announced run that was ingested already (the schedule took it first) is left alone
    assert scan(world, at(1), ScanSettings.from_params({"run_folders": [OLD]})) == []


def test_named_runs_not_complete_wait_and_absent_ones_are_named(world, share):
    class DagRun:
        run_type = "manual"
        run_after = at(1)

    params = {"run_date": None, "force": False, "lookback_days": 14, "qa_flag": None, "alert_after_hours": 72,
              "run_folders": [RUN, "261101_A01234_0001_AHNOTHEREXX"]}
    runs, why = find_runs(params, logical_date=at(1), data_interval_end=None, dag_run=DagRun(),
                          candidates="share", backend=world)
    assert runs == []
    assert "not found: 261101_A01234_0001_AHNOTHEREXX" in why and f"still waiting for their flag: {RUN}" in why
    assert world.registry().get(RUN, INGEST).status == "waiting"


@pytest.mark.parametrize("value, message", [
    ("261120_A01234_0100_AHSCANDSXY", "not a list"),
    ([7], "not a list"),
    (["../etc"], "run folder name '../etc'"),
])
def test_named_run_folders_must_be_run_folder_names(value, message):
    with pytest.raises(ValueError, match=message):
        ScanSettings.from_params({"run_folders": value})
