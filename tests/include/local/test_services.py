"""The local Airflow is private by default, and cleans up after itself.

Two real instances run side by side (one in this process through
``running_airflow``, one as ``seqflow up`` in a subprocess, each with its own
``SEQFLOW_HOME``), started together so that the pair costs about one start.
The kernel is the judge: listening sockets come from ``/proc/net/tcp*``, the
refusal from a real connect to this machine's non-loopback address, the
clean-up from the process table.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-services")]

READY_LINE = "seqflow: Airflow UI at "


def _proc_net_listeners() -> dict[int, tuple[str, int]]:
    """Socket inode -> (address, port) of every TCP socket in LISTEN state in this network namespace."""
    out: dict[int, tuple[str, int]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state != "0A":  # TCP_LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            raw = bytes.fromhex(addr_hex)
            # the kernel prints each 32-bit word in host (little-endian) order
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            out[inode] = (str(ipaddress.ip_address(raw)), int(port_hex, 16))
    return out


def listening_sockets(processes) -> set[tuple[str, int, int]]:
    """(address, port, pid) of each listening TCP socket held by ``processes``."""
    listeners = _proc_net_listeners()
    found = set()
    for proc in processes:
        fd_dir = Path(f"/proc/{proc.pid}/fd")
        try:
            links = [os.readlink(fd_dir / fd) for fd in os.listdir(fd_dir)]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for link in links:
            if link.startswith("socket:["):
                inode = int(link[8:-1])
                if inode in listeners:
                    found.add((*listeners[inode], proc.pid))
    return found


def process_family(roots: list[int]) -> list[psutil.Process]:
    """``roots``, all their descendants, and every process in a session or process group of one of them."""
    family: dict[int, psutil.Process] = {}
    for pid in roots:
        try:
            root = psutil.Process(pid)
        except psutil.NoSuchProcess:
            continue
        family[pid] = root
        family.update((c.pid, c) for c in root.children(recursive=True))
    own = {os.getsid(0), os.getpgid(0)}
    groups: set[int] = set()
    for pid in list(family):
        try:
            groups |= {os.getsid(pid), os.getpgid(pid)}
        except OSError:
            pass
    groups -= own
    for proc in psutil.process_iter():
        try:
            if proc.pid not in family and {os.getsid(proc.pid), os.getpgid(proc.pid)} & groups:
                family[proc.pid] = proc
        except (OSError, psutil.Error):
            pass
    return [p for p in family.values() if _alive(p)]


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def non_loopback_addresses() -> list[str]:
    """This machine's own addresses other than loopback (link-local IPv6 left out: it needs a scope)."""
    out = []
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family in (socket.AF_INET, socket.AF_INET6):
                ip = ipaddress.ip_address(a.address.split("%")[0])
                if not ip.is_loopback and not ip.is_link_local:
                    out.append(str(ip))
    return out


class SeqflowUp:
    """``seqflow up`` as a subprocess, in a session of its own, its output collected by a thread."""

    def __init__(self, home: Path, port: int):
        env = {**os.environ, "SEQFLOW_HOME": str(home)}
        env.pop("SEQFLOW_BIND_HOST", None)
        self.home = home
        self.port = port
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "seqflow"), "up", "--port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(line.startswith(READY_LINE) for line in self.lines):
            if self.proc.poll() is not None:
                self._reader.join(5)
                raise RuntimeError(f"seqflow up exited with {self.proc.returncode}:\n{self.output[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"seqflow up not ready after {timeout:.0f} s:\n{self.output[-3000:]}")
            time.sleep(0.5)

    def kill(self) -> None:
        for proc in process_family([self.proc.pid]):
            try:
                proc.kill()
            except psutil.Error:
                pass
        self.proc.wait()


@pytest.fixture(scope="module")
def instances(tmp_path_factory):
    """Instance ``a`` (``running_airflow`` here) and ``b`` (``seqflow up``), both running."""
    from seqflow.local.services import free_port, running_airflow

    mp = pytest.MonkeyPatch()
    mp.delenv("SEQFLOW_BIND_HOST", raising=False)
    mp.setenv("SEQFLOW_HOME", str(tmp_path_factory.mktemp("seqflow-home-a")))
    t0 = time.monotonic()
    b = SeqflowUp(tmp_path_factory.mktemp("seqflow-home-b"), free_port())
    try:
        with running_airflow() as a:
            b.wait_ready(timeout=240)
            print(f"two instances up in {time.monotonic() - t0:.0f} s")
            yield {"a": a, "b": b}
    finally:
        if b.proc.poll() is None:
            b.kill()
        mp.undo()


def test_every_listening_socket_is_on_loopback(instances):
    a, b = instances["a"], instances["b"]
    a_sockets = listening_sockets(process_family([p.pid for p in a.processes.values()]))
    # found them all: the API server and the two log servers, each on its own port
    assert {port for _, port, _ in a_sockets} == set(a.ports.values())
    assert len(set(a.ports.values())) == 3
    assert {addr for addr, _, _ in a_sockets} == {"127.0.0.1"}, a_sockets

    b_sockets = listening_sockets(process_family([b.proc.pid]))
    assert b.port in {port for _, port, _ in b_sockets}
    assert len({port for _, port, _ in b_sockets}) == 3, b_sockets
    assert {addr for addr, _, _ in b_sockets} == {"127.0.0.1"}, b_sockets


def test_api_answers_on_loopback_and_refuses_other_addresses(instances):
    a = instances["a"]
    # on loopback every user is an admin: the REST API needs no token
    health = httpx.get(f"http://127.0.0.1:{a.port}/api/v2/monitor/health", timeout=10).json()
    assert health["scheduler"]["status"] == "healthy"
    assert httpx.get(f"{a.url}/api/v2/dags", timeout=10).status_code == 200

    addresses = non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback address to connect from")
    for address in addresses:
        for name, port in a.ports.items():
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, port), timeout=5).close()
            # the same port does answer on loopback, so the refusal is the bind address's doing
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_two_instances_run_side_by_side(instances):
    a, b = instances["a"], instances["b"]
    b_ports = {port for _, port, _ in listening_sockets(process_family([b.proc.pid]))}
    assert not b_ports & set(a.ports.values())
    for port in (a.port, b.port):
        health = httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=10).json()
        assert health["scheduler"]["status"] == "healthy"
    # each its own Airflow: its own metadata DB and service logs under its own SEQFLOW_HOME
    for home in (Path(a.env["SEQFLOW_HOME"]), b.home):
        assert (home / "airflow" / "airflow.db").stat().st_size > 0
        assert (home / "airflow" / "services" / "api-server.log").stat().st_size > 0
    assert Path(a.env["SEQFLOW_HOME"]) != b.home
    assert f"Airflow UI at http://localhost:{b.port} (on 127.0.0.1 only, every user is admin" in b.output


def test_log_servers_serve_task_logs_where_the_api_server_looks(instances):
    """The API server fetches a running task's log from ``http://<task hostname>:<log server port>/log/...``."""
    import jwt

    from seqflow.local.services import service_hostname

    a = instances["a"]
    rel = "dag_id=probe/run_id=manual/task_id=t/attempt=1.log"
    path = Path(a.env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("a line of a running task\n")
    # the claims Airflow's file task handler signs (JWTGenerator): [api] secret_key, HS512, the log audience
    now = int(time.time())
    token = jwt.encode({"filename": rel, "jti": os.urandom(16).hex(), "aud": "task-instance-logs",
                        "nbf": now, "iat": now, "exp": now + 30},
                       a.env["AIRFLOW__API__SECRET_KEY"], algorithm="HS512")
    for name in ("worker-log-server", "trigger-log-server"):
        url = f"http://{service_hostname()}:{a.ports[name]}/log/{rel}"
        assert httpx.get(url, timeout=10).status_code == 403  # no token, no log
        response = httpx.get(url, headers={"Authorization": token}, timeout=10)
        assert (response.status_code, response.text) == (200, "a line of a running task\n"), name


def test_seqflow_up_stops_everything_on_sigterm(instances):
    b = instances["b"]
    family = process_family([b.proc.pid])
    assert len(family) >= 7, family  # seqflow, the six services, the api-server's and executor's workers
    t0 = time.monotonic()
    b.proc.send_signal(signal.SIGTERM)  # only to `seqflow up`, as `kill` or systemd would
    assert b.proc.wait(timeout=60) == 0, b.output[-3000:]
    print(f"seqflow up stopped in {time.monotonic() - t0:.1f} s")
    time.sleep(0.5)
    assert [p for p in family if _alive(p)] == []
    assert process_family([p.pid for p in family]) == []
    assert "seqflow: stopping" in b.output
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", b.port), timeout=5).close()
