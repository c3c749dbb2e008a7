"""QC metrics parsed from the tools' own output formats."""

from __future__ import annotations

import json

import pytest

from seqflow.analysis import qc

MARKDUP = """COMMAND: samtools markdup -f x.txt - out.bam
READ: 10000
WRITTEN: 10000
EXCLUDED: 0
EXAMINED: 10000
PAIRED: 10000
DUPLICATE PAIR: 200
DUPLICATE TOTAL: 250
ESTIMATED_LIBRARY_SIZE: 0
"""

COVERAGE = (
    "#rname\tstartpos\tendpos\tnumreads\tcovbases\tcoverage\tmeandepth\tmeanbaseq\tmeanmapq\n"
    "chrA\t1\t1000\t10\t1000\t100\t30.0\t30\t60\n"
    "chrB\t1\t3000\t10\t3000\t100\t10.0\t30\t60\n"
)

BCFTOOLS_STATS = "# SN\nSN\t0\tnumber of samples:\t1\nSN\t0\tnumber of records:\t42\nSN\t0\tnumber of SNPs:\t30\nSN\t0\tnumber of indels:\t12\n"


@pytest.fixture
def outputs(tmp_path):
    (tmp_path / "fastp.json").write_text(json.dumps({"summary": {"before_filtering": {"total_reads": 9702}}}))
    (tmp_path / "flagstat.json").write_text(json.dumps({"QC-passed reads": {"mapped %": 99.5}}))
    (tmp_path / "markdup.txt").write_text(MARKDUP)
    (tmp_path / "coverage.tsv").write_text(COVERAGE)
    (tmp_path / "stats.txt").write_text(BCFTOOLS_STATS)
    return {
        "fastp_json": str(tmp_path / "fastp.json"), "flagstat": str(tmp_path / "flagstat.json"),
        "markdup": str(tmp_path / "markdup.txt"), "coverage": str(tmp_path / "coverage.tsv"),
        "bcftools_stats": str(tmp_path / "stats.txt"),
    }


def test_sample_metrics(outputs):
    assert qc.sample_metrics(outputs) == {
        "read_pairs": 4851, "pct_mapped": 99.5, "pct_duplicates": 2.5,
        "mean_depth": 15.0,  # (30*1000 + 10*3000) / 4000
        "variants_called": 42, "snps": 30, "indels": 12,
    }


def test_no_examined_reads_is_zero_not_a_crash():
    assert qc.pct_duplicates("EXAMINED: 0\nDUPLICATE TOTAL: 0\n") == 0.0


def test_qc_files_are_the_step_catalogues_outputs():
    """QC reads the files the steps declare: same output names, same file names."""
    from seqflow.analysis.catalog import catalog

    declared = {name: out.template.replace("{sample_id}", "{sample}")
                for s in catalog().sample_steps("bwa", "bcftools") for name, out in s.outputs.items()}
    assert {name: declared.get(name) for name in qc.QC_FILES} == qc.QC_FILES
