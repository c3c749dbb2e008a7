"""Shared helpers of the Terraform tests: parse .tf files with python-hcl2.

A plain module (not conftest.py) so that its name is unique on sys.path.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import hcl2
from hcl2.utils import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
MODULES = TERRAFORM / "modules"
ENVS = TERRAFORM / "envs"
STACK = TERRAFORM / "stack"

# plain Python values: no comment keys, no block markers, strings unquoted
_OPTIONS = SerializationOptions(
    with_comments=False, explicit_blocks=False, strip_string_quotes=True, preserve_heredocs=False
)


@lru_cache(maxsize=None)
def parse(path: Path) -> dict:
    """Parsed content of one .tf/.tfvars file."""
    with open(path, encoding="utf-8") as handle:
        return hcl2.load(handle, serialization_options=_OPTIONS)


def tf_files() -> list[Path]:
    """Every Terraform file of the tree."""
    return sorted(TERRAFORM.rglob("*.tf"))


def module_dirs() -> list[Path]:
    """Every module, the composition and every environment."""
    return sorted(p for p in MODULES.iterdir() if p.is_dir()) + [STACK]


def blocks(directory: Path, kind: str) -> dict[str, dict]:
    """Blocks of one kind in a directory: variable/output name -> body."""
    found: dict[str, dict] = {}
    for path in sorted(directory.glob("*.tf")):
        for item in parse(path).get(kind, []):
            found.update(item)
    return found


def resources(directory: Path) -> dict[tuple[str, str], dict]:
    """(resource type, name) -> body for every resource in a directory."""
    found: dict[tuple[str, str], dict] = {}
    for path in sorted(directory.glob("*.tf")):
        for item in parse(path).get("resource", []):
            for rtype, named in item.items():
                for name, body in named.items():
                    found[(rtype, name)] = body
    return found


def locals_of(directory: Path) -> dict:
    """Merged locals of a directory."""
    merged: dict = {}
    for path in sorted(directory.glob("*.tf")):
        for item in parse(path).get("locals", []):
            merged.update(item)
    return merged

