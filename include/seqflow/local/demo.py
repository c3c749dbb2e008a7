"""``seqflow demo``: one E. coli sequencing run through the real Airflow, end to end.

1. builds the demo run folder on the landing share (cached);
2. starts Airflow (api-server, scheduler, dag-processor, triggerer; SQLite; LocalExecutor);
3. triggers ``seqflow_daily_ingest`` for the run's date and shows progress;
4. prints the per-sample table (reads, mapping, duplicates, depth, variants,
   precision/recall/F1 against the truth set), how to query the lake, and, last,
   where the run's MultiQC report is.

Exits non-zero when a task fails (with the failing task's log tail) or when a
sample's F1 is below ``--min-f1``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
import uuid

from seqflow.config import PIPELINE_VERSION, local_paths

DEMO_DATE = dt.date(2026, 11, 20)


def _table(rows: list[dict]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="per-sample results")
    columns = [
        ("sample_id", "sample"), ("read_pairs", "read pairs"), ("pct_mapped", "% mapped"),
        ("pct_duplicates", "% dup"), ("mean_depth", "mean depth"), ("variants_called", "variants"),
        ("precision", "precision"), ("recall", "recall"), ("f1", "F1"),
    ]
    for _, label in columns:
        table.add_column(label, justify="left" if label == "sample" else "right")
    for row in rows:
        cells = []
        for key, _ in columns:
            v = row.get(key)
            cells.append("–" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:.4f}" if key in ("precision", "recall", "f1") else f"{v:.2f}" if isinstance(v, float) else str(v))
        table.add_row(*cells)
    console = Console(width=120, force_terminal=False)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


def run_demo(args: argparse.Namespace) -> int:
    from seqflow.identity import AnalysisIdentity
    from seqflow.params import CALLERS
    from seqflow.demo.runfolder import generate_run
    from seqflow.local.client import AirflowClient
    from seqflow.local.services import running_airflow
    from seqflow.local.watch import ANALYSIS_DAG_ID, INGEST_DAG_ID, failure_report, follow

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # the demo scans once, on its own trigger: no scheduled scan races it for the run
    os.environ["SEQFLOW_INGEST_SCHEDULE"] = "none"
    logging.getLogger("httpx").setLevel(logging.WARNING)
    paths = local_paths()
    t0 = time.monotonic()
    print(f"seqflow demo: building the {args.reference} run dated {args.date} on the landing share ({paths.landing})")
    run_dir = generate_run(
        paths.landing, paths.truth, paths.references, reference=args.reference, run_date=args.date,
        samples=args.samples, coverage=args.coverage, seed=args.seed,
    )
    run_id = run_dir.name
    print(f"seqflow demo: run folder {run_id} ready ({time.monotonic() - t0:.0f} s)")

    print("seqflow demo: starting Airflow (api-server, scheduler, dag-processor, triggerer)")
    with running_airflow(args.port, dag_ids=(INGEST_DAG_ID, ANALYSIS_DAG_ID)) as airflow:
        print(f"seqflow demo: Airflow is up at {airflow.url} (logs: {airflow.log_dir})")
        client = AirflowClient(airflow.url)
        # runs left behind by an interrupted demo would hold the daily DAG's single slot
        for dag_id in (INGEST_DAG_ID, ANALYSIS_DAG_ID):
            for stale in client.active_runs(dag_id):
                print(f"seqflow demo: marking {dag_id} run {stale['dag_run_id']}, left over from an interrupted demo, failed")
                client.mark_run(dag_id, stale["dag_run_id"], "failed", note="interrupted; superseded by a new demo")
        dag_run_id = f"demo__{args.date.isoformat()}__{uuid.uuid4().hex[:8]}"
        client.trigger(
            INGEST_DAG_ID, dag_run_id=dag_run_id,
            conf={"run_date": args.date.isoformat(), "reference": args.reference, "aligner": args.aligner,
                  "force": True},
        )
        print(f"seqflow demo: triggered {INGEST_DAG_ID} run {dag_run_id} for run date {args.date}")
        outcome = follow(client, dag_run_id, poll_s=args.poll)
        if outcome.state != "success" or outcome.failed_tasks:
            print(f"seqflow demo: FAILED ({outcome.state})", file=sys.stderr)
            print(failure_report(client, outcome), file=sys.stderr)
            return 1

    identity = AnalysisIdentity(run_id, PIPELINE_VERSION, args.reference, args.aligner, CALLERS[0])
    results = paths.results.joinpath(*identity.path_parts())
    summary_path = results / "qc_summary.json"
    summary = json.loads(summary_path.read_text())
    rows = summary["samples"]
    print()
    print(_table(rows))
    print(f"pipeline {summary['pipeline_version']}, reference {summary['reference']}, aligner {summary['aligner']},"
          f" caller {summary['caller']};"
          f" wall time {time.monotonic() - t0:.0f} s (Airflow part {outcome.seconds:.0f} s)")
    print(f"results: {results}")
    from seqflow.lake.iceberg import ICEBERG_DIR, LOCAL_CATALOG_FILE

    print(f"lake:    {paths.lake}  (Iceberg tables; catalog {paths.lake / ICEBERG_DIR / LOCAL_CATALOG_FILE})")
    print("query it: .venv/bin/seqflow query qc_metrics    (or: seqflow query --list)")
    from seqflow.analysis.multiqc import REPORT_NAME

    status = 0
    low = [r["sample_id"] for r in rows if r.get("f1") is None or r["f1"] < args.min_f1]
    if low:
        print(f"seqflow demo: F1 below {args.min_f1} (or no truth) for: {', '.join(low)}", file=sys.stderr)
        status = 1
    report = results / REPORT_NAME
    if not report.is_file():
        print(f"seqflow demo: no MultiQC report at {report} (see finalise_run's log)", file=sys.stderr)
        return 1
    # the last line: where to look next (with make up, the analysis DAG run's "MultiQC report" tab shows it too)
    print(f"MultiQC report: {report}")
    return status


def register(subparsers) -> None:
    from seqflow.demo.references import DEMO_DEFAULT_GENOME, DEMO_GENOMES
    from seqflow.params import ALIGNERS

    p = subparsers.add_parser("demo", help="run a demo sequencing run through the local Airflow, end to end")
    p.add_argument("--reference", default=DEMO_DEFAULT_GENOME, choices=sorted(DEMO_GENOMES),
                   help="demo genome (registered in the reference catalogue on first use)")
    p.add_argument("--date", type=dt.date.fromisoformat, default=DEMO_DATE, help="run date (YYYY-MM-DD)")
    p.add_argument("--samples", type=int, default=2)
    p.add_argument("--coverage", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--aligner", default="bwa", choices=ALIGNERS)
    p.add_argument("--min-f1", type=float, default=0.99)
    p.add_argument("--port", type=int, default=None, help="API port (default: a free one)")
    p.add_argument("--poll", type=float, default=3.0, help="progress poll interval (s)")
    p.set_defaults(handler=run_demo)
