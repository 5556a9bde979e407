"""Smoke run of the whole Procfile (web, worker, beat) under honcho, as production runs it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/claims_smoke REDIS_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python bench/procfile_smoke.py

On the server of DATABASE_URL it creates a throwaway database (its name must contain "smoke";
dropped at the end unless --keep), migrates it and seeds the demo, then starts `honcho start`
with every process on a queue of its own and checkpoints every few seconds, and waits for:
gunicorn listening, the worker ready, beat sending `audit.tasks.sign_checkpoint` and the worker
running it (a signed checkpoint in the database), and the login page served. It prints how long
each took from the start, then stops honcho (SIGTERM to its process group)."""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

PROJECT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
MILESTONES = {
    "web listening": re.compile(r"web\.1 .*Listening at:"),
    "worker ready": re.compile(r"worker\.1 .*ready\."),
    "beat sent a checkpoint": re.compile(r"beat\.1 .*Sending due task audit-checkpoint"),
    "worker signed it": re.compile(r"worker\.1 .*Task audit\.tasks\.sign_checkpoint\[.*\] succeeded"),
}


def admin_url(url: str) -> str:
    return urlparse(url)._replace(path="/postgres").geturl()


def run(args: list[str], env: dict) -> None:
    subprocess.run([sys.executable, *args], cwd=PROJECT, env=env, check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for every milestone")
    options = parser.parse_args()
    import psycopg

    url = os.environ["DATABASE_URL"]
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("REDIS_URL must name the Redis that the worker and beat share")
    name = urlparse(url).path.lstrip("/")
    if "smoke" not in name:
        raise SystemExit(f"refusing to use database {name!r}: its name must contain 'smoke' (it is dropped)")
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DEBUG": "False",
        "SECURE_SSL_REDIRECT": "False",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PII_HASH_KEY": secrets.token_urlsafe(32),
        "PII_ENCRYPTION_KEY": secrets.token_urlsafe(32),
        "AUDIT_SIGNING_KEY": "",
        "AUDIT_CHECKPOINT_INTERVAL": "3",
        "CELERY_QUEUE": f"smoke-{secrets.token_hex(6)}",
        "BIND": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "WORKER_CONCURRENCY": "1",
        "PYTHONUNBUFFERED": "1",
    }
    # A key of the run's own (the demo's file is left alone): seed_demo records entries to sign.
    env["AUDIT_SIGNING_KEY"] = subprocess.run(
        [sys.executable, "-c", "from audit.signing import new_seed_text; print(new_seed_text())"],
        cwd=PROJECT, env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"}, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    started = time.monotonic()
    run(["manage.py", "migrate", "--noinput"], env)
    run(["manage.py", "seed_demo", "--password", secrets.token_urlsafe(12)], env)
    prepared = time.monotonic() - started
    print(f"database {name}: migrated and seeded in {prepared:.1f} s; starting honcho on port {port}")

    honcho = subprocess.Popen(
        [str(VENV_BIN / "honcho"), "start", "--port", str(port)],
        cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    reached: dict[str, float] = {}
    lines: list[str] = []
    all_reached = threading.Event()
    start = time.monotonic()

    def read() -> None:
        for line in honcho.stdout:
            lines.append(line)
            for milestone, pattern in MILESTONES.items():
                if milestone not in reached and pattern.search(line):
                    reached[milestone] = time.monotonic() - start
            if len(reached) == len(MILESTONES):
                all_reached.set()
        all_reached.set()

    threading.Thread(target=read, daemon=True).start()
    ok = False
    try:
        all_reached.wait(options.timeout)
        if len(reached) == len(MILESTONES):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=30) as response:
                page_ok = response.status == 200 and "Content-Security-Policy" in response.headers
            with psycopg.connect(url) as conn:
                checkpoints = conn.execute("SELECT count(*) FROM audit_checkpoint").fetchone()[0]
            reached["login page"] = time.monotonic() - start
            ok = page_ok and checkpoints > 0
            print(f"login page 200 with CSP: {page_ok}; signed checkpoints: {checkpoints}")
        for milestone in [*MILESTONES, "login page"]:
            print(f"  {milestone:<24} {reached[milestone]:6.1f} s" if milestone in reached else f"  {milestone:<24} not reached")
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGTERM)
        honcho.wait(timeout=60)
        if not ok:
            sys.stdout.write("".join(lines[-40:]))
        if not options.keep:
            with psycopg.connect(admin_url(url), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print("smoke: OK" if ok else "smoke: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
