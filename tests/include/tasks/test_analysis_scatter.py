"""``scatter_calls`` and ``scatter_reads`` plan shards of the samples that got that far, with the run's
settings; ``shard_summaries`` is what the registry keeps of each sample's calling shards."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from seqflow.analysis.steps import SampleJob
from seqflow.tasks.analysis import plan, scatter_calls, scatter_reads, shard_summaries

from .conftest import RUN


def test_calling_shards_of_the_aligned_samples_only_with_the_runs_interval_and_force(world):
    p = plan({"run_id": RUN, "reference": "toy", "call_interval_mb": 0.0002, "force": True}, backend=world)
    assert p["call_interval_mb"] == 0.0002
    jobs = {j["sample_id"]: SampleJob.from_dict(j) for j in p["jobs"]}
    for sample in ("H1", "H2"):
        jobs[sample].results_dir.mkdir(parents=True)
        (jobs[sample].results_dir / f"{sample}.bam").write_bytes(b"")
    (jobs["H2"].results_dir / "H2.failed.json").write_text('{"step": "align", "error": "killed"}')  # B1: no BAM
    shards = scatter_calls(p, p["jobs"])
    # the 500-bp toy genome in 200-bp intervals: 2 shards (500 / 200 rounded), in order, of H1 alone
    assert [s["label"] for s in shards] == ["H1 c1:1-250", "H1 c1:251-500"]
    assert all(s["force"] and s["bam"] == str(jobs["H1"].results_dir / "H1.bam") for s in shards)
    assert [s["shard"]["regions"] for s in shards] == [[["c1", 1, 250]], [["c1", 251, 500]]]
    # the default interval (100 Mb): the toy genome in one whole-genome shard, without force
    default = plan({"run_id": RUN, "reference": "toy", "samples": ["H1"], "force": True}, backend=world)
    [whole] = scatter_calls({**default, "force": False}, default["jobs"])
    assert whole["label"] == "H1 whole genome" and whole["shard"]["regions"] is None and not whole["force"]


def test_read_chunks_of_the_samples_whose_reads_passed_fastp(world):
    p = plan({"run_id": RUN, "reference": "toy", "align_reads_per_shard": 3}, backend=world)
    h1 = SampleJob.from_dict(p["jobs"][0])
    work = h1.scratch_dir / "fastp"
    work.mkdir(parents=True)
    for end in ("R1", "R2"):
        with gzip.open(work / f"H1.trimmed_{end}.fastq.gz", "wt") as fq:
            fq.writelines(f"@r{i}/{end[1]}\nACGT\n+\nIIII\n" for i in range(7))
    chunks = scatter_reads(p, p["jobs"])  # H2 and B1 have no trimmed reads
    assert [c["label"] for c in chunks] == ["H1 reads 1/3", "H1 reads 2/3", "H1 reads 3/3"]
    with gzip.open(chunks[1]["r2"], "rt") as fq:
        assert [line.strip() for line in fq if line.startswith("@")] == ["@r1/2", "@r4/2"]  # read i to chunk i mod 3


def test_the_registry_keeps_each_samples_shards(world):
    p = plan({"run_id": RUN, "reference": "toy", "samples": ["H1", "H2"]}, backend=world)
    results = Path(p["results_uri"])
    (results / "H1").mkdir(parents=True)
    (results / "H1" / "H1.shards.json").write_text(json.dumps({
        "format_version": 1, "count": 2, "called": ["0001-b"], "reused": ["0000-a"],
        "labels": {"0000-a": "c1:1-250", "0001-b": "c1:251-500"}}))
    vcfs = [{"sample_id": "H1", "vcf": "x"}, {"sample_id": "H2", "vcf": "y"}]  # H2 wrote no summary
    assert shard_summaries(p, vcfs, world) == {"H1": {"count": 2, "called": ["0001-b"], "reused": ["0000-a"],
                                                      "labels": {"0000-a": "c1:1-250", "0001-b": "c1:251-500"}}}
