"""The converter Glue job: convert one analysis's VCFs and commit them to the Iceberg lake in one commit.

One job run per analysis run (:mod:`seqflow.glue.manifest`). The job runs the
lake code of the local profile, unchanged: each VCF is converted by
:func:`seqflow.lake.convert_vcf_to_parquet` into a staging folder on the
worker's disk, already in the form of the ``variants`` table's data files
(provenance columns and field ids), which are copied as they are under the
table's S3 location (:func:`seqflow.lake.iceberg.sample_data_files`; no
reader sees them yet), and its staged files are removed; when every sample
is written, one :func:`seqflow.lake.iceberg.commit_replace` makes one Iceberg
snapshot that replaces exactly these samples of this analysis (overwrite by
filter on the analysis identity and ``sample_id IN (…)``), swapped in by the
Glue Data Catalog's ``UpdateTable`` (pyiceberg's Glue catalog, optimistic on
the table version). Then the samples' QC rows are committed to
``qc_metrics`` (:func:`seqflow.lake.publish_qc_metrics`, one commit replacing
the analysis's rows) and the result is written beside the manifest.

A job run killed at any point leaves readers on the old snapshot or the new
one; a failed run commits nothing of ``variants`` and leaves unreferenced
data files. Terraform declares the tables; the first :meth:`Lake.ensure` gives
an empty declared table the local lake's partition spec and properties (and
creates a missing one), see ``docs/lake.md``, *AWS*. After the
commits the job runs the ``CREATE OR REPLACE VIEW`` of the lake's views on
Athena (:mod:`seqflow.glue.views`), so the named queries over
``variants_latest`` / ``qc_metrics_latest`` run there; a failure there fails
the run after its commits (a retry re-commits the same rows and tries again).

Imports: the lake modules, pyiceberg, pyarrow, numpy, boto3 (on Glue) and the
standard library only; ``seqflow.glue.package`` ships exactly the modules
this imports.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from seqflow.glue.manifest import RESULT_FORMAT, Manifest, SampleEntry, result_uri

log = logging.getLogger("seqflow.glue")

#: ``athena_workgroup`` "-": no views (a run outside the deployment; Terraform sets the workgroup)
DEFAULTS = {"bcftools_uri": "-", "parallel": "2", "region": "-", "athena_workgroup": "-"}
REQUIRED = ["manifest_uri", "lake_uri", "database"]
#: Conversions at once on one worker (G.1X: 4 vCPUs; each conversion runs bcftools and an Arrow writer).
MAX_PARALLEL = 8


def parse_args(argv: list[str]) -> dict[str, str]:
    """Glue passes ``--key value`` pairs (its own among them); awsglue.utils.getResolvedOptions is not
    needed for plain strings and keeps this importable in tests."""
    args = dict(DEFAULTS)
    it = iter(argv)
    for token in it:
        if token.startswith("--"):
            if "=" in token:
                key, value = token[2:].split("=", 1)
            else:
                key, value = token[2:], next(it, "")
            args[key.replace("-", "_")] = value
    missing = [k for k in REQUIRED if not args.get(k) or args[k] == "-"]
    if missing:
        raise SystemExit(f"missing job argument(s): {', '.join('--' + m for m in missing)}")
    if not args["parallel"].isdigit() or not 1 <= int(args["parallel"]) <= MAX_PARALLEL:
        raise SystemExit(f"--parallel must be 1..{MAX_PARALLEL}, not {args['parallel']!r}")
    return args


def split_s3(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def endpoint_properties() -> dict[str, str]:
    """pyiceberg's endpoint properties from the SDKs' ``AWS_ENDPOINT_URL[_GLUE|_S3]`` (unset on Glue)."""
    props = {}
    for service in ("glue", "s3"):
        url = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")
        if url:
            props[f"{service}.endpoint"] = url
    return props


def install_bcftools(s3, uri: str, workdir: Path) -> str:
    """bcftools from the job's tarball (``bin/bcftools`` and its ``libhts.so*``; Glue workers have none)."""
    if uri in ("", "-"):
        return "bcftools"
    bucket, key = split_s3(uri)
    archive = workdir / "bcftools.tar.gz"
    s3.download_file(bucket, key, str(archive))
    root = workdir / "bcftools"
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    exe = next(root.rglob("bin/bcftools"))
    libs = sorted({str(p.parent) for p in root.rglob("libhts.so*")})
    os.environ["LD_LIBRARY_PATH"] = ":".join([*libs, os.environ.get("LD_LIBRARY_PATH", "")])
    exe.chmod(0o755)
    return str(exe)


def read_manifest(s3, uri: str) -> Manifest:
    bucket, key = split_s3(uri)
    return Manifest.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def _read_text(s3):
    def read(uri: str) -> str:
        bucket, key = split_s3(uri)
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return read


def qc_rows(s3, manifest: Manifest) -> list[dict]:
    """One ``qc_metrics`` row per sample, from its QC files (as ``finalise_run`` reads them); a sample
    without QC files in the results folder (HealthOmics) gets a row of nulls."""
    from seqflow.analysis import qc

    columns = ("read_pairs", "pct_mapped", "pct_duplicates", "mean_depth", "variants_called")
    rows = []
    for entry in manifest.samples:
        row: dict = {"sample_id": entry.sample_id}
        if entry.qc:
            metrics = qc.sample_metrics(entry.qc, read_text=_read_text(s3))
            row.update({k: metrics[k] for k in columns})
        rows.append(row)
    return rows


def _convert_one(s3, tbl, manifest: Manifest, entry: SampleEntry, work: Path, bcftools: str):
    """Download, convert, write the sample's data files; returns (entry, DataFiles, rows, records)."""
    from seqflow.lake import convert_vcf_to_parquet, iceberg
    from seqflow.lake.api import _batches, staged
    from seqflow.lake.staging import Partition

    sample_dir = work / "samples" / entry.sample_id
    sample_dir.mkdir(parents=True)
    try:
        bucket, key = split_s3(entry.vcf)
        vcf = sample_dir / (Path(key).name or "input.vcf.gz")
        s3.download_file(bucket, key, str(vcf))
        stage = work / "staging"
        converted = convert_vcf_to_parquet(vcf, stage, identity=manifest.identity, sample_id=entry.sample_id,
                                           table=manifest.table, bcftools=bcftools, lake_table=tbl)
        vcf.unlink()  # disk: a flow cell's VCFs do not all fit on one worker
        files = staged(stage, manifest.identity, [entry.sample_id], manifest.table)[entry.sample_id]
        values = {**iceberg.identity_values(manifest.identity), "sample_id": entry.sample_id}
        # written in the table's form: copied to S3 as they are (rewritten only if the table changed)
        data_files, rows = iceberg.sample_data_files(tbl, files, values, _batches)
        shutil.rmtree(Partition.of(manifest.table, manifest.identity, entry.sample_id).path(stage), ignore_errors=True)
        return entry, data_files, rows, converted.records
    finally:
        shutil.rmtree(sample_dir, ignore_errors=True)


def run(args: dict[str, str], *, s3=None, athena=None, workdir: str | Path | None = None) -> dict:
    """Convert and commit the manifest's samples, then create or replace the lake's views on Athena
    (:mod:`seqflow.glue.views`; skipped when ``athena_workgroup`` is "-"); returns (and writes) the job's result."""
    import boto3

    from seqflow.lake import iceberg, publish_qc_metrics
    from seqflow.lake.iceberg import Lake

    started = time.monotonic()
    s3 = s3 or boto3.client("s3")
    manifest = read_manifest(s3, args["manifest_uri"])  # before any conversion: a bad manifest fails at once
    region = None if args.get("region", "-") == "-" else args["region"]
    region = region or boto3.session.Session().region_name
    lake = Lake.glue(args["lake_uri"], args["database"], region=region, **endpoint_properties())
    tbl = lake.ensure(manifest.table)
    log.info("%s: converting %d sample(s) into %s.%s", manifest.identity.label(), len(manifest.samples),
             args["database"], manifest.table)
    with tempfile.TemporaryDirectory(prefix="seqflow-glue-", dir=workdir) as tmp:
        work = Path(tmp)
        bcftools = install_bcftools(s3, args.get("bcftools_uri", "-"), work)
        with ThreadPoolExecutor(max_workers=int(args.get("parallel", "2"))) as pool:
            done = list(pool.map(lambda e: _convert_one(s3, tbl, manifest, e, work, bcftools), manifest.samples))
    data_files = [f for _, files, _, _ in done for f in files]
    values = {**iceberg.identity_values(manifest.identity), "sample_id": manifest.sample_ids}
    snapshot = iceberg.commit_replace(tbl, values, data_files, properties={
        "seqflow.samples": str(len(manifest.samples)), "seqflow.manifest": args["manifest_uri"]})
    qc = publish_qc_metrics(lake, qc_rows(s3, manifest), identity=manifest.identity)
    views = {}
    if args.get("athena_workgroup", "-") != "-":  # after the commits: Athena refuses a view over a missing table
        from seqflow.glue.views import create_views

        views = create_views(athena or boto3.client("athena", region_name=region), args["database"],
                             args["athena_workgroup"])
    else:
        log.warning("no --athena_workgroup: the lake's views are not created on Athena")
    result = {
        "format": RESULT_FORMAT,
        "manifest_uri": args["manifest_uri"],
        "manifest_digest": manifest.digest,
        "identity": manifest.identity.to_dict(),
        "database": args["database"],
        "snapshots": {manifest.table: snapshot, "qc_metrics": qc.snapshot_id},
        "views": views,
        "samples": {e.sample_id: {"rows": rows, "records": records, "files": len(files)}
                    for e, files, rows, records in done},
        "seconds": round(time.monotonic() - started, 3),
    }
    bucket, key = split_s3(result_uri(args["lake_uri"], manifest.identity))
    s3.put_object(Bucket=bucket, Key=key, Body=(json.dumps(result, indent=1, sort_keys=True) + "\n").encode(),
                  ContentType="application/json")
    log.info("%s: snapshot %s of %s (%d rows of %d samples), qc_metrics snapshot %s", manifest.identity.label(),
             snapshot, manifest.table, sum(r for _, _, r, _ in done), len(done), qc.snapshot_id)
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point of the Glue job script (``vcf_to_parquet_job.py``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    result = run(args)
    print(json.dumps({"snapshots": result["snapshots"], "samples": len(result["samples"])}))
    return 0
