"""Airflow's overhead on the local profile: the same tool commands, same concurrency.

Both sides start from the same run folder on the landing share, with the
reference registered in the catalogue and indexed (the analysis DAG reuses it):

* **shell**: copy the run folder to raw storage, then for every sample in
  parallel (all samples at once, as the LocalExecutor runs them) the step
  scripts in order (fastp, align, call, bam QC, VCF stats) and the converter
  (`seqflow vcf-to-parquet`), with the same arguments and threads as the DAG;
* **airflow**: trigger ``seqflow_daily_ingest`` for the run's date on already
  running services and wait for it and the analysis it starts (which also
  registers partitions, writes the QC summary and the manifest).

Prints both wall times and their ratio (airflow / shell); service start-up is
printed separately and not counted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH_DATE = dt.date(2026, 11, 18)


def shell_pipeline(run_dir: Path, raw_root: Path, results: Path, lake: Path, fasta: Path, samples: list[str],
                   aligner: str, ploidy_file: str, threads: int) -> float:
    from seqflow.analysis.steps import STEP_SCRIPTS, containers_dir
    from seqflow.runfolder import find_fastqs

    c = containers_dir()
    seqflow = Path(sys.executable).parent / "seqflow"
    t0 = time.monotonic()
    subprocess.run(["cp", "-a", str(run_dir), str(raw_root / run_dir.name)], check=True)
    raw = raw_root / run_dir.name

    def one(sample: str) -> None:
        pair = find_fastqs(raw, sample)[0]
        out = results / sample
        work = results / "_scratch" / sample
        cmds = [
            [c / STEP_SCRIPTS["fastp"], sample, pair.r1, pair.r2, work, threads],
            [c / STEP_SCRIPTS[f"align_{aligner}"], sample, fasta, work / f"{sample}.trimmed_R1.fastq.gz",
             work / f"{sample}.trimmed_R2.fastq.gz", out, threads],
            [c / STEP_SCRIPTS["call"], sample, fasta, out / f"{sample}.bam", out, ploidy_file, threads],
            [c / STEP_SCRIPTS["bam_qc"], sample, out / f"{sample}.bam", out, threads],
            [c / STEP_SCRIPTS["vcf_stats"], sample, fasta, out / f"{sample}.vcf.gz", out],
            [seqflow, "vcf-to-parquet", out / f"{sample}.vcf.gz", "--lake", lake, "--run-id", run_dir.name,
             "--sample-id", sample, "--pipeline-version", "1.0.0", "--reference", "bench", "--aligner", aligner,
             "--caller", "bcftools"],
        ]
        for cmd in cmds:
            subprocess.run([str(x) for x in cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    with ThreadPoolExecutor(len(samples)) as pool:
        list(pool.map(one, samples))
    return time.monotonic() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from seqflow.demo.references import DEMO_DEFAULT_GENOME, DEMO_GENOMES

    parser.add_argument("--reference", default=DEMO_DEFAULT_GENOME, choices=sorted(DEMO_GENOMES),
                        help="demo genome, registered in the reference catalogue of the bench's SEQFLOW_HOME")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--coverage", type=float, default=30.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary SEQFLOW_HOME")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="seqflow-bench-"))
    os.environ["SEQFLOW_HOME"] = str(home)
    logging.basicConfig(level=logging.WARNING)

    from seqflow.config import local_paths
    from seqflow.demo.references import ensure_demo_reference
    from seqflow.demo.runfolder import generate_run
    from seqflow.local.client import AirflowClient
    from seqflow.local.services import running_airflow
    from seqflow.local.watch import ANALYSIS_DAG_ID, INGEST_DAG_ID, failure_report, follow
    from seqflow.samplesheet import parse_sample_sheet
    from seqflow.references import LocalReferenceCatalog
    from seqflow.tasks.analysis import STEP_THREADS

    paths = local_paths()
    try:
        print(f"e2e_overhead: {args.reference}, {args.samples} samples at {args.coverage}x; SEQFLOW_HOME={home}")
        run_dir = generate_run(paths.landing, paths.truth, paths.references, reference=args.reference,
                               run_date=BENCH_DATE, samples=args.samples, coverage=args.coverage, seed=11)
        fasta = ensure_demo_reference(args.reference, paths.references)  # with its bwa index
        ref = LocalReferenceCatalog(paths.references).require(args.reference)
        samples = parse_sample_sheet(run_dir / "SampleSheet.csv").sample_ids()

        shell_root = home / "shell"
        (shell_root / "raw").mkdir(parents=True)
        shell_s = shell_pipeline(run_dir, shell_root / "raw", shell_root / "results", shell_root / "lake", fasta,
                                 samples, "bwa", ref.ploidy_file, STEP_THREADS)
        print(f"shell pipeline: {shell_s:.1f} s")

        t0 = time.monotonic()
        with running_airflow(dag_ids=(INGEST_DAG_ID, ANALYSIS_DAG_ID)) as airflow:
            startup_s = time.monotonic() - t0
            client = AirflowClient(airflow.url)
            t1 = time.monotonic()
            client.trigger(INGEST_DAG_ID, dag_run_id="bench",
                           conf={"run_date": BENCH_DATE.isoformat(), "reference": args.reference})
            outcome = follow(client, "bench", say=lambda _: None, poll_s=2)
            airflow_s = time.monotonic() - t1
            if outcome.state != "success":
                print(failure_report(client, outcome), file=sys.stderr)
                return 1
        print(f"airflow:        {airflow_s:.1f} s (service start-up {startup_s:.1f} s, not counted)")
        print()
        print(f"{'':<10}{'shell (s)':>12}{'airflow (s)':>14}{'ratio':>9}")
        print(f"{'wall':<10}{shell_s:>12.1f}{airflow_s:>14.1f}{airflow_s / shell_s:>9.2f}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
