"""Safe names and paths: the one place user-supplied names become paths or keys.

Run ids, sample ids and pipeline versions come from sample sheets, trigger
params, the API and file names. Each is checked against a strict pattern before
it is joined into a local path or an S3 key, so that no input can climb out of
its root (``..``), inject a separator, or carry control characters.

The patterns are written so that they mean the same in Python ``re`` and in the
ECMAScript regexes of Airflow's trigger form (JSON schema ``pattern``). Python
code always applies them with :func:`re.fullmatch`, because ``$`` alone would
accept a trailing newline.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

#: Illumina run folder ``YYMMDD_<instrument>_<run number>_<flowcell>``. NovaSeq X
#: writes an eight-digit ``YYYYMMDD`` date, so both widths are accepted.
RUN_ID_PATTERN = r"^(?:\d{6}|\d{8})_[A-Za-z0-9]{1,32}_\d{1,6}_[A-Za-z0-9][A-Za-z0-9-]{0,63}$"
RUN_ID_MAX_LENGTH = 128

#: bcl-convert's Sample_ID alphabet. The first character must be a letter or a
#: digit so that an id can never be read as a command-line option (``-rf``).
SAMPLE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"
SAMPLE_ID_MAX_LENGTH = 100

#: Semantic version of the pipeline, part of every result path.
PIPELINE_VERSION_PATTERN = r"^\d+\.\d+\.\d+$"
PIPELINE_VERSION_MAX_LENGTH = 32

#: Name of a registered reference genome (``GRCh38``, ``ecoli_k12_mg1655``,
#: ``hg38-chr20``): a path component and an S3 key part, so no ``/`` and no ``..``.
REFERENCE_NAME_PATTERN = r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
REFERENCE_NAME_MAX_LENGTH = 64

#: Name of an aligner or a caller (``bwa``, ``minimap2``, ``bcftools``): no ``-``,
#: which separates them in a result path.
TOOL_NAME_PATTERN = r"^[a-z][a-z0-9]{0,31}$"

_RUN_ID_RE = re.compile(RUN_ID_PATTERN)
_REFERENCE_NAME_RE = re.compile(REFERENCE_NAME_PATTERN)
_TOOL_NAME_RE = re.compile(TOOL_NAME_PATTERN)
_SAMPLE_ID_RE = re.compile(SAMPLE_ID_PATTERN)
_PIPELINE_VERSION_RE = re.compile(PIPELINE_VERSION_PATTERN)


class UnsafePathError(ValueError):
    """A name or path part that must not be used to build a path."""


def is_valid_run_id(value: object) -> bool:
    """True if ``value`` has the shape of an Illumina run folder name."""
    return (
        isinstance(value, str)
        and len(value) <= RUN_ID_MAX_LENGTH
        and _RUN_ID_RE.fullmatch(value) is not None
    )


def is_valid_sample_id(value: object) -> bool:
    """True if ``value`` is a valid Sample_ID (letters, digits, ``-``, ``_``; max 100)."""
    return isinstance(value, str) and _SAMPLE_ID_RE.fullmatch(value) is not None


def is_valid_pipeline_version(value: object) -> bool:
    """True if ``value`` is a ``MAJOR.MINOR.PATCH`` version."""
    return (
        isinstance(value, str)
        and len(value) <= PIPELINE_VERSION_MAX_LENGTH
        and _PIPELINE_VERSION_RE.fullmatch(value) is not None
    )


def is_valid_reference_name(value: object) -> bool:
    """True if ``value`` can name a reference genome (letters, digits, ``.``, ``_``, ``-``; no ``..``)."""
    return isinstance(value, str) and _REFERENCE_NAME_RE.fullmatch(value) is not None


def check_reference_name(value: object) -> str:
    """Return ``value`` if it is a valid reference name, else raise :class:`UnsafePathError`."""
    if not is_valid_reference_name(value):
        raise UnsafePathError(
            f"invalid reference name {value!r}: use letters, digits, '.', '_' and '-' "
            f"(starting with a letter or digit, no '/' or '..', at most {REFERENCE_NAME_MAX_LENGTH} characters)"
        )
    return value  # type: ignore[return-value]


def check_tool_name(kind: str, value: object) -> str:
    """Return ``value`` if it can name an aligner or caller, else raise :class:`UnsafePathError`."""
    if not isinstance(value, str) or _TOOL_NAME_RE.fullmatch(value) is None:
        raise UnsafePathError(f"invalid {kind} name {value!r}: expected lower-case letters and digits")
    return value


def check_run_id(value: object) -> str:
    """Return ``value`` if it is a valid run id, else raise :class:`UnsafePathError`."""
    if not is_valid_run_id(value):
        raise UnsafePathError(
            f"invalid run id {value!r}: expected an Illumina run folder name "
            "YYMMDD_<instrument>_<run number>_<flowcell> "
            f"(letters, digits, '_' and '-' only, at most {RUN_ID_MAX_LENGTH} characters)"
        )
    return value  # type: ignore[return-value]


def check_sample_id(value: object) -> str:
    """Return ``value`` if it is a valid sample id, else raise :class:`UnsafePathError`."""
    if not is_valid_sample_id(value):
        raise UnsafePathError(
            f"invalid sample id {value!r}: only letters, digits, '-' and '_' are allowed, "
            f"starting with a letter or digit, at most {SAMPLE_ID_MAX_LENGTH} characters"
        )
    return value  # type: ignore[return-value]


def check_pipeline_version(value: object) -> str:
    """Return ``value`` if it is a valid pipeline version, else raise :class:`UnsafePathError`."""
    if not is_valid_pipeline_version(value):
        raise UnsafePathError(f"invalid pipeline version {value!r}: expected MAJOR.MINOR.PATCH, e.g. 1.0.0")
    return value  # type: ignore[return-value]


def check_relative_parts(*parts: str) -> tuple[str, ...]:
    """Split ``parts`` on ``/`` and return the components, rejecting unsafe ones.

    Rejected: non-strings, empty parts or components (``a//b``), absolute parts,
    ``.`` and ``..``, NUL and other control characters, and backslashes (a
    separator on Windows and a source of confusion in S3 keys).
    """
    if not parts:
        raise UnsafePathError("no path parts given")
    components: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            raise UnsafePathError(f"path part {part!r} is not a string")
        if part == "":
            raise UnsafePathError("empty path part")
        if part.startswith("/"):
            raise UnsafePathError(f"absolute path part {part!r} is not allowed")
        if "\\" in part:
            raise UnsafePathError(f"backslash in path part {part!r} is not allowed")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in part):
            raise UnsafePathError(f"control character (e.g. NUL) in path part {part!r}")
        for component in part.split("/"):
            if component == "":
                raise UnsafePathError(f"empty component in path part {part!r}")
            if component in (".", ".."):
                raise UnsafePathError(f"{component!r} component in path part {part!r} is not allowed")
            components.append(component)
    return tuple(components)


def safe_join(root: Path, *parts: str) -> Path:
    """Join ``parts`` below ``root``, refusing anything that could leave ``root``.

    Besides the lexical checks of :func:`check_relative_parts`, the joined path
    is resolved (following symlinks that already exist) and must still lie
    inside the resolved ``root``. Returns the un-resolved joined path, so the
    caller keeps the form of ``root`` it passed in.
    """
    components = check_relative_parts(*parts)
    root = Path(root)
    joined = root.joinpath(*components)
    real_root = root.resolve()
    real_joined = joined.resolve()
    if real_joined != real_root and not real_joined.is_relative_to(real_root):
        raise UnsafePathError(f"path {'/'.join(components)!r} resolves to {real_joined}, outside {real_root}")
    return joined


def result_prefix(identity: "AnalysisIdentity", sample_id: str | None = None) -> str:
    """The results prefix of one analysis (or one of its samples):
    ``results/<run_id>/<pipeline_version>/<reference>/<aligner>-<caller>[/<sample_id>]``.

    The same string is an S3 key prefix (``aws`` profile) and a path relative to
    the results bucket folder (``local`` profile). Each part is validated.
    """
    parts = ["results", *identity.path_parts()]
    if sample_id is not None:
        parts.append(check_sample_id(sample_id))
    return str(PurePosixPath(*parts))


if TYPE_CHECKING:  # pragma: no cover
    from seqflow.identity import AnalysisIdentity
