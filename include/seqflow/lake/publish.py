"""Atomic, idempotent publishing of Hive-style partitions into the lake.

A writer fills a private staging folder (``<lake>/_staging/<txn>/``) that no
reader looks at. Commit then:

1. writes a journal (``<lake>/_txn/<txn>.json``, via rename, so it exists
   whole or not at all) listing every partition of the transaction;
2. swaps each staged partition folder into place (``renameat2`` with
   ``RENAME_EXCHANGE`` where the kernel has it, so a reader sees the old or
   the new files, never neither); the replaced data goes to ``_trash``;
3. deletes the journal, the trash and the staging folder.

A process killed before step 1 leaves the lake as it was (only an orphaned
staging folder, swept later); killed after it, the next publish or
:func:`recover` finishes the journal, so a transaction is all-or-nothing once
it has started to commit. Publishing the same partition again replaces exactly
that folder: no duplicates, and other partitions (other samples, runs or any
other part of the analysis identity: pipeline version, reference, aligner,
caller) are never touched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from seqflow.identity import FIELDS as IDENTITY_FIELDS
from seqflow.identity import AnalysisIdentity

#: Partition values become folder names: keep them to a safe alphabet (no
#: path traversal, nothing Hive would have to escape).
_VALUE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@-]{0,127}$")
_TABLE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

STAGING_DIR = "_staging"
JOURNAL_DIR = "_txn"
TRASH_DIR = "_trash"


def check_value(kind: str, value: str) -> str:
    """Validate a partition value (an identity part or a sample id) for use in a path."""
    if not isinstance(value, str) or not _VALUE_RE.match(value) or ".." in value:
        raise ValueError(
            f"{kind} {value!r} is not allowed in a lake path: use letters, digits and . _ + @ - "
            "(starting with a letter or digit, at most 128 characters)"
        )
    return value


def check_table(table: str) -> str:
    """Validate a table name."""
    if not _TABLE_RE.match(table or ""):
        raise ValueError(f"table {table!r} must match {_TABLE_RE.pattern}")
    return table


@dataclass(frozen=True)
class Partition:
    """One published partition of a lake table.

    Keyed by the whole analysis identity (run, pipeline version, reference,
    aligner, caller) and, for ``variants``, the sample: two analyses that
    differ in any part are different folders and never replace each other.
    """

    table: str
    run_id: str
    pipeline_version: str
    reference: str
    aligner: str
    caller: str
    sample_id: str | None = None  # None for tables not partitioned by sample
    rows: int = 0
    files: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        table: str,
        identity: AnalysisIdentity,
        sample_id: str | None = None,
        *,
        rows: int = 0,
        files: tuple[str, ...] = (),
    ) -> Partition:
        """The partition of ``identity`` (and ``sample_id``) in ``table``."""
        return cls(table, *(getattr(identity, k) for k in IDENTITY_FIELDS), sample_id, rows=rows, files=files)

    @property
    def identity(self) -> AnalysisIdentity:
        """The analysis identity of the partition (validated)."""
        return AnalysisIdentity(*(getattr(self, k) for k in IDENTITY_FIELDS))

    @property
    def values(self) -> dict[str, str]:
        """Partition keys and values in path order."""
        out = {k: getattr(self, k) for k in IDENTITY_FIELDS}
        if self.sample_id is not None:
            out["sample_id"] = self.sample_id
        return out

    @property
    def relpath(self) -> str:
        """Path relative to the lake root: ``<table>/k=v/...``."""
        return "/".join([self.table] + [f"{k}={v}" for k, v in self.values.items()])

    def path(self, lake_root: str | Path) -> Path:
        """Absolute folder of this partition under ``lake_root``."""
        return Path(lake_root) / self.relpath


@dataclass
class PublishResult:
    """What a publish committed."""

    table: str
    lake_root: Path
    partitions: list[Partition] = field(default_factory=list)
    records: int = 0  # VCF records read (sites), for a conversion

    @property
    def rows(self) -> int:
        """Rows written over all partitions."""
        return sum(p.rows for p in self.partitions)


# --- atomic directory exchange -------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = None


def _renameat2():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return getattr(_libc, "renameat2", None)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths; False where unsupported."""
    fn = _renameat2()
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), f"{a} <-> {b}")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- transactions ---------------------------------------------------------------


@contextmanager
def _lake_lock(lake_root: Path) -> Iterator[None]:
    """Serialise commits and recovery of one lake (local filesystem)."""
    d = lake_root / JOURNAL_DIR
    d.mkdir(parents=True, exist_ok=True)
    with open(d / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Transaction:
    """Staging area for one publish; use as a context manager.

    ``with Transaction(lake, "variants") as txn: path = txn.stage(partition)``
    then ``txn.commit([...])``. Leaving the block without commit (an exception,
    a failed conversion) discards the staging folder: nothing is published.
    """

    def __init__(self, lake_root: str | Path, table: str):
        self.lake_root = Path(lake_root)
        self.table = check_table(table)
        self.id = uuid.uuid4().hex
        self.staging = self.lake_root / STAGING_DIR / self.id
        self.committed = False

    def __enter__(self) -> Transaction:
        recover(self.lake_root)
        self.staging.mkdir(parents=True)
        (self.staging / "_owner").write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
        return self

    def __exit__(self, *exc) -> None:
        # once the journal exists the staged data belongs to it: recover()
        # rolls it forward, so it must survive a failure mid-commit
        journal = self.lake_root / JOURNAL_DIR / f"{self.id}.json"
        if not self.committed and not journal.exists():
            shutil.rmtree(self.staging, ignore_errors=True)

    def stage(self, partition: Partition) -> Path:
        """Staging folder for a partition (created)."""
        path = self.staging / partition.relpath
        path.mkdir(parents=True, exist_ok=True)
        return path

    def commit(self, partitions: list[Partition]) -> None:
        """Publish every staged partition at once (see module docstring)."""
        journal = {
            "txn": self.id,
            "moves": [[str(self.staging / p.relpath), str(p.path(self.lake_root))] for p in partitions],
        }
        jdir = self.lake_root / JOURNAL_DIR
        for p in partitions:
            # tells a replayed journal which swaps already happened ('_' files
            # are invisible to Athena and to the *.parquet globs)
            (self.staging / p.relpath / _marker(self.id)).touch()
        with _lake_lock(self.lake_root):
            tmp = jdir / f".{self.id}.json.tmp"
            with open(tmp, "w") as fh:
                json.dump(journal, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, jdir / f"{self.id}.json")
            _fsync_dir(jdir)
            _apply(self.lake_root, jdir / f"{self.id}.json")
        self.committed = True


def _marker(txn: str) -> str:
    return f"_seqflow_txn_{txn}"


def _apply(lake_root: Path, journal_path: Path) -> None:
    """Roll a journal forward; safe to repeat after a crash at any point."""
    journal = json.loads(journal_path.read_text())
    trash = lake_root / TRASH_DIR / journal["txn"]
    for i, (staged, final) in enumerate(journal["moves"]):
        staged, final = Path(staged), Path(final)
        old = trash / str(i)
        if (final / _marker(journal["txn"])).exists():
            # swapped by an interrupted attempt: staged (if any) is the old data
            if staged.exists():
                old.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staged, old)
            continue
        if not staged.exists():
            continue
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            old.parent.mkdir(parents=True, exist_ok=True)
            if _exchange(staged, final):
                os.rename(staged, old)  # staged now holds the previous data
            else:
                os.rename(final, old)
                os.rename(staged, final)
        else:
            os.rename(staged, final)
    journal_path.unlink()
    shutil.rmtree(trash, ignore_errors=True)
    shutil.rmtree(lake_root / STAGING_DIR / journal["txn"], ignore_errors=True)


def _owner_alive(staging: Path) -> bool:
    try:
        owner = json.loads((staging / "_owner").read_text())
    except (OSError, ValueError):
        return False
    if owner.get("host") != socket.gethostname():
        return True  # cannot tell: leave it
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(lake_root: str | Path) -> list[str]:
    """Finish interrupted commits and sweep staging left by dead writers.

    Returns the ids of the transactions rolled forward.
    """
    lake_root = Path(lake_root)
    jdir = lake_root / JOURNAL_DIR
    done: list[str] = []
    if not lake_root.exists():
        return done
    with _lake_lock(lake_root):
        for journal in sorted(jdir.glob("*.json")):
            _apply(lake_root, journal)
            done.append(journal.stem)
        staging = lake_root / STAGING_DIR
        if staging.is_dir():
            for d in staging.iterdir():
                if d.is_dir() and not _owner_alive(d):
                    shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(lake_root / TRASH_DIR, ignore_errors=True)
    return done
