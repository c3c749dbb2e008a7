"""AWS Glue job: convert one VCF from S3 into the S3 variant lake.

Runs the same converter as the local profile (``seqflow.lake``) on the Glue
worker's disk, then publishes the partitions to S3 and registers them with
Glue ``BatchCreatePartition`` (idempotent). Job arguments (all strings):

  --vcf_uri            s3://bucket/results/<run>/<pv>/<reference>/<aligner>-<caller>/<sample>/<sample>.vcf.gz
  --lake_uri           s3://lake-bucket/lake            (no trailing slash)
  --run_id, --pipeline_version, --reference, --aligner, --caller
                       the analysis identity: every part is a partition key,
                       <lake>/<table>/run_id=/pipeline_version=/reference=/aligner=/caller=/sample_id=/
  --sample_id          a sample id, or "-" to take every sample of the VCF
  --table              lake table (default "variants")
  --database           Glue database to register partitions in ("-" to skip)
  --bcftools_uri       s3://.../bcftools-linux-x86_64.tar.gz: bcftools + libhts
                       (Glue workers have no bcftools; see README.md)

Publishing on S3: the partition's new objects are staged under
``<lake>/_staging/<txn>/`` first, so a failed conversion publishes nothing;
the commit then deletes the partition's old objects and copies the staged
ones in. S3 has no atomic rename, so a reader may briefly see the partition
empty (never duplicated); a retry of the job converges to the same state.
"""

from __future__ import annotations

import os
import sys
import tarfile
import tempfile
import uuid
from pathlib import Path

DEFAULTS = {"table": "variants", "sample_id": "-", "database": "-", "bcftools_uri": "-"}
REQUIRED = ["vcf_uri", "lake_uri", "run_id", "pipeline_version", "reference", "aligner", "caller"]


def parse_args(argv: list[str]) -> dict[str, str]:
    """Glue passes ``--key value`` pairs; awsglue.utils.getResolvedOptions is not
    needed for plain strings and keeps this script importable in tests."""
    args = dict(DEFAULTS)
    it = iter(argv)
    for token in it:
        if token.startswith("--"):
            key = token[2:].replace("-", "_")
            value = next(it, "")
            if "=" in token:
                key, value = token[2:].split("=", 1)
            args[key] = value
    missing = [k for k in REQUIRED if not args.get(k)]
    if missing:
        raise SystemExit(f"missing job argument(s): {', '.join('--' + m for m in missing)}")
    return args


def analysis_identity(args: dict[str, str]):
    """The :class:`~seqflow.identity.AnalysisIdentity` of the job's arguments (validated)."""
    from seqflow.identity import FIELDS, AnalysisIdentity

    return AnalysisIdentity(**{k: args[k] for k in FIELDS})


def split_s3(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _install_bcftools(s3, uri: str, workdir: Path) -> str:
    if uri in ("", "-"):
        return "bcftools"
    bucket, key = split_s3(uri)
    archive = workdir / "bcftools.tar.gz"
    s3.download_file(bucket, key, str(archive))
    with tarfile.open(archive) as tar:
        tar.extractall(workdir / "bcftools", filter="data")
    root = workdir / "bcftools"
    exe = next(root.rglob("bin/bcftools"))
    libs = {str(p.parent) for p in root.rglob("libhts.so*")}
    os.environ["LD_LIBRARY_PATH"] = ":".join([*libs, os.environ.get("LD_LIBRARY_PATH", "")])
    exe.chmod(0o755)
    return str(exe)


def publish_to_s3(s3, local_lake: Path, lake_uri: str, partitions) -> None:
    """Stage then swap each partition's objects under ``lake_uri``."""
    bucket, prefix = split_s3(lake_uri.rstrip("/"))
    txn = uuid.uuid4().hex
    staged: list[tuple[str, str, list[str]]] = []
    for p in partitions:
        keys = []
        for f in sorted(p.path(local_lake).glob("*.parquet")):
            key = f"{prefix}/_staging/{txn}/{p.relpath}/{f.name}"
            s3.upload_file(str(f), bucket, key)
            keys.append(key)
        staged.append((f"{prefix}/{p.relpath}/", f"{prefix}/_staging/{txn}/{p.relpath}/", keys))
    for final, stage, keys in staged:
        old = s3.list_objects_v2(Bucket=bucket, Prefix=final).get("Contents", [])
        if old:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": o["Key"]} for o in old]})
        for key in keys:
            s3.copy_object(Bucket=bucket, Key=final + key[len(stage):], CopySource={"Bucket": bucket, "Key": key})
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})


def main(argv: list[str] | None = None) -> int:
    """Entry point of the Glue job."""
    import boto3

    from seqflow.catalog.athena import glue_batch_create_partition_args, unexpected_partition_errors
    from seqflow.lake import convert_vcf_to_parquet

    args = parse_args(sys.argv[1:] if argv is None else argv)
    identity = analysis_identity(args)  # before any download: a bad argument fails at once
    s3 = boto3.client("s3")
    with tempfile.TemporaryDirectory(prefix="seqflow-") as tmp:
        work = Path(tmp)
        bcftools = _install_bcftools(s3, args["bcftools_uri"], work)
        bucket, key = split_s3(args["vcf_uri"])
        vcf = work / Path(key).name
        s3.download_file(bucket, key, str(vcf))
        result = convert_vcf_to_parquet(
            vcf,
            work / "lake",
            identity=identity,
            sample_id=None if args["sample_id"] in ("", "-") else args["sample_id"],
            table=args["table"],
            bcftools=bcftools,
        )
        publish_to_s3(s3, work / "lake", args["lake_uri"], result.partitions)
    if args["database"] not in ("", "-"):
        glue = boto3.client("glue")
        for call in glue_batch_create_partition_args(
            args["database"], args["table"], result.partitions, args["lake_uri"]
        ):
            errors = unexpected_partition_errors(glue.batch_create_partition(**call))
            if errors:
                raise RuntimeError(f"BatchCreatePartition failed: {errors}")
    print(f"published {result.records} records as {result.rows} rows in {len(result.partitions)} partition(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
