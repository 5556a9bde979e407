"""The inbox at two sizes of a city's claims, served as in production (issue 12).

    SECRET_KEY=bench .venv/bin/python bench/inbox.py [--small 10000] [--large 100000] [--requests 40]

For each size a PostgreSQL database ``claims_bench_inbox_<size>`` (``--db-prefix``) is made if
missing: migrated, seeded (seed_demo), filled by ``generate_load --claims <size>``. gunicorn then
serves it (DEBUG=False, persistent connections, ``--workers`` processes) and 8 client threads
(``--clients``) ask, interleaved, for: the trivial view (/healthz, the baseline), GET /api/v1/tasks/
(API token) and /inbox/ (session cookie) as the department reviewer of 市应急管理局 (dept_reviewer)
and as Wenling's HR reviewer (hr_reviewer). Prints p50/p95 per URL and size, the ratios (inbox
p95 ÷ trivial p95 at each size; large ÷ small), and EXPLAIN (ANALYZE, BUFFERS) of the inbox queries
at each size. Issue 12's targets: at 1,000,000 claims inbox p95 ÷ trivial ≤ 6; 1M ÷ 10k ≤ 1.2.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PYTHON = str(PROJECT / ".venv" / "bin" / "python")
PASSWORD = "bench-password-1234"
USERS = ("dept_reviewer", "hr_reviewer")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def database_url(name: str) -> str:
    return f"{PG}/{name}"


def environment(name: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL",)}
    env.update(
        DATABASE_URL=database_url(name),
        DEBUG="False",
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only"),
        SECURE_SSL_REDIRECT="False",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CONN_MAX_AGE="600",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    return env


def manage(name: str, *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=PROJECT, env=environment(name), check=True, text=True, capture_output=capture
    )
    return result.stdout if capture else ""


def psql(sql: str, database: str = "postgres") -> str:
    url = urllib.parse.urlparse(PG)
    command = ["psql", "-h", url.hostname, "-p", str(url.port or 5432), "-U", url.username, "-d", database, "-tAc", sql]
    return subprocess.run(command, check=True, text=True, capture_output=True).stdout.strip()


def ensure_database(name: str, claims: int) -> None:
    """The database with the demo and ``claims`` generated claims (made once, kept for the next run)."""
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1":
        have = psql("SELECT count(*) FROM claims_claim", name)
        if int(have or 0) >= claims:
            print(f"{name}: {int(have):,} claims (kept from an earlier run)", flush=True)
            return
        sys.exit(f"{name} holds {have} claims, fewer than {claims:,}: drop it (dropdb {name}) and run again")
    psql(f'CREATE DATABASE "{name}"')
    manage(name, "migrate", "-v0")
    manage(name, "seed_demo", "--password", PASSWORD)
    started = time.perf_counter()
    manage(name, "generate_load", "--claims", str(claims), "--password", PASSWORD)
    print(f"{name}: generated {claims:,} claims in {time.perf_counter() - started:.0f} s", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving one database, as the Procfile's web line does (config/gunicorn.py)."""

    def __init__(self, name: str, workers: int):
        self.port = free_port()
        env = environment(name)
        env.update(BIND="127.0.0.1", PORT=str(self.port), WEB_CONCURRENCY=str(workers))
        self.process = subprocess.Popen(
            [str(PROJECT / ".venv" / "bin" / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi"],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        sys.exit("gunicorn did not answer /healthz within 60 s")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read(), response.getheader("Set-Cookie") or "", response
        finally:
            connection.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def api_token(server: Server, username: str) -> str:
    body = json.dumps({"username": username, "password": PASSWORD}).encode()
    status, content, _cookie, _r = server.request("POST", "/api/v1/auth/token/", body, {"Content-Type": "application/json"})
    if status != 200:
        sys.exit(f"token for {username}: {status} {content[:200]!r}")
    return json.loads(content)["token"]


def session_cookie(server: Server, username: str) -> str:
    status, content, cookie, _r = server.request("GET", "/accounts/login/")
    csrf_cookie = re.search(r"csrftoken=([^;]+)", cookie).group(1)
    csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', content).group(1).decode()
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf}).encode()
    status, content, cookie, _r = server.request(
        "POST",
        "/accounts/login/",
        form,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie}",
            "Referer": "http://127.0.0.1/",
        },
    )
    session = re.search(r"sessionid=([^;]+)", cookie)
    if status != 302 or session is None:
        sys.exit(f"sign-in of {username}: {status}")
    return f"sessionid={session.group(1)}; csrftoken={csrf_cookie}"


def targets(server: Server) -> dict[str, tuple[str, dict]]:
    found = {"trivial /healthz": ("/healthz", {})}
    for username in USERS:
        found[f"API /api/v1/tasks/ {username}"] = ("/api/v1/tasks/", {"Authorization": f"Token {api_token(server, username)}"})
        found[f"page /inbox/ {username}"] = ("/inbox/", {"Cookie": session_cookie(server, username)})
    return found


def p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def measure(server: Server, urls: dict, *, clients: int, requests: int) -> dict[str, list[float]]:
    """Every client asks each URL ``requests`` times, in its own shuffled order (so a burst of load
    on the machine falls on every URL alike), on one keep-alive connection per client."""
    times: dict[str, list[float]] = {label: [] for label in urls}
    lock = threading.Lock()
    failures = []

    def client(number: int) -> None:
        order = [label for label in urls for _ in range(requests)]
        random.Random(number).shuffle(order)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        mine: dict[str, list[float]] = {label: [] for label in urls}
        for label in order:
            path, headers = urls[label]
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200:
                failures.append((label, response.status))
            mine[label].append(elapsed)
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        connection.close()
        with lock:
            for label, values in mine.items():
                times[label].extend(values)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit(f"requests failed: {failures[:5]}")
    return times


EXPLAIN = r"""
import django
django.setup()
from django.contrib.auth import get_user_model
from workflow import selectors
from workflow.selectors import COUNT_BOUND
for username in {users!r}:
    user = get_user_model().objects.get(username=username)
    for name in ("actionable_items", "team_items"):
        items = getattr(selectors, name)(user)
        for what, query in (
            ("first page", items.select_related("owner", "provider", "department")[:51]),
            ("bounded count", items.order_by().values("pk")[: COUNT_BOUND + 1]),
        ):
            print(f"--- {{username}}: {{name}}, {{what}}")
            print(query.explain(analyze=True, buffers=True))
"""


def explain(name: str) -> str:
    result = subprocess.run(
        [PYTHON, "-c", EXPLAIN.format(users=USERS)],
        cwd=PROJECT,
        env=environment(name),
        check=True,
        text=True,
        capture_output=True,
    )
    return result.stdout


def main() -> None:
    global PASSWORD
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000, help="claims in the small database")
    parser.add_argument("--large", type=int, default=100_000, help="claims in the large one (1,000,000 on a free machine)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=40, help="requests of each URL per client")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (about 2 × cores)")
    parser.add_argument("--password", default=PASSWORD, help="the demo users' password (seed_demo's) in a database made before")
    parser.add_argument("--db-prefix", default="claims_bench_inbox_", help="the databases are <prefix><size>")
    args = parser.parse_args()
    PASSWORD = args.password

    results: dict[int, dict[str, list[float]]] = {}
    plans: dict[int, str] = {}
    for size in (args.small, args.large):
        name = f"{args.db_prefix}{size}"
        ensure_database(name, size)
        server = Server(name, args.workers)
        try:
            urls = targets(server)
            measure(server, urls, clients=args.clients, requests=3)  # warm the workers' connections and caches
            started = time.perf_counter()
            results[size] = measure(server, urls, clients=args.clients, requests=args.requests)
            print(
                f"{size:,} claims: {args.clients * args.requests * len(urls):,} requests in {time.perf_counter() - started:.1f} s"
            )
        finally:
            server.stop()
        plans[size] = explain(name)

    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"]
    print(f"\n{os.cpu_count()} cores, load average {' '.join(load)}; {args.clients} clients, gunicorn {args.workers} workers")
    labels = list(next(iter(results.values())))
    print(f"\n| URL | {' | '.join(f'{size:,} claims p50 / p95 (ms)' for size in results)} |")
    print(f"|---|{'---|' * len(results)}")
    for label in labels:
        cells = [f"{p(results[size][label], 0.5) * 1000:.1f} / {p(results[size][label], 0.95) * 1000:.1f}" for size in results]
        print(f"| {label} | {' | '.join(cells)} |")
    ratios = []
    for size in results:
        trivial = p(results[size]["trivial /healthz"], 0.95)
        ratios += [
            f"{label.split()[0]} {label.split()[-1]} {size:,}: {p(results[size][label], 0.95) / trivial:.1f}×"
            for label in labels
            if label != "trivial /healthz"
        ]
    ratios += [
        f"{label.split()[0]} {label.split()[-1]} {args.large:,}÷{args.small:,}: "
        f"{p(results[args.large][label], 0.95) / p(results[args.small][label], 0.95):.2f}"
        for label in labels
        if label != "trivial /healthz"
    ]
    print("\nratios (p95 ÷ trivial p95; large ÷ small): " + "; ".join(ratios))
    for size, plan in plans.items():
        print(f"\n=== EXPLAIN (ANALYZE, BUFFERS) at {size:,} claims\n{plan}")


if __name__ == "__main__":
    main()
