"""Small real reference genomes for the demo, taken from Debian data packages.

A reference is fetched once into ``<dest_root>/<name>/<name>.fa`` (plain, not
bgzipped, 60 columns, upper case, contig names simplified) with its
``samtools faidx`` index beside it. The Debian package is downloaded with
``apt-get download`` into ``<dest_root>/_debs`` and kept there as a cache, so a
second fetch (or a fetch of another genome from the same package) needs no
network. Every output is written to a temporary name and renamed into place;
the ``.fai`` is renamed last and is what marks a reference as complete.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from seqflow.fsutil import file_lock, fsync_path, make_temp_file, require_tool, run_tool

log = logging.getLogger(__name__)

FASTA_LINE_WIDTH = 60


@dataclass(frozen=True)
class ReferenceSource:
    """Where a demo reference comes from."""

    name: str
    description: str
    package: str
    #: path of the gzipped FASTA inside the package (no leading ``./``)
    member: str
    #: prefix of demo sample IDs on this genome (``EC`` -> ``EC-S01``)
    sample_prefix: str


REFERENCES: dict[str, ReferenceSource] = {
    "lambda": ReferenceSource(
        name="lambda",
        description="Enterobacteria phage lambda, complete genome (NC_001416.1, 48.5 kb)",
        package="bowtie2-examples",
        member="usr/share/doc/bowtie2/examples/reference/lambda_virus.fa.gz",
        sample_prefix="LAM",
    ),
    "ecoli_k12_mg1655": ReferenceSource(
        name="ecoli_k12_mg1655",
        description="Escherichia coli K-12 substr. MG1655, complete chromosome (4.6 Mb)",
        package="ragout-examples",
        member="usr/share/doc/ragout/examples/E.Coli/references/MG1655-K12.fasta.gz",
        sample_prefix="EC",
    ),
}

_NCBI_DB_TAGS = {"ref", "gb", "emb", "dbj", "tpg", "lcl"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def reference_path(name: str, dest_root: Path) -> Path:
    """Path the FASTA of reference ``name`` has (or will have) under ``dest_root``."""
    _source(name)
    return Path(dest_root) / name / f"{name}.fa"


def fetch_reference(name: str, dest_root: Path) -> Path:
    """Return ``<dest_root>/<name>/<name>.fa`` (with ``.fai``), fetching it if needed.

    Idempotent and safe to call from parallel processes: when the FASTA and its
    index are present nothing is downloaded or rewritten.

    Raises:
        ValueError: ``name`` is not a known reference.
        RuntimeError: the Debian package cannot be downloaded, or does not hold
            the expected file, or a tool fails.
    """
    source = _source(name)
    dest_root = Path(dest_root)
    fasta = reference_path(name, dest_root)
    fai = fasta.with_name(fasta.name + ".fai")
    if fasta.is_file() and fai.is_file():
        return fasta
    with file_lock(dest_root / f".{name}.lock"):
        if fasta.is_file() and fai.is_file():  # another process finished it meanwhile
            return fasta
        deb = _cached_deb(source.package, dest_root / "_debs")
        fasta.parent.mkdir(parents=True, exist_ok=True)
        log.info("extracting %s from %s", source.member, deb.name)
        raw = _read_member(deb, source.member)
        tmp_fa = make_temp_file(fasta)
        try:
            with open(tmp_fa, "w", encoding="ascii", newline="\n") as out:
                count = _write_normalised_fasta(_parse_fasta(raw, origin=f"{deb.name}:{source.member}"), out)
                out.flush()
                os.fsync(out.fileno())
            run_tool(["samtools", "faidx", tmp_fa], what=f"samtools faidx {tmp_fa.name}")
            os.replace(tmp_fa, fasta)
            # the .fai marks completion, so it is the last thing to appear
            os.replace(tmp_fa.with_name(tmp_fa.name + ".fai"), fai)
            fsync_path(fasta.parent)
        finally:
            for leftover in (tmp_fa, tmp_fa.with_name(tmp_fa.name + ".fai")):
                leftover.unlink(missing_ok=True)
        log.info("reference %s ready: %s (%d contig(s))", name, fasta, count)
    return fasta


def contig_lengths(fasta: Path) -> dict[str, int]:
    """Contig names and lengths from the ``.fai`` beside ``fasta``, in file order."""
    fai = Path(f"{fasta}.fai")
    lengths: dict[str, int] = {}
    with open(fai, encoding="ascii") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            lengths[fields[0]] = int(fields[1])
    return lengths


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


def reference_source(name: str) -> ReferenceSource:
    """The registry entry of ``name``; ValueError naming the known ones if unknown."""
    return _source(name)


def _source(name: str) -> ReferenceSource:
    try:
        return REFERENCES[name]
    except KeyError:
        known = ", ".join(sorted(REFERENCES))
        raise ValueError(f"unknown demo reference {name!r}; known references: {known}") from None


def _cached_deb(package: str, cache: Path) -> Path:
    """The package's .deb from the cache, downloaded with ``apt-get download`` if absent."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    log.info("downloading Debian package %s into %s", package, cache)
    require_tool("apt-get")
    # apt-get download writes into its working directory; a private one keeps a
    # half-downloaded file out of the cache.
    with tempfile.TemporaryDirectory(prefix=".download-", dir=cache) as tmp:
        proc = subprocess.run(
            [require_tool("apt-get"), "download", "-q", package],
            cwd=tmp, capture_output=True, text=True, check=False,
        )
        debs = sorted(Path(tmp).glob(f"{package}_*.deb"))
        if proc.returncode != 0 or not debs:
            detail = "; ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:]) or "no output"
            raise RuntimeError(
                f"Debian package {package!r} could not be downloaded with 'apt-get download' "
                f"(exit {proc.returncode}): {detail}. Check the apt sources (apt-get update) "
                f"or place {package}_<version>_all.deb in {cache}"
            )
        target = cache / debs[-1].name
        os.replace(debs[-1], target)
    return target


def _read_member(deb: Path, member: str) -> bytes:
    """Decompressed content of one gzipped file inside a .deb (via ``dpkg-deb --fsys-tarfile``)."""
    wanted = member.lstrip("./")
    proc = subprocess.Popen(
        [require_tool("dpkg-deb"), "--fsys-tarfile", os.fspath(deb)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    data: bytes | None = None
    kind = None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for info in tar:
                if info.name.lstrip("./") != wanted:
                    continue
                if not info.isfile():
                    kind = "a link" if info.issym() or info.islnk() else "not a regular file"
                    break
                extracted = tar.extractfile(info)
                assert extracted is not None
                data = extracted.read()
                break
    finally:
        proc.stdout.close()
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        rc = proc.wait()
    if data is None:
        if kind:
            raise RuntimeError(f"{member} in {deb.name} is {kind}, expected a gzipped FASTA")
        if rc not in (0, -13):  # -13: SIGPIPE after we stopped reading early
            raise RuntimeError(f"dpkg-deb could not read {deb} (exit {rc}): {stderr.strip()}")
        raise RuntimeError(f"{member} is missing from Debian package {deb.name}")
    if member.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise RuntimeError(f"{member} in {deb.name} is not valid gzip: {exc}") from exc
    return data


def _parse_fasta(raw: bytes, *, origin: str) -> Iterator[tuple[str, str]]:
    """Yield ``(header, sequence)`` pairs from FASTA bytes."""
    header: str | None = None
    chunks: list[str] = []
    for lineno, line in enumerate(raw.decode("ascii", errors="replace").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(">"):
            if header is not None:
                yield header, "".join(chunks)
            header, chunks = line[1:], []
        elif header is None:
            raise RuntimeError(f"{origin}: line {lineno}: sequence before the first FASTA header")
        else:
            chunks.append(line)
    if header is None:
        raise RuntimeError(f"{origin}: no FASTA record found")
    yield header, "".join(chunks)


_NON_ACGTN = re.compile(r"[^ACGTN]")


def _write_normalised_fasta(records: Iterable[tuple[str, str]], out) -> int:
    """Write records with simple names, upper case, IUPAC codes as N; return the count."""
    seen: set[str] = set()
    count = 0
    for header, seq in records:
        name = simplify_contig_name(header)
        if name in seen:
            raise RuntimeError(f"two FASTA records simplify to the same contig name {name!r}")
        if not seq:
            raise RuntimeError(f"FASTA record {name!r} has no sequence")
        seen.add(name)
        seq = _NON_ACGTN.sub("N", seq.upper())
        out.write(f">{name}\n")
        for i in range(0, len(seq), FASTA_LINE_WIDTH):
            out.write(seq[i:i + FASTA_LINE_WIDTH])
            out.write("\n")
        count += 1
    return count
