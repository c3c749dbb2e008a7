"""The DAGs and the aws profile on the versions Amazon MWAA runs: Airflow 3.0.6 and the pins of
Airflow's constraints-3.0.6 (mwaa/README.md).

The checks run in a second virtual environment, ``.venv-mwaa``, that set-up builds from the
committed lock ``mwaa/requirements-check.txt`` (``scripts/setup-mwaa-venv.sh``): every DAG
imports there under the aws profile, the aws tests pass there, and ``mwaa/requirements.txt``
resolves there with pip as MWAA resolves it. MWAA runs Python 3.12, which this machine cannot
install: the venv is Python 3.11, and the 3.12 side is a resolution of the same requirements
for Python 3.12 (binary wheels for the compiled packages).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from seqflow.config import REPO_ROOT

pytestmark = pytest.mark.xdist_group("mwaa")

VENV = REPO_ROOT / ".venv-mwaa"
PYTHON = VENV / "bin" / "python"
LOCK = REPO_ROOT / "mwaa" / "requirements-check.txt"
CONSTRAINTS = REPO_ROOT / "mwaa" / "constraints-3.0.6-python3.12.txt"
REQUIREMENTS = REPO_ROOT / "mwaa" / "requirements.txt"
CONSTRAINTS_URL = "https://raw.githubusercontent.com/apache/airflow/constraints-3.0.6/constraints-3.12.txt"

#: The aws tests, as the main suite runs them (its conftest sets the profile per test).
AWS_TESTS = ["tests/include/aws", "tests/e2e/test_aws_profile.py", "tests/e2e/test_aws_launch_uploads.py",
             "tests/dags"]
#: Tests of the aws test paths not run under the MWAA pins, each with why it does not apply there.
NOT_ON_MWAA = {
    "tests/include/aws/test_references.py::test_the_cli_registers_on_s3_and_prints_the_batch_commands":
        "the seqflow CLI runs from the project venv (Airflow 3.3), never on MWAA; on 3.0.6 Airflow's "
        "secrets masker prints a warning line to stdout ahead of the CLI's output, which the test reads",
    "tests/e2e/test_aws_profile.py::test_failed_batch_job_publishes_an_sns_alert":
        "3.0.6's dag.test (InProcessTestSupervisor) calls the failure callback without context['exception'], "
        "so the alert's error is empty; the task runner's main(), which MWAA's workers run, sets it "
        "(airflow/sdk/execution_time/task_runner.py); the alert's sample id is checked on 3.0.6 by hand, see mwaa/README.md",
}


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test environment of the main suite (tests/conftest.py), for a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SEQFLOW", "PYTEST"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__UNIT_TEST_MODE="True", SEQFLOW_HOME=str(tmp_path / "seqflow"), **extra)
    return env


def _run(args: list[str], tmp_path: Path, timeout: int, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO_ROOT, env=_env(tmp_path, **extra), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def venv():
    """.venv-mwaa, built from the current lock (set-up's stamp holds the hash of the lock and of how
    the venv is made, which the set-up script itself prints)."""
    stamp = VENV / ".seqflow-lock.sha256"
    want = subprocess.run(["bash", "scripts/setup-mwaa-venv.sh", "stamp"], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=True, timeout=60).stdout.strip()
    if not PYTHON.exists() or not stamp.exists() or stamp.read_text().strip() != want:
        pytest.fail(f"{VENV.name} is missing or older than {LOCK.relative_to(REPO_ROOT)}: run `make setup-mwaa` "
                    "(scripts/setup-mwaa-venv.sh)")
    return PYTHON


def test_the_check_venv_holds_the_mwaa_versions(venv, tmp_path):
    """Airflow 3.0.6 and the constraints' providers, libraries and botocore, on Python 3.11."""
    code = ("import importlib.metadata as m, json, sys; print(json.dumps({'python': '%d.%d' % sys.version_info[:2], "
            "**{n: m.version(n) for n in sys.argv[1:]}}))")
    names = ["apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk", "apache-airflow-providers-amazon",
             "apache-airflow-providers-common-compat", "apache-airflow-providers-standard", "botocore", "duckdb",
             "numpy", "pyarrow"]
    proc = _run([str(venv), "-c", code, *names], tmp_path, 120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout)
    constraints = _pins(CONSTRAINTS)
    assert got["python"] == "3.11"  # MWAA's 3.12 cannot be installed here (see the module docstring)
    assert (got["apache-airflow"], got["apache-airflow-core"]) == ("3.0.6", "3.0.6")
    for name in names[3:]:  # everything MWAA's constraints pin is at the constraint
        assert got[name] == constraints[name], name
    assert got["apache-airflow-providers-amazon"] == "9.12.0" and got["duckdb"] == "1.3.2"


def test_requirements_keep_the_constraints_url_and_pin_nothing_the_constraints_pin():
    text = REQUIREMENTS.read_text()
    assert f'--constraint "{CONSTRAINTS_URL}"' in text
    constraints = _pins(CONSTRAINTS)
    clashing = {name: version for name, version in _pins(REQUIREMENTS).items() if name in constraints}
    assert clashing == {}, f"pinned in mwaa/requirements.txt although the constraints pin them: {clashing}"
    # the copy is the upstream file: its header names the source and the upstream generation date
    assert "ca20a51cb3b969120fac1d7f4745d7104169a93d" in CONSTRAINTS.read_text()
    assert "automatically generated on 2025-08-23" in CONSTRAINTS.read_text()


_DAGS = """
import json, pathlib
from seqflow.compat import DagBag, DagSerialization
bag = DagBag(dag_folder="dags")
out = {"errors": {f: e[-3000:] for f, e in bag.import_errors.items()}, "dag_ids": sorted(bag.dag_ids),
       "files": sorted(p.name for p in pathlib.Path("dags").glob("*.py")), "serialized": {}}
for dag_id, dag in bag.dags.items():
    # what MWAA's DAG processor stores; a DAG that does not serialise never reaches the scheduler
    out["serialized"][dag_id] = len(DagSerialization.from_dict(DagSerialization.to_dict(dag)).task_dict)
print(json.dumps(out))
"""


def test_every_dag_imports_under_the_aws_profile(venv, tmp_path):
    """Every DAG file, the optional run-events and launch-upload DAGs included, imports and serialises on
    Airflow 3.0.6."""
    proc = _run([str(venv), "-c", _DAGS], tmp_path, 600, SEQFLOW_PROFILE="aws",
                SEQFLOW_RUN_EVENTS_QUEUE="https://sqs.eu-west-1.amazonaws.com/123456789012/seqflow-mwaa-check",
                SEQFLOW_LAUNCH_QUEUE="https://sqs.eu-west-1.amazonaws.com/123456789012/seqflow-mwaa-launch")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["errors"] == {}
    assert len(out["dag_ids"]) == len(out["files"]) >= 3, out
    assert {"seqflow_daily_ingest", "seqflow_analysis", "seqflow_run_events", "seqflow_launch_uploads"} <= set(
        out["dag_ids"])
    assert all(n > 0 for n in out["serialized"].values()) and set(out["serialized"]) == set(out["dag_ids"])


def test_the_aws_tests_pass_on_the_mwaa_pins(venv, tmp_path):
    """tests/include/aws, the aws end-to-end test and tests/dags, in .venv-mwaa. Two workers: the
    tests mostly wait (moto, polls, Airflow start-up), and the e2e group alone takes minutes."""
    junit = tmp_path / "junit.xml"
    args = [str(venv), "-m", "pytest", *AWS_TESTS, "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup",
            f"--junitxml={junit}",
            f"--basetemp={tmp_path / 'pytest'}", *(f"--deselect={test}" for test in NOT_ON_MWAA)]
    proc = _run(args, tmp_path, 1500)
    tail = (proc.stdout[-6000:] + proc.stderr[-2000:])
    assert junit.exists(), tail
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    # each failure with the end of its traceback (where it failed, not only the exception's message)
    failed = [f"{case.get('classname')}::{case.get('name')}: {(problem.get('message') or '')[:300]}\n"
              f"{(problem.text or '')[-2500:]}"
              for case in suite.iter("testcase") for problem in case if problem.tag in ("failure", "error")]
    assert proc.returncode == 0, "\n".join(failed) or tail  # 5 (no tests) fails too
    ran = int(suite.get("tests")) - int(suite.get("skipped"))
    assert int(suite.get("failures")) == int(suite.get("errors")) == 0, tail
    assert ran >= 180, f"only {ran} aws tests ran under the MWAA pins:\n{tail}"


def test_mwaa_requirements_resolve_with_pip_as_on_mwaa(venv, tmp_path):
    """MWAA runs ``pip3 install -r requirements.txt`` in its image, where Airflow 3.0.6 is installed;
    in .venv-mwaa (the constraints URL pointed at the committed copy) that resolves and has nothing
    left to install: the venv the aws tests ran in is what MWAA installs."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(REQUIREMENTS.read_text().replace(CONSTRAINTS_URL, str(CONSTRAINTS)))
    report = tmp_path / "report.json"
    proc = _run([str(venv), "-m", "pip", "install", "--dry-run", "--disable-pip-version-check", "--quiet",
                 "--report", str(report), "apache-airflow==3.0.6", "-r", str(requirements)], tmp_path, 600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    would_install = {i["metadata"]["name"]: i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}
    assert would_install == {}


def test_mwaa_requirements_resolve_for_python_3_12(tmp_path):
    """The same requirements for MWAA's Python 3.12 on x86_64 Linux, with wheels (no build on the
    workers) for the compiled packages: the versions are those of the check venv."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(REQUIREMENTS.read_text().replace(CONSTRAINTS_URL, str(CONSTRAINTS)))
    source = tmp_path / "mwaa-3.12.in"
    source.write_text(f"apache-airflow==3.0.6\n-r {requirements}\n")
    out = tmp_path / "mwaa-3.12.txt"
    binary = [arg for name in ("duckdb", "numpy", "pyarrow", "pysam") for arg in ("--only-binary", name)]
    proc = subprocess.run([sys.executable, "-m", "uv", "pip", "compile", str(source), "--python-version", "3.12",
                           "--python-platform", "x86_64-manylinux_2_28", *binary, "--no-header", "-q", "-o", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    resolved, locked = _pins(out), _pins(LOCK)
    for name in ("apache-airflow", "apache-airflow-providers-amazon", "apache-airflow-providers-common-compat",
                 "boto3", "duckdb", "numpy", "pyarrow", "pysam", "sqlglot"):
        assert resolved[name] == locked[name], name
