#!/usr/bin/env python3
"""S3 staging entrypoint of every seqflow step image.

A step script only knows local paths. This entrypoint puts its inputs on local
scratch, runs it, and publishes what it wrote, so that the same script runs
unchanged on a laptop (local profile), in AWS Batch and in HealthOmics.

Environment contract (all names start with ``SEQFLOW_``):

``SEQFLOW_INPUTS``      whitespace-separated ``s3://bucket/key`` URIs. An object
                        URI is downloaded to ``inputs/<basename>``; a URI ending in
                        ``/`` is a prefix, downloaded to ``inputs/<last segment>/``
                        with its relative layout (e.g. a reference and its indexes).
                        Optional: a step may have no remote inputs.
``SEQFLOW_OUTPUT_URI``  ``s3://bucket/prefix/`` that receives every file under
                        ``outputs/`` after the command succeeded, and only its logs
                        (``*.log``) after it failed. Optional: without it nothing is
                        uploaded (dry runs, local tests).
``SEQFLOW_WORKDIR``     local scratch directory (default ``/scratch``). Each staged
                        job gets a directory of its own under it (``job-<Batch job
                        id>-...``); the command runs in it, so it addresses
                        ``inputs/...`` and ``outputs``, and the directory is removed
                        when the job ends, whatever its status (also on SIGTERM from
                        Batch), so staged inputs never pile up on the instance.
``SEQFLOW_KEEP_SCRATCH`` ``1`` keeps the job directory (debugging).
``SEQFLOW_KMS_KEY_ARN`` KMS key for uploads (SSE-KMS is always requested; the key
                        defaults to the bucket's own key).
``SEQFLOW_THREADS``     exported for the command when unset: the CPU count.
``SEQFLOW_SHARDS_PLAN`` ``s3://`` URI of a scattered call's plan (``plan.json``, written by the
                        ``call_variants`` task: seqflow.aws.scattered_calling). The job calls
                        one shard of it: ``shards[todo[AWS_BATCH_JOB_ARRAY_INDEX]]`` (index 0
                        outside an array job). The argument ``@shard`` (the job's ``regions``
                        parameter) becomes that shard's regions (``chr1:1-1000,chr2:1-50``),
                        the outputs go to ``SEQFLOW_OUTPUT_URI`` + ``<shard key>/``, and after
                        them the shard's record ``shard.json`` (its key and regions, the plan's
                        input checksums, each output's SHA-256 and size), by which a later run
                        reuses the shard.
``SEQFLOW_SHARDS_TODO`` the list of the plan this job's array calls (default ``todo``; the
                        children that ran out of memory are called again as a second array,
                        with more memory, from ``todo_more_memory``).

Every uploaded object carries the SHA-256 of its whole content as user metadata
(``x-amz-meta-seqflow-sha256``, :data:`SHA256_METADATA`), and S3 verifies each part
on arrival (``ChecksumAlgorithm`` SHA256). The metadata, not the ETag (which with SSE-KMS
is no MD5 and differs between two uploads of the same bytes) nor S3's SHA-256 (composite
for a multipart upload, so it depends on the part size), is the content checksum by
which a re-triggered analysis recognises a byte-identical BAM and reuses its shards.

The command and its arguments are this program's arguments, e.g.::

    s3_stage.py align.sh S1 inputs/GRCh38/genome.fa inputs/S1_R1.fastq.gz \
        inputs/S1_R2.fastq.gz outputs 8

With neither ``SEQFLOW_INPUTS`` nor ``SEQFLOW_OUTPUT_URI`` set the entrypoint is a
pure pass-through: it execs the command in the current directory with the
environment untouched. HealthOmics stages files itself and runs its task
commands through this entrypoint, so it must not change their directory.

Exit status is the command's. Outputs are uploaded only after a zero exit, so a
failed or reclaimed attempt never publishes a partial result; after a failure only
the step's log (``<sample>.<step>.log``: its tools' stderr, which says why) goes up,
beside where the results would be. Hidden entries (names starting with ``.``, which
the step scripts use for temporary files) are never uploaded. Output keys are deterministic (prefix + relative path), so a
retried job overwrites its own earlier attempt instead of adding to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path, PurePosixPath

ENV_PREFIX = "SEQFLOW_"
DEFAULT_WORKDIR = "/scratch"
#: what a failed command still publishes: the step's log, which says why it failed
LOG_SUFFIX = ".log"
#: the argument a scattered call's job passes for its regions (seqflow.aws.scattered_calling.SHARD_REGIONS)
SHARD_REGIONS = "@shard"
#: the record a called shard leaves beside its outputs (seqflow.analysis.scatter.SHARD_RECORD)
SHARD_RECORD = "shard.json"
#: the format of plan.json and shard.json (seqflow.analysis.scatter.FORMAT_VERSION)
SHARD_FORMAT = 1
#: the user metadata holding an uploaded object's SHA-256 (seqflow.aws.scattered_calling reads it)
SHA256_METADATA = "seqflow-sha256"


class StagingError(Exception):
    """A staging input is invalid; the message names the variable and the rule."""


def parse_s3_uri(uri: str, variable: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into bucket and key, rejecting unsafe keys."""
    if not uri.startswith("s3://"):
        raise StagingError(f"{variable}: {uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise StagingError(f"{variable}: {uri!r} must name a bucket and a key")
    parts = PurePosixPath(key).parts
    if any(part in ("..", ".") for part in parts) or key.startswith("/"):
        raise StagingError(f"{variable}: {uri!r} has a relative or absolute path segment")
    return bucket, key


def _safe_join(root: Path, relative: str, what: str) -> Path:
    """Join ``relative`` under ``root`` and refuse anything that escapes it."""
    target = (root / relative).resolve()
    if root.resolve() not in target.parents:
        raise StagingError(f"{what}: {relative!r} would be written outside {root}")
    return target


def plan_downloads(client, inputs: str, input_dir: Path) -> list[tuple[str, str, Path]]:
    """List (bucket, key, local path) for every input, failing on name clashes."""
    plan: list[tuple[str, str, Path]] = []
    seen: dict[Path, str] = {}
    for uri in inputs.split():
        bucket, key = parse_s3_uri(uri, "SEQFLOW_INPUTS")
        if key.endswith("/"):
            folder = PurePosixPath(key).name
            paginator = client.get_paginator("list_objects_v2")
            found = False
            for page in paginator.paginate(Bucket=bucket, Prefix=key):
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith("/"):
                        continue  # console-made "folder" placeholders
                    found = True
                    relative = f"{folder}/{obj['Key'][len(key):]}"
                    plan.append((bucket, obj["Key"], _safe_join(input_dir, relative, "SEQFLOW_INPUTS")))
            if not found:
                raise StagingError(f"SEQFLOW_INPUTS: prefix {uri!r} holds no objects")
        else:
            plan.append((bucket, key, _safe_join(input_dir, PurePosixPath(key).name, "SEQFLOW_INPUTS")))
    for _bucket, _key, path in plan:
        source = f"s3://{_bucket}/{_key}"
        if path in seen:
            raise StagingError(f"SEQFLOW_INPUTS: {seen[path]} and {source} both stage to {path}")
        seen[path] = source
    return plan


def download(client, plan: list[tuple[str, str, Path]]) -> None:
    """Download every planned object (boto3 verifies sizes and retries)."""
    for bucket, key, path in plan:
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"seqflow-stage: s3://{bucket}/{key} -> {path}", flush=True)
        client.download_file(bucket, key, str(path))


def output_files(output_dir: Path) -> list[Path]:
    """Files to publish: everything under ``output_dir`` except hidden entries."""
    files = []
    for path in sorted(output_dir.rglob("*")):
        relative = path.relative_to(output_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file():
            files.append(path)
    return files


def upload(client, output_dir: Path, output_uri: str, kms_key_arn: str | None, *, logs_only: bool = False,
           config=None) -> dict[str, dict]:
    """Upload the outputs (``logs_only``: only the ``*.log`` files) under ``output_uri``, each with its
    SHA-256 as metadata; returns what went up: relative name -> ``{"sha256", "size"}``. ``config``: a
    ``boto3.s3.transfer.TransferConfig`` (default boto3's: multipart above 8 MiB)."""
    bucket, prefix = parse_s3_uri(output_uri, "SEQFLOW_OUTPUT_URI")
    if not prefix.endswith("/"):
        prefix += "/"
    extra = {"ServerSideEncryption": "aws:kms", "ChecksumAlgorithm": "SHA256"}
    if kms_key_arn:
        extra["SSEKMSKeyId"] = kms_key_arn
    files = [f for f in output_files(output_dir) if not logs_only or f.name.endswith(LOG_SUFFIX)]
    uploaded: dict[str, dict] = {}
    for path in files:
        relative = path.relative_to(output_dir).as_posix()
        key = prefix + relative
        digest = {"sha256": _sha256(path), "size": path.stat().st_size}
        print(f"seqflow-stage: {path} -> s3://{bucket}/{key} (sha256 {digest['sha256']})", flush=True)
        client.upload_file(str(path), bucket, key, Config=config,
                           ExtraArgs={**extra, "Metadata": {SHA256_METADATA: digest["sha256"]}})
        uploaded[relative] = digest
    return uploaded


def select_shard(client, plan_uri: str, env) -> dict:
    """The shard of the plan this job calls: ``todo[AWS_BATCH_JOB_ARRAY_INDEX]`` (0 outside an array)."""
    bucket, key = parse_s3_uri(plan_uri, "SEQFLOW_SHARDS_PLAN")
    try:
        plan = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ValueError as exc:
        raise StagingError(f"SEQFLOW_SHARDS_PLAN: {plan_uri} is not JSON: {exc}") from None
    if plan.get("format_version") != SHARD_FORMAT:
        raise StagingError(f"SEQFLOW_SHARDS_PLAN: {plan_uri} has format {plan.get('format_version')!r}, "
                           f"this entrypoint reads {SHARD_FORMAT}")
    raw = env.get("AWS_BATCH_JOB_ARRAY_INDEX", "0")
    which = env.get("SEQFLOW_SHARDS_TODO", "").strip() or "todo"
    if which not in ("todo", "todo_more_memory"):
        raise StagingError(f"SEQFLOW_SHARDS_TODO: {which!r} is neither todo nor todo_more_memory")
    todo = plan.get(which) or []
    if not raw.isdigit() or int(raw) >= len(todo):
        raise StagingError(f"AWS_BATCH_JOB_ARRAY_INDEX {raw!r}: the plan {plan_uri} has {len(todo)} shard(s) "
                           f"in {which}")
    shard = plan["shards"][todo[int(raw)]]
    key = str(shard.get("key", ""))
    if not key or not all(c.isalnum() or c in "-_." for c in key) or key.startswith("."):
        raise StagingError(f"SEQFLOW_SHARDS_PLAN: {key!r} is not a shard key")
    return {**shard, "inputs": plan.get("inputs"), "sample_id": plan.get("sample_id")}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def write_shard_record(client, shard: dict, output_dir: Path, output_uri: str, kms_key_arn: str | None,
                       outputs: dict[str, dict] | None = None) -> None:
    """``<output_uri>shard.json``: what the shard was called from and what it wrote (after the outputs;
    ``outputs``: what :func:`upload` returned, else the files are hashed here)."""
    bucket, prefix = parse_s3_uri(output_uri, "SEQFLOW_OUTPUT_URI")
    if outputs is None:
        outputs = {p.relative_to(output_dir).as_posix(): {"sha256": _sha256(p), "size": p.stat().st_size}
                   for p in output_files(output_dir)}
    record = {"format_version": SHARD_FORMAT, "sample_id": shard.get("sample_id"),
              **{k: shard.get(k) for k in ("index", "count", "key", "label", "regions")},
              "inputs": shard.get("inputs"), "outputs": outputs}
    extra = {"ServerSideEncryption": "aws:kms", **({"SSEKMSKeyId": kms_key_arn} if kms_key_arn else {})}
    client.put_object(Bucket=bucket, Key=prefix.rstrip("/") + "/" + SHARD_RECORD, ContentType="application/json",
                      Body=(json.dumps(record, indent=1) + "\n").encode(), **extra)
    print(f"seqflow-stage: shard {shard['key']} ({shard.get('label')}) recorded in {output_uri}{SHARD_RECORD}",
          flush=True)


def main(argv: list[str] | None = None, client=None) -> int:
    """Stage inputs, run the command, publish outputs; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("usage: s3_stage.py COMMAND [ARG...]  (see the module docstring)", file=sys.stderr)
        return 2
    env = os.environ
    inputs = env.get("SEQFLOW_INPUTS", "").strip()
    output_uri = env.get("SEQFLOW_OUTPUT_URI", "").strip()
    if not inputs and not output_uri:
        os.execvp(argv[0], argv)  # pass-through; does not return
    scratch = Path(env.get("SEQFLOW_WORKDIR", DEFAULT_WORKDIR))
    scratch.mkdir(parents=True, exist_ok=True)
    # the job's own directory: jobs sharing an instance (and its scratch disk) never see each other's files
    job = "".join(c for c in env.get("AWS_BATCH_JOB_ID", "") if c.isalnum() or c in "-_")[:80]
    workdir = Path(tempfile.mkdtemp(prefix=f"job-{job}-" if job else "job-", dir=scratch))
    # Batch stops a job (TerminateJob, timeout, Spot reclaim) with SIGTERM: leave through finally
    handle = threading.current_thread() is threading.main_thread()  # only the main thread may set handlers
    previous = signal.signal(signal.SIGTERM, _terminated) if handle else None
    try:
        return _staged(argv, env, client, output_uri, inputs, workdir)
    except _Terminated:
        print("seqflow-stage: terminated (SIGTERM); outputs not uploaded", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if handle:
            signal.signal(signal.SIGTERM, previous)
        if env.get("SEQFLOW_KEEP_SCRATCH") != "1":
            shutil.rmtree(workdir, ignore_errors=True)


def _stop(child: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the command's process group, SIGKILL after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class _Terminated(BaseException):
    """SIGTERM arrived; raised so that the job's scratch is removed on the way out."""


def _terminated(signum, frame):  # noqa: ARG001 - signal handler signature
    raise _Terminated()


def _staged(argv: list[str], env, client, output_uri: str, inputs: str, workdir: Path) -> int:
    """Stage, run and publish in ``workdir``; return the exit status."""
    input_dir, output_dir = workdir / "inputs", workdir / "outputs"
    input_dir.mkdir(parents=True, exist_ok=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        if output_uri:
            parse_s3_uri(output_uri, "SEQFLOW_OUTPUT_URI")  # fail before any work
        if client is None:
            import boto3  # only needed when something is staged

            client = boto3.client("s3")
        shard = None
        if env.get("SEQFLOW_SHARDS_PLAN", "").strip():
            shard = select_shard(client, env["SEQFLOW_SHARDS_PLAN"].strip(), env)
            if SHARD_REGIONS not in argv:
                raise StagingError(f"SEQFLOW_SHARDS_PLAN: the command has no {SHARD_REGIONS} argument to put "
                                   "the shard's regions in")
            argv = [shard["argument"] if a == SHARD_REGIONS else a for a in argv]
            output_uri = f"{output_uri.rstrip('/')}/{shard['key']}/"
            print(f"seqflow-stage: calling shard {shard['key']} ({shard.get('label')}) -> {output_uri}", flush=True)
        if inputs:
            download(client, plan_downloads(client, inputs, input_dir))
    except StagingError as err:
        print(f"seqflow-stage: {err}", file=sys.stderr)
        return 2

    child_env = dict(env)
    child_env.setdefault("SEQFLOW_THREADS", str(os.cpu_count() or 1))
    child_env["SEQFLOW_INPUT_DIR"] = str(input_dir)
    child_env["SEQFLOW_OUTPUT_DIR"] = str(output_dir)
    # argv is passed as a list: nothing a user typed is ever parsed by a shell
    # its own process group, so that a stopped job stops the command's whole tree
    child = subprocess.Popen(argv, cwd=workdir, env=child_env, start_new_session=True)
    try:
        status = child.wait()
    except BaseException:
        _stop(child)
        raise
    if status != 0:
        print(f"seqflow-stage: {argv[0]} exited {status}; outputs not uploaded", file=sys.stderr)
        if output_uri:
            try:
                count = len(upload(client, output_dir, output_uri, env.get("SEQFLOW_KMS_KEY_ARN") or None,
                                   logs_only=True))
                print(f"seqflow-stage: uploaded {count} log file(s) to {output_uri}", file=sys.stderr, flush=True)
            except Exception as exc:  # noqa: BLE001 - the command's status matters more than its log
                print(f"seqflow-stage: could not upload the logs: {exc}", file=sys.stderr)
        return status
    if output_uri:
        uploaded = upload(client, output_dir, output_uri, env.get("SEQFLOW_KMS_KEY_ARN") or None)
        print(f"seqflow-stage: uploaded {len(uploaded)} file(s) to {output_uri}", flush=True)
        if shard is not None:  # last: a record names only outputs that are there
            write_shard_record(client, shard, output_dir, output_uri, env.get("SEQFLOW_KMS_KEY_ARN") or None,
                               uploaded)
    return 0


if __name__ == "__main__":
    sys.exit(main())
