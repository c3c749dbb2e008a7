"""Illumina run folders: names, discovery by date, completion flags and FASTQs.

A run folder is named ``YYMMDD_<instrument>_<run number>_<flowcell>``, e.g.
``241120_A01234_0042_AHXXXXXDSX`` (NovaSeq, ``A``/``B`` flowcell side prefix) or
``241120_M01234_0042_000000000-ABCDE`` (MiSeq). The date in the name is how a
daily or backfilled DAG run finds the runs of its date.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from seqflow.config import DEFAULT_COMPLETION_FLAGS
from seqflow.paths import RUN_ID_MAX_LENGTH, check_sample_id

log = logging.getLogger(__name__)

_RUN_NAME_RE = re.compile(
    r"(?P<date>\d{6}|\d{8})_(?P<instrument>[A-Za-z0-9]{1,32})_(?P<run_number>\d{1,6})"
    r"_(?P<flowcell>[A-Za-z0-9][A-Za-z0-9-]{0,63})"
)

#: Folders bcl-convert never writes FASTQs into, but that can hold many thousands
#: of files; skipping them keeps a FASTQ search fast on a real run folder.
_FASTQ_SEARCH_SKIP_DIRS = frozenset({"Thumbnail_Images", "InterOp", "Logs", "Config", "Recipe", "Images"})


class RunFolderError(ValueError):
    """A run folder name or layout that breaks the Illumina convention."""


class FastqError(RunFolderError):
    """The FASTQ files of a sample are missing, unpaired or ambiguous."""


@dataclass(frozen=True)
class RunFolderName:
    """The parts of an Illumina run folder name."""

    run_id: str
    run_date: date
    instrument: str
    run_number: int
    flowcell: str

    @classmethod
    def parse(cls, name: str) -> RunFolderName:
        """Parse ``YYMMDD_<instrument>_<run number>_<flowcell>``.

        Raises :class:`RunFolderError` naming ``name`` and the rule it breaks.
        """
        if not isinstance(name, str) or not name:
            raise RunFolderError(f"run folder name {name!r} is empty or not a string")
        if len(name) > RUN_ID_MAX_LENGTH:
            raise RunFolderError(f"run folder name {name!r} is longer than {RUN_ID_MAX_LENGTH} characters")
        match = _RUN_NAME_RE.fullmatch(name)
        if match is None:
            raise RunFolderError(f"run folder name {name!r} {_explain_mismatch(name)}")
        raw_date = match["date"]
        fmt, shape = ("%y%m%d", "YYMMDD") if len(raw_date) == 6 else ("%Y%m%d", "YYYYMMDD")
        try:
            run_date = datetime.strptime(raw_date, fmt).date()
        except ValueError:
            raise RunFolderError(f"run folder name {name!r}: {raw_date!r} is not a valid date ({shape})") from None
        return cls(
            run_id=name,
            run_date=run_date,
            instrument=match["instrument"],
            run_number=int(match["run_number"]),
            flowcell=match["flowcell"],
        )

    def __str__(self) -> str:
        return self.run_id


def _explain_mismatch(name: str) -> str:
    """Say which part of the convention ``name`` breaks (for error messages)."""
    expected = "(expected YYMMDD_<instrument>_<run number>_<flowcell>, e.g. 241120_A01234_0042_AHXXXXXDSX)"
    fields = name.split("_")
    if len(fields) != 4:
        return f"has {len(fields)} '_'-separated fields, not 4 {expected}"
    raw_date, instrument, run_number, flowcell = fields
    if not re.fullmatch(r"\d{6}|\d{8}", raw_date):
        return f"does not start with a YYMMDD date {expected}"
    if not re.fullmatch(r"[A-Za-z0-9]{1,32}", instrument):
        return f"has an invalid instrument id {instrument!r} (letters and digits only) {expected}"
    if not re.fullmatch(r"\d{1,6}", run_number):
        return f"has an invalid run number {run_number!r} (1 to 6 digits) {expected}"
    return (
        f"has an invalid flowcell id {flowcell!r} (letters, digits and '-', "
        f"starting with a letter or digit) {expected}"
    )


def is_run_folder_name(name: str) -> bool:
    """True if ``name`` follows the run folder convention (including a valid date)."""
    try:
        RunFolderName.parse(name)
    except RunFolderError:
        return False
    return True


@dataclass(frozen=True)
class RunFolder:
    """A run folder on disk."""

    path: Path
    name: RunFolderName

    @property
    def run_id(self) -> str:
        return self.name.run_id

    def completion_flag(self, flags: Iterable[str] = DEFAULT_COMPLETION_FLAGS) -> Path | None:
        """The first of ``flags`` (in order of preference) present as a file, else None."""
        for flag in flags:
            candidate = self.path / flag
            if candidate.is_file():
                return candidate
        return None

    def is_complete(self, flags: Iterable[str] = DEFAULT_COMPLETION_FLAGS) -> bool:
        """True once the instrument has written one of the completion ``flags``."""
        return self.completion_flag(flags) is not None


def discover_runs(root: Path, run_date: date) -> list[RunFolder]:
    """Run folders directly under ``root`` whose name carries ``run_date``, sorted by name."""
    return discover_runs_between(root, run_date, run_date)


def discover_runs_between(root: Path, first: date, last: date) -> list[RunFolder]:
    """Run folders directly under ``root`` whose name date is within ``first`` … ``last``, sorted by name.

    Hidden and temporary entries (names starting with ``.``, e.g. ``.tmp-*`` of
    an in-progress copy), files, and names that do not follow the convention
    are skipped; the latter are logged at debug level.
    """
    root = Path(root)
    if not root.is_dir():
        raise RunFolderError(f"run folder root {root} does not exist or is not a directory")
    runs: list[RunFolder] = []
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if not entry.is_dir():
                continue
            try:
                name = RunFolderName.parse(entry.name)
            except RunFolderError as exc:
                log.debug("ignoring %s: %s", entry.path, exc)
                continue
            if first <= name.run_date <= last:
                runs.append(RunFolder(path=root / entry.name, name=name))
    return sorted(runs, key=lambda run: run.name.run_id)


@dataclass(frozen=True)
class FastqPair:
    """The paired FASTQs of one sample on one lane (``lane`` None without lane splitting)."""

    sample_id: str
    sample_number: int
    lane: int | None
    r1: Path | str
    r2: Path | str | None  # None: single-end


def _fastq_name_re(sample_id: str) -> re.Pattern[str]:
    # The whole file name is matched, with the sample id escaped, so that
    # sample "A" never picks up the files of sample "A-2" or "A_B".
    return re.compile(
        re.escape(sample_id) + r"_S(?P<number>\d+)(?:_L(?P<lane>\d{3}))?_R(?P<read>[12])_001\.fastq\.gz"
    )


def _walk_files(run_dir: Path) -> Iterable[Path]:
    """Regular files below ``run_dir``, not following symlinked folders, skipping hidden ones."""
    for dirpath, dirnames, filenames in os.walk(run_dir, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _FASTQ_SEARCH_SKIP_DIRS)
        for filename in sorted(filenames):
            if not filename.startswith("."):
                yield Path(dirpath) / filename


def find_fastqs(run_dir: Path, sample_id: str) -> list[FastqPair]:
    """The bcl-convert FASTQ pairs of ``sample_id`` anywhere under ``run_dir``, by lane.

    Files are named ``<Sample_ID>_S<n>_L<lane>_R<1|2>_001.fastq.gz`` (``_L<lane>``
    absent with ``--no-lane-splitting``), in ``Analysis/<n>/Data/fastq/``,
    ``Data/Intensities/BaseCalls/``, ``Fastq/`` or elsewhere. Raises
    :class:`FastqError` when none are found, when a read has no mate, or when the
    same lane and read are found in two places (e.g. two analyses).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FastqError(f"run folder {run_dir} does not exist or is not a directory")
    names = [path.relative_to(run_dir).as_posix() for path in _walk_files(run_dir)]
    return [
        FastqPair(p.sample_id, p.sample_number, p.lane, run_dir / p.r1, run_dir / p.r2)
        for p in pair_fastqs(names, sample_id, where=f"run folder {run_dir}")
    ]


def run_files(run_dir: Path) -> list[str]:
    """Files of a run folder, as POSIX paths relative to it (the same form as S3 keys below its prefix)."""
    return [path.relative_to(run_dir).as_posix() for path in _walk_files(Path(run_dir))]


def pair_fastqs(files: Iterable[str], sample_id: str, *, where: str, single_end: bool = False) -> list[FastqPair]:
    """The FASTQ pairs of ``sample_id`` among ``files`` (relative paths or keys), by lane.

    The one pairing rule of both profiles: a run folder on disk (:func:`find_fastqs`)
    and a run prefix in S3 list their files and pair them here. ``r1``/``r2`` of
    the result are the entries of ``files``; ``where`` names the folder in errors.
    A single-end run (``single_end``) has R1 files only: ``r2`` is None, and an R2 is an error.
    """
    check_sample_id(sample_id)
    pattern = _fastq_name_re(sample_id)
    found: dict[tuple[int | None, int], tuple[str, int]] = {}
    for name in files:
        match = pattern.fullmatch(name.rsplit("/", 1)[-1])
        if match is None:
            continue
        lane = int(match["lane"]) if match["lane"] is not None else None
        read = int(match["read"])
        key = (lane, read)
        if key in found:
            raise FastqError(
                f"sample {sample_id!r} in {where}: R{read}"
                f"{'' if lane is None else f' of lane {lane}'} found twice: {found[key][0]} and {name}"
            )
        found[key] = (name, int(match["number"]))
    if not found:
        raise FastqError(
            f"no FASTQ files for sample {sample_id!r} under {where} "
            f"(expected {sample_id}_S<n>_L<lane>_R<1|2>_001.fastq.gz)"
        )
    lanes = {lane for lane, _ in found}
    if None in lanes and len(lanes) > 1:
        raise FastqError(f"sample {sample_id!r} in {where}: both lane-split and non-lane-split FASTQ files found")
    pairs: list[FastqPair] = []
    for lane in sorted(lanes, key=lambda value: value or 0):
        r1, r2 = found.get((lane, 1)), found.get((lane, 2))
        at = "" if lane is None else f" of lane {lane}"
        if single_end:
            if r1 is None or r2 is not None:
                raise FastqError(
                    f"sample {sample_id!r} in {where}: a single-end run (no Read2Cycles in the sample sheet) "
                    f"needs one R1 and no R2{at}, found {'an R2 ' + r2[0] if r2 else 'no R1'}"
                )
            pairs.append(FastqPair(sample_id=sample_id, sample_number=r1[1], lane=lane, r1=r1[0], r2=None))
            continue
        if r1 is None or r2 is None:
            present, missing = (r1, "R2") if r2 is None else (r2, "R1")
            raise FastqError(f"sample {sample_id!r} in {where}: {present[0]} has no {missing} mate{at}")
        if r1[1] != r2[1]:
            raise FastqError(
                f"sample {sample_id!r} in {where}: R1 and R2{at} have different "
                f"sample numbers (S{r1[1]} and S{r2[1]})"
            )
        pairs.append(FastqPair(sample_id=sample_id, sample_number=r1[1], lane=lane, r1=r1[0], r2=r2[0]))
    return pairs
