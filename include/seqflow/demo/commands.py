"""``seqflow make-demo-data`` and ``seqflow score``: demo runs and their scoring by hand."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the demo subcommands to the ``seqflow`` parser."""
    from seqflow.demo.references import DEMO_GENOMES  # light: no tool or network use at import

    make = subparsers.add_parser(
        "make-demo-data",
        help="build an Illumina-style demo run from a real genome on the local landing share",
        description=(
            "Plant a seeded truth set of SNPs and indels per sample in a small real genome, "
            "simulate paired 150-bp reads with wgsim and write the run folder (RunInfo.xml, "
            "SampleSheet.csv v2, FASTQs, CopyComplete.txt last) to the local profile's landing "
            "share; truth VCFs go to <SEQFLOW_HOME>/truth/<run>/."
        ),
    )
    make.add_argument("--reference", choices=sorted(DEMO_GENOMES), default="lambda",
                      help="genome to sample from (default: %(default)s)")
    make.add_argument("--date", type=_iso_date, default=None, metavar="YYYY-MM-DD",
                      help="run date, the date in the run folder name (default: today)")
    make.add_argument("--samples", type=int, default=2, metavar="N", help="number of samples (default: %(default)s)")
    make.add_argument("--coverage", type=float, default=30.0, metavar="X",
                      help="mean read depth per sample (default: %(default)s)")
    make.add_argument("--seed", type=int, default=42, metavar="S", help="random seed (default: %(default)s)")
    make.add_argument("--instrument", default="A01234", help="instrument ID (default: %(default)s)")
    make.add_argument("--run-number", type=int, default=1, metavar="N",
                      help="run counter, 1-9999 (default: %(default)s)")
    make.add_argument("--flowcell", default=None,
                      help="flow-cell ID, 9 upper-case alphanumerics (default: derived from date/instrument/run)")
    make.add_argument("--debug", action="store_true", help="show tracebacks")
    make.set_defaults(handler=make_demo_data)

    score = subparsers.add_parser(
        "score",
        help="score a called VCF against a truth VCF (precision, recall, F1)",
        description="Normalise both VCFs with bcftools norm (left-align, split multi-allelics) "
                    "and compare ALT alleles by (chrom, pos, ref, alt).",
    )
    score.add_argument("truth_vcf", type=Path, help="truth VCF (e.g. <SEQFLOW_HOME>/truth/<run>/<sample>.truth.vcf.gz)")
    score.add_argument("called_vcf", type=Path, help="VCF to score")
    score.add_argument("reference_fasta", type=Path, help="reference FASTA both VCFs refer to (with .fai)")
    score.add_argument("--sample", default=None, help="sample column of the called VCF (default: the first)")
    score.add_argument("--all-filters", action="store_true", help="also count calls that did not PASS")
    score.add_argument("--json", action="store_true", help="print JSON instead of a table")
    score.add_argument("--debug", action="store_true", help="show tracebacks")
    score.set_defaults(handler=score_command)


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def make_demo_data(args: argparse.Namespace) -> int:
    """Handler of ``seqflow make-demo-data``."""
    from seqflow.config import local_paths
    from seqflow.demo.runfolder import generate_run

    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    paths = local_paths()
    started = time.monotonic()
    run_dir = generate_run(
        paths.landing, paths.truth, paths.references,
        reference=args.reference, run_date=args.date or dt.date.today(),
        instrument=args.instrument, run_number=args.run_number, flowcell=args.flowcell,
        samples=args.samples, coverage=args.coverage, seed=args.seed,
    )
    print(f"run folder: {run_dir}")
    print(f"truth sets: {paths.truth / run_dir.name}")
    print(f"elapsed: {time.monotonic() - started:.1f} s")
    return 0


def score_command(args: argparse.Namespace) -> int:
    """Handler of ``seqflow score``."""
    from seqflow.demo.scoring import score_vcf_by_type

    scores = score_vcf_by_type(args.truth_vcf, args.called_vcf, args.reference_fasta,
                               sample=args.sample, pass_only=not args.all_filters)
    if args.json:
        print(json.dumps({kind: s.as_dict() for kind, s in scores.items()}, indent=2))
        return 0
    print(f"{'type':<6} {'TP':>7} {'FP':>7} {'FN':>7} {'precision':>10} {'recall':>8} {'F1':>8}")
    for kind, s in scores.items():
        print(f"{kind:<6} {s.tp:>7} {s.fp:>7} {s.fn:>7} {s.precision:>10.4f} {s.recall:>8.4f} {s.f1:>8.4f}")
    return 0
