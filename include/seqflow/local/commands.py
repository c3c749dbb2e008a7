"""``seqflow up`` (the local Airflow, kept running), ``seqflow status`` (the run registry) and
``seqflow backfill`` (a backfill of the ingest on the running local Airflow)."""

from __future__ import annotations

import argparse
import json
import time


def up(args: argparse.Namespace) -> int:
    from seqflow.local.services import BIND_HOST_ENV, ServicesStopped, running_airflow
    from seqflow.local.watch import ANALYSIS_DAG_ID, INGEST_DAG_ID

    with running_airflow(args.port, dag_ids=(INGEST_DAG_ID, ANALYSIS_DAG_ID)) as airflow:
        if airflow.all_admins:
            access = f"on {airflow.host} only, every user is admin; {BIND_HOST_ENV} to listen elsewhere"
        else:
            access = (f"listening on {airflow.host}: log in as admin with the password in {airflow.password_file}")
        print(f"seqflow: Airflow UI at {airflow.url} ({access}; service logs in {airflow.log_dir})", flush=True)
        print("seqflow: Ctrl-C (or SIGTERM) stops the services", flush=True)
        try:
            while True:
                airflow.check_alive()
                time.sleep(2)
        except (KeyboardInterrupt, ServicesStopped):
            # leaving the block stops the services; a second signal meanwhile only shortens their grace period
            print("seqflow: stopping", flush=True)
    return 0


def backfill(args: argparse.Namespace) -> int:
    """Backfill the ingest over a date range on the running local Airflow (``seqflow up``), through its
    REST API: the local profile's SQLite database cannot take ``airflow backfill create``'s writes beside
    the running scheduler ("database is locked"); the API server makes the same backfill in its process."""
    from seqflow.local.client import AirflowClient
    from seqflow.local.watch import INGEST_DAG_ID

    try:
        conf = json.loads(args.conf) if args.conf else None
    except ValueError as exc:
        print(f"seqflow backfill: --conf is not JSON: {exc}")
        return 2
    client = AirflowClient(f"http://127.0.0.1:{args.port}")
    if not client.healthy():
        print(f"seqflow backfill: no local Airflow answers on port {args.port}: start it with `seqflow up`")
        return 1
    created = client.create_backfill(args.dag_id or INGEST_DAG_ID, args.from_date, args.to_date, conf=conf)
    print(f"backfill {created['id']} of {created['dag_id']}: {args.from_date} … {args.to_date}"
          " (follow it in the UI, Browse → Backfills)")
    return 0


def status(args: argparse.Namespace) -> int:
    from seqflow.registry import local_registry

    records = local_registry().list(args.run_id)
    if args.json:
        print(json.dumps([r.__dict__ for r in records], indent=2))
        return 0
    if not records:
        print("no runs recorded" + (f" for {args.run_id}" if args.run_id else ""))
        return 1 if args.run_id else 0
    width = max(len(r.run_id) for r in records)
    akey = max(len(r.analysis) for r in records)
    print(f"{'run':<{width}}  {'analysis':<{akey}}  {'status':<18} updated")
    for r in records:
        print(f"{r.run_id:<{width}}  {r.analysis:<{akey}}  {r.status:<18} {r.updated_at}")
        for sample in r.details.get("samples", []) if isinstance(r.details.get("samples"), list) else []:
            if isinstance(sample, dict):
                f1 = sample.get("f1")
                print(f"{'':<{width}}    {sample['sample_id']}: {sample.get('variants_called')} variants,"
                      f" {sample.get('pct_mapped')}% mapped, depth {sample.get('mean_depth')}"
                      + (f", F1 {f1}" if f1 is not None else ""))
    return 0


def _date(text: str) -> str:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def register(subparsers) -> None:
    p = subparsers.add_parser("up", help="run the local Airflow (UI at localhost:8080, on 127.0.0.1 unless SEQFLOW_BIND_HOST) until Ctrl-C or SIGTERM")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(handler=up)

    p = subparsers.add_parser("backfill", help="re-ingest and re-analyse the runs dated in a range (from raw "
                                               "storage) on the running `seqflow up`")
    p.add_argument("--from-date", required=True, type=_date, help="first run date, YYYY-MM-DD")
    p.add_argument("--to-date", required=True, type=_date, help="last run date, YYYY-MM-DD (inclusive)")
    p.add_argument("--conf", help='DAG run conf as JSON, e.g. \'{"reference": "lambda", "force": true}\'')
    p.add_argument("--dag-id", help="default: seqflow_daily_ingest")
    p.add_argument("--port", type=int, default=8080, help="the API port of `seqflow up` (default 8080)")
    p.set_defaults(handler=backfill)

    p = subparsers.add_parser("status", help="show runs in the registry (ingest and analysis records)")
    p.add_argument("run_id", nargs="?", help="one run folder name (default: all)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=status)
