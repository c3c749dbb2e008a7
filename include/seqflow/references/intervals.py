"""Calling intervals of a reference: its contigs cut into shards of similar size, borders in assembly gaps.

Variant calling is scattered over these shards and gathered with ``bcftools concat``
(:mod:`seqflow.analysis.scatter`). Each shard is one or more whole regions
(``contig:start-end``, 1-based, inclusive) in the reference's own contig order, so the
shards, taken in order, cover every base of the genome once and their VCFs concatenate
into a sorted VCF.

How the cuts are placed: the genome is laid end to end (FASTA order) and cut at every
multiple of ``total / n`` (``n`` = the genome size over the interval size, rounded). A cut
moves to the nearest contig end when one lies within :data:`SNAP_FRACTION` of a shard's
size, else to the middle of the nearest assembly gap (a run of at least :data:`MIN_GAP`
``N``) within that distance, else stays where it is. A border in a gap or between contigs
has no read across it; a border inside sequence is made safe by the padded calling of
``containers/bcftools/call_variants.sh`` (each shard calls its regions plus a margin and
keeps the records whose POS it owns), so the gathered calls equal the unsharded ones.

The gaps come from the reference's FASTA and are kept beside it in ``<name>.fa.gaps.bed``
(BED: contig, 0-based start, end), written once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: shortest run of N that counts as an assembly gap (GRCh38's gaps are 10 kb and more)
MIN_GAP = 1000
#: how far (as a share of the shard size) a cut may move to reach a contig end or a gap
SNAP_FRACTION = 0.25
#: the default interval size of the analysis param ``call_interval_mb``: a human genome in about 31
#: shards, a bacterial genome unsharded
DEFAULT_INTERVAL_MB = 100
#: the file beside the FASTA that keeps its gaps
GAPS_SUFFIX = ".gaps.bed"
#: the regions argument of call_variants that means the whole genome (one shard)
WHOLE_GENOME = "-"

_N_RUN = re.compile(rb"N+")


@dataclass(frozen=True)
class Region:
    """``contig:start-end``, 1-based and inclusive."""

    contig: str
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.contig}:{self.start}-{self.end}"

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class Shard:
    """One calling interval: its position among the shards and its regions (None: the whole genome)."""

    index: int
    count: int
    regions: tuple[Region, ...] | None

    @property
    def argument(self) -> str:
        """The ``regions`` argument of call_variants: ``chr1:1-100,chr2:1-50`` or ``-`` (whole genome)."""
        return WHOLE_GENOME if self.regions is None else ",".join(map(str, self.regions))

    @property
    def label(self) -> str:
        """What the UI shows: ``chr1:1-100000000`` (``+2`` more regions), or ``whole genome``."""
        if self.regions is None:
            return "whole genome"
        first = str(self.regions[0])
        return first if len(self.regions) == 1 else f"{first} +{len(self.regions) - 1}"

    @property
    def key(self) -> str:
        """Deterministic folder name: position and a digest of the regions (``0003-1a2b3c4d``)."""
        digest = hashlib.sha256(self.argument.encode()).hexdigest()[:8]
        return f"{self.index:04d}-{digest}"

    @property
    def length(self) -> int | None:
        return None if self.regions is None else sum(r.length for r in self.regions)


def scan_gaps(fasta: str | Path, *, min_gap: int = MIN_GAP) -> list[tuple[str, int, int]]:
    """Runs of at least ``min_gap`` N in ``fasta``: (contig, 0-based start, end), in file order.
    A run may go on over line breaks."""
    gaps: list[tuple[str, int, int]] = []
    name: str | None = None
    pos = 0
    run: list[int] | None = None  # [start, end) of the run of N being read

    def close() -> None:
        nonlocal run
        if run is not None and run[1] - run[0] >= min_gap:
            gaps.append((name, run[0], run[1]))  # type: ignore[arg-type]
        run = None

    with open(fasta, "rb") as handle:
        for raw in handle:
            if raw.startswith(b">"):
                close()
                name, pos = raw[1:].split()[0].decode(), 0
                continue
            line = raw.rstrip(b"\r\n").upper()
            for match in _N_RUN.finditer(line):
                start, end = pos + match.start(), pos + match.end()
                if run is not None and run[1] == start:
                    run[1] = end
                else:
                    close()
                    run = [start, end]
            pos += len(line)
            if run is not None and run[1] != pos:
                close()
    close()
    return gaps


def reference_gaps(fasta: str | Path) -> dict[str, list[tuple[int, int]]]:
    """The assembly gaps of a local reference FASTA (contig -> 0-based half-open runs), from
    ``<fasta>.gaps.bed``, written on first use."""
    from seqflow.fsutil import atomic_write_text

    bed = Path(f"{fasta}{GAPS_SUFFIX}")
    if not bed.is_file() or bed.stat().st_mtime < Path(fasta).stat().st_mtime:
        atomic_write_text(bed, "".join(f"{c}\t{s}\t{e}\n" for c, s, e in scan_gaps(fasta)))
    gaps: dict[str, list[tuple[int, int]]] = {}
    for line in bed.read_text().splitlines():
        contig, start, end = line.split("\t")
        gaps.setdefault(contig, []).append((int(start), int(end)))
    return gaps


def shard_count(total: int, interval_bp: int) -> int:
    """How many shards a genome of ``total`` bases gets: ``total / interval_bp`` rounded, at least 1
    (``interval_bp`` 0: one)."""
    if interval_bp <= 0:
        return 1
    return max(1, round(total / interval_bp))


def balanced_shards(contigs: Sequence[tuple[str, int]], interval_bp: int,
                    gaps: dict[str, list[tuple[int, int]]] | None = None) -> list[Shard]:
    """The calling shards of a genome (``contigs``: name and length in FASTA order).

    One shard (the whole genome, :data:`WHOLE_GENOME`) when ``interval_bp`` is 0 or the genome
    is not much longer than one interval; else ``shard_count`` shards of similar size whose
    borders sit at contig ends or in the middle of gaps where one is near (module docstring).
    """
    total = sum(length for _, length in contigs)
    count = shard_count(total, interval_bp)
    if count == 1:
        return [Shard(0, 1, None)]
    gaps = gaps or {}
    starts, offset = [], 0  # each contig's offset in the genome laid end to end
    for _, length in contigs:
        starts.append(offset)
        offset += length
    size = total / count
    reach = SNAP_FRACTION * size
    candidates_end = [s + length for s, (_, length) in zip(starts, contigs)][:-1]
    candidates_gap = [s + (a + b) // 2 for s, (name, _) in zip(starts, contigs) for a, b in gaps.get(name, [])]
    cuts: list[int] = []
    for k in range(1, count):
        want = round(k * size)
        cut = want
        for pool in (candidates_end, candidates_gap):
            near = [c for c in pool if abs(c - want) <= reach]
            if near:
                cut = min(near, key=lambda c: (abs(c - want), c))
                break
        if (not cuts or cut > cuts[-1]) and 0 < cut < total:
            cuts.append(cut)
    bounds = [0, *cuts, total]
    shards = []
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        regions = []
        for start, (name, length) in zip(starts, contigs):
            a, b = max(lo, start), min(hi, start + length)
            if a < b:
                regions.append(Region(name, a - start + 1, b - start))
        shards.append(Shard(i, len(bounds) - 1, tuple(regions)))
    return shards


def reference_shards(reference, interval_mb: float) -> list[Shard]:
    """The calling shards of a registered reference (:class:`seqflow.references.catalog.Reference`)
    for ``interval_mb`` megabases per shard, gaps read from its local FASTA."""
    contigs = [(c.name, c.length) for c in reference.contigs]
    interval_bp = round(interval_mb * 1_000_000)
    if shard_count(sum(n for _, n in contigs), interval_bp) == 1:
        return [Shard(0, 1, None)]
    return balanced_shards(contigs, interval_bp, reference_gaps(reference.fasta))
