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

import re
import subprocess
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from seqflow.lake.header import FieldDef, VcfFormatError, VcfHeader, header_line_count, open_text
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

_AT_RE = re.compile(r"\bat ([^\s:]+):(\d+)")


@dataclass
class SampleOutput:
    """Where one sample's rows go."""

    vcf_sample: str | None  # column in the VCF; None for a sites-only file
    path: Path  # Parquet file to write
    rows: int = 0


@dataclass
class ConversionStats:
    """What a conversion read and wrote."""

    records: int
    outputs: list[SampleOutput]


def _query_format(header: VcfHeader, samples: list[str]) -> tuple[str, list[str]]:
    """bcftools query format string and the names of the per-sample columns.

    Each declared INFO field gets its own column (``%INFO/ID``): the map is
    then assembled from columns, with no ``k=v;...`` text to re-parse. Tags
    used but not declared are fatal (see :func:`_is_fatal`), so nothing is lost.
    """
    others = [f for f in header.format if f not in _FIXED_FORMAT]
    # a promoted FORMAT field the header does not declare is all null (and
    # using it undeclared is fatal): no need to have bcftools print its dots
    fixed = [f for f in _FIXED_FORMAT if f == "GT" or f in header.format]
    per_sample = fixed + others
    site = _SITE_FORMAT + "".join(f"\t%INFO/{i}" for i in header.info)
    if not samples:
        return site + "\n", []
    block = "".join(f"\t%{f}" for f in per_sample)
    return f"{site}[{block}]\n", per_sample


def _map_info_ids(header: VcfHeader) -> list[str]:
    """INFO fields that go into the ``info`` map: all declared ones except those
    promoted to a typed column (a promoted ID declared as a Flag has no typed
    column and so stays in the map)."""
    return [
        i for i, d in header.info.items() if i not in PROMOTED_INFO or d.type == "Flag"
    ]


def _null_dots(values: pa.Array) -> pa.Array:
    """'.' (VCF missing) -> null, for elements of a split list."""
    return pc.if_else(pc.equal(values, "."), pa.scalar(None, pa.string()), values)


class _RowError(Exception):
    """A value in block row ``row`` disagrees with the header."""

    def __init__(self, row: int, reason: str):
        super().__init__(reason)
        self.row = row
        self.reason = reason


def _first_bad(values: pa.Array, typ: pa.DataType) -> int:
    """Index of the first string that does not parse as ``typ`` (error path only)."""
    conv: Callable[[str], object] = float if pa.types.is_floating(typ) else int
    for i, v in enumerate(values.to_pylist()):
        if v is None:
            continue
        try:
            conv(v)
        except ValueError:
            return i
    return 0


def _cast(values: pa.Array, typ: pa.DataType, what: str, parents: np.ndarray | None = None) -> pa.Array:
    """Cast strings to ``typ``, raising a _RowError naming the first bad value."""
    try:
        return pc.cast(values, typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        i = _first_bad(values, typ)
        row = int(parents[i]) if parents is not None else i
        kind = "an Integer" if pa.types.is_integer(typ) else "a Float"
        raise _RowError(row, f"{what} value {values[i].as_py()!r} is not {kind}") from None


def _typed_list(strings: pa.Array, typ: pa.DataType, what: str) -> pa.ListArray:
    """'1,.,3' -> [1, null, 3]; a lone '.' was already made null by the CSV reader."""
    parts = pc.split_pattern(strings, ",")
    flat = _null_dots(parts.values)
    parents = pc.list_parent_indices(parts).to_numpy()
    values = _cast(flat, typ, what, parents)
    return pa.ListArray.from_arrays(parts.offsets, values, type=pa.list_(typ), mask=strings.is_null())


def _typed(strings: pa.Array, typ: pa.DataType, is_list: bool, what: str) -> pa.Array:
    if is_list:
        return _typed_list(strings, typ, what)
    return _cast(strings, typ, what)


def _expected_lengths(number: str, n_alt: np.ndarray, ploidy: np.ndarray | None) -> np.ndarray | None:
    """Values a Number=A/R/G/n field must have per row (None: any count)."""
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
    values: pa.Array, d: FieldDef, n_alt: np.ndarray, ploidy: np.ndarray | None, what: str
) -> None:
    """Raise a _RowError when a list's length disagrees with the header's Number."""
    expected = _expected_lengths(d.number, n_alt, ploidy)
    if expected is None:
        return
    present = values.is_valid().to_numpy(zero_copy_only=False)
    lengths = pc.fill_null(pc.list_value_length(values), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    bad = present & (expected >= 0) & (lengths != expected)
    if bad.any():
        row = int(np.argmax(bad))
        raise _RowError(
            row,
            f"{what} has {lengths[row]} value(s) but the header declares Number={d.number} "
            f"(expected {expected[row]})",
        )


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


class _Block:
    """The columns of one block of records, shared by all samples."""

    def __init__(self, batch: pa.RecordBatch, header: VcfHeader):
        n = batch.num_rows
        self.n = n
        col = batch.column
        pos = col("pos")
        alt_raw = col("alt")
        alt = pc.split_pattern(alt_raw, ",")
        # ALT '.' means "no alternate allele": an empty list, not a missing one
        alt = pc.if_else(alt_raw.is_null(), pa.scalar([], pa.list_(pa.string())), alt)
        self.n_alt = pc.list_value_length(alt).to_numpy(zero_copy_only=False).astype(np.int64)
        info_ids = _map_info_ids(header)
        info = _stacked_map([col(f"i_{i}") for i in info_ids], info_ids, n, True)
        self.columns: dict[str, pa.Array] = {
            "contig": col("chrom"),
            "pos": pos,
            "start": pc.subtract(pos, 1),
            "end": col("end"),
            "ids": pc.split_pattern(col("id"), ";"),
            "ref": col("ref"),
            "alt": alt,
            "qual": col("qual"),
            "filters": pc.split_pattern(col("filter"), ";"),
            "info": info,
        }
        for vcf_id, (name, typ, is_list) in PROMOTED_INFO.items():
            d = header.info.get(vcf_id)
            if d is None or d.type == "Flag":
                self.columns[name] = pa.nulls(n, pa.list_(typ) if is_list else typ)
                continue
            raw = col(f"i_{vcf_id}")
            if is_list:
                arr = _typed_list(raw, typ, f"INFO/{vcf_id}")
                _check_number(arr, d, self.n_alt, None, f"INFO/{vcf_id}")
            else:
                if d.number not in ("1", "."):
                    raise _RowError(0, f"INFO/{vcf_id} is declared Number={d.number}; seqflow expects one value")
                arr = _cast(raw, typ, f"INFO/{vcf_id}")
            self.columns[name] = arr

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
        ploidy = np.diff(starts).astype(np.int64)[idx]
        bad = max_allele[idx] > self.n_alt
        if bad.any():
            row = int(np.argmax(bad))
            word = values[starts[idx[row]] : starts[idx[row] + 1]]
            allele = int(word[np.argmax(word > self.n_alt[row])])
            raise _RowError(row, f"FORMAT/GT allele {allele} exceeds the {self.n_alt[row]} ALT allele(s)")
        take = pa.array(idx)
        out["gt"] = gt_words.take(take)
        # haploid calls have no separator and so are never phased
        phased = pc.and_(pc.match_substring(words, "|"), pc.invert(pc.match_substring(words, "/")))
        out["gt_phased"] = phased.take(take)
        for vcf_id, (name, typ, is_list) in PROMOTED_FORMAT.items():
            d = header.format.get(vcf_id)
            if d is None:
                out[name] = pa.nulls(n, pa.list_(typ) if is_list else typ)
                continue
            arr = _typed(col(vcf_id), typ, is_list, f"FORMAT/{vcf_id}")
            if is_list:
                _check_number(arr, d, self.n_alt, ploidy, f"FORMAT/{vcf_id}")
            out[name] = arr
        out["format"] = _stacked_map([col(f) for f in others], others, n, False)
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
) -> ConversionStats:
    """Convert ``vcf`` into one Parquet file per entry of ``outputs``.

    The files hold the variant columns only: the analysis identity and the
    sample are partition values in the files' path, not per-row data.
    Runs one pass per :data:`MAX_SAMPLES_PER_PASS` samples. Raises
    :class:`VcfFormatError` (naming file and line) on malformed input; the
    caller discards what was written.
    """
    records = 0
    passes = [outputs[i : i + MAX_SAMPLES_PER_PASS] for i in range(0, len(outputs), MAX_SAMPLES_PER_PASS)]
    for group in passes or [[]]:
        records = _convert_pass(vcf, header, group, bcftools, block_size, compression, on_block)
    return ConversionStats(records=records, outputs=outputs)


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
            yield pa.concat_batches(pending)
            pending = []
    if pending:
        yield pa.concat_batches(pending)


def _convert_pass(vcf, header, group, bcftools, block_size, compression, on_block) -> int:
    vcf_samples = [o.vcf_sample for o in group if o.vcf_sample is not None]
    fmt, per_sample = _query_format(header, vcf_samples)
    others = [f for f in per_sample if f not in _FIXED_FORMAT]
    cmd = [bcftools, "query", "-u", "-f", fmt]
    if vcf_samples:
        cmd += ["-s", ",".join(vcf_samples)]
    cmd.append(str(vcf))
    names = list(SITE_COLUMNS) + [f"i_{i}" for i in header.info] + [f"s{i}_{f}" for i in range(len(vcf_samples)) for f in per_sample]
    types = {n: pa.string() for n in names}
    types.update(pos=pa.int64(), end=pa.int64(), qual=pa.float64())
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    watch = _StderrWatch(proc.stderr)
    watch.start()
    writers = [pq.ParquetWriter(o.path, WRITE_SCHEMA, compression=compression, store_schema=False, **WRITER_OPTIONS) for o in group]
    pool = ThreadPoolExecutor(max_workers=WRITE_THREADS)
    pending: list[Future] = []
    records = 0
    try:
        read_size = min(block_size, READ_BLOCK_SIZE)
        reader = pacsv.open_csv(
            proc.stdout,
            read_options=pacsv.ReadOptions(column_names=names, block_size=read_size),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False, double_quote=False),
            convert_options=pacsv.ConvertOptions(
                column_types=types, null_values=["."], strings_can_be_null=True, quoted_strings_can_be_null=False
            ),
        )
        prefixes: list[str | None] = [f"s{i}_" for i in range(len(vcf_samples))] or [None] * len(group)
        for batch in _grouped(reader, -(-block_size // read_size)):
            if watch.fatal:
                break
            try:
                block = _Block(batch, header)
                tables = [block.table(block.sample_columns(batch, p, header, others)) for p in prefixes]
            except _RowError as exc:
                if watch.fatal:
                    break
                idx = records + exc.row
                chrom = batch.column("chrom")[exc.row].as_py()
                pos = batch.column("pos")[exc.row].as_py()
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
    except pa.ArrowInvalid as exc:
        # bcftools' own message explains a bad record better than the CSV reader's
        # symptom (e.g. "Empty CSV file"), but it may still be in flight on stderr
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        watch.join(timeout=10)
        # a VCF with a header and no records (a sample with no variants) gives bcftools no
        # output at all, which the CSV reader calls empty: that is zero rows, not an error
        no_records = records == 0 and "Empty CSV file" in str(exc) and proc.returncode == 0
        if not watch.fatal and not no_records:
            raise VcfFormatError(vcf, _record_line(vcf, records), f"unreadable record: {exc}") from None
    finally:
        for f in pending:
            f.result()
        pool.shutdown()
        for w in writers:
            w.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        watch.join(timeout=10)
    if watch.fatal:
        raise _fatal_error(vcf, watch.fatal[0], records)
    if proc.returncode != 0:
        detail = watch.lines[-1] if watch.lines else f"bcftools exited with {proc.returncode}"
        raise _fatal_error(vcf, detail, records)
    return records
