"""seqflow's pages in the Airflow UI: the MultiQC report of an analysis DAG run.

The API server mounts :func:`create_app` (a plugin's ``fastapi_apps``, see
``plugins/seqflow_links.py``) under :data:`URL_PREFIX`, and the plugin's
:data:`MULTIQC_VIEW` adds a "MultiQC report" tab to every DAG run page
(Airflow 3.1+ external views), which shows
``/seqflow/dags/<dag>/runs/<run>/multiqc`` in the page.

The route finds the report through the DAG run's ``finalise_run`` result
(its XCom, which names ``multiqc_report``): locally it serves the file from the
results folder; on AWS it redirects to a presigned S3 URL of the object (the
API server's role needs ``s3:GetObject`` on the results bucket and decrypt on
its KMS key). The caller needs read access to the DAG's runs, checked by
Airflow's auth manager as for the REST API (the UI's session cookie does).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

URL_PREFIX = "/seqflow"
#: the task whose XCom names the report, and the key in it
REPORT_TASK = "finalise_run"
REPORT_KEY = "multiqc_report"
#: lifetime of a presigned S3 URL of a report (aws)
PRESIGNED_S3_SECONDS = 3600

MULTIQC_VIEW: dict[str, Any] = {
    "name": "MultiQC report",
    "href": URL_PREFIX + "/dags/{DAG_ID}/runs/{RUN_ID}/multiqc",
    "destination": "dag_run",
    "url_route": "multiqc",
}


def _page(title: str, text: str, status_code: int):
    from fastapi.responses import HTMLResponse

    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body style='font-family: sans-serif; margin: 2em'><h2>{html.escape(title)}</h2>"
            f"<p>{html.escape(text)}</p></body></html>")
    return HTMLResponse(body, status_code=status_code)


def finalise_result(session, dag_id: str, run_id: str) -> dict | None:
    """The ``finalise_run`` task's return value of a DAG run, or None when it has none (yet)."""
    from airflow.models.xcom import XComModel

    row = session.scalars(XComModel.get_many(run_id=run_id, key="return_value", dag_ids=dag_id,
                                             task_ids=REPORT_TASK, map_indexes=-1)).first()
    value = XComModel.deserialize_value(row) if row is not None else None
    return value if isinstance(value, dict) else None


def local_report(uri: str) -> Path:
    """The report file of a local analysis; refuses a path outside the results folder."""
    from seqflow.analysis.multiqc import REPORT_NAME
    from seqflow.config import local_paths

    results = local_paths().results.resolve()
    path = Path(uri).resolve()
    if path.name != REPORT_NAME or not path.is_relative_to(results):
        raise PermissionError(f"{uri} is not a MultiQC report under the results folder {results}")
    return path


def presigned_report_url(uri: str, *, hook=None) -> str:
    """A presigned GET URL of a report in S3 that the browser shows as HTML."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri}")
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    if hook is None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook()
    return hook.generate_presigned_url(
        client_method="get_object",
        params={"Bucket": bucket, "Key": key, "ResponseContentType": "text/html; charset=utf-8"},
        expires_in=PRESIGNED_S3_SECONDS,
    )


def create_app():
    """The FastAPI app the API server mounts under :data:`URL_PREFIX`."""
    from fastapi import Depends, FastAPI
    from fastapi.responses import FileResponse, RedirectResponse

    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag
    from airflow.models import DagRun

    app = FastAPI(title="seqflow", description="seqflow's pages in the Airflow UI")

    @app.get("/dags/{dag_id}/runs/{run_id}/multiqc",
             dependencies=[Depends(requires_access_dag(method="GET", access_entity=DagAccessEntity.RUN))])
    def multiqc_report(dag_id: str, run_id: str):
        """The MultiQC report of an analysis DAG run (its ``finalise_run`` names it)."""
        # a session of our own: this module's postponed annotations hide Airflow's SessionDep from FastAPI
        from airflow.utils.session import create_session

        from seqflow.config import profile

        with create_session() as session:
            dag_run = session.query(DagRun).filter(DagRun.dag_id == dag_id, DagRun.run_id == run_id).one_or_none()
            state = dag_run.state if dag_run is not None else None
            result = finalise_result(session, dag_id, run_id) if dag_run is not None else None
        if dag_run is None:
            return _page("No such DAG run", f"{dag_id} has no DAG run {run_id}.", 404)
        if result is None:
            if dag_id != "seqflow_analysis":
                why = ("MultiQC reports belong to seqflow_analysis DAG runs (one per sequencing run); "
                       f"{dag_id} has none. Open the analysis runs this DAG run started.")
            else:
                why = (f"This DAG run ({state}) has no result of {REPORT_TASK} yet: the report is "
                       "written when the run's analysis finishes (not at all when plan skipped the run "
                       "as already analysed).")
            return _page("No MultiQC report", why, 404)
        uri = result.get(REPORT_KEY)
        if not uri:
            why = result.get("multiqc_error") or "finalise_run recorded no report."
            return _page("No MultiQC report", f"MultiQC did not write a report for this run: {why}", 404)
        if profile() == "aws":
            return RedirectResponse(presigned_report_url(uri), status_code=307)
        try:
            path = local_report(uri)
        except PermissionError as exc:
            log.error("refused to serve %s: %s", uri, exc)
            return _page("Report refused", str(exc), 403)
        if not path.is_file():
            return _page("MultiQC report gone", f"{path} is no longer there (results removed?).", 404)
        return FileResponse(path, media_type="text/html")

    return app
