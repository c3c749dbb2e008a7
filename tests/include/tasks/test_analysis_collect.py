"""``collect_vcfs``: the samples that finished and passed the run's thresholds go on; the others fail alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqflow.tasks.analysis import collect_vcfs, plan

from .conftest import RUN


def _finished(results: Path, sample: str, *, reads: int, mapped: float) -> None:
    """What a sample's steps leave that collect_vcfs reads (fastp's and flagstat's reports as the tools write them)."""
    out = results / sample
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{sample}.bcftools_stats.txt").write_text("SN\t0\tnumber of records:\t3\n")
    (out / f"{sample}.fastp.json").write_text(json.dumps({"summary": {
        "before_filtering": {"total_reads": reads + 10}, "after_filtering": {"total_reads": reads}}}))
    (out / f"{sample}.flagstat.json").write_text(json.dumps({"QC-passed reads": {"mapped %": mapped}}))


def test_a_sample_below_the_thresholds_fails_alone_with_its_marker(world):
    p = plan({"run_id": RUN, "reference": "toy", "samples": ["H1", "H2", "B1"], "min_reads": 2000,
              "min_mapped_pct": 80}, backend=world)
    assert p["thresholds"] == {"min_reads": 2000, "min_mapped_pct": 80.0}
    results = Path(p["results_uri"])
    _finished(results, "H1", reads=5000, mapped=99.1)
    _finished(results, "H2", reads=1500, mapped=99.1)  # too few reads
    _finished(results, "B1", reads=5000, mapped=12.5)  # mostly another genome
    vcfs = collect_vcfs(p, p["jobs"], backend=world)
    assert vcfs == [{"sample_id": "H1", "vcf": str(results / "H1" / "H1.vcf.gz")}]
    h2 = json.loads((results / "H2" / "H2.failed.json").read_text())
    assert h2["step"] == "qc_thresholds" and "1500 read(s) left after fastp's filters, below min_reads 2000" in h2["error"]
    b1 = json.loads((results / "B1" / "B1.failed.json").read_text())
    assert "12.50% of QC-passed reads mapped, below min_mapped_pct 80" in b1["error"]


def test_when_every_sample_is_below_the_thresholds_the_run_fails(world):
    p = plan({"run_id": RUN, "reference": "toy", "samples": ["H1"]}, backend=world)
    assert p["thresholds"] == {"min_reads": 1000, "min_mapped_pct": 50.0}  # the defaults
    _finished(Path(p["results_uri"]), "H1", reads=10, mapped=99.0)
    with pytest.raises(RuntimeError, match="every sample failed: H1 at qc_thresholds"):
        collect_vcfs(p, p["jobs"], backend=world)
    assert world.registry().get(RUN, "1.0.0/toy/bwa/bcftools").status == "failed"
