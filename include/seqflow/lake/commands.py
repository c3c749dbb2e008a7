"""``seqflow vcf-to-parquet``, ``seqflow query`` and ``seqflow lake migrate|snapshots|expire``."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    """Add the lake's subcommands to the ``seqflow`` parser."""
    p = subparsers.add_parser(
        "vcf-to-parquet",
        help="convert a VCF/BCF into the Iceberg variant lake (one atomic commit, idempotent)",
        description="Convert a VCF, VCF.gz or BCF and publish its samples to the lake's variants table "
        "in one Iceberg commit; converting the same analysis (run, pipeline version, reference, aligner, "
        "caller) and sample again replaces those rows; other analyses are untouched.",
    )
    p.add_argument("vcf", help="input VCF, VCF.gz or BCF")
    p.add_argument("--lake", help="lake root (default: the local profile's lake)")
    p.add_argument("--run-id", required=True)
    p.add_argument("--sample-id", help="sample id (default: every sample named in the VCF)")
    p.add_argument("--pipeline-version", help="default: seqflow.config.PIPELINE_VERSION")
    p.add_argument("--reference", required=True, help="reference genome name, e.g. GRCh38")
    p.add_argument("--aligner", required=True, help="aligner that produced the reads' alignments, e.g. bwa")
    p.add_argument("--caller", required=True, help="variant caller that produced the VCF, e.g. bcftools")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(handler=_vcf_to_parquet)

    q = subparsers.add_parser(
        "query",
        help="run a named or ad-hoc SQL query on the lake (Athena SQL, run read-only on DuckDB)",
        description="Run sql/<NAME>.sql or one ad-hoc Athena/Trino SELECT against the local lake's Iceberg "
        "tables. Only queries over the lake's tables and views are run: no COPY, ATTACH, INSTALL, LOAD, "
        "SET or writes, no file-reading functions, one statement at a time.",
    )
    q.add_argument("query", nargs="?", help="query name or SQL text")
    q.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="query parameter (repeat)")
    q.add_argument("--list", action="store_true", help="list the named queries")
    q.add_argument("--format", choices=("table", "tsv", "json"), default="table")
    q.add_argument("--lake", help="lake root (default: the local profile's lake)")
    q.add_argument("--as-of", metavar="TIME", help="read the tables as they were then (ISO time or epoch ms)")
    q.add_argument("--debug", action="store_true", help="show tracebacks")
    q.set_defaults(handler=_query)

    lk = subparsers.add_parser("lake", help="the lake's Iceberg tables: snapshots, their expiry, migration of a Hive-layout lake")
    sub = lk.add_subparsers(dest="lake_command", required=True)
    m = sub.add_parser(
        "migrate",
        help="copy a lake of the earlier Hive layout (<lake>/<table>/run_id=…/…/sample_id=…/) into the Iceberg tables",
        description="One Iceberg commit per analysis; re-running skips nothing and duplicates nothing "
        "(each analysis's rows are replaced). The Hive folders are left in place unless --remove.",
    )
    m.add_argument("--lake", help="lake root (default: the local profile's lake)")
    m.add_argument("--from", dest="source", help="root of the Hive-layout lake (default: the lake root)")
    m.add_argument("--remove", action="store_true", help="delete each Hive partition once its analysis is committed")
    m.add_argument("--debug", action="store_true", help="show tracebacks")
    m.set_defaults(handler=_migrate)
    s = sub.add_parser("snapshots", help="list a table's snapshots (for --as-of)")
    s.add_argument("table", nargs="?", default="variants")
    s.add_argument("--lake", help="lake root (default: the local profile's lake)")
    s.add_argument("--format", choices=("table", "tsv", "json"), default="table")
    s.add_argument("--debug", action="store_true", help="show tracebacks")
    s.set_defaults(handler=_snapshots)
    e = sub.add_parser(
        "expire",
        help="expire old snapshots of the lake's tables (ends time travel to them; the current one is kept)",
        description="In each table, remove the snapshots older than --older-than days from its metadata, "
        "except the --retain-last newest (the current snapshot is always kept): one Iceberg commit per table. "
        "Readers of the current snapshot are unaffected; --as-of a time before the oldest kept snapshot "
        "then reads no rows. The expired snapshots' files are not deleted (no orphan-file sweep yet).",
    )
    e.add_argument("--older-than", type=float, required=True, metavar="DAYS", help="expire snapshots older than this")
    e.add_argument("--retain-last", type=int, default=1, metavar="N", help="keep at least the N newest (default 1)")
    e.add_argument("--table", action="append", choices=("variants", "qc_metrics", "step_costs"),
                   help="only this table (repeat; default: both)")
    e.add_argument("--dry-run", action="store_true", help="list what would be expired, commit nothing")
    e.add_argument("--lake", help="lake root (default: the local profile's lake)")
    e.add_argument("--debug", action="store_true", help="show tracebacks")
    e.set_defaults(handler=_expire)


def _lake(args):
    from seqflow.config import local_paths
    from seqflow.lake.iceberg import Lake

    return Lake.local(args.lake or local_paths().lake)


def _vcf_to_parquet(args: argparse.Namespace) -> int:
    from seqflow.config import PIPELINE_VERSION
    from seqflow.identity import AnalysisIdentity
    from seqflow.lake import publish_vcf

    identity = AnalysisIdentity(
        run_id=args.run_id,
        pipeline_version=args.pipeline_version or PIPELINE_VERSION,
        reference=args.reference,
        aligner=args.aligner,
        caller=args.caller,
    )
    result = publish_vcf(args.vcf, _lake(args), identity=identity, sample_id=args.sample_id)
    seconds = getattr(result, "seconds", 0.0) or 1e-9
    for p in result.partitions:
        print(f"{p.sample_id}\t{p.rows} rows")
    print(
        f"{result.records} records, {result.rows} rows of {len(result.partitions)} sample(s) in snapshot "
        f"{result.snapshot_id}, {seconds:.1f} s ({result.records / seconds:,.0f} records/s)",
        file=sys.stderr,
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from seqflow.config import local_paths
    from seqflow.lake.migrate import migrate_hive_lake

    root = args.lake or local_paths().lake
    report = migrate_hive_lake(args.source or root, _lake(args), remove=args.remove)
    for line in report.lines():
        print(line)
    return 0


def _snapshots(args: argparse.Namespace) -> int:
    from seqflow.lake.iceberg import snapshots

    lake = _lake(args)
    rows = snapshots(lake.table(args.table)) if lake.exists(args.table) else []
    columns = ["snapshot_id", "committed_at", "operation", "added-records", "deleted-records", "total-records",
               "seqflow.run_id", "seqflow.pipeline_version", "seqflow.sample_id"]
    import datetime as dt

    for r in rows:
        r["committed_at"] = dt.datetime.fromtimestamp(r["timestamp_ms"] / 1000, dt.timezone.utc).isoformat()
    print(format_rows(columns, [tuple(r.get(c) for c in columns) for r in rows], args.format))
    return 0


def _expire(args: argparse.Namespace) -> int:
    from seqflow.lake.expire import expire_snapshots
    from seqflow.lake.iceberg import TABLES

    if args.retain_last < 1:
        raise ValueError(f"--retain-last must be at least 1, not {args.retain_last}")
    done = expire_snapshots(_lake(args), older_than_days=args.older_than, retain_last=args.retain_last,
                            tables=tuple(args.table or TABLES), dry_run=args.dry_run)
    verb = "would expire" if args.dry_run else "expired"
    for r in done:
        ids = ", ".join(map(str, r.expired)) or "-"
        print(f"{r.table}: {verb} {len(r.expired)} snapshot(s) ({ids}); {len(r.kept)} kept")
    return 0


def parse_as_of(text: str | None) -> int | None:
    """``--as-of``: epoch milliseconds, or an ISO date/time (UTC unless it says otherwise)."""
    if text is None:
        return None
    import datetime as dt

    if text.isdigit():
        return int(text)
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


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
    columns, rows = run_query(args.lake or local_paths().lake, args.query, params or None,
                              as_of_ms=parse_as_of(args.as_of))
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
