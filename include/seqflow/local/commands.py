"""``seqflow up`` (the local Airflow, kept running), ``seqflow status`` (the run registry and launch
requests), ``seqflow launch`` (a launch file's runs submitted to the running local Airflow),
``seqflow backfill`` (a backfill of the ingest on the running local Airflow) and ``seqflow report``
(turnaround, failures and cost over a date range: :mod:`seqflow.report`)."""

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
    the running scheduler ("database is locked"); the API server makes the same backfill in its process,
    and the client repeats the request while the API server, too, finds the database locked (503)."""
    from seqflow.local.watch import INGEST_DAG_ID

    try:
        conf = json.loads(args.conf) if args.conf else None
    except ValueError as exc:
        print(f"seqflow backfill: --conf is not JSON: {exc}")
        return 2
    client = _running_airflow(args.port, "backfill")
    if client is None:
        return 1
    created = client.create_backfill(args.dag_id or INGEST_DAG_ID, args.from_date, args.to_date, conf=conf)
    print(f"backfill {created['id']} of {created['dag_id']}: {args.from_date} … {args.to_date}"
          " (follow it in the UI, Browse → Backfills)")
    return 0


def launch(args: argparse.Namespace) -> int:
    """Validate a launch file and submit its runs to the analysis DAG of the running `seqflow up`."""
    from seqflow.launch import LaunchFileError, read_launch_file, schema_text, submit
    from seqflow.registry import local_registry

    if args.schema:
        print(schema_text(), end="")
        return 0
    if not args.file:
        print("seqflow launch: a launch file is required (or --schema)")
        return 2
    try:
        request = read_launch_file(args.file)
    except LaunchFileError as exc:
        print(exc)
        return 2
    if args.check:
        print(f"{args.file}: valid, {len(request.runs)} run(s)")
        return 0
    client = _running_airflow(args.port, "launch")
    if client is None:
        return 1
    base_url = _ui_url(args.port)
    registry = local_registry()
    record = submit(request, client, registry)
    request_id = record["request_id"]
    for run in record["details"]["runs"].values():
        print(f"request {request_id}: {run['run_id']}: "
              + (f"DAG run {run['dag_run_id']}" if run.get("dag_run_id") else f"not submitted: {run.get('error')}"))
    print(f"request {request_id}: {record['status']} (follow it with `seqflow status`)")
    if args.wait and record["status"] == "running":
        record = _wait_for_request(request_id, client, registry, base_url, args.timeout)
        print(f"request {request_id}: {record['status']}")
    return 0 if record["status"] in ("requested", "running", "analysed") else 1


def _running_airflow(port: int, command: str):
    """The REST client of the `seqflow up` on ``port``, or None (having said how to start it)."""
    from seqflow.local.client import AirflowClient

    client = AirflowClient(f"http://127.0.0.1:{port}")
    if client.healthy():
        return client
    print(f"seqflow {command}: no local Airflow answers on port {port}: start it with `seqflow up`")
    return None


def _ui_url(port: int) -> str:
    """The UI's address for the task log links a request records: a browser on this machine reaches the
    loopback-bound local Airflow as localhost (its base URL, ``seqflow.local.services.airflow_env``)."""
    return f"http://localhost:{port}"


def _wait_for_request(request_id: str, client, registry, base_url: str, timeout_s: float) -> dict:
    from seqflow.launch import needs_refresh, refresh
    from seqflow.registry import RequestRecord

    deadline = time.monotonic() + timeout_s
    while True:
        record = refresh(request_id, client, registry, base_url=base_url)
        # over, and its DAG runs too (finalise_run records the end before its DAG run is over)
        if not needs_refresh(RequestRecord(**record)) or time.monotonic() > deadline:
            return record
        time.sleep(3)


def _refresh_requests(registry, port: int) -> str | None:
    """Update the running requests from the local Airflow; why not, when it does not answer."""
    from seqflow.launch import needs_refresh, refresh
    from seqflow.local.client import AirflowClient

    pending = [r for r in registry.list_requests() if needs_refresh(r)]
    if not pending:
        return None
    base_url = _ui_url(port)
    client = AirflowClient(f"http://127.0.0.1:{port}")
    if not client.healthy():  # status still shows the records: a note, not an error
        return f"no local Airflow on port {port}: running requests shown as last recorded"
    for record in pending:
        refresh(record.request_id, client, registry, base_url=base_url)
    return None


def format_cost(cost: dict) -> str:
    """One line of an analysis's cost (``seqflow.analysis.costs.cost_summary``): CPU and wall time,
    USD where priced, the samples."""
    if cost.get("error"):
        return f"not known ({cost['error']})"
    usd = cost.get("cost_usd")
    text = (f"{cost.get('cpu_seconds', 0):.1f} CPU s, {cost.get('wall_seconds', 0):.1f} wall s over "
            f"{cost.get('steps', 0)} step(s), " + (f"${usd:.4f}" if usd is not None else "no price (local)"))
    samples = cost.get("samples") or {}
    if samples:
        text += "; " + ", ".join(f"{sid} {s.get('cpu_seconds', 0):.1f} CPU s"
                                 + (f" ${s['cost_usd']:.4f}" if s.get("cost_usd") is not None else "")
                                 for sid, s in sorted(samples.items()))
    return text


def _print_requests(requests) -> None:
    print()
    width = max(len(r.request_id) for r in requests)
    print(f"{'request':<{width}}  {'status':<18} {'priority':<8} updated")
    for r in requests:
        print(f"{r.request_id:<{width}}  {r.status:<18} {r.details.get('priority', ''):<8} {r.updated_at}"
              + (f"  {r.details['name']}" if r.details.get("name") else ""))
        for error in r.details.get("errors") or []:  # a launch file that was not accepted
            print(f"{'':<{width}}    line {error.get('line') or '-'}: {error.get('where')}: {error.get('message')}")
        for run in r.details.get("runs", {}).values():
            state = run.get("status") or run.get("dag_run_state") or "submitted"
            print(f"{'':<{width}}    {run['run_id']}: {state}, DAG run {run.get('dag_run_id') or '-'}")
            if run.get("error"):
                print(f"{'':<{width}}      error: {run['error']}")
            if run.get("outputs"):
                print(f"{'':<{width}}      {len(run['outputs'])} output file(s), e.g. {run['outputs'][0]}")
            if run.get("cost"):
                print(f"{'':<{width}}      cost: {format_cost(run['cost'])}")
            if run.get("logs") or run.get("airflow_logs"):
                print(f"{'':<{width}}      {len(run.get('logs', []))} step log(s), "
                      f"{len(run.get('airflow_logs', []))} Airflow task log(s)"
                      + (f"; failed tasks: {', '.join(run['failed_tasks'])}" if run.get("failed_tasks") else ""))


def status(args: argparse.Namespace) -> int:
    from seqflow.registry import local_registry

    registry = local_registry()
    note = None if args.no_refresh else _refresh_requests(registry, args.port)
    records = registry.list(args.run_id)
    requests = [] if args.run_id else registry.list_requests()
    if args.json:
        print(json.dumps({"runs": [r.__dict__ for r in records], "requests": [r.__dict__ for r in requests]},
                         indent=2))
        return 0
    if note:
        print(f"seqflow status: {note}")
    if not records and not requests:
        print("no runs recorded" + (f" for {args.run_id}" if args.run_id else ""))
        return 1 if args.run_id else 0
    if not records:
        print("no runs recorded")
        _print_requests(requests)
        return 0
    width = max(len(r.run_id) for r in records)
    akey = max(len(r.analysis) for r in records)
    print(f"{'run':<{width}}  {'analysis':<{akey}}  {'status':<18} updated")
    for r in records:
        print(f"{r.run_id:<{width}}  {r.analysis:<{akey}}  {r.status:<18} {r.updated_at}")
        if isinstance(r.details.get("cost"), dict):
            print(f"{'':<{width}}    cost: {format_cost(r.details['cost'])}")
        for sample in r.details.get("samples", []) if isinstance(r.details.get("samples"), list) else []:
            if isinstance(sample, dict):
                f1 = sample.get("f1")
                print(f"{'':<{width}}    {sample['sample_id']}: {sample.get('variants_called')} variants,"
                      f" {sample.get('pct_mapped')}% mapped, depth {sample.get('mean_depth')}"
                      + (f", F1 {f1}" if f1 is not None else ""))
    if requests:
        _print_requests(requests)
    return 0


def report(args: argparse.Namespace) -> int:
    """Turnaround, failures by step and cost per sample over a date range (registry and lake)."""
    import datetime as dt

    from seqflow.report import format_report, profile_report

    start, end = dt.date.fromisoformat(args.from_date), dt.date.fromisoformat(args.to_date)
    if end < start:
        print(f"seqflow report: --to-date {args.to_date} is before --from-date {args.from_date}")
        return 2
    content = profile_report(start, end)  # the local registry and lake, or DynamoDB and Athena on aws
    print(json.dumps(content, indent=2) if args.json else format_report(content))
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
    p.add_argument("--conf", help='DAG run conf as JSON, e.g. \'{"force": true}\'')
    p.add_argument("--dag-id", help="default: seqflow_daily_ingest")
    p.add_argument("--port", type=int, default=8080, help="the API port of `seqflow up` (default 8080)")
    p.set_defaults(handler=backfill)

    p = subparsers.add_parser("launch", help="submit a launch file (YAML or JSON: runs, samples, reference, ...) "
                                             "to the running `seqflow up`; every error of a bad file at once")
    p.add_argument("file", nargs="?", help="the launch file")
    p.add_argument("--port", type=int, default=8080, help="the API port of `seqflow up` (default 8080)")
    p.add_argument("--check", action="store_true", help="only validate the file")
    p.add_argument("--schema", action="store_true", help="print the launch file's JSON schema")
    p.add_argument("--wait", action="store_true", help="wait until the request is analysed, partially analysed or failed")
    p.add_argument("--timeout", type=float, default=4 * 3600, help="seconds --wait waits at most")
    p.set_defaults(handler=launch)

    p = subparsers.add_parser("report", help="turnaround (flag to lake), failures by step and cost per sample "
                                             "over a date range, from the registry and the lake")
    p.add_argument("--from-date", required=True, type=_date, help="first day, YYYY-MM-DD (UTC)")
    p.add_argument("--to-date", required=True, type=_date, help="last day, YYYY-MM-DD (inclusive)")
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.set_defaults(handler=report)

    p = subparsers.add_parser("status", help="show runs in the registry (ingest and analysis records) and "
                                             "launch requests")
    p.add_argument("run_id", nargs="?", help="one run folder name (default: all, and the launch requests)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--port", type=int, default=8080,
                   help="the API port of `seqflow up`, asked about running requests (default 8080)")
    p.add_argument("--no-refresh", action="store_true", help="show running requests as last recorded")
    p.set_defaults(handler=status)
