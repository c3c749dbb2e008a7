"""Illumina sample sheets, v2 (``[BCLConvert_Data]``) and v1 (``[Data]``).

A sample sheet is user input: every Sample_ID later becomes part of a path and
of a command line, so it is validated here, once, with errors of the form
``<file>, line <n>: <rule>: <detail>``.

Version detection: ``FileFormatVersion,2`` in ``[Header]`` means v2 and its
samples are in ``[BCLConvert_Data]``; a ``[Header]`` without FileFormatVersion
(IEM sheets carry ``IEMFileVersion``) means v1 with samples in ``[Data]``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from seqflow.paths import SAMPLE_ID_MAX_LENGTH, is_valid_sample_id

_INDEX_RE = re.compile(r"[ACGTN]*")
_SECTION_RE = re.compile(r"\[(?P<name>[^\[\]]+)\]")

#: data section of each FileFormatVersion
DATA_SECTIONS = {1: "Data", 2: "BCLConvert_Data"}


class SampleSheetError(ValueError):
    """An invalid sample sheet; the message names the file, the line and the rule."""

    def __init__(self, path: Path | str, line: int | None, rule: str, detail: str):
        self.path = str(path)
        self.line = line
        self.rule = rule
        self.detail = detail
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {rule}: {detail}")


@dataclass(frozen=True)
class SampleRecord:
    """One row of the data section.

    ``index``/``index2`` are upper-case, ``""`` when the sheet has none;
    ``lane`` is None when the sheet has no Lane column (all lanes).
    """

    sample_id: str
    lane: int | None
    index: str
    index2: str
    sample_project: str | None
    line: int
    #: every cell of the row by its column name as written (``Sample_Project``, ``Reference``, …)
    columns: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class SampleSheet:
    """A parsed and validated sample sheet.

    ``header`` maps ``[Header]`` keys to values; ``reads`` maps read names to
    cycles (v2 keys as written, e.g. ``Read1Cycles``; v1's bare cycle lines
    become ``Read1Cycles``, ``Read2Cycles``), as ints where they are numbers.
    """

    path: Path
    version: int
    header: dict[str, str]
    reads: dict[str, int | str]
    samples: list[SampleRecord] = field(default_factory=list)
    #: key/value sections other than [Header] and [Reads] (``BCLConvert_Settings``,
    #: ``DragenGermline_Settings`` with its ``ReferenceGenomeDir``), by section name
    settings: dict[str, dict[str, str]] = field(default_factory=dict)

    def sample_ids(self) -> list[str]:
        """Sample_IDs in sheet order, each once (a sample may span lanes)."""
        return list(dict.fromkeys(record.sample_id for record in self.samples))

    def records_for(self, sample_id: str) -> list[SampleRecord]:
        """All rows (one per lane) of ``sample_id``."""
        return [record for record in self.samples if record.sample_id == sample_id]


@dataclass
class _Section:
    name: str
    line: int
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SampleSheetError(path, None, "file not found", "the sample sheet does not exist") from None
    except IsADirectoryError:
        raise SampleSheetError(path, None, "not a file", "the sample sheet path is a directory") from None
    except OSError as exc:
        raise SampleSheetError(path, None, "unreadable file", str(exc)) from None
    try:
        # utf-8-sig strips the BOM Excel writes at the start of "CSV UTF-8" files
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SampleSheetError(
            path, line, "not UTF-8", f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid UTF-8"
        ) from None


def _split_sections(path: Path, text: str) -> dict[str, _Section]:
    sections: dict[str, _Section] = {}
    current: _Section | None = None
    # strict: a stray or unbalanced quote is an error, not a field that
    # silently swallows the rest of the sheet
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    previous_end = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # name the line the broken record starts on, not where the reader gave up
            raise SampleSheetError(path, previous_end + 1, "malformed CSV", str(exc)) from None
        line = previous_end + 1
        previous_end = reader.line_num
        cells = [cell.strip() for cell in cells]
        # IEM and Excel pad rows with trailing commas up to the widest row; the
        # padding is dropped where it is meaningless, but data rows keep it so
        # that an empty last field (no index2) still counts as a field.
        trimmed = _trim(cells)
        if not trimmed:
            continue
        match = _SECTION_RE.fullmatch(trimmed[0])
        if match is not None and len(trimmed) == 1:
            name = match["name"].strip()
            if name in sections:
                raise SampleSheetError(
                    path, line, "duplicate section", f"[{name}] already started on line {sections[name].line}"
                )
            current = sections[name] = _Section(name, line)
            continue
        if current is None:
            raise SampleSheetError(path, line, "content outside a section", "expected a [Section] line first")
        current.rows.append((line, cells))
    return sections


def _trim(cells: list[str]) -> list[str]:
    end = len(cells)
    while end and cells[end - 1] == "":
        end -= 1
    return cells[:end]


def _key_values(section: _Section | None) -> dict[str, str]:
    if section is None:
        return {}
    return {cells[0]: (cells[1] if len(cells) > 1 else "") for _, cells in section.rows if cells[0]}


def _as_number(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _reads(section: _Section | None, version: int) -> dict[str, int | str]:
    if section is None:
        return {}
    if version == 1:
        # v1 lists one bare cycle count per read
        return {f"Read{n}Cycles": _as_number(cells[0]) for n, (_, cells) in enumerate(section.rows, start=1)}
    return {key: _as_number(value) for key, value in _key_values(section).items()}


def _detect_version(path: Path, sections: dict[str, _Section]) -> int:
    header = sections.get("Header")
    if header is None:
        return 1
    for line, cells in header.rows:
        if cells[0] == "FileFormatVersion":
            value = cells[1] if len(cells) > 1 else ""
            if value not in ("1", "2"):
                raise SampleSheetError(
                    path, line, "unknown FileFormatVersion", f"{value!r} is not supported (expected 2, or 1)"
                )
            return int(value)
    return 1


def parse_sample_sheet(path: Path | str) -> SampleSheet:
    """Parse and validate a v1 or v2 sample sheet.

    Raises :class:`SampleSheetError` (``<file>, line <n>: <rule>: <detail>``) for:
    a missing file, non-UTF-8 content, an unknown FileFormatVersion, a missing
    or empty data section, a missing Sample_ID column, rows with the wrong
    number of fields, empty or invalid Sample_IDs (letters, digits, ``-``, ``_``,
    at most 100 characters), duplicate Sample_IDs within a lane, invalid lanes,
    indexes with characters other than ACGTN, and index lengths that differ
    within a lane. A UTF-8 BOM and CRLF line endings are accepted.
    """
    path = Path(path)
    text = _read_text(path)
    sections = _split_sections(path, text)
    version = _detect_version(path, sections)
    data_name = DATA_SECTIONS[version]
    data = sections.get(data_name)
    if data is None:
        hint = ""
        other = DATA_SECTIONS[2 if version == 1 else 1]
        if other in sections:
            hint = (
                f" (found [{other}]: a v2 sheet needs FileFormatVersion,2 in [Header])"
                if version == 1
                else f" (found [{other}], the v1 data section; a v2 sheet needs [{data_name}])"
            )
        raise SampleSheetError(
            path, None, "missing data section", f"no [{data_name}] section in a v{version} sample sheet{hint}"
        )
    samples = _parse_data(path, data)
    return SampleSheet(
        path=path,
        version=version,
        header=_key_values(sections.get("Header")),
        reads=_reads(sections.get("Reads"), version),
        samples=samples,
        settings={
            name: _key_values(section) for name, section in sections.items()
            if name.endswith("Settings") and name not in ("Header", "Reads")
        },
    )


def _parse_data(path: Path, section: _Section) -> list[SampleRecord]:
    if not section.rows:
        raise SampleSheetError(path, section.line, "empty data section", f"[{section.name}] has no column header")
    header_line, columns = section.rows[0]
    columns = _trim(columns)
    lowered: dict[str, int] = {}
    for position, column in enumerate(columns):
        if column == "":
            raise SampleSheetError(
                path, header_line, "empty column name", f"column {position + 1} of [{section.name}] has no name"
            )
        key = column.lower()
        if key in lowered:
            raise SampleSheetError(path, header_line, "duplicate column", f"column {column!r} appears twice")
        lowered[key] = position
    if "sample_id" not in lowered:
        raise SampleSheetError(
            path, header_line, "missing Sample_ID column", f"the [{section.name}] header has columns {columns}"
        )
    if len(section.rows) == 1:
        raise SampleSheetError(path, header_line, "empty data section", f"[{section.name}] lists no samples")

    def cell(cells: list[str], column: str) -> str:
        position = lowered.get(column)
        return "" if position is None else cells[position]

    records: list[SampleRecord] = []
    seen: dict[tuple[int | None, str], int] = {}
    index_lengths: dict[tuple[str, int | None], tuple[int, int]] = {}
    for line, cells in section.rows[1:]:
        if len(cells) > len(columns) and not any(cells[len(columns) :]):
            cells = cells[: len(columns)]
        if len(cells) != len(columns):
            raise SampleSheetError(
                path,
                line,
                "wrong number of fields",
                f"row has {len(cells)} fields, the [{section.name}] header on line {header_line} has {len(columns)}",
            )
        sample_id = cell(cells, "sample_id")
        if sample_id == "":
            raise SampleSheetError(path, line, "empty Sample_ID", "every row needs a Sample_ID")
        if not is_valid_sample_id(sample_id):
            raise SampleSheetError(
                path,
                line,
                "invalid Sample_ID",
                f"{sample_id!r}: only letters, digits, '-' and '_' are allowed, starting with a letter "
                f"or digit, at most {SAMPLE_ID_MAX_LENGTH} characters",
            )
        lane: int | None = None
        if "lane" in lowered:
            raw_lane = cell(cells, "lane")
            if not raw_lane.isdigit() or int(raw_lane) < 1:
                raise SampleSheetError(path, line, "invalid Lane", f"{raw_lane!r} is not a positive integer")
            lane = int(raw_lane)
        if (lane, sample_id) in seen:
            where = "" if lane is None else f" in lane {lane}"
            raise SampleSheetError(
                path,
                line,
                "duplicate Sample_ID",
                f"{sample_id!r} appears twice{where} (first on line {seen[(lane, sample_id)]})",
            )
        seen[(lane, sample_id)] = line
        indexes: dict[str, str] = {}
        for column in ("index", "index2"):
            value = cell(cells, column).upper()
            if _INDEX_RE.fullmatch(value) is None:
                raise SampleSheetError(
                    path,
                    line,
                    f"invalid {column}",
                    f"{cell(cells, column)!r} for sample {sample_id!r} has characters other than A, C, G, T, N",
                )
            first = index_lengths.setdefault((column, lane), (len(value), line))
            if first[0] != len(value):
                where = "" if lane is None else f" in lane {lane}"
                raise SampleSheetError(
                    path,
                    line,
                    f"inconsistent {column} length",
                    f"{column} of sample {sample_id!r} has {len(value)} bases, but {first[0]} on line {first[1]}"
                    f"{where}",
                )
            indexes[column] = value
        project = cell(cells, "sample_project") or None
        if project is not None and not is_valid_sample_id(project):
            raise SampleSheetError(
                path,
                line,
                "invalid Sample_Project",
                f"{project!r}: only letters, digits, '-' and '_' are allowed, "
                f"at most {SAMPLE_ID_MAX_LENGTH} characters",
            )
        records.append(
            SampleRecord(
                sample_id=sample_id,
                lane=lane,
                index=indexes["index"],
                index2=indexes["index2"],
                sample_project=project,
                line=line,
                columns=dict(zip(columns, (c.strip() for c in cells))),
            )
        )
    return records
