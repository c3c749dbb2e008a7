"""Reading, checking and normalising a reference FASTA, streamed (a human genome is 3 GB).

A registered reference is stored normalised: one record per contig, names
simplified to a safe alphabet, sequence upper-cased in 60-column lines. IUPAC
ambiguity codes are kept (GRCh38 has a few), so the MD5 of each stored
sequence is the MD5 of the upper-cased source sequence, which is what SAM's
``@SQ M5`` and refget use: a result can name exactly the sequences it came from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

FASTA_LINE_WIDTH = 60

#: IUPAC nucleotide codes (upper case) a reference sequence may hold
SEQUENCE_ALPHABET = frozenset("ACGTNRYKMSWBDHV")

_NCBI_DB_TAGS = {"ref", "gb", "emb", "dbj", "tpg", "lcl"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_SEQUENCE_RE = re.compile(rb"[ACGTNRYKMSWBDHVacgtnrykmswbdhv]*")


class FastaError(ValueError):
    """A FASTA that cannot be a reference: names the file, the line and the rule."""

    def __init__(self, origin: str, line: int | None, rule: str, detail: str = ""):
        self.origin, self.line, self.rule = origin, line, rule
        where = f"{origin}, line {line}" if line else origin
        super().__init__(f"{where}: {rule}" + (f": {detail}" if detail else ""))


@dataclass(frozen=True)
class Contig:
    """One sequence of a reference: its name, length and MD5 (upper-cased sequence)."""

    name: str
    length: int
    md5: str


def simplify_contig_name(header: str) -> str:
    """Turn a FASTA header into a short contig name safe for VCF, file names and tools.

    Keeps the first word; an NCBI ``gi|…|ref|NC_001416.1|`` identifier becomes its
    accession (``NC_001416.1``); any character outside ``[A-Za-z0-9._-]`` becomes ``_``.
    """
    words = header.lstrip(">").split()
    if not words:
        raise ValueError("FASTA header without a name")
    word = words[0]
    if "|" in word:
        parts = word.split("|")
        chosen = ""
        for i, part in enumerate(parts[:-1]):
            if part.lower() in _NCBI_DB_TAGS and parts[i + 1]:
                chosen = parts[i + 1]
                break
        word = chosen or next((p for p in reversed(parts) if p), word)
    name = _UNSAFE.sub("_", word)
    if not name or name.startswith((".", "-")):
        name = f"contig_{name.lstrip('.-')}" if name.strip(".-") else "contig"
    return name


class _ContigWriter:
    """Writes one contig's sequence in fixed-width lines while hashing it."""

    def __init__(self, out: IO[bytes], name: str):
        self.out, self.name = out, name
        self.md5 = hashlib.md5()
        self.length = 0
        self._pending = b""
        out.write(b">" + name.encode("ascii") + b"\n")

    def add(self, chunk: bytes) -> None:
        chunk = chunk.upper()
        self.md5.update(chunk)
        self.length += len(chunk)
        data = self._pending + chunk
        full = len(data) - len(data) % FASTA_LINE_WIDTH
        for i in range(0, full, FASTA_LINE_WIDTH):
            self.out.write(data[i:i + FASTA_LINE_WIDTH] + b"\n")
        self._pending = data[full:]

    def close(self) -> Contig:
        if self._pending:
            self.out.write(self._pending + b"\n")
        return Contig(self.name, self.length, self.md5.hexdigest())


def normalise_fasta(lines: Iterable[bytes], out: IO[bytes], *, origin: str) -> list[Contig]:
    """Check ``lines`` (a FASTA, as bytes) and write it normalised to ``out``; return its contigs.

    Raises :class:`FastaError` for: no FASTA record, sequence before the first
    header, a header without a name, characters that are not IUPAC nucleotide
    codes (the message names the first), a contig without sequence, and two
    records with the same (simplified) name.
    """
    contigs: list[Contig] = []
    seen: dict[str, int] = {}
    current: _ContigWriter | None = None
    header_line = 0
    lineno = 0

    def finish() -> None:
        if current is None:
            return
        contig = current.close()
        if contig.length == 0:
            raise FastaError(origin, header_line, "empty contig", f"record {contig.name!r} has no sequence")
        contigs.append(contig)

    for lineno, raw in enumerate(lines, start=1):
        line = raw.rstrip(b"\r\n").strip()
        if not line:
            continue
        if line.startswith(b">"):
            finish()
            try:
                text = line[1:].decode("utf-8")
            except UnicodeDecodeError:
                raise FastaError(origin, lineno, "header is not text", repr(line[:60])) from None
            try:
                name = simplify_contig_name(text)
            except ValueError:
                raise FastaError(origin, lineno, "header without a name") from None
            if name in seen:
                raise FastaError(
                    origin, lineno, "duplicate contig",
                    f"{name!r} is already the name of the record on line {seen[name]}",
                )
            seen[name] = lineno
            header_line = lineno
            current = _ContigWriter(out, name)
            continue
        if current is None:
            if lineno == 1 and not line.startswith(b";"):
                raise FastaError(origin, lineno, "not a FASTA file", "it does not start with a '>' header line")
            raise FastaError(origin, lineno, "sequence before the first FASTA header")
        if _SEQUENCE_RE.fullmatch(line) is None:
            bad = next(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in line
                       if chr(b).upper() not in SEQUENCE_ALPHABET)
            raise FastaError(
                origin, lineno, "invalid sequence character",
                f"{bad!r} in record {current.name!r}; a reference holds IUPAC nucleotide codes "
                f"({''.join(sorted(SEQUENCE_ALPHABET))}) only",
            )
        current.add(line)
    finish()
    if not contigs:
        raise FastaError(origin, None, "no FASTA record", "the file is empty or holds no '>' header")
    return contigs
