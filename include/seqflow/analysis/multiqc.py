"""The per-run MultiQC report: MultiQC over the samples' fastp, samtools and bcftools outputs,
with seqflow's per-sample QC table as a custom-content section.

Written once for both profiles: the QC files are read through the backend's
``read_text`` (a results folder or an S3 prefix) into a scratch folder, MultiQC
runs there as a child process (it keeps its configuration in module globals, so
a long-lived worker must not run it in process), and the one self-contained
HTML file is written beside the run's results with the backend's ``write_text``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: the report's file name, beside ``qc_summary.json`` and ``manifest.json``
REPORT_NAME = "multiqc_report.html"

#: Per sample, the step outputs MultiQC has a module for (names as the steps' ``steps.yaml``
#: declare them). samtools flagstat is written as JSON, which MultiQC does not read, and
#: markdup's stats are in the seqflow table (% duplicates) instead.
MULTIQC_INPUTS = {
    "fastp": "{sample}.fastp.json",
    "samtools stats": "{sample}.samtools_stats.txt",
    "samtools coverage": "{sample}.coverage.tsv",
    "bcftools stats": "{sample}.bcftools_stats.txt",
}
MODULES = ("fastp", "samtools", "bcftools", "custom_content")

#: seqflow's per-sample table: row key -> MultiQC column header
TABLE_COLUMNS: dict[str, dict[str, Any]] = {
    "read_pairs": {"title": "Read pairs", "description": "Read pairs (single-end: reads) before fastp's filters",
                   "format": "{:,.0f}", "scale": "Blues"},
    "pct_mapped": {"title": "% mapped", "description": "QC-passed reads mapped (samtools flagstat)",
                   "suffix": "%", "min": 0, "max": 100, "format": "{:,.2f}", "scale": "RdYlGn"},
    "pct_duplicates": {"title": "% duplicates", "description": "Duplicate reads marked by samtools markdup",
                       "suffix": "%", "min": 0, "max": 100, "format": "{:,.2f}", "scale": "OrRd"},
    "mean_depth": {"title": "Mean depth", "description": "Mean read depth over the reference (samtools coverage)",
                   "suffix": "x", "format": "{:,.1f}", "scale": "Purples"},
    "variants_called": {"title": "Variants", "description": "Records in the sample's VCF (bcftools stats)",
                        "format": "{:,.0f}", "scale": "Greens"},
    "variants_in_lake": {"title": "Lake rows", "description": "Rows of the sample in the lake's variants table",
                         "format": "{:,.0f}", "scale": False},
}
TRUTH_COLUMNS: dict[str, dict[str, Any]] = {
    name: {"title": title, "description": f"{title} of the calls against the sample's truth set",
           "min": 0, "max": 1, "format": "{:,.4f}", "scale": "RdYlGn"}
    for name, title in (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"))
}

#: seconds MultiQC may take (it needs a few on a handful of samples; thousands take minutes)
TIMEOUT_S = 1800


class MultiQCError(RuntimeError):
    """MultiQC failed; the message carries the end of its output."""


def _join(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name}"


def custom_content(rows: list[dict[str, Any]], context: dict[str, Any]) -> dict[str, Any]:
    """seqflow's per-sample table as a MultiQC custom-content section (``*_mqc.yaml``).

    Precision, recall and F1 are columns only when some sample has a truth set.
    """
    headers = dict(TABLE_COLUMNS)
    if any(row.get("f1") is not None for row in rows):
        headers.update(TRUTH_COLUMNS)
    data = {
        str(row["sample_id"]): {key: row[key] for key in headers if row.get(key) is not None}
        for row in sorted(rows, key=lambda r: str(r["sample_id"]))
    }
    description = (
        f"Per-sample QC of {context.get('run_id')}: pipeline {context.get('pipeline_version')}, "
        f"reference {context.get('reference')}, aligner {context.get('aligner')}, caller {context.get('caller')} "
        "(the rows of qc_summary.json)."
    )
    return {
        "id": "seqflow_samples",
        "section_name": "seqflow per-sample QC",
        "description": description,
        "plot_type": "table",
        "pconfig": {"id": "seqflow_samples_table", "title": "seqflow: per-sample QC", "col1_header": "Sample"},
        "headers": headers,
        "data": data,
    }


def _config(context: dict[str, Any], failed: dict[str, dict]) -> dict[str, Any]:
    comment = ""
    if failed:
        comment = "Failed samples (not in this report): " + "; ".join(
            f"{sample} at {f.get('step')}: {str(f.get('error', '')).strip()[:300]}" for sample, f in sorted(failed.items())
        )
    return {
        "title": f"seqflow: {context.get('run_id')}",
        "subtitle": (f"pipeline {context.get('pipeline_version')} · {context.get('reference')} · "
                     f"{context.get('aligner')}-{context.get('caller')}"),
        "report_comment": comment,
        "no_version_check": True,
        # the inputs are staged in a scratch folder: its paths would mean nothing to a reader
        "show_analysis_paths": False,
        # file names are <sample>.<output>: these suffixes make every module see the same sample names
        "extra_fn_clean_exts": [".fastp", ".samtools_stats", ".coverage", ".bcftools_stats"],
        "top_modules": ["seqflow_samples"],
    }


def write_multiqc_report(
    results_uri: str,
    sample_dirs: dict[str, str],
    rows: list[dict[str, Any]],
    context: dict[str, Any],
    *,
    read_text: Callable[[str], str],
    write_text: Callable[[str, str], None],
    failed: dict[str, dict] | None = None,
    timeout_s: float = TIMEOUT_S,
) -> str:
    """Run MultiQC over the QC files of the samples and write ``multiqc_report.html`` under ``results_uri``.

    ``sample_dirs`` maps each analysed sample to its results folder (a path or an
    ``s3://`` prefix); a QC file that is not there (a HealthOmics run keeps its
    outputs elsewhere) is left out, and the report then has the seqflow table
    only. Returns the report's URI; raises :class:`MultiQCError` when MultiQC fails.
    """
    with tempfile.TemporaryDirectory(prefix="seqflow-multiqc-") as tmp:
        inputs = Path(tmp) / "inputs"
        inputs.mkdir()
        staged, missing = 0, []
        for sample, folder in sorted(sample_dirs.items()):
            (inputs / sample).mkdir()
            for pattern in MULTIQC_INPUTS.values():
                name = pattern.format(sample=sample)
                try:
                    text = read_text(_join(folder, name))
                except Exception as exc:  # FileNotFoundError locally, a ClientError/ValueError from S3
                    missing.append(f"{sample}/{name} ({type(exc).__name__})")
                    continue
                (inputs / sample / name).write_text(text)
                staged += 1
        if missing:
            log.warning("MultiQC: QC files not found, left out of the report: %s", ", ".join(missing))
        (inputs / "seqflow_samples_mqc.yaml").write_text(json.dumps(custom_content(rows, context), indent=1))
        config = Path(tmp) / "multiqc_config.yaml"
        config.write_text(json.dumps(_config(context, failed or {}), indent=1))  # JSON is YAML
        out = Path(tmp) / "out"
        command = [sys.executable, "-m", "multiqc", "--force", "--no-data-dir", "--quiet",
                   "--filename", REPORT_NAME, "--outdir", str(out), "--config", str(config)]
        for module in MODULES:
            command += ["--module", module]
        command.append(str(inputs))
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, cwd=tmp)
        except subprocess.TimeoutExpired as exc:
            raise MultiQCError(f"MultiQC did not finish within {timeout_s:.0f} s") from exc
        report = out / REPORT_NAME
        if done.returncode != 0 or not report.is_file():
            tail = (done.stderr or done.stdout or "").strip()[-2000:]
            raise MultiQCError(f"MultiQC exited with {done.returncode}: {tail}")
        uri = _join(results_uri, REPORT_NAME)
        write_text(uri, report.read_text(encoding="utf-8"))
    log.info("MultiQC report of %d sample(s) (%d QC files): %s", len(sample_dirs), staged, uri)
    return uri


def publish_multiqc_report(backend, identity, rows: list[dict[str, Any]], samples: list[str],
                           failed: dict[str, dict]) -> dict[str, str]:
    """The MultiQC report of an analysis beside its results (``finalise_run``, both profiles).

    Returns ``{"multiqc_report": uri}`` for the registry record and the task's
    XCom (which the UI's "MultiQC report" tab reads). A MultiQC failure does not
    fail the analysis, whose results are complete without it: it is raised as an
    alert and returned as ``{"multiqc_error": why}`` instead.
    """
    context = identity.to_dict()
    try:
        uri = write_multiqc_report(
            backend.results_uri(identity), {s: backend.results_uri(identity, s) for s in samples}, rows, context,
            read_text=backend.read_text, write_text=backend.write_text, failed=failed,
        )
    except (MultiQCError, OSError) as exc:
        log.error("%s: no MultiQC report: %s", identity.label(), exc)
        backend.alert({"event": "MultiQC report failed", "analysis": identity.label(), "error": str(exc)[-1000:]})
        return {"multiqc_error": str(exc)[-1000:]}
    return {"multiqc_report": uri}
