"""``make run``: find or start PostgreSQL and Redis, migrate, seed the demo, then run web + worker + scheduler
in the foreground until Ctrl-C, which stops all of them (and the embedded servers this run started).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import services  # noqa: E402

PY = sys.executable
PORT = os.environ.get("MDR_PORT", "8000")


def processes() -> dict[str, list[str]]:
    return {
        "web": [
            PY,
            "-m",
            "gunicorn",
            "mdr.wsgi:application",
            "--bind",
            f"0.0.0.0:{PORT}",
            "--workers",
            os.environ.get("MDR_WEB_WORKERS", "2"),
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "5",
        ],
        "worker": [
            PY,
            "manage.py",
            "rundramatiq",
            "--processes",
            "1",
            "--threads",
            "4",
            "--worker-shutdown-timeout",
            "5000",
        ],
        "scheduler": [PY, "manage.py", "run_scheduler"],
    }


def pump(name: str, stream) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"{name:>9} | {line.decode(errors='replace')}")
        sys.stdout.flush()


def main() -> int:
    started_embedded_before = {
        p: services.answers("127.0.0.1", p) for p in (services.EMBEDDED_PG_PORT, services.EMBEDDED_REDIS_PORT)
    }
    os.environ.update(services.resolve())
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_SECURE_COOKIES", "0")
    os.environ.setdefault("MDR_PUBLIC_PORT", PORT)
    os.chdir(ROOT)
    subprocess.run([PY, "manage.py", "migrate_all", "-v", "0"], check=True)
    subprocess.run([PY, "manage.py", "seed_demo"], check=True)

    children: dict[str, subprocess.Popen] = {}
    for name, cmd in processes().items():
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        children[name] = proc
        threading.Thread(target=pump, args=(name, proc.stdout), daemon=True).start()

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"Running (web on port {PORT}). Ctrl-C stops everything.", flush=True)
    exit_code = 0
    while not stop.is_set():
        for name, proc in children.items():
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}; stopping the rest", flush=True)
                exit_code = proc.returncode or 1
                stop.set()
        stop.wait(0.5)

    for proc in children.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in children.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    if not any(started_embedded_before.values()) and (
        services.answers("127.0.0.1", services.EMBEDDED_PG_PORT)
        or services.answers("127.0.0.1", services.EMBEDDED_REDIS_PORT)
    ):
        services.stop()
    print("Stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
