"""Per-run QC summary and manifest."""

from __future__ import annotations

import hashlib
import json

from seqflow.analysis.report import write_manifest, write_qc_summary


def test_summary_and_manifest(tmp_path):
    run_dir = tmp_path / "RUN" / "1.0.0"
    (run_dir / "S1").mkdir(parents=True)
    (run_dir / "S1" / "S1.vcf.gz").write_bytes(b"vcf")
    (run_dir / "S1" / ".tmp-partial").write_bytes(b"ignored")
    rows = [
        {"sample_id": "S2", "read_pairs": 10, "f1": None},
        {"sample_id": "S1", "read_pairs": 1234, "pct_mapped": 99.5, "f1": 1.0},
    ]
    ctx = {"run_id": "RUN", "pipeline_version": "1.0.0"}
    write_qc_summary(run_dir, rows, ctx)
    summary = json.loads((run_dir / "qc_summary.json").read_text())
    assert [r["sample_id"] for r in summary["samples"]] == ["S1", "S2"]
    md = (run_dir / "qc_summary.md").read_text()
    assert "| S1 | 1,234 | 99.50 |" in md and "| S2 | 10 |" in md

    write_manifest(run_dir, ctx)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    files = {f["path"]: f for f in manifest["files"]}
    assert set(files) == {"S1/S1.vcf.gz", "qc_summary.json", "qc_summary.md"}
    assert files["S1/S1.vcf.gz"] == {"path": "S1/S1.vcf.gz", "bytes": 3, "sha256": hashlib.sha256(b"vcf").hexdigest()}
    assert not list(run_dir.glob(".*tmp*"))
