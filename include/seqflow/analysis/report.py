"""The per-run outputs beside the samples: the QC summary and the run manifest."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from seqflow.fsutil import atomic_write_text, sha256_file

log = logging.getLogger(__name__)

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
    for sample_id, failure in sorted((context.get("failed_samples") or {}).items()):
        lines += ["", f"**{sample_id} failed** at {failure.get('step')}: {failure.get('error', '').strip()[-500:]}"]
    if context.get("unlisted_fastqs"):
        lines += ["", "**Warning**: FASTQs of samples the sample sheet does not list (not analysed): "
                  + ", ".join(context["unlisted_fastqs"])]
    atomic_write_text(run_dir / "qc_summary.md", "\n".join(lines) + "\n")
    return run_dir / "qc_summary.json"


def _versions_files() -> dict[str, re.Pattern[str]]:
    """Step name -> pattern of its versions file name (``<sample>.<step>.versions.json``), from the step catalogue."""
    from seqflow.analysis.catalog import catalog
    from seqflow.paths import SAMPLE_ID_PATTERN

    sample = SAMPLE_ID_PATTERN.removeprefix("^").removesuffix("$")
    patterns: dict[str, re.Pattern[str]] = {}
    for name in catalog().sample_step_names:
        template = catalog().implementations(name)[0].versions_output.template
        prefix, _, suffix = template.partition("{sample_id}")
        patterns[name] = re.compile(re.escape(prefix) + f"(?P<sample>{sample})" + re.escape(suffix))
    return patterns


def _sample_key(run_dir: Path, path: Path, sample: str) -> str:
    """The sample's folder relative to ``run_dir`` (``S1``; ``lambda/bwa-bcftools/S1`` above one analysis)."""
    folder = path.parent.relative_to(run_dir)
    if folder.name == sample:
        return folder.as_posix()
    return sample if folder == Path(".") else (folder / sample).as_posix()


def collect_tool_versions(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Every sample's tool versions under ``run_dir``, per step and tool, with the steps where samples disagree.

    Each step script writes ``<sample>.<step>.versions.json`` (``{"bwa": "0.7.17-r1188", ...}``)
    beside its outputs. Per step (in run order)::

        {"consistent": true, "samples": ["S1", "S2"], "tools": {"bwa": "0.7.17-r1188", "samtools": "1.16.1"}}

    Samples are named by their folder below ``run_dir`` (the sample id when
    ``run_dir`` is one analysis).

    A step is not consistent when its samples report different versions of a
    tool, or some samples lack its versions file or a tool; then ``tools`` has
    ``null`` for each such tool and ``disagreements`` says which sample has
    which version (``null``: not recorded).
    """
    found: dict[str, dict[str, dict[str, str]]] = {}
    patterns = _versions_files()
    for path in sorted(run_dir.rglob("*.versions.json")):
        if any(part.startswith(".") for part in path.relative_to(run_dir).parts):
            continue
        for step, pattern in patterns.items():
            match = pattern.fullmatch(path.name)
            if match:
                try:
                    versions = json.loads(path.read_text())
                except ValueError as exc:
                    raise ValueError(f"{path}: not a JSON versions file: {exc}") from None
                if not isinstance(versions, dict) or not all(isinstance(v, str) for v in versions.values()):
                    raise ValueError(f"{path}: expected {{\"tool\": \"version\", ...}}, got {versions!r}")
                found.setdefault(step, {})[_sample_key(run_dir, path, match["sample"])] = versions
    samples = sorted({s for by_sample in found.values() for s in by_sample})
    summary: dict[str, dict[str, Any]] = {}
    for step in patterns:
        by_sample = found.get(step)
        if not by_sample:
            continue
        tools = sorted({t for versions in by_sample.values() for t in versions})
        entry: dict[str, Any] = {"consistent": True, "samples": sorted(by_sample), "tools": {}}
        disagreements: dict[str, dict[str, str | None]] = {}
        for tool in tools:
            seen = {s: (by_sample[s].get(tool) if s in by_sample else None) for s in samples}
            if len(set(seen.values())) == 1:
                entry["tools"][tool] = next(iter(seen.values()))
            else:
                entry["tools"][tool] = None
                disagreements[tool] = seen
        if disagreements:
            entry["consistent"] = False
            entry["disagreements"] = disagreements
            log.warning("tool versions of step %s differ between samples: %s", step, disagreements)
        summary[step] = entry
    return summary


def write_manifest(run_dir: Path, context: dict[str, Any]) -> Path:
    """List every result file of the run and version with its size and SHA-256, and the tool
    versions of every step (:func:`collect_tool_versions`), in ``manifest.json``."""
    files = []
    for path in sorted(run_dir.rglob("*")):
        if path.is_file() and not path.name.startswith(".") and path.name != "manifest.json":
            files.append(
                {"path": str(path.relative_to(run_dir)), "bytes": path.stat().st_size, "sha256": sha256_file(path)}
            )
    manifest = {
        **context,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tool_versions": collect_tool_versions(run_dir),
        "files": files,
    }
    atomic_write_text(run_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return run_dir / "manifest.json"
