"""What the local-profile end-to-end tests set up alike: their own SEQFLOW_HOME, and tiny lambda-phage runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest


def seqflow_home(tmp_path_factory, name: str = "seqflow-home", *, schedule: str = "none") -> Iterator[Path]:
    """Body of a module-scoped ``home`` fixture: a fresh SEQFLOW_HOME, the local profile, and the ingest's
    schedule (``none``: the scans run on the test's clock only)."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp(name)
    mp.setenv("SEQFLOW_HOME", str(home))
    mp.setenv("SEQFLOW_INGEST_SCHEDULE", schedule)
    mp.setenv("SEQFLOW_PROFILE", "local")
    yield home
    mp.undo()


def lambda_run_in_raw(run_date: dt.date, *, seed: int, samples: int = 1, coverage: float = 10) -> Path:
    """A lambda run at low coverage, already in raw storage (what the ingest leaves there)."""
    from seqflow.config import local_paths
    from seqflow.demo.runfolder import generate_run
    from seqflow.transfer import transfer_runs

    paths = local_paths()
    run = generate_run(paths.landing, paths.truth, paths.references, reference="lambda", run_date=run_date,
                       samples=samples, coverage=coverage, seed=seed)
    transfer_runs(paths.landing, paths.raw, [f"/{run.name}"])
    return run
