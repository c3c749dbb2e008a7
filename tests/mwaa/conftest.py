"""The MWAA check runs first: it is one long test (the aws tests in .venv-mwaa, minutes) that holds
one xdist worker, so started first it overlaps the rest of the suite instead of trailing it."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(session, config, items):
    mine = [item for item in items if _HERE in Path(str(item.path)).resolve().parents]
    if mine:
        others = [item for item in items if item not in mine]
        items[:] = mine + others
