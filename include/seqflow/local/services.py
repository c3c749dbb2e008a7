"""Run a real Airflow 3 locally: api-server, scheduler, dag-processor and triggerer.

This is what ``airflow standalone`` does, made controllable: the four services
run as child processes with SQLite as the metadata database and the
LocalExecutor, under ``SEQFLOW_HOME/airflow``; their logs go to
``SEQFLOW_HOME/airflow/services/<name>.log``. Used by ``make demo``, ``make up``,
the end-to-end tests and the overhead benchmark.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from seqflow.config import REPO_ROOT, local_paths

log = logging.getLogger(__name__)

SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _secret(path: Path) -> str:
    """A per-installation secret shared by all services (the JWTs tasks use)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip()


def airflow_env(port: int, *, parallelism: int = 4) -> dict[str, str]:
    """Environment of every Airflow process of the local profile."""
    paths = local_paths()
    home = paths.airflow_home
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "SEQFLOW_HOME": str(paths.home),
        "SEQFLOW_PROFILE": "local",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(home / ".jwt_secret"),
        "AIRFLOW__API__SECRET_KEY": _secret(home / ".api_secret"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "60",  # re-parsing costs CPU the tools need
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
    }
    return env


def _airflow(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    exe = str(Path(sys.executable).parent / "airflow")
    return subprocess.run([exe, *args], env=env, check=check, capture_output=True, text=True)


def init_db(env: dict[str, str]) -> None:
    """Create or migrate the metadata DB and the pools the DAGs use (idempotent)."""
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    proc = _airflow(env, "db", "migrate", check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{proc.stderr[-3000:]}")
    # one DataSync task execution at a time (the local transfer honours the same rule)
    _airflow(env, "pools", "set", "datasync", "1", "One transfer (DataSync task execution) at a time")


@dataclass
class AirflowServices:
    """Handles of the running services."""

    port: int
    env: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def log_dir(self) -> Path:
        return Path(self.env["AIRFLOW_HOME"]) / "services"

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        exe = str(Path(sys.executable).parent / "airflow")
        for name in SERVICES:
            args = [exe, name] + (["--port", str(self.port)] if name == "api-server" else [])
            out = open(self.log_dir / f"{name}.log", "ab")
            self.processes[name] = subprocess.Popen(
                args, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            out.close()

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-30:]
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}:\n" + "\n".join(tail))

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextmanager
def running_airflow(port: int | None = None, *, dag_ids: tuple[str, ...] = (), timeout: float = 180) -> Iterator["AirflowServices"]:
    """Start the services, wait until the API answers and ``dag_ids`` are parsed; stop them on exit."""
    from seqflow.local.client import AirflowClient

    port = port or free_port()
    env = airflow_env(port)
    init_db(env)
    services = AirflowServices(port, env)
    services.start()
    try:
        client = AirflowClient(services.url)
        deadline = time.monotonic() + timeout
        pending = list(dag_ids)
        while True:
            services.check_alive()
            if client.healthy():
                pending = [d for d in pending if not client.dag_loaded(d)]
                if not pending:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"Airflow not ready after {timeout:.0f} s (waiting for {pending or 'the API'}); "
                    f"see the logs in {services.log_dir}"
                )
            time.sleep(1)
        yield services
    finally:
        services.stop()
