"""The claim lists at scale (issue 12): the claim list (API and page), the auditor's search, the
finance desk and the funds report, each read as its people read it, against a database that
``generate_load`` filled.

    DATABASE_URL=postgres://…/claims_load SECRET_KEY=bench .venv/bin/python bench/lists.py [--requests 20] [--explain]

In one process (Django's test client, no network: what is measured is the view, its queries and
its template), each URL is asked ``--requests`` times, interleaved with the trivial view
(/healthz, the baseline); prints p50/p95 per URL, its p95 ÷ the trivial view's p95, the number of
queries it ran, and the "Execution Time" of EXPLAIN (ANALYZE, BUFFERS) of each of them (the slowest,
and all summed); with ``--explain`` the slowest one's plan. The database must hold the demo users (seed_demo) and the load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

YEAR = timezone.localdate().year
# (label, user, URL): each list as the people who read it most.
LISTS = (
    ("claims API, dept reviewer", "dept_reviewer", "/api/v1/claims/"),
    ("claims API, HR reviewer", "hr_reviewer", "/api/v1/claims/"),
    ("claims API, HR, status=paid", "hr_reviewer", "/api/v1/claims/?status=paid"),
    ("claims API, provider clerk", "provider_clerk", "/api/v1/claims/"),
    ("claims page, dept reviewer", "dept_reviewer", "/claims/"),
    ("claims page, HR reviewer", "hr_reviewer", "/claims/"),
    ("claims page, HR, status=hr_review", "hr_reviewer", "/claims/?status=hr_review"),
    ("auditor search", "auditor", "/audit/"),
    ("auditor search, status=paid", "auditor", "/audit/?status=paid"),
    ("finance desk", "finance_officer", "/finance/"),
    ("batch build page", "finance_officer", "/payments/batches/new/"),
    ("batches page", "finance_officer", "/payments/batches/"),
    ("payee accounts page", "finance_officer", "/payments/payee-accounts/"),
    ("awaiting API", "finance_officer", "/api/v1/payment-batches/awaiting/"),
    ("funds report page", "finance_officer", f"/payments/funds/report/?year={YEAR}"),
    ("funds report API", "finance_officer", f"/api/v1/reports/funds/?year={YEAR}"),
)
TRIVIAL = "/healthz"


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql.replace("%", "%%"))
        return "\n".join(row[0] for row in cursor.fetchall())


def run(requests: int, show_plans: bool, only: str | None) -> None:
    users = {user.username: user for user in get_user_model().objects.filter(username__in={u for _l, u, _p in LISTS})}
    clients = {}
    for name, user in users.items():
        clients[name] = Client()
        clients[name].force_login(user)
    trivial_client = Client()
    lists = [row for row in LISTS if not only or only in row[0]]
    timings = {label: [] for label, _u, _p in lists}
    timings[TRIVIAL] = []
    queries = {}
    for label, user, path in lists:  # warm up; keep each URL's queries of the last request
        response = clients[user].get(path)
        assert response.status_code == 200, (label, response.status_code)
    for _round in range(requests):
        for label, user, path in lists:
            started = time.perf_counter()
            trivial_client.get(TRIVIAL)
            timings[TRIVIAL].append(time.perf_counter() - started)
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                clients[user].get(path)
                timings[label].append(time.perf_counter() - started)
            queries[label] = captured.captured_queries
    trivial95 = p(timings[TRIVIAL], 0.95)
    claims = connection.cursor()
    claims.execute("SELECT count(*) FROM claims_claim")
    print(f"\n{claims.fetchone()[0]:,} claims; {requests} requests per URL; trivial view p95 {trivial95 * 1000:.2f} ms\n")
    print("| list | user | p50 ms | p95 ms | p95 ÷ trivial | queries | slowest query: Execution Time ms | all queries ms |")
    print("|---|---|---|---|---|---|---|---|")
    plans = {}
    for label, user, _path in lists:
        explained = sorted(
            (
                (execution_time(plan), plan, q["sql"])
                for q in queries[label]
                if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))  # not BEGIN, SAVEPOINT, the ledger's INSERT
                for plan in [explain(q["sql"])]
            ),
            key=lambda item: -item[0],
        )
        plans[label] = explained
        print(
            f"| {label} | {user} | {p(timings[label], 0.5) * 1000:.1f} | {p(timings[label], 0.95) * 1000:.1f} | "
            f"{p(timings[label], 0.95) / trivial95:.1f} | {len(queries[label])} | {explained[0][0]:.2f} | "
            f"{sum(item[0] for item in explained):.2f} |"
        )
    if show_plans:
        for label, user, path in lists:
            print(f"\n### {label} ({user}, {path}): the slowest query\n")
            _ms, plan, sql = plans[label][0]
            print(sql[:800] + (" …" if len(sql) > 800 else ""))
            print(plan)


def execution_time(plan: str) -> float:
    return float(plan.rsplit("Execution Time: ", 1)[1].split(" ms")[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--explain", action="store_true", help="print the plan of each list's slowest query")
    parser.add_argument("--only", help="only the lists whose label contains this")
    args = parser.parse_args()
    run(args.requests, args.explain, args.only)


if __name__ == "__main__":
    main()
