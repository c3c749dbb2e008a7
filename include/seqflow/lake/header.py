"""VCF header model: samples and the declared INFO/FORMAT fields.

The header is read through ``bcftools view -h`` so that VCF, VCF.gz and BCF are
handled alike and htslib judges its validity. htslib is lenient (it "assumes
String" for an unknown type and carries on), so its warnings are escalated to
errors here and traced back to a line of the original file.
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
    """One ``##INFO`` or ``##FORMAT`` declaration."""

    id: str
    number: str  # "0".."n", "A", "R", "G" or "."
    type: str  # one of VCF_TYPES


@dataclass
class VcfHeader:
    """What the converter needs from a header."""

    samples: list[str]
    info: dict[str, FieldDef] = field(default_factory=dict)
    format: dict[str, FieldDef] = field(default_factory=dict)
    text: str = ""


def parse_definition(line: str) -> FieldDef | None:
    """Parse an ``##INFO=<...>``/``##FORMAT=<...>`` line; None for other lines."""
    m = _DEF_RE.match(line)
    if not m:
        return None
    attrs = {k: v for k, v in _KV_RE.findall(m.group(2))}
    return FieldDef(attrs.get("ID", ""), attrs.get("Number", ""), attrs.get("Type", ""))


def _definition_problem(line: str) -> str | None:
    """Why a definition line is invalid per the VCF spec, or None."""
    d = parse_definition(line)
    if d is None:
        return None
    kind = line[2 : line.index("=")]
    if not d.id:
        return f"{kind} definition has no ID"
    if d.type not in VCF_TYPES:
        return f"{kind}/{d.id} has Type={d.type or '(none)'}; expected one of {', '.join(VCF_TYPES)}"
    if not _NUMBER_RE.match(d.number):
        return f"{kind}/{d.id} has Number={d.number or '(none)'}; expected an integer, A, R, G or ."
    if d.type == "Flag" and d.number != "0":
        return f"{kind}/{d.id} is a Flag but has Number={d.number} (must be 0)"
    return None


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
                problem = _definition_problem(line.rstrip("\n"))
                if problem:
                    return n, problem
    except (EOFError, OSError) as exc:
        return None if "header" not in str(exc) else (0, str(exc))
    return None


#: htslib warnings that say the header is unusable, not merely untidy.
_HEADER_WARNINGS = ("is not supported", "no Type defined", "Could not parse", "[E::")


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
            (header.info if line.startswith("##INFO") else header.format)[d.id] = d
        elif line.startswith("#CHROM"):
            header.samples = line.split("\t")[9:]
    return header
