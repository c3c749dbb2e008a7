#!/usr/bin/env python3
"""Sharded against unsharded alignment and calling on real reads: CPU, wall time and whether the
results are the same (bcftools and samtools judge).

    .venv/bin/python bench/scatter_gather.py [--dataset hiv|na12878] [--shards N] [--chunks K]
    nice -n 10 .venv/bin/python bench/scatter_gather.py --dataset ecoli   (20 minutes at load 3-11 on 2 cores)

``hiv``: Debian iva's real MiSeq 2x250 reads of an HIV-1 strain against DQ234790 (9,056 bp, about
1,260x after duplicates); ``na12878``: freebayes' real HiSeq X 2x151 reads of NA12878 on a
12,356-bp piece of chr22 (about 34x). The reads are aligned whole and in ``--chunks`` read chunks
(seqflow.analysis.read_shards: merged, duplicates marked again), and called whole and in
``--shards`` equal intervals (seqflow.analysis.scatter: padded shards, records kept by POS,
``bcftools concat --naive``). CPU is the user + system time of every process the step ran
(``RUSAGE_CHILDREN``), wall the elapsed time, each the best of ``--repeat`` runs. Inputs and outputs
go to ``bench/out/scatter_gather/``.

``ecoli``: the real E. coli K-12 MG1655 chromosome (4.6 Mb, Debian ragout-examples, the demo's genome)
with reads simulated at 30x by ``seqflow.demo.reads.simulate_diploid_reads`` (2x150, diploid with
planted SNPs and indels, as in bench/genome_cost; ploidy 2). It aligns and calls at two sizes: the
pipeline's defaults (``align_reads_per_shard`` 50 M pairs, ``call_interval_mb`` 100: one chunk and one
shard on E. coli, through the sharded code path) and scaled to the shard counts of a 30x human genome
at those defaults (8 read chunks, 31 calling shards), plus 2 calling shards (the least margin a split
allows here). It then measures the parts of the extra CPU (bwa's start-up and index load, here and on
GRCh37 chr20's index from bench/genome_cost when it is there; the rest of an align step's start-up; a
calling shard's start-up; the margins piled again; dealing the reads out; merge + markdup; gather) and
projects the ratio for a 30x human genome at the defaults (function ``project``).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "include"))

from seqflow.references.sources import cached_deb, read_deb_member  # noqa: E402

OUT = REPO / "bench" / "out" / "scatter_gather"
CACHE = Path(os.environ.get("SEQFLOW_TEST_CACHE", REPO / ".seqflow" / "testcache")) / "debs"
RUN = "241120_A01234_0042_AHXXXXXDSX"


def _member(package: str, path: str) -> bytes:
    return read_deb_member(cached_deb(package, CACHE), path)


def dataset(name: str, work: Path) -> tuple[Path, Path, Path, int]:
    """FASTA, R1, R2 and ploidy of the data set, written under ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    fasta, r1, r2 = work / "ref.fa", work / "r1.fastq.gz", work / "r2.fastq.gz"
    if name == "hiv":
        data = "usr/lib/python3/dist-packages/iva/test_run_data"
        fasta.write_bytes(_member("iva", f"{data}/reference.fasta").upper())
        r1.write_bytes(_member("iva", f"{data}/reads_1.fq.gz"))
        r2.write_bytes(_member("iva", f"{data}/reads_2.fq.gz"))
        ploidy = 1
    else:
        tiny = "usr/share/doc/freebayes/examples/tiny"
        fasta.write_bytes(_member("freebayes", f"{tiny}/q.fa"))
        bam = work / "na12878.bam"
        bam.write_bytes(_member("freebayes", f"{tiny}/NA12878.chr22.tiny.bam"))
        collate = subprocess.Popen(["samtools", "collate", "-u", "-O", str(bam)], stdout=subprocess.PIPE)
        subprocess.run(["samtools", "fastq", "-F", "0x900", "-1", str(work / "r1.fq"), "-2", str(work / "r2.fq"),
                        "-s", "/dev/null", "-0", "/dev/null", "-"], stdin=collate.stdout, check=True,
                       capture_output=True)
        collate.wait()
        for plain, gz in ((work / "r1.fq", r1), (work / "r2.fq", r2)):
            gz.write_bytes(gzip.compress(plain.read_bytes()))
        ploidy = 2
    return fasta, r1, r2, ploidy


def measured(fn):
    """(result, CPU seconds of the child processes, wall seconds)."""
    result, cpu, wall, _ = measured_all(fn)
    return result, cpu, wall


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measured_all(fn):
    """(result, CPU s of the child processes, wall s, CPU s of this process: seqflow's own Python)."""
    children, own = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - start
    return result, _cpu(resource.RUSAGE_CHILDREN) - children, wall, _cpu(resource.RUSAGE_SELF) - own


def best(fn, repeat: int):
    runs = [measured(fn) for _ in range(repeat)]
    return runs[-1][0], min(r[1] for r in runs), min(r[2] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("hiv", "na12878", "ecoli"), default="hiv")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs of each (ecoli: of the main rows)")
    parser.add_argument("--depth", type=float, default=30.0, help="ecoli: depth of the simulated reads")
    args = parser.parse_args()
    if args.dataset == "ecoli":
        return ecoli_main(args.depth, args.repeat)

    os.environ.setdefault("SEQFLOW_HOME", str(OUT / "home"))
    from seqflow.analysis import read_shards, scatter, steps
    from seqflow.analysis.steps import SampleJob
    from seqflow.references.intervals import balanced_shards

    work = OUT / args.dataset
    shutil.rmtree(work, ignore_errors=True)
    fasta, r1, r2, ploidy = dataset(args.dataset, work)
    subprocess.run(["samtools", "faidx", str(fasta)], check=True)
    ploidy_file = work / "ref.ploidy"
    ploidy_file.write_text(f"*\t*\t*\t*\t{ploidy}\n")
    steps.index_reference(fasta, "bwa")

    def job(name: str) -> SampleJob:
        return SampleJob(run_id=RUN, pipeline_version="1.0.0", sample_id="S1", r1=[str(r1)], r2=[str(r2)],
                         reference_fasta=str(fasta), reference="bench", ploidy_file=str(ploidy_file), threads=2,
                         results_root=str(work / name), scratch_root=str(work / f"scratch-{name}"))

    whole_job = job("whole")
    bam, align_cpu, align_wall = best(lambda: steps.align(whole_job, str(r1), str(r2))["bam"], args.repeat)
    pairs = read_shards.estimate_reads(r1)
    per_chunk = -(-pairs // args.chunks)
    chunk_job = job("chunked")
    state = {"job": chunk_job.to_dict(), "outputs": {"trimmed_r1": str(r1), "trimmed_r2": str(r2)}}

    def chunked() -> str:
        chunks = read_shards.scatter_reads([state], reads_per_shard=per_chunk)
        for chunk in chunks:
            read_shards.align_chunk(chunk)
        return read_shards.merge_chunks(state, chunks)["bam"]

    chunked_bam, chunk_cpu, chunk_wall = best(chunked, args.repeat)

    def reads(path: str) -> list[str]:
        """Every primary read as sequenced (samtools fastq turns reverse-strand reads back): name/end, bases, qualities."""
        lines = subprocess.run(["samtools", "fastq", "-F", "0x900", path], capture_output=True, text=True,
                               check=True).stdout.splitlines()
        return sorted("\t".join([lines[i], lines[i + 1], lines[i + 3]]) for i in range(0, len(lines), 4))

    def dups(path: str) -> int:
        return int(subprocess.run(["samtools", "view", "-c", "-f", "1024", path], capture_output=True, text=True,
                                  check=True).stdout)

    vcf, call_cpu, call_wall = best(lambda: steps.call_variants(whole_job, bam)["vcf"], args.repeat)
    length = int(Path(f"{fasta}.fai").read_text().split("\t")[1])
    contig = Path(f"{fasta}.fai").read_text().split("\t")[0]
    shards = balanced_shards([(contig, length)], -(-length // args.shards))
    shard_job = job("sharded")

    def sharded() -> str:
        planned = {"job": shard_job.to_dict(), "bam": bam, "force": True}
        called = [scatter.call_shard({**planned, "shard": scatter.shard_to_dict(s), "label": s.label}) for s in shards]
        return scatter.gather({"job": shard_job.to_dict(), "outputs": {"bam": bam}}, shards, called=called)["vcf"]

    sharded_vcf, shard_cpu, shard_wall = best(sharded, args.repeat)

    def records(path: str) -> list[str]:
        return subprocess.run(["bcftools", "view", "-H", path], capture_output=True, text=True,
                              check=True).stdout.splitlines()

    def sites(path: str) -> list[str]:
        return subprocess.run(["bcftools", "query", "-f", "%CHROM %POS %REF %ALT [%GT]\\n", path], capture_output=True,
                              text=True, check=True).stdout.splitlines()

    whole_records, shard_records = records(vcf), records(sharded_vcf)
    differ = len(set(whole_records) ^ set(shard_records))
    site_differ = len(set(sites(vcf)) ^ set(sites(sharded_vcf)))
    depth = subprocess.run(["samtools", "depth", "-a", bam], capture_output=True, text=True, check=True).stdout
    mean_depth = sum(int(line.split("\t")[2]) for line in depth.splitlines()) / max(1, len(depth.splitlines()))
    load = os.getloadavg()[0]
    print(f"{args.dataset}: {pairs:,} read pairs, {length:,} bp, mean depth {mean_depth:,.0f}x, load {load:.1f}")
    print(f"{'step':<28} {'CPU s':>7} {'wall s':>7} {'CPU ratio':>9}  same result")
    print(f"{'align (1 task)':<28} {align_cpu:7.2f} {align_wall:7.2f} {'':>9}")
    same_reads = reads(bam) == reads(chunked_bam)
    print(f"{f'align ({args.chunks} chunks + merge)':<28} {chunk_cpu:7.2f} {chunk_wall:7.2f} "
          f"{chunk_cpu / align_cpu:9.2f}  reads {'same' if same_reads else 'DIFFER'}, "
          f"duplicates {dups(bam)} / {dups(chunked_bam)}")
    print(f"{'call (whole genome)':<28} {call_cpu:7.2f} {call_wall:7.2f} {'':>9}  {len(whole_records)} records")
    print(f"{f'call ({len(shards)} shards + concat)':<28} {shard_cpu:7.2f} {shard_wall:7.2f} "
          f"{shard_cpu / call_cpu:9.2f}  {len(shard_records)} records, {differ} differ "
          f"({site_differ} in site or genotype)")
    return 0


# ------------------------------------------------------------------ ecoli: sharded vs whole at scale

#: a 30x human genome (bench/genome_cost's workload): read pairs and bases called
HUMAN_PAIRS_M = 400.0
HUMAN_MB = 3100.0
#: the margin call_variants.sh piles on each side of a shard's inner border (its SEQFLOW_CALL_PAD default)
CALL_PAD = 1000
#: bwa's index of GRCh37 chr20 (63 Mb), built by bench/genome_cost; measures how bwa's load grows
CHR20 = REPO / "bench" / "out" / "genome_cost" / "grch37_chr20.fa"
CHR20_MB = 63.0


def bwa_index_mib(fasta: Path) -> float:
    """What bwa mem loads of its index (MiB): .bwt, .sa and .pac (bench/genome_cost's index_mib)."""
    return sum(Path(f"{fasta}{s}").stat().st_size for s in (".bwt", ".sa", ".pac")) / 2**20


def ecoli_inputs(folder: Path, depth: float) -> tuple[Path, Path, Path, Path]:
    """The demo's E. coli chromosome, its bwa index, 30x diploid reads and a ploidy file (made once)."""
    from seqflow.demo.mutate import plan_variants
    from seqflow.demo.reads import simulate_diploid_reads
    from seqflow.analysis import steps
    from seqflow.demo.references import DEMO_DEFAULT_GENOME, DEMO_GENOMES

    folder.mkdir(parents=True, exist_ok=True)
    fasta, r1, r2, ploidy = folder / "ref.fa", folder / "r1.fastq.gz", folder / "r2.fastq.gz", folder / "ref.ploidy"
    if not Path(f"{fasta}.fai").exists():
        package, _, member = DEMO_GENOMES[DEMO_DEFAULT_GENOME].source  # the demo's E. coli.removeprefix("deb://").partition("/")
        fasta.write_bytes(gzip.decompress(_member(package, member)).upper())
        subprocess.run(["samtools", "faidx", str(fasta)], check=True)
    ploidy.write_text("*\t*\t*\t*\t2\n")
    if not Path(f"{fasta}.bwt").exists():
        steps.index_reference(fasta, "bwa")
    if not r2.exists():
        print(f"simulating {depth:g}x reads (wgsim) ...", file=sys.stderr, flush=True)
        variants = plan_variants(fasta, seed=7, mean_spacing=1000, indel_fraction=0.15, max_indel=10)
        sim = folder / "sim"
        sim.mkdir(exist_ok=True)
        simulate_diploid_reads(fasta, variants, folder / "r1.tmp.gz", folder / "r2.tmp.gz", work=sim, seed=7, depth=depth)
        (folder / "r1.tmp.gz").replace(r1)
        (folder / "r2.tmp.gz").replace(r2)
        shutil.rmtree(sim)
    return fasta, r1, r2, ploidy


def read_digest(path: str) -> str:
    """A digest of every primary read as sequenced (name/end, bases, qualities), in sorted order."""
    lines = subprocess.run(["samtools", "fastq", "-F", "0x900", path], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    reads = sorted("\t".join([lines[i], lines[i + 1], lines[i + 3]]) for i in range(0, len(lines), 4))
    return f"{len(reads)}:" + hashlib.sha256("\n".join(reads).encode()).hexdigest()


def count_dups(path: str) -> int:
    return int(subprocess.run(["samtools", "view", "-c", "-f", "1024", path], capture_output=True, text=True,
                              check=True).stdout)


def vcf_records(path: str) -> list[str]:
    return subprocess.run(["bcftools", "view", "-H", path], capture_output=True, text=True,
                          check=True).stdout.splitlines()


def one_pair(r1: Path, r2: Path, folder: Path) -> tuple[Path, Path]:
    """The first read pair alone (what a step's start-up costs)."""
    out = []
    for src, name in ((r1, "one_R1.fastq.gz"), (r2, "one_R2.fastq.gz")):
        with gzip.open(src, "rt") as handle:
            head = "".join(next(handle) for _ in range(4))
        (folder / name).write_bytes(gzip.compress(head.encode()))
        out.append(folder / name)
    return out[0], out[1]


def bwa_start(fasta: Path, a: Path, b: Path, repeat: int = 3) -> float:
    """CPU s of ``bwa mem -t 2`` on one pair: its start-up, mostly loading the index (best of ``repeat``)."""
    argv = ["bwa", "mem", "-t", "2", str(fasta), str(a), str(b)]
    return min(measured(lambda: subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                               check=True))[1] for _ in range(repeat))


def margin_regions(shards, pad: int, length: int) -> list[str]:
    """The bases the shards pile up beyond their own regions: ``pad`` on each side of every inner border."""
    regions = []
    for shard in shards[:-1]:
        (last,) = shard.regions[-1:]
        regions.append(f"{last.contig}:{max(1, last.end - pad + 1)}-{min(length, last.end + pad)}")
    return regions


def project(m: dict[str, float]) -> dict[str, float]:
    """Sharded / unsharded CPU for a 30x human genome at the pipeline's defaults, from the measured parts.

    Alignment: 8 chunks (400 M pairs / 50 M). Unsharded = bwa's per-pair rate x 400 M + one index
    load. Extra = 7 more align-step start-ups (bwa's index load at human size, by the load rate per
    GiB measured between E. coli's and chr20's index, plus the rest of the step's start-up measured on
    E. coli) + dealing the reads out + merge and markdup again, each per M pairs as measured on
    E. coli, + the chunks' other difference (bwa's per-batch work) as a share of the alignment.
    Calling: 31 shards (3,100 Mb / 100 Mb). Unsharded = the per-Mb rate x 3,100. Extra = 30 more
    calling start-ups + the margins (at most 2 x pad at each of the 30 inner borders, 60 kb, at the
    measured cost per kb; GRCh38's borders mostly sit at contig ends or in gaps, with no reads) +
    gather per Mb + the shards' other difference as a share of the call + one checksum of the BAM (seqflow's own
    Python, the rate measured here, the BAM's size per M pairs as here).
    """
    from seqflow.params import DEFAULT_READS_PER_SHARD
    from seqflow.references.intervals import DEFAULT_INTERVAL_MB, shard_count

    p: dict[str, float] = {}
    chunks, shards = math.ceil(HUMAN_PAIRS_M * 1e6 / DEFAULT_READS_PER_SHARD), shard_count(
        round(HUMAN_MB * 1e6), round(DEFAULT_INTERVAL_MB * 1e6))
    p["chunks"], p["shards"] = chunks, shards
    p["bwa_load_human"] = m["bwa_start_ecoli"] + m["bwa_load_per_gib"] * (m["index_gib_human"] - m["index_gib_ecoli"])
    p["align_start_human"] = p["bwa_load_human"] + (m["align_start_ecoli"] - m["bwa_start_ecoli"])
    p["align_whole"] = m["align_per_mpairs"] * HUMAN_PAIRS_M + p["bwa_load_human"]
    p["align_extra_start"] = (chunks - 1) * p["align_start_human"]
    p["align_extra_deal"] = m["deal_per_mpairs"] * HUMAN_PAIRS_M
    p["align_extra_merge"] = m["merge_per_mpairs"] * HUMAN_PAIRS_M
    p["align_extra_other"] = m["chunk_other_share"] * (p["align_whole"] - p["bwa_load_human"])
    p["align_ratio"] = 1 + sum(p[k] for k in p if k.startswith("align_extra")) / p["align_whole"]
    p["call_whole"] = m["call_per_mb"] * HUMAN_MB
    p["call_extra_start"] = (shards - 1) * m["call_start"]
    p["call_extra_margins"] = m["margin_per_kb"] * 2 * CALL_PAD * (shards - 1) / 1000
    p["call_extra_gather"] = m["gather_per_mb"] * HUMAN_MB
    p["call_extra_other"] = m["shard_other_share"] * p["call_whole"]
    p["call_extra_checksum"] = m["sha256_s_per_gib"] * m["bam_gib_per_mpairs"] * HUMAN_PAIRS_M
    p["call_ratio"] = 1 + sum(p[k] for k in p if k.startswith("call_extra")) / p["call_whole"]
    extra = sum(v for k, v in p.items() if "_extra_" in k)
    p["ratio"] = 1 + extra / (p["align_whole"] + p["call_whole"])
    return p


def ecoli_main(depth: float, repeat: int) -> int:
    os.environ.setdefault("SEQFLOW_HOME", str(OUT / "home"))
    from seqflow.analysis import read_shards, scatter, steps
    from seqflow.analysis.steps import SampleJob
    from seqflow.params import DEFAULT_READS_PER_SHARD
    from seqflow.references.intervals import DEFAULT_INTERVAL_MB, balanced_shards, reference_gaps, shard_count

    load_start = os.getloadavg()
    fasta, r1, r2, ploidy_file = ecoli_inputs(OUT / f"ecoli-input-{depth:g}x", depth)
    work = OUT / f"ecoli-{depth:g}x"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    contig, length = Path(f"{fasta}.fai").read_text().split("\t")[:2]
    length = int(length)

    def job(name: str, ref: Path = fasta) -> SampleJob:
        return SampleJob(run_id=RUN, pipeline_version="1.0.0", sample_id="S1", r1=[str(r1)], r2=[str(r2)],
                         reference_fasta=str(ref), reference="bench", ploidy_file=str(ploidy_file), threads=2,
                         results_root=str(work / name), scratch_root=str(work / f"scratch-{name}"))

    def say(what: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)

    rows: list[tuple[str, float, float, float, str]] = []
    pairs = read_shards.estimate_reads(r1)
    whole_job = job("whole")
    human_chunks = math.ceil(HUMAN_PAIRS_M * 1e6 / DEFAULT_READS_PER_SHARD)
    chunkings = {f"{human_chunks} chunks": -(-pairs // human_chunks), "default": DEFAULT_READS_PER_SHARD}
    # whole and chunked runs take turns, so that the load of the shared machine weighs on both alike;
    # each row keeps its least CPU (and wall) over the runs, and the note lists every run's CPU
    runs: dict[str, list[dict[str, float]]] = {"whole": [], **{name: [] for name in chunkings}}
    merged: dict[str, str] = {}
    counts: dict[str, int] = {}
    for turn in range(repeat):
        say(f"{pairs:,} pairs; align whole (run {turn + 1} of {repeat})")
        bam, cpu, wall, py = measured_all(lambda: steps.align(whole_job, str(r1), str(r2))["bam"])
        runs["whole"].append({"cpu": cpu, "wall": wall, "py": py})
        for name, per_chunk in chunkings.items():
            say(f"align in chunks ({name}: {per_chunk:,} pairs per chunk)")
            state = {"job": job(f"chunked-{name.replace(' ', '')}").to_dict(),
                     "outputs": {"trimmed_r1": str(r1), "trimmed_r2": str(r2)}}
            chunks, d_cpu, d_wall, d_py = measured_all(
                lambda: read_shards.scatter_reads([state], reads_per_shard=per_chunk))
            _, a_cpu, a_wall, a_py = measured_all(lambda: [read_shards.align_chunk(c) for c in chunks])
            merged[name], m_cpu, m_wall, m_py = measured_all(lambda: read_shards.merge_chunks(state, chunks)["bam"])
            counts[name] = len(chunks)
            runs[name].append({"deal": d_cpu, "align": a_cpu, "merge": m_cpu, "cpu": d_cpu + a_cpu + m_cpu,
                               "wall": d_wall + a_wall + m_wall, "py": d_py + a_py + m_py})

    def least(name: str, key: str) -> float:
        return min(r[key] for r in runs[name])

    def every(name: str) -> str:
        return "runs " + ", ".join(f"{r['cpu']:.1f}" for r in runs[name])

    align_cpu, align_wall, align_py = least("whole", "cpu"), least("whole", "wall"), least("whole", "py")
    whole_reads, whole_dups = read_digest(bam), count_dups(bam)
    rows.append(("align (1 task)", align_cpu, align_wall, align_py, f"{whole_dups} duplicates; {every('whole')}"))
    parts: dict[str, dict[str, float]] = {}
    for name in chunkings:
        label = "as many as a human genome's" if name != "default" else "the default size"
        parts[name] = {k: least(name, k) for k in ("deal", "align", "merge")} | {"count": counts[name]}
        same = read_digest(merged[name]) == whole_reads
        n = counts[name]
        rows.append((f"align ({n} chunk{'s' if n > 1 else ''}, {label})", least(name, "cpu"), least(name, "wall"),
                     least(name, "py"),
                     f"reads {'same' if same else 'DIFFER'}, {count_dups(merged[name])} duplicates; deal "
                     f"{parts[name]['deal']:.1f}, align {parts[name]['align']:.1f}, merge+markdup "
                     f"{parts[name]['merge']:.1f} CPU s; {every(name)}"))

    human_shards = shard_count(round(HUMAN_MB * 1e6), round(DEFAULT_INTERVAL_MB * 1e6))
    gaps = reference_gaps(fasta)
    shardings = {name: balanced_shards([(contig, length)], interval, gaps) for name, interval in (
        (f"{human_shards} shards", -(-length // human_shards)), ("2 shards", -(-length // 2)),
        ("default", round(DEFAULT_INTERVAL_MB * 1e6)))}
    cruns: dict[str, list[dict[str, float]]] = {"whole": [], **{name: [] for name in shardings}}
    gathered: dict[str, str] = {}
    for turn in range(repeat):
        say(f"call whole (run {turn + 1} of {repeat})")
        vcf, cpu, wall, py = measured_all(lambda: steps.call_variants(whole_job, bam)["vcf"])
        cruns["whole"].append({"cpu": cpu, "wall": wall, "py": py})
        for name, shards in shardings.items():
            say(f"call in shards ({name}: {len(shards)})")
            sjob = job(f"sharded-{name.replace(' ', '')}")
            planned = {"job": sjob.to_dict(), "bam": bam, "force": True}
            called, s_cpu, s_wall, s_py = measured_all(lambda: [
                scatter.call_shard({**planned, "shard": scatter.shard_to_dict(s), "label": s.label}) for s in shards])
            gathered[name], g_cpu, g_wall, g_py = measured_all(lambda: scatter.gather(
                {"job": sjob.to_dict(), "outputs": {"bam": bam}}, shards, called=called)["vcf"])
            cruns[name].append({"call": s_cpu, "gather": g_cpu, "cpu": s_cpu + g_cpu, "wall": s_wall + g_wall,
                                "py": s_py + g_py})
    runs.update({f"call {k}": v for k, v in cruns.items()})
    call_cpu, call_wall, call_py = least("call whole", "cpu"), least("call whole", "wall"), least("call whole", "py")
    whole_records = vcf_records(vcf)
    rows.append(("call (whole genome)", call_cpu, call_wall, call_py,
                 f"{len(whole_records)} records; {every('call whole')}"))
    calls: dict[str, dict[str, float]] = {}
    for name, shards in shardings.items():
        key = f"call {name}"
        calls[name] = {"call": least(key, "call"), "gather": least(key, "gather"), "count": len(shards),
                       "py": least(key, "py")}
        got = vcf_records(gathered[name])
        differ = len(set(whole_records) ^ set(got))
        margin = 2 * CALL_PAD * (len(shards) - 1)
        label = {"default": ", the default size", "2 shards": ""}.get(name, ", as many as a human genome's")
        rows.append((f"call ({len(shards)} shard{'s' if len(shards) > 1 else ''}{label})", least(key, "cpu"),
                     least(key, "wall"), least(key, "py"),
                     f"{len(got)} records, {differ} differ{' (identical)' if got == whole_records else ''}; "
                     f"margins {margin / length:.2%} of the genome; gather {calls[name]['gather']:.2f} CPU s; "
                     f"{every(key)}"))

    say("the parts: start-ups, margins, checksums")
    a, b = one_pair(r1, r2, work)
    m: dict[str, float] = {}
    m["bwa_start_ecoli"] = bwa_start(fasta, a, b)
    m["index_gib_ecoli"] = bwa_index_mib(fasta) / 1024
    have_chr20 = all(Path(f"{CHR20}{s}").exists() for s in (".bwt", ".sa", ".pac", ".ann", ".amb"))
    if have_chr20:
        m["bwa_start_chr20"] = bwa_start(CHR20, a, b)
        m["index_gib_chr20"] = bwa_index_mib(CHR20) / 1024
        m["bwa_load_per_gib"] = ((m["bwa_start_chr20"] - m["bwa_start_ecoli"])
                                 / (m["index_gib_chr20"] - m["index_gib_ecoli"]))
    else:
        print(f"# {CHR20} has no bwa index (run bench/genome_cost.py once): index load scaled from E. coli alone")
        m["bwa_load_per_gib"] = m["bwa_start_ecoli"] / m["index_gib_ecoli"]
    m["index_gib_human"] = (bwa_index_mib(CHR20) if have_chr20 else bwa_index_mib(fasta)) / 1024 * (
        HUMAN_MB / (CHR20_MB if have_chr20 else length / 1e6))
    m["align_start_ecoli"] = min(measured(lambda: steps.align(job("one-pair"), str(a), str(b)))[1] for _ in range(3))

    def shard_of(regions: str, folder: str, pad: int) -> float:
        os.environ["SEQFLOW_CALL_PAD"] = str(pad)
        try:
            return measured(lambda: steps.run_sample_step(job(folder), "call_variants",
                                                          {"bam": bam, "regions": regions}))[1]
        finally:
            del os.environ["SEQFLOW_CALL_PAD"]

    m["call_start"] = min(shard_of(f"{contig}:1-1", "one-base", 0) for _ in range(3))
    human_like = balanced_shards([(contig, length)], -(-length // human_shards), gaps)
    margins = margin_regions(human_like, CALL_PAD, length)
    margin_kb = sum(int(r.rsplit(":", 1)[1].split("-")[1]) - int(r.rsplit(":", 1)[1].split("-")[0]) + 1
                    for r in margins) / 1000
    margin_cpu = shard_of(",".join(margins), "margins", 0)
    m["margin_per_kb"] = max(0.0, margin_cpu - m["call_start"]) / margin_kb
    _, _, _, sha_py = measured_all(lambda: hashlib.sha256(Path(bam).read_bytes()).hexdigest())
    bam_gib = Path(bam).stat().st_size / 2**30
    m["sha256_s_per_gib"] = sha_py / bam_gib
    mpairs, mb = pairs / 1e6, length / 1e6
    m["bam_gib_per_mpairs"] = bam_gib / mpairs
    m["align_per_mpairs"] = (align_cpu - m["bwa_start_ecoli"]) / mpairs
    hc = parts[f"{human_chunks} chunks"]
    m["deal_per_mpairs"] = hc["deal"] / mpairs
    m["merge_per_mpairs"] = hc["merge"] / mpairs
    m["chunk_other"] = hc["align"] - align_cpu - (hc["count"] - 1) * m["align_start_ecoli"]
    m["chunk_other_share"] = m["chunk_other"] / (align_cpu - m["bwa_start_ecoli"])
    m["call_per_mb"] = call_cpu / mb
    hs = calls[f"{human_shards} shards"]
    m["gather_per_mb"] = hs["gather"] / mb
    m["shard_other"] = hs["call"] - call_cpu - (hs["count"] - 1) * m["call_start"] - m["margin_per_kb"] * margin_kb
    m["shard_other_share"] = m["shard_other"] / call_cpu
    load_end = os.getloadavg()

    depth = subprocess.run(["samtools", "depth", "-a", bam], capture_output=True, text=True, check=True).stdout
    lines = depth.splitlines()
    mean_depth = sum(int(line.split("\t")[2]) for line in lines) / max(1, len(lines))
    print(f"ecoli: {pairs:,} read pairs (2x150, simulated, diploid), E. coli K-12 MG1655 {length:,} bp, "
          f"mean depth {mean_depth:.1f}x; load average {load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end")
    print(f"least CPU (and wall) of {repeat} run(s) each, whole and sharded runs taking turns")
    print(f"{'step':<48} {'CPU s':>8} {'wall s':>8} {'ratio':>6} {'py s':>6}  same result")
    for label, cpu, wall, py, note in rows:
        base = align_cpu if label.startswith("align") else call_cpu
        ratio = "" if "(1 task)" in label or "whole" in label else f"{cpu / base:6.3f}"
        print(f"{label:<48} {cpu:8.1f} {wall:8.1f} {ratio:>6} {py:6.1f}  {note}")
    whole_cpu = align_cpu + call_cpu
    for name_a, name_c in ((f"{human_chunks} chunks", f"{human_shards} shards"), ("default", "default")):
        pa, pc = parts[name_a], calls[name_c]
        total = pa["deal"] + pa["align"] + pa["merge"] + pc["call"] + pc["gather"]
        print(f"align + call, {int(pa['count'])} chunk(s) and {int(pc['count'])} shard(s): "
              f"{total:.1f} / {whole_cpu:.1f} CPU s = {total / whole_cpu:.3f}x")
    print("\nthe parts (CPU s, user + system of the child processes):")
    print(f"  bwa mem on one pair (start-up, index load): E. coli {m['bwa_start_ecoli']:.2f} "
          f"({m['index_gib_ecoli'] * 1024:.0f} MiB of index)" + (
              f", chr20 {m['bwa_start_chr20']:.2f} ({m['index_gib_chr20'] * 1024:.0f} MiB)" if have_chr20 else "")
          + f": {m['bwa_load_per_gib']:.2f} s per GiB of index")
    print(f"  align step on one pair (bash, bwa, fixmate, sort, markdup, versions): {m['align_start_ecoli']:.2f}")
    print(f"  calling shard of one base, no margin (bash, 5 bcftools, .fai and .bai reads, tabix): "
          f"{m['call_start']:.2f}")
    print(f"  margins of the {len(human_like)} shards piled alone ({len(margins)} windows, {margin_kb:.0f} kb): "
          f"{margin_cpu:.2f}, {m['margin_per_kb'] * 1000:.2f} per Mb after the start-up "
          f"(whole genome: {m['call_per_mb']:.2f} per Mb)")
    print(f"  dealing the reads into {int(hc['count'])} chunks: {hc['deal']:.1f} ({m['deal_per_mpairs']:.1f} per M pairs)")
    print(f"  merge + markdup of {int(hc['count'])} chunks: {hc['merge']:.1f} ({m['merge_per_mpairs']:.1f} per M pairs)")
    print(f"  the chunks' alignments minus the whole one minus {int(hc['count']) - 1} start-ups: "
          f"{m['chunk_other']:.1f} ({m['chunk_other_share']:+.1%} of the whole alignment)")
    print(f"  gather of {int(hs['count'])} shards (bcftools concat --naive, tabix): {hs['gather']:.2f}")
    print(f"  the shards' calls minus the whole call minus {int(hs['count']) - 1} start-ups and the margins: "
          f"{m['shard_other']:.2f} ({m['shard_other_share']:+.1%} of the whole call)")
    print(f"  seqflow's own Python in the {int(hs['count'])}-shard call (checksums, not in CPU s above): "
          f"{hs['py']:.2f}; SHA-256 of the BAM: {m['sha256_s_per_gib']:.2f} s per GiB")

    p = project(m)
    print(f"\nprojection, 30x human genome at the defaults ({HUMAN_PAIRS_M:.0f} M pairs in {p['chunks']} chunks, "
          f"{HUMAN_MB:.0f} Mb in {p['shards']} shards); bwa index {m['index_gib_human']:.1f} GiB "
          f"(chr20's scaled by length), its load {p['bwa_load_human']:.1f} CPU s (the rate per GiB above):")
    print(f"  align unsharded {p['align_whole']:,.0f} CPU s (E. coli's {m['align_per_mpairs']:.0f} per M pairs); "
          f"extra: start-ups {p['align_extra_start']:,.0f}, deal {p['align_extra_deal']:,.0f}, "
          f"merge + markdup {p['align_extra_merge']:,.0f}, other {p['align_extra_other']:,.0f} "
          f"-> {p['align_ratio']:.3f}x")
    print(f"  call unsharded {p['call_whole']:,.0f} CPU s; extra: start-ups {p['call_extra_start']:,.0f}, "
          f"margins {p['call_extra_margins']:,.1f}, gather {p['call_extra_gather']:,.0f}, "
          f"other {p['call_extra_other']:,.0f}, BAM checksum {p['call_extra_checksum']:,.0f} -> {p['call_ratio']:.3f}x")
    print(f"  align + call: {p['ratio']:.3f}x (target <= 1.05x)")
    gc = json.loads((REPO / "bench" / "genome_cost.json").read_text()) if (REPO / "bench" / "genome_cost.json").exists() else None
    if gc:
        rate = next((x["cpu_s"] / x["units"] for x in gc["measured"] if x["step"] == "align_bwa"), None)
        if rate:
            p2 = project({**m, "align_per_mpairs": rate})
            print(f"  with bwa's rate on human reads (bench/genome_cost.json: {rate:.0f} CPU s per M pairs on chr20): "
                  f"align {p2['align_ratio']:.3f}x, align + call {p2['ratio']:.3f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
