"""With PostgreSQL unreachable, the service answers 503 (liveness 200), never 500: checked in a real process
whose DATABASE_URL points at a port where nothing listens."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import django, json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdr.settings")
django.setup()
from django.test import Client
client = Client(HTTP_HOST="localhost")
print(json.dumps({p: client.get(p).status_code for p in ["/healthz", "/readyz", "/", "/api/v1/whoami"]}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_requests_get_503_while_the_database_is_unreachable():
    # given: a port where no PostgreSQL listens
    env = os.environ | {
        "DJANGO_DEBUG": "1",
        "MDR_BASE_DOMAIN": "localhost",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{_free_port()}/mdr",
        "DATABASE_CONNECT_TIMEOUT": "2",
    }
    # when
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    # then
    assert result.returncode == 0, result.stderr[-2000:]
    statuses = json.loads(result.stdout.strip().splitlines()[-1])
    assert statuses == {"/healthz": 200, "/readyz": 503, "/": 503, "/api/v1/whoami": 503}
