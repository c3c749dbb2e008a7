"""Row-level comparison of the lake with ``bcftools query``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pyarrow.parquet as pq

from seqflow.identity import AnalysisIdentity

#: A valid Illumina run id and the analysis identity most lake tests publish under.
RUN = "240101_A00123_0001_AHXXXXXXXX"
IDENTITY = AnalysisIdentity(RUN, "1.0.0", "GRCh38", "bwa", "bcftools")

#: What both sides print per sample row: site fields, promoted INFO, FORMAT.
QUERY = "%CHROM\t%POS\t%ID\t%REF\t%ALT\t%QUAL\t%FILTER\t%END\t%INFO/AF\t%INFO/AC\t%INFO/DP\t%INFO/AN"
SAMPLE = "\t%GT\t%GQ\t%DP\t%AD\t%PL"


def bcftools_rows(vcf: Path, sample: str | None) -> list[list[str]]:
    fmt = QUERY + (f"[{SAMPLE}]" if sample else "") + "\n"
    cmd = ["bcftools", "query", "-u", "-f", fmt] + (["-s", sample] if sample else []) + [str(vcf)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def _num(v) -> str:
    if v is None:
        return "."
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _list(values, sep=",") -> str:
    if values is None:
        return "."
    return sep.join(_num(v) for v in values) if values else "."


def _gt(gt, phased) -> str:
    if gt is None:
        return "."
    return ("|" if phased else "/").join("." if a is None else str(a) for a in gt)


def lake_rows(parquet: Path, with_sample: bool) -> list[list[str]]:
    rows = []
    for r in pq.read_table(parquet).to_pylist():
        row = [
            r["contig"], str(r["pos"]), _list(r["ids"], ";"), r["ref"], _list(r["alt"]), _num(r["qual"]),
            _list(r["filters"], ";"), str(r["end"]), _list(r["info_af"]), _list(r["info_ac"]),
            _num(r["info_dp"]), _num(r["info_an"]),
        ]
        if with_sample:
            row += [_gt(r["gt"], r["gt_phased"]), _num(r["gq"]), _num(r["dp"]), _list(r["ad"]), _list(r["pl"])]
        rows.append(row)
    return rows


def normalise(rows: list[list[str]]) -> list[list[str]]:
    """bcftools prints floats with %g too, but QUAL '50' vs '50.0' style drift
    is removed by reparsing every numeric-looking field."""
    out = []
    for row in rows:
        new = []
        for v in row:
            try:
                new.append(f"{float(v):g}" if "." in v and "," not in v and v != "." else v)
            except ValueError:
                new.append(v)
        out.append(new)
    return out
