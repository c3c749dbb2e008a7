"""Build the converter Glue job's slim package: a zip of exactly the seqflow modules it imports.

The Glue job must not install the ``seqflow`` distribution (it depends on
Airflow, the Amazon provider, pysam and duckdb: a dry run resolved 164
packages at every job start and replaced Glue's own boto3). Instead:

* ``--extra-py-files``: a zip of the modules :mod:`seqflow.glue.job` imports,
  found by reading their ``import`` statements (also those inside functions),
  from ``seqflow.glue.job`` down, and the view files of ``sql/views/``
  (:data:`DATA_DIRS`, run on Athena by :mod:`seqflow.glue.views`); nothing
  else of the package. The zip is
  reproducible (sorted entries, fixed times and modes), so its SHA-256 names
  its content: Terraform uploads it under a key with that digest.
* ``--additional-python-modules``: :func:`requirements`, the pins of the
  third-party distributions those modules import (pyiceberg, pyarrow, numpy)
  and of pyiceberg's own dependencies, at the versions of the project lock
  (``requirements.txt``), except boto3 and its dependencies, which Glue 5.0
  provides (and which pip must not replace).

``python -m seqflow.glue.package --out dist/glue/seqflow-glue.zip`` writes the
zip and ``<zip>.json`` (its digest, the files and their digests, the pins).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # include/seqflow
SOURCE_ROOT = PACKAGE_ROOT.parent  # include/
REPO = SOURCE_ROOT.parent
LOCK = REPO / "requirements.txt"
ENTRY = "seqflow.glue.job"
DEFAULT_OUT = REPO / "dist" / "glue" / "seqflow-glue.zip"

#: data files shipped beside the modules (folders under include/seqflow, their ``*.sql``): the lake's
#: views, which the job creates on Athena (seqflow.glue.views)
DATA_DIRS = ("sql/views",)
#: third-party distributions the job's modules import, by import name
IMPORTED_DISTRIBUTIONS = {"pyiceberg": "pyiceberg", "pyarrow": "pyarrow", "numpy": "numpy", "boto3": "boto3"}
#: provided by Glue 5.0 (boto3 and what it needs): never pinned, so pip leaves Glue's own in place
PROVIDED_BY_GLUE = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"})
#: where the job runs: Glue 5.0 is Python 3.11 on Amazon Linux 2023 (x86_64)
GLUE_MARKER_ENV = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux",
                   "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
                   "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
#: a zip entry's fixed time (the zip format's epoch) and mode
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_MODE = 0o644 << 16


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    base = SOURCE_ROOT.joinpath(*parts)
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imports(path: Path, module: str) -> tuple[set[str], set[str]]:
    """(seqflow modules, top-level third-party names) a module's import statements name, anywhere in it."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    ours, theirs = set(), set()

    def add(name: str) -> None:
        (ours if name == "seqflow" or name.startswith("seqflow.") else theirs).add(name)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            add(target)
            if target.startswith("seqflow"):
                for alias in node.names:  # `from seqflow.lake import iceberg` imports a module
                    if _module_file(f"{target}.{alias.name}") is not None:
                        ours.add(f"{target}.{alias.name}")
    return ours, {n.split(".")[0] for n in theirs}


def module_closure(entry: str = ENTRY) -> tuple[list[str], set[str]]:
    """The seqflow modules ``entry`` needs (with their parent packages), and the third-party names they import."""
    todo, seen, third = [entry], set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            raise ImportError(f"{name}: no module under {SOURCE_ROOT}")
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        ours, theirs = _imports(path, name)
        todo += sorted(ours - seen)
        third |= theirs
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    return sorted(seen), {t for t in third if t not in stdlib}


def module_paths(entry: str = ENTRY) -> list[str]:
    """Paths inside the zip (``seqflow/lake/iceberg.py``, …), sorted."""
    return sorted(_module_file(m).relative_to(SOURCE_ROOT).as_posix() for m in module_closure(entry)[0])


def data_paths() -> list[str]:
    """Paths inside the zip of the data files (``seqflow/sql/views/variants_latest.sql``, …), sorted."""
    return sorted(p.relative_to(SOURCE_ROOT).as_posix() for d in DATA_DIRS for p in (PACKAGE_ROOT / d).glob("*.sql"))


def lock_pins(lock: Path = LOCK) -> dict[str, str]:
    """Normalised distribution name -> pinned version, from the lock."""
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", lock.read_text(), re.M)
    return {_norm(name): version for name, version in pins}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(entry: str = ENTRY, lock: Path = LOCK) -> list[str]:
    """``name==version`` pins for ``--additional-python-modules``: what the job's modules import and
    everything that needs (core requirements, no extras, markers of Glue 5.0), minus Glue's boto3."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    _, third = module_closure(entry)
    unknown = third - set(IMPORTED_DISTRIBUTIONS)
    if unknown:
        raise RuntimeError(f"the Glue job's modules import {sorted(unknown)}: add them to IMPORTED_DISTRIBUTIONS")
    pins = lock_pins(lock)
    todo = [IMPORTED_DISTRIBUTIONS[t] for t in sorted(third)]
    wanted: set[str] = set()
    while todo:
        dist = _norm(todo.pop())
        if dist in wanted or dist in PROVIDED_BY_GLUE:
            continue
        wanted.add(dist)
        for text in requires(dist) or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(GLUE_MARKER_ENV):
                todo.append(req.name)
    missing = sorted(d for d in wanted if d not in pins)
    if missing:
        raise RuntimeError(f"not pinned in {lock.name}: {missing}")
    return [f"{d}=={pins[d]}" for d in sorted(wanted)]


def build(out: Path = DEFAULT_OUT, entry: str = ENTRY) -> dict:
    """Write the zip and ``<zip>.json``; returns the latter's content."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = {}
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for rel in sorted(module_paths(entry) + data_paths()):
            data = (SOURCE_ROOT / rel).read_bytes()
            info = zipfile.ZipInfo(rel, date_time=ZIP_TIME)
            info.external_attr = ZIP_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
            files[rel] = hashlib.sha256(data).hexdigest()
    tmp.replace(out)
    manifest = {"zip": out.name, "sha256": hashlib.sha256(out.read_bytes()).hexdigest(), "entry": entry,
                "files": files, "requirements": requirements(entry)}
    out.with_name(out.name + ".json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seqflow.glue.package", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"zip to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    manifest = build(args.out)
    print(f"{args.out} sha256 {manifest['sha256']}: {len(manifest['files'])} modules")
    print("--additional-python-modules " + ",".join(manifest["requirements"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
