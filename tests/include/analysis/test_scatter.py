"""Scattered variant calling (seqflow.references.intervals, seqflow.analysis.scatter) and alignment
sharded by read chunks (seqflow.analysis.read_shards) on real reads.

The reads are real HiSeq X 2x151 reads of NA12878 on a 12,356-bp piece of chr22 (Debian's
freebayes examples, tests/e2e/real_runs.py), aligned once. The whole-genome call is the
reference; the sharded call cuts the piece into shards with borders inside and beside both of
its deletions, gathers them with bcftools concat, and must hold the same records, as bcftools
prints them. Without the calling margin the same borders change the indels' records: the test's
borders are where they bite. Resume: a second pass reuses every shard, force calls them again,
and a changed input or a damaged shard is called again. Alignment: the reads dealt out to four
chunks, aligned apart and merged, give a BAM with the same reads, duplicates and mate tags.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from seqflow.analysis import scatter, steps
from seqflow.analysis.steps import SampleJob, StepError
from seqflow.references.intervals import Region, Shard, balanced_shards, reference_shards, scan_gaps, shard_count

RUN = "241120_A01234_0042_AHXXXXXDSX"
CONTIG, LENGTH = "q", 12356
#: borders inside and beside the piece's two deletions (q:5638 CAT>C, q:9251 GTTCT>G), and in plain sequence
CUTS = (3000, 5637, 5638, 5639, 5640, 7500, 9250, 9251, 9252, 9254)


def _shards(cuts=CUTS) -> list[Shard]:
    bounds = [0, *cuts, LENGTH]
    return [Shard(i, len(bounds) - 1, (Region(CONTIG, lo + 1, hi),)) for i, (lo, hi) in enumerate(zip(bounds, bounds[1:]))]


def _records(vcf: Path) -> list[str]:
    """The VCF's records as bcftools prints them (it is the judge of the file, not our parser)."""
    proc = subprocess.run(["bcftools", "view", "-H", str(vcf)], capture_output=True, text=True, check=True)
    return proc.stdout.splitlines()


@pytest.fixture(scope="module")
def aligned(tmp_path_factory):
    """The chr22 piece registered in a fresh reference catalogue, and the reads aligned once."""
    from real_runs import FREEBAYES_TINY, _na12878_fastqs, member

    from seqflow.config import local_paths
    from seqflow.references.catalog import LocalReferenceCatalog

    d = tmp_path_factory.mktemp("scatter")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQFLOW_HOME", str(d / "home"))
        mp.setenv("SEQFLOW_PROFILE", "local")
        (d / "q.fa").write_bytes(member("freebayes", f"{FREEBAYES_TINY}/q.fa"))
        ref = LocalReferenceCatalog(local_paths().references).add("na12878_chr22", str(d / "q.fa"), aligners=("bwa",))
        r1, r2 = _na12878_fastqs(d)
        (d / "r1.fastq.gz").write_bytes(r1)
        (d / "r2.fastq.gz").write_bytes(r2)

        def job(results: str) -> SampleJob:
            return SampleJob(run_id=RUN, pipeline_version="1.0.0", sample_id="NA12878",
                             r1=[str(d / "r1.fastq.gz")], r2=[str(d / "r2.fastq.gz")], reference_fasta=ref.fasta,
                             reference=ref.name, ploidy_file=ref.ploidy_file, threads=2,
                             results_root=str(d / results), scratch_root=str(d / "scratch"))

        whole = job("whole")
        bam = steps.align(whole, str(d / "r1.fastq.gz"), str(d / "r2.fastq.gz"))["bam"]
        reference_vcf = steps.call_variants(whole, bam)["vcf"]
        yield {"dir": d, "job": job, "bam": bam, "whole_vcf": Path(reference_vcf)}


def _scatter_and_gather(aligned, results: str, shards: list[Shard], *, force: bool = False) -> tuple[dict, list]:
    job = aligned["job"](results)
    states = [{"job": job.to_dict(), "outputs": {"bam": aligned["bam"]}}]
    planned = scatter.scatter(states, interval_mb=0, force=force)  # one shard: the planner's own output
    assert [p["shard"]["regions"] for p in planned] == [None]
    jobs = [{**planned[0], "shard": scatter.shard_to_dict(s), "label": s.label} for s in shards]
    called = [scatter.call_shard(j) for j in jobs]
    return scatter.gather(states[0], shards, called=called), called


def test_sharded_calls_equal_the_whole_genome_calls_indels_on_borders_included(aligned):
    whole = _records(aligned["whole_vcf"])
    assert any("INDEL" in r for r in whole) and len(whole) >= 10  # the piece has calls worth comparing
    gathered, called = _scatter_and_gather(aligned, "sharded", _shards())
    assert _records(Path(gathered["vcf"])) == whole
    assert [c["reused"] for c in called] == [False] * len(called)
    # a valid, indexed VCF: bcftools reads it through the index
    region = subprocess.run(["bcftools", "view", "-H", "-r", f"{CONTIG}:5000-10000", gathered["vcf"]],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert region == [r for r in whole if 5000 <= int(r.split("\t")[1]) <= 10000]
    summary = json.loads((Path(gathered["vcf"]).parent / "NA12878.shards.json").read_text())
    assert summary["count"] == len(CUTS) + 1 and summary["reused"] == []


def test_without_the_margin_the_same_borders_change_the_indel_records(aligned, monkeypatch):
    monkeypatch.setenv("SEQFLOW_CALL_PAD", "0")
    gathered, _ = _scatter_and_gather(aligned, "unpadded", _shards((5637, 5638, 9250, 9251)))
    whole = _records(aligned["whole_vcf"])
    differ = [r for r in _records(Path(gathered["vcf"])) if r not in whole]
    assert differ and all("INDEL" in r for r in differ)


def test_a_second_pass_reuses_every_shard_force_and_changed_inputs_call_again(aligned):
    shards = _shards((6000,))
    first, _ = _scatter_and_gather(aligned, "resume", shards)
    job = aligned["job"]("resume")
    record = scatter.shards_root(job) / shards[0].key / scatter.SHARD_RECORD
    inputs = json.loads(record.read_text())["inputs"]
    assert set(inputs) == {"step", "regions", "bam", "reference", "ploidy_file", "script"}
    stamp = record.stat().st_mtime_ns

    again, called = _scatter_and_gather(aligned, "resume", shards)
    assert [c["reused"] for c in called] == [True, True]
    assert record.stat().st_mtime_ns == stamp
    assert _records(Path(again["vcf"])) == _records(aligned["whole_vcf"])
    summary = json.loads((Path(again["vcf"]).parent / "NA12878.shards.json").read_text())
    assert summary["reused"] == [s.key for s in shards] and summary["called"] == []

    _, called = _scatter_and_gather(aligned, "resume", shards, force=True)
    assert [c["reused"] for c in called] == [False, False]

    # a damaged shard VCF is called again; the others are reused
    damaged = scatter.shards_root(job) / shards[1].key / "NA12878.vcf.gz"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    _, called = _scatter_and_gather(aligned, "resume", shards)
    assert [c["reused"] for c in called] == [True, False]

    # another ploidy file is another input: every shard is called again
    ploidy = Path(job.ploidy_file)
    original = ploidy.read_text()
    try:
        ploidy.write_text("*\t*\t*\t*\t2\nq\t1\t100\t*\t1\n")
        _, called = _scatter_and_gather(aligned, "resume", shards)
        assert [c["reused"] for c in called] == [False, False]
    finally:
        ploidy.write_text(original)


def test_the_gather_refuses_a_shard_that_did_not_complete(aligned):
    shards = _shards((6000,))
    _scatter_and_gather(aligned, "incomplete", shards)  # the shards of the resume test, in another folder
    job = aligned["job"]("incomplete")
    (scatter.shards_root(job) / shards[1].key / scatter.SHARD_RECORD).unlink()
    with pytest.raises(StepError, match=rf"calling shard {shards[1].key} \(q:6001-12356\) did not complete"):
        scatter.gather({"job": job.to_dict(), "outputs": {"bam": aligned["bam"]}}, shards)


# -- alignment by read chunks ----------------------------------------------------------------------------


def _reads(bam: str, flag: int) -> list[str]:
    """Primary reads of one end (flag 64: R1, 128: R2) as sequenced: name, bases and qualities, sorted
    (samtools fastq reads the BAM and turns reverse-strand reads back)."""
    lines = subprocess.run(["samtools", "fastq", "-F", "0x900", "-f", str(flag), bam], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    return sorted("\t".join([lines[i], lines[i + 1], lines[i + 3]]) for i in range(0, len(lines), 4))


def _count(bam: str, *flags: str, region: str | None = None) -> int:
    return int(subprocess.run(["samtools", "view", "-c", *flags, bam, *([region] if region else [])],
                              capture_output=True, text=True, check=True).stdout)


def test_reads_aligned_in_chunks_and_merged_are_the_same_reads_sorted_and_duplicate_marked(aligned):
    from seqflow.analysis import read_shards

    job = aligned["job"]("chunked")
    d = aligned["dir"]
    state = {"job": job.to_dict(), "outputs": {"trimmed_r1": str(d / "r1.fastq.gz"), "trimmed_r2": str(d / "r2.fastq.gz")}}
    pairs = read_shards.estimate_reads(d / "r1.fastq.gz")
    assert pairs == _count(aligned["bam"], "-f", "64", "-F", "0x900")  # a small file is counted, not estimated
    chunks = read_shards.scatter_reads([state], reads_per_shard=500)
    assert [c["label"] for c in chunks] == [f"NA12878 reads {i}/4" for i in (1, 2, 3, 4)]
    for chunk in chunks:
        read_shards.align_chunk(chunk)
    merged = read_shards.merge_chunks(state, chunks)["bam"]
    whole = aligned["bam"]
    for flag in (64, 128):
        assert _reads(merged, flag) == _reads(whole, flag) and _reads(merged, flag)
    header = subprocess.run(["samtools", "view", "-H", merged], capture_output=True, text=True, check=True).stdout
    assert "SO:coordinate" in header and header.count("@RG\t") == 1
    # duplicates marked over the whole sample (a pair's copies in two chunks too), as in one alignment
    assert _count(merged, "-f", "1024") == _count(whole, "-f", "1024") > 0
    # fixmate's mate tags on every paired, mapped read whose mate is mapped
    paired = subprocess.run(["samtools", "view", "-f", "1", "-F", "0x90c", merged], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert paired and all("\tMC:Z:" in line and "\tms:i:" in line for line in paired)
    subprocess.run(["samtools", "quickcheck", merged], check=True)
    assert _count(merged, region="q:5000-6000") == _count(whole, region="q:5000-6000") > 0  # through the index


# -- the intervals ---------------------------------------------------------------------------------------


def _covered(shards: list[Shard]) -> list[tuple[str, int, int]]:
    return [(r.contig, r.start, r.end) for s in shards for r in s.regions]


def test_shards_cover_the_genome_once_in_order_with_similar_sizes():
    contigs = [("chr1", 2_480_000), ("chr2", 2_420_000), ("chr3", 1_980_000), ("chrM", 16_569), ("un1", 40_000)]
    shards = balanced_shards(contigs, 1_000_000)
    assert len(shards) == shard_count(sum(n for _, n in contigs), 1_000_000) == 7
    covered = _covered(shards)
    for name, length in contigs:  # every base once, in order
        pieces = [(a, b) for c, a, b in covered if c == name]
        assert pieces[0][0] == 1 and pieces[-1][1] == length
        assert all(b + 1 == a2 for (_, b), (a2, _) in zip(pieces, pieces[1:]))
    assert [c for c, _, _ in covered] == sorted([c for c, _, _ in covered], key=[n for n, _ in contigs].index)
    sizes = [s.length for s in shards]
    assert max(sizes) <= 1.6 * min(sizes)
    assert len({s.key for s in shards}) == len(shards) and shards == balanced_shards(contigs, 1_000_000)
    # the fifth cut (4.95 Mb into the genome) lies 55 kb after chr2's end: it moves there
    assert (shards[4].regions[-1].contig, shards[4].regions[-1].end) == ("chr2", 2_420_000)
    assert (shards[5].regions[0].contig, shards[5].regions[0].start) == ("chr3", 1)


def test_borders_move_into_a_nearby_assembly_gap(tmp_path):
    fasta = tmp_path / "g.fa"
    seq = "ACGT" * 2500 + "N" * 2000 + "ACGT" * 2500  # 22 kb, a 2-kb gap in the middle
    fasta.write_text(">g\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + "\n")
    assert scan_gaps(fasta) == [("g", 10_000, 12_000)]  # over line breaks
    gaps = {"g": [(10_000, 12_000)]}
    shards = balanced_shards([("g", len(seq))], 10_000, gaps)
    assert _covered(shards) == [("g", 1, 11_000), ("g", 11_001, 22_000)]  # the cut at the gap's middle
    far = balanced_shards([("g", len(seq))], 10_000, {"g": [(100, 1_200)]})
    assert _covered(far) == [("g", 1, 11_000), ("g", 11_001, 22_000)]  # a gap out of reach: the plain cut


def test_a_small_genome_is_one_whole_genome_shard_by_default():
    from seqflow.references.intervals import DEFAULT_INTERVAL_MB

    class Ref:  # a registered reference's contigs (E. coli K-12: 4.6 Mb)
        contigs = [type("C", (), {"name": "NC_000913.3", "length": 4_641_652})()]
        fasta = "/nonexistent"

    [only] = reference_shards(Ref, DEFAULT_INTERVAL_MB)
    assert only.regions is None and only.argument == "-" and only.label == "whole genome"
    assert len(reference_shards(Ref, 0)) == 1
