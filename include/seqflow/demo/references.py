"""The demo's genomes: two small real genomes from Debian data packages, registered in the catalogue.

The reference catalogue (:mod:`seqflow.references`) is the one list of the
genomes seqflow analyses; this module only knows where the demo's two come
from (a ``deb://`` source) and registers them there on first use, as a user
registers theirs with ``seqflow reference add``. The demo run generator needs
a sample-name prefix per genome, which is demo data, not reference data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqflow.references.catalog import LocalReferenceCatalog, Ploidy
from seqflow.references.fasta import FASTA_LINE_WIDTH

__all__ = ["DEMO_DEFAULT_GENOME", "DEMO_GENOMES", "FASTA_LINE_WIDTH", "DemoGenome", "contig_lengths", "demo_genome",
           "ensure_demo_reference"]


@dataclass(frozen=True)
class DemoGenome:
    """A genome the demo can build runs from."""

    name: str
    description: str
    #: ``deb://<package>/<path of the gzipped FASTA inside the package>``
    source: str
    #: prefix of demo sample IDs on this genome (``EC`` -> ``EC-S01``)
    sample_prefix: str
    ploidy: int = 1


DEMO_GENOMES: dict[str, DemoGenome] = {
    "lambda": DemoGenome(
        name="lambda",
        description="Enterobacteria phage lambda, complete genome (NC_001416.1, 48.5 kb)",
        source="deb://bowtie2-examples/usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz",
        sample_prefix="LAM",
    ),
    "ecoli_k12_mg1655": DemoGenome(
        name="ecoli_k12_mg1655",
        description="Escherichia coli K-12 substr. MG1655, complete chromosome (4.6 Mb)",
        source="deb://ragout-examples/usr/share/doc/ragout/examples/E.Coli/references/MG1655-K12.fasta.gz",
        sample_prefix="EC",
    ),
}


#: the genome of `make demo` (E. coli: big enough to show depth and F1, small enough for minutes)
DEMO_DEFAULT_GENOME = "ecoli_k12_mg1655"


def demo_genome(name: str) -> DemoGenome:
    """The demo genome ``name``; ValueError naming the known ones if unknown."""
    try:
        return DEMO_GENOMES[name]
    except KeyError:
        known = ", ".join(sorted(DEMO_GENOMES))
        raise ValueError(f"unknown demo genome {name!r}; the demo builds runs from: {known}") from None


def ensure_demo_reference(name: str, references_root: Path, *, aligners: tuple[str, ...] = ("bwa",)) -> Path:
    """Register the demo genome ``name`` in the catalogue at ``references_root`` (once); return its FASTA.

    Idempotent and safe from parallel processes (the catalogue locks per name):
    a registered genome is not fetched or rewritten.
    """
    genome = demo_genome(name)
    catalog = LocalReferenceCatalog(references_root)
    ref = catalog.get(name)
    if ref is None:
        try:
            ref = catalog.add(name, genome.source, ploidy=Ploidy(genome.ploidy), description=genome.description,
                              aligners=aligners)
        except Exception:
            ref = catalog.get(name)  # a parallel process registered it first
            if ref is None:
                raise
    return Path(ref.fasta)


def contig_lengths(fasta: Path) -> dict[str, int]:
    """Contig names and lengths from the ``.fai`` beside ``fasta``, in file order."""
    lengths: dict[str, int] = {}
    with open(f"{fasta}.fai", encoding="ascii") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            lengths[fields[0]] = int(fields[1])
    return lengths
