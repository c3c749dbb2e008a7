"""Run a real Airflow 3 locally: api-server, scheduler, dag-processor and triggerer.

This is what ``airflow standalone`` does, made controllable: the services run
as child processes with SQLite as the metadata database and the LocalExecutor,
under ``SEQFLOW_HOME/airflow``; their logs go to
``SEQFLOW_HOME/airflow/services/<name>.log``. Used by ``make demo``, ``make up``,
the end-to-end tests and the overhead benchmark.

Private by default: the API server and the two log servers listen on
127.0.0.1 only, unless ``SEQFLOW_BIND_HOST`` names another address. The simple
auth manager makes every user an admin only while the services are bound to
loopback; bound elsewhere, it has one ``admin`` user whose generated password
is in ``$SEQFLOW_HOME/airflow/simple_auth_manager_passwords.json.generated``
(mode 0600). Every port but the API's is chosen free per start, so two
instances (with two ``SEQFLOW_HOME``) run side by side. SIGTERM and SIGHUP stop
the services as Ctrl-C does, and stopping ends every process the services
started, not just the four leaders.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from seqflow.config import REPO_ROOT, local_paths

log = logging.getLogger(__name__)

#: The environment variable that moves the services off loopback (e.g. ``0.0.0.0``).
BIND_HOST_ENV = "SEQFLOW_BIND_HOST"
DEFAULT_BIND_HOST = "127.0.0.1"

#: Airflow's own log servers (started by the scheduler and the triggerer) always
#: listen on every interface, so they are started with ``--skip-serve-logs`` and
#: the same log server app runs here, on the bind host, as two more services.
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer", "worker-log-server", "trigger-log-server")

#: Seconds the services get to exit after SIGTERM before they are killed.
STOP_GRACE_S = 20.0

#: The simple auth manager's one user when the services are not bound to loopback.
ADMIN_USER = "admin"

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


class ServicesStopped(SystemExit):
    """Raised in the main thread by SIGTERM or SIGHUP while the services run.

    A ``SystemExit`` (exit status 128 + the signal number, as a shell reports a
    process ended by that signal), so the ``with running_airflow()`` block
    unwinds and stops the services, as ``KeyboardInterrupt`` does for Ctrl-C.
    """

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


def bind_host() -> str:
    """The address the services listen on: ``$SEQFLOW_BIND_HOST``, else 127.0.0.1."""
    return os.environ.get(BIND_HOST_ENV, "").strip() or DEFAULT_BIND_HOST


def is_loopback(host: str) -> bool:
    """True when ``host`` (an address or a name) reaches this machine's loopback only."""
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def _connect_host(host: str) -> str:
    """The address a client on this machine uses to reach a server bound to ``host``."""
    host = host.strip().strip("[]")
    return _WILDCARDS.get(host, host)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def free_port(host: str = DEFAULT_BIND_HOST) -> int:
    """A TCP port free on ``host`` now (the kernel's choice, so two callers rarely get the same)."""
    host = host.strip().strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def service_hostname() -> str:
    """Airflow's ``hostname_callable`` for the local services.

    The API server fetches the log of a running task from ``http://<task
    hostname>:<log server port>``; the machine's FQDN may resolve to an address
    the loopback-bound log servers do not listen on, so a task's hostname is the
    bind address itself (the FQDN when bound to every interface).
    """
    host = bind_host().strip("[]")
    return socket.getfqdn() if host in _WILDCARDS else host


def _secret(path: Path) -> str:
    """A per-installation secret shared by all services (the JWTs tasks use)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(64))  # 64 bytes: the HS512 key size RFC 7518 asks for
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip()


def _admin_password(path: Path) -> str:
    """The ``admin`` password of the simple auth manager, generated once into its JSON file (0600)."""
    passwords = json.loads(path.read_text() or "{}") if path.exists() else {}
    if ADMIN_USER not in passwords:
        passwords[ADMIN_USER] = secrets.token_urlsafe(16)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.chmod(0o600)
        tmp.write_text(json.dumps(passwords) + "\n")
        tmp.replace(path)
    return passwords[ADMIN_USER]


#: SQLite connection arguments of every Airflow process (``[database] sql_alchemy_connect_args``): a CLI
#: command such as ``airflow backfill create`` writes while the scheduler does; wait for its lock
#: rather than fail with "database is locked" after sqlite3's default 5 s
SQLITE_CONNECT_ARGS = {"timeout": 60}


def airflow_env(
    port: int,
    *,
    host: str | None = None,
    worker_log_port: int | None = None,
    trigger_log_port: int | None = None,
    parallelism: int = 4,
) -> dict[str, str]:
    """Environment of every Airflow process of the local profile.

    ``host`` (default :func:`bind_host`) is where the API and log servers listen;
    the log server ports default to free ones. Every user is an admin only when
    ``host`` is loopback; otherwise the simple auth manager has one ``admin``
    user with a generated password (see :attr:`AirflowServices.password_file`).
    """
    paths = local_paths()
    home = paths.airflow_home
    host = host or bind_host()
    loopback = is_loopback(host)
    # a browser on this machine reaches a loopback server as "localhost" (what the docs and the
    # session cookie use); bound elsewhere, the UI's links must work from other machines too
    public = "localhost" if loopback else (socket.getfqdn() if host.strip("[]") in _WILDCARDS else host.strip("[]"))
    internal = _connect_host(host)
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "SEQFLOW_HOME": str(paths.home),
        "SEQFLOW_PROFILE": "local",
        BIND_HOST_ENV: host,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "seqflow.local.services.service_hostname",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{_url(internal, port)}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "seqflow.local.services.SQLITE_CONNECT_ARGS",
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": _url(public, port),
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(home / ".jwt_secret"),
        "AIRFLOW__API__SECRET_KEY": _secret(home / ".api_secret"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_log_port or free_port(host)),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_log_port or free_port(host)),
        # off unless someone enables it, but then on the bind host too, not 0.0.0.0
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": host,
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "60",  # re-parsing costs CPU the tools need
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
    }
    if loopback:
        # no login on this machine; nobody else can connect
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
    else:
        password_file = home / "simple_auth_manager_passwords.json.generated"
        _admin_password(password_file)
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "False"
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = f"{ADMIN_USER}:admin"
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(password_file)
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
    # the aws profile's converter Glue job runs at once (its MaxConcurrentRuns; deferred tasks count)
    from seqflow.glue import CONVERTER_POOL_CLI

    _airflow(env, *CONVERTER_POOL_CLI)


def serve_logs(host: str, port: int) -> None:
    """Airflow's log server app (what ``airflow scheduler``/``triggerer`` serve on every interface) on ``host``."""
    import uvicorn

    try:
        from setproctitle import setproctitle

        setproctitle(f"airflow serve-logs {host}:{port}")
    except ImportError:  # a cosmetic: the process list names the log server
        pass
    uvicorn.run(
        "airflow.utils.serve_logs.log_server:get_app", factory=True, host=host.strip("[]"), port=port,
        log_level="warning", log_config=None, access_log=False,
    )


@dataclass
class AirflowServices:
    """Handles of the running services."""

    port: int
    env: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _starting: bool = field(default=False, repr=False)
    _deferred_signal: int | None = field(default=None, repr=False)
    _stopping: bool = field(default=False, repr=False)
    _hurry: bool = field(default=False, repr=False)

    @property
    def host(self) -> str:
        """The address the API and log servers listen on."""
        return self.env[BIND_HOST_ENV]

    @property
    def url(self) -> str:
        """The UI and API as a browser reaches them (``http://localhost:<port>`` while on loopback)."""
        return self.env["AIRFLOW__API__BASE_URL"]

    @property
    def api_url(self) -> str:
        """The API server by address (what the services themselves use)."""
        return _url(_connect_host(self.host), self.port)

    @property
    def ports(self) -> dict[str, int]:
        """The TCP port of each listening service."""
        return {
            "api-server": self.port,
            "worker-log-server": int(self.env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]),
            "trigger-log-server": int(self.env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]),
        }

    @property
    def all_admins(self) -> bool:
        """Whether every user is an admin without logging in (only when bound to loopback)."""
        return self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "True"

    @property
    def password_file(self) -> Path | None:
        """The simple auth manager's password file (user ``admin``), when users must log in."""
        value = self.env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
        return None if self.all_admins or not value else Path(value)

    @property
    def log_dir(self) -> Path:
        return Path(self.env["AIRFLOW_HOME"]) / "services"

    def auth_headers(self) -> dict[str, str]:
        """Headers that authorise a REST API request (none needed while every user is an admin)."""
        if self.password_file is None:
            return {}
        import httpx

        password = json.loads(self.password_file.read_text())[ADMIN_USER]
        response = httpx.post(f"{self.api_url}/auth/token", json={"username": ADMIN_USER, "password": password},
                              timeout=30)
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def _command(self, name: str) -> list[str]:
        exe = str(Path(sys.executable).parent / "airflow")
        if name == "api-server":
            return [exe, name, "--host", self.host, "--port", str(self.port)]
        if name in ("scheduler", "triggerer"):
            return [exe, name, "--skip-serve-logs"]
        if name.endswith("-log-server"):
            return [sys.executable, "-m", "seqflow.local.services", "serve-logs", self.host, str(self.ports[name])]
        return [exe, name]

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # a signal that arrives between a fork and the handle being recorded would orphan that
        # child, so _stop_on_signals defers it until every service is recorded
        self._starting = True
        try:
            for name in SERVICES:
                out = open(self.log_dir / f"{name}.log", "ab")
                try:
                    # a session (and process group) of its own: Ctrl-C in the terminal reaches only
                    # `seqflow`, which stops the services in order, and stop() finds all they started
                    self.processes[name] = subprocess.Popen(
                        self._command(name), env=self.env, stdout=out, stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL, start_new_session=True,
                    )
                finally:
                    out.close()
        finally:
            self._starting = False
        if self._deferred_signal is not None:
            raise _stop_exception(self._deferred_signal)

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-30:]
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}:\n" + "\n".join(tail))

    def descendants(self) -> list:
        """Every live process the services started (``psutil.Process``): their sessions and process trees.

        Task processes get process groups of their own (the task supervisor's
        ``setpgid``), so a group kill of the leaders alone would miss them; they
        stay in their leader's session, and their parent chain leads to a leader.
        """
        import psutil

        sessions = {proc.pid for proc in self.processes.values() if proc.returncode is None}
        found: dict[int, psutil.Process] = {}
        for pid in sessions:
            try:
                leader = psutil.Process(pid)
                found[pid] = leader
                found.update((child.pid, child) for child in leader.children(recursive=True))
            except psutil.NoSuchProcess:
                pass
        for pid in psutil.pids():
            try:
                if pid not in found and os.getsid(pid) in sessions:
                    found[pid] = psutil.Process(pid)
            except (OSError, psutil.Error):
                pass
        found.pop(os.getpid(), None)
        return [p for p in found.values() if _alive(p)]

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM each service's process group, wait up to ``grace`` s for all they started to end, then SIGKILL the rest.

        A second Ctrl-C or SIGTERM while stopping cuts the wait short.
        """
        self._stopping = True
        # psutil.Process objects, not PIDs: a PID reused by another program is never signalled
        tracked = {p.pid: p for p in self.descendants()}
        for proc in self.processes.values():
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while True:
            for proc in self.processes.values():
                proc.poll()  # reap the leaders, or they linger as zombies
            tracked.update((p.pid, p) for p in self.descendants())
            tracked = {pid: p for pid, p in tracked.items() if _alive(p)}
            if not tracked or self._hurry or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        if tracked:
            log.warning("airflow services: %d process(es) still running after SIGTERM; killing them", len(tracked))
        for p in tracked.values():
            try:
                p.kill()
            except Exception:  # already gone (psutil.NoSuchProcess) or not ours to kill
                pass
        for proc in self.processes.values():
            proc.wait()  # dead by now; reaps the exit status
        if tracked:
            import psutil

            psutil.wait_procs(list(tracked.values()), timeout=5)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(process) -> bool:
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _stop_exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else ServicesStopped(signum)


@contextmanager
def _stop_on_signals(services: AirflowServices) -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`ServicesStopped` (and SIGINT into KeyboardInterrupt, as usual).

    While the services are being stopped, a further signal only cuts the grace
    period short, so that it cannot interrupt the clean-up and orphan them.
    Signal handlers belong to the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if services._stopping:
            services._hurry = True
        elif services._starting:
            services._deferred_signal = signum
        else:
            raise _stop_exception(signum)

    signums = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, handler) for s in signums}
    try:
        yield
    finally:
        try:
            services.stop()
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


def _wait_ready(services: AirflowServices, dag_ids: tuple[str, ...], timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    pending = list(dag_ids)
    headers: dict[str, str] | None = None
    with httpx.Client(base_url=f"{services.api_url}/api/v2", timeout=30) as http:
        while True:
            services.check_alive()
            try:
                health = http.get("/monitor/health").json()
                if health.get("scheduler", {}).get("status") == "healthy":
                    if headers is None:
                        headers = services.auth_headers()
                    pending = [d for d in pending if http.get(f"/dags/{d}", headers=headers).status_code != 200]
                    if not pending:
                        return
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"Airflow not ready after {timeout:.0f} s (waiting for {pending or 'the API'}); "
                    f"see the logs in {services.log_dir}"
                )
            time.sleep(1)


@contextmanager
def running_airflow(
    port: int | None = None, *, host: str | None = None, dag_ids: tuple[str, ...] = (), timeout: float = 180
) -> Iterator[AirflowServices]:
    """Start the services, wait until the API answers and ``dag_ids`` are parsed; stop them on exit.

    ``host`` (default ``$SEQFLOW_BIND_HOST``, else 127.0.0.1) is where the API and
    log servers listen; ``port`` (the API's) defaults to a free one. The services
    stop when the block ends, by an exception, Ctrl-C, SIGTERM or SIGHUP.
    """
    host = host or bind_host()
    port = port or free_port(host)
    env = airflow_env(port, host=host)
    services = AirflowServices(port, env)
    with _stop_on_signals(services):
        init_db(env)
        services.start()
        _wait_ready(services, dag_ids, timeout)
        yield services


if __name__ == "__main__":
    # ``python -m seqflow.local.services serve-logs HOST PORT``: a log server, started by AirflowServices
    if len(sys.argv) != 4 or sys.argv[1] != "serve-logs":
        sys.exit(f"usage: python -m {__spec__.name if __spec__ else 'seqflow.local.services'} serve-logs HOST PORT")
    serve_logs(sys.argv[2], int(sys.argv[3]))
