"""``seqflow up`` (the local Airflow, kept running) and ``seqflow status`` (the run registry)."""

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


def register(subparsers) -> None:
    p = subparsers.add_parser("up", help="run the local Airflow (UI at localhost:8080, on 127.0.0.1 unless SEQFLOW_BIND_HOST) until Ctrl-C or SIGTERM")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(handler=up)

    p = subparsers.add_parser("status", help="show runs in the registry (ingest and analysis records)")
    p.add_argument("run_id", nargs="?", help="one run folder name (default: all)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=status)
