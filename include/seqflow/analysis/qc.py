"""Per-sample QC metrics, read from the steps' own output files.

Every function takes the text of one file, so the same code reads a local
results folder and an S3 one (``read_text`` of the profile's backend).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from seqflow.config import DEFAULT_MIN_MAPPED_PCT, DEFAULT_MIN_READS

#: output name -> file name in the sample's results folder (the steps' outputs)
QC_FILES = {
    "fastp_json": "{sample}.fastp.json",
    "flagstat": "{sample}.flagstat.json",
    "markdup": "{sample}.markdup.txt",
    "coverage": "{sample}.coverage.tsv",
    "bcftools_stats": "{sample}.bcftools_stats.txt",
}


def output_files(results_dir: str, sample_id: str) -> dict[str, str]:
    """Where the QC files of a sample are (a path or an ``s3://`` URI)."""
    sep = "" if results_dir.endswith("/") else "/"
    return {name: f"{results_dir}{sep}{pattern.format(sample=sample_id)}" for name, pattern in QC_FILES.items()}


def _text(value: str | Path) -> str:
    return Path(value).read_text()


def read_pairs(fastp_json: str) -> int:
    """Read pairs (single-end: reads) before filtering, from fastp's JSON report (its text)."""
    report = json.loads(fastp_json)
    if "read2_before_filtering" not in report and "read1_before_filtering" in report:
        return int(report["read1_before_filtering"]["total_reads"])  # single-end
    summary = report["summary"]
    return int(summary["before_filtering"]["total_reads"]) // 2


def reads_after_filtering(fastp_json: str) -> int:
    """Reads fastp kept (both mates counted; single-end: reads), from its JSON report (its text)."""
    return int(json.loads(fastp_json)["summary"]["after_filtering"]["total_reads"])


@dataclass(frozen=True)
class Thresholds:
    """Per-sample QC limits (analysis params): below either, the sample fails alone."""

    min_reads: int = DEFAULT_MIN_READS
    min_mapped_pct: float = DEFAULT_MIN_MAPPED_PCT


def threshold_failure(sample_id: str, outputs: dict[str, str], limits: Thresholds, *,
                      read_text: Callable[[str], str] = _text) -> str | None:
    """Why the sample is below ``limits`` (reads after fastp, % mapped), naming the value and the limit;
    None when it passes. ``outputs`` as from :func:`output_files`."""
    reads = reads_after_filtering(read_text(outputs["fastp_json"]))
    if reads < limits.min_reads:
        return (f"sample {sample_id}: {reads} read(s) left after fastp's filters, below min_reads "
                f"{limits.min_reads} ({outputs['fastp_json']})")
    mapped = pct_mapped(read_text(outputs["flagstat"]))
    if mapped < limits.min_mapped_pct:
        return (f"sample {sample_id}: {mapped:.2f}% of QC-passed reads mapped, below min_mapped_pct "
                f"{limits.min_mapped_pct:g} (the wrong reference, or a contaminated library?) "
                f"({outputs['flagstat']})")
    return None


def pct_mapped(flagstat_json: str) -> float:
    """Percentage of QC-passed reads mapped (samtools flagstat -O json)."""
    return float(json.loads(flagstat_json)["QC-passed reads"]["mapped %"])


def pct_duplicates(markdup_txt: str) -> float:
    """Duplicate reads as a percentage of examined reads (samtools markdup -f)."""
    values: dict[str, int] = {}
    for line in markdup_txt.splitlines():
        key, sep, value = line.partition(":")
        if sep and value.strip().isdigit():
            values[key.strip()] = int(value)
    examined = values.get("EXAMINED", 0)
    return 100.0 * values.get("DUPLICATE TOTAL", 0) / examined if examined else 0.0


def mean_depth(coverage_tsv: str) -> float:
    """Genome-wide mean depth: contigs' mean depths weighted by length (samtools coverage)."""
    total_len = 0
    weighted = 0.0
    for row in csv.DictReader(io.StringIO(coverage_tsv), delimiter="\t"):
        length = int(row["endpos"]) - int(row["startpos"]) + 1
        total_len += length
        weighted += float(row["meandepth"]) * length
    return weighted / total_len if total_len else 0.0


def bcftools_summary(stats_txt: str) -> dict[str, int]:
    """The SN section of ``bcftools stats``: records, SNPs, indels, ..."""
    out: dict[str, int] = {}
    for line in stats_txt.splitlines():
        if line.startswith("SN\t"):
            _, _, key, value = line.split("\t")[:4]
            out[key.rstrip(":").removeprefix("number of ").replace(" ", "_")] = int(value)
    return out


def sample_metrics(outputs: dict[str, str], *, read_text: Callable[[str], str] = _text) -> dict[str, float | int]:
    """The QC row of one sample from its QC files (:func:`output_files`), read with ``read_text``."""
    sn = bcftools_summary(read_text(outputs["bcftools_stats"]))
    return {
        "read_pairs": read_pairs(read_text(outputs["fastp_json"])),
        "pct_mapped": round(pct_mapped(read_text(outputs["flagstat"])), 3),
        "pct_duplicates": round(pct_duplicates(read_text(outputs["markdup"])), 3),
        "mean_depth": round(mean_depth(read_text(outputs["coverage"])), 2),
        "variants_called": sn.get("records", 0),
        "snps": sn.get("SNPs", 0),
        "indels": sn.get("indels", 0),
    }
