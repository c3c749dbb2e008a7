"""The reference catalogue of the ``aws`` profile: ``s3://<raw_bucket>/references/``.

Same interface and rules as :class:`seqflow.references.catalog.LocalReferenceCatalog`
(the ``seqflow reference`` commands and the analysis use either through
:func:`seqflow.references.reference_catalog`). A reference is the prefix
``s3://<raw_bucket>/references/<name>/`` holding ``<name>.fa``, ``<name>.fa.fai``,
``<name>.ploidy``, ``<name>.fa.gaps.bed`` (the assembly gaps, runs of at least 1,000 N, that
the calling intervals respect: :mod:`seqflow.references.intervals`), the aligner indexes and
``reference.json``; the default and
the sample-sheet mapping are ``s3://<raw_bucket>/references/_rules.json``.

``add`` normalises and checksums the FASTA on the machine that runs it (the same
code as the local profile) and uploads the result, ``reference.json`` last: a
prefix without it is not a reference, so an upload that fails or is killed
half-way registers nothing (and what it had uploaded is deleted). It does not
build aligner indexes: a human genome's bwa index takes an hour and 5 GB of
memory, so an AWS Batch job on the aligner's image builds each one, and
:meth:`S3ReferenceCatalog.pending_index_commands` prints the ``aws batch
submit-job`` command that starts it.

S3 has no rename, so ``add --replace`` is not atomic as it is locally: the old
``reference.json`` is deleted before the new files go up, and a failure then
leaves the name unregistered (never a mix of the two). Index objects are kept
across a replace when the new FASTA has the same contigs (names, lengths, MD5s)
as the old one, e.g. to change the ploidy or the description; otherwise they
are deleted with the rest.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shlex
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from seqflow.references.catalog import (
    INDEX_SUFFIXES,
    METADATA,
    Ploidy,
    Reference,
    ReferenceCatalogBase,
    ReferenceError,
    _build,
    _is_name,
    check_name,
)
from seqflow.references.intervals import GAPS_SUFFIX
from seqflow.references.resolve import RULES_FILE, ReferenceRules

log = logging.getLogger(__name__)

#: key prefix of the catalogue in the raw bucket
REFERENCES_PREFIX = "references/"

#: Batch job definition (settings key) of each aligner's index job: the aligner's image
INDEX_JOB_DEFINITIONS: dict[str, str] = {
    "bwa": "batch_job_definition_align_bwa",
    "minimap2": "batch_job_definition_align_minimap2",
}

#: Batch job names: up to 128 letters, digits, hyphens and underscores
_JOB_NAME_MAX = 128

#: every upload names SSE-KMS (the bucket policy denies any other encryption; the key is the bucket's)
_UPLOAD_ARGS = {"ServerSideEncryption": "aws:kms"}


def write_gaps(fasta: Path) -> Path:
    """``<fasta>.gaps.bed`` beside a local FASTA: its assembly gaps (:func:`seqflow.references.intervals.scan_gaps`),
    uploaded with it so that the analysis cuts calling intervals in them without reading the FASTA."""
    from seqflow.references.intervals import scan_gaps

    bed = Path(f"{fasta}{GAPS_SUFFIX}")
    bed.write_text("".join(f"{c}\t{s}\t{e}\n" for c, s, e in scan_gaps(fasta)))
    return bed


def _aws_errors() -> tuple[type[BaseException], ...]:
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError, Boto3Error)


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def index_step(aligner: str):
    """The ``index_reference`` step of ``aligner`` in the step catalogue (``containers/<aligner>/steps.yaml``)."""
    from seqflow.analysis.catalog import catalog

    try:
        return catalog().step("index_reference", aligner=aligner)
    except (KeyError, ValueError) as exc:
        raise ReferenceError(f"no index step for aligner {aligner!r}: {exc}") from None


class S3ReferenceCatalog(ReferenceCatalogBase):
    """The catalogue under ``s3://<bucket>/references/`` (aws profile).

    ``settings`` (:class:`seqflow.aws.settings.AwsSettings`) names the bucket and,
    for :meth:`pending_index_commands`, the Batch queue and job definitions;
    ``s3_client`` is a boto3 S3 client (an Airflow task may pass
    ``S3Hook(aws_conn_id=AWS_CONN_ID).get_conn()``).
    """

    profile = "aws"

    def __init__(self, settings, s3_client, *, deb_cache: str | Path | None = None):
        self.settings = settings
        self.bucket = settings.require("raw_bucket")
        self.s3 = s3_client
        self._deb_cache = Path(deb_cache) if deb_cache is not None else None
        #: aligners the last ``add`` of each name asked for (what pending_index_commands offers)
        self._requested: dict[str, tuple[str, ...]] = {}

    # -- locations ------------------------------------------------------------------------

    @property
    def root(self) -> str:
        """``s3://<bucket>/references/``."""
        return f"s3://{self.bucket}/{REFERENCES_PREFIX}"

    @property
    def deb_cache(self) -> Path:
        """Local cache of Debian packages for ``deb://`` sources (shared with the local profile)."""
        if self._deb_cache is None:
            from seqflow.config import local_paths

            self._deb_cache = local_paths().references / "_debs"
        return self._deb_cache

    def location(self, name: str) -> str:
        """``s3://<bucket>/references/<name>/`` (the reference's ``location``; :meth:`AwsSettings.reference_uri`)."""
        return self.settings.reference_uri(check_name(name))

    def _prefix(self, name: str) -> str:
        """Key prefix of ``name``: ``references/<name>/``."""
        prefix = self.location(name)[len(f"s3://{self.bucket}/"):]
        assert prefix.startswith(REFERENCES_PREFIX), prefix
        return prefix

    def _uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # -- S3 primitives (every AWS error becomes a ReferenceError naming the URI) ------------

    def _fail(self, exc: BaseException, what: str, uri: str) -> ReferenceError:
        code = _error_code(exc)
        detail = f"{code}: {exc}" if code and code not in str(exc) else str(exc)
        return ReferenceError(f"reference catalogue: cannot {what} {uri}: {detail}")

    def _read(self, key: str) -> str | None:
        """The object's text, None if there is no such object."""
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
            return body.read().decode("utf-8")
        except _aws_errors() as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise self._fail(exc, "read", self._uri(key)) from None

    def _put(self, key: str, text: str) -> None:
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"),
                               ContentType="application/json", **_UPLOAD_ARGS)
        except _aws_errors() as exc:
            raise self._fail(exc, "write", self._uri(key)) from None

    def _upload(self, path: Path, key: str) -> None:
        try:
            # managed transfer: multipart and parallel for a multi-GB FASTA
            self.s3.upload_file(str(path), self.bucket, key, ExtraArgs=dict(_UPLOAD_ARGS))
        except _aws_errors() as exc:
            raise self._fail(exc, "upload", self._uri(key)) from None

    def _keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (ListObjectsV2; one call up to 1000 keys)."""
        keys: list[str] = []
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        except _aws_errors() as exc:
            raise self._fail(exc, "list", self._uri(prefix)) from None
        return keys

    def _delete(self, keys: Iterable[str]) -> None:
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), 1000):  # DeleteObjects takes up to 1000 keys
            batch = keys[start:start + 1000]
            try:
                response = self.s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
            except _aws_errors() as exc:
                raise self._fail(exc, "delete objects under", self._uri(batch[0].rsplit("/", 1)[0] + "/")) from None
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise ReferenceError(
                    f"reference catalogue: cannot delete {self._uri(first.get('Key', '?'))}: "
                    f"{first.get('Code', '')} {first.get('Message', '')}".rstrip()
                    + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
                )

    # -- the catalogue ----------------------------------------------------------------------

    def names(self) -> list[str]:
        """Registered names, sorted (prefixes that hold a ``reference.json``)."""
        found = set()
        for key in self._keys(REFERENCES_PREFIX):
            parts = key[len(REFERENCES_PREFIX):].split("/")
            if len(parts) == 2 and parts[1] == METADATA and _is_name(parts[0]):
                found.add(parts[0])
        return sorted(found)

    def get(self, name: str) -> Reference | None:
        prefix = self._prefix(name)
        text = self._read(prefix + METADATA)
        if text is None:
            return None
        return Reference.from_json(text, location=self._uri(prefix))

    def add(self, name: str, source: str, *, ploidy: Ploidy | None = None, description: str = "",
            aligners: Sequence[str] = tuple(INDEX_SUFFIXES), replace: bool = False) -> Reference:
        """Register ``source`` as ``name``: normalise and checksum locally, upload, ``reference.json`` last.

        ``source`` is a local path, ``file://``, ``s3://`` or ``deb://`` URI.
        Indexes are not built here: ``aligners`` are the ones
        :meth:`pending_index_commands` then offers Batch commands for.
        """
        name, ploidy, aligners = self.check_add(name, ploidy, aligners)
        old = self.get(name)
        if old is not None and not replace:
            raise ReferenceError(
                f"reference {name!r} is already registered (from {old.source});"
                f" remove it first (seqflow reference remove {name}) or pass --replace"
            )
        prefix = self._prefix(name)
        with tempfile.TemporaryDirectory(prefix=f"seqflow-reference-{name}-") as tmp:
            work = Path(tmp)
            built = _build(work, name, source, ploidy, description, aligners=(), profile=self.profile,
                           deb_cache=self.deb_cache, s3_client=self.s3)
            write_gaps(work / built.fasta_name)
            ref = dataclasses.replace(built, location=self._uri(prefix))
            # nothing in S3 changes until the FASTA has been read and checked
            keep: set[str] = set()
            if old is not None and old.contigs == ref.contigs:
                keep = {prefix + ref.fasta_name + s for suffixes in INDEX_SUFFIXES.values() for s in suffixes}
            existing = self._keys(prefix)
            if prefix + METADATA in existing:
                self._delete([prefix + METADATA])  # unregister first: the name is never half old, half new
            # leftovers of the old reference or of a failed add: old indexes must not pass for the new FASTA's
            self._delete(k for k in existing if k not in keep and k != prefix + METADATA)
            uploaded: list[str] = []
            try:
                for file_name in (ref.fasta_name, ref.fasta_name + ".fai", ref.fasta_name + GAPS_SUFFIX,
                                  f"{name}.ploidy"):
                    uploaded.append(prefix + file_name)
                    self._upload(work / file_name, prefix + file_name)
                uploaded.append(prefix + METADATA)
                self._put(prefix + METADATA, ref.to_json())
            except BaseException:
                self._cleanup(uploaded)
                raise
        self._requested[name] = aligners
        log.info("reference %s registered in %s: %d contig(s), %d bp, from %s", name, ref.location,
                 len(ref.contigs), ref.total_length, ref.source)
        return self.require(name)

    def _cleanup(self, keys: list[str]) -> None:
        """Delete what a failed ``add`` uploaded (best effort: the original error is what matters)."""
        try:
            self._delete(keys)
        except ReferenceError as exc:
            log.warning("could not delete the partial upload (%s): %s; it is not registered "
                        "(no %s) and the next add of this name deletes it", ", ".join(keys), exc, METADATA)

    def remove(self, name: str) -> Reference:
        """Unregister ``name`` and delete its objects (results made with it are kept)."""
        ref = self.check_removable(name)
        prefix = self._prefix(name)
        self._delete([prefix + METADATA])  # unregistered from here on, even if the rest fails
        self._delete(k for k in self._keys(prefix) if k != prefix + METADATA)
        return ref

    def rules(self) -> ReferenceRules:
        """The default reference and the sample-sheet mapping table (``references/_rules.json``)."""
        return ReferenceRules.from_json(self._read(REFERENCES_PREFIX + RULES_FILE))

    def save_rules(self, rules: ReferenceRules) -> None:
        """Store ``rules``; every reference they name must be registered."""
        for name in sorted(rules.names()):
            self.require(name)
        self._put(REFERENCES_PREFIX + RULES_FILE, rules.to_json())

    def gaps(self, ref: Reference) -> dict[str, list[tuple[int, int]]] | None:
        """The reference's assembly gaps (contig -> 0-based half-open runs of N) from ``<fasta>.gaps.bed``,
        None for a reference registered before ``add`` wrote that file."""
        text = self._read(self._prefix(ref.name) + ref.fasta_name + GAPS_SUFFIX)
        if text is None:
            return None
        gaps: dict[str, list[tuple[int, int]]] = {}
        for line in text.splitlines():
            contig, start, end = line.split("\t")
            gaps.setdefault(contig, []).append((int(start), int(end)))
        return gaps

    # -- indexes ----------------------------------------------------------------------------

    def indexes(self, ref: Reference) -> dict[str, bool]:
        """Which aligners' index objects are all present (one listing of the reference's prefix)."""
        present = {self._uri(k) for k in self._keys(self._prefix(ref.name))}
        return {aligner: all(uri in present for uri in ref.index_files(aligner)) for aligner in INDEX_SUFFIXES}

    def ensure_index(self, ref: Reference, aligner: str) -> None:
        """Nothing if the aligner's index is in S3; else :class:`ReferenceError` with the Batch command."""
        ref.index_files(aligner)  # unknown aligner -> ReferenceError
        if self.indexes(ref).get(aligner):
            return
        raise ReferenceError(
            f"reference {ref.name!r} has no {aligner} index in {ref.location} "
            f"(indexes are built by an AWS Batch job, not on Airflow workers); build it with:\n"
            f"{self.index_command(ref, aligner)}\n"
            "and retry once the job has succeeded"
        )

    def index_job_request(self, ref: Reference, aligner: str) -> dict[str, Any]:
        """Batch ``SubmitJob`` parameters (botocore names) of the job that builds ``aligner``'s index.

        The job runs the aligner's ``index_reference`` step (script, arguments and
        resources from the step catalogue) under the image's S3 staging
        entrypoint: ``SEQFLOW_INPUTS`` stages the FASTA and its ``.fai`` to
        ``inputs/``; ``SEQFLOW_OUTPUT_URI`` is the reference's prefix.
        """
        ref.index_files(aligner)  # unknown aligner -> ReferenceError
        step = index_step(aligner)
        settings = self.settings
        # Batch job names allow letters, digits, '-' and '_'; reference names may also hold '.'
        job_name = f"seqflow_index_{aligner}_{ref.name.replace('.', '-')}"[:_JOB_NAME_MAX]
        tags = {"reference": ref.name, "step": step.id}
        if settings.get("project"):
            tags = {"project": settings.get("project"), **tags}
        return {
            "jobName": job_name,
            "jobQueue": settings.require("batch_job_queue"),
            "jobDefinition": settings.require(INDEX_JOB_DEFINITIONS[aligner]),
            "containerOverrides": {
                "command": [step.script, *step.argv({"reference": f"inputs/{ref.fasta_name}", "out_dir": "outputs"})],
                "environment": [
                    {"name": "SEQFLOW_INPUTS", "value": f"{ref.fasta} {ref.fasta}.fai"},
                    {"name": "SEQFLOW_OUTPUT_URI", "value": ref.location},
                ],
                # the alignment job definition is sized for bwa mem; indexing needs what its step declares
                "resourceRequirements": [
                    {"type": "VCPU", "value": str(step.resources.vcpus)},
                    {"type": "MEMORY", "value": str(step.resources.memory_mib)},
                ],
            },
            "timeout": {"attemptDurationSeconds": step.resources.timeout_seconds},
            "tags": tags,
        }

    def index_command(self, ref: Reference, aligner: str) -> str:
        """The ``aws batch submit-job`` command line of :meth:`index_job_request` (shell-quoted)."""
        request = self.index_job_request(ref, aligner)
        argv = ["aws", "batch", "submit-job"]
        if self.settings.get("region"):
            argv += ["--region", self.settings.get("region")]
        argv += [
            "--job-name", request["jobName"],
            "--job-queue", request["jobQueue"],
            "--job-definition", request["jobDefinition"],
            "--container-overrides", json.dumps(request["containerOverrides"], separators=(",", ":")),
            "--timeout", json.dumps(request["timeout"], separators=(",", ":")),
            "--tags", json.dumps(request["tags"], separators=(",", ":")),
        ]
        return shlex.join(argv)

    def pending_index_commands(self, ref: Reference, aligners: Sequence[str] | None = None) -> list[str]:
        """Lines to print after ``add``: per aligner without its index, a comment and its Batch command.

        ``aligners`` defaults to the ones the last :meth:`add` of this name asked
        for (``--aligner``), else every aligner. Empty when every index is in S3.
        """
        wanted = tuple(aligners) if aligners is not None else self._requested.get(ref.name, tuple(INDEX_SUFFIXES))
        present = self.indexes(ref)
        lines: list[str] = []
        for aligner in wanted:
            if present.get(aligner):
                continue
            lines.append(f"# the {aligner} index is not built yet; build it on AWS Batch with:")
            lines.append(self.index_command(ref, aligner))
        return lines


def aws_reference_catalog(settings=None, s3_client=None) -> S3ReferenceCatalog:
    """The aws profile's catalogue, configured by :func:`seqflow.aws.settings.load_settings`.

    Without ``s3_client`` a plain boto3 client is made (the default credential
    chain): the ``seqflow reference`` commands run on a user's machine where no
    Airflow connection exists. An Airflow task may pass
    ``S3Hook(aws_conn_id=AWS_CONN_ID).get_conn()``.
    """
    if settings is None:
        from seqflow.aws.settings import load_settings

        settings = load_settings()
    if s3_client is None:
        import boto3

        s3_client = boto3.client("s3", region_name=settings.get("region") or None)
    return S3ReferenceCatalog(settings, s3_client)
