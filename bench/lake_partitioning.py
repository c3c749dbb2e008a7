"""Cohort queries on the lake by partition spec: the Hive layout of before beside Iceberg specs.

A synthetic cohort (``--samples`` × ``--variants`` rows of the variants
schema, three contigs, sorted by position as VCFs are) is written once per
layout, then two queries are timed on DuckDB, as ``seqflow query`` runs them:

* allele frequency per site over all samples (a full scan);
* a 1 Mb region of one sample (what partitioning and file statistics prune).

For the Iceberg layouts the files come from the snapshot (pyiceberg's
planning, timed apart), DuckDB's Parquet reader reads them; the region query
is also timed as a pyiceberg scan to Arrow registered in DuckDB.

    .venv/bin/python bench/lake_partitioning.py --samples 100 --variants 100000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from seqflow.identity import AnalysisIdentity  # noqa: E402
from seqflow.lake import iceberg  # noqa: E402
from seqflow.lake.schema import VARIANT_SCHEMA  # noqa: E402

IDENTITY = AnalysisIdentity("240101_A00123_0001_AHXXXXXXXX", "1.0.0", "GRCh38", "bwa", "bcftools")
SPECS = {
    "iceberg, unpartitioned": (),
    "iceberg, bucket[16](sample_id)": (("sample_id", "bucket[16]", "sample_bucket"),),
    "iceberg, bucket[16](sample_id) + contig": (("sample_id", "bucket[16]", "sample_bucket"),
                                               ("contig", "identity", "contig")),
}
AF = """SELECT contig, pos, ref, count(*) AS n, sum(list_count(list_filter(gt, lambda x: x > 0))) AS ac,
       sum(len(gt)) AS an FROM variants GROUP BY 1, 2, 3"""
REGION = "SELECT count(*), avg(gq) FROM variants WHERE sample_id = 'S0007' AND contig = 'chr2' AND pos BETWEEN 20000000 AND 21000000"


def sample_table(i: int, n: int, rng) -> pa.Table:
    contigs = np.repeat(np.array(["chr1", "chr2", "chr3"]), [n // 3, n // 3, n - 2 * (n // 3)])
    pos = np.concatenate([np.sort(rng.choice(50_000_000, size=c, replace=False)) + 1
                          for c in (n // 3, n // 3, n - 2 * (n // 3))]).astype(np.int64)
    a = rng.integers(0, 2, size=(n, 2)).astype(np.int16)
    data = {f.name: pa.nulls(n, f.type) for f in VARIANT_SCHEMA}
    data.update(contig=pa.array(contigs), pos=pa.array(pos), start=pa.array(pos - 1), end=pa.array(pos),
                ref=pa.array(rng.choice(["A", "C", "G", "T"], n)),
                alt=pa.array([[x] for x in rng.choice(["A", "C", "G", "T"], n)], pa.list_(pa.string())),
                qual=pa.array(rng.random(n) * 100), gq=pa.array(rng.integers(0, 99, n).astype(np.int32)),
                dp=pa.array(rng.integers(5, 60, n).astype(np.int32)),
                gt=pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)), pa.array(a.ravel())),
                gt_phased=pa.array(np.zeros(n, bool)))
    return pa.Table.from_pydict(data, schema=VARIANT_SCHEMA)


def timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--variants", type=int, default=50_000)
    ap.add_argument("--keep", help="folder to build in (kept)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="seqflow-bench-"))
    rng = np.random.default_rng(7)
    tables = {f"S{i:04d}": sample_table(i, args.variants, rng) for i in range(args.samples)}
    print(f"cohort: {args.samples} samples x {args.variants:,} variants = {args.samples * args.variants:,} rows")
    print(f"{'layout':45s} {'write s':>8s} {'files':>6s} {'plan s':>7s} {'AF s':>7s} {'region s':>9s} {'region arrow s':>15s}")

    # the Hive layout of before: one folder per analysis and sample
    hive = work / "hive"
    t = time.perf_counter()
    for sid, tab in tables.items():
        d = hive / "variants" / f"run_id={IDENTITY.run_id}/pipeline_version=1.0.0/reference=GRCh38/aligner=bwa/caller=bcftools/sample_id={sid}"
        d.mkdir(parents=True)
        pq.write_table(tab, d / "part-00000.parquet", compression="zstd")
    write_s = time.perf_counter() - t
    con = duckdb.connect()
    con.execute(f"CREATE VIEW variants AS SELECT * FROM read_parquet('{hive}/variants/**/*.parquet', hive_partitioning = true)")
    af_s, _ = timed(lambda: con.execute(AF).fetchall(), 1)
    reg_s, r = timed(lambda: con.execute(REGION).fetchall())
    print(f"{'hive, one folder per sample':45s} {write_s:8.1f} {len(tables):6d} {'-':>7s} {af_s:7.2f} {reg_s:9.3f} {'-':>15s}")
    shutil.rmtree(hive)

    for name, spec in SPECS.items():
        root = work / name.replace(" ", "_").replace(",", "").replace("[", "").replace("]", "").replace("(", "").replace(")", "").replace("+", "")
        lake = iceberg.Lake.local(root, partition=spec)
        tbl = lake.ensure("variants")
        t = time.perf_counter()
        files = []
        for sid, tab in tables.items():
            values = {**IDENTITY.to_dict(), "sample_id": sid}
            written, _ = iceberg.write_sample_files(tbl, iter(tab.to_batches(max_chunksize=1 << 18)), values)
            files += written
        iceberg.commit_replace(tbl, {**IDENTITY.to_dict(), "sample_id": list(tables)}, files)
        write_s = time.perf_counter() - t
        tbl = lake.table("variants")
        plan_s, live = timed(lambda: iceberg.live_files(tbl))
        con = duckdb.connect()
        paths = [p.removeprefix("file://") for p in live]
        con.execute(f"CREATE VIEW variants AS SELECT * FROM read_parquet({paths!r})")
        af_s, _ = timed(lambda: con.execute(AF).fetchall(), 1)
        reg_s, r2 = timed(lambda: con.execute(REGION).fetchall())

        def arrow_region():
            data = tbl.scan(row_filter="sample_id == 'S0007' and contig == 'chr2' and pos >= 20000000 and pos <= 21000000",
                            selected_fields=("sample_id", "contig", "pos", "gq")).to_arrow()
            c = duckdb.connect()
            c.register("variants", data)
            return c.execute(REGION).fetchall()

        arrow_s, r3 = timed(arrow_region)
        assert r2 == r == r3 or (r2[0][0] == r[0][0] == r3[0][0]), (r, r2, r3)
        print(f"{name:45s} {write_s:8.1f} {len(live):6d} {plan_s:7.3f} {af_s:7.2f} {reg_s:9.3f} {arrow_s:15.3f}")
        shutil.rmtree(root)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
