"""The converter's output before it is committed to the lake: one folder per sample.

A conversion writes each sample's rows to
``<root>/<table>/run_id=<run>/pipeline_version=<pv>/reference=<ref>/aligner=<a>/caller=<c>/sample_id=<s>/part-00000.parquet``
under a staging root that no reader of the lake looks at. Readers only ever
see what an Iceberg commit (:mod:`seqflow.lake.iceberg`) lists, so staging
needs no journal: a sample's folder is written in a private temporary folder
and renamed into place, and a killed conversion leaves at worst a temporary
folder that the next conversion of the same root sweeps.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from seqflow.identity import FIELDS as IDENTITY_FIELDS
from seqflow.identity import AnalysisIdentity

#: Values become folder names of the staging area and literals of commit
#: filters: keep them to a safe alphabet (no path traversal, nothing to escape).
_VALUE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@-]{0,127}$")
_TABLE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

TMP_DIR = "_staging"


def check_value(kind: str, value: str) -> str:
    """Validate an identity part or a sample id for use in a path or a filter."""
    if not isinstance(value, str) or not _VALUE_RE.match(value) or ".." in value:
        raise ValueError(
            f"{kind} {value!r} is not allowed in a lake path: use letters, digits and . _ + @ - "
            "(starting with a letter or digit, at most 128 characters)"
        )
    return value


def safe_sample_id(name: str) -> str:
    """The lake's sample id of a VCF sample named ``name`` (any Unicode text but a tab).

    A name that is already a safe value (:func:`check_value`) is its own id. Any
    other (accents, CJK, spaces, commas, a leading dot, over 128 characters) maps to
    its ASCII letters and digits (accents dropped, every other run of characters
    ``_``) plus ``-`` and 8 hex digits of the name's SHA-256, so that two names
    never share an id; the original is kept in the ``sample_name`` column.
    """
    import hashlib
    import unicodedata

    try:
        return check_value("sample_id", name)
    except ValueError:
        pass
    if not isinstance(name, str) or not name:
        raise ValueError(f"sample name {name!r} is empty")
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9]+", "_", ascii_text).strip("_")[:110] or "sample"
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return check_value("sample_id", f"{stem}-{digest}")


def check_table(table: str) -> str:
    """Validate a table name."""
    if not _TABLE_RE.match(table or ""):
        raise ValueError(f"table {table!r} must match {_TABLE_RE.pattern}")
    return table


@dataclass(frozen=True)
class Partition:
    """The rows of one analysis (and, for ``variants``, one sample) of a table.

    In the Iceberg lake this is a set of rows selected by the analysis
    identity and the sample (a commit's overwrite filter), not a folder; its
    :meth:`path` is where the converter stages it before the commit.
    """

    table: str
    run_id: str
    pipeline_version: str
    reference: str
    aligner: str
    caller: str
    sample_id: str | None = None  # None for tables without a sample level
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
        """The rows of ``identity`` (and ``sample_id``) in ``table``."""
        return cls(table, *(getattr(identity, k) for k in IDENTITY_FIELDS), sample_id, rows=rows, files=files)

    @property
    def identity(self) -> AnalysisIdentity:
        """The analysis identity (validated)."""
        return AnalysisIdentity(*(getattr(self, k) for k in IDENTITY_FIELDS))

    @property
    def values(self) -> dict[str, str]:
        """Provenance columns and values: the identity, then the sample."""
        out = {k: getattr(self, k) for k in IDENTITY_FIELDS}
        if self.sample_id is not None:
            out["sample_id"] = self.sample_id
        return out

    @property
    def relpath(self) -> str:
        """Staging path relative to a root: ``<table>/k=v/...``."""
        return "/".join([self.table] + [f"{k}={v}" for k, v in self.values.items()])

    def path(self, root: str | Path) -> Path:
        """Staging folder of these rows under ``root``."""
        return Path(root) / self.relpath


@dataclass
class PublishResult:
    """What a conversion staged or a commit published."""

    table: str
    lake_root: Path
    partitions: list[Partition] = field(default_factory=list)
    records: int = 0  # VCF records read (sites), for a conversion
    snapshot_id: int | None = None  # the Iceberg snapshot a commit made

    @property
    def rows(self) -> int:
        """Rows over all partitions."""
        return sum(p.rows for p in self.partitions)


class Staging:
    """A private folder for one conversion under ``<root>/_staging/``; use as a context manager.

    :meth:`place` moves a finished sample folder to its final staging path
    (replacing an earlier conversion of the same sample). Leaving the block
    removes the private folder, so a failed conversion stages nothing.

    The folder's name carries its owner's process id (``<pid>-<uuid>``), so the
    folder and its owner come into being in one ``mkdir``: a :func:`sweep` by a
    conversion starting at the same moment (the Glue job converts its samples in
    threads) never sees a folder whose owner it cannot tell, and never removes
    one from under a live conversion.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.tmp = self.root / TMP_DIR / f"{os.getpid()}-{uuid.uuid4().hex}"

    def __enter__(self) -> Staging:
        sweep(self.root)
        self.tmp.mkdir(parents=True)
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def folder(self, partition: Partition) -> Path:
        path = self.tmp / partition.relpath
        path.mkdir(parents=True, exist_ok=True)
        return path

    def place(self, partition: Partition) -> Path:
        """Move the sample's finished folder into place; the old one is removed after."""
        final = partition.path(self.root)
        final.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if final.exists():
            old = self.tmp / f"_old_{uuid.uuid4().hex}"
            os.rename(final, old)
        os.rename(self.tmp / partition.relpath, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return final


def _owner_alive(folder: Path) -> bool:
    """Whether the process named by a private folder's ``<pid>-`` prefix still runs (a folder
    without one, of an older layout, has no owner to wait for)."""
    pid, _, rest = folder.name.partition("-")
    if not (pid.isdigit() and rest):
        return False
    try:
        os.kill(int(pid), 0)
    except OSError:
        return False
    return True


def sweep(root: str | Path) -> None:
    """Remove the private folders of conversions whose process is gone."""
    tmp = Path(root) / TMP_DIR
    if tmp.is_dir():
        for d in tmp.iterdir():
            if d.is_dir() and not _owner_alive(d):
                shutil.rmtree(d, ignore_errors=True)
