"""The lake's views on Athena: created by the converter job after its commits, from ``sql/views/``.

The views of ``include/seqflow/sql/views/`` (``variants_latest``,
``qc_metrics_latest``) are what the local DuckDB catalog creates over the
tables; on AWS the same files are run on Athena (engine v3) as they are
written, each a ``CREATE OR REPLACE VIEW`` (idempotent: running it again
replaces the view with the same text), so the view text has one owner. The
converter job runs them after every run's commits: the tables exist from the
first commit on (the job creates them, and Athena refuses a view over a
missing table), and a deployment whose view text changed gets it at its next
run. The slim package ships the ``.sql`` files beside the modules
(:data:`seqflow.glue.package.DATA_DIRS`), read here through
``importlib.resources`` (from the zip on Glue, from the source tree locally).

Full-line ``--`` comments are dropped before a statement is sent (Athena tells
a statement's kind by its first word); nothing else of the text changes. The
statements are checked to parse as Athena and Trino SQL with sqlglot and to
read only the lake's tables in ``tests/include/glue/test_glue_views.py``
(sqlglot is not on Glue). Imports: the standard library (and boto3's client,
passed in).
"""

from __future__ import annotations

import logging
import time
from importlib import resources

log = logging.getLogger("seqflow.glue")

#: where the views live, relative to the ``seqflow`` package (``include/seqflow/sql/views``)
VIEWS_DIR = ("sql", "views")
#: final states of an Athena query execution
DONE = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


def _folder():
    folder = resources.files("seqflow")
    for part in VIEWS_DIR:
        folder = folder.joinpath(part)
    return folder


def view_statements() -> list[tuple[str, str]]:
    """``(view, statement)`` for each ``sql/views/<view>.sql``, sorted by name, comment lines dropped."""
    out = []
    for entry in sorted(_folder().iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        lines = [line for line in entry.read_text().splitlines() if not line.lstrip().startswith("--")]
        text = "\n".join(lines).strip().rstrip(";").strip()
        name = entry.name[: -len(".sql")]
        if not text.upper().startswith(f"CREATE OR REPLACE VIEW {name.upper()} "):
            raise ValueError(f"sql/views/{entry.name} is not a CREATE OR REPLACE VIEW {name}")
        out.append((name, text))
    if not out:
        raise FileNotFoundError(f"no view files in seqflow/{'/'.join(VIEWS_DIR)}")
    return out


def create_views(athena, database: str, workgroup: str, *, poll_s: float = 1.0, timeout_s: float = 300.0
                 ) -> dict[str, str]:
    """Run each view's ``CREATE OR REPLACE VIEW`` on Athena, one after the other, in ``database`` and
    ``workgroup`` (whose enforced configuration says where results go); wait for each and raise with
    Athena's reason when one does not succeed. Returns view -> query execution id."""
    ids = {}
    for name, statement in view_statements():
        query_id = athena.start_query_execution(QueryString=statement, QueryExecutionContext={"Database": database},
                                                WorkGroup=workgroup)["QueryExecutionId"]
        deadline = time.monotonic() + timeout_s
        while True:
            status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
            if status["State"] in DONE:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"Athena query {query_id} (view {database}.{name}) still {status['State']} "
                                   f"after {timeout_s:.0f} s")
            time.sleep(poll_s)
        if status["State"] != "SUCCEEDED":
            raise RuntimeError(f"Athena could not create the view {database}.{name} (query {query_id}: "
                               f"{status['State']}, {status.get('StateChangeReason', 'no reason given')})")
        log.info("view %s.%s created or replaced (Athena query %s)", database, name, query_id)
        ids[name] = query_id
    return ids
