"""Production settings: Django's deployment checks pass with warnings failing too, and production refuses to start
without its secrets (SECRET_KEY, MDR_ENCRYPTION_KEYS). Run in a subprocess with a production environment, as CI's
``.ci/run`` does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MDR_", "SECRET_KEY"))}
    base.update(DJANGO_SETTINGS_MODULE="mdr.settings", DJANGO_DEBUG="0", MDR_TESTING="0", MDR_BASE_DOMAIN="mdr.example")
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def _secrets() -> dict[str, str]:
    return {"SECRET_KEY": "k" * 20 + os.urandom(24).hex(), "MDR_ENCRYPTION_KEYS": Fernet.generate_key().decode()}


def test_check_deploy_is_clean_with_production_defaults():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **_secrets())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_weakened_production_setting_fails_the_check():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_HSTS_SECONDS="0", **_secrets())
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout


def test_production_refuses_to_start_without_the_encryption_key():
    env = _secrets()
    del env["MDR_ENCRYPTION_KEYS"]
    result = _manage("check", **env)
    assert result.returncode != 0
    assert "MDR_ENCRYPTION_KEYS must be set" in result.stderr
