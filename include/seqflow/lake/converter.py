"""Streaming VCF/BCF -> Parquet conversion (bcftools query + pyarrow).

Engine choice (measured by ``bench/vcf_to_parquet``): htslib parses the file in
``bcftools query``, which prints one tab-separated line per record (all
samples on that line); pyarrow's streaming CSV reader turns blocks of those
lines into Arrow columns on the other core, and every remaining step (splitting
lists, building the INFO/FORMAT maps, typing, validating Number=A/R/G) is a
vectorised Arrow kernel. Nothing is done per record in Python, and memory is
bounded by the block size, not the file size.

Rows are grouped by sample: one Parquet file per sample partition, written as
the blocks stream by. The site columns of a block are computed once and shared
by every sample of that block; the INFO map's values are dictionary-encoded
once per block so that each sample file stores them without re-hashing, and
the fields promoted to typed columns are not repeated in the map.
"""

from __future__ import annotations

import gzip
import logging
import re
import subprocess
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from seqflow.lake.header import FieldDef, VcfFormatError, VcfHeader, header_line_count, open_text, parse_definition
from seqflow.lake.schema import PROMOTED_FORMAT, PROMOTED_INFO, VARIANT_SCHEMA

SITE_COLUMNS = ("chrom", "pos", "id", "ref", "alt", "qual", "filter", "end")
_SITE_FORMAT = "%CHROM\t%POS\t%ID\t%REF\t%ALT\t%QUAL\t%FILTER\t%END"
#: FORMAT fields queried for every sample, in this order, before the map ones.
_FIXED_FORMAT = ("GT", "GQ", "DP", "AD", "PL")

#: Bytes of bcftools output per Arrow block: bounds memory (~10x this) while
#: keeping row groups large enough for Parquet.
DEFAULT_BLOCK_SIZE = 16 << 20
#: Bytes the CSV reader parses at a time (DEFAULT_BLOCK_SIZE is reached by
#: concatenating such blocks): parsing is fastest on blocks that fit in cache
#: (measured: 2-4 MiB parse ~1.7x faster per byte than 16 MiB).
READ_BLOCK_SIZE = 2 << 20
#: Samples handled in one pass over the file; bounds open writers and memory
#: for population-scale VCFs.
MAX_SAMPLES_PER_PASS = 256

#: Threads encoding Parquet (one per core; bcftools and parsing share them).
WRITE_THREADS = 2

#: Parquet writer settings, chosen by measurement: dictionary pages only where
#: values repeat, statistics only on the columns queries filter on (min/max of
#: a map or list column costs time and prunes nothing), delta-encoded
#: coordinates.
WRITER_OPTIONS = dict(
    use_dictionary=[
        "contig", "ref", "filters.list.element", "info.key_value.key", "info.key_value.value", "format.key_value.key",
        "gt.list.element", "alt.list.element",
    ],
    write_statistics=["contig", "pos", "start", "end", "qual", "info_dp", "gq", "dp"],
    column_encoding={"pos": "DELTA_BINARY_PACKED", "start": "DELTA_BINARY_PACKED", "end": "DELTA_BINARY_PACKED"},
)
#: Rows the Parquet writer levels and encodes at a time (its default is 1,024): a row of the
#: INFO map is ~10 entries, and larger batches cut the per-batch overhead of the map's
#: levels. Measured on bench/vcf_to_parquet's blocks in the table form: 5-8% less writer
#: CPU, byte-identical files (pages still close at the default 1 MiB).
WRITE_BATCH_SIZE = 1 << 16

_DICT_STRING = pa.dictionary(pa.int32(), pa.string())
_DICT_MAP = pa.map_(_DICT_STRING, pa.string())
#: The INFO map is the same for every sample of a block: its values are
#: dictionary-encoded once per block, and each sample's file then stores the
#: dictionary and the indices without hashing or re-encoding a string.
_DICT_DICT_MAP = pa.map_(_DICT_STRING, _DICT_STRING)
_WRITE_TYPES = {
    "info": _DICT_DICT_MAP,
    "format": _DICT_MAP,
}
#: What the writer is handed: the lake schema with low-cardinality or shared
#: strings dictionary-encoded in Arrow, which the Parquet writer stores without
#: re-hashing. Files still read back as VARIANT_SCHEMA (store_schema=False).
WRITE_SCHEMA = pa.schema([f.with_type(_WRITE_TYPES.get(f.name, f.type)) for f in VARIANT_SCHEMA])

log = logging.getLogger(__name__)

_AT_RE = re.compile(r"\bat ([^\s:]+):(\d+)")


@dataclass
class SampleOutput:
    """Where one sample's rows go."""

    vcf_sample: str | None  # column in the VCF; None for a sites-only file
    path: Path  # Parquet file to write
    rows: int = 0
    #: The row's provenance columns (identity and sample_id, and sample_name): given, the file is
    #: written as a data file of the lake's table (convert_stream's ``table_schema``), not in VARIANT_SCHEMA.
    provenance: dict[str, str | None] | None = None
    #: The sample's name in the VCF, kept in a plain-form file's key-value metadata
    #: (seqflow.sample_name) for the commit that adds the provenance.
    sample_name: str | None = None


@dataclass
class ConversionStats:
    """What a conversion read and wrote, and what it read leniently."""

    records: int
    outputs: list[SampleOutput]
    #: Values kept as the file has them although they disagree with the header
    #: (a count per rule, with the first record), and lenient header definitions.
    warnings: list[str] = field(default_factory=list)


def _fits(d: FieldDef, spec: tuple[str, pa.DataType, bool]) -> bool:
    """Whether a declared field goes to its promoted typed column (else it stays
    in the map as text, so that nothing is lost: a DP declared String, a GQ
    declared Float, an AN declared Number=A)."""
    _, typ, is_list = spec
    if not d.numeric or (pa.types.is_integer(typ) and d.type != "Integer"):
        return False
    return is_list or d.number == "1"


def _fixed_format(header: VcfHeader) -> list[str]:
    """FORMAT fields printed first for every sample: GT, then the promoted ones the header declares fitly."""
    return ["GT"] + [f for f in _FIXED_FORMAT[1:] if f in header.format and _fits(header.format[f], PROMOTED_FORMAT[f])]


def _query_format(header: VcfHeader, samples: list[str]) -> tuple[str, list[str]]:
    """bcftools query format string and the names of the per-sample columns.

    Each declared INFO field gets its own column (``%INFO/ID``): the map is
    then assembled from columns, with no ``k=v;...`` text to re-parse. Tags
    used but not declared are fatal (see :func:`_is_fatal`), so nothing is lost.
    """
    # a promoted FORMAT field the header does not declare is all null (and
    # using it undeclared is fatal): no need to have bcftools print its dots
    fixed = _fixed_format(header)
    others = [f for f in header.format if f not in fixed]
    per_sample = fixed + others
    site = _SITE_FORMAT + "".join(f"\t%INFO/{i}" for i in header.info)
    if not samples:
        return site + "\n", []
    block = "".join(f"\t%{f}" for f in per_sample)
    return f"{site}[{block}]\n", per_sample


def _map_info_ids(header: VcfHeader) -> list[str]:
    """INFO fields that go into the ``info`` map: all declared ones except those
    promoted to a typed column (see :func:`_fits`)."""
    return [i for i, d in header.info.items() if not (i in PROMOTED_INFO and _fits(d, PROMOTED_INFO[i]))]


def _null_dots(values: pa.Array) -> pa.Array:
    """'.' (VCF missing) -> null, for elements of a split list."""
    return pc.if_else(pc.equal(values, "."), pa.scalar(None, pa.string()), values)


class _RowError(Exception):
    """A value in block row ``row`` disagrees with the header."""

    def __init__(self, row: int, reason: str):
        super().__init__(reason)
        self.row = row
        self.reason = reason


class _Warnings:
    """What was read leniently (kept as the file has it), counted per rule."""

    def __init__(self, first: list[str] | None = None):
        self.counts: dict[str, list] = {}
        for message in first or []:
            self.counts[message] = [1, None]

    def add(self, rule: str, count: int, where: str | None) -> None:
        entry = self.counts.setdefault(rule, [0, where])
        entry[0] += count

    def messages(self) -> list[str]:
        out = []
        for rule, (count, where) in self.counts.items():
            out.append(rule if where is None else f"{rule}: {count} value(s), the first at {where}")
        return out


#: The Integer values htslib can store (int32 without its 8 reserved values:
#: missing, end of vector, ...); outside it htslib stores "missing".
INT_MIN, INT_MAX = -2147483640, 2147483647
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.I)


class _Bad:
    """Rows whose text is not a number of the declared type (lenient parsing):
    their values are kept as the file writes them, as text in the map."""

    def __init__(self):
        self.rows: set[int] = set()
        self.example: str | None = None


def _parse_slow(values: pa.Array, typ: pa.DataType, what: str, parents, warn, bad: _Bad | None = None) -> pa.Array:
    """Value-by-value parse of the file's text (the exception path): an empty
    value is missing (counted), '+5' is 5; text that is not a number of the
    type (htslib would read ``12x`` as 12, ``abc`` as missing) is refused,
    naming the record and the value, or, given ``bad``, made null here and
    its row recorded so that the caller keeps the text."""
    if callable(parents):
        parents = parents()
    is_int = pa.types.is_integer(typ)
    pattern = _INT_TEXT if is_int else _FLOAT_TEXT
    out, empty, first_empty = [], 0, None
    for i, v in enumerate(values.to_pylist()):
        if v is None:
            out.append(None)
            continue
        if v == "":
            empty += 1
            first_empty = i if first_empty is None else first_empty
            out.append(None)
            continue
        row = int(parents[i]) if parents is not None else i
        ok = pattern.fullmatch(v) is not None
        x = (int(v) if is_int else float(v)) if ok else None
        if ok and is_int and not INT_MIN <= x <= INT_MAX:
            ok = False
        if not ok:
            if bad is None:
                kind = "an Integer" if is_int else "a Float"
                raise _RowError(row, f"{what} value {v!r} is not {kind} (htslib would read it as another value)")
            bad.rows.add(row)
            bad.example = bad.example or v
            x = None
        out.append(x)
    if empty and warn is not None:
        row = int(parents[first_empty]) if parents is not None else first_empty
        warn(f"{what} has an empty value: stored as missing", empty, row)
    return pa.array(out, typ)


def _cast(values: pa.Array, typ: pa.DataType, what: str, parents=None, warn=None, bad: _Bad | None = None) -> pa.Array:
    """Parse the text of single values into ``typ`` strictly (see
    :func:`_parse_slow`); Arrow's cast is the fast path."""
    try:
        if pa.types.is_integer(typ):
            wide = pc.cast(values, pa.int64())
            lo, hi = pc.min_max(wide).values()
            if lo.is_valid and (lo.as_py() < INT_MIN or hi.as_py() > INT_MAX):
                return _parse_slow(values, typ, what, parents, warn, bad)
            return wide.cast(typ) if typ != pa.int64() else wide
        return pc.cast(values, typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _parse_slow(values, typ, what, parents, warn, bad)


def _typed_list(strings: pa.Array, typ: pa.DataType, what: str, warn=None, bad: _Bad | None = None) -> pa.ListArray:
    """'1,.,3' -> [1, null, 3]; a lone '.' was already made null by the CSV reader."""
    parts = pc.split_pattern(strings, ",")
    flat = _null_dots(parts.values)
    values = None
    if not pa.types.is_integer(typ):
        try:  # fast path: every element a number or '.'
            values = pc.cast(flat, typ)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = None
    if values is None:
        values = _cast(flat, typ, what, lambda: pc.list_parent_indices(parts).to_numpy(), warn, bad)
    return pa.ListArray.from_arrays(parts.offsets, values, type=pa.list_(typ), mask=strings.is_null())


def _promote(strings: pa.Array, typ: pa.DataType, is_list: bool, what: str, warn, strict: bool = False
             ) -> tuple[pa.Array, pa.Array | None]:
    """A promoted field's typed column and, for the rows whose text is not
    numbers of the declared type (``DP=12x``, ``DP=3,4`` for a Number=1), that
    text, which the caller keeps in the map: the typed column is null there,
    the lake holds the file's text and no value htslib would have made up.
    ``strict`` (FORMAT, where htslib refuses such text too) refuses instead."""
    bad = None if strict else _Bad()
    arr = _typed_list(strings, typ, what, warn, bad) if is_list else _cast(strings, typ, what, None, warn, bad)
    if bad is None or not bad.rows:
        return arr, None
    mask = np.zeros(len(strings), bool)
    mask[list(bad.rows)] = True
    m = pa.array(mask)
    arr = pc.if_else(m, pa.scalar(None, arr.type), arr)
    kind = "Integers" if pa.types.is_integer(typ) else "Floats"
    warn(f"{what} has values that are not {kind} as declared (e.g. {bad.example!r}): kept as text in the map, "
         "the typed column null", int(mask.sum()), _first_index(mask))
    return arr, pc.if_else(m, strings, pa.scalar(None, pa.string()))


def _bytes_table(chars: bytes) -> np.ndarray:
    table = np.zeros(256, bool)
    table[list(chars)] = True
    return table


#: Bytes a text of Floats (or Integers) and commas can hold; a row with any
#: other byte is parsed exactly. Checking bytes costs one table lookup per
#: byte, where parsing every value costs ~10x more (measured on the bench).
_FLOAT_BYTES = _bytes_table(b"0123456789.,+-eE")
_INT_BYTES = _bytes_table(b"0123456789,+-")


def _rows_to_parse(strings: pa.Array, table: np.ndarray) -> np.ndarray:
    """Rows of a string column holding a byte outside ``table``."""
    offsets, data = _string_buffers(strings)
    lo, hi = int(offsets[0]), int(offsets[-1])
    if hi == lo:
        return np.zeros(0, np.int64)
    other = np.flatnonzero(~table[data[lo:hi]])
    if not len(other):
        return np.zeros(0, np.int64)
    return np.unique(np.searchsorted(offsets[1:] - lo, other, side="right"))


def _validate_numeric(strings: pa.Array, d: FieldDef, what: str, warn, strict: bool = False) -> None:
    """Check the values of a numeric field kept as text in a map (the text is
    what is stored, so nothing is made up): those that are not numbers of the
    declared type (htslib would have read ``75.25`` declared Integer as 75)
    are refused if ``strict`` (FORMAT, as htslib does), else counted.

    Rows are screened by their bytes (digits, sign, '.', 'e', ','), and only
    the rows with other bytes are parsed: text such as ``1.2.3`` passes the
    screen and is kept as written."""
    is_int = d.type == "Integer"
    rows = _rows_to_parse(strings, _INT_BYTES if is_int else _FLOAT_BYTES)
    if is_int:
        offsets, _ = _string_buffers(strings)
        if len(strings) and int(np.diff(offsets).max()) >= 10:  # may be outside the 32-bit range
            rows = np.arange(len(strings))
    if not len(rows):
        return
    subset = strings.take(pa.array(rows))
    bad = None if strict else _Bad()
    try:
        _typed_list(subset, pa.int32() if is_int else pa.float64(), what, warn, bad)
    except _RowError as exc:
        raise _RowError(int(rows[exc.row]), exc.reason) from None
    if bad is not None and bad.rows:
        first = int(rows[min(bad.rows)])
        warn(f"{what} has values that are not {d.type}s as declared (e.g. {bad.example!r}): kept as the file writes "
             "them", len(bad.rows), first)


def _expected_lengths(number: str, n_alt: np.ndarray, ploidy: np.ndarray | None) -> np.ndarray | None:
    """Values a Number=A/R/G/n field must have per row (None: any count; -1 in a
    row: unknown there, e.g. Number=G where the genotype is missing)."""
    if number == "A":
        return n_alt
    if number == "R":
        return n_alt + 1
    if number == "G":
        if ploidy is None:
            return None
        # genotypes of p alleles drawn from n = C(n + p - 1, p)
        n = n_alt + 1
        out = np.ones_like(n)
        for k in range(int(ploidy.max(initial=0))):
            step = ploidy > k
            out = np.where(step, out * (n + k) // (k + 1), out)
        return np.where(ploidy > 0, out, -1)
    if number.isdigit():
        return np.full_like(n_alt, int(number))
    return None


def _check_number(
    values: pa.Array, d: FieldDef, n_alt: np.ndarray, ploidy: np.ndarray | None, what: str, warn
) -> None:
    """Count the rows whose list length disagrees with the header's Number.

    htslib keeps such values as they are (and so does bcftools), so they are
    kept whole and counted in a warning: refusing would refuse files that
    bcftools reads (haploid calls with diploid PL, AC on a site with no ALT).
    """
    expected = _expected_lengths(d.number, n_alt, ploidy)
    if expected is None:
        return
    present = values.is_valid().to_numpy(zero_copy_only=False)
    lengths = pc.fill_null(pc.list_value_length(values), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    bad = present & (expected >= 0) & (lengths != expected)
    if bad.any():
        row = int(np.argmax(bad))
        warn(f"{what} has a number of values other than Number={d.number} gives (kept as in the file)",
             int(bad.sum()), row)


def _stacked_map(columns: list[pa.Array], names: list[str], n: int, encode_values: bool) -> pa.Array:
    """Columns of one field each -> one map per row holding the non-null ones.

    Building the map from per-field columns (rather than re-splitting the
    ``k=v;k=v`` text) costs a few numpy passes and no string parsing. Keys are
    Arrow dictionary indices, which the Parquet writer stores without hashing;
    ``encode_values`` dictionary-encodes the values too (once per block, for a
    map every sample file repeats: see ``_DICT_DICT_MAP``).
    """
    typ = _DICT_DICT_MAP if encode_values else _DICT_MAP
    k = len(columns)
    if k == 0 or n == 0:
        return pa.nulls(n, typ)
    stacked = pa.concat_arrays(columns)  # field j of row r at j * n + r
    valid = stacked.is_valid().to_numpy(zero_copy_only=False).reshape(k, n)
    counts = valid.sum(axis=0, dtype=np.int32)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    rows, fields = np.nonzero(valid.T)  # row-major: each row's fields in header order
    values = stacked.take(pa.array(fields.astype(np.int64) * n + rows))
    if encode_values:
        values = pc.dictionary_encode(values)
    keys = pa.DictionaryArray.from_arrays(pa.array(fields.astype(np.int32)), pa.array(names, pa.string()))
    return pa.MapArray.from_arrays(pa.array(offsets), keys, values, mask=pa.array(counts == 0))


def _string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string array, zero-copy."""
    arr = arr.cast(pa.string()) if arr.type != pa.string() else arr
    offsets = np.frombuffer(arr.buffers()[1], np.int32, count=len(arr) + 1, offset=arr.offset * 4)
    data = arr.buffers()[2]
    return offsets, (np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8))


def _info_rows_to_check(info: pa.Array, header: VcfHeader, columns: dict[str, pa.Array]) -> np.ndarray:
    """Rows whose INFO text may hold a key without a value (``DP``) or with an
    empty one (``DP=``), which bcftools prints as 1 when asked for the tag, or
    a key given twice: the rows whose text is not as long as the keys and the
    values bcftools printed, joined by '=' and ';', make up (lengths are
    free in Arrow, so this costs a few numpy additions per field). A key
    written ``K=.`` is printed as missing and so its row is checked too. The
    rows found are read exactly (see :func:`_check_info_rows`)."""
    n = len(info)
    offsets, data = _string_buffers(info)
    text_len = np.diff(offsets).astype(np.int64)
    expected = np.zeros(n, np.int64)
    present = np.zeros(n, np.int64)
    for key, d in header.info.items():
        col = columns[f"i_{key}"]
        valid = col.is_valid().to_numpy(zero_copy_only=False)
        key_len = len(key.encode())
        if d.type == "Flag":  # printed "1", written bare
            expected += valid * key_len
        else:
            value_len = np.diff(_string_buffers(col)[0]).astype(np.int64)
            expected += valid * (key_len + 1 + value_len)
        present += valid
    expected += np.maximum(present - 1, 0)  # the ';' between items
    missing = present == 0  # INFO '.'
    if n:
        first = data[np.minimum(offsets[:-1], max(len(data) - 1, 0))] if len(data) else np.zeros(n, np.uint8)
        missing &= (text_len == 1) & (first == 46)
    return np.flatnonzero((expected != text_len) & ~missing)


def _check_info_rows(rows: np.ndarray, info: pa.Array, header: VcfHeader, columns: dict[str, pa.Array], warn) -> None:
    """Read the INFO text of ``rows`` exactly. A key of a non-Flag type with no
    value (``DP``, which htslib reads as 1) or an empty one (``DP=``) has no
    value: its printed value in ``columns`` becomes the empty text (missing in
    a typed column, ``''`` in the map), counted. A key given twice is refused
    (htslib reads the first only)."""
    empties: dict[str, list[int]] = {}
    for r, text in zip(rows.tolist(), info.take(pa.array(rows)).to_pylist()):
        seen = set()
        for item in text.split(";"):
            if not item:
                continue  # htslib skips empty items (';;')
            key, eq, value = item.partition("=")
            if key in seen:
                raise _RowError(r, f"INFO/{key} is given twice in the record; htslib reads the first only")
            seen.add(key)
            d = header.info.get(key)
            if d is None or d.type == "Flag":
                continue
            if not eq or value == "":
                empties.setdefault(key, []).append(r)
    n = len(info)
    for key, at in empties.items():
        mask = np.zeros(n, bool)
        mask[at] = True
        name = f"i_{key}"
        columns[name] = pc.if_else(pa.array(mask), pa.scalar("", columns[name].type), columns[name])
        warn(f"INFO/{key} has no value ('{key}' or '{key}='; htslib reads '{key}' as 1): stored as missing",
             len(at), at[0])


def _first_index(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


class _Block:
    """The columns of one block of records, shared by all samples.

    ``raw`` holds the block's POS, QUAL and INFO columns as the file's text (a
    text VCF: see :class:`_RawColumns`); they are checked against what
    bcftools printed, and POS and QUAL are parsed from the text (bcftools
    prints floats with 6 significant digits and reads ``5x`` as 5).
    """

    def __init__(self, batch: pa.RecordBatch, header: VcfHeader, raw: pa.RecordBatch | None, warnings: _Warnings):
        n = batch.num_rows
        self.n = n
        self.batch = batch
        self.warnings = warnings
        self.checked = raw is not None
        col = batch.column
        columns = {f"i_{i}": col(f"i_{i}") for i in header.info}
        pos = col("pos")
        qual = col("qual")
        end = col("end")
        if raw is not None:
            pos, qual = self._raw_site(pos, raw)
            rows = _info_rows_to_check(raw.column("info"), header, columns)
            if len(rows):
                _check_info_rows(rows, raw.column("info"), header, columns, self.warn)
            for i, d in header.info.items():
                if d.numeric and (i not in PROMOTED_INFO):
                    _validate_numeric(columns[f"i_{i}"], d, f"INFO/{i}", self.warn)
            end_def = header.info.get("END")
            if end_def is not None and end_def.type == "Integer":
                # bcftools was told END is text, so %END is POS + len(REF) - 1;
                # htslib's rule: a single END value >= POS sets the end
                text = columns["i_END"]
                single = pc.if_else(pc.match_substring(text, ","), pa.scalar(None, pa.string()), text)
                given = pc.cast(single, pa.int64())
                use = pc.and_kleene(pc.is_valid(given), pc.greater_equal(given, pos))
                end = pc.if_else(pc.fill_null(use, False), given, end)
        elif n and pc.min(pos).as_py() < 1:
            row = _first_index(pc.less(pos, 1).to_numpy(zero_copy_only=False))
            raise _RowError(row, f"POS {pos[row].as_py()} is < 1")
        alt_raw = col("alt")
        alt = pc.split_pattern(alt_raw, ",")
        # ALT '.' means "no alternate allele": an empty list, not a missing one
        alt = pc.if_else(alt_raw.is_null(), pa.scalar([], pa.list_(pa.string())), alt)
        self.n_alt = pc.list_value_length(alt).to_numpy(zero_copy_only=False).astype(np.int64)
        promoted: dict[str, pa.Array] = {}
        extra_ids, extra_cols = [], []  # promoted scalars given several values: kept as text in the map
        for vcf_id, spec in PROMOTED_INFO.items():
            name, typ, is_list = spec
            d = header.info.get(vcf_id)
            if d is None or not _fits(d, spec):
                promoted[name] = pa.nulls(n, pa.list_(typ) if is_list else typ)
                continue
            what = f"INFO/{vcf_id}"
            arr, kept = _promote(columns[f"i_{vcf_id}"], typ, is_list, what, self.warn)
            if is_list:
                _check_number(arr, d, self.n_alt, None, what, self.warn)
            if kept is not None:
                extra_ids.append(vcf_id)
                extra_cols.append(kept)
            promoted[name] = arr
        info_ids = _map_info_ids(header)
        info = _stacked_map([columns[f"i_{i}"] for i in info_ids] + extra_cols, info_ids + extra_ids, n, True)
        self.columns: dict[str, pa.Array] = {
            "contig": col("chrom"),
            "pos": pos,
            "start": pc.subtract(pos, 1),
            "end": end,
            "ids": pc.split_pattern(col("id"), ";"),
            "ref": col("ref"),
            "alt": alt,
            "qual": qual,
            "filters": pc.split_pattern(col("filter"), ";"),
            "info": info,
            **promoted,
        }

    def warn(self, rule: str, count: int, row: int) -> None:
        chrom = self.batch.column("chrom")[row].as_py()
        pos = self.batch.column("pos")[row].as_py()
        self.warnings.add(rule, count, f"{chrom}:{pos}")

    def _raw_site(self, pos: pa.Array, raw: pa.RecordBatch) -> tuple[pa.Array, pa.Array]:
        """POS and QUAL parsed from the file's text, strictly (htslib reads
        ``abc`` as POS 0 and QUAL 0, ``12x`` as 12)."""
        text = raw.column("pos")
        try:
            given = pc.cast(text, pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = []
            for i, v in enumerate(text.to_pylist()):
                if not re.fullmatch(r"\+?[0-9]+", v):
                    raise _RowError(i, f"POS {v!r} is not a whole number >= 1 (htslib would read it as "
                                       f"{pos[i].as_py()})") from None
                values.append(int(v))
            given = pa.array(values, pa.int64())
        small = pc.less(given, 1).to_numpy(zero_copy_only=False)
        if small.any():
            row = _first_index(small)
            raise _RowError(row, f"POS {text[row].as_py()!r} is < 1 (htslib would read it as {pos[row].as_py()})")
        differ = pc.not_equal(given, pos).to_numpy(zero_copy_only=False)
        if differ.any():
            row = _first_index(differ)
            raise _RowError(row, f"POS {text[row].as_py()!r} was read by htslib as {pos[row].as_py()}")
        qual = _cast(_null_dots(raw.column("qual")), pa.float64(), "QUAL", None, self.warn)
        return given, qual

    def sample_columns(self, batch: pa.RecordBatch, prefix: str | None, header: VcfHeader, others: list[str]):
        """Typed FORMAT columns of one sample (all null for a sites-only file)."""
        n = self.n
        out: dict[str, pa.Array] = {}
        if prefix is None:
            out["gt"] = pa.nulls(n, pa.list_(pa.int16()))
            out["gt_phased"] = pa.nulls(n, pa.bool_())
            for name, typ, is_list in PROMOTED_FORMAT.values():
                out[name] = pa.nulls(n, pa.list_(typ) if is_list else typ)
            out["format"] = pa.nulls(n, _DICT_MAP)
            return out
        col = lambda f: batch.column(f"{prefix}{f}")  # noqa: E731
        # a lone '.' is a (haploid) no-call, kept as [null]: a null gt is
        # reserved for sites-only rows, so queries can tell the two apart
        # a sample has few distinct GT strings: parse those once, then index
        codes = pc.dictionary_encode(pc.fill_null(col("GT"), "."))
        idx = codes.indices.to_numpy(zero_copy_only=False)
        words = codes.dictionary
        parts = pc.split_pattern(pc.replace_substring(words, "/", "|"), "|")
        try:
            alleles = _cast(_null_dots(parts.values), pa.int16(), "FORMAT/GT", pc.list_parent_indices(parts).to_numpy())
        except _RowError as exc:  # exc.row is a dictionary entry: report its first row
            raise _RowError(int(np.argmax(idx == exc.row)), exc.reason) from None
        gt_words = pa.ListArray.from_arrays(parts.offsets, alleles, type=pa.list_(pa.int16()))
        starts = parts.offsets.to_numpy()
        values = pc.fill_null(alleles, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        max_allele = np.maximum.reduceat(values, starts[:-1]) if len(values) else np.zeros(0, np.int64)
        # a call with no allele known ('.', './.') has no known ploidy: Number=G is not checked there
        ploidy_words = np.where(max_allele >= 0, np.diff(starts), 0) if len(values) else np.zeros(0, np.int64)
        ploidy = ploidy_words.astype(np.int64)[idx]
        bad = max_allele[idx] > self.n_alt
        if bad.any():
            self.warn("FORMAT/GT has an allele index above the number of ALT alleles (kept as in the file)",
                      int(bad.sum()), _first_index(bad))
        take = pa.array(idx)
        out["gt"] = gt_words.take(take)
        # haploid calls have no separator and so are never phased
        phased = pc.and_(pc.match_substring(words, "|"), pc.invert(pc.match_substring(words, "/")))
        out["gt_phased"] = phased.take(take)
        fixed = _fixed_format(header)
        extra_ids, extra_cols = [], []
        for vcf_id, (name, typ, is_list) in PROMOTED_FORMAT.items():
            if vcf_id not in fixed:
                out[name] = pa.nulls(n, pa.list_(typ) if is_list else typ)
                continue
            d = header.format[vcf_id]
            what = f"FORMAT/{vcf_id}"
            # htslib refuses a FORMAT number it cannot read (INFO it reads leniently)
            arr, kept = _promote(col(vcf_id), typ, is_list, what, self.warn, strict=True)
            if is_list:
                _check_number(arr, d, self.n_alt, ploidy, what, self.warn)
            if kept is not None:
                extra_ids.append(vcf_id)
                extra_cols.append(kept)
            out[name] = arr
        if self.checked:
            for f in others:
                d = header.format[f]
                if d.numeric:
                    _validate_numeric(col(f), d, f"FORMAT/{f}", self.warn, strict=True)
        out["format"] = _stacked_map([col(f) for f in others] + extra_cols, others + extra_ids, n, False)
        return out

    def table(self, sample: dict[str, pa.Array]) -> pa.Table:
        cols = dict(self.columns)
        cols.update(sample)
        return pa.Table.from_arrays([cols[f.name] for f in WRITE_SCHEMA], schema=WRITE_SCHEMA)


class _StderrWatch(threading.Thread):
    """Collects bcftools' stderr and flags the messages that mean data loss.

    bcftools 1.16 reports a malformed record on stderr, skips it and still
    exits 0, so its exit code alone would let a bad file through.
    """

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[str] = []
        self.fatal: list[str] = []

    def run(self) -> None:
        for raw in self.stream:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if _is_fatal(line):
                self.fatal.append(line)


def _is_fatal(line: str) -> bool:
    if line.startswith("[E::"):
        return True
    if "is not defined in the header" in line and ("INFO" in line or "FORMAT" in line):
        return True  # undeclared tag: its values would be typed by guesswork
    return "truncated" in line or "No BGZF EOF marker" in line


def _locate_record(path: Path, chrom: str, pos: str) -> int | None:
    """Line number of the first record at chrom:pos in a text VCF."""
    fh = open_text(path)
    if fh is None:
        return None
    prefix = f"{chrom}\t{pos}\t"
    try:
        with fh:
            for n, line in enumerate(fh, start=1):
                if line.startswith(prefix):
                    return n
    except (EOFError, OSError):
        return None
    return None


def _record_line(path: Path, index: int) -> int | None:
    """Line number of the index-th (0-based) record of a text VCF."""
    n = header_line_count(path)
    return None if n is None else n + index + 1


_UNDECLARED_RE = re.compile(r"(INFO|FORMAT) '([^']+)'.* is not defined in the header")


def _locate_tag(path: Path, kind: str, tag: str) -> int | None:
    """Line number of the first record using an INFO/FORMAT tag (text VCF)."""
    fh = open_text(path)
    if fh is None:
        return None
    try:
        with fh:
            for n, line in enumerate(fh, start=1):
                if line.startswith("#"):
                    continue
                cols = line.rstrip("\n").split("\t")
                if kind == "INFO" and len(cols) > 7:
                    if tag in (kv.split("=", 1)[0] for kv in cols[7].split(";")):
                        return n
                elif kind == "FORMAT" and len(cols) > 8 and tag in cols[8].split(":"):
                    return n
    except (EOFError, OSError):
        return None
    return None


def _fatal_error(path: Path, line: str, records_read: int) -> VcfFormatError:
    reason = re.sub(r"^\[[EW]::[^\]]*\]\s*", "", line)
    undeclared = _UNDECLARED_RE.search(line)
    if undeclared:
        return VcfFormatError(path, _locate_tag(path, undeclared.group(1), undeclared.group(2)), reason)
    m = _AT_RE.search(line)
    if m:
        where = _locate_record(path, m.group(1), m.group(2))
        return VcfFormatError(path, where, reason if where else f"{reason} (record {m.group(1)}:{m.group(2)})")
    if "truncated" in line or "BGZF" in line or "bgzf" in line:
        return VcfFormatError(path, _record_line(path, records_read), f"truncated or corrupt compressed data: {reason}")
    return VcfFormatError(path, _record_line(path, records_read), reason)


def convert_stream(
    vcf: Path,
    header: VcfHeader,
    outputs: list[SampleOutput],
    *,
    bcftools: str = "bcftools",
    block_size: int = DEFAULT_BLOCK_SIZE,
    compression: str = "zstd",
    on_block: Callable[[int], None] | None = None,
    table_schema: pa.Schema | None = None,
) -> ConversionStats:
    """Convert ``vcf`` into one Parquet file per entry of ``outputs``.

    The files hold the variant columns only (the analysis identity and the
    sample are partition values in the files' path, not per-row data), except
    for outputs with ``provenance``: those are written in ``table_schema``
    (:func:`seqflow.lake.iceberg.converter_schema`: the lake table's columns
    and field ids, provenance included), so that the commit takes them as
    they are instead of rewriting them.
    Runs one pass per :data:`MAX_SAMPLES_PER_PASS` samples. Raises
    :class:`VcfFormatError` (naming file and line) on malformed input; the
    caller discards what was written.
    """
    records = 0
    warnings = _Warnings(header.warnings)
    passes = [outputs[i : i + MAX_SAMPLES_PER_PASS] for i in range(0, len(outputs), MAX_SAMPLES_PER_PASS)]
    for group in passes or [[]]:
        records = _convert_pass(vcf, header, group, bcftools, block_size, compression, on_block, warnings,
                                table_schema)
    stats = ConversionStats(records=records, outputs=outputs, warnings=warnings.messages())
    for message in stats.warnings:
        log.warning("%s: %s", vcf, message)
    return stats


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """One record batch of ``batches``: ``pa.concat_batches`` (pyarrow >= 19), or through a table on an
    older pyarrow (MWAA 3.0.6's constraints pin 18.1, and the aws tests run the converter there)."""
    if len(batches) == 1:
        return batches[0]
    concat = getattr(pa, "concat_batches", None)
    if concat is not None:
        return concat(batches)
    combined = pa.Table.from_batches(batches).combine_chunks().to_batches()
    return combined[0] if combined else batches[0].slice(0, 0)


def _grouped(reader, n: int):
    """Batches of ``n`` CSV blocks each: the reader parses small, cache-sized
    blocks (much cheaper per byte than large ones, measured), the converter and
    the Parquet writer work on large ones (one row group each)."""
    if n <= 1:
        yield from reader
        return
    pending: list[pa.RecordBatch] = []
    for batch in reader:
        pending.append(batch)
        if len(pending) == n:
            yield _concat(pending)
            pending = []
    if pending:
        yield _concat(pending)


class _RawColumns:
    """POS, QUAL and INFO of each record as the file's text (a text VCF, plain
    or compressed), read alongside bcftools' output and handed out in the same
    blocks. Costs one more decompression and tokenisation of the file (done
    by Arrow, outside the GIL), the price of not trusting htslib's lenient
    parse of those columns."""

    def __init__(self, vcf: Path, columns: int, header_lines: int, block_size: int):
        with open(vcf, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        stream = pa.input_stream(str(vcf), compression="gzip" if gz else None)
        names = [f"c{i}" for i in range(columns)]
        self.reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=header_lines, block_size=block_size),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False, double_quote=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=["c1", "c5", "c7"],
                column_types={"c1": pa.string(), "c5": pa.string(), "c7": pa.string()},
                strings_can_be_null=False,
            ),
        )
        self.pending: list[pa.RecordBatch] = []
        self.have = 0

    def take(self, n: int) -> pa.RecordBatch:
        while self.have < n:
            try:
                b = self.reader.read_next_batch()
            except StopIteration:
                raise _RowError(self.have, "bcftools printed more records than the file's text holds") from None
            self.pending.append(b)
            self.have += b.num_rows
        both = _concat(self.pending)
        head, rest = both.slice(0, n), both.slice(n)
        self.pending = [rest] if rest.num_rows else []
        self.have -= n
        return pa.record_batch(head.columns, names=["pos", "qual", "info"])


def _compression(vcf: Path) -> str:
    """'bcf', 'bgzf', 'gzip' or 'text'."""
    with open(vcf, "rb") as fh:
        head = fh.read(18)
    if head[:3] == b"BCF":
        return "bcf"
    if head[:2] == b"\x1f\x8b":
        if head[:4] == b"\x1f\x8b\x08\x04" and head[12:14] == b"BC":
            # a BGZF file may hold BCF: bcftools tells by the decompressed magic
            with gzip.open(vcf, "rb") as fh:
                return "bcf" if fh.read(3) == b"BCF" else "bgzf"
        return "gzip"
    return "text"


def _query_header(header: VcfHeader) -> str:
    """The header bcftools is given for a text VCF: every Integer and Float
    INFO/FORMAT field (but GT) declared String, so that bcftools prints their
    values as the file writes them and the converter parses them itself
    (htslib reads ``DP=abc`` as missing, ``DP=12x`` as 12, a Float with 6
    significant digits)."""
    lines = []
    for line in header.text.splitlines():
        d = parse_definition(line)
        if d is not None and d.id:
            kind = "INFO" if line.startswith("##INFO") else "FORMAT"
            fd = (header.info if kind == "INFO" else header.format).get(d.id)
            if fd is not None:
                typ = "String" if fd.numeric or (kind == "FORMAT" and d.id == "GT") else fd.type
                line = f'##{kind}=<ID={d.id},Number={fd.number},Type={typ},Description="as written in the file">'
        lines.append(line)
    return "\n".join(lines) + "\n"


def _convert_pass(vcf, header, group, bcftools, block_size, compression, on_block, warnings=None,
                  table_schema=None) -> int:
    warnings = warnings if warnings is not None else _Warnings()
    vcf_samples = [o.vcf_sample for o in group if o.vcf_sample is not None]
    fmt, per_sample = _query_format(header, vcf_samples)
    others = [f for f in per_sample if f not in _fixed_format(header)]
    kind = _compression(vcf)
    with tempfile.TemporaryDirectory(prefix="seqflow-vcf-") as tmp:
        cmd = [bcftools, "query", "-u", "-f", fmt]
        # sample names may hold any character but tab: -s splits at commas, -S
        # at whitespace (a second word renames); all samples need neither
        printed = vcf_samples
        if vcf_samples and vcf_samples != header.samples:
            if not any("," in s for s in vcf_samples):
                cmd += ["-s", ",".join(vcf_samples)]
            elif not any(any(c.isspace() for c in s) for s in vcf_samples):
                sample_file = Path(tmp) / "samples.txt"
                sample_file.write_bytes("".join(f"{s}\n" for s in vcf_samples).encode("utf-8", "surrogateescape"))
                cmd += ["-S", str(sample_file)]
            else:  # both kinds of names: print every sample, keep the ones asked for
                printed = header.samples
                fmt, per_sample = _query_format(header, printed)
                cmd[4] = fmt
        upstream: list[list[str]] = []
        if kind == "bcf":
            cmd.append(str(vcf))
        else:
            hdr = Path(tmp) / "header.vcf"
            hdr.write_bytes(_query_header(header).encode("utf-8", "surrogateescape"))
            if kind == "gzip":  # bcftools reheader reads BGZF or text, not plain gzip
                upstream.append(["bgzip", "-dc", str(vcf)])
                upstream.append([bcftools, "reheader", "-h", str(hdr), "-"])
            else:
                upstream.append([bcftools, "reheader", "-h", str(hdr), str(vcf)])
            cmd.append("-")
        return _run_pass(vcf, header, group, cmd, upstream, vcf_samples, printed, per_sample, others, kind,
                         block_size, compression, on_block, warnings, table_schema)


def _table_writer(path: Path, table_schema: pa.Schema, compression: str) -> pq.ParquetWriter:
    from seqflow.lake.iceberg import WRITER_OPTIONS as TABLE_OPTIONS

    options = {**TABLE_OPTIONS, "compression": compression, "write_batch_size": WRITE_BATCH_SIZE}
    return pq.ParquetWriter(path, table_schema, store_schema=False, **options)


def _in_table_form(table: pa.Table, provenance: dict[str, str], table_schema: pa.Schema) -> pa.Table:
    """One sample's block in the lake table's form: constant provenance columns appended, the
    columns relabelled with the table's field ids (gt widened to the table's int)."""
    n = table.num_rows
    cols = []
    for f in table_schema:
        if f.name in provenance and provenance[f.name] is None:  # sample_name of a sites-only file
            cols.append(pa.nulls(n, f.type))
        elif f.name in provenance:
            cols.append(pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)),
                                                       pa.array([provenance[f.name]], pa.string())))
        else:
            col = table.column(f.name)
            if isinstance(col, pa.ChunkedArray):
                # one chunk (a block's table): take it as is; combining copies, and for the
                # dictionary-encoded maps unifies their dictionaries
                col = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
            cols.append(col if col.type.equals(f.type) else col.cast(f.type))
    return pa.Table.from_arrays(cols, schema=table_schema)


def _run_pass(vcf, header, group, cmd, upstream, vcf_samples, printed, per_sample, others, kind,
              block_size, compression, on_block, warnings, table_schema=None) -> int:
    names = list(SITE_COLUMNS) + [f"i_{i}" for i in header.info] + [f"s{i}_{f}" for i in range(len(printed)) for f in per_sample]
    types = {n: pa.string() for n in names}
    types.update(pos=pa.int64(), end=pa.int64(), qual=pa.float64())
    procs: list[subprocess.Popen] = []
    stdin = subprocess.DEVNULL
    for up in upstream:
        p = subprocess.Popen(up, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if stdin is not subprocess.DEVNULL:
            stdin.close()  # the child holds it now
        stdin = p.stdout
        procs.append(p)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin)
    if stdin is not subprocess.DEVNULL:
        stdin.close()
    procs.append(proc)
    watches = [_StderrWatch(p.stderr) for p in procs]
    for w in watches:
        w.start()

    def fatal() -> list[str]:
        return [line for w in watches for line in w.fatal]

    if any(o.provenance for o in group) and table_schema is None:
        raise ValueError("outputs with provenance need the table's schema (table_schema)")
    writers = [
        _table_writer(o.path, table_schema, compression) if o.provenance else
        pq.ParquetWriter(o.path, WRITE_SCHEMA, compression=compression, store_schema=False,
                         write_batch_size=WRITE_BATCH_SIZE, **WRITER_OPTIONS)
        for o in group
    ]
    pool = ThreadPoolExecutor(max_workers=WRITE_THREADS)
    pending: list[Future] = []
    records = 0
    read_size = min(block_size, READ_BLOCK_SIZE)
    raw = None
    try:
        if kind != "bcf":
            chrom_line = next(l for l in header.text.splitlines() if l.startswith("#CHROM"))
            raw = _RawColumns(vcf, len(chrom_line.split("\t")), header_line_count(vcf) or 0, read_size)
        reader = pacsv.open_csv(
            proc.stdout,
            read_options=pacsv.ReadOptions(column_names=names, block_size=read_size),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False, double_quote=False),
            convert_options=pacsv.ConvertOptions(
                column_types=types, null_values=["."], strings_can_be_null=True, quoted_strings_can_be_null=False
            ),
        )
        prefixes: list[str | None] = [f"s{printed.index(v)}_" for v in vcf_samples] or [None] * len(group)
        for batch in _grouped(reader, -(-block_size // read_size)):
            if fatal():
                break
            try:
                block = _Block(batch, header, raw.take(batch.num_rows) if raw is not None else None, warnings)
                tables = [block.table(block.sample_columns(batch, p, header, others)) for p in prefixes]
                tables = [_in_table_form(t, o.provenance, table_schema) if o.provenance else t
                          for t, o in zip(tables, group)]
            except _RowError as exc:
                if fatal():
                    break
                idx = records + exc.row
                chrom = batch.column("chrom")[exc.row].as_py() if exc.row < batch.num_rows else "?"
                pos = batch.column("pos")[exc.row].as_py() if exc.row < batch.num_rows else "?"
                line = _record_line(vcf, idx)
                raise VcfFormatError(vcf, line, f"{exc.reason} (record {chrom}:{pos})") from None
            # one block in flight: its files are written while the next block
            # is parsed, and memory stays at about two blocks
            for f in pending:
                f.result()
            pending = [pool.submit(w.write_table, t) for w, t in zip(writers, tables)]
            for out, table in zip(group, tables):
                out.rows += table.num_rows
            records += batch.num_rows
            if on_block:
                on_block(records)
    except (pa.ArrowInvalid, OSError) as exc:
        # bcftools' own message explains a bad record better than the CSV reader's
        # symptom (e.g. "Empty CSV file"), but it may still be in flight on stderr;
        # the file's own text may fail to tokenise before bcftools reaches the
        # record: let bcftools finish so that its message is the one reported
        while proc.stdout.read(1 << 20):
            pass
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        for w in watches:
            w.join(timeout=10)
        # a VCF with a header and no records (a sample with no variants) gives bcftools no
        # output at all, which the CSV reader calls empty: that is zero rows, not an error
        no_records = records == 0 and "Empty CSV file" in str(exc) and proc.returncode == 0
        if not fatal() and not no_records:
            raise VcfFormatError(vcf, _record_line(vcf, records), f"unreadable record: {exc}") from None
    finally:
        for f in pending:
            f.result()
        pool.shutdown()
        for o, w in zip(group, writers):
            if o.sample_name is not None and not o.provenance:
                w.add_key_value_metadata({"seqflow.sample_name": o.sample_name.encode("utf-8", "surrogateescape")})
            w.close()
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            if p.stdout:
                p.stdout.close()
        for w in watches:
            w.join(timeout=10)
    if fatal():
        raise _fatal_error(vcf, fatal()[0], records)
    if raw is not None:
        try:
            raw.take(1)
        except _RowError:
            pass
        else:
            raise VcfFormatError(vcf, _record_line(vcf, records), "the file holds more records than bcftools read")
    for p, w in reversed(list(zip(procs, watches))):  # the query's own failure first
        if p.returncode != 0:
            detail = w.lines[-1] if w.lines else f"{p.args[0]} exited with {p.returncode}"
            raise _fatal_error(vcf, detail, records)
    return records
