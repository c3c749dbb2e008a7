"""Launch requests: a YAML or JSON file naming one or more runs to analyse, validated, submitted to the
analysis DAG through Airflow's REST API and followed in the registry until its analyses are over.

A launch file::

    reference: lambda            # defaults of every run below (each param of the analysis DAG)
    aligner: bwa
    caller: bcftools
    pipeline_version: 1.0.0
    priority: normal             # low, normal or high
    notify: [lab-ops@example.org]
    runs:
      - run_id: 261121_A01234_0001_AHLAMBDADX
        samples: [LAM-S01]       # empty or left out: every sample of the sheet
      - run_id: 261122_A01234_0002_AHLAMBDADX
        reference: GRCh38        # a run may override any default

The schema (:func:`launch_schema`, published as ``schemas/launch.schema.json`` in this package) is built
from :data:`seqflow.params.ANALYSIS_PARAM_SCHEMAS`, so every param rule has one owner; a file is
checked against it and each run once more by :func:`seqflow.params.validate_analysis_params`, and
every error is reported at once with its line. Each request gets an id and a registry record
(:meth:`seqflow.registry.SqliteRunRegistry.put_request`), and each run a DAG run named
``launch__<request>__<run>``.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from seqflow.params import _EXPECTED, _EXPECTED_SAMPLE, ANALYSIS_PARAM_SCHEMAS, ParamsError, validate_analysis_params

log = logging.getLogger(__name__)

#: the published schema, checked against :func:`launch_schema` by the tests
SCHEMA_FILE = Path(__file__).parent / "schemas" / "launch.schema.json"

#: the analysis DAG every run of a request is submitted to
ANALYSIS_DAG_ID = "seqflow_analysis"

PRIORITIES = ("low", "normal", "high")

#: analysis params a launch file may set for all its runs or per run (the run itself is per run only)
DEFAULTABLE = tuple(name for name in ANALYSIS_PARAM_SCHEMAS if name not in ("run_id", "samples"))

#: a notification address: an e-mail address (local alerts are log lines; on AWS, SNS e-mail subscribers)
EMAIL_PATTERN = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"

_EXPECTED_LAUNCH = {
    "priority": f"one of {', '.join(PRIORITIES)}",
    "notify": "a list of unique e-mail addresses",
    "runs": "a list of at least one run, each a mapping with a run_id",
    "name": "a short free-text name of the request (at most 200 characters)",
}

#: request statuses, in the order a request goes through them
REQUEST_FINAL = ("analysed", "partially_analysed", "failed")


def _param_schema(name: str, *, for_run: bool = False) -> dict[str, Any]:
    schema = {k: v for k, v in ANALYSIS_PARAM_SCHEMAS[name].items() if k not in ("default", "examples")}
    if name == "run_id" and for_run:
        schema["type"] = "string"  # null means "the runs of a date", which a launch request never does
    return schema


def launch_schema() -> dict[str, Any]:
    """The JSON schema of a launch file, built from the analysis params' schemas."""
    defaults = {name: _param_schema(name) for name in DEFAULTABLE}
    run = {
        "type": "object",
        "title": "Run",
        "description": "One sequencing run to analyse; any default of the request may be overridden here.",
        "required": ["run_id"],
        "additionalProperties": False,
        "properties": {"run_id": _param_schema("run_id", for_run=True), "samples": _param_schema("samples"),
                       **defaults},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://seqflow.example/schemas/launch.schema.json",
        "title": "seqflow launch request",
        "description": "Runs to analyse with the seqflow_analysis DAG (`seqflow launch FILE`).",
        "type": "object",
        "required": ["runs"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "maxLength": 200, "description": "A name for the request."},
            "priority": {"type": "string", "enum": list(PRIORITIES), "default": "normal",
                         "description": "The request's priority, recorded with it and shown by `seqflow status` (not yet "
                                        "passed to the scheduler)."},
            "notify": {"type": "array", "uniqueItems": True,
                       "items": {"type": "string", "pattern": EMAIL_PATTERN, "maxLength": 254},
                       "description": "Who to tell when the request is over."},
            "runs": {"type": "array", "minItems": 1, "items": run},
            **defaults,
        },
    }


def schema_text() -> str:
    """The published schema file's text."""
    return json.dumps(launch_schema(), indent=2) + "\n"


@dataclass(frozen=True)
class LaunchError:
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.where}: {self.message}" if self.line else f"{self.where}: {self.message}"


class LaunchFileError(ValueError):
    """A launch file with errors; :attr:`errors` lists every one, each with its line."""

    def __init__(self, source: str, errors: list[LaunchError]):
        self.source, self.errors = source, errors
        super().__init__(f"{source}: {len(errors)} error(s)\n" + "\n".join(
            f"{source}:{e.line}: {e.where}: {e.message}" if e.line else f"{source}: {e.where}: {e.message}"
            for e in errors))


@dataclass(frozen=True)
class LaunchRun:
    """One run of a request: its analysis params (the DAG run's conf)."""

    run_id: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Launch:
    """A validated launch file."""

    source: str
    runs: tuple[LaunchRun, ...]
    priority: str = "normal"
    notify: tuple[str, ...] = ()
    name: str | None = None
    document: dict[str, Any] = field(default_factory=dict)


def _load_with_lines(text: str, source: str) -> tuple[Any, dict[tuple, int], list[LaunchError]]:
    """The document, the line (1-based) of each value and mapping key by path (keys under the path
    with a trailing ``("<key>", name)``), and an error per repeated key (YAML keeps the last silently)."""
    import yaml

    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise LaunchFileError(source, [LaunchError(mark.line + 1 if mark else None, "file",
                                                   f"not valid YAML or JSON: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise LaunchFileError(source, [LaunchError(None, "file", f"not valid YAML or JSON: {exc}")]) from None
    lines: dict[tuple, int] = {}
    repeated: list[LaunchError] = []

    def walk(n, path: tuple) -> None:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                k = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
                if (*path, ("<key>", k)) in lines:
                    repeated.append(LaunchError(key.start_mark.line + 1, _where((*path, k)),
                                                f"given again (first on line {lines[(*path, ('<key>', k))]})"))
                    continue
                lines[(*path, ("<key>", k))] = key.start_mark.line + 1
                walk(value, (*path, k))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*path, i))

    if node is not None:
        walk(node, ())
    return data, lines, repeated


def _line(lines: dict[tuple, int], path: tuple) -> int | None:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path)


def _where(path: tuple) -> str:
    if not path:
        return "launch file"
    out = str(path[0])
    for p in path[1:]:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _schema_errors(data: Any, lines: dict[tuple, int]) -> list[LaunchError]:
    from jsonschema import Draft202012Validator

    errors: list[LaunchError] = []
    for error in Draft202012Validator(launch_schema()).iter_errors(data):
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
            allowed = set(error.schema.get("properties", {}))
            for key in error.instance:
                if key not in allowed:
                    errors.append(LaunchError(_line(lines, (*path, ("<key>", key))), _where((*path, key)),
                                              f"unknown field; expected one of {', '.join(sorted(allowed))}"))
            continue
        if error.validator == "required":
            errors.append(LaunchError(_line(lines, path), _where(path), error.message))
            continue
        # the params' own words for their rules; the launch file's own fields have theirs
        names = [p for p in path if isinstance(p, str)]
        name = names[-1] if names else None
        if name == "samples" and isinstance(path[-1], int):
            expected = _EXPECTED_SAMPLE
        elif name == "runs" and isinstance(path[-1], int):
            expected = "a mapping with a run_id and, optionally, samples and params"
        elif name in _EXPECTED_LAUNCH:
            expected = _EXPECTED_LAUNCH[name]
        else:
            expected = _EXPECTED.get(name) if name else None
        if name == "run_id" and expected:
            expected = expected.removesuffix(" or null")
        if error.validator == "uniqueItems":
            message = f"values must be unique, got {error.instance!r}"
        elif expected:
            message = f"{error.instance!r} is invalid, expected {expected}"
        else:
            message = error.message
        errors.append(LaunchError(_line(lines, path), _where(path), message))
    return errors


def parse_launch(text: str, source: str = "<launch file>") -> Launch:
    """Validate a launch file's text; raises :class:`LaunchFileError` with every error and its line."""
    data, lines, repeated = _load_with_lines(text, source)
    if not isinstance(data, Mapping):
        raise LaunchFileError(source, [LaunchError(_line(lines, ()), "launch file",
                                                   f"expected a mapping with a 'runs' list, got {type(data).__name__}")])
    errors = repeated + _schema_errors(data, lines)
    runs: list[LaunchRun] = []
    if not errors:
        defaults = {name: data[name] for name in DEFAULTABLE if name in data}
        seen: dict[str, int] = {}
        for i, entry in enumerate(data["runs"]):
            params = {**defaults, **entry}
            try:
                # the rules the schema cannot say (fullmatch of patterns, a run folder's date)
                validate_analysis_params(params)
            except ParamsError as exc:
                errors.append(LaunchError(_line(lines, ("runs", i)), _where(("runs", i)), str(exc)))
                continue
            key = json.dumps(params, sort_keys=True)
            if key in seen:
                errors.append(LaunchError(_line(lines, ("runs", i)), _where(("runs", i)),
                                          f"the same run and params as runs[{seen[key]}]"))
                continue
            seen[key] = i
            runs.append(LaunchRun(entry["run_id"], params))
    if errors:
        raise LaunchFileError(source, sorted(errors, key=lambda e: (e.line or 0, e.where)))
    return Launch(source=source, runs=tuple(runs), priority=data.get("priority", "normal"),
                  notify=tuple(data.get("notify", ())), name=data.get("name"), document=dict(data))


def read_launch_file(path: str | Path) -> Launch:
    """Read and validate a launch file (YAML or JSON)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LaunchFileError(str(path), [LaunchError(None, "file", f"cannot be read: {exc}")]) from None
    return parse_launch(text, str(path))


def new_request_id(now: datetime | None = None) -> str:
    """A request id: the UTC time and a random suffix, e.g. ``r20261202T001500-3fa9c1``."""
    now = now or datetime.now(timezone.utc)
    return f"r{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def dag_run_id(request_id: str, run_id: str) -> str:
    """The DAG run id of one run of a request: named after the request and the sequencing run."""
    return f"launch__{request_id}__{run_id}"


_REQUEST_ID = re.compile(r"^r\d{8}T\d{6}-[0-9a-f]{6}$")


#: the DAG run conf key that names the request and the run a DAG run belongs to (``finalise_run`` reads it)
CONF_KEY = "launch_request"


def check_request_id(request_id: str) -> str:
    if not _REQUEST_ID.match(request_id):
        raise ValueError(f"request id {request_id!r} is invalid, expected r<YYYYmmddTHHMMSS>-<6 hex digits>")
    return request_id


def planned_runs(launch: Launch, request_id: str) -> dict[str, dict[str, Any]]:
    """The DAG runs of a request, by run key (the run id, ``<run id>#<i>`` for a run given twice): the
    run's params, its DAG run id and the DAG run's conf (the params and :data:`CONF_KEY`)."""
    check_request_id(request_id)
    runs = {r.run_id if _count(launch, r.run_id) == 1 else f"{r.run_id}#{i}": r for i, r in enumerate(launch.runs)}
    planned = {}
    for i, (key, run) in enumerate(runs.items()):
        dag_run = dag_run_id(request_id, run.run_id if key == run.run_id else f"{run.run_id}-{i}")
        planned[key] = {"run_id": run.run_id, "params": run.params, "dag_run_id": dag_run,
                        "conf": {**run.params, CONF_KEY: {"request_id": request_id, "run": key}}}
    return planned


def record_requested(launch: Launch, registry, request_id: str, planned: Mapping[str, Mapping[str, Any]],
                     **details: Any):
    """The request's first record: ``requested``, with the file, its params and its runs."""
    return registry.put_request(request_id, "requested", source=launch.source, name=launch.name,
                                priority=launch.priority, notify=list(launch.notify), document=launch.document,
                                runs={key: {"run_id": r["run_id"], "params": r["params"]} for key, r in planned.items()},
                                **details)


def record_submitted(registry, request_id: str, planned: Mapping[str, Mapping[str, Any]],
                     submitted: Mapping[str, str], errors: Mapping[str, str], *, notifier=None):
    """After the triggers: ``running`` with each run's DAG run id (a run that could not be triggered is
    ``failed`` with its error), or ``failed`` if none was. A run whose analysis already ended (its
    ``finalise_run`` wrote it first) keeps what it wrote."""

    before = []

    def change(current):
        before[:] = [current.status if current else None]
        stored = dict((current.details.get("runs") if current else None) or {})
        runs = {}
        for key, r in planned.items():
            run = {**stored.get(key, {}), "run_id": r["run_id"], "params": r["params"],
                   "dag_run_id": submitted.get(key)}
            if key in errors:
                run.update(status="failed", error=errors[key])
            runs[key] = run
        if current is not None and current.status in REQUEST_FINAL:
            return current.status, {"dag_id": ANALYSIS_DAG_ID, "runs": runs}
        return _request_status(runs) if submitted else "failed", {"dag_id": ANALYSIS_DAG_ID, "runs": runs}

    record = registry.update_request(request_id, change)
    _notify_if_ended(before[0] if before else None, record, notifier)
    return record


def record_invalid(registry, request_id: str, error: LaunchFileError, **details: Any):
    """A launch file that could not be accepted: a ``failed`` request listing every error with its line."""
    return registry.put_request(request_id, "failed", source=error.source, runs={},
                                errors=[{"line": e.line, "where": e.where, "message": e.message} for e in error.errors],
                                **details)


def submit(launch: Launch, client, registry, *, request_id: str | None = None) -> dict[str, Any]:
    """Record the request (``requested``), trigger one analysis DAG run per run, record ``running`` with
    the DAG run ids (or ``failed`` if none could be triggered). Returns the request's record details."""
    request_id = check_request_id(request_id or new_request_id())
    planned = planned_runs(launch, request_id)
    record_requested(launch, registry, request_id, planned)
    submitted, errors = {}, {}
    for key, run in planned.items():
        try:
            client.trigger(ANALYSIS_DAG_ID, conf=run["conf"], dag_run_id=run["dag_run_id"])
        except Exception as exc:  # recorded in the request; the other runs go on
            errors[key] = str(exc)
            continue
        submitted[key] = run["dag_run_id"]
    return record_submitted(registry, request_id, planned, submitted, errors).__dict__


def _count(launch: Launch, run_id: str) -> int:
    return sum(1 for r in launch.runs if r.run_id == run_id)


def _request_status(runs: Mapping[str, Mapping[str, Any]]) -> str:
    """``running`` until every run is over; then ``analysed`` (all), ``failed`` (none) or partially."""
    statuses = [run.get("status") for run in runs.values()]
    if not all(s in REQUEST_FINAL for s in statuses):
        return "running"
    if all(s == "analysed" for s in statuses):
        return "analysed"
    if all(s == "failed" for s in statuses):
        return "failed"
    return "partially_analysed"


def analysis_result(analysis, key: str, *, dag_run_succeeded: bool = True, read_text=None) -> dict[str, Any]:
    """What a request records of one run once its analysis is over: the analysis record's status, its
    outputs and step logs, its cost and failed samples (``refresh`` and ``finalise_run`` alike)."""
    result: dict[str, Any] = {"analysis": key, "status": analysis.status if dag_run_succeeded
                              or analysis.status == "failed" else "failed"}
    result["outputs"], result["logs"] = _outputs(analysis, read_text)
    if analysis.details.get("cost"):  # what finalise_run recorded (seqflow.analysis.costs.cost_summary)
        result["cost"] = analysis.details["cost"]
    if analysis.details.get("failed_samples"):
        result["failed_samples"] = analysis.details["failed_samples"]
    return result


def record_run_end(registry, launch_conf: Mapping[str, Any], analysis, *, dag_run_id: str | None = None,
                   read_text=None, notifier=None):
    """Written by the analysis DAG's ``finalise_run`` when a launched run ends: the run's result
    (:func:`analysis_result`) in its request, and the request's final status once every run is over.
    ``launch_conf`` is the DAG run's :data:`CONF_KEY` conf. Returns the request record, or None when
    the request is not in the registry (nothing is written)."""
    request_id = check_request_id(str(launch_conf.get("request_id")))
    key = str(launch_conf.get("run"))
    result = analysis_result(analysis, analysis.analysis, read_text=read_text)

    def run_change(run):
        run.update(result, finished_at=analysis.updated_at)

    return _record_run(registry, request_id, key, run_change, dag_run_id=dag_run_id, notifier=notifier)


def _record_run(registry, request_id: str, key: str, run_change, *, dag_run_id: str | None, notifier):
    """One run of a request changed by ``run_change(run)`` unless it is over already; the request's status
    from its runs; the request's notice sent when this write ended it. None when the request or the run
    is not recorded (nothing is written)."""
    missing, before = [], []

    def change(current):
        before[:] = [current.status if current else None]
        if current is None or key not in (current.details.get("runs") or {}):
            missing.append(True)
            return (current.status if current else "failed"), {}
        runs = {k: dict(v) for k, v in current.details["runs"].items()}
        run = runs[key]
        if run.get("status") not in REQUEST_FINAL:
            run_change(run)
            if dag_run_id and not run.get("dag_run_id"):
                run["dag_run_id"] = dag_run_id
        status = current.status if current.status in REQUEST_FINAL else _request_status(runs)
        return status, {"runs": runs}

    if registry.get_request(request_id) is None:
        return None
    record = registry.update_request(request_id, change)
    if missing:
        return None
    _notify_if_ended(before[0] if before else None, record, notifier)
    return record


#: the tasks of a DAG run that ended it without finalise_run (their states, as Airflow names them)
FAILED_STATES = ("failed", "upstream_failed")


def record_dag_run_end(registry, launch_conf: Mapping[str, Any], task_states: Mapping[str, str | None], *,
                       params: Mapping[str, Any], plan: Mapping[str, Any] | None = None,
                       dag_run_id: str | None = None, task_order: list[str] | None = None,
                       read_text=None, notifier=None):
    """Written by the analysis DAG's last task, ``record_launch_end`` (a teardown: it runs whatever happened
    upstream and leaves the DAG run's state to the other tasks), for a DAG run of a launch request. A run
    whose ``finalise_run`` recorded it (:func:`record_run_end`) keeps that; one that ended before it (its
    ``plan`` failed, every sample failed, a step of the lake failed) is ``failed``, with the failed tasks,
    the first of them as ``failed_step`` and whatever its analysis record holds (failed samples, outputs);
    one whose ``plan`` was skipped (the identity was analysed before) takes that analysis's result.

    ``task_states``: the DAG run's task instances' states by task id (``<id>_<map index>`` for mapped
    ones: ``RuntimeTaskInstance.get_task_states``); ``plan``: the plan task's XCom, if any. Returns the
    request record, or None when the request is not recorded."""
    request_id = check_request_id(str(launch_conf.get("request_id")))
    key = str(launch_conf.get("run"))
    order = {t: i for i, t in enumerate(task_order or [])}

    def base(task: str) -> str:
        name, _, index = task.rpartition("_")
        return name if index.isdigit() and name in order else task

    failed = sorted((t for t, state in task_states.items() if state in FAILED_STATES),
                    key=lambda t: (order.get(base(t), len(order)), t))
    first = next((t for t in failed if task_states[t] == "failed"), failed[0] if failed else None)
    akey = (plan or {}).get("identity_key") if isinstance(plan, Mapping) else None
    request = validate_analysis_params(dict(params))
    if akey is None and request.reference:  # plan skipped (already analysed) or failed before its XCom
        akey = "/".join((request.pipeline_version, request.reference, request.aligner, request.caller))
    plan_state = task_states.get("plan")
    analysis = registry.get(request.run_id, akey) if akey and request.run_id and plan_state != "failed" else None
    finished = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def run_change(run):
        if plan_state == "skipped" and analysis is not None and analysis.status in REQUEST_FINAL:
            run.update(analysis_result(analysis, akey, read_text=read_text), finished_at=finished,
                       note="analysed before with this identity (plan skipped; force=true analyses it again)")
            return
        if analysis is not None:
            run.update(analysis_result(analysis, akey, dag_run_succeeded=False, read_text=read_text))
        run.update(status="failed", finished_at=finished, failed_tasks=failed)
        if first:
            run.update(failed_step=base(first), error=f"task {first} {task_states[first]} (see its log)")
        else:
            run["error"] = "the DAG run ended before finalise_run recorded the analysis"

    return _record_run(registry, request_id, key, run_change, dag_run_id=dag_run_id, notifier=notifier)


def request_notice(record) -> dict[str, Any]:
    """The message sent to a request's ``notify`` addresses when it reaches its final status: the request,
    its status, and each run's status, DAG run and where its report and outputs are."""
    runs = {}
    for key, run in (record.details.get("runs") or {}).items():
        outputs = list(run.get("outputs") or [])
        report = next((o for o in outputs if o.endswith("multiqc_report.html")), None) or next(
            (o for o in outputs if o.endswith("qc_summary.md")), None)
        manifest = next((o for o in outputs if o.endswith("manifest.json")), None)
        entry = {"run_id": run.get("run_id"), "status": run.get("status"), "dag_run_id": run.get("dag_run_id"),
                 "report": report, "manifest": manifest, "outputs": len(outputs)}
        for extra in ("failed_step", "error", "failed_samples"):
            if run.get(extra):
                entry[extra] = run[extra]
        runs[key] = entry
    return {"event": f"launch request {record.status.replace('_', ' ')}", "request_id": record.request_id,
            "name": record.details.get("name"), "status": record.status,
            "notify": list(record.details.get("notify") or []), "runs": runs}


def _notify_if_ended(before: str | None, record, notifier) -> None:
    """The request's notice, once: by the write that moved it to a final status, when it names addresses."""
    if record is None or before in REQUEST_FINAL or record.status not in REQUEST_FINAL:
        return
    if not record.details.get("notify"):
        return
    if notifier is None:
        from seqflow.alerts import notify_request_end as notifier
    try:
        notifier(request_notice(record))
    except Exception:  # noqa: BLE001 - the request is recorded; a notice that cannot be sent is logged
        log.exception("launch request %s: the notice to %s could not be sent", record.request_id,
                      record.details.get("notify"))


def needs_refresh(record) -> bool:
    """Whether ``seqflow status`` has something to ask Airflow about a request: its status, or (written
    by the runs themselves) the Airflow task log links of a run that is over."""
    if record.status not in REQUEST_FINAL:
        return True
    return any(run.get("dag_run_id") and "airflow_logs" not in run
               for run in (record.details.get("runs") or {}).values())


def _ui_task_url(base_url: str, dag_id: str, dag_run: str, ti: dict) -> str:
    url = f"{base_url.rstrip('/')}/dags/{dag_id}/runs/{dag_run}/tasks/{ti['task_id']}"
    if ti.get("map_index", -1) not in (-1, None):
        url += f"/mapped/{ti['map_index']}"
    return url


def _file_uri(path: str) -> str:
    return path if "://" in path else Path(path).resolve().as_uri()


def _outputs(record, read_text=None) -> tuple[list[str], list[str]]:
    """The output files' URIs and the step logs' URIs of an analysis record (its manifest's files: a
    local manifest, or one in S3 read with ``read_text``), and the engine's log locations it records."""
    details = record.details
    results = details.get("results_uri")
    manifest = details.get("manifest")
    outputs: list[str] = []
    logs: list[str] = []
    files: list[str] = []
    text = None
    if manifest and "://" not in manifest and Path(manifest).is_file():
        text = Path(manifest).read_text()
    elif manifest and manifest.startswith("s3://") and read_text is not None:
        try:  # the manifest in S3, read through the profile's S3 hook (finalise_run passes it)
            text = read_text(manifest)
        except Exception as exc:  # noqa: BLE001 - the named outputs below are listed instead
            log.warning("manifest %s not read: %s", manifest, exc)
    if text is not None:
        files = [f["path"] for f in json.loads(text).get("files", [])]
        outputs.append(_file_uri(manifest))
    for rel in files:
        uri = _file_uri(str(Path(results) / rel)) if results and "://" not in results else f"{results}/{rel}"
        (logs if rel.endswith(".log") else outputs).append(uri)
    if not files:  # no manifest, or one listing no files: the record's named outputs
        for key in ("qc_summary", "manifest", "multiqc_report"):
            if isinstance(details.get(key), str) and _file_uri(details[key]) not in outputs:
                outputs.append(_file_uri(details[key]))
        outputs += [_file_uri(v) for v in (details.get("vcfs") or {}).values()]
    # where the engine ran the steps (aws: finalise_run records them): Batch jobs' CloudWatch log
    # streams, HealthOmics run ids
    logs += [str(v) for v in details.get("engine_logs") or [] if str(v) not in logs]
    return outputs, logs


def refresh(request_id: str, client, registry, *, base_url: str, notifier=None) -> dict[str, Any]:
    """Bring a running request's record up to date from its DAG runs and the analysis records they wrote:
    once every DAG run is over, the request is ``analysed`` (every run analysed), ``failed`` (none) or
    ``partially_analysed``, with each run's outputs, step logs, Airflow task log URLs and cost (CPU and
    wall seconds, USD where priced, per sample: the analysis record's ``cost``). A run the analysis DAG
    recorded itself (``finalise_run``: :func:`record_run_end`) keeps its result; only its Airflow task
    log links are added, once its DAG run is over."""
    record = registry.get_request(request_id)
    if record is None:
        raise KeyError(f"no launch request {request_id}")
    if not needs_refresh(record):
        return record.__dict__
    dag_id = record.details.get("dag_id", ANALYSIS_DAG_ID)
    updates: dict[str, dict[str, Any]] = {}
    for key, run in (record.details.get("runs") or {}).items():
        dag_run = run.get("dag_run_id")
        if not dag_run or (run.get("status") in REQUEST_FINAL and "airflow_logs" in run):
            continue
        state = (client.dag_run(dag_id, dag_run) or {}).get("state")
        update: dict[str, Any] = {"dag_run_state": state}
        updates[key] = update
        if state not in ("success", "failed"):
            continue
        tis = client.task_instances(dag_id, dag_run)
        update["airflow_logs"] = [_ui_task_url(base_url, dag_id, dag_run, ti) for ti in tis]
        update["failed_tasks"] = sorted({ti["task_id"] for ti in tis if ti.get("state") in ("failed", "upstream_failed")})
        if run.get("status") in REQUEST_FINAL:
            continue  # recorded by its finalise_run
        plan = client.xcom(dag_id, dag_run, "plan") or {}
        akey = plan.get("identity_key") if isinstance(plan, Mapping) else None
        params = validate_analysis_params(run["params"])
        if akey is None and params.reference:  # plan skipped (already analysed) or failed before its XCom
            akey = "/".join((params.pipeline_version, params.reference, params.aligner, params.caller))
        analysis = registry.get(run["run_id"], akey) if akey else None
        if analysis is not None and analysis.status in ("analysed", "partially_analysed", "failed"):
            update.update(analysis_result(analysis, akey, dag_run_succeeded=state == "success"))
        else:
            update["status"] = "failed"

    def change(current):
        runs = {k: dict(v) for k, v in (current.details.get("runs") or {}).items()}
        for key, update in updates.items():
            if key not in runs:
                continue
            if runs[key].get("status") in REQUEST_FINAL:  # written meanwhile by its finalise_run: keep it
                update = {k: v for k, v in update.items() if k in ("dag_run_state", "airflow_logs", "failed_tasks")}
            runs[key].update(update)
        status = current.status if current.status in REQUEST_FINAL else _request_status(runs)
        return status, {"runs": runs}

    before = []

    def change_once(current):
        before[:] = [current.status]
        return change(current)

    updated = registry.update_request(request_id, change_once)
    _notify_if_ended(before[0] if before else None, updated, notifier)
    return updated.__dict__
