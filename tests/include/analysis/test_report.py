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


def _versions(run_dir, sample, step, versions):
    folder = run_dir / sample
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{sample}.{step}.versions.json").write_text(json.dumps(versions))


def test_manifest_collects_every_samples_tool_versions_per_step(tmp_path):
    run_dir = tmp_path / "RUN"
    for sample in ("S1", "S2"):
        _versions(run_dir, sample, "align", {"bwa": "0.7.17-r1188", "samtools": "1.16.1"})
        _versions(run_dir, sample, "call_variants", {"bcftools": "1.16", "tabix": "1.16"})
    manifest = json.loads(write_manifest(run_dir, {"run_id": "RUN"}).read_text())
    assert manifest["tool_versions"] == {
        "align": {"consistent": True, "samples": ["S1", "S2"], "tools": {"bwa": "0.7.17-r1188", "samtools": "1.16.1"}},
        "call_variants": {"consistent": True, "samples": ["S1", "S2"], "tools": {"bcftools": "1.16", "tabix": "1.16"}},
    }
    assert {"S1/S1.align.versions.json", "S2/S2.call_variants.versions.json"} <= {f["path"] for f in manifest["files"]}


def test_manifest_flags_a_step_whose_samples_disagree_or_lack_a_record(tmp_path, caplog):
    run_dir = tmp_path / "RUN"
    _versions(run_dir, "S1", "align", {"bwa": "0.7.17-r1188", "samtools": "1.16.1"})
    _versions(run_dir, "S2", "align", {"bwa": "0.7.18-r1243", "samtools": "1.16.1"})
    _versions(run_dir, "S1", "bam_qc", {"samtools": "1.16.1"})
    _versions(run_dir, "S2", "bam_qc", {"samtools": "1.16.1"})
    _versions(run_dir, "S3", "bam_qc", {"samtools": "1.16.1"})  # S3 has no align record
    versions = json.loads(write_manifest(run_dir, {}).read_text())["tool_versions"]
    assert versions["align"] == {
        "consistent": False,
        "samples": ["S1", "S2"],
        "tools": {"bwa": None, "samtools": None},
        "disagreements": {
            "bwa": {"S1": "0.7.17-r1188", "S2": "0.7.18-r1243", "S3": None},
            "samtools": {"S1": "1.16.1", "S2": "1.16.1", "S3": None},
        },
    }
    assert versions["bam_qc"]["consistent"] is True
    assert "tool versions of step align differ between samples" in caplog.text


def test_a_versions_file_that_is_not_a_tool_map_fails_naming_it(tmp_path):
    import pytest

    run_dir = tmp_path / "RUN"
    (run_dir / "S1").mkdir(parents=True)
    (run_dir / "S1" / "S1.fastp.versions.json").write_text('{"fastp": 23}')
    with pytest.raises(ValueError, match=r"S1\.fastp\.versions\.json: expected"):
        write_manifest(run_dir, {})
