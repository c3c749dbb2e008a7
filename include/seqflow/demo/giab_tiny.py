"""NA12878 on a piece of human chr22 with its GIAB truth calls: the real human truth set Debian ships.

The ``freebayes`` package's examples (``tiny/``) hold a 12,356-bp piece of GRCh37 chr22 (``q.fa``,
contig ``q``), real HiSeq X 2x151 reads of the Genome in a Bottle sample NA12878 on it (as a BAM) and
the GIAB calls of that piece (``NA12878.chr22.tiny.giab.vcf``). It is small (a few dozen truth
variants), so its precision and recall are coarse, but both the reads and the truth are real. The
end-to-end genome tests (tests/e2e/real_runs.py) and bench/caller_accuracy.py read it from here.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

from seqflow.references.sources import cached_deb, read_deb_member

PACKAGE = "freebayes"
TINY = "usr/share/doc/freebayes/examples/tiny"
SAMPLE = "NA12878"
#: the reference piece as a ``deb://`` URI (``seqflow reference add --fasta``)
FASTA_URI = f"deb://{PACKAGE}/{TINY}/q.fa"
CONTIG, CONTIG_LENGTH = "q", 12_356


def member(cache: Path, path: str) -> bytes:
    """A file of the package's examples (the .deb downloaded with ``apt-get download`` into ``cache`` once)."""
    return read_deb_member(cached_deb(PACKAGE, cache), f"{TINY}/{path}")


def write_fasta(dest: Path, cache: Path) -> Path:
    """The chr22 piece as ``dest`` (contig :data:`CONTIG`), indexed."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(member(cache, "q.fa"))
    subprocess.run(["samtools", "faidx", str(dest)], check=True, capture_output=True)
    return dest


def fastqs(work: Path, cache: Path) -> tuple[bytes, bytes]:
    """The reads as gzipped R1 and R2 FASTQ (the pairs of the BAM, primary alignments only)."""
    work.mkdir(parents=True, exist_ok=True)
    bam = work / "na12878.bam"
    bam.write_bytes(member(cache, "NA12878.chr22.tiny.bam"))
    r1, r2 = work / "r1.fq", work / "r2.fq"
    collate = subprocess.Popen(["samtools", "collate", "-u", "-O", str(bam)], stdout=subprocess.PIPE)
    subprocess.run(["samtools", "fastq", "-F", "0x900", "-1", str(r1), "-2", str(r2), "-s", "/dev/null",
                    "-0", "/dev/null", "-"], stdin=collate.stdout, check=True, capture_output=True)
    if collate.wait() != 0:
        raise RuntimeError(f"samtools collate of {bam} exited with {collate.returncode}")
    return gzip.compress(r1.read_bytes()), gzip.compress(r2.read_bytes())


def truth_vcf(dest: Path, cache: Path) -> Path:
    """The GIAB calls of the piece as a bgzipped, indexed VCF on contig :data:`CONTIG`.

    The shipped VCF names b37's contigs in its header, not ``q``, and uses INFO tags
    it does not declare: the truth needs only the sites and genotypes, so the header
    is rebuilt for ``q`` and INFO and FORMAT keep nothing but GT.
    """
    text = member(cache, "NA12878.chr22.tiny.giab.vcf").decode()
    lines = []
    for line in text.splitlines():
        if line.startswith(("##contig", "##INFO", "##FORMAT")):
            continue
        if not line.startswith("#"):
            fields = line.split("\t")
            line = "\t".join(fields[:7] + [".", "GT", fields[9].split(":")[0]])
        lines.append(line)
    lines.insert(1, '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    header_end = next(i for i, line in enumerate(lines) if line.startswith("#CHROM"))
    lines.insert(header_end, f"##contig=<ID={CONTIG},length={CONTIG_LENGTH}>")
    dest.parent.mkdir(parents=True, exist_ok=True)
    plain = dest.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    subprocess.run(["bcftools", "view", "-Oz", "-o", str(dest), str(plain)], check=True, capture_output=True)
    subprocess.run(["bcftools", "index", "-f", "-t", str(dest)], check=True, capture_output=True)
    plain.unlink()
    return dest
