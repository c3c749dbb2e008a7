"""Sample sheet parsing (v1 and v2) and every validation rule.

Each error must name the file, the line and the rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from seqflow.samplesheet import SampleRecord, SampleSheetError, parse_sample_sheet

DATA = Path(__file__).parent / "data" / "samplesheets"

V2_HEAD = """[Header]
FileFormatVersion,2
RunName,test

[Reads]
Read1Cycles,151
Read2Cycles,151

[BCLConvert_Data]
"""


def write(tmp_path: Path, text: str, name: str = "SampleSheet.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def error_of(path: Path) -> SampleSheetError:
    with pytest.raises(SampleSheetError) as excinfo:
        parse_sample_sheet(path)
    assert isinstance(excinfo.value, ValueError)
    return excinfo.value


def assert_error(path: Path, line: int | None, rule: str, detail: str = "") -> SampleSheetError:
    error = error_of(path)
    message = str(error)
    assert str(path) in message
    assert (error.path, error.line, error.rule) == (str(path), line, rule)
    if line is not None:
        assert f"line {line}" in message
    assert rule in message
    assert detail in message
    return error


# --- valid sheets -----------------------------------------------------------


def test_v2_fixture_with_crlf_lanes_and_projects():
    sheet = parse_sample_sheet(DATA / "v2.csv")
    assert b"\r\n" in (DATA / "v2.csv").read_bytes()
    assert sheet.version == 2
    assert sheet.header == {"FileFormatVersion": "2", "RunName": "demo-run", "InstrumentPlatform": "NovaSeq6000"}
    assert sheet.reads == {"Read1Cycles": 151, "Read2Cycles": 151, "Index1Cycles": 8, "Index2Cycles": 8}
    assert sheet.samples == [
        SampleRecord("NA12878-1", 1, "ACGTACGT", "TTGGCCAA", "ProjectA", 18),
        # lower-case index is normalised; an empty Sample_Project is None
        SampleRecord("NA12878_2", 1, "ACGTACGA", "TTGGCCAT", None, 19),
        SampleRecord("NA12878-1", 2, "ACGTACGT", "TTGGCCAA", "ProjectA", 20),
        SampleRecord("Sample3", 2, "GGGGAAAA", "CCCCTTTT", "ProjectB", 21),
    ]
    assert sheet.sample_ids() == ["NA12878-1", "NA12878_2", "Sample3"]
    assert [r.lane for r in sheet.records_for("NA12878-1")] == [1, 2]


def test_v1_fixture_with_bom_iem_header_and_padding():
    assert (DATA / "v1.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    sheet = parse_sample_sheet(DATA / "v1.csv")
    assert sheet.version == 1
    assert sheet.header["IEMFileVersion"] == "5"
    assert sheet.header["Investigator Name"] == "Jane Doe"
    assert sheet.reads == {"Read1Cycles": 151, "Read2Cycles": 151}
    assert sheet.samples == [
        SampleRecord("S1", None, "TAAGGCGA", "CTCTCTAT", None, 17),
        SampleRecord("S2", None, "CGTACTAG", "CTCTCTAT", None, 18),
        SampleRecord("S10", None, "AGGCAGAA", "CTCTCTAT", None, 19),
    ]
    assert sheet.sample_ids() == ["S1", "S2", "S10"]


def test_v1_without_header_section(tmp_path):
    path = write(tmp_path, "[Data]\nSample_ID,index\nA,ACGT\nB,TTTT\n")
    sheet = parse_sample_sheet(path)
    assert (sheet.version, sheet.header, sheet.reads) == (1, {}, {})
    assert [(r.sample_id, r.index, r.index2, r.lane) for r in sheet.samples] == [
        ("A", "ACGT", "", None),
        ("B", "TTTT", "", None),
    ]


def test_v2_single_sample_without_index_columns(tmp_path):
    sheet = parse_sample_sheet(write(tmp_path, V2_HEAD + "Sample_ID\nonly-sample\n"))
    assert [(r.sample_id, r.index, r.index2) for r in sheet.samples] == [("only-sample", "", "")]


def test_bom_and_crlf_written_by_excel(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (V2_HEAD + "Sample_ID,Index\nA,ACGT\n").replace("\n", "\r\n").encode())
    sheet = parse_sample_sheet(path)
    assert sheet.version == 2
    assert sheet.samples[0].sample_id == "A" and sheet.samples[0].line == 11


def test_trailing_empty_field_counts_as_a_field(tmp_path):
    sheet = parse_sample_sheet(write(tmp_path, V2_HEAD + "Sample_ID,Index,Sample_Project\nA,ACGT,\nB,TTTT,P1,,,\n"))
    assert [(r.sample_id, r.sample_project) for r in sheet.samples] == [("A", None), ("B", "P1")]


def test_same_sample_in_two_lanes_is_allowed(tmp_path):
    sheet = parse_sample_sheet(write(tmp_path, V2_HEAD + "Lane,Sample_ID,Index\n1,A,ACGT\n2,A,ACGT\n"))
    assert sheet.sample_ids() == ["A"]
    assert len(sheet.samples) == 2


def test_index_length_may_differ_between_lanes(tmp_path):
    sheet = parse_sample_sheet(write(tmp_path, V2_HEAD + "Lane,Sample_ID,Index\n1,A,ACGT\n2,B,ACGTACGT\n"))
    assert [r.index for r in sheet.samples] == ["ACGT", "ACGTACGT"]


def test_path_may_be_a_string(tmp_path):
    path = write(tmp_path, V2_HEAD + "Sample_ID\nA\n")
    assert parse_sample_sheet(str(path)).path == path


# --- errors -----------------------------------------------------------------


def test_file_not_found(tmp_path):
    assert_error(tmp_path / "missing.csv", None, "file not found")


def test_directory_is_not_a_sheet(tmp_path):
    assert_error(tmp_path, None, "not a file")


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((V2_HEAD + "Sample_ID\n").encode() + "Échantillon\n".encode("latin-1"))
    assert_error(path, 11, "not UTF-8", "0xc9")


def test_unknown_file_format_version(tmp_path):
    path = write(tmp_path, "[Header]\nRunName,x\nFileFormatVersion,3\n[BCLConvert_Data]\nSample_ID\nA\n")
    assert_error(path, 3, "unknown FileFormatVersion", "'3'")


def test_missing_v2_data_section(tmp_path):
    path = write(tmp_path, "[Header]\nFileFormatVersion,2\n[Data]\nSample_ID\nA\n")
    error = assert_error(path, None, "missing data section", "[BCLConvert_Data]")
    assert "found [Data]" in str(error)


def test_missing_v1_data_section_hints_at_file_format_version(tmp_path):
    path = write(tmp_path, "[Header]\nIEMFileVersion,5\n[BCLConvert_Data]\nSample_ID\nA\n")
    error = assert_error(path, None, "missing data section", "[Data]")
    assert "FileFormatVersion,2" in str(error)


def test_empty_file(tmp_path):
    assert_error(write(tmp_path, ""), None, "missing data section")


def test_content_outside_a_section(tmp_path):
    assert_error(write(tmp_path, "Sample_ID,index\nA,ACGT\n"), 1, "content outside a section")


def test_duplicate_section(tmp_path):
    assert_error(write(tmp_path, "[Data]\nSample_ID\nA\n[Data]\nSample_ID\nB\n"), 4, "duplicate section", "line 1")


def test_data_section_without_rows(tmp_path):
    assert_error(write(tmp_path, V2_HEAD), 9, "empty data section", "no column header")
    assert_error(write(tmp_path, V2_HEAD + "Sample_ID,Index\n"), 10, "empty data section", "lists no samples")


def test_missing_sample_id_column(tmp_path):
    path = write(tmp_path, V2_HEAD + "Lane,Sample_Name,Index\n1,A,ACGT\n")
    assert_error(path, 10, "missing Sample_ID column", "Sample_Name")


def test_empty_and_duplicate_column_names(tmp_path):
    assert_error(write(tmp_path, V2_HEAD + "Sample_ID,,Index\nA,x,ACGT\n"), 10, "empty column name", "column 2")
    assert_error(write(tmp_path, V2_HEAD + "Sample_ID,Index,index\nA,AC,AC\n"), 10, "duplicate column", "'index'")


def test_empty_sample_id(tmp_path):
    assert_error(write(tmp_path, V2_HEAD + "Lane,Sample_ID,Index\n1,A,ACGT\n1,,ACGA\n"), 12, "empty Sample_ID")


@pytest.mark.parametrize(
    "sample_id",
    ["../../etc/passwd", "a/b", "a b", "a.b", "-rf", "s\u00e9", "x" * 101, "a;rm"],
)
def test_invalid_sample_id(tmp_path, sample_id):
    path = write(tmp_path, V2_HEAD + f'Sample_ID,Index\nok,ACGT\n"{sample_id}",ACGA\n')
    assert_error(path, 12, "invalid Sample_ID", repr(sample_id))


def test_sample_id_of_100_characters_is_allowed(tmp_path):
    sheet = parse_sample_sheet(write(tmp_path, V2_HEAD + "Sample_ID\n" + "x" * 100 + "\n"))
    assert sheet.sample_ids() == ["x" * 100]


def test_duplicate_sample_id_in_a_lane(tmp_path):
    path = write(tmp_path, V2_HEAD + "Lane,Sample_ID,Index\n1,A,ACGT\n2,A,ACGT\n1,A,TTTT\n")
    assert_error(path, 13, "duplicate Sample_ID", "'A' appears twice in lane 1 (first on line 11)")


def test_duplicate_sample_id_without_lanes(tmp_path):
    path = write(tmp_path, "[Data]\nSample_ID,index\nA,ACGT\nA,TTTT\n")
    assert_error(path, 4, "duplicate Sample_ID", "first on line 3")


@pytest.mark.parametrize("lane", ["", "0", "x", "-1", "1.5"])
def test_invalid_lane(tmp_path, lane):
    path = write(tmp_path, V2_HEAD + f"Lane,Sample_ID,Index\n{lane},A,ACGT\n")
    assert_error(path, 11, "invalid Lane", repr(lane))


@pytest.mark.parametrize(("column", "value"), [("Index", "ACGU"), ("Index", "AC GT"), ("Index2", "ACG-")])
def test_index_with_non_acgtn_characters(tmp_path, column, value):
    path = write(tmp_path, V2_HEAD + f"Sample_ID,{column}\nA,ACGT\nB,{value}\n")
    assert_error(path, 12, f"invalid {column.lower()}", "other than A, C, G, T, N")


def test_inconsistent_index_length_in_a_lane(tmp_path):
    path = write(tmp_path, V2_HEAD + "Lane,Sample_ID,Index,Index2\n1,A,ACGTACGT,AAAA\n1,B,ACGTACG,AAAA\n")
    assert_error(path, 12, "inconsistent index length", "7 bases, but 8 on line 11 in lane 1")


def test_inconsistent_index2_length(tmp_path):
    path = write(tmp_path, "[Data]\nSample_ID,index,index2\nA,ACGT,AAAA\nB,ACGA,\n")
    assert_error(path, 4, "inconsistent index2 length", "0 bases, but 4 on line 3")


@pytest.mark.parametrize(("row", "count"), [("A,ACGT,P1,extra", 4), ("A,ACGT", 2)])
def test_wrong_number_of_fields(tmp_path, row, count):
    path = write(tmp_path, V2_HEAD + f"Sample_ID,Index,Sample_Project\n{row}\n")
    detail = f"row has {count} fields, the [BCLConvert_Data] header on line 10 has 3"
    assert_error(path, 11, "wrong number of fields", detail)


def test_invalid_sample_project(tmp_path):
    path = write(tmp_path, V2_HEAD + "Sample_ID,Sample_Project\nA,../x\n")
    assert_error(path, 11, "invalid Sample_Project", "'../x'")


@pytest.mark.parametrize("row", ['"A,ACGT\nB,TTTT\n', '"A"B,ACGT\n'])
def test_malformed_csv_quotes(tmp_path, row):
    path = write(tmp_path, V2_HEAD + "Sample_ID,Index\n" + row)
    error = error_of(path)
    assert error.rule == "malformed CSV"
    assert error.line == 11
    assert f"{path}, line 11: malformed CSV" in str(error)
