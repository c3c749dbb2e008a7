"""Local stand-in for the AWS DataSync transfer of run folders.

The ``aws`` profile runs a DataSync task execution with an include filter; the
``local`` profile calls :func:`transfer_runs` with the very same filter value,
so both profiles select the same run folders:

* the filter is DataSync's ``SIMPLE_PATTERN`` syntax: patterns separated by
  ``|``, each anchored at the source root (``/241120_A01234_0042_AHXXXXXDSX``,
  ``/241120_*``), ``*`` as the only wildcard (:func:`build_include_filter`,
  :func:`parse_include_filter`);
* copies are incremental, atomic (temp file in the destination folder, then
  rename) and checksum-verified;
* a run's completion flags are copied last, so a sensor that sees the flag at
  the destination sees a complete run;
* each destination run folder gets a ``.seqflow-manifest.json`` (path, size,
  sha256 of every file), hidden so that it is never mistaken for run content.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from seqflow.config import DEFAULT_COMPLETION_FLAGS
from seqflow.fsutil import sha256_file as _sha256_file
from seqflow.paths import UnsafePathError, safe_join
from seqflow.runfolder import is_run_folder_name

log = logging.getLogger(__name__)

MANIFEST_NAME = ".seqflow-manifest.json"
MANIFEST_VERSION = 1
#: prefix of in-progress copies; hidden, so run discovery never picks them up
TEMP_PREFIX = ".tmp-seqflow-"
#: DataSync's limit on the length of a filter value
MAX_FILTER_LENGTH = 102_400

_CHUNK = 1024 * 1024
# one root-anchored pattern over run-folder-name characters: no "/" below the
# root, no ".", so neither ".." nor a hidden folder can be selected
_PATTERN_RE = re.compile(r"/[A-Za-z0-9_*-]+")


class TransferError(Exception):
    """A transfer that cannot or must not proceed."""


class TransferFilterError(TransferError, ValueError):
    """An include filter that is not a valid DataSync simple-pattern filter for run folders."""


class TransferVerificationError(TransferError):
    """A copied file whose checksum differs from its source."""


def build_include_filter(run_names: Iterable[str]) -> str:
    """The DataSync include ``FilterRule`` value selecting exactly ``run_names``.

    E.g. ``/241120_A01234_0042_AHXXXXXDSX|/241120_M01234_0007_000000000-ABCDE``.
    Names are validated as run folder names; duplicates are dropped.
    """
    if isinstance(run_names, str):
        raise TransferFilterError("run_names must be a list of run folder names, not a string")
    names = list(dict.fromkeys(run_names))
    if not names:
        raise TransferFilterError("an include filter needs at least one run folder name")
    bad = [name for name in names if not is_run_folder_name(name)]
    if bad:
        raise TransferFilterError(f"not run folder names: {', '.join(map(repr, bad))}")
    value = "|".join(f"/{name}" for name in names)
    if len(value) > MAX_FILTER_LENGTH:
        raise TransferFilterError(f"include filter is {len(value)} characters, DataSync allows {MAX_FILTER_LENGTH}")
    return value


def parse_include_filter(value: str) -> list[str]:
    """Split a DataSync include filter value into its patterns, validating each.

    Each pattern must be ``/`` followed by letters, digits, ``_``, ``-`` and
    ``*`` wildcards: it selects run folders directly under the source root.
    """
    if not isinstance(value, str) or not value.strip():
        raise TransferFilterError(f"include filter {value!r} is empty")
    if len(value) > MAX_FILTER_LENGTH:
        raise TransferFilterError(f"include filter is {len(value)} characters, DataSync allows {MAX_FILTER_LENGTH}")
    patterns = value.split("|")
    for pattern in patterns:
        if ".." in pattern:
            raise TransferFilterError(f"include pattern {pattern!r} contains '..'")
        if _PATTERN_RE.fullmatch(pattern) is None:
            raise TransferFilterError(
                f"include pattern {pattern!r} is invalid: expected '/<run folder name>' anchored at the "
                "source root, with letters, digits, '_', '-' and '*' only (e.g. /241120_*)"
            )
    return patterns


def _compile_patterns(patterns: Sequence[str]) -> re.Pattern[str]:
    alternatives = ("(?:" + ".*".join(re.escape(part) for part in pattern[1:].split("*")) + ")" for pattern in patterns)
    return re.compile("|".join(alternatives))


def _normalise_include(include: str | Sequence[str]) -> list[str]:
    if isinstance(include, str):
        return parse_include_filter(include)
    patterns: list[str] = []
    for item in include:
        patterns.extend(parse_include_filter(item))
    if not patterns:
        raise TransferFilterError("include filter has no patterns")
    return patterns


@dataclass
class RunTransfer:
    """What happened to one run folder."""

    run_id: str
    files_copied: int = 0
    files_skipped: int = 0
    bytes_copied: int = 0
    verified: bool = False
    complete: bool = False
    manifest: Path | None = None

    def summary(self) -> str:
        state = "complete" if self.complete else "no completion flag"
        check = "verified" if self.verified else "not verified"
        return (
            f"{self.run_id}: {self.files_copied} copied ({_human(self.bytes_copied)}), "
            f"{self.files_skipped} unchanged, {check}, {state}"
        )


@dataclass
class TransferReport:
    """The outcome of :func:`transfer_runs`, one :class:`RunTransfer` per selected run."""

    runs: list[RunTransfer] = field(default_factory=list)

    @property
    def run_ids(self) -> list[str]:
        return [run.run_id for run in self.runs]

    @property
    def files_copied(self) -> int:
        return sum(run.files_copied for run in self.runs)

    @property
    def files_skipped(self) -> int:
        return sum(run.files_skipped for run in self.runs)

    @property
    def bytes_copied(self) -> int:
        return sum(run.bytes_copied for run in self.runs)

    def run(self, run_id: str) -> RunTransfer:
        """The entry of ``run_id``; KeyError if it was not transferred."""
        for run in self.runs:
            if run.run_id == run_id:
                return run
        raise KeyError(run_id)

    def summary(self) -> str:
        """A few human-readable lines: totals, then one line per run."""
        if not self.runs:
            return "transfer: no run folder matched the include filter"
        lines = [
            f"transfer: {len(self.runs)} run(s), {self.files_copied} file(s) copied "
            f"({_human(self.bytes_copied)}), {self.files_skipped} unchanged"
        ]
        lines += [f"  {run.summary()}" for run in self.runs]
        return "\n".join(lines)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _copy_stream(source: BinaryIO, destination: BinaryIO) -> str:
    """Copy ``source`` to ``destination``; return the sha256 of the bytes read."""
    digest = hashlib.sha256()
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        destination.write(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class _SourceFile:
    rel: str  # POSIX path relative to the run folder
    path: Path


def _list_run_files(run_dir: Path, real_root: Path) -> list[_SourceFile]:
    """Files of a source run folder, refusing symlinks that leave the source root."""
    files: list[_SourceFile] = []

    def walk(directory: Path, rel_parts: tuple[str, ...], ancestors: frozenset[Path]) -> None:
        real_directory = directory.resolve()
        if real_directory in ancestors:
            raise TransferError(f"refusing symlink loop at {'/'.join(rel_parts)} in {run_dir}")
        ancestors = ancestors | {real_directory}
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        for entry in entries:
            name = entry.name
            if name in (".", "..") or "\x00" in name:
                raise TransferError(f"refusing path component {name!r} in {directory}")
            # our own bookkeeping and half-written copies are never transferred
            if name.startswith((TEMP_PREFIX, ".tmp-", ".seqflow-")):
                continue
            rel = (*rel_parts, name)
            path = Path(entry.path)
            if entry.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(real_root):
                    raise TransferError(
                        f"refusing symlink {run_dir.name}/{'/'.join(rel)} -> {os.readlink(path)}: "
                        f"it points outside the source root {real_root}"
                    )
                if not target.exists():
                    raise TransferError(f"refusing dangling symlink {run_dir.name}/{'/'.join(rel)}")
            if entry.is_dir():
                walk(path, rel, ancestors)
            elif entry.is_file():
                files.append(_SourceFile("/".join(rel), path))
            else:
                log.warning("not transferring %s: not a regular file or folder", path)

    walk(run_dir, (), frozenset())
    return files


def _load_manifest(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {entry["path"]: entry for entry in data["files"]}
    except FileNotFoundError:
        return {}
    except (ValueError, KeyError, TypeError) as exc:
        # a damaged manifest only costs a full checksum comparison
        log.warning("ignoring unreadable transfer manifest %s: %s", path, exc)
        return {}


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.parent / f"{TEMP_PREFIX}{path.name}.{secrets.token_hex(4)}"
    try:
        with open(tmp, "x", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _copy_file(source: _SourceFile, destination: Path, run_id: str, verify: bool) -> tuple[int, str, int]:
    """Copy atomically; return (size, sha256, source mtime_ns). Nothing is left behind on failure."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.parent / f"{TEMP_PREFIX}{destination.name}.{secrets.token_hex(4)}"
    before = source.path.stat()
    try:
        with open(source.path, "rb") as fin, open(tmp, "xb") as fout:
            sha = _copy_stream(fin, fout)
            fout.flush()
            os.fsync(fout.fileno())
        after = source.path.stat()
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            raise TransferError(
                f"{run_id}/{source.rel} changed while it was being copied; is the run still being written?"
            )
        # keep the source mtime so that the next transfer's quick check can match
        os.utime(tmp, ns=(after.st_atime_ns, after.st_mtime_ns))
        if verify:
            copied_sha = _sha256_file(tmp)
            if copied_sha != sha:
                raise TransferVerificationError(
                    f"checksum mismatch for {run_id}/{source.rel}: source sha256 {sha}, destination {copied_sha}"
                )
        os.replace(tmp, destination)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return after.st_size, sha, after.st_mtime_ns


def _unchanged(source: _SourceFile, destination: Path, entry: dict | None, verify: bool) -> dict | None:
    """The manifest entry of an up-to-date destination copy, or None if it must be copied."""
    if not destination.is_file():
        return None
    stat = source.path.stat()
    dest_size = destination.stat().st_size
    if (
        entry is not None
        and entry.get("size") == stat.st_size
        and entry.get("mtime_ns") == stat.st_mtime_ns
        and dest_size == stat.st_size
    ):
        if not verify or _sha256_file(destination) == entry.get("sha256"):
            return entry
        log.warning("destination copy of %s differs from its manifest entry; copying it again", destination)
        return None
    if dest_size != stat.st_size:
        return None
    # no usable manifest entry (first transfer into an existing copy, or the
    # source was touched): the content decides
    sha = _sha256_file(source.path)
    if _sha256_file(destination) != sha:
        return None
    return {"path": source.rel, "size": stat.st_size, "sha256": sha, "mtime_ns": stat.st_mtime_ns}


def _transfer_run(
    run_dir: Path,
    dest_run: Path,
    real_root: Path,
    flags: Sequence[str],
    verify: bool,
    say: Callable[[str], None],
) -> RunTransfer:
    run_id = run_dir.name
    result = RunTransfer(run_id=run_id, verified=verify)
    files = _list_run_files(run_dir, real_root)
    is_flag = {flag: position for position, flag in enumerate(flags)}
    data_files = [f for f in files if f.rel not in is_flag]
    flag_files = sorted((f for f in files if f.rel in is_flag), key=lambda f: is_flag[f.rel])

    dest_run.mkdir(parents=True, exist_ok=True)
    manifest_path = dest_run / MANIFEST_NAME
    previous = _load_manifest(manifest_path)
    entries: dict[str, dict] = {}
    to_copy: list[_SourceFile] = []
    try:
        destinations = {f.rel: safe_join(dest_run, f.rel) for f in files}
    except UnsafePathError as exc:
        raise TransferError(f"run {run_id}: {exc}") from None
    for source in data_files:
        entry = _unchanged(source, destinations[source.rel], previous.get(source.rel), verify)
        if entry is None:
            to_copy.append(source)
        else:
            entries[source.rel] = entry
            result.files_skipped += 1

    if to_copy:
        # A flag at the destination promises complete data; withdraw it while
        # the data changes, it is copied again at the end.
        for flag in flags:
            stale = dest_run / flag
            if stale.is_file():
                stale.unlink()
                say(f"{run_id}: removed {flag} at the destination until the run is updated")
    for source in flag_files:
        entry = _unchanged(source, destinations[source.rel], previous.get(source.rel), verify)
        if entry is None:
            to_copy.append(source)
        else:
            entries[source.rel] = entry
            result.files_skipped += 1

    # data files first, completion flags last (to_copy keeps that order)
    for source in to_copy:
        size, sha, mtime_ns = _copy_file(source, destinations[source.rel], run_id, verify)
        entries[source.rel] = {"path": source.rel, "size": size, "sha256": sha, "mtime_ns": mtime_ns}
        result.files_copied += 1
        result.bytes_copied += size
        say(f"copied {run_id}/{source.rel} ({size} bytes)")

    manifest = {
        "version": MANIFEST_VERSION,
        "run_id": run_id,
        "files": [
            {key: entries[f.rel][key] for key in ("path", "size", "sha256", "mtime_ns")}
            for f in sorted(files, key=lambda f: f.rel)
        ],
    }
    _write_atomically(manifest_path, json.dumps(manifest, indent=1) + "\n")
    result.manifest = manifest_path
    result.complete = any((dest_run / flag).is_file() for flag in flags)
    say(result.summary())
    return result


def transfer_runs(
    source_root: Path,
    dest_root: Path,
    include: str | Sequence[str],
    *,
    flags: Sequence[str] = DEFAULT_COMPLETION_FLAGS,
    verify: bool = True,
    progress: Callable[[str], None] | None = None,
) -> TransferReport:
    """Copy the run folders under ``source_root`` selected by ``include`` to ``dest_root``.

    ``include`` is a DataSync include filter value (``"/a|/b"``) or a list of
    its patterns. Only directories directly under ``source_root`` whose names
    match and follow the run folder convention are copied, each to
    ``dest_root/<run folder name>/``. Files already at the destination with the
    size, mtime and sha256 recorded by a previous transfer (or, without a
    manifest, the same sha256 as the source) are skipped. With ``verify``, every
    copy is checksummed before it is renamed into place and a mismatch raises
    :class:`TransferVerificationError`. Symlinks leaving ``source_root`` raise
    :class:`TransferError` before anything of that run is copied.
    ``progress`` receives one line per copied file and per run.
    """
    patterns = _normalise_include(include)
    matcher = _compile_patterns(patterns)
    source_root = Path(source_root)
    dest_root = Path(dest_root)
    if not source_root.is_dir():
        raise TransferError(f"source root {source_root} does not exist or is not a directory")
    real_root = source_root.resolve()

    def say(message: str) -> None:
        log.info("%s", message)
        if progress is not None:
            progress(message)

    report = TransferReport()
    with os.scandir(source_root) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    selected = [entry for entry in entries if not entry.name.startswith(".") and matcher.fullmatch(entry.name)]
    if selected:
        dest_root.mkdir(parents=True, exist_ok=True)
    for entry in selected:
        run_dir = source_root / entry.name
        if entry.is_symlink() and not run_dir.resolve().is_relative_to(real_root):
            raise TransferError(f"refusing symlink {run_dir} -> {os.readlink(run_dir)}: it points outside {real_root}")
        if not entry.is_dir():
            log.debug("not transferring %s: not a folder", run_dir)
            continue
        if not is_run_folder_name(entry.name):
            say(f"skipping {entry.name}: matches the include filter but is not a run folder name")
            continue
        try:
            dest_run = safe_join(dest_root, entry.name)
        except UnsafePathError as exc:
            raise TransferError(str(exc)) from None
        report.runs.append(_transfer_run(run_dir, dest_run, real_root, flags, verify, say))
    say(report.summary())
    return report
