"""Small file-system helpers shared across the package (atomic writes, checksums, locks)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path


def fsync_path(path: Path) -> None:
    """Flush a file or directory to stable storage."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` (children before parents)."""
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            fsync_path(Path(dirpath) / name)
        fsync_path(Path(dirpath))


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def default_file_mode() -> int:
    """Mode a new file gets under the current umask (``mkstemp`` would use 0600)."""
    return 0o666 & ~_umask()


def default_dir_mode() -> int:
    """Mode a new folder gets under the current umask (``mkdtemp`` would use 0700)."""
    return 0o777 & ~_umask()


def make_temp_file(path: Path) -> Path:
    """Create an empty hidden temporary file beside ``path`` with the usual permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, default_file_mode())
    os.close(fd)
    return Path(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    tmp = make_temp_file(path)
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing).

    Parallel Airflow tasks may ask for the same reference or run at once; the
    lock makes the second one wait and then find the finished result.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def require_tool(name: str) -> str:
    """Return the absolute path of an executable, or fail naming the Debian package."""
    found = shutil.which(name)
    if found is None:
        packages = {"wgsim": "samtools", "samtools": "samtools", "bcftools": "bcftools",
                    "apt-get": "apt", "dpkg-deb": "dpkg", "bgzip": "tabix", "tabix": "tabix"}
        hint = f" (Debian package {packages[name]!r}; see scripts/setup-system.sh)" if name in packages else ""
        raise RuntimeError(f"required tool {name!r} is not on PATH{hint}")
    return found


def run_tool(argv: Sequence[str | os.PathLike[str]], *, cwd: Path | None = None,
             what: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command (argument list, never a shell string); raise with its stderr on failure."""
    args = [os.fspath(a) for a in argv]
    args[0] = require_tool(args[0])
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        tail = "; ".join(detail[-5:]) if detail else "no output"
        label = what or Path(args[0]).name
        raise RuntimeError(f"{label} failed (exit {proc.returncode}): {tail}")
    return proc
