"""The per-run MultiQC report, made by the real MultiQC from the real tools' outputs (fastp,
samtools stats/coverage, bcftools stats) of two tiny samples, with seqflow's table in it."""

from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest

from seqflow.analysis import multiqc
from seqflow.fsutil import atomic_write_text

CONTEXT = {"run_id": "241120_A01234_0042_AHXXXXXDSX", "pipeline_version": "1.0.0", "reference": "toy",
           "aligner": "bwa", "caller": "bcftools"}


def _sh(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, capture_output=True, **kwargs)


def _sample_outputs(ref: Path, folder: Path, sample: str, seed: int) -> None:
    """What the steps leave in a sample's results folder, by the same tools, on 400 read pairs."""
    work = folder / ".work"
    work.mkdir(parents=True)
    _sh("wgsim", "-N", "400", "-1", "100", "-2", "100", "-S", str(seed), str(ref), str(work / "r1.fq"),
        str(work / "r2.fq"))
    _sh("fastp", "-i", str(work / "r1.fq"), "-I", str(work / "r2.fq"), "-o", str(work / "t1.fq"),
        "-O", str(work / "t2.fq"), "-j", str(folder / f"{sample}.fastp.json"), "-h", "/dev/null")
    sam = _sh("bwa", "mem", str(ref), str(work / "t1.fq"), str(work / "t2.fq")).stdout
    bam = folder / f"{sample}.bam"
    _sh("samtools", "sort", "-o", str(bam), "-", input=sam)
    _sh("samtools", "index", str(bam))
    (folder / f"{sample}.samtools_stats.txt").write_bytes(_sh("samtools", "stats", str(bam)).stdout)
    (folder / f"{sample}.coverage.tsv").write_bytes(_sh("samtools", "coverage", str(bam)).stdout)
    pileup = _sh("bcftools", "mpileup", "-f", str(ref), str(bam)).stdout
    vcf = folder / f"{sample}.vcf.gz"
    _sh("bcftools", "call", "-mv", "-Oz", "-o", str(vcf), input=pileup)
    (folder / f"{sample}.bcftools_stats.txt").write_bytes(_sh("bcftools", "stats", str(vcf)).stdout)


ROWS = [
    {"sample_id": "S1", "read_pairs": 400, "pct_mapped": 99.5, "pct_duplicates": 0.25, "mean_depth": 16.1,
     "variants_called": 7, "variants_in_lake": 7, "precision": 1.0, "recall": 0.875, "f1": 0.9333},
    {"sample_id": "S2", "read_pairs": 400, "pct_mapped": 98.75, "pct_duplicates": 0.5, "mean_depth": 15.9,
     "variants_called": 5, "variants_in_lake": 5, "precision": None, "recall": None, "f1": None},
]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multiqc")
    rng = random.Random(3)
    ref = tmp / "toy.fa"
    ref.write_text(">chrT\n" + "".join(rng.choice("ACGT") for _ in range(5000)) + "\n")
    _sh("bwa", "index", str(ref))
    _sh("samtools", "faidx", str(ref))
    results = tmp / "results"
    for seed, sample in enumerate(("S1", "S2"), start=1):
        _sample_outputs(ref, results / sample, sample, seed)
    uri = multiqc.write_multiqc_report(
        str(results), {s: str(results / s) for s in ("S1", "S2")}, ROWS, CONTEXT,
        read_text=lambda u: Path(u).read_text(), write_text=lambda u, t: atomic_write_text(Path(u), t),
        failed={"S3": {"step": "fastp", "error": "S3_S3_L001_R1_001.fastq.gz: not in gzip format"}},
    )
    return Path(uri), results


def _table_text(html: str, table_id: str) -> str:
    """The text of one of the report's tables, tags and whitespace dropped (MultiQC renders them in HTML)."""
    start = html.index(f'id="{table_id}"')
    body = html[start:html.index("</table>", start)]
    return re.sub(r"\s+", "", re.sub(r"<[^>]+>", " ", body))


def test_the_report_is_written_beside_the_results(report):
    path, results = report
    assert path == results / "multiqc_report.html"
    html = path.read_text()
    assert "<title>seqflow: 241120_A01234_0042_AHXXXXXDSX" in html or "seqflow: 241120_A01234_0042_AHXXXXXDSX" in html
    assert "pipeline 1.0.0 · toy · bwa-bcftools" in html
    # the failed sample is named in the report's comment
    assert "S3 at fastp: S3_S3_L001_R1_001.fastq.gz: not in gzip format" in html


def test_multiqc_read_every_tool_of_both_samples(report):
    html = report[0].read_text()
    for module in ("fastp", "samtools", "bcftools", "seqflow_samples"):
        assert f'id="mqc-module-section-{module}"' in html, module
    general = _table_text(html, "general_stats_table_table")
    # one row per sample: the file suffixes are cleaned, so every module's columns land on the same row
    assert "S1" in general and "S2" in general
    assert ".coverage" not in general and ".samtools_stats" not in general and ".fastp" not in general


def test_the_seqflow_table_is_a_section_with_each_samples_row(report):
    table = _table_text(report[0].read_text(), "seqflow_samples_table_table")
    for title in ("Readpairs", "%mapped", "%duplicates", "Meandepth", "Variants", "Lakerows", "Precision", "F1"):
        assert title in table, title
    assert "S1" in table and "99.50%" in table and "0.9333" in table and "16.1x" in table
    assert "S2" in table and "98.75%" in table


def test_truth_columns_only_where_a_sample_has_a_truth_set():
    with_truth = multiqc.custom_content(ROWS, CONTEXT)
    assert {"precision", "recall", "f1"} <= set(with_truth["headers"])
    assert with_truth["data"]["S2"] == {"read_pairs": 400, "pct_mapped": 98.75, "pct_duplicates": 0.5,
                                        "mean_depth": 15.9, "variants_called": 5, "variants_in_lake": 5}
    without = multiqc.custom_content([ROWS[1]], CONTEXT)
    assert not {"precision", "recall", "f1"} & set(without["headers"])
    assert without["plot_type"] == "table" and without["id"] == "seqflow_samples"


def test_a_multiqc_that_does_not_finish_raises(tmp_path):
    with pytest.raises(multiqc.MultiQCError, match="did not finish within"):
        multiqc.write_multiqc_report(str(tmp_path), {}, [], CONTEXT, read_text=lambda u: "", write_text=lambda u, t: None,
                                     timeout_s=0.01)
    assert not (tmp_path / "multiqc_report.html").exists()


def test_a_failed_report_is_recorded_and_alerted_not_raised(monkeypatch):
    from seqflow.identity import AnalysisIdentity

    def fail(*args, **kwargs):
        raise multiqc.MultiQCError("MultiQC exited with 1: boom")

    class Backend:
        alerts = []

        def results_uri(self, identity, sample_id=None):
            return f"/results/{sample_id or ''}"

        read_text = write_text = None

        def alert(self, message):
            self.alerts.append(message)

    monkeypatch.setattr(multiqc, "write_multiqc_report", fail)
    backend = Backend()
    identity = AnalysisIdentity(CONTEXT["run_id"], "1.0.0", "toy", "bwa", "bcftools")
    assert multiqc.publish_multiqc_report(backend, identity, ROWS, ["S1"], {}) == {
        "multiqc_error": "MultiQC exited with 1: boom"}
    [alert] = backend.alerts
    assert alert["event"] == "MultiQC report failed" and alert["analysis"] == identity.label()
