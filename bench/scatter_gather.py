#!/usr/bin/env python3
"""Sharded against unsharded alignment and calling on real reads: CPU, wall time and whether the
results are the same (bcftools and samtools judge).

    .venv/bin/python bench/scatter_gather.py [--dataset hiv|na12878] [--shards N] [--chunks K]

``hiv``: Debian iva's real MiSeq 2x250 reads of an HIV-1 strain against DQ234790 (9,056 bp, about
1,260x after duplicates); ``na12878``: freebayes' real HiSeq X 2x151 reads of NA12878 on a
12,356-bp piece of chr22 (about 34x). The reads are aligned whole and in ``--chunks`` read chunks
(seqflow.analysis.read_shards: merged, duplicates marked again), and called whole and in
``--shards`` equal intervals (seqflow.analysis.scatter: padded shards, records kept by POS,
``bcftools concat --naive``). CPU is the user + system time of every process the step ran
(``RUSAGE_CHILDREN``), wall the elapsed time, each the best of ``--repeat`` runs. Inputs and outputs
go to ``bench/out/scatter_gather/``.
"""

from __future__ import annotations

import argparse
import gzip
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
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return result, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def best(fn, repeat: int):
    runs = [measured(fn) for _ in range(repeat)]
    return runs[-1][0], min(r[1] for r in runs), min(r[2] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("hiv", "na12878"), default="hiv")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

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


if __name__ == "__main__":
    raise SystemExit(main())
