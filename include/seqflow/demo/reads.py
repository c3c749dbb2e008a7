"""Paired-end reads simulated from a (mutated) genome with ``wgsim``.

``wgsim`` is run with ``-r 0`` so it plants no mutations of its own: the only
differences between the reads and the reference are the truth set and the
sequencing errors (``-e``, 0.1 % by default). Its read names
(``<contig>_<start>_<end>_…/1``) give away where each read comes from, so they
are replaced by Illumina-style names carrying the instrument, run, flowcell,
lane, tile and index of the demo run. The FASTQs are gzip-compressed without
name or time stamp, so the same seed gives byte-identical files.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from seqflow.fsutil import make_temp_file, run_tool

log = logging.getLogger(__name__)

DEFAULT_READ_LENGTH = 150
DEFAULT_FRAGMENT_LENGTH = 400
DEFAULT_FRAGMENT_SD = 50
DEFAULT_ERROR_RATE = 0.001
GZIP_LEVEL = 1


@dataclass(frozen=True)
class IlluminaNames:
    """What goes into ``@<instrument>:<run>:<flowcell>:<lane>:<tile>:<x>:<y> <read>:N:0:<index>``."""

    instrument: str
    run_number: int
    flowcell: str
    lane: int = 1
    index: str = ""
    index2: str = ""
    #: tiles the reads are spread over (must match the run's FlowcellLayout)
    tiles: tuple[int, ...] = (1101,)

    def header(self, n: int, read: int) -> bytes:
        """Header line (with ``@``, without newline) of the ``n``-th pair's read 1 or 2."""
        tile = self.tiles[n % len(self.tiles)]
        k = n // len(self.tiles)
        x, y = 1000 + (k % 30000), 1000 + (k // 30000)
        barcode = self.index + (f"+{self.index2}" if self.index2 else "")
        return (f"@{self.instrument}:{self.run_number}:{self.flowcell}:{self.lane}:{tile}:{x}:{y} "
                f"{read}:N:0:{barcode}").encode("ascii")


def pairs_for_coverage(genome_length: int, coverage: float, read_length: int = DEFAULT_READ_LENGTH) -> int:
    """Read pairs giving ``coverage``-fold mean depth over ``genome_length`` bp (at least 1)."""
    if genome_length <= 0 or coverage <= 0 or read_length <= 0:
        raise ValueError("genome_length, coverage and read_length must be positive")
    return max(1, math.ceil(genome_length * coverage / (2 * read_length)))


def fasta_length(fasta: Path) -> int:
    """Total number of bases in a FASTA file."""
    total = 0
    with open(fasta, "rb") as handle:
        for line in handle:
            if not line.startswith(b">"):
                total += len(line.strip())
    return total


def simulate_reads(
    genome_fasta: Path,
    r1_out: Path,
    r2_out: Path,
    *,
    seed: int,
    coverage: float = 30.0,
    pairs: int | None = None,
    read_length: int = DEFAULT_READ_LENGTH,
    fragment_length: int = DEFAULT_FRAGMENT_LENGTH,
    fragment_sd: int = DEFAULT_FRAGMENT_SD,
    error_rate: float = DEFAULT_ERROR_RATE,
    names: IlluminaNames | None = None,
    threads: int | None = None,
) -> int:
    """Simulate read pairs from ``genome_fasta`` into gzipped ``r1_out``/``r2_out``.

    The number of pairs is ``pairs`` if given, else what ``coverage`` needs. With
    ``names`` the reads get Illumina-style names; otherwise wgsim's are kept.
    Both outputs appear atomically. Returns the number of pairs written.
    """
    if seed <= 0:
        raise ValueError("seed must be a positive integer (wgsim takes 0 as 'use the clock')")
    if fragment_length < read_length:
        raise ValueError(f"fragment_length {fragment_length} is shorter than a read ({read_length})")
    n = pairs if pairs is not None else pairs_for_coverage(fasta_length(genome_fasta), coverage, read_length)
    r1_out, r2_out = Path(r1_out), Path(r2_out)
    with tempfile.TemporaryDirectory(prefix=".wgsim-", dir=r1_out.parent) as work:
        raw1, raw2 = Path(work) / "r1.fq", Path(work) / "r2.fq"
        log.info("wgsim: %d read pairs of %d bp from %s", n, read_length, Path(genome_fasta).name)
        run_tool([
            "wgsim", "-e", str(error_rate), "-r", "0", "-R", "0",
            "-1", str(read_length), "-2", str(read_length),
            "-d", str(fragment_length), "-s", str(fragment_sd),
            "-N", str(n), "-S", str(seed),
            genome_fasta, raw1, raw2,
        ], what="wgsim")
        written = _rename_and_compress(raw1, raw2, r1_out, r2_out, names, threads)
    if written != n:
        # wgsim drops fragments it cannot place (e.g. too many N); say so rather than hide it
        log.warning("wgsim wrote %d of the %d requested pairs", written, n)
    return written


def _records(handle: BinaryIO, path: Path) -> Iterator[tuple[bytes, bytes, bytes]]:
    while True:
        header = handle.readline()
        if not header:
            return
        seq, plus, qual = handle.readline(), handle.readline(), handle.readline()
        if not header.startswith(b"@") or not plus.startswith(b"+") or not qual:
            raise RuntimeError(f"{path}: malformed FASTQ record starting {header[:60]!r}")
        yield header.rstrip(b"\n"), seq, qual


def _rename_and_compress(raw1: Path, raw2: Path, r1_out: Path, r2_out: Path,
                         names: IlluminaNames | None, threads: int | None) -> int:
    tmp1, tmp2 = make_temp_file(r1_out), make_temp_file(r2_out)
    count = 0
    try:
        with open(raw1, "rb") as in1, open(raw2, "rb") as in2, \
                _gzip_writer(tmp1, threads) as out1, _gzip_writer(tmp2, threads) as out2:
            recs2 = _records(in2, raw2)
            for h1, s1, q1 in _records(in1, raw1):
                h2, s2, q2 = next(recs2, (None, None, None))
                if h2 is None:
                    raise RuntimeError(f"{raw2} has fewer reads than {raw1}")
                if names is not None:
                    h1, h2 = names.header(count, 1), names.header(count, 2)
                out1.write(b"%s\n%s+\n%s" % (h1, s1, q1))
                out2.write(b"%s\n%s+\n%s" % (h2, s2, q2))
                count += 1
            if next(recs2, None) is not None:
                raise RuntimeError(f"{raw2} has more reads than {raw1}")
        os.replace(tmp1, r1_out)
        os.replace(tmp2, r2_out)
    finally:
        tmp1.unlink(missing_ok=True)
        tmp2.unlink(missing_ok=True)
    return count


@contextmanager
def _gzip_writer(path: Path, threads: int | None) -> Iterator[BinaryIO]:
    """A binary writer gzip-compressing into ``path``: pigz when installed, else zlib.

    Either way no file name or time stamp goes into the header (reproducible output).
    Level 1: on E. coli at 30x it costs a sixth of level 6's CPU time for files
    about 15 % larger, and compression is most of the cost of a demo run.
    """
    pigz = shutil.which("pigz")
    if pigz is None:
        with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                    compresslevel=GZIP_LEVEL, mtime=0) as gz:
            yield gz  # type: ignore[misc]
            gz.flush()
        return
    nthreads = threads or max(1, min(4, (os.cpu_count() or 1)))
    with open(path, "wb") as raw:
        proc = subprocess.Popen([pigz, "-n", f"-{GZIP_LEVEL}", "-p", str(nthreads), "-c"],
                                stdin=subprocess.PIPE, stdout=raw, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        try:
            yield proc.stdin  # type: ignore[misc]
        finally:
            proc.stdin.close()
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            rc = proc.wait()
        if rc != 0:
            raise RuntimeError(f"pigz failed compressing {path} (exit {rc}): {err.strip()}")


def simulate_diploid_reads(reference_fasta: Path, variants, r1_out: Path, r2_out: Path, *, work: Path,
                           seed: int, depth: float = 30.0) -> None:
    """Reads of a diploid genome: haplotype 1 carries every variant, haplotype 2 every third (those
    are the homozygous ones), each simulated at half of ``depth`` and the pairs concatenated into
    ``r1_out``/``r2_out``. The truth is ``variants`` (bench/caller_accuracy, bench/genome_cost)."""
    from seqflow.demo.mutate import write_mutated_genome

    variants = list(variants)
    parts = []
    for i, haplotype in enumerate((variants, variants[::3]), start=1):
        genome = write_mutated_genome(reference_fasta, haplotype, work / f"hap{i}.fa")
        a, b = work / f"hap{i}_R1.fastq.gz", work / f"hap{i}_R2.fastq.gz"
        simulate_reads(genome, a, b, seed=seed + i, coverage=depth / 2)
        parts.append((a, b))
    for out, end in ((r1_out, 0), (r2_out, 1)):
        with open(out, "wb") as dst:
            for part in parts:
                dst.write(part[end].read_bytes())
