"""Decisions per second through HTTP, against what PostgreSQL itself does on the same server (issue 12).

    SECRET_KEY=bench .venv/bin/python bench/transitions.py [--claims 20000] [--seconds 30]

A database ``claims_bench_transitions`` is made afresh (migrated, seed_demo, generate_load
--claims N: claims in every state, hundreds open at each review step). gunicorn serves it as in
production (DEBUG=False, persistent connections, ``--workers`` processes), with a Celery worker on
Redis (``--redis``, db 6) for the e-mails each decision sends. 8 clients (``--clients``),
each signed in with an API token as one of the generated department or HR reviewers, read their
inbox (GET /api/v1/tasks/) and decide what is in it: POST take, then POST decide "approve"; a
department approval opens an HR task, which the HR clients decide in turn. A decision is the
take, the read of the claim (GET /api/v1/claims/{id}/) and the decide (approve; a line with a flag no
one overrode rejected with its code); one another client took first (409) is not counted.

The baseline is ``pgbench -N`` (its simple-update transactions, 8 clients) on a pgbench database
of the same server, run before and after the decisions; the ratio is decisions/s ÷ their mean TPS.
Issue 12's target: ≥ 0.08. Also printed: the bound this API shape sets: the rate of the cheapest
authenticated read the API has (serving.CHEAPEST_READ, by as many clients) ÷ the 3 requests of a
decision ÷ pgbench's TPS. The statements one decision makes are counted by
tests/test_inbox_read_model.py::test_a_decision_takes_as_many_queries_for_twenty_lines_as_for_two
(a query counter needs the test database).
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import re
import sys
import threading
import time

from serving import (
    CHEAPEST_READ,
    CpuMeter,
    Server,
    Worker,
    api_token,
    cpu_table,
    ensure_database,
    p,
    pgbench_tps,
    psql,
    purge_queues,
    request_rate,
)


def usernames(database: str, prefix: str) -> list[str]:
    """generate_load's users whose names start with ``prefix`` (demo/load.py: _ensure_staff)."""
    rows = psql(f"SELECT username FROM auth_user WHERE username LIKE '{prefix}%' ORDER BY username", database)
    return [line for line in rows.splitlines() if line]


class Client:
    def __init__(self, server: Server, username: str):
        self.server = server
        self.username = username
        self.headers = {"Authorization": f"Token {api_token(server, username)}", "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        self.requests: collections.Counter[str] = collections.Counter()  # "POST /api/v1/tasks/{id}/take/" → how many

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        self.requests[f"{method} {re.sub(r'/[0-9]+/', '/{id}/', path)}"] += 1
        payload = json.dumps(body).encode() if body is not None else None
        self.connection.request(method, path, body=payload, headers=self.headers)
        response = self.connection.getresponse()
        content = response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        return response.status, (json.loads(content) if content else {})

    def open_tasks(self, rng: random.Random) -> list[tuple[int, int, bool]]:
        """(task, claim, already mine) of the first page of the inbox that no one else holds."""
        status, page = self.call("GET", "/api/v1/tasks/")
        if status != 200:
            raise RuntimeError(f"{self.username}: GET /api/v1/tasks/ answered {status}")
        mine = [
            (task["id"], task["claim"], task["assigned_to"] == self.username)
            for task in page["results"]
            if task["assigned_to"] in (None, self.username)
        ]
        rng.shuffle(mine)  # two HR reviewers of one city read the same list: start at different ends
        return mine


def decision_on(claim: dict) -> dict:
    """What a reviewer who read the claim decides: approve, but a line with a flag no one overrode
    is rejected with its rule's code (HR may not approve it; RULES N6); a claim whose every line
    has one is rejected with the first line's code."""
    rejected = [
        {"line": line["line_no"], "decision": "reject", "reason": flags[0]["code"]}
        for line in claim["lines"]
        if (flags := [flag for flag in line["flags"] if not flag["overridden"]])
    ]
    if rejected and len(rejected) == len(claim["lines"]):  # nothing left to approve: the claim is refused
        return {"decision": "reject", "reason": rejected[0]["reason"], "comment": "bench: 全部行有预警"}
    return {"decision": "approve", "comment": "bench: 材料齐全", "lines": rejected}


FLAGGED_LINE = re.compile(r"(\d+)\D+?([A-Z][A-Z0-9_]*)")  # "第 4 行（N9）": line 4, code N9


def rejecting_flagged(refusal: dict) -> dict:
    lines = []
    for named in refusal["error"]["fields"]["lines"]:
        found = FLAGGED_LINE.search(named)
        lines.append({"line": int(found.group(1)), "decision": "reject", "reason": found.group(2)})
    return {"decision": "approve", "comment": "bench: 预警行驳回", "lines": lines}


def decide_for(seconds: float, clients: list[Client]) -> tuple[list[float], dict[str, int], list[str]]:
    """Every client decides what its inbox holds until ``seconds`` have passed; (decision times,
    the refusals that are no failure by their status and code, failures)."""
    times: list[float] = []
    lost: dict[str, int] = {}
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def work(client: Client, number: int) -> None:
        rng = random.Random(number)
        queue: list[tuple[int, int, bool]] = []
        mine: list[float] = []
        missed: dict[str, int] = {}
        while time.perf_counter() < deadline:
            if not queue:
                queue = client.open_tasks(rng)
                if not queue:
                    time.sleep(0.05)
                    continue
            task, claim, taken = queue.pop()
            started = time.perf_counter()
            status, answer = (200, {}) if taken else client.call("POST", f"/api/v1/tasks/{task}/take/")
            if status == 200:
                status, answer = client.call("GET", f"/api/v1/claims/{claim}/")
            if status == 200:
                status, answer = client.call("POST", f"/api/v1/tasks/{task}/decide/", decision_on(answer))
            if status == 400 and answer.get("error", {}).get("code") == "active_flags":
                # The review's recheck flagged lines (generated trainees repeat across claims): as a
                # reviewer would, reject them with their codes, as the refusal names them.
                partial = rejecting_flagged(answer)
                status, answer = client.call("POST", f"/api/v1/tasks/{task}/decide/", partial)
                if status == 400:  # every line flagged: the claim is refused, with the first line's code
                    whole = {"decision": "reject", "reason": partial["lines"][0]["reason"], "comment": "bench: 全部行有预警"}
                    status, answer = client.call("POST", f"/api/v1/tasks/{task}/decide/", whole)
            if status == 200:
                mine.append(time.perf_counter() - started)
            elif status in (403, 404, 409):  # another client took it first, or it moved on
                reason = f"{status} {answer.get('error', {}).get('code', '')}".strip()
                missed[reason] = missed.get(reason, 0) + 1
                queue = []  # as a reviewer would: back to the inbox, which no longer lists it
            else:
                with lock:
                    failures.append(f"{client.username} task {task}: {status} {str(answer)[:200]}")
                return
        with lock:
            times.extend(mine)
            for reason, count in missed.items():
                lost[reason] = lost.get(reason, 0) + count

    threads = [threading.Thread(target=work, args=(client, n)) for n, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, lost, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=20_000, help="claims generated before the decisions")
    parser.add_argument("--seconds", type=float, default=30, help="how long the clients decide")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (about 2 × cores)")
    parser.add_argument("--concurrency", type=int, default=2, help="the Celery worker's processes (the Procfile's default)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/6", help="the broker of the worker and the web processes")
    parser.add_argument("--database", default="claims_bench_transitions", help="made afresh on each run")
    args = parser.parse_args()

    psql(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    ensure_database(args.database, args.claims)
    department = usernames(args.database, "load_reviewer_")
    hr = usernames(args.database, "load_hr_reviewer_")
    # Half the clients review for departments, half for HR (whose work the first half makes).
    chosen = department[: args.clients - args.clients // 2] + hr[: args.clients // 2]
    before = pgbench_tps(simple_update=True, clients=args.clients, seconds=min(args.seconds, 20))
    purge_queues(args.database, args.redis)
    worker = Worker(args.database, args.redis, args.concurrency)  # the e-mails of each decision, as in production
    server = Server(args.database, args.workers, extra_env={"REDIS_URL": args.redis})
    try:
        clients = [Client(server, username) for username in chosen]
        decide_for(2, clients)  # warm each worker's connection and caches
        for client in clients:
            client.requests.clear()
        meter = CpuMeter({"web (gunicorn)": server.process.pid, "Celery worker": worker.process.pid})
        times, lost, failures = decide_for(args.seconds, clients)
        elapsed, cpu_spent = meter.stop()
        # The cheapest authenticated read the API has, asked by as many clients: a decision's
        # three requests each do at least this much.
        token = clients[0].headers["Authorization"].split()[1]
        reads = request_rate(server, token, [CHEAPEST_READ] * len(clients), min(args.seconds, 10))
    finally:
        server.stop()
        worker.stop()
    after = pgbench_tps(simple_update=True, clients=args.clients, seconds=min(args.seconds, 20))
    if failures:
        sys.exit("decisions failed:\n" + "\n".join(failures[:10]))
    if not times:
        sys.exit("no decision was made: the generated inboxes were empty?")

    rate = len(times) / elapsed
    baseline = (before + after) / 2
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"]
    print(f"\n{os.cpu_count()} cores, load average {' '.join(load)}; {len(clients)} clients ({', '.join(chosen)})")
    print(f"gunicorn {args.workers} workers, Celery worker --concurrency {args.concurrency}; {args.claims:,} generated claims\n")
    print("| what | figure |\n|---|---|")
    refused = ", ".join(f"{count} × {reason}" for reason, count in sorted(lost.items())) or "none"
    print(f"| decisions (take + read + decide) in {elapsed:.0f} s | {len(times):,} |")
    print(f"| tasks another client took first, or refused (status and code) | {refused} |")
    print(f"| decisions per second | {rate:.1f} |")
    print(f"| one decision p50 / p95 (ms) | {p(times, 0.5) * 1000:.0f} / {p(times, 0.95) * 1000:.0f} |")
    print(f"| the cheapest authenticated read (GET {CHEAPEST_READ}), {len(clients)} clients, per second | {reads:,.0f} |")
    print(f"| pgbench -N TPS, before / after | {before:,.0f} / {after:,.0f} |")
    print(f"\nratio: decisions/s ÷ pgbench -N TPS = {rate:.1f} ÷ {baseline:,.0f} = {rate / baseline:.4f} (target ≥ 0.08)")
    print(
        f"bound: a decision is 3 requests; were each as cheap as that read, {reads:,.0f} ÷ 3 = {reads / 3:,.0f}/s,"
        f" ÷ pgbench -N TPS = {reads / 3 / baseline:.4f}"
    )
    requests = sum((client.requests for client in clients), collections.Counter())
    print(
        "requests per decision: "
        + ", ".join(f"{kind} {count / max(len(times), 1):.2f}" for kind, count in sorted(requests.items()))
    )
    print(f"\nwhere the CPU went while the clients decided ({elapsed:.0f} s × {os.cpu_count()} cores):\n")
    print(cpu_table(elapsed, cpu_spent, per=len(times), unit="decision"))


if __name__ == "__main__":
    main()
