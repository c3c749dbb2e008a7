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

The share keeps changing while a transfer runs (instruments, operators, clean-up
jobs, or someone who can write to it and wants another file copied), so a file
is copied only if it is still the file that was listed:

* symlinks are never followed. One found while listing a run folder (or a run
  folder that is itself a symlink) is refused with :class:`TransferError` before
  anything of that run is copied; DataSync does not follow links either.
* every source file is opened relative to directory descriptors, each path
  component with ``O_NOFOLLOW``, so no file or folder swapped for a link after
  the listing can be opened through it; the opened file (and every folder on
  its path) must be the one listed: same device and inode, still a regular
  file, same size and mtime. Anything else raises
  :class:`TransferSourceChangedError` naming the file and the change; nothing
  of that file reaches the destination and the run gets no completion flag.
* a file that disappeared between the listing and its copy is reported
  (:attr:`RunTransfer.vanished`), and the run's completion flags are withheld
  for this transfer, since what was copied is not one state of the run folder.
* files in raw storage that are no longer on the share are kept, as DataSync's
  ``PreserveDeletedFiles=PRESERVE`` keeps them, and reported
  (:attr:`RunTransfer.not_on_source`).
* temporary files (:data:`TEMP_PREFIX` ``<name>.<8 hex digits>``) that a killed
  earlier attempt left in the destination run folder are removed at the start
  of the next transfer of that run, under an exclusive lock on the folder.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import stat
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
# exactly the names _temp_name() makes. The listing never copies a source file
# with the prefix, so in raw storage such a name can only be a transfer's own.
_TEMP_RE = re.compile(re.escape(TEMP_PREFIX) + r".+\.[0-9a-f]{8}")
# how many file names a summary line spells out before it only counts
_NAMES_SHOWN = 5

_O_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# added to open()'s own flags: no link, no blocking on a FIFO swapped in, no
# controlling terminal from a device swapped in (fstat refuses both afterwards)
_O_SOURCE_EXTRA = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY


class TransferError(Exception):
    """A transfer that cannot or must not proceed."""


class TransferFilterError(TransferError, ValueError):
    """An include filter that is not a valid DataSync simple-pattern filter for run folders."""


class TransferVerificationError(TransferError):
    """A copied file whose checksum differs from its source."""


class TransferSourceChangedError(TransferError):
    """A source file or folder that is no longer the one listed when it is opened or copied.

    ``run_id`` and ``path`` (relative to the run folder, ``""`` for the run
    folder itself) name it, ``change`` says what differs.
    """

    def __init__(self, run_id: str, path: str, change: str, hint: str = "") -> None:
        self.run_id = run_id
        self.path = path
        self.change = change
        where = f"{run_id}/{path}" if path else run_id
        super().__init__(f"{where} {change}; not copied" + (f". {hint}" if hint else ""))


class _Vanished(Exception):
    """Internal: the listed file (or a folder on its path) no longer exists."""


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


def _names(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:_NAMES_SHOWN])
    return shown if len(paths) <= _NAMES_SHOWN else f"{shown} and {len(paths) - _NAMES_SHOWN} more"


@dataclass
class RunTransfer:
    """What happened to one run folder.

    ``vanished``: files listed on the share that were gone when they were to be
    copied (not copied; the completion flags are then withheld, listed in
    ``flags_withheld``). ``not_on_source``: files in the raw copy that are not
    on the share (kept, as DataSync's ``PRESERVE`` keeps them).
    ``temp_files_removed``: leftovers of a killed earlier attempt, swept.
    ``special_files``: FIFOs, sockets or devices on the share, never copied.
    All are paths relative to the run folder.
    """

    run_id: str
    files_copied: int = 0
    files_skipped: int = 0
    bytes_copied: int = 0
    verified: bool = False
    complete: bool = False
    manifest: Path | None = None
    vanished: list[str] = field(default_factory=list)
    flags_withheld: list[str] = field(default_factory=list)
    not_on_source: list[str] = field(default_factory=list)
    temp_files_removed: list[str] = field(default_factory=list)
    special_files: list[str] = field(default_factory=list)

    def summary(self) -> str:
        state = "complete" if self.complete else "no completion flag"
        check = "verified" if self.verified else "not verified"
        parts = [
            f"{self.run_id}: {self.files_copied} copied ({_human(self.bytes_copied)})",
            f"{self.files_skipped} unchanged",
        ]
        if self.vanished:
            parts.append(f"{len(self.vanished)} vanished from the share after the listing ({_names(self.vanished)})")
        if self.flags_withheld:
            parts.append(f"completion flag withheld ({_names(self.flags_withheld)}): transfer again")
        if self.not_on_source:
            parts.append(
                f"{len(self.not_on_source)} in raw storage but not on the share, kept ({_names(self.not_on_source)})"
            )
        if self.special_files:
            parts.append(f"{len(self.special_files)} special file(s) not copied ({_names(self.special_files)})")
        if self.temp_files_removed:
            parts.append(f"{len(self.temp_files_removed)} leftover temp file(s) of an earlier attempt removed")
        return ", ".join([*parts, check, state])


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

    @property
    def vanished(self) -> list[str]:
        """``<run>/<path>`` of every file that vanished from the share after the listing."""
        return [f"{run.run_id}/{rel}" for run in self.runs for rel in run.vanished]

    @property
    def not_on_source(self) -> list[str]:
        """``<run>/<path>`` of every file kept in raw storage that is no longer on the share."""
        return [f"{run.run_id}/{rel}" for run in self.runs for rel in run.not_on_source]

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
        total = (
            f"transfer: {len(self.runs)} run(s), {self.files_copied} file(s) copied "
            f"({_human(self.bytes_copied)}), {self.files_skipped} unchanged"
        )
        if self.vanished:
            total += f", {len(self.vanished)} vanished from the share"
        if self.not_on_source:
            total += f", {len(self.not_on_source)} only in raw storage (kept)"
        return "\n".join([total, *(f"  {run.summary()}" for run in self.runs)])


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


def _temp_name(name: str) -> str:
    return f"{TEMP_PREFIX}{name}.{secrets.token_hex(4)}"


# --- the source side: listing, then opening exactly what was listed ----------------


@dataclass(frozen=True)
class _Identity:
    """What the listing saw of a file or folder (``lstat``), to recognise it when it is opened."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    mode: int

    @classmethod
    def of(cls, st: os.stat_result) -> _Identity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "a symlink"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "a special file"


def _differences(listed: _Identity, now: os.stat_result, *, folder: bool = False) -> list[str]:
    """How ``now`` differs from what the listing saw; empty if it is the same file or folder."""
    expected = stat.S_ISDIR if folder else stat.S_ISREG
    if not expected(now.st_mode):
        return [f"is now {_kind(now.st_mode)}"]
    changes = []
    if (listed.dev, listed.ino) != (now.st_dev, now.st_ino):
        what = "folder" if folder else "file"
        changes.append(
            f"is another {what} (device/inode {listed.dev}/{listed.ino} listed, {now.st_dev}/{now.st_ino} now)"
        )
    if not folder:
        if listed.size != now.st_size:
            changes.append(f"size {listed.size} -> {now.st_size} bytes")
        if listed.mtime_ns != now.st_mtime_ns:
            changes.append(f"mtime {listed.mtime_ns} -> {now.st_mtime_ns} ns")
    return changes


def _symlink_target(name: str, dir_fd: int) -> str:
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return "?"


@dataclass(frozen=True)
class _SourceFile:
    rel: str  # POSIX path relative to the run folder
    path: Path  # source_root/run/rel, for messages and as the open file's name only
    parts: tuple[str, ...]  # rel split into components
    identity: _Identity


@dataclass
class _Listing:
    files: list[_SourceFile]
    #: identity of the run folder (key ``()``) and of each folder below it
    folders: dict[tuple[str, ...], _Identity]
    special: list[str]


def _refuse_symlink(name: str, dir_fd: int, where: str, display_dir: Path, real_root: Path) -> TransferError:
    target = _symlink_target(name, dir_fd)
    # only to word the message: the link itself is never opened
    resolved = Path(os.path.realpath(display_dir / target))
    side = "inside" if resolved.is_relative_to(real_root) else "outside"
    return TransferError(
        f"refusing symlink {where} -> {target}: it points {side} the source root {real_root}; "
        "symlinks in run folders are never followed (replace the link with the file itself)"
    )


def _list_run_files(root_fd: int, run_dir: Path, real_root: Path) -> _Listing:
    """The regular files of a source run folder, listed through directory descriptors.

    Nothing is followed: a symlink anywhere below the run folder raises
    :class:`TransferError`. Each file and folder is recorded with its ``lstat``
    identity, which :class:`_SourceTree` checks again when it opens it.
    """
    run_id = run_dir.name
    files: list[_SourceFile] = []
    special: list[str] = []
    folders: dict[tuple[str, ...], _Identity] = {}

    def walk(dir_fd: int, rel_parts: tuple[str, ...], ancestors: frozenset[tuple[int, int]]) -> None:
        with os.scandir(dir_fd) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        for entry in entries:
            name = entry.name
            if name in (".", "..") or "\x00" in name:
                raise TransferError(f"refusing path component {name!r} in {run_dir.joinpath(*rel_parts)}")
            # our own bookkeeping and half-written copies are never transferred
            if name.startswith((TEMP_PREFIX, ".tmp-", ".seqflow-")):
                continue
            rel = (*rel_parts, name)
            where = f"{run_id}/{'/'.join(rel)}"
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # gone while listing: not part of this listing
            if stat.S_ISLNK(st.st_mode):
                raise _refuse_symlink(name, dir_fd, where, run_dir.joinpath(*rel_parts), real_root)
            if stat.S_ISDIR(st.st_mode):
                if (st.st_dev, st.st_ino) in ancestors:
                    raise TransferError(f"refusing folder loop at {where}")
                try:
                    sub_fd = os.open(name, _O_FOLDER, dir_fd=dir_fd)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise TransferError(f"{where} changed while the run folder was being listed: {exc}") from None
                try:
                    opened = os.fstat(sub_fd)
                    if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
                        raise TransferError(f"{where} changed while the run folder was being listed")
                    folders[rel] = _Identity.of(opened)
                    walk(sub_fd, rel, ancestors | {(opened.st_dev, opened.st_ino)})
                finally:
                    os.close(sub_fd)
            elif stat.S_ISREG(st.st_mode):
                files.append(_SourceFile("/".join(rel), run_dir.joinpath(*rel), rel, _Identity.of(st)))
            else:
                log.warning("not transferring %s: %s, not a regular file or folder", where, _kind(st.st_mode))
                special.append("/".join(rel))

    try:
        run_fd = os.open(run_id, _O_FOLDER, dir_fd=root_fd)
    except OSError as exc:
        try:
            is_link = stat.S_ISLNK(os.stat(run_id, dir_fd=root_fd, follow_symlinks=False).st_mode)
        except OSError:
            is_link = False
        if is_link:
            raise _refuse_symlink(run_id, root_fd, run_id, run_dir.parent, real_root) from None
        raise TransferError(f"cannot open run folder {run_dir}: {exc}") from None
    try:
        opened = os.fstat(run_fd)
        folders[()] = _Identity.of(opened)
        walk(run_fd, (), frozenset({(opened.st_dev, opened.st_ino)}))
    finally:
        os.close(run_fd)
    return _Listing(files, folders, special)


class _SourceTree:
    """Opens the listed files of one run folder without following any link.

    Each folder on a file's path is opened relative to its parent's descriptor
    with ``O_NOFOLLOW | O_DIRECTORY`` and must be the folder listed; the file is
    opened relative to its folder with ``O_NOFOLLOW`` and must be the file
    listed. The descriptors of the current folder chain are kept, so files of
    one folder cost one ``open`` each (at most one descriptor per level is held).
    """

    def __init__(self, root_fd: int, run_id: str, listing: _Listing) -> None:
        self._root_fd = root_fd
        self._run_id = run_id
        self._folders = listing.folders
        self._chain: list[tuple[str, int]] = []  # (name, fd) from the run folder down

    def close(self) -> None:
        while self._chain:
            os.close(self._chain.pop()[1])

    def __enter__(self) -> _SourceTree:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _changed(self, rel_parts: tuple[str, ...], change: str, hint: str = "") -> TransferSourceChangedError:
        return TransferSourceChangedError(self._run_id, "/".join(rel_parts), change, hint)

    def _swapped_for_link(
        self, rel_parts: tuple[str, ...], name: str, dir_fd: int, what: str = ""
    ) -> TransferSourceChangedError:
        target = _symlink_target(name, dir_fd)
        return self._changed(
            rel_parts, f"{what}was replaced by a symlink -> {target} after the listing", "Symlinks are never followed."
        )

    def _open_folder(self, parent_fd: int, name: str, rel_parts: tuple[str, ...]) -> int:
        try:
            fd = os.open(name, _O_FOLDER, dir_fd=parent_fd)
        except FileNotFoundError:
            raise _Vanished from None
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            # Linux reports a symlink opened with O_DIRECTORY | O_NOFOLLOW as ENOTDIR
            try:
                st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
            except FileNotFoundError:
                raise _Vanished from None
            if stat.S_ISLNK(st.st_mode):
                raise self._swapped_for_link(rel_parts, name, parent_fd, "(a folder) ") from None
            raise self._changed(rel_parts, f"(a folder) is now {_kind(st.st_mode)}") from None
        try:
            changes = _differences(self._folders[rel_parts], os.fstat(fd), folder=True)
            if changes:
                raise self._changed(rel_parts, f"(a folder) changed after the listing: {'; '.join(changes)}")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _folder_fd(self, folder: tuple[str, ...]) -> int:
        wanted = (self._run_id, *folder)
        common = 0
        while common < min(len(self._chain), len(wanted)) and self._chain[common][0] == wanted[common]:
            common += 1
        while len(self._chain) > common:
            os.close(self._chain.pop()[1])
        for depth in range(common, len(wanted)):
            parent = self._chain[-1][1] if self._chain else self._root_fd
            fd = self._open_folder(parent, wanted[depth], wanted[1 : depth + 1])
            self._chain.append((wanted[depth], fd))
        return self._chain[-1][1]

    def open(self, source: _SourceFile) -> BinaryIO:
        """``source`` opened for reading, checked to be the listed file.

        Raises :class:`_Vanished` if it (or a folder on its path) is gone and
        :class:`TransferSourceChangedError` if anything on its path is not what
        was listed.
        """
        dir_fd = self._folder_fd(source.parts[:-1])
        leaf = source.parts[-1]
        try:
            # checked before opening so that a FIFO or device swapped in is never opened
            st = os.stat(leaf, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise _Vanished from None
        if stat.S_ISLNK(st.st_mode):
            raise self._swapped_for_link(source.parts, leaf, dir_fd)
        self.check(source, st)

        def opener(_name: str, flags: int) -> int:
            return os.open(leaf, flags | _O_SOURCE_EXTRA, dir_fd=dir_fd)

        try:
            handle = open(source.path, "rb", opener=opener)  # the caller closes it
        except FileNotFoundError:
            raise _Vanished from None
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise self._swapped_for_link(source.parts, leaf, dir_fd) from None
        try:
            # the descriptor, not the name, decides: this is what will be read
            self.check(source, os.fstat(handle.fileno()))
            flags = fcntl.fcntl(handle.fileno(), fcntl.F_GETFL)
            fcntl.fcntl(handle.fileno(), fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        except BaseException:
            handle.close()
            raise
        return handle

    def check(self, source: _SourceFile, now: os.stat_result) -> None:
        """Raise :class:`TransferSourceChangedError` unless ``now`` is the listed file."""
        changes = _differences(source.identity, now)
        if changes:
            raise self._changed(
                source.parts, f"changed after it was listed ({'; '.join(changes)})", "Is the run still being written?"
            )


# --- the destination side ---------------------------------------------------------


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
    tmp = path.parent / _temp_name(path.name)
    try:
        with open(tmp, "x", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _lock_destination(dest_fd: int, run_id: str, say: Callable[[str], None]) -> None:
    """Hold the run's destination folder exclusively, so that no live transfer's temp files are swept."""
    try:
        fcntl.flock(dest_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(f"{run_id}: another transfer of this run is in progress; waiting for it")
        fcntl.flock(dest_fd, fcntl.LOCK_EX)
    except OSError as exc:  # e.g. a file system without flock
        log.warning("%s: cannot lock the destination run folder (%s); transferring without the lock", run_id, exc)


def _scan_destination(dest_run: Path) -> tuple[list[str], set[str]]:
    """Remove leftover temp files of killed attempts; return (those removed, the other files there)."""
    removed: list[str] = []
    existing: set[str] = set()
    # os.walk follows no symlink; a symlink in raw storage is listed, never entered
    for dirpath, _dirnames, filenames in os.walk(dest_run):
        base = Path(dirpath)
        for name in filenames:
            path = base / name
            rel = path.relative_to(dest_run).as_posix()
            if _TEMP_RE.fullmatch(name) and stat.S_ISREG(os.lstat(path).st_mode):
                path.unlink(missing_ok=True)
                removed.append(rel)
            elif rel != MANIFEST_NAME:
                existing.add(rel)
    return sorted(removed), existing


def _copy_file(
    tree: _SourceTree, source: _SourceFile, destination: Path, run_id: str, verify: bool
) -> tuple[int, str, int]:
    """Copy atomically; return (size, sha256, source mtime_ns). Nothing is left behind on failure."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.parent / _temp_name(destination.name)
    with tree.open(source) as fin:
        before = os.fstat(fin.fileno())
        try:
            with open(tmp, "xb") as fout:
                sha = _copy_stream(fin, fout)
                fout.flush()
                os.fsync(fout.fileno())
            after = os.fstat(fin.fileno())
            if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
                raise TransferSourceChangedError(
                    run_id, source.rel, "changed while it was being copied", "Is the run still being written?"
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


def _hash_source(tree: _SourceTree, source: _SourceFile) -> str:
    with tree.open(source) as handle:
        digest = hashlib.sha256()
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
        tree.check(source, os.fstat(handle.fileno()))
    return digest.hexdigest()


def _unchanged(
    tree: _SourceTree, source: _SourceFile, destination: Path, entry: dict | None, verify: bool
) -> dict | None:
    """The manifest entry of an up-to-date destination copy, or None if it must be copied."""
    if not destination.is_file():
        return None
    listed = source.identity
    dest_size = destination.stat().st_size
    if (
        entry is not None
        and entry.get("size") == listed.size
        and entry.get("mtime_ns") == listed.mtime_ns
        and dest_size == listed.size
    ):
        if not verify or _sha256_file(destination) == entry.get("sha256"):
            return entry
        log.warning("destination copy of %s differs from its manifest entry; copying it again", destination)
        return None
    if dest_size != listed.size:
        return None
    # no usable manifest entry (first transfer into an existing copy, or the
    # source was touched): the content decides
    sha = _hash_source(tree, source)
    if _sha256_file(destination) != sha:
        return None
    return {"path": source.rel, "size": listed.size, "sha256": sha, "mtime_ns": listed.mtime_ns}


def _transfer_run(
    root_fd: int,
    run_dir: Path,
    dest_run: Path,
    real_root: Path,
    flags: Sequence[str],
    verify: bool,
    say: Callable[[str], None],
) -> RunTransfer:
    run_id = run_dir.name
    result = RunTransfer(run_id=run_id, verified=verify)
    listing = _list_run_files(root_fd, run_dir, real_root)
    files = listing.files
    result.special_files = listing.special
    is_flag = {flag: position for position, flag in enumerate(flags)}
    data_files = [f for f in files if f.rel not in is_flag]
    flag_files = sorted((f for f in files if f.rel in is_flag), key=lambda f: is_flag[f.rel])
    try:
        destinations = {f.rel: safe_join(dest_run, f.rel) for f in files}
    except UnsafePathError as exc:
        raise TransferError(f"run {run_id}: {exc}") from None

    dest_run.mkdir(parents=True, exist_ok=True)
    dest_fd = os.open(dest_run, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _lock_destination(dest_fd, run_id, say)
        result.temp_files_removed, existing = _scan_destination(dest_run)
        if result.temp_files_removed:
            say(
                f"{run_id}: removed {len(result.temp_files_removed)} leftover temp file(s) of an earlier attempt: "
                f"{_names(result.temp_files_removed)}"
            )
        with _SourceTree(root_fd, run_id, listing) as tree:
            entries, withdrawn = _copy_run(
                tree, result, data_files, flag_files, destinations, dest_run, flags, verify, say
            )
        result.not_on_source = sorted(rel for rel in existing if rel not in entries and rel not in withdrawn)
        if result.not_on_source:
            say(
                f"{run_id}: {len(result.not_on_source)} file(s) in raw storage are not on the share, kept: "
                f"{_names(result.not_on_source)}"
            )
        manifest = {
            "version": MANIFEST_VERSION,
            "run_id": run_id,
            "files": [
                {key: entries[f.rel][key] for key in ("path", "size", "sha256", "mtime_ns")}
                for f in sorted(files, key=lambda f: f.rel)
                if f.rel in entries
            ],
            "not_on_source": result.not_on_source,
        }
        _write_atomically(dest_run / MANIFEST_NAME, json.dumps(manifest, indent=1) + "\n")
    finally:
        os.close(dest_fd)  # releases the lock
    result.manifest = dest_run / MANIFEST_NAME
    result.complete = any((dest_run / flag).is_file() for flag in flags)
    say(result.summary())
    return result


def _copy_run(
    tree: _SourceTree,
    result: RunTransfer,
    data_files: list[_SourceFile],
    flag_files: list[_SourceFile],
    destinations: dict[str, Path],
    dest_run: Path,
    flags: Sequence[str],
    verify: bool,
    say: Callable[[str], None],
) -> tuple[dict[str, dict], set[str]]:
    """Copy what changed of one run, data first and flags last.

    Returns the manifest entries of the files now in place and the completion
    flags withdrawn from the destination (and not copied again).
    """
    run_id = result.run_id
    previous = _load_manifest(dest_run / MANIFEST_NAME)
    entries: dict[str, dict] = {}
    to_copy: list[_SourceFile] = []
    withdrawn: set[str] = set()

    def vanished(source: _SourceFile) -> None:
        result.vanished.append(source.rel)
        say(f"{run_id}/{source.rel} vanished from the share after the listing; not copied")

    def plan(sources: list[_SourceFile]) -> None:
        for source in sources:
            try:
                entry = _unchanged(tree, source, destinations[source.rel], previous.get(source.rel), verify)
            except _Vanished:
                vanished(source)
                continue
            if entry is None:
                to_copy.append(source)
            else:
                entries[source.rel] = entry
                result.files_skipped += 1

    plan(data_files)
    if to_copy or result.vanished:
        # A flag at the destination promises complete data; withdraw it while
        # the data changes, it is copied again at the end.
        for flag in flags:
            stale = dest_run / flag
            if stale.is_file():
                stale.unlink()
                withdrawn.add(flag)
                say(f"{run_id}: removed {flag} at the destination until the run is updated")
    plan(flag_files)

    # data files first, completion flags last (to_copy keeps that order)
    for source in to_copy:
        if source.rel in flags and result.vanished:
            # what was copied is not one state of the run folder: no promise of completeness
            result.flags_withheld.append(source.rel)
            say(f"{run_id}: not copying {source.rel}: {len(result.vanished)} file(s) vanished during the transfer")
            continue
        try:
            size, sha, mtime_ns = _copy_file(tree, source, destinations[source.rel], run_id, verify)
        except _Vanished:
            vanished(source)
            continue
        entries[source.rel] = {"path": source.rel, "size": size, "sha256": sha, "mtime_ns": mtime_ns}
        result.files_copied += 1
        result.bytes_copied += size
        withdrawn.discard(source.rel)
        say(f"copied {run_id}/{source.rel} ({size} bytes)")
    return entries, withdrawn


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
    :class:`TransferVerificationError`.

    Symlinks are never followed: one in a selected run folder (or a selected
    run folder that is one) raises :class:`TransferError` before anything of
    that run is copied. A file or folder that is not the one listed when it is
    opened (swapped for a link or another file, grown, rewritten) raises
    :class:`TransferSourceChangedError`; files that vanished after the listing,
    and files in raw storage no longer on the share (kept), are reported.
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
    # the root itself is configuration and may be a link (a mount point); nothing below it is followed
    root_fd = os.open(source_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with os.scandir(root_fd) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        selected = [entry for entry in entries if not entry.name.startswith(".") and matcher.fullmatch(entry.name)]
        if selected:
            dest_root.mkdir(parents=True, exist_ok=True)
        for entry in selected:
            run_dir = source_root / entry.name
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(mode):
                raise _refuse_symlink(entry.name, root_fd, entry.name, source_root, real_root)
            if not stat.S_ISDIR(mode):
                log.debug("not transferring %s: not a folder", run_dir)
                continue
            if not is_run_folder_name(entry.name):
                say(f"skipping {entry.name}: matches the include filter but is not a run folder name")
                continue
            try:
                dest_run = safe_join(dest_root, entry.name)
            except UnsafePathError as exc:
                raise TransferError(str(exc)) from None
            report.runs.append(_transfer_run(root_fd, run_dir, dest_run, real_root, flags, verify, say))
    finally:
        os.close(root_fd)
    say(report.summary())
    return report
