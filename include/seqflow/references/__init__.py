"""Reference genomes: the catalogue (one owner of the list), FASTA checks, sources, resolution."""

from seqflow.references.catalog import (
    INDEX_SUFFIXES,
    LocalReferenceCatalog,
    Ploidy,
    Reference,
    ReferenceError,
    UnknownReference,
    add_command_hint,
    reference_catalog,
)
from seqflow.references.fasta import Contig, FastaError, simplify_contig_name

__all__ = [
    "INDEX_SUFFIXES",
    "Contig",
    "FastaError",
    "LocalReferenceCatalog",
    "Ploidy",
    "Reference",
    "ReferenceError",
    "UnknownReference",
    "add_command_hint",
    "reference_catalog",
    "simplify_contig_name",
]
