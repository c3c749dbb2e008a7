"""Real human reads from a Debian data package, with the reference they cover rebuilt exactly.

Besides a 12-kb GIAB piece (:mod:`seqflow.demo.giab_tiny`), Debian ships no human truth set and no
human reference with real reads on it (the human
FASTAs in data packages, chr20 in ``vt-examples`` and part of chrX in ``smalt-examples``,
carry no real reads; the real human BAMs carry no reference). One package comes close:
``nim-hts-examples`` ships ``HG02002.bam``, 4,109 real Illumina reads of the 1000 Genomes
sample HG02002 (101 bp pairs from BCM, runs SRR741409/SRR741410) on hs37d5 chromosome 6
around 32.77-32.82 Mb (the HLA class II region, ~8.7x), as the 1000 Genomes pipeline left
them: ``bwa aln``/``sampe``, GATK indel realignment and base recalibration, ``samtools
fillmd``. Every read has its MD tag, so its CIGAR and MD give the reference bases it covers:
the region's hs37d5 sequence is rebuilt from them, exactly, with N where no read lies.

:func:`build_region` writes that reference (one contig, :data:`CONTIG`, position 1 =
hs37d5 6:``offset + 1``), its diploid ploidy file, the reads as paired FASTQs (what the
pipeline starts from) and the original alignment re-based onto the contig (what
:func:`read_count_truth` reads). :func:`read_count_truth` is the best truth this data
allows, and is not GIAB: the variants the original 1000 Genomes alignment shows by read
counts alone, without any caller's model (bench/README.md says what that means).
"""

from __future__ import annotations

import gzip
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pysam

from seqflow.references.sources import cached_deb, read_deb_member

PACKAGE = "nim-hts-examples"
MEMBER = "usr/share/doc/nim-hts-examples/HG02002.bam.gz"
SAMPLE = "HG02002"
#: the contig of the rebuilt reference
CONTIG = "hs37d5_6_hla"
SOURCE_CONTIG = "6"


@dataclass(frozen=True)
class HumanRegion:
    """The files :func:`build_region` wrote."""

    fasta: Path
    ploidy: Path
    r1: Path
    r2: Path
    #: the 1000 Genomes alignment, on :data:`CONTIG`
    original_bam: Path
    #: hs37d5 chromosome 6 position of the contig's position 0
    offset: int
    #: bases the reads cover (not N)
    covered: int
    read_pairs: int


def fetch_bam(cache: Path) -> Path:
    """``HG02002.bam`` from the Debian package (downloaded with ``apt-get download`` into ``cache`` once)."""
    target = cache / "HG02002.bam"
    if not target.is_file():
        raw = gzip.decompress(read_deb_member(cached_deb(PACKAGE, cache), MEMBER))
        tmp = target.with_suffix(".bam.tmp")
        tmp.write_bytes(raw)
        tmp.replace(target)
    return target


def reference_from_md(bam: Path, contig: str = SOURCE_CONTIG) -> tuple[int, str]:
    """``(offset, sequence)``: the reference under the reads of ``contig``, from their CIGARs and MD tags.

    Position ``offset + i`` (0-based) of ``contig`` is ``sequence[i]``; N where no read lies. Two
    reads that disagree about a reference base mean the MD tags are not the reference's: ValueError.
    """
    bases: dict[int, str] = {}
    with pysam.AlignmentFile(str(bam)) as aln:
        for read in aln.fetch(contig) if aln.has_index() else aln:
            if read.is_unmapped or read.reference_name != contig or not read.has_tag("MD"):
                continue
            ref = read.get_reference_sequence().upper()
            for (_, pos), base in zip((p for p in read.get_aligned_pairs(matches_only=False, with_seq=False)
                                       if p[1] is not None), ref):
                seen = bases.setdefault(pos, base)
                if seen != base:
                    raise ValueError(f"{bam}: reads disagree on the reference base at {contig}:{pos + 1}")
    if not bases:
        raise ValueError(f"{bam}: no read with an MD tag on contig {contig}")
    start, end = min(bases), max(bases) + 1
    return start, "".join(bases.get(p, "N") for p in range(start, end))


def _write_fasta(path: Path, name: str, sequence: str, width: int = 60) -> None:
    with open(path, "w", encoding="ascii") as out:
        out.write(f">{name}\n")
        for i in range(0, len(sequence), width):
            out.write(sequence[i:i + width] + "\n")
    pysam.faidx(str(path))


def build_region(dest: Path, cache: Path) -> HumanRegion:
    """Write the region's reference, ploidy file, FASTQs and re-based original BAM into ``dest`` (idempotent)."""
    dest.mkdir(parents=True, exist_ok=True)
    bam = fetch_bam(cache)
    offset, sequence = reference_from_md(bam)
    fasta, ploidy = dest / f"{CONTIG}.fa", dest / f"{CONTIG}.ploidy"
    _write_fasta(fasta, CONTIG, sequence)
    ploidy.write_text("* * * * 2\n", encoding="ascii")

    original = dest / f"{SAMPLE}.original.bam"
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": CONTIG, "LN": len(sequence)}],
              "RG": [{"ID": SAMPLE, "SM": SAMPLE, "PL": "ILLUMINA"}]}
    names: Counter[str] = Counter()
    with pysam.AlignmentFile(str(bam)) as src, pysam.AlignmentFile(str(original), "wb", header=header) as out:
        for read in src:
            if read.reference_name != SOURCE_CONTIG or read.is_secondary or read.is_supplementary:
                continue
            rebased = pysam.AlignedSegment(out.header)
            rebased.query_name, rebased.flag = read.query_name, read.flag
            rebased.reference_id, rebased.reference_start = 0, read.reference_start - offset
            rebased.mapping_quality, rebased.cigartuples = read.mapping_quality, read.cigartuples
            mate_here = read.next_reference_name == SOURCE_CONTIG and read.next_reference_start >= offset
            rebased.next_reference_id = 0 if mate_here else -1
            rebased.next_reference_start = read.next_reference_start - offset if mate_here else -1
            rebased.template_length = read.template_length if mate_here else 0
            rebased.query_sequence, rebased.query_qualities = read.query_sequence, read.query_qualities
            rebased.set_tag("RG", SAMPLE)
            out.write(rebased)
            names[read.query_name] += 1
    pysam.index(str(original))

    # the pairs whose two reads are both here, as FASTQ (what a sequencer delivers)
    r1, r2 = dest / f"{SAMPLE}_R1.fastq.gz", dest / f"{SAMPLE}_R2.fastq.gz"
    collated = dest / ".collated.bam"
    subprocess.run(["samtools", "collate", "-f", "-o", str(collated), str(original)], check=True,
                   capture_output=True)
    subprocess.run(["samtools", "fastq", "-c", "1", "-s", "/dev/null", "-0", "/dev/null", "-1", str(r1), "-2",
                    str(r2), str(collated)], check=True, capture_output=True)
    collated.unlink()
    pairs = sum(1 for n in names.values() if n == 2)
    return HumanRegion(fasta, ploidy, r1, r2, original, offset, sum(1 for b in sequence if b != "N"), pairs)


@dataclass(frozen=True)
class Truth:
    vcf: Path
    #: BED of the positions the truth speaks for (depth >= min_depth of good reads)
    bed: Path
    confident_bases: int


def read_count_truth(original_bam: Path, fasta: Path, out_dir: Path, *, min_depth: int = 8,
                     min_mapq: int = 20, min_baseq: int = 20, min_fraction: float = 0.25,
                     min_reads: int = 3, hom_fraction: float = 0.8) -> Truth:
    """Variants the alignment shows by read counts alone: a VCF (GT 0/1 or 1/1) and its confident BED.

    A position is confident when at least ``min_depth`` reads of mapping quality >= ``min_mapq``
    cover it; an allele (base, insertion or deletion after it) is a variant there when at least
    ``min_reads`` such reads carry it and they are at least ``min_fraction`` of the depth (base
    quality >= ``min_baseq`` for bases); 1/1 from ``hom_fraction``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    ref = pysam.FastaFile(str(fasta))
    contig = ref.references[0]
    seq = ref.fetch(contig).upper()
    records: list[tuple[int, str, str, str]] = []
    confident: list[int] = []
    with pysam.AlignmentFile(str(original_bam)) as aln:
        for col in aln.pileup(contig, min_mapping_quality=min_mapq, min_base_quality=0, ignore_overlaps=False,
                              truncate=True, max_depth=100000):
            pos = col.reference_pos
            if seq[pos] == "N":
                continue
            alleles: Counter[tuple[str, str]] = Counter()
            depth = 0
            for pr in col.pileups:
                if pr.is_refskip:
                    continue
                depth += 1
                read = pr.alignment
                if not pr.is_del:
                    if read.query_qualities[pr.query_position] >= min_baseq:
                        base = read.query_sequence[pr.query_position].upper()
                        if base != seq[pos]:
                            alleles[(seq[pos], base)] += 1
                    if pr.indel > 0:
                        qp = pr.query_position
                        alleles[(seq[pos], seq[pos] + read.query_sequence[qp + 1:qp + 1 + pr.indel].upper())] += 1
                if pr.indel < 0 and not pr.is_del:
                    alleles[(seq[pos:pos + 1 - pr.indel], seq[pos])] += 1
            if depth < min_depth:
                continue
            confident.append(pos)
            for (r, a), n in sorted(alleles.items()):
                frac = n / depth
                if n >= min_reads and frac >= min_fraction and "N" not in r + a:
                    records.append((pos + 1, r, a, "1/1" if frac >= hom_fraction else "0/1"))
    bed = out_dir / "truth.confident.bed"
    with open(bed, "w", encoding="ascii") as out:
        run_start = prev = None
        for pos in confident:
            if run_start is None:
                run_start = prev = pos
            elif pos == prev + 1:
                prev = pos
            else:
                out.write(f"{contig}\t{run_start}\t{prev + 1}\n")
                run_start = prev = pos
        if run_start is not None:
            out.write(f"{contig}\t{run_start}\t{prev + 1}\n")
    text = ["##fileformat=VCFv4.2", f"##contig=<ID={contig},length={len(seq)}>",
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            f"##source=seqflow.demo.human_reads.read_count_truth(min_depth={min_depth},min_mapq={min_mapq},"
            f"min_baseq={min_baseq},min_fraction={min_fraction},min_reads={min_reads})",
            f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{SAMPLE}"]
    text += [f"{contig}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\tGT\t{gt}" for p, r, a, gt in records]
    plain = out_dir / "truth.vcf"
    plain.write_text("\n".join(text) + "\n", encoding="ascii")
    vcf = out_dir / "truth.vcf.gz"
    subprocess.run(["bcftools", "sort", "-Oz", "-o", str(vcf), str(plain)], check=True, capture_output=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(vcf)], check=True, capture_output=True)
    plain.unlink()
    return Truth(vcf, bed, len(confident))
