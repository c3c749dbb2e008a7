"""Alignment sharded by read chunks: split a sample's trimmed reads, align each chunk, merge.

``scatter_reads`` decides a sample's chunk count from the size of its trimmed R1 FASTQ: the
bytes per read of its first :data:`SAMPLE_READS` reads (compressed) give the number of reads
the file holds, and that over ``reads_per_shard`` (the analysis param ``align_reads_per_shard``,
read pairs per chunk) rounded up is the chunk count. One chunk aligns the trimmed FASTQs as
they are; more deal the reads out in turn (read *i* to chunk *i* mod *k*, R1 and R2 alike,
so mates stay together and in the same order) into ``<scratch>/<sample>/read_shards/``.

``align_chunk`` runs the catalogue's ``align`` step (bwa mem or minimap2 | ``samtools fixmate
-m`` | sort | markdup) on one chunk: every pair is in one chunk, so fixmate sees both mates
and writes the mate tags (MC, ms) markdup needs. ``merge_chunks`` merges the chunks'
coordinate-sorted BAMs (``samtools merge``, their identical @RG/@PG headers combined) and marks
duplicates again over the whole sample (``samtools markdup -c``: the chunks' marks are
cleared, so a duplicate pair whose copies fell in two chunks is found), with the index and the
markdup metrics, into ``<sample>.bam``: the same file names as the unsharded step.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

from seqflow.analysis import steps
from seqflow.analysis.catalog import catalog
from seqflow.analysis.steps import SampleJob, StepError

log = logging.getLogger(__name__)

#: the default of the analysis param ``align_reads_per_shard`` (read pairs per alignment chunk, nf-core
#: sarek's split_fastq default: a 30x human genome of about 400 million pairs in 8 chunks)
from seqflow.params import DEFAULT_READS_PER_SHARD  # noqa: E402  (the param's default, owned there)
#: reads read from the head of the FASTQ to measure its bytes per read
SAMPLE_READS = 20_000
CHUNKS_DIR = "read_shards"


def estimate_reads(fastq_gz: str | Path) -> int:
    """About how many reads a gzipped FASTQ holds: its size over the compressed bytes per read of
    its first :data:`SAMPLE_READS` reads (exact when the file holds no more)."""
    path = Path(fastq_gz)
    size = path.stat().st_size
    with open(path, "rb") as raw, gzip.open(raw, "rb") as fq:
        lines = 0
        for lines, _ in enumerate(fq, start=1):
            if lines == 4 * SAMPLE_READS:
                break
        if lines < 4 * SAMPLE_READS:
            return lines // 4
        consumed = raw.tell()  # compressed bytes read so far (a buffer's worth ahead at most)
    return max(SAMPLE_READS, round(size * SAMPLE_READS / max(consumed, 1)))


def chunk_count(reads: int, reads_per_shard: int) -> int:
    """Chunks for ``reads`` read pairs at ``reads_per_shard`` each (0: one)."""
    return 1 if reads_per_shard <= 0 else max(1, math.ceil(reads / reads_per_shard))


def _deal(fastq_gz: str, prefix: Path, count: int, end: str) -> list[str]:
    """Deal the reads of one FASTQ out to ``count`` gzipped chunks in turn; the chunks' paths."""
    outputs = [f"{prefix}{i:04d}_{end}.fastq.gz" for i in range(count)]
    script = ('NR % 4 == 1 { c = int((NR - 1) / 4) % k } '
              '{ print | ("gzip -1 > \\"" p sprintf("%04d", c) "_" e ".fastq.gz\\"") }')
    unzip = subprocess.Popen(["gzip", "-dc", fastq_gz], stdout=subprocess.PIPE)
    proc = subprocess.run(["awk", "-v", f"k={count}", "-v", f"p={prefix}", "-v", f"e={end}", script],
                          stdin=unzip.stdout, capture_output=True, text=True)
    unzip.stdout.close()  # type: ignore[union-attr]
    if unzip.wait() != 0 or proc.returncode != 0:
        raise StepError(f"splitting {fastq_gz} into {count} chunks failed: {proc.stderr.strip()[-1000:]}",
                        step="align")
    return outputs


def scatter_reads(states: list[dict[str, Any]], *, reads_per_shard: int) -> list[dict[str, Any]]:
    """One alignment job per read chunk of every sample whose reads passed fastp (``states``)."""
    jobs = []
    for state in states:
        if not state or "trimmed_r1" not in state.get("outputs", {}):
            continue
        job = SampleJob.from_dict(state["job"])
        r1, r2 = state["outputs"]["trimmed_r1"], state["outputs"].get("trimmed_r2")
        count = chunk_count(estimate_reads(r1), reads_per_shard)
        if count == 1:
            pairs = [(r1, r2)]
        else:
            folder = job.scratch_dir / CHUNKS_DIR
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            firsts = _deal(r1, folder / "chunk", count, "R1")
            seconds = _deal(r2, folder / "chunk", count, "R2") if r2 else [None] * count
            pairs = list(zip(firsts, seconds))
        log.info("%s: %d alignment chunk(s) of up to %s read pairs", job.sample_id, count, reads_per_shard)
        for i, (c1, c2) in enumerate(pairs):
            jobs.append({"job": job.to_dict(), "r1": c1, "r2": c2, "index": i, "count": count,
                         "label": f"{job.sample_id} reads {i + 1}/{count}"})
    return jobs


def chunk_dir(job: SampleJob, index: int) -> Path:
    return job.scratch_dir / CHUNKS_DIR / f"aligned-{index:04d}"


def align_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    """Align one chunk with the catalogue's ``align`` step into its own folder on scratch."""
    job = SampleJob.from_dict(chunk["job"])
    out = chunk_dir(job, chunk["index"])
    shutil.rmtree(out, ignore_errors=True)
    produced = steps.run_sample_step(job, "align", {"r1": chunk["r1"], "r2": chunk["r2"]}, out_dir=out)
    return {"sample_id": job.sample_id, "index": chunk["index"], "count": chunk["count"], "bam": produced["bam"]}


def _run(argv: list[str], log_file, what: str) -> None:
    log_file.write(f"== {' '.join(argv[:2])}\n")
    log_file.flush()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=log_file)
    if proc.returncode != 0:
        raise StepError(f"{what}: {' '.join(argv[:2])} exited {proc.returncode} (see {log_file.name})",
                        step="align", exit_code=proc.returncode)


def merge_chunks(state: dict[str, Any], chunks: list[dict[str, Any]]) -> dict[str, str]:
    """The sample's BAM from its chunks' (``chunks``: scatter_reads' jobs of this sample, in order):
    moved as it is for one chunk, else merged and duplicate-marked again (module docstring)."""
    job = SampleJob.from_dict(state["job"])
    impl = catalog().step("align", aligner=job.aligner)
    names = impl.output_files(job.sample_id)
    dirs = [chunk_dir(job, c["index"]) for c in sorted(chunks, key=lambda c: c["index"])]
    missing = [str(d / names["bam"]) for d in dirs if not (d / names["bam"]).is_file()]
    if not dirs or missing:
        raise StepError(f"sample {job.sample_id}: alignment chunk(s) did not finish: {', '.join(missing) or 'none'}",
                        step="align")
    out = job.results_dir
    out.mkdir(parents=True, exist_ok=True)
    if len(dirs) == 1:
        for name in ("bam", "bai", "markdup", "align_versions", "align_log"):
            shutil.move(str(dirs[0] / names[name]), out / names[name])
        return {name: str(out / file) for name, file in names.items()}
    tmp = out / f".tmp-merge-{job.sample_id}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    threads = str(job.threads)
    with open(out / names["align_log"], "w") as log_file:
        for i, d in enumerate(dirs):
            log_file.write(f"== chunk {i + 1}/{len(dirs)}\n{(d / names['align_log']).read_text(errors='replace')}")
        _run(["samtools", "merge", "-c", "-p", "-@", threads, "-o", str(tmp / "merged.bam"),
              *(str(d / names["bam"]) for d in dirs)], log_file, f"sample {job.sample_id}: merging {len(dirs)} chunks")
        _run(["samtools", "markdup", "-c", "-@", threads, "--write-index", "-f", str(tmp / names["markdup"]),
              "-T", str(tmp / "markdup"), str(tmp / "merged.bam"),
              f"{tmp / names['bam']}##idx##{tmp / names['bai']}"], log_file, f"sample {job.sample_id}: markdup")
    shutil.copy2(dirs[0] / names["align_versions"], out / names["align_versions"])
    for name in ("markdup", "bai", "bam"):  # the BAM last: its presence means the rest is there
        (tmp / names[name]).replace(out / names[name])
    shutil.rmtree(tmp, ignore_errors=True)
    return {name: str(out / file) for name, file in names.items()}
