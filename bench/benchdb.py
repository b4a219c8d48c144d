"""The bench databases: each benchmark uses its own database on the local PostgreSQL, created if missing and brought
up to date with ``manage.py migrate_all`` before it runs, so nothing real is touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent


def database_ensure(name: str) -> bool:
    """Create database ``name`` if it does not exist; True if it was created."""
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def manage(*args: str) -> str:
    """``manage.py`` with the bench's environment (its DATABASE_URL); exits with the output if it fails."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def database_prepare(name: str) -> None:
    """Create the bench database if needed and migrate it (public, template, every customer schema)."""
    print(f"database {name}: {'created' if database_ensure(name) else 'exists'}; migrate_all ...", flush=True)
    manage("migrate_all", "--verbosity", "0")
