"""Cohort benchmark: 100 samples x 1M variants of a real VCF in the Iceberg lake, by partition spec.

Builds a joint-called VCF of ``--samples`` samples from the ~1M-record, 5-sample
input of ``bench/vcf_to_parquet`` (the 1000 Genomes chr22 example tiled; made
there if missing): every record keeps its site columns, and each of the new
samples takes, at each record, the genotype fields of one of the 5 real samples
drawn at random, so the values are real 1000 Genomes calls and genotypes vary
between samples. Then:

1. converts it into the lake with the chosen spec (``bucket[16](sample_id)``) in
   one commit, as ``seqflow vcf-to-parquet`` does (``publish_vcf``), timed, with
   the process's peak RSS;
2. commits the same data files (hard links, no rewrite) to tables of the
   alternative specs (unpartitioned; ``identity(sample_id)``), and links them into
   the Hive layout of before (``variants/run_id=…/…/sample_id=…/``, read by
   DuckDB with ``hive_partitioning``);
3. times, for each layout, on DuckDB as ``seqflow query`` runs it (the snapshot's
   file list, from pyiceberg's planning, read by DuckDB's Parquet reader): an
   allele count per site over all samples (a full scan) and a 1 Mb region of one
   sample; for the Iceberg layouts also as a pyiceberg scan streamed to DuckDB as
   Arrow. ``--rounds`` rounds over all layouts, the order rotated each round
   (the shared machine's load moves), each layout's best round reported; the
   region query is best of 3 within a round.

Not a test; run it with ``nice``, it takes tens of minutes on 2 cores:

    nice -n 10 .venv/bin/python bench/lake_cohort.py [--samples 100] [--rounds 2] [--keep]
    nice -n 10 .venv/bin/python bench/lake_cohort.py --queries-only   # the lakes a --keep run left

Disk: ~3.5 GB in ``bench/out/cohort`` (the VCF and one copy of the data files).
DuckDB's own iceberg extension is not measured: PyPI has it for DuckDB 1.5.x,
not for the locked DuckDB 2.0.0 (docs/lake.md).
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "include"))

from seqflow.identity import AnalysisIdentity  # noqa: E402
from seqflow.lake import Lake, iceberg, publish_vcf  # noqa: E402

IDENTITY = AnalysisIdentity("240101_A00123_0001_AHXXXXXXXX", "1.0.0", "GRCh37", "bwa", "bcftools")
SOURCE = REPO / "bench" / "out" / "chr22_tiled_1000000.vcf.gz"
ALTERNATIVES = {
    "iceberg, unpartitioned": (),
    "iceberg, identity(sample_id)": (("sample_id", "identity", "sample_id"),),
}
#: Allele count and number per site over every sample (a full scan of gt).
AF = """SELECT count(*) AS sites, sum(ac) AS ac, sum(an) AS an FROM (
  SELECT contig, pos, ref, sum(list_count(list_filter(gt, lambda x: x > 0))) AS ac, sum(list_count(gt)) AS an
  FROM variants GROUP BY 1, 2, 3)"""
REGION_SAMPLE = "S0042"
REGION = f"""SELECT count(*) AS n, sum(list_count(list_filter(gt, lambda x: x > 0))) AS alt_alleles FROM variants
WHERE sample_id = '{REGION_SAMPLE}' AND contig = '22' AND pos BETWEEN 100000000 AND 101000000"""
REGION_FILTER = (f"sample_id == '{REGION_SAMPLE}' and contig == '22' and pos >= 100000000 and pos <= 101000000")


def make_cohort_vcf(dest: Path, samples: int, seed: int = 10, source: Path = SOURCE) -> None:
    """``samples`` columns per record, each one of the source's real sample columns drawn at random."""
    if source == SOURCE and not SOURCE.exists():
        subprocess.run([sys.executable, str(REPO / "bench" / "vcf_to_parquet"), "--repeat", "0"], check=True)
    rng = np.random.default_rng(seed)
    names = "\t".join(f"S{i:04d}" for i in range(samples))
    tmp = dest.with_suffix(".tmp")
    with gzip.open(source, "rt") as src, open(tmp, "wb") as out:
        bgzip = subprocess.Popen(["bgzip", "-@2", "-c"], stdin=subprocess.PIPE, stdout=out)
        w = bgzip.stdin
        picks = np.empty((0, samples), dtype=np.int8)
        row = 0
        for line in src:
            if line.startswith("##"):
                w.write(line.encode())
                continue
            if line.startswith("#CHROM"):
                w.write(("\t".join(line.split("\t")[:9]) + "\t" + names + "\n").encode())
                continue
            cols = line.rstrip("\n").split("\t")
            if row == len(picks):
                picks, row = rng.integers(0, len(cols) - 9, size=(65536, samples), dtype=np.int8), 0
            real = cols[9:]
            w.write(("\t".join(cols[:9]) + "\t" + "\t".join([real[j] for j in picks[row]]) + "\n").encode())
            row += 1
        w.close()
        if bgzip.wait() != 0:
            raise RuntimeError("bgzip failed")
    tmp.rename(dest)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(dest)], check=True)


def timed(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def duckdb_over(paths: list[str], hive: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    files = ", ".join(f"'{p}'" for p in paths)
    con.execute(f"CREATE VIEW variants AS SELECT * FROM read_parquet([{files}], hive_partitioning = {str(hive).lower()})")
    return con


def per_sample_files(tbl) -> dict[str, list]:
    field = tbl.schema().find_field("sample_id")
    out: dict[str, list] = {}
    for task in tbl.scan().plan_files():
        out.setdefault(iceberg._bound(task.file, field.field_id, field.field_type), []).append(task.file)
    return out


def build(work: Path, vcf: Path, records: int) -> None:
    """Convert the cohort into the chosen spec's lake, then the other layouts over the same files."""
    for d in [work / "lake", work / "hive", *(work / f"alt{i}" for i in range(len(ALTERNATIVES)))]:
        shutil.rmtree(d, ignore_errors=True)
    lake = Lake.local(work / "lake")
    convert_s, result = timed(lambda: publish_vcf(vcf, lake, identity=IDENTITY, sample_id=None, staging_root=work))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    by_sample = per_sample_files(lake.table("variants"))
    data_bytes = sum(f.file_size_in_bytes for fs in by_sample.values() for f in fs)
    print(f"convert + one commit (bucket[16](sample_id)): {convert_s:.0f} s, {result.rows / convert_s:,.0f} rows/s, "
          f"{records / convert_s:,.0f} records/s, peak RSS {rss:.0f} MiB, {data_bytes / 2**30:.2f} GiB of data files")
    for i, (name, spec) in enumerate(ALTERNATIVES.items()):
        atbl = Lake.local(work / f"alt{i}", partition=spec).ensure("variants")

        def commit(atbl=atbl):
            files = []
            for sid, dfs in by_sample.items():
                values = {**iceberg.identity_values(IDENTITY), "sample_id": sid}
                got, _ = iceberg.sample_data_files(atbl, [Path(f.file_path.removeprefix("file://")) for f in dfs],
                                                   values, None)
                files += got
            iceberg.commit_replace(atbl, {**iceberg.identity_values(IDENTITY), "sample_id": list(by_sample)}, files)

        commit_s, _ = timed(commit)
        print(f"{name}: the same data files committed (hard links) in {commit_s:.2f} s")
    hive = work / "hive" / "variants"
    for sid, dfs in by_sample.items():
        d = hive / (f"run_id={IDENTITY.run_id}/pipeline_version={IDENTITY.pipeline_version}/reference="
                    f"{IDENTITY.reference}/aligner={IDENTITY.aligner}/caller={IDENTITY.caller}/sample_id={sid}")
        d.mkdir(parents=True)
        for n, f in enumerate(dfs):
            os.link(f.file_path.removeprefix("file://"), d / f"part-{n:05d}.parquet")


def query(work: Path, rounds: int) -> None:
    """Each layout's queries, in ``rounds`` rounds with the layout order rotated (the machine's load
    moves; the best round of each layout and query is reported)."""
    layouts = {"hive, one folder per sample (before)": None,
               "iceberg, bucket[16](sample_id) (chosen)": Lake.local(work / "lake").table("variants")}
    for i, name in enumerate(ALTERNATIVES):
        layouts[name] = Lake.local(work / f"alt{i}").table("variants")
    hive_files = sorted(str(p) for p in (work / "hive" / "variants").rglob("*.parquet"))
    subprocess.run(["cat", *hive_files], stdout=subprocess.DEVNULL, check=True)  # the page cache, for every layout
    best: dict[str, dict[str, float]] = {name: {} for name in layouts}
    results: dict[str, set] = {}

    def note(name, key, seconds, out):
        best[name][key] = min(best[name].get(key, float("inf")), seconds)
        results.setdefault(key.split()[0], set()).add(repr(out))

    names = list(layouts)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            t = layouts[name]
            load = os.getloadavg()[0]
            if t is None:
                con = duckdb_over(hive_files, hive=True)
                files = len(hive_files)
            else:
                plan_s, live = timed(lambda t=t: iceberg.live_files(t))
                note(name, "plan", plan_s, None)
                con = duckdb_over([p.removeprefix("file://") for p in live])
                files = len(live)
            best[name]["files"] = files
            note(name, "AF", *timed(lambda: con.execute(AF).fetchall()))
            note(name, "region", *timed(lambda: con.execute(REGION).fetchall(), 3))
            if t is not None:
                def arrow(sql, row_filter, fields, t=t):
                    reader = t.scan(row_filter=row_filter, selected_fields=fields).to_arrow_batch_reader()
                    c = duckdb.connect()
                    c.register("variants", reader)
                    return c.execute(sql).fetchall()

                note(name, "AF arrow", *timed(lambda: arrow(AF, "True", ("contig", "pos", "ref", "gt"))))
                note(name, "region arrow", *timed(lambda: arrow(REGION, REGION_FILTER, ("sample_id", "contig", "pos", "gt")), 3))
            print(f"round {r + 1}: {name} (load {load:.1f} at start) done", file=sys.stderr, flush=True)

    print(f"\nbest of {rounds} round(s) (layout order rotated each round; region queries best of 3 per round)")
    print(f"{'layout':42s} {'files':>6s} {'plan s':>7s} {'AF s':>7s} {'region s':>9s} {'AF arrow s':>11s} "
          f"{'region arrow s':>15s}")
    for name, b in best.items():
        f = lambda k, w, d: f"{b[k]:{w}.{d}f}" if k in b else f"{'-':>{w}s}"  # noqa: E731
        print(f"{name:42s} {b['files']:6d} {f('plan', 7, 3)} {f('AF', 7, 1)} {f('region', 9, 3)} "
              f"{f('AF arrow', 11, 1)} {f('region arrow', 15, 3)}")
    same = all(len(v) == 1 for k, v in results.items() if k != "plan")
    print(f"\nresults: {'the same in every layout and engine' if same else 'DIFFER'}: "
          f"{ {k: sorted(v) for k, v in results.items() if k != 'plan'} }; load {os.getloadavg()[0]:.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2, help="rounds of every layout's queries (best reported)")
    ap.add_argument("--source", type=Path, default=SOURCE, help="VCF.gz the samples are drawn from")
    ap.add_argument("--keep", action="store_true", help="keep the lakes (a later --queries-only reuses them)")
    ap.add_argument("--queries-only", action="store_true", help="query the lakes a --keep run left")
    ap.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "cohort", help="work folder")
    args = ap.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    vcf = work / f"cohort_{args.samples}{'' if args.source == SOURCE else '_' + args.source.name.split('.')[0]}.vcf.gz"
    if not vcf.exists():
        gen_s, _ = timed(lambda: make_cohort_vcf(vcf, args.samples, source=args.source))
        print(f"generated {vcf.name} in {gen_s:.0f} s", file=sys.stderr)
    records = int(subprocess.run(["bcftools", "index", "-n", str(vcf)], capture_output=True, text=True,
                                 check=True).stdout)
    print(f"cohort: {vcf.name}: {records:,} records x {args.samples} samples = {records * args.samples:,} rows, "
          f"{vcf.stat().st_size / 2**30:.2f} GiB; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    if not args.queries_only:
        build(work, vcf, records)
    query(work, args.rounds)
    if not (args.keep or args.queries_only):
        for d in [work / "lake", work / "hive", *(work / f"alt{i}" for i in range(len(ALTERNATIVES)))]:
            shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
