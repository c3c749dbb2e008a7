"""Seeded truth sets: SNPs and short indels planted into a reference genome.

For each demo sample a :class:`random.Random` seeded from the run seed and the
sample ID draws SNPs, insertions and deletions (1–``max_indel`` bp) at positions
kept ``min_distance`` bp apart and ``edge_margin`` bp from the contig ends, so
that a short-read caller can resolve every one of them. Every variant is
homozygous ALT (the demo genomes are haploid) and written already normalised
(left-aligned, biallelic), which is what ``bcftools norm`` makes of a caller's
output too. The outputs are a sorted, bgzipped and tabix-indexed VCF 4.2 with
``##contig`` lines, and the mutated genome as FASTA (the template for reads).
"""

from __future__ import annotations

import bisect
import hashlib
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pysam

from seqflow.fsutil import make_temp_file
from seqflow.demo.references import FASTA_LINE_WIDTH, contig_lengths

BASES = "ACGT"

#: defaults: about one variant per 1.5 kb (≥ 20 per genome), 30 % indels
DEFAULT_MEAN_SPACING = 1500
DEFAULT_MIN_VARIANTS = 20
DEFAULT_MIN_DISTANCE = 50
DEFAULT_EDGE_MARGIN = 300
DEFAULT_INDEL_FRACTION = 0.3
DEFAULT_MAX_INDEL = 10


@dataclass(frozen=True)
class Variant:
    """One biallelic, normalised variant (VCF conventions: 1-based ``pos``, anchored indels)."""

    chrom: str
    pos: int
    ref: str
    alt: str

    @property
    def kind(self) -> str:
        """``SNP``, ``INS`` or ``DEL``."""
        if len(self.ref) == len(self.alt) == 1:
            return "SNP"
        return "INS" if len(self.alt) > len(self.ref) else "DEL"

    @property
    def length(self) -> int:
        """Number of bases substituted (1), inserted or deleted."""
        return max(1, abs(len(self.alt) - len(self.ref)))

    @property
    def end(self) -> int:
        """Last reference base (1-based, inclusive) the variant touches."""
        return self.pos + len(self.ref) - 1


def sample_seed(seed: int, sample_id: str) -> int:
    """Per-sample seed: stable across runs, Python versions and sample counts, never 0."""
    digest = hashlib.sha256(f"seqflow-demo:{seed}:{sample_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2_000_000_000 + 1


def plan_variants(
    reference_fasta: Path,
    *,
    seed: int,
    mean_spacing: int = DEFAULT_MEAN_SPACING,
    min_variants: int = DEFAULT_MIN_VARIANTS,
    min_distance: int = DEFAULT_MIN_DISTANCE,
    edge_margin: int = DEFAULT_EDGE_MARGIN,
    indel_fraction: float = DEFAULT_INDEL_FRACTION,
    max_indel: int = DEFAULT_MAX_INDEL,
) -> list[Variant]:
    """Draw a deterministic truth set for ``reference_fasta`` (indexed with ``.fai``).

    The genome gets ``max(min_variants, genome_length // mean_spacing)`` variants;
    ``indel_fraction`` of them are indels, split evenly between insertions and
    deletions, with lengths from 1 to ``max_indel`` (shorter ones likelier).
    Returned sorted by contig (FASTA order) and position.

    Raises:
        ValueError: a parameter is out of range, or the genome is too small to
            hold that many variants at that spacing.
    """
    if mean_spacing < 1 or min_variants < 0 or min_distance < 1 or edge_margin < 0:
        raise ValueError("mean_spacing and min_distance must be >= 1; min_variants, edge_margin >= 0")
    if not 0.0 <= indel_fraction <= 1.0:
        raise ValueError(f"indel_fraction must be within [0, 1], got {indel_fraction}")
    if not 1 <= max_indel <= 50:
        raise ValueError(f"max_indel must be within [1, 50], got {max_indel}")
    rng = random.Random(seed)
    lengths = contig_lengths(Path(reference_fasta))
    # a contig is usable where a variant plus its longest deletion stays inside the margins
    usable = {c: n - 2 * edge_margin - max_indel for c, n in lengths.items() if n - 2 * edge_margin - max_indel > 0}
    if not usable:
        raise ValueError(f"{reference_fasta}: every contig is shorter than twice the edge margin ({edge_margin} bp)")
    total = sum(lengths.values())
    wanted = max(min_variants, total // mean_spacing)
    n_indel = round(wanted * indel_fraction)
    kinds = ["INS"] * (n_indel // 2) + ["DEL"] * (n_indel - n_indel // 2) + ["SNP"] * (wanted - n_indel)
    rng.shuffle(kinds)
    indel_sizes = list(range(1, max_indel + 1))
    size_weights = [1.0 / k for k in indel_sizes]

    contigs = list(usable)
    cum_weights = []
    acc = 0
    for c in contigs:
        acc += usable[c]
        cum_weights.append(acc)

    placed: dict[str, list[tuple[int, int]]] = {c: [] for c in contigs}  # sorted (start, end)
    chosen: list[Variant] = []
    with pysam.FastaFile(os.fspath(reference_fasta)) as fasta:
        sequences = {c: fasta.fetch(c).upper() for c in contigs}
        attempts = 0
        max_attempts = 200 * wanted + 1000
        for kind in kinds:
            size = 1 if kind == "SNP" else rng.choices(indel_sizes, weights=size_weights)[0]
            while True:
                attempts += 1
                if attempts > max_attempts:
                    raise ValueError(
                        f"{reference_fasta}: could not place {wanted} variants {min_distance} bp apart "
                        f"(placed {len(chosen)}); lower min_variants or min_distance"
                    )
                contig = rng.choices(contigs, cum_weights=cum_weights)[0]
                pos = edge_margin + 1 + rng.randrange(usable[contig])  # 1-based
                variant = _make_variant(rng, contig, sequences[contig], pos, kind, size)
                if variant is None or not _has_room(placed[contig], variant, min_distance):
                    continue
                bisect.insort(placed[contig], (variant.pos, variant.end))
                chosen.append(variant)
                break
    order = {c: i for i, c in enumerate(lengths)}
    return sorted(chosen, key=lambda v: (order[v.chrom], v.pos))


def _make_variant(rng: random.Random, contig: str, seq: str, pos: int, kind: str, size: int) -> Variant | None:
    """A normalised variant of ``kind`` at ``pos``, or None where the context does not allow one."""
    i = pos - 1  # 0-based index of the first (anchor) base
    anchor = seq[i]
    if anchor not in BASES:
        return None
    if kind == "SNP":
        return Variant(contig, pos, anchor, rng.choice([b for b in BASES if b != anchor]))
    if kind == "DEL":
        ref = seq[i:i + size + 1]
        # left-aligned only if the last deleted base differs from the anchor
        if len(ref) != size + 1 or any(b not in BASES for b in ref) or ref[-1] == anchor:
            return None
        return Variant(contig, pos, ref, anchor)
    inserted = "".join(rng.choice(BASES) for _ in range(size - 1))
    inserted += rng.choice([b for b in BASES if b != anchor])  # keeps the insertion left-aligned
    if seq[i + 1:i + 1 + size] == inserted:  # a tandem copy would be ambiguous to place
        return None
    return Variant(contig, pos, anchor, anchor + inserted)


def _has_room(placed: list[tuple[int, int]], variant: Variant, min_distance: int) -> bool:
    """True when ``variant`` is at least ``min_distance`` bp from its placed neighbours."""
    k = bisect.bisect_left(placed, (variant.pos, variant.end))
    if k > 0 and variant.pos - placed[k - 1][1] < min_distance:
        return False
    if k < len(placed) and placed[k][0] - variant.end < min_distance:
        return False
    return True


def apply_variants(sequence: str, variants: Sequence[Variant]) -> str:
    """The sequence with ``variants`` (one contig, sorted, non-overlapping) applied."""
    pieces: list[str] = []
    cursor = 0  # 0-based index of the next reference base not yet copied
    for v in variants:
        start = v.pos - 1
        if start < cursor:
            raise ValueError(f"overlapping or unsorted variants at {v.chrom}:{v.pos}")
        if sequence[start:start + len(v.ref)].upper() != v.ref.upper():
            raise ValueError(f"REF {v.ref} does not match the reference at {v.chrom}:{v.pos}")
        pieces.append(sequence[cursor:start])
        pieces.append(v.alt)
        cursor = start + len(v.ref)
    pieces.append(sequence[cursor:])
    return "".join(pieces)


def write_mutated_genome(reference_fasta: Path, variants: Iterable[Variant], out_fasta: Path) -> Path:
    """Write the reference with ``variants`` applied (same contig names) to ``out_fasta``."""
    by_contig: dict[str, list[Variant]] = {}
    for v in variants:
        by_contig.setdefault(v.chrom, []).append(v)
    out_fasta = Path(out_fasta)
    tmp = make_temp_file(out_fasta)
    try:
        with pysam.FastaFile(os.fspath(reference_fasta)) as fasta, open(tmp, "w", encoding="ascii") as out:
            unknown = set(by_contig) - set(fasta.references)
            if unknown:
                raise ValueError(f"variants on contigs missing from {reference_fasta}: {sorted(unknown)}")
            for contig in fasta.references:
                seq = apply_variants(fasta.fetch(contig).upper(),
                                     sorted(by_contig.get(contig, []), key=lambda v: v.pos))
                out.write(f">{contig}\n")
                for i in range(0, len(seq), FASTA_LINE_WIDTH):
                    out.write(seq[i:i + FASTA_LINE_WIDTH])
                    out.write("\n")
        os.replace(tmp, out_fasta)
    finally:
        tmp.unlink(missing_ok=True)
    return out_fasta


def vcf_text(variants: Iterable[Variant], *, reference_fasta: Path, sample_id: str,
             source: str = "seqflow.demo.mutate") -> str:
    """The truth set as VCF 4.2 text (sorted, GT ``1/1``, contig lines from the ``.fai``)."""
    lengths = contig_lengths(Path(reference_fasta))
    order = {c: i for i, c in enumerate(lengths)}
    lines = [
        "##fileformat=VCFv4.2",
        f"##source={source}",
        f"##reference={Path(reference_fasta).name}",
        *(f"##contig=<ID={c},length={n}>" for c, n in lengths.items()),
        '##INFO=<ID=VT,Number=1,Type=String,Description="Planted variant type: SNP, INS or DEL">',
        '##INFO=<ID=LEN,Number=1,Type=Integer,Description="Bases substituted, inserted or deleted">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", sample_id]),
    ]
    for v in sorted(variants, key=lambda v: (order[v.chrom], v.pos)):
        if v.chrom not in lengths:
            raise ValueError(f"variant on unknown contig {v.chrom!r}")
        lines.append("\t".join([v.chrom, str(v.pos), ".", v.ref, v.alt, ".", "PASS",
                                f"VT={v.kind};LEN={v.length}", "GT", "1/1"]))
    return "\n".join(lines) + "\n"


def write_truth_vcf(variants: Iterable[Variant], out_vcf_gz: Path, *, reference_fasta: Path,
                    sample_id: str, seed: int | None = None) -> Path:
    """Write a bgzipped, tabix-indexed truth VCF to ``out_vcf_gz`` (``.tbi`` beside it)."""
    out_vcf_gz = Path(out_vcf_gz)
    if not out_vcf_gz.name.endswith(".vcf.gz"):
        raise ValueError(f"truth VCF name must end in .vcf.gz: {out_vcf_gz}")
    source = "seqflow.demo.mutate" + (f" seed={seed}" if seed is not None else "")
    text = vcf_text(variants, reference_fasta=reference_fasta, sample_id=sample_id, source=source)
    tmp_plain = make_temp_file(out_vcf_gz.with_name(out_vcf_gz.name[:-3]))
    tmp_gz = Path(f"{tmp_plain}.gz")
    try:
        tmp_plain.write_text(text, encoding="ascii")
        pysam.tabix_index(os.fspath(tmp_plain), preset="vcf", force=True, keep_original=False)
        os.replace(tmp_gz, out_vcf_gz)
        os.replace(f"{tmp_gz}.tbi", f"{out_vcf_gz}.tbi")
    finally:
        for leftover in (tmp_plain, tmp_gz, Path(f"{tmp_gz}.tbi")):
            leftover.unlink(missing_ok=True)
    return out_vcf_gz


def make_truth_set(
    reference_fasta: Path,
    out_vcf_gz: Path,
    out_genome_fasta: Path,
    *,
    sample_id: str,
    seed: int,
    **density,
) -> list[Variant]:
    """Plan a truth set for one sample and write its VCF and mutated genome.

    ``seed`` is the run seed; the sample's own seed is :func:`sample_seed` of it
    and ``sample_id``, so samples differ and each is reproducible on its own.
    ``density`` takes the keyword arguments of :func:`plan_variants`.
    """
    variants = plan_variants(reference_fasta, seed=sample_seed(seed, sample_id), **density)
    write_truth_vcf(variants, out_vcf_gz, reference_fasta=reference_fasta, sample_id=sample_id, seed=seed)
    write_mutated_genome(reference_fasta, variants, out_genome_fasta)
    return variants
