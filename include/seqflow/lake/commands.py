"""``seqflow vcf-to-parquet`` and ``seqflow query``."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    """Add the lake's subcommands to the ``seqflow`` parser."""
    p = subparsers.add_parser(
        "vcf-to-parquet",
        help="convert a VCF/BCF into the Parquet variant lake (atomic, idempotent)",
        description="Convert a VCF, VCF.gz or BCF into the lake and publish it atomically; "
        "converting the same analysis (run, pipeline version, reference, aligner, caller) and sample "
        "again replaces that data; other analyses are untouched.",
    )
    p.add_argument("vcf", help="input VCF, VCF.gz or BCF")
    p.add_argument("--lake", help="lake root (default: the local profile's lake)")
    p.add_argument("--run-id", required=True)
    p.add_argument("--sample-id", help="sample partition (default: every sample named in the VCF)")
    p.add_argument("--pipeline-version", help="default: seqflow.config.PIPELINE_VERSION")
    p.add_argument("--reference", required=True, help="reference genome name, e.g. GRCh38")
    p.add_argument("--aligner", required=True, help="aligner that produced the reads' alignments, e.g. bwa")
    p.add_argument("--caller", required=True, help="variant caller that produced the VCF, e.g. bcftools")
    p.add_argument("--table", default="variants")
    p.add_argument("--register", action="store_true", help="also register the partitions in the local catalog")
    p.add_argument("--catalog", help="DuckDB catalog (default: the local profile's)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(handler=_vcf_to_parquet)

    q = subparsers.add_parser(
        "query",
        help="run a named or ad-hoc SQL query on the lake (Athena SQL, run on DuckDB)",
        description="Run sql/<NAME>.sql or an ad-hoc Athena/Trino SQL statement against the local catalog.",
    )
    q.add_argument("query", nargs="?", help="query name or SQL text")
    q.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="query parameter (repeat)")
    q.add_argument("--list", action="store_true", help="list the named queries")
    q.add_argument("--format", choices=("table", "tsv", "json"), default="table")
    q.add_argument("--lake", help="lake root (default: the local profile's lake)")
    q.add_argument("--catalog", help="DuckDB catalog (default: the local profile's)")
    q.add_argument("--debug", action="store_true", help="show tracebacks")
    q.set_defaults(handler=_query)


def _vcf_to_parquet(args: argparse.Namespace) -> int:
    from seqflow.config import PIPELINE_VERSION, local_paths
    from seqflow.identity import AnalysisIdentity
    from seqflow.lake import convert_vcf_to_parquet

    identity = AnalysisIdentity(
        run_id=args.run_id,
        pipeline_version=args.pipeline_version or PIPELINE_VERSION,
        reference=args.reference,
        aligner=args.aligner,
        caller=args.caller,
    )
    lake = args.lake or local_paths().lake
    result = convert_vcf_to_parquet(args.vcf, lake, identity=identity, sample_id=args.sample_id, table=args.table)
    if args.register:
        from seqflow.catalog import register_partitions_duckdb

        register_partitions_duckdb(args.catalog or local_paths().catalog, lake, result)
    seconds = getattr(result, "seconds", 0.0) or 1e-9
    for p in result.partitions:
        print(f"{p.path(lake)}\t{p.rows} rows")
    print(
        f"{result.records} records, {result.rows} rows in {len(result.partitions)} partition(s), "
        f"{seconds:.1f} s ({result.records / seconds:,.0f} records/s)",
        file=sys.stderr,
    )
    return 0


def _parse_value(text: str):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def _query(args: argparse.Namespace) -> int:
    from seqflow.catalog import list_queries, run_query
    from seqflow.config import local_paths

    if args.list or not args.query:
        print("\n".join(list_queries()))
        return 0
    params = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--param {item!r} is not KEY=VALUE")
        params[key] = _parse_value(value)
    columns, rows = run_query(
        args.catalog or local_paths().catalog, args.lake or local_paths().lake, args.query, params or None
    )
    print(format_rows(columns, rows, args.format))
    return 0


def format_rows(columns: list[str], rows: list[tuple], fmt: str = "table") -> str:
    """Render a result as an aligned text table, TSV or JSON lines."""
    if fmt == "json":
        return "\n".join(json.dumps(dict(zip(columns, r)), default=str) for r in rows)
    cells = [["" if v is None else str(v) for v in r] for r in rows]
    if fmt == "tsv":
        return "\n".join(["\t".join(columns)] + ["\t".join(c) for c in cells])
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    out = [line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)
