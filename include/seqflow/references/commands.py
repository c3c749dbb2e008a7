"""``seqflow reference add|list|show|remove``: the reference catalogue by hand."""

from __future__ import annotations

import argparse
import json
import logging
import time


def register(subparsers) -> None:
    """Add ``seqflow reference`` and its subcommands."""
    p = subparsers.add_parser(
        "reference", help="register, list, show or remove reference genomes (the reference catalogue)",
        description="The reference catalogue: the genomes runs can be aligned to. "
                    "Locally under <SEQFLOW_HOME>/references/, on AWS under s3://<raw bucket>/references/.",
    )
    sub = p.add_subparsers(dest="reference_command", metavar="ACTION", required=True)

    add = sub.add_parser(
        "add", help="register a genome: check and normalise its FASTA, checksum every sequence, build the indexes",
        description="Register a reference genome. The FASTA (plain, gzip or bgzip) is checked (FASTA format, "
                    "no duplicate or empty contigs, IUPAC codes only), stored normalised with its .fai, an MD5 per "
                    "sequence (as SAM M5 / refget), a bcftools ploidy file, and the aligner indexes "
                    "(local profile; on AWS the command prints the Batch job that builds them).",
    )
    add.add_argument("name", help="reference name: letters, digits, '.', '_', '-' (e.g. GRCh38, sacCer3)")
    add.add_argument("--fasta", required=True, metavar="PATH|URI",
                     help="a local path, file:///path, s3://bucket/key (aws profile) or deb://package/path")
    add.add_argument("--ploidy", action="append", default=[], metavar="N|CONTIG=N",
                     help="default ploidy (1 or 2; default 2) and whole-contig exceptions, repeatable: "
                          "--ploidy 2 --ploidy chrM=1")
    add.add_argument("--description", default="", help="free text shown by list/show")
    add.add_argument("--aligner", action="append", default=None, metavar="ALIGNER",
                     help="build the index of this aligner only (repeatable; default: every aligner)")
    add.add_argument("--replace", action="store_true", help="replace a reference already registered under NAME")
    add.add_argument("--debug", action="store_true", help="show tracebacks")
    add.set_defaults(handler=add_reference)

    ls = sub.add_parser("list", help="the registered references")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=list_references)

    show = sub.add_parser("show", help="one reference: source, ploidy, contigs with lengths and MD5s, indexes")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_reference)

    default = sub.add_parser("default", help="show or set the deployment's default reference",
                             description="The reference of runs whose trigger and sample sheet name none. "
                                         "Without NAME: show it.")
    default.add_argument("name", nargs="?")
    default.add_argument("--unset", action="store_true", help="no default: such runs stop at plan")
    default.set_defaults(handler=default_reference)

    mapping = sub.add_parser(
        "map", help="map a sample-sheet value to a reference (e.g. Sample_Project CancerWGS GRCh38)",
        description="Samples whose data row has FIELD = VALUE (a column such as Sample_Project), or whose sheet "
                    "has <Section>.<Key> = VALUE (e.g. DragenGermline_Settings.ReferenceGenomeDir), are aligned "
                    "to REFERENCE unless the trigger names one. --unset removes the rule.",
    )
    mapping.add_argument("field")
    mapping.add_argument("value")
    mapping.add_argument("reference", nargs="?")
    mapping.add_argument("--unset", action="store_true")
    mapping.set_defaults(handler=map_reference)

    rm = sub.add_parser("remove", help="unregister a reference and delete its files (results are kept)")
    rm.add_argument("name")
    rm.set_defaults(handler=remove_reference)


def add_reference(args: argparse.Namespace) -> int:
    from seqflow.analysis.steps import ALIGNERS
    from seqflow.references import Ploidy, reference_catalog

    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(message)s")
    catalog = reference_catalog()
    started = time.monotonic()
    ref = catalog.add(args.name, args.fasta, ploidy=Ploidy.parse(args.ploidy), description=args.description,
                      aligners=tuple(args.aligner or ALIGNERS), replace=args.replace)
    print(f"registered {ref.name}: {len(ref.contigs)} contig(s), {ref.total_length:,} bp, "
          f"ploidy {_ploidy_text(ref)} ({time.monotonic() - started:.1f} s)")
    print(f"  fasta: {ref.fasta}")
    for line in getattr(catalog, "pending_index_commands", lambda _ref: [])(ref):
        print(line)
    return 0


def _ploidy_text(ref) -> str:
    extra = ", ".join(f"{c}={p}" for c, p in ref.ploidy.contigs.items())
    return f"{ref.ploidy.default}" + (f" ({extra})" if extra else "")


def list_references(args: argparse.Namespace) -> int:
    from seqflow.references import reference_catalog

    catalog = reference_catalog()
    refs = catalog.list()
    if args.json:
        print(json.dumps({
            "references": [json.loads(r.to_json()) | {"location": r.location} for r in refs],
            "rules": json.loads(catalog.rules().to_json()),
        }, indent=1))
        return 0
    if not refs:
        from seqflow.references import add_command_hint

        print(f"no references registered; add one with: {add_command_hint()}")
        return 0
    width = max(len(r.name) for r in refs)
    print(f"{'name':<{width}}  {'contigs':>7}  {'length (bp)':>13}  ploidy  source")
    for r in refs:
        print(f"{r.name:<{width}}  {len(r.contigs):>7}  {r.total_length:>13,}  {_ploidy_text(r):<6}  {r.source}")
    rules = catalog.rules()
    print(f"default: {rules.default or '(none)'}")
    for rule in rules.mapping:
        print(f"map:     {rule.describe()} -> {rule.reference}")
    return 0


def show_reference(args: argparse.Namespace) -> int:
    from seqflow.references import reference_catalog

    catalog = reference_catalog()
    ref = catalog.require(args.name)
    indexes = catalog.indexes(ref)
    if args.json:
        print(json.dumps(json.loads(ref.to_json()) | {"location": ref.location, "indexes": indexes}, indent=1))
        return 0
    print(f"name:        {ref.name}")
    if ref.description:
        print(f"description: {ref.description}")
    print(f"source:      {ref.source}")
    print(f"added:       {ref.added_at}")
    print(f"fasta:       {ref.fasta}")
    print(f"ploidy:      {_ploidy_text(ref)}   (file {ref.ploidy_file})")
    print("indexes:     " + ", ".join(f"{a} {'yes' if ok else 'not built'}" for a, ok in indexes.items()))
    print(f"contigs:     {len(ref.contigs)}, {ref.total_length:,} bp")
    for c in ref.contigs[:50]:
        print(f"  {c.name:<24} {c.length:>12,}  M5 {c.md5}")
    if len(ref.contigs) > 50:
        print(f"  … {len(ref.contigs) - 50} more (--json lists all)")
    return 0


def default_reference(args: argparse.Namespace) -> int:
    from seqflow.references import reference_catalog

    catalog = reference_catalog()
    rules = catalog.rules()
    if args.unset or args.name:
        rules = rules.with_default(None if args.unset else args.name)
        catalog.save_rules(rules)
    print(f"default reference: {rules.default or '(none: runs that name no reference stop at plan)'}")
    return 0


def map_reference(args: argparse.Namespace) -> int:
    from seqflow.references import ReferenceError, reference_catalog
    from seqflow.references.resolve import MappingRule

    catalog = reference_catalog()
    if args.unset:
        catalog.save_rules(catalog.rules().without_rule(args.field, args.value))
        print(f"removed the mapping of {args.field}={args.value}")
        return 0
    if not args.reference:
        raise ReferenceError("give the REFERENCE to map to (or --unset)")
    catalog.save_rules(catalog.rules().with_rule(MappingRule(args.field, args.value, args.reference)))
    print(f"{args.field}={args.value} -> {args.reference}")
    return 0


def remove_reference(args: argparse.Namespace) -> int:
    from seqflow.references import reference_catalog

    ref = reference_catalog().remove(args.name)
    print(f"removed reference {ref.name} ({ref.location}); results analysed with it are kept")
    return 0
