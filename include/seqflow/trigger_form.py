"""The trigger form's refusals in plain words: an ASGI middleware on Airflow's API server.

When a trigger's conf breaks a param's schema, Airflow's API answers ``400`` with
``Invalid input for param run_id: 'x' does not match '^(?=.{1,128}$)…' … Failed validating
'pattern' in schema: {…}``: the first bad param only, as a JSON-schema dump, and the trigger form
shows that text as it is. Airflow's form has no way to put a server's message at a field (the
only error it shows at a field is its own "This field is required"), so this middleware, a
plugin's ``fastapi_root_middlewares`` entry (``plugins/seqflow_links.py``; Airflow 3.0+),
rewrites that answer instead: for a DAG whose params seqflow knows (:data:`FORM_PARAMS`) the
``detail`` becomes every refused value at once, each led by its field's title and saying what it
must be, in :func:`seqflow.params.refusals`' words (the same rule the field's help text shows);
for any other DAG, the dump is cut to its first line. Nothing else changes: the status stays 400,
every other request and response passes through untouched.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

#: the REST API's trigger route (the form posts to it too)
TRIGGER_PATH = re.compile(r"/api/v2/dags/(?P<dag_id>[^/]+)/dagRuns/?")
#: how Airflow's refusal of a param starts (airflow.serialization.definitions.param)
REFUSAL = "Invalid input for param "
#: the largest request body read to re-validate (a trigger's conf is a few hundred bytes)
MAX_BODY = 1 << 20


def _analysis_params():
    from seqflow.config import profile
    from seqflow.params import analysis_params

    return analysis_params(profile())


#: DAG id -> its Params, for the DAGs whose refusals are worded by seqflow.params.refusals
FORM_PARAMS: dict[str, Callable[[], Mapping[str, Any]]] = {"seqflow_analysis": _analysis_params}


def plain_detail(dag_id: str, detail: str, conf: Any) -> str:
    """The refusal the person at the form reads, for Airflow's ``detail`` of a refused trigger."""
    if not detail.startswith(REFUSAL):
        return detail
    if dag_id in FORM_PARAMS and isinstance(conf, Mapping):
        from seqflow.params import refusals

        try:
            messages = refusals(FORM_PARAMS[dag_id](), conf)
        except Exception:  # a bug here must not hide Airflow's own answer
            log.exception("could not word the refusal of a %s trigger", dag_id)
            messages = []
        if messages:
            return "Not triggered: " + "; ".join(messages) + "."
    # another DAG (or a rule seqflow does not word): the dump's first line, without the schema
    return detail.split("\n", 1)[0].rstrip()


class ParamRefusals:
    """ASGI middleware: words the API server's 400 refusals of trigger params (:func:`plain_detail`)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        match = TRIGGER_PATH.fullmatch(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        body, messages = b"", []
        while True:  # read the request (to re-validate its conf), then replay it to the app
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body") or len(body) > MAX_BODY:
                break
        replay = iter(messages)

        async def replayed():
            return next(replay, None) or await receive()

        start: dict | None = None
        held: list[bytes] = []

        async def watched(message):
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] == 400:
                start = message  # hold a 400 until its body says whether it is a param refusal
                return
            if start is None:
                await send(message)
                return
            held.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await self._send_reworded(start, b"".join(held), match["dag_id"], body, send)

        await self.app(scope, replayed, watched)

    @staticmethod
    async def _send_reworded(start: dict, payload: bytes, dag_id: str, request: bytes, send) -> None:
        try:
            answer = json.loads(payload)
            detail = answer.get("detail") if isinstance(answer, dict) else None
            if isinstance(detail, str) and detail.startswith(REFUSAL):
                conf = (json.loads(request or b"{}") or {}).get("conf") or {}
                answer["detail"] = plain_detail(dag_id, detail, conf)
                payload = json.dumps(answer).encode()
        except (ValueError, AttributeError):
            pass  # not JSON: pass Airflow's answer on as it is
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
