"""Fixtures of the demo-data tests: one real lambda reference per session, cached on disk."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from seqflow.config import REPO_ROOT
from seqflow.demo.references import ensure_demo_reference

#: this checkout's cache (as tests/e2e/real_runs.py), not a path of one machine
CACHE = Path(os.environ.get("SEQFLOW_TEST_CACHE", REPO_ROOT / ".seqflow" / "testcache"))


@pytest.fixture(scope="session")
def references_root() -> Path:
    """Cache of fetched references (and their .debs), shared by test sessions."""
    root = CACHE / "references"
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="session")
def lambda_fasta(references_root: Path) -> Path:
    return ensure_demo_reference("lambda", references_root)


@pytest.fixture(scope="session")
def lambda_run(tmp_path_factory: pytest.TempPathFactory, references_root: Path, lambda_fasta: Path):
    """A 2-sample lambda demo run at 8x, built once: (run folder, truth folder, landing)."""
    from seqflow.demo.runfolder import generate_run

    base = tmp_path_factory.mktemp("demo")
    landing, truth = base / "landing", base / "truth"
    run = generate_run(landing, truth, references_root, reference="lambda",
                       run_date=dt.date(2024, 3, 5), samples=2, coverage=8.0, seed=42)
    return run, truth / run.name, landing
