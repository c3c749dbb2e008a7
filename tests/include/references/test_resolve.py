"""Which reference a run's samples get: the param, the sheet through the mapping table, the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqflow.references.resolve import (
    MappingRule,
    ReferenceRules,
    UnresolvedReference,
    group_by_reference,
    resolve_references,
    single_reference,
)
from seqflow.samplesheet import parse_sample_sheet

RUN = "261120_A01234_0042_AHXXXXXDSX"

SHEET = """[Header]
FileFormatVersion,2
RunName,{run}

[Reads]
Read1Cycles,151
Read2Cycles,151

[BCLConvert_Data]
Sample_ID,Index,Sample_Project
H1,ACGTACGT,CancerWGS
H2,TTGCAACC,CancerWGS
M1,GGATCCAA,MouseKO
X1,CCTTGGAA,

[DragenGermline_Settings]
ReferenceGenomeDir,hg38-alt_masked.cnv.hla.rna_v3
"""


@pytest.fixture
def sheet(tmp_path: Path):
    path = tmp_path / "SampleSheet.csv"
    path.write_text(SHEET.format(run=RUN))
    return parse_sample_sheet(path)


def first_rows(sheet):
    return list({r.sample_id: r for r in sheet.samples}.values())


def test_param_wins_for_every_sample(sheet):
    rules = ReferenceRules("lambda", (MappingRule("Sample_Project", "CancerWGS", "GRCh38"),))
    got = resolve_references(first_rows(sheet), sheet, rules, "T2T")
    assert {r.reference for r in got} == {"T2T"} and {r.origin for r in got} == {"the reference param"}


def test_mapping_by_column_then_default(sheet):
    rules = ReferenceRules("ecoli", (MappingRule("sample_project", "CancerWGS", "GRCh38"),
                                     MappingRule("Sample_Project", "MouseKO", "GRCm39")))
    got = {r.sample_id: (r.reference, r.origin) for r in resolve_references(first_rows(sheet), sheet, rules)}
    assert got == {
        "H1": ("GRCh38", "sample sheet sample_project=CancerWGS"),
        "H2": ("GRCh38", "sample sheet sample_project=CancerWGS"),
        "M1": ("GRCm39", "sample sheet Sample_Project=MouseKO"),
        "X1": ("ecoli", "the deployment's default reference"),
    }
    assert group_by_reference(resolve_references(first_rows(sheet), sheet, rules)) == {
        "GRCh38": ["H1", "H2"], "GRCm39": ["M1"], "ecoli": ["X1"]}


def test_mapping_by_dragen_settings_key(sheet):
    rules = ReferenceRules(None, (MappingRule("DragenGermline_Settings.ReferenceGenomeDir",
                                              "hg38-alt_masked.cnv.hla.rna_v3", "GRCh38"),))
    assert {r.reference for r in resolve_references(first_rows(sheet), sheet, rules)} == {"GRCh38"}


def test_nothing_names_a_reference_says_how_to_set_one(sheet):
    got = resolve_references(first_rows(sheet), sheet, ReferenceRules())
    with pytest.raises(UnresolvedReference) as err:
        single_reference(got, RUN)
    message = str(err.value)
    assert "no reference for sample(s) H1, H2, M1, X1" in message
    for hint in ("reference param", "seqflow reference map Sample_Project", "seqflow reference default"):
        assert hint in message


def test_several_references_in_one_analysis_is_refused_with_the_groups(sheet):
    rules = ReferenceRules("ecoli", (MappingRule("Sample_Project", "CancerWGS", "GRCh38"),))
    with pytest.raises(UnresolvedReference, match=r"2 references \(GRCh38: H1, H2; ecoli: M1, X1\)"):
        single_reference(resolve_references(first_rows(sheet), sheet, rules), RUN)
    subset = [r for r in first_rows(sheet) if r.sample_id.startswith("H")]
    assert single_reference(resolve_references(subset, sheet, rules), RUN) == "GRCh38"
