"""Where the local services listen and who may use them, decided before anything starts."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time

import psutil
import pytest

from seqflow.local import services
from seqflow.local.services import ServicesStopped, airflow_env, bind_host, is_loopback


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("SEQFLOW_BIND_HOST", raising=False)
    return tmp_path


def test_loopback_by_default_with_every_user_an_admin():
    assert bind_host() == "127.0.0.1"
    env = airflow_env(8080)
    assert env["SEQFLOW_BIND_HOST"] == env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "True"
    assert env["AIRFLOW__API__BASE_URL"] == "http://localhost:8080"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8080/execution/"


def test_log_server_ports_are_free_and_distinct_per_start():
    first, second = airflow_env(8080), airflow_env(8080)
    ports = {int(e[k]) for e in (first, second)
             for k in ("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT")}
    assert len(ports) == 4 and not ports & {8793, 8794, 8080}  # not Airflow's fixed defaults
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # free when chosen


def test_all_admins_is_refused_off_loopback(monkeypatch, home):
    monkeypatch.setenv("SEQFLOW_BIND_HOST", "0.0.0.0")
    # an operator's own setting cannot turn all-admins back on while listening on every interface
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    env = airflow_env(8080)
    assert env["AIRFLOW__API__HOST"] == "0.0.0.0"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    password_file = home / "airflow" / "simple_auth_manager_passwords.json.generated"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == str(password_file)
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = json.loads(password_file.read_text())["admin"]
    assert len(password) >= 16
    # the password is generated once, then kept
    airflow_env(8080)
    assert json.loads(password_file.read_text())["admin"] == password
    # services on this machine still reach the wildcard-bound API over loopback
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8080/execution/"
    assert env["AIRFLOW__API__BASE_URL"] == f"http://{socket.getfqdn()}:8080"


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.0.2.10", False), ("no-such-host.invalid", False),
])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_task_hostname_is_where_the_log_servers_listen(monkeypatch):
    assert services.service_hostname() == "127.0.0.1"
    monkeypatch.setenv("SEQFLOW_BIND_HOST", "0.0.0.0")
    assert services.service_hostname() == socket.getfqdn()


class _FakeServices:
    def __init__(self):
        self._starting = self._stopping = self._hurry = False
        self._deferred_signal = None
        self.stopped = 0

    def stop(self):
        self._stopping = True
        # a second signal while stopping must not interrupt the clean-up
        os.kill(os.getpid(), signal.SIGTERM)
        self.stopped += 1


@pytest.mark.parametrize("signum, exc", [(signal.SIGTERM, ServicesStopped), (signal.SIGHUP, ServicesStopped),
                                         (signal.SIGINT, KeyboardInterrupt)])
def test_signals_unwind_the_block_and_stop_the_services(signum, exc):
    fake = _FakeServices()
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(exc) as info:
        with services._stop_on_signals(fake):
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the handler raises before this ends
            pytest.fail("the signal did not interrupt the block")
    assert fake.stopped == 1 and fake._hurry
    if exc is ServicesStopped:
        assert info.value.code == 128 + signum
    assert signal.getsignal(signal.SIGTERM) is before


# real child processes standing in for the services: what stop() must end, however they behave
_IGNORES_SIGTERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
# like a task process, whose supervisor puts it in a process group of its own
_CHILD_IN_OWN_GROUP = "import subprocess, time; subprocess.Popen(['sleep', '60'], process_group=0); time.sleep(60)"


def _stand_ins(monkeypatch, scripts):
    def command(self, name):
        return [sys.executable, "-c", scripts.get(name, "import time; time.sleep(60)")]

    monkeypatch.setattr(services.AirflowServices, "_command", command)
    return services.AirflowServices(8080, airflow_env(8080))


def test_stop_ends_every_process_the_services_started(monkeypatch):
    fake = _stand_ins(monkeypatch, {"scheduler": _IGNORES_SIGTERM, "triggerer": _CHILD_IN_OWN_GROUP})
    fake.start()
    deadline = time.monotonic() + 20
    while len(fake.descendants()) < len(services.SERVICES) + 1:  # + the triggerer stand-in's child
        assert time.monotonic() < deadline, fake.descendants()
        time.sleep(0.1)
    family = fake.descendants()
    own_group = [p for p in family if os.getpgid(p.pid) not in {q.pid for q in fake.processes.values()}]
    assert [p.name() for p in own_group] == ["sleep"]
    t0 = time.monotonic()
    fake.stop(grace=2)
    assert 2 <= time.monotonic() - t0 < 10  # the SIGTERM-ignoring one is killed after the grace period
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert fake.processes["scheduler"].returncode == -signal.SIGKILL
    assert fake.processes["api-server"].returncode == -signal.SIGTERM


def test_a_signal_during_start_is_raised_once_every_service_is_recorded(monkeypatch):
    fake = _stand_ins(monkeypatch, {})
    real_popen = subprocess.Popen
    calls = []

    def popen(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        if not calls:
            os.kill(os.getpid(), signal.SIGTERM)
        calls.append(proc)
        return proc

    monkeypatch.setattr(services.subprocess, "Popen", popen)
    with pytest.raises(ServicesStopped):
        with services._stop_on_signals(fake):
            fake.start()
    assert len(calls) == len(fake.processes) == len(services.SERVICES)
    assert [proc.returncode for proc in calls] == [-signal.SIGTERM] * len(calls)
