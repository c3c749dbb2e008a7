"""The reference catalogue: the one owner of the list of genomes seqflow can align to.

A reference is data, not code. Each has a folder in the catalogue's store
(``<SEQFLOW_HOME>/references/<name>/`` locally, ``s3://<raw>/references/<name>/``
on AWS) holding the normalised FASTA ``<name>.fa`` with its ``.fai``, the
bcftools ploidy file ``<name>.ploidy``, the aligner indexes, and
``reference.json``: the name, the FASTA source it was registered from, the
ploidy (default and per contig) and every contig's length and MD5.

``reference.json`` is written last, so a folder without it is not a reference:
a registration that fails or is killed half-way leaves nothing that params,
planning or the analysis would take for a genome. Locally the whole folder is
built under a temporary name and renamed into place.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from seqflow.analysis.catalog import ALIGNERS, index_suffixes
from seqflow.fsutil import atomic_write_text, file_lock, fsync_path, run_tool
from seqflow.paths import UnsafePathError, check_reference_name
from seqflow.references.fasta import Contig, FastaError, normalise_fasta
from seqflow.references.resolve import RULES_FILE, ReferenceRules
from seqflow.references.sources import SourceError, describe, open_source

log = logging.getLogger(__name__)

#: format of reference.json
FORMAT_VERSION = 1
METADATA = "reference.json"
#: ploidies bcftools call supports per region (0: absent, e.g. chrY of a female sample)
PLOIDIES = (0, 1, 2)

#: index files each aligner's alignment needs beside the FASTA (suffixes of ``<name>.fa``), from the
#: step catalogue (``containers/<aligner>/steps.yaml``); the ``.fai`` is built by every registration
INDEX_SUFFIXES: dict[str, tuple[str, ...]] = {
    aligner: tuple(s for s in index_suffixes(aligner).values() if s != ".fai") for aligner in ALIGNERS
}


class ReferenceError(ValueError):
    """A reference that cannot be registered, found or used."""


class UnknownReference(ReferenceError, LookupError):
    """A name that is not in the catalogue; the message lists what is and how to add one."""


def add_command_hint(name: str = "NAME") -> str:
    """The command that registers a reference (for error messages)."""
    return f"seqflow reference add {name} --fasta PATH|URI [--ploidy 2 --ploidy chrM=1]"


@dataclass(frozen=True)
class Ploidy:
    """Ploidy of a genome for the caller: a default and whole-contig exceptions.

    Applies to every sample: sex-specific ploidy (chrX of a male sample) is not
    modelled; give ``chrY=1`` only for a catalogue entry meant for male samples.
    """

    default: int = 2
    contigs: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, specs: Sequence[str] | None, *, default: int | None = None) -> Ploidy:
        """From CLI specs: ``2`` (the default), ``chrM=1``, ``chrY=1`` (whole contigs)."""
        value = 2 if default is None else default
        contigs: dict[str, int] = {}
        for spec in specs or ():
            contig, sep, number = str(spec).partition("=")
            if not sep:
                contig, number = "", contig
            try:
                ploidy = int(number)
            except ValueError:
                raise ReferenceError(f"--ploidy {spec!r}: expected N or CONTIG=N with N in {PLOIDIES}") from None
            if ploidy not in PLOIDIES:
                raise ReferenceError(f"--ploidy {spec!r}: ploidy must be one of {PLOIDIES}")
            if not contig:
                value = ploidy
            elif contig in contigs:
                raise ReferenceError(f"--ploidy {spec!r}: contig {contig!r} is given twice")
            else:
                contigs[contig] = ploidy
        if value == 0:
            raise ReferenceError("the default ploidy must be 1 or 2")
        return cls(value, contigs)

    def check_contigs(self, contigs: Iterable[str]) -> None:
        known = set(contigs)
        unknown = [c for c in self.contigs if c not in known]
        if unknown:
            sample = ", ".join(sorted(known)[:10])
            raise ReferenceError(f"--ploidy names contig(s) not in the FASTA: {', '.join(unknown)} (it has {sample}…)")

    def ploidy_file(self, contigs: Sequence[Contig]) -> str:
        """bcftools ``--ploidy-file`` text: ``CHROM FROM TO SEX PLOIDY``, then the default."""
        lengths = {c.name: c.length for c in contigs}
        lines = [f"{name}\t1\t{lengths[name]}\t*\t{ploidy}" for name, ploidy in self.contigs.items()]
        lines.append(f"*\t*\t*\t*\t{self.default}")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {"default": self.default, "contigs": dict(self.contigs)}


@dataclass(frozen=True)
class Reference:
    """One registered reference genome."""

    name: str
    source: str
    ploidy: Ploidy
    contigs: tuple[Contig, ...]
    added_at: str
    description: str = ""
    #: where its folder is: a local path or an s3:// prefix ending in '/'
    location: str = ""

    @property
    def fasta_name(self) -> str:
        return f"{self.name}.fa"

    @property
    def fasta(self) -> str:
        """Path or URI of the normalised FASTA."""
        return self._join(self.fasta_name)

    @property
    def ploidy_file(self) -> str:
        """Path or URI of the bcftools ploidy file."""
        return self._join(f"{self.name}.ploidy")

    def index_files(self, aligner: str) -> list[str]:
        """Paths or URIs of the aligner's index files."""
        try:
            suffixes = INDEX_SUFFIXES[aligner]
        except KeyError:
            raise ReferenceError(f"no index is known for aligner {aligner!r}") from None
        return [self._join(self.fasta_name + s) for s in suffixes]

    def _join(self, name: str) -> str:
        if self.location.startswith("s3://"):
            return self.location.rstrip("/") + "/" + name
        return str(Path(self.location) / name)

    @property
    def total_length(self) -> int:
        return sum(c.length for c in self.contigs)

    def to_json(self) -> str:
        return json.dumps({
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "added_at": self.added_at,
            "ploidy": self.ploidy.to_dict(),
            "total_length": self.total_length,
            "contigs": [{"name": c.name, "length": c.length, "md5": c.md5} for c in self.contigs],
        }, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, *, location: str) -> Reference:
        data = json.loads(text)
        if data.get("format_version") != FORMAT_VERSION:
            raise ReferenceError(f"{location}{METADATA}: unknown format_version {data.get('format_version')!r}")
        return cls(
            name=data["name"],
            source=data["source"],
            ploidy=Ploidy(int(data["ploidy"]["default"]), {k: int(v) for k, v in data["ploidy"]["contigs"].items()}),
            contigs=tuple(Contig(c["name"], int(c["length"]), c["md5"]) for c in data["contigs"]),
            added_at=data["added_at"],
            description=data.get("description", ""),
            location=location,
        )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_name(name: str) -> str:
    """A reference name, validated (raises :class:`ReferenceError`)."""
    try:
        return check_reference_name(name)
    except UnsafePathError as exc:
        raise ReferenceError(str(exc)) from None


class ReferenceCatalogBase:
    """What both stores (a folder, an S3 prefix) answer the same way, given ``names`` and ``get``."""

    def names(self) -> list[str]:
        raise NotImplementedError

    def get(self, name: str) -> Reference | None:
        raise NotImplementedError

    def list(self) -> list[Reference]:
        return [ref for ref in (self.get(n) for n in self.names()) if ref is not None]

    def require(self, name: str) -> Reference:
        """The reference ``name``; :class:`UnknownReference` listing the registered ones if absent."""
        ref = self.get(name)
        if ref is None:
            raise UnknownReference(unknown_message(name, self.names()))
        return ref

    def check_removable(self, name: str) -> Reference:
        """The reference ``name``, if it may be removed: registered, and named by no rule."""
        ref = self.require(name)
        if name in self.rules().names():
            raise ReferenceError(
                f"reference {name!r} is named by the deployment's default or mapping table "
                "(seqflow reference list); change those first"
            )
        return ref

    @staticmethod
    def check_add(name: str, ploidy: Ploidy | None, aligners: Sequence[str]) -> tuple[str, Ploidy, tuple[str, ...]]:
        """The arguments of ``add``, validated: the name, the ploidy (default diploid), known aligners."""
        unknown = [a for a in aligners if a not in INDEX_SUFFIXES]
        if unknown:
            raise ReferenceError(f"unknown aligner(s) {unknown}; indexes exist for {', '.join(INDEX_SUFFIXES)}")
        return check_name(name), ploidy or Ploidy(), tuple(aligners)


class LocalReferenceCatalog(ReferenceCatalogBase):
    """The catalogue in a folder (local profile): ``<root>/<name>/reference.json`` and files."""

    profile = "local"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def deb_cache(self) -> Path:
        return self.root / "_debs"

    def _dir(self, name: str) -> Path:
        return self.root / check_name(name)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / METADATA).is_file() and not p.name.startswith("."))

    def get(self, name: str) -> Reference | None:
        folder = self._dir(name)
        meta = folder / METADATA
        if not meta.is_file():
            return None
        return Reference.from_json(meta.read_text(), location=str(folder))

    def add(self, name: str, source: str, *, ploidy: Ploidy | None = None, description: str = "",
            aligners: Sequence[str] = tuple(INDEX_SUFFIXES), replace: bool = False) -> Reference:
        """Register ``source`` as ``name``: normalise, checksum, ``faidx``, ploidy file, indexes.

        All of it is built in a temporary folder that is renamed into place at
        the end; on any error nothing is registered and nothing is left behind.
        """
        name, ploidy, aligners = self.check_add(name, ploidy, aligners)
        self.root.mkdir(parents=True, exist_ok=True)
        with file_lock(self.root / f".{name}.lock"):
            final = self._dir(name)
            if (final / METADATA).is_file() and not replace:
                raise ReferenceError(
                    f"reference {name!r} is already registered (from {self.require(name).source});"
                    f" remove it first (seqflow reference remove {name}) or pass --replace"
                )
            work = self.root / f".{name}.adding-{uuid.uuid4().hex[:8]}"
            work.mkdir()
            try:
                ref = _build(work, name, source, ploidy, description, aligners, profile=self.profile,
                             deb_cache=self.deb_cache)
                _write_metadata(work, ref)
                old = None
                if final.exists():
                    old = self.root / f".{name}.removing-{uuid.uuid4().hex[:8]}"
                    os.rename(final, old)
                os.rename(work, final)
                fsync_path(self.root)
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
        log.info("reference %s registered: %d contig(s), %d bp, from %s", name, len(ref.contigs),
                 ref.total_length, ref.source)
        return self.require(name)

    def remove(self, name: str) -> Reference:
        """Unregister ``name`` and delete its files (results made with it are kept)."""
        ref = self.check_removable(name)
        with file_lock(self.root / f".{name}.lock"):
            gone = self.root / f".{name}.removing-{uuid.uuid4().hex[:8]}"
            os.rename(self._dir(name), gone)
            shutil.rmtree(gone, ignore_errors=True)
        return ref

    def rules(self) -> ReferenceRules:
        """The default reference and the sample-sheet mapping table (:mod:`seqflow.references.resolve`)."""
        path = self.root / RULES_FILE
        return ReferenceRules.from_json(path.read_text() if path.is_file() else None)

    def save_rules(self, rules: ReferenceRules) -> None:
        """Store ``rules``; every reference they name must be registered."""
        for name in sorted(rules.names()):
            self.require(name)
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.root / RULES_FILE, rules.to_json())

    def indexes(self, ref: Reference) -> dict[str, bool]:
        """Which aligners' indexes are present."""
        return {aligner: all(Path(f).is_file() for f in ref.index_files(aligner)) for aligner in INDEX_SUFFIXES}

    def ensure_index(self, ref: Reference, aligner: str) -> None:
        """Build the aligner's index if it is missing (cached; concurrent callers wait on a lock)."""
        if self.indexes(ref).get(aligner):
            return
        with file_lock(self.root / f".{ref.name}.lock"):
            if not self.indexes(ref).get(aligner):
                build_index(Path(ref.fasta), aligner)


def _build(work: Path, name: str, source: str, ploidy: Ploidy, description: str, aligners: Sequence[str], *,
           profile: str, deb_cache: Path, s3_client=None) -> Reference:
    """Normalise the FASTA into ``work`` and build what the analysis needs there."""
    fasta = work / f"{name}.fa"
    try:
        with open_source(source, profile=profile, deb_cache=deb_cache, s3_client=s3_client) as lines, \
                open(fasta, "wb") as out:
            contigs = normalise_fasta(lines, out, origin=source)
            out.flush()
            os.fsync(out.fileno())
    except (FastaError, SourceError) as exc:
        raise ReferenceError(f"reference {name!r}: {exc}") from None
    ploidy.check_contigs(c.name for c in contigs)
    run_tool(["samtools", "faidx", fasta], what=f"samtools faidx {fasta.name}")
    (work / f"{name}.ploidy").write_text(ploidy.ploidy_file(contigs))
    for aligner in aligners:
        build_index(fasta, aligner)
    return Reference(name=name, source=describe(source), ploidy=ploidy, contigs=tuple(contigs), added_at=_now(),
                     description=description, location=str(work))


def build_index(fasta: Path, aligner: str) -> None:
    """Run the aligner's ``index_reference`` step script on ``fasta`` (writes beside it)."""
    from seqflow.analysis.steps import index_reference

    log.info("building the %s index of %s", aligner, fasta.name)
    index_reference(fasta, aligner)


def _write_metadata(folder: Path, ref: Reference) -> None:
    tmp = folder / f".{METADATA}.tmp"
    tmp.write_text(ref.to_json())
    os.replace(tmp, folder / METADATA)


def unknown_message(name: str, registered: Sequence[str]) -> str:
    listed = ", ".join(registered) if registered else "none yet"
    return (f"reference {name!r} is not registered; registered references: {listed}. "
            f"Add one with: {add_command_hint(name if _is_name(name) else 'NAME')}")


def _is_name(name: str) -> bool:
    try:
        check_name(name)
    except ReferenceError:
        return False
    return True


def reference_catalog(profile: str | None = None):
    """The catalogue of the active profile (``SEQFLOW_PROFILE``)."""
    from seqflow.config import local_paths, profile as active_profile

    if (profile or active_profile()) == "aws":
        from seqflow.aws.references import aws_reference_catalog

        return aws_reference_catalog()
    return LocalReferenceCatalog(local_paths().references)
