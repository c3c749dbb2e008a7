"""Where a reference FASTA comes from: a path, a ``file://`` or ``s3://`` URI, or a Debian package.

* ``/data/GRCh38.fa``, ``GRCh38.fa.gz``, ``file:///data/GRCh38.fa``: a local file,
  plain, gzip or bgzip;
* ``s3://bucket/key.fa.gz``: an object in S3 (``aws`` profile only: the local
  profile has no AWS account to read it with);
* ``deb://<package>/<path inside the package>``: a file inside a Debian package,
  fetched with ``apt-get download`` (how the demo genomes arrive); the ``.deb``
  is kept in a cache folder so a second fetch needs no network.

:func:`open_source` yields the FASTA's lines as bytes, decompressed.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

from seqflow.fsutil import require_tool

_GZIP_MAGIC = b"\x1f\x8b"


class SourceError(ValueError):
    """A FASTA source that cannot be read (bad URI, missing file, wrong profile)."""


def describe(source: str) -> str:
    """The source as recorded in the catalogue: an absolute path for local files, else the URI."""
    kind, value = _classify(source)
    return str(Path(value).resolve()) if kind == "file" else source


def _classify(source: str) -> tuple[str, str]:
    if not isinstance(source, str) or not source.strip():
        raise SourceError("no FASTA source given (a path, file://, s3:// or deb:// URI)")
    if "://" not in source:
        return "file", source
    url = urlparse(source)
    if url.scheme == "file":
        if url.netloc not in ("", "localhost"):
            raise SourceError(f"{source}: file:// URIs name a local path (file:///path/to/genome.fa)")
        return "file", unquote(url.path)
    if url.scheme == "s3":
        if not url.netloc or not url.path.strip("/"):
            raise SourceError(f"{source}: expected s3://<bucket>/<key>")
        return "s3", source
    if url.scheme == "deb":
        if not url.netloc or not url.path.strip("/"):
            raise SourceError(f"{source}: expected deb://<package>/<path inside the package>")
        return "deb", source
    raise SourceError(f"{source}: unsupported scheme {url.scheme!r}; use a path, file://, s3:// or deb://")


@contextmanager
def open_source(source: str, *, profile: str, deb_cache: Path, s3_client=None) -> Iterator[Iterator[bytes]]:
    """The FASTA lines of ``source`` (bytes, decompressed), for the active ``profile``.

    Raises :class:`SourceError` for a URI this profile cannot read, a missing
    or unreadable file, or a Debian package that cannot be fetched.
    """
    kind, value = _classify(source)
    if kind == "s3" and profile != "aws":
        raise SourceError(
            f"{source}: s3:// sources need the aws profile (SEQFLOW_PROFILE=aws); "
            "on the local profile download the file and give its path"
        )
    if kind == "file":
        path = Path(value)
        if not path.is_file():
            raise SourceError(f"{source}: no such file" if not path.exists() else f"{source}: not a regular file")
        with open(path, "rb") as raw:
            yield _lines(raw, origin=str(path))
    elif kind == "s3":
        yield from _s3_lines(source, s3_client)
    else:
        url = urlparse(value)
        deb = cached_deb(url.netloc, deb_cache)
        data = read_deb_member(deb, url.path.lstrip("/"))
        yield _lines(io.BytesIO(data), origin=source)


def _s3_lines(source: str, s3_client) -> Iterator[Iterator[bytes]]:
    import boto3

    url = urlparse(source)
    client = s3_client or boto3.client("s3")
    with tempfile.TemporaryDirectory(prefix="seqflow-reference-") as tmp:
        local = Path(tmp) / "source"
        try:
            client.download_file(url.netloc, url.path.lstrip("/"), str(local))
        except Exception as exc:  # botocore's ClientError and friends
            raise SourceError(f"{source}: cannot be downloaded: {exc}") from None
        with open(local, "rb") as raw:
            yield _lines(raw, origin=source)


def _lines(raw, *, origin: str) -> Iterator[bytes]:
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else raw.read(2)
    if not hasattr(raw, "peek"):
        raw.seek(0)
    stream = gzip.GzipFile(fileobj=raw) if head == _GZIP_MAGIC else raw
    try:
        yield from stream
    except (OSError, EOFError) as exc:  # truncated or corrupt gzip
        raise SourceError(f"{origin}: cannot be decompressed: {exc}") from None


def cached_deb(package: str, cache: Path) -> Path:
    """The package's .deb from ``cache``, downloaded with ``apt-get download`` if absent."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    apt = require_tool("apt-get")
    # apt-get download writes into its working directory; a private one keeps a
    # half-downloaded file out of the cache.
    with tempfile.TemporaryDirectory(prefix=".download-", dir=cache) as tmp:
        proc = subprocess.run([apt, "download", "-q", package], cwd=tmp, capture_output=True, text=True, check=False)
        debs = sorted(Path(tmp).glob(f"{package}_*.deb"))
        if proc.returncode != 0 or not debs:
            detail = "; ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:]) or "no output"
            raise SourceError(
                f"Debian package {package!r} could not be downloaded with 'apt-get download' "
                f"(exit {proc.returncode}): {detail}. Check the apt sources (apt-get update) "
                f"or place {package}_<version>_all.deb in {cache}"
            )
        target = cache / debs[-1].name
        os.replace(debs[-1], target)
    return target


def read_deb_member(deb: Path, member: str) -> bytes:
    """Content of one file inside a .deb (via ``dpkg-deb --fsys-tarfile``), as stored."""
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
            raise SourceError(f"{member} in {deb.name} is {kind}, expected a FASTA file")
        if rc not in (0, -13):  # -13: SIGPIPE after we stopped reading early
            raise SourceError(f"dpkg-deb could not read {deb} (exit {rc}): {stderr.strip()}")
        raise SourceError(f"{member} is missing from Debian package {deb.name}")
    return data
