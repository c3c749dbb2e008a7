"""The per-run outputs beside the samples: the QC summary and the run manifest."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from seqflow.fsutil import atomic_write_text, sha256_file

SUMMARY_COLUMNS = (
    ("sample_id", "sample"),
    ("read_pairs", "read pairs"),
    ("pct_mapped", "% mapped"),
    ("pct_duplicates", "% dup"),
    ("mean_depth", "mean depth"),
    ("variants_called", "variants"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("f1", "F1"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if value <= 1.0 else f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def write_qc_summary(run_dir: Path, rows: list[dict[str, Any]], context: dict[str, Any]) -> Path:
    """Write ``qc_summary.json`` and a Markdown table ``qc_summary.md`` for one run and version."""
    rows = sorted(rows, key=lambda r: r["sample_id"])
    atomic_write_text(run_dir / "qc_summary.json", json.dumps({**context, "samples": rows}, indent=2) + "\n")
    header = "| " + " | ".join(label for _, label in SUMMARY_COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in SUMMARY_COLUMNS) + "|"
    lines = [f"# QC summary: {context.get('run_id')} ({context.get('pipeline_version')})", "", header, rule]
    lines += ["| " + " | ".join(_fmt(r.get(key)) for key, _ in SUMMARY_COLUMNS) + " |" for r in rows]
    atomic_write_text(run_dir / "qc_summary.md", "\n".join(lines) + "\n")
    return run_dir / "qc_summary.json"


def write_manifest(run_dir: Path, context: dict[str, Any]) -> Path:
    """List every result file of the run and version with its size and SHA-256 (``manifest.json``)."""
    files = []
    for path in sorted(run_dir.rglob("*")):
        if path.is_file() and not path.name.startswith(".") and path.name != "manifest.json":
            files.append(
                {"path": str(path.relative_to(run_dir)), "bytes": path.stat().st_size, "sha256": sha256_file(path)}
            )
    manifest = {
        **context,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": files,
    }
    atomic_write_text(run_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return run_dir / "manifest.json"
