"""The inbox at two sizes of a city's claims, served as in production (issue 12).

    SECRET_KEY=bench .venv/bin/python bench/inbox.py [--small 10000] [--large 1000000] [--requests 40]

For each size a PostgreSQL database ``claims_bench_inbox_<size>`` (``--db-prefix``) is made if
missing: migrated, seeded (seed_demo), filled by ``generate_load --claims <size>``. gunicorn then
serves it (DEBUG=False, persistent connections, ``--workers`` processes) and 8 client threads
(``--clients``) ask, interleaved, for: the trivial view (/healthz, the baseline), GET /api/v1/tasks/
(API token) and /inbox/ (session cookie) as the department reviewer of 市应急管理局 (dept_reviewer)
and as Wenling's HR reviewer (hr_reviewer), both sizes served at once and their requests interleaved,
so that a change in the machine's load falls on both alike. Prints p50/p95 per URL and size, the ratios (inbox
p95 ÷ trivial p95 at each size; large ÷ small), and EXPLAIN (ANALYZE, BUFFERS) of the inbox queries
at each size. Issue 12's targets: at 1,000,000 claims inbox p95 ÷ trivial ≤ 6; 1M ÷ 10k ≤ 1.2.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time

import serving
from serving import PROJECT, PYTHON, Server, api_token, ensure_database, environment, p, session_cookie

USERS = ("dept_reviewer", "hr_reviewer")


def targets(server: Server, size: int) -> dict[tuple[int, str], tuple[Server, str, dict]]:
    found = {(size, "trivial /healthz"): (server, "/healthz", {})}
    for username in USERS:
        token = {"Authorization": f"Token {api_token(server, username)}"}
        found[(size, f"API /api/v1/tasks/ {username}")] = (server, "/api/v1/tasks/", token)
        found[(size, f"page /inbox/ {username}")] = (server, "/inbox/", {"Cookie": session_cookie(server, username)})
    return found


def first_page_rows(urls: dict) -> dict[tuple[int, str], int]:
    """How many tasks each API URL's first page holds."""
    found = {}
    for (size, label), (server, path, headers) in urls.items():
        if label.startswith("API "):
            status, content, _cookie, _response = server.request("GET", path, headers=headers)
            found[(size, label.split()[-1])] = len(json.loads(content)["results"]) if status == 200 else -status
    return found


def measure(urls: dict, *, clients: int, requests: int) -> dict[tuple[int, str], list[float]]:
    """Every client asks each URL of both sizes ``requests`` times, in its own shuffled order (so a
    burst of load on the machine falls on every URL and both sizes alike), on one keep-alive
    connection per client and server."""
    times: dict = {key: [] for key in urls}
    lock = threading.Lock()
    failures = []

    def client(number: int) -> None:
        order = [key for key in urls for _ in range(requests)]
        random.Random(number).shuffle(order)
        connections: dict[int, http.client.HTTPConnection] = {}
        mine: dict = {key: [] for key in urls}
        for key in order:
            server, path, headers = urls[key]
            connection = connections.setdefault(server.port, http.client.HTTPConnection("127.0.0.1", server.port, timeout=120))
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200:
                failures.append((key, response.status))
            mine[key].append(elapsed)
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                del connections[server.port]
        for connection in connections.values():
            connection.close()
        with lock:
            for key, values in mine.items():
                times[key].extend(values)

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
from claims.keyset import COUNT_BOUND
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000, help="claims in the small database")
    parser.add_argument("--large", type=int, default=1_000_000, help="claims in the large one (generated once: about 6 min)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=40, help="requests of each URL per client")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (about 2 × cores)")
    parser.add_argument(
        "--password", default=serving.PASSWORD, help="the demo users' password (seed_demo's) in a database made before"
    )
    parser.add_argument("--db-prefix", default="claims_bench_inbox_", help="the databases are <prefix><size>")
    args = parser.parse_args()
    serving.PASSWORD = args.password

    sizes = (args.small, args.large)
    servers: dict[int, Server] = {}
    urls: dict = {}
    try:
        for size in sizes:
            ensure_database(f"{args.db_prefix}{size}", size)
        for size in sizes:  # both served at once, so that both sizes are measured under the same load
            servers[size] = Server(f"{args.db_prefix}{size}", args.workers)
            urls.update(targets(servers[size], size))
        rows = first_page_rows(urls)
        measure(urls, clients=args.clients, requests=3)  # warm the workers' connections and caches
        started = time.perf_counter()
        measured = measure(urls, clients=args.clients, requests=args.requests)
        print(
            f"{args.clients * args.requests * len(urls):,} requests, both sizes interleaved, in {time.perf_counter() - started:.1f} s"
        )
    finally:
        for server in servers.values():
            server.stop()
    results = {size: {label: measured[(size, label)] for (at, label) in urls if at == size} for size in sizes}
    plans = {size: explain(f"{args.db_prefix}{size}") for size in sizes}
    # A page renders its rows: a small city's reviewer may have less than a page of work.
    print(
        "tasks on the first page (API; the page shows as many): "
        + "; ".join(f"{label} at {size:,}: {n}" for (size, label), n in rows.items())
    )

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
