"""VCF header model: samples and the declared INFO/FORMAT fields.

The header is read through ``bcftools view -h`` so that VCF, VCF.gz and BCF are
handled alike and htslib judges its validity. Where htslib reads a definition
leniently (no ``Type``, an unknown ``Type``, no ``Number``, a Flag with a
``Number``), the definition is read the way htslib reads it and a warning is
kept in :attr:`VcfHeader.warnings`: every file that bcftools reads converts,
and its values are typed as htslib types them.
"""

from __future__ import annotations

import gzip
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

#: VCF value types, as declared by ``Type=`` (VCF 4.3 §1.4.2).
VCF_TYPES = ("Integer", "Float", "Flag", "String", "Character")

_DEF_RE = re.compile(r"^##(INFO|FORMAT)=<(.*)>\s*$")
_KV_RE = re.compile(r'([A-Za-z_]+)=("(?:[^"\\]|\\.)*"|[^,]*)')
_NUMBER_RE = re.compile(r"^(?:[0-9]+|[ARG.])$")


class VcfFormatError(ValueError):
    """A VCF that cannot be converted; the message names the file and line."""

    def __init__(self, path: str | Path, line: int | None, reason: str):
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line else f"{self.path}"
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class FieldDef:
    """One ``##INFO`` or ``##FORMAT`` declaration, as htslib reads it."""

    id: str
    number: str  # "0".."n", "A", "R", "G" or "."
    type: str  # one of VCF_TYPES

    @property
    def numeric(self) -> bool:
        """Integer or Float: values the converter parses from the file's text itself."""
        return self.type in ("Integer", "Float")


@dataclass
class VcfHeader:
    """What the converter needs from a header."""

    samples: list[str]
    info: dict[str, FieldDef] = field(default_factory=dict)
    format: dict[str, FieldDef] = field(default_factory=dict)
    text: str = ""
    #: Definitions htslib reads leniently, one message each (see :func:`normalise`).
    warnings: list[str] = field(default_factory=list)


def parse_definition(line: str) -> FieldDef | None:
    """Parse an ``##INFO=<...>``/``##FORMAT=<...>`` line; None for other lines."""
    m = _DEF_RE.match(line)
    if not m:
        return None
    attrs = {k: v for k, v in _KV_RE.findall(m.group(2))}
    return FieldDef(attrs.get("ID", ""), attrs.get("Number", ""), attrs.get("Type", ""))


def normalise(kind: str, d: FieldDef) -> tuple[FieldDef, list[str]]:
    """A definition as htslib 1.16 reads it (``bcf_hdr_register_hrec``), and a
    warning for each liberty taken: no or an unknown ``Type`` is String, no or
    an unparseable ``Number`` is ``.``, a Flag's ``Number`` is 0."""
    warnings = []
    typ, number = d.type, d.number
    if typ not in VCF_TYPES:
        what = "has no Type" if not typ else f"has Type={typ}, which is not a VCF type"
        warnings.append(f"{kind}/{d.id} {what}: read as String, as htslib does")
        typ = "String"
    if typ == "Character":
        typ = "String"  # htslib stores Character as String
    if typ == "Flag":
        if number != "0":
            warnings.append(f"{kind}/{d.id} is a Flag with Number={number or '(none)'}: read as Number=0, as htslib does")
        number = "0"
    elif not _NUMBER_RE.match(number):
        what = "has no Number" if not number else f"has Number={number}"
        warnings.append(f"{kind}/{d.id} {what}: read as Number=., as htslib does")
        number = "."
    return FieldDef(d.id, number, typ), warnings


def open_text(path: str | Path):
    """Open a VCF or VCF.gz as text (for locating lines in error messages)."""
    p = Path(path)
    with open(p, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(p, "rt", errors="replace")
    if magic[:3] == b"BCF":
        return None
    return open(p, "rt", errors="replace")


def header_line_count(path: str | Path) -> int | None:
    """Number of header lines of a text VCF (None for BCF)."""
    fh = open_text(path)
    if fh is None:
        return None
    n = 0
    try:
        with fh:
            for line in fh:
                if not line.startswith("#"):
                    break
                n += 1
    except (EOFError, OSError):
        pass
    return n


def locate_header_problem(path: str | Path) -> tuple[int, str] | None:
    """First invalid header line of a text VCF as (line number, reason)."""
    fh = open_text(path)
    if fh is None:
        return None
    try:
        with fh:
            for n, line in enumerate(fh, start=1):
                if not line.startswith("#"):
                    return None
                if n == 1 and not line.startswith("##fileformat=VCF"):
                    return n, "first line is not ##fileformat=VCFv4.x"
                if line.startswith("#CHROM"):
                    cols = line.rstrip("\n").split("\t")
                    fixed = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
                    if cols[:8] != fixed or (len(cols) > 8 and cols[8] != "FORMAT"):
                        return n, "the #CHROM line does not have the 8 fixed columns (+FORMAT)"
                    continue
    except (EOFError, OSError) as exc:
        return None if "header" not in str(exc) else (0, str(exc))
    return None


#: htslib messages that say the header is unusable, not merely untidy (the
#: lenient definitions htslib reads with a warning are read the same way here,
#: see :func:`normalise`).
_HEADER_WARNINGS = ("Could not parse", "[E::")


def read_header(path: str | Path, *, bcftools: str = "bcftools") -> VcfHeader:
    """Read and validate the header of a VCF/VCF.gz/BCF.

    Raises :class:`VcfFormatError` naming the file and the offending line when
    htslib cannot read the header or a definition breaks the VCF spec.
    """
    path = Path(path)
    if not path.is_file():
        raise VcfFormatError(path, None, "no such file")
    proc = subprocess.run(
        [bcftools, "view", "-h", "--no-version", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    located = locate_header_problem(path)
    if located:
        raise VcfFormatError(path, located[0] or None, f"bad header: {located[1]}")
    bad = [l for l in proc.stderr.splitlines() if any(w in l for w in _HEADER_WARNINGS)]
    if proc.returncode != 0 or bad or "#CHROM" not in proc.stdout:
        detail = (bad or proc.stderr.strip().splitlines() or ["no #CHROM line"])[-1]
        raise VcfFormatError(path, 1, f"bad header: {detail}")
    header = VcfHeader(samples=[], text=proc.stdout)
    for line in proc.stdout.splitlines():
        d = parse_definition(line)
        if d is not None:
            if not d.id:  # htslib drops a definition without an ID (with a warning)
                header.warnings.append(f"a header definition has no ID and is ignored, as htslib does: {line}")
                continue
            kind = "INFO" if line.startswith("##INFO") else "FORMAT"
            d, warnings = normalise(kind, d)
            header.warnings += warnings
            (header.info if kind == "INFO" else header.format)[d.id] = d
        elif line.startswith("#CHROM"):
            header.samples = line.split("\t")[9:]
    return header
