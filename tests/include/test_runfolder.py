"""Run folder names, discovery by date, completion flags and FASTQ pairing."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from seqflow.paths import is_valid_run_id
from seqflow.runfolder import (
    FastqError,
    RunFolder,
    RunFolderError,
    RunFolderName,
    discover_runs,
    find_fastqs,
    is_run_folder_name,
)

NOVASEQ = "241120_A01234_0042_AHXXXXXDSX"
MISEQ = "241120_M01234_0042_000000000-ABCDE"


def test_parse_novaseq_name_with_flowcell_side():
    name = RunFolderName.parse(NOVASEQ)
    assert name == RunFolderName(
        run_id=NOVASEQ, run_date=date(2024, 11, 20), instrument="A01234", run_number=42, flowcell="AHXXXXXDSX"
    )
    assert str(name) == NOVASEQ


def test_parse_miseq_name():
    name = RunFolderName.parse(MISEQ)
    assert (name.instrument, name.run_number, name.flowcell) == ("M01234", 42, "000000000-ABCDE")
    assert name.run_date == date(2024, 11, 20)


def test_parse_eight_digit_date_of_novaseq_x():
    name = RunFolderName.parse("20241120_LH00123_0012_A22FTGWLT3")
    assert name.run_date == date(2024, 11, 20)
    assert name.instrument == "LH00123"


def test_name_is_frozen():
    name = RunFolderName.parse(NOVASEQ)
    with pytest.raises(AttributeError):
        name.run_number = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "empty"),
        ("241120_A01234_0042", "3 '_'-separated fields, not 4"),
        ("241120_A01234_0042_AHX_extra", "5 '_'-separated fields"),
        ("24112_A01234_0042_AHX", "does not start with a YYMMDD date"),
        ("241320_A01234_0042_AHX", "'241320' is not a valid date"),
        ("240231_A01234_0042_AHX", "'240231' is not a valid date"),
        ("241120_A-1234_0042_AHX", "invalid instrument id 'A-1234'"),
        ("241120_A01234_42a_AHX", "invalid run number '42a'"),
        ("241120_A01234_0042_AH.X", "invalid flowcell id 'AH.X'"),
        ("241120_A01234_0042_../x", "invalid flowcell id"),
        ("241120_A01234_0042_AHX\n", "invalid flowcell id"),
        ("241120_A01234_0042_" + "A" * 200, "longer than 128"),
    ],
)
def test_parse_rejects_with_name_and_rule(name, rule):
    with pytest.raises(RunFolderError) as excinfo:
        RunFolderName.parse(name)
    message = str(excinfo.value)
    assert rule in message
    assert repr(name) in message
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize("name", [NOVASEQ, MISEQ, "241120_A01234_0042_AHX", "../etc", "241301_A_1_B", "x"])
def test_is_run_folder_name_agrees_with_the_shared_pattern(name):
    # the param schema uses the pattern, Python code uses parse(): they must agree
    # (apart from calendar validity, which only parse() checks)
    expected = is_valid_run_id(name) and name != "241301_A_1_B"
    assert is_run_folder_name(name) is expected


def _mkrun(root, name, flag=None):
    path = root / name
    path.mkdir(parents=True)
    (path / "RunInfo.xml").write_text("<RunInfo/>")
    if flag:
        (path / flag).write_text("")
    return path


def test_discover_runs_of_a_date(tmp_path, caplog):
    _mkrun(tmp_path, "241120_M01234_0042_000000000-ABCDE")
    _mkrun(tmp_path, "241120_A01234_0042_AHXXXXXDSX")
    _mkrun(tmp_path, "241121_A01234_0043_BHYYYYYDSX")  # other date
    _mkrun(tmp_path, ".tmp-241120_A01234_0044_AHZZZZZDSX")  # in-progress copy
    _mkrun(tmp_path, ".241120_A01234_0045_AHZZZZZDSX")  # hidden
    _mkrun(tmp_path, "not_a_run")
    (tmp_path / "241120_A01234_0046_AHFILEEDSX").write_text("a file, not a folder")
    with caplog.at_level(logging.DEBUG, logger="seqflow.runfolder"):
        runs = discover_runs(tmp_path, date(2024, 11, 20))
    assert [run.name.run_id for run in runs] == ["241120_A01234_0042_AHXXXXXDSX", "241120_M01234_0042_000000000-ABCDE"]
    assert all(isinstance(run, RunFolder) and run.path.parent == tmp_path for run in runs)
    assert runs[0].path == tmp_path / "241120_A01234_0042_AHXXXXXDSX"
    assert "not_a_run" in caplog.text
    assert discover_runs(tmp_path, date(2024, 11, 22)) == []


def test_discover_runs_missing_root(tmp_path):
    with pytest.raises(RunFolderError, match="does not exist"):
        discover_runs(tmp_path / "nope", date(2024, 11, 20))


def test_completion_flags_in_order_of_preference(tmp_path):
    run = RunFolder(_mkrun(tmp_path, NOVASEQ), RunFolderName.parse(NOVASEQ))
    assert run.completion_flag() is None
    assert not run.is_complete()
    (run.path / "RTAComplete.txt").write_text("")
    assert run.completion_flag() == run.path / "RTAComplete.txt"
    (run.path / "CopyComplete.txt").write_text("")
    assert run.completion_flag() == run.path / "CopyComplete.txt"
    assert run.completion_flag(flags=("RTAComplete.txt", "CopyComplete.txt")) == run.path / "RTAComplete.txt"
    assert run.is_complete(flags=("QAComplete.txt",)) is False
    # a folder with the flag's name is not a flag
    (run.path / "QAComplete.txt").mkdir()
    assert run.is_complete(flags=("QAComplete.txt",)) is False


def _fastq(directory, name):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(b"")
    return directory / name


def test_find_fastqs_pairs_by_lane_in_bcl_convert_layout(tmp_path):
    fq = tmp_path / "Analysis" / "1" / "Data" / "fastq"
    files = {
        name: _fastq(fq, name)
        for name in [
            "A_S1_L002_R1_001.fastq.gz",
            "A_S1_L002_R2_001.fastq.gz",
            "A_S1_L001_R1_001.fastq.gz",
            "A_S1_L001_R2_001.fastq.gz",
            "A_S1_L001_I1_001.fastq.gz",
            # other samples that share a prefix with "A"
            "A-2_S2_L001_R1_001.fastq.gz",
            "A-2_S2_L001_R2_001.fastq.gz",
            "A_B_S3_L001_R1_001.fastq.gz",
            "A_B_S3_L001_R2_001.fastq.gz",
            "Undetermined_S0_L001_R1_001.fastq.gz",
        ]
    }
    pairs = find_fastqs(tmp_path, "A")
    assert [(p.lane, p.sample_number, p.r1, p.r2) for p in pairs] == [
        (1, 1, files["A_S1_L001_R1_001.fastq.gz"], files["A_S1_L001_R2_001.fastq.gz"]),
        (2, 1, files["A_S1_L002_R1_001.fastq.gz"], files["A_S1_L002_R2_001.fastq.gz"]),
    ]
    assert [p.r1.name for p in find_fastqs(tmp_path, "A-2")] == ["A-2_S2_L001_R1_001.fastq.gz"]
    assert [p.r1.name for p in find_fastqs(tmp_path, "A_B")] == ["A_B_S3_L001_R1_001.fastq.gz"]


@pytest.mark.parametrize("where", ["Data/Intensities/BaseCalls", "Fastq", "."])
def test_find_fastqs_in_other_layouts(tmp_path, where):
    _fastq(tmp_path / where, "S7_S3_L001_R1_001.fastq.gz")
    _fastq(tmp_path / where, "S7_S3_L001_R2_001.fastq.gz")
    (pair,) = find_fastqs(tmp_path, "S7")
    assert pair.sample_id == "S7" and pair.lane == 1 and pair.sample_number == 3


def test_find_fastqs_without_lane_splitting(tmp_path):
    _fastq(tmp_path / "Fastq", "S1_S1_R1_001.fastq.gz")
    _fastq(tmp_path / "Fastq", "S1_S1_R2_001.fastq.gz")
    (pair,) = find_fastqs(tmp_path, "S1")
    assert pair.lane is None


def test_find_fastqs_ignores_hidden_folders(tmp_path):
    _fastq(tmp_path / ".tmp-copy", "S1_S1_L001_R1_001.fastq.gz")
    with pytest.raises(FastqError, match="no FASTQ files for sample 'S1'"):
        find_fastqs(tmp_path, "S1")


def test_find_fastqs_none_found(tmp_path):
    _fastq(tmp_path / "Fastq", "A-2_S1_L001_R1_001.fastq.gz")
    with pytest.raises(FastqError) as excinfo:
        find_fastqs(tmp_path, "A")
    assert "no FASTQ files for sample 'A'" in str(excinfo.value)
    assert str(tmp_path) in str(excinfo.value)


def test_find_fastqs_r1_without_r2(tmp_path):
    _fastq(tmp_path / "Fastq", "S1_S1_L001_R1_001.fastq.gz")
    _fastq(tmp_path / "Fastq", "S1_S1_L001_R2_001.fastq.gz")
    _fastq(tmp_path / "Fastq", "S1_S1_L002_R1_001.fastq.gz")
    with pytest.raises(FastqError, match=r"S1_S1_L002_R1_001.fastq.gz has no R2 mate of lane 2"):
        find_fastqs(tmp_path, "S1")


def test_find_fastqs_r2_without_r1(tmp_path):
    _fastq(tmp_path / "Fastq", "S1_S1_L001_R2_001.fastq.gz")
    with pytest.raises(FastqError, match="has no R1 mate"):
        find_fastqs(tmp_path, "S1")


def test_find_fastqs_same_file_in_two_analyses_is_ambiguous(tmp_path):
    for n in ("1", "2"):
        _fastq(tmp_path / "Analysis" / n / "Data" / "fastq", "S1_S1_L001_R1_001.fastq.gz")
        _fastq(tmp_path / "Analysis" / n / "Data" / "fastq", "S1_S1_L001_R2_001.fastq.gz")
    with pytest.raises(FastqError, match="found twice"):
        find_fastqs(tmp_path, "S1")


@pytest.mark.parametrize("sample", ["../S1", "S1/..", "", "S*", "a b"])
def test_find_fastqs_rejects_unsafe_sample_ids(tmp_path, sample):
    with pytest.raises(ValueError, match="invalid sample id"):
        find_fastqs(tmp_path, sample)


def test_find_fastqs_missing_run_folder(tmp_path):
    with pytest.raises(FastqError, match="does not exist"):
        find_fastqs(tmp_path / "nope", "S1")
