"""Per-sample QC metrics, read from the steps' own output files."""

from __future__ import annotations

import csv
import json
from pathlib import Path


def read_pairs(fastp_json: str | Path) -> int:
    """Read pairs before filtering, from fastp's JSON report."""
    summary = json.loads(Path(fastp_json).read_text())["summary"]
    return int(summary["before_filtering"]["total_reads"]) // 2


def pct_mapped(flagstat_json: str | Path) -> float:
    """Percentage of QC-passed reads mapped (samtools flagstat -O json)."""
    return float(json.loads(Path(flagstat_json).read_text())["QC-passed reads"]["mapped %"])


def pct_duplicates(markdup_txt: str | Path) -> float:
    """Duplicate reads as a percentage of examined reads (samtools markdup -f)."""
    values: dict[str, int] = {}
    for line in Path(markdup_txt).read_text().splitlines():
        key, sep, value = line.partition(":")
        if sep and value.strip().isdigit():
            values[key.strip()] = int(value)
    examined = values.get("EXAMINED", 0)
    return 100.0 * values.get("DUPLICATE TOTAL", 0) / examined if examined else 0.0


def mean_depth(coverage_tsv: str | Path) -> float:
    """Genome-wide mean depth: contigs' mean depths weighted by length (samtools coverage)."""
    total_len = 0
    weighted = 0.0
    with open(coverage_tsv, newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            length = int(row["endpos"]) - int(row["startpos"]) + 1
            total_len += length
            weighted += float(row["meandepth"]) * length
    return weighted / total_len if total_len else 0.0


def bcftools_summary(stats_txt: str | Path) -> dict[str, int]:
    """The SN section of ``bcftools stats``: records, SNPs, indels, ..."""
    out: dict[str, int] = {}
    for line in Path(stats_txt).read_text().splitlines():
        if line.startswith("SN\t"):
            _, _, key, value = line.split("\t")[:4]
            out[key.rstrip(":").removeprefix("number of ").replace(" ", "_")] = int(value)
    return out


def sample_metrics(outputs: dict[str, str]) -> dict[str, float | int]:
    """The QC row of one sample from the paths its steps returned."""
    sn = bcftools_summary(outputs["bcftools_stats"])
    return {
        "read_pairs": read_pairs(outputs["fastp_json"]),
        "pct_mapped": round(pct_mapped(outputs["flagstat"]), 3),
        "pct_duplicates": round(pct_duplicates(outputs["markdup"]), 3),
        "mean_depth": round(mean_depth(outputs["coverage"]), 2),
        "variants_called": sn.get("records", 0),
        "snps": sn.get("SNPs", 0),
        "indels": sn.get("indels", 0),
    }
