"""Demo data from real genomes: reference fetch, truth sets, reads, run folders, scoring.

The local profile needs sequencer runs to ingest. This package builds them from
small real genomes shipped in Debian data packages (lambda phage, E. coli K-12
MG1655): a seeded truth set of SNPs and indels per sample, paired reads simulated
from the mutated genome with ``wgsim``, and an Illumina-style run folder that
appears atomically on the landing share with its completion flag written last.
The truth VCFs are kept beside the run (never inside it) so that the calls of the
pipeline can be scored against them (:mod:`seqflow.demo.scoring`).
"""
