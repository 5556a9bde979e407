"""Whole claims per second, from the provider's first POST to paid, against PostgreSQL's own
TPC-B transactions on the same server (issue 12).

    SECRET_KEY=bench .venv/bin/python bench/lifecycle.py [--claims 200] [--load-claims 1000] [--batch-size 100]

A database ``claims_bench_lifecycle`` (``--database``) is made afresh: migrated, seed_demo, and
``generate_load --claims 1000`` (``--load-claims``; 0 for the demo alone) so the tables are not
empty. gunicorn serves it as in production (DEBUG=False, persistent connections, ``--workers``
processes) and a real ``celery -A config worker`` (as the Procfile runs it) takes the tasks the
requests enqueue through Redis db 7 (``--redis``): the notifications of opened tasks and the
release of a payment batch, which writes the bank files.

Each claim travels as tests/test_api_journey.py walks it, through the JSON API only:

1. provider_clerk creates it (POST /api/v1/claims/, two trainees of its own, S3 at WL-YJJ) and
   submits it;
2. dept_reviewer takes its task, reads the claim and approves;
3. hr_reviewer takes, reads and approves: the final approval reserves the lines' amount against
   WL-YJJ's allocation of the year (seed_demo's accepted plan, demo/funds.py);
4. finance_officer builds payment batches of ``--batch-size`` claims (POST /api/v1/payment-batches/);
5. finance_officer2 releases each (four eyes); the worker writes its bank files;
6. finance_officer downloads each batch's payment file and uploads the bank's answer to it
   (every transfer 成功) to /api/v1/payment-batches/{id}/results/: the lines are paid; the worker
   then ends the claims (``paid``; the reconciliation's ``settling_since`` is null once it is done;
   checked in the database at the end).

Steps 1–3 run on 8 client threads (``--clients``), one claim at a time each; the batches are a
finance desk's work, one request after another. Claims/s is N ÷ the seconds from the first POST
to the last claim ended (the release and the results include waiting for the worker). The baseline is pgbench's
TPC-B-like script (8 clients) on a pgbench database of the same server, run before and after; the
ratio is claims/s ÷ their mean TPS. Issue 12's target: ≥ 0.02. Also printed: the bound this API
shape sets: the rate of the cheapest authenticated read the API has (serving.CHEAPEST_READ) ÷ the
8 requests of a claim ÷ pgbench's TPS.

The claims' money: each line states a cost of 100.00 (S3 pays the lesser of it and the level's cap),
so a claim is 200.00 and seed_demo's WL-YJJ allocation (600,000.00) holds 3,000 of them; the bench
reads what is left of the allocation first and refuses to start when N claims would not fit.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, for its ID check character

from serving import (
    CHEAPEST_READ,
    PASSWORD,
    PROJECT,
    CpuMeter,
    Server,
    Worker,
    api_token,
    bank_answer,
    cpu_table,
    ensure_database,
    environment,
    p,
    pgbench_tps,
    psql,
    purge_queues,
    request_rate,
)

from claims.validators import resident_id_check_char  # noqa: E402 - plain Python, no Django setup needed

LINES_PER_CLAIM = 2
LINE_COST = Decimal("100.00")
DEPARTMENT = "WL-YJJ"
# create, submit; then take, read and decide at the department and at HR (lifecycle below)
REQUESTS_PER_CLAIM = 8


def resident_id(serial: int) -> str:
    """A valid resident ID number no generated or demo trainee has: born from 1 Jan 1961 on
    (generate_load's are born from 1965, the demo's in 1990), a thousand per birth date."""
    birth = datetime.date(1961, 1, 1) + datetime.timedelta(days=serial // 1000)
    first17 = f"331081{birth:%Y%m%d}{serial % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def claim_body(number: int) -> dict:
    """Claim ``number`` of the run: its own trainees and certificates, so the eligibility rules
    (three trainings a person a year, no repeated certificate) flag nothing."""
    today = datetime.date.today()
    lines = []
    for n in range(LINES_PER_CLAIM):
        serial = number * LINES_PER_CLAIM + n
        lines.append(
            {
                "id_number": resident_id(serial),
                "name": f"学员{serial}",
                "occupation": "电工",
                "level": "senior",
                "certificate_type": "special_operation",
                "certificate_number": f"T-{today.year}-B{serial:06d}",
                "certificate_date": (today - datetime.timedelta(days=30)).isoformat(),
                "training_days": 10,
                "stated_cost": f"{LINE_COST:.2f}",
            }
        )
    return {
        "department": DEPARTMENT,
        "policy": "S3",
        "class_name": f"低压电工作业 {today.year} 压测第{number + 1}期",
        "training_start": (today - datetime.timedelta(days=60)).isoformat(),
        "training_end": (today - datetime.timedelta(days=40)).isoformat(),
        "lines": lines,
    }


class Client:
    """One person's API session: a token, a kept-alive connection."""

    def __init__(self, server: Server, username: str, token: str | None = None):
        self.server = server
        self.username = username
        self.token = token or api_token(server, username)
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)

    def call(self, method: str, path: str, body=None, *, expect=(200,), content_type="application/json") -> dict | bytes:
        headers = {"Authorization": f"Token {self.token}"}
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        if body is not None:
            headers["Content-Type"] = content_type
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        content = response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=300)
        if response.status not in expect:
            raise RuntimeError(f"{self.username}: {method} {path} answered {response.status}: {content[:300]!r}")
        if (response.getheader("Content-Type") or "").startswith("application/json"):
            return json.loads(content)
        return content


def on_threads(clients: list[Client], items: list, work) -> list[float]:
    """``work(client, item)`` for every item, the clients taking the next item as they finish;
    the seconds of each, or the first failure raised here."""
    times: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    queue = list(reversed(items))

    def run(client: Client) -> None:
        while True:
            with lock:
                if not queue or failures:
                    return
                item = queue.pop()
            started = time.perf_counter()
            try:
                work(client, item)
            except Exception as error:  # noqa: BLE001 - reported with the others below
                with lock:
                    failures.append(str(error))
                return
            with lock:
                times.append(time.perf_counter() - started)

    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError("; ".join(failures[:5]))
    return times


def funds_left(database: str) -> Decimal:
    """What is left of WL-YJJ's allocation of this year (seed_demo's accepted plan)."""
    left = psql(
        "SELECT a.amount - a.committed FROM payments_allocation a "
        "JOIN payments_fundaccount f ON f.id = a.fund_account_id JOIN claims_department d ON d.id = a.department_id "
        f"WHERE d.code = '{DEPARTMENT}' AND f.year = {datetime.date.today().year}",
        database,
    )
    return Decimal(left or "0")


def multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def wait_for_worker(batches: list[int], what: str, done) -> None:
    """Until the worker has done its part on every batch (``done(batch)``), at most 600 s."""
    waiting = set(batches)
    deadline = time.monotonic() + 600
    while waiting and time.monotonic() < deadline:
        waiting = {batch for batch in waiting if not done(batch)}
        if waiting:
            time.sleep(0.05)
    if waiting:
        raise RuntimeError(f"batches {sorted(waiting)} were not {what} within 600 s: is the worker running?")


def lifecycle(server: Server, claims: int, clients: int, batch_size: int) -> tuple[dict[str, tuple[float, list[float]]], int]:
    """Every claim from the first POST to paid; per phase (seconds, times of its units); the batches."""
    phases: dict[str, tuple[float, list[float]]] = {}

    def connections(username: str) -> list[Client]:
        """``clients`` connections of one person: one token (a login replaces the person's token)."""
        token = api_token(server, username)
        return [Client(server, username, token) for _ in range(clients)]

    clerks, reviewers, hr = connections("provider_clerk"), connections("dept_reviewer"), connections("hr_reviewer")
    finance, finance2 = Client(server, "finance_officer"), Client(server, "finance_officer2")
    ids: list[int] = []
    task_of: dict[int, int] = {}
    lock = threading.Lock()

    def create_and_submit(client: Client, number: int) -> None:
        claim = client.call("POST", "/api/v1/claims/", claim_body(number), expect=(201,))
        if any(line["flags"] for line in claim["lines"]):
            raise RuntimeError(f"claim {number} flagged: {[line['flags'] for line in claim['lines']]}")
        claim = client.call("POST", f"/api/v1/claims/{claim['id']}/submit/")
        with lock:
            ids.append(claim["id"])
            task_of[claim["id"]] = claim["task"]

    def review(client: Client, claim_id: int) -> None:
        task = task_of[claim_id]
        client.call("POST", f"/api/v1/tasks/{task}/take/")
        client.call("GET", f"/api/v1/claims/{claim_id}/")  # the reviewer reads what they approve
        claim = client.call("POST", f"/api/v1/tasks/{task}/decide/", {"decision": "approve", "comment": "bench: 材料齐全"})
        with lock:
            task_of[claim_id] = claim["task"]

    started = time.perf_counter()
    phase = time.perf_counter()
    times = on_threads(clerks, list(range(claims)), create_and_submit)
    phases["provider creates and submits"] = (time.perf_counter() - phase, times)
    ids.sort()
    for name, people in (("department reviewer takes and approves", reviewers), ("HR reviewer takes and approves", hr)):
        phase = time.perf_counter()
        times = on_threads(people, list(ids), review)
        phases[name] = (time.perf_counter() - phase, times)

    batches: list[int] = []
    phase = time.perf_counter()
    times = []
    for first in range(0, len(ids), batch_size):
        one = time.perf_counter()
        batch = finance.call("POST", "/api/v1/payment-batches/", {"claims": ids[first : first + batch_size]}, expect=(201,))
        batches.append(batch["id"])
        times.append(time.perf_counter() - one)
    phases["finance builds the batches"] = (time.perf_counter() - phase, times)

    phase = time.perf_counter()
    times = []
    for batch in batches:
        one = time.perf_counter()
        finance2.call("POST", f"/api/v1/payment-batches/{batch}/release/", {"password": PASSWORD}, expect=(200, 202))
        times.append(time.perf_counter() - one)
    wait_for_worker(
        batches, "released", lambda batch: finance.call("GET", f"/api/v1/payment-batches/{batch}/")["status"] == "released"
    )
    phases["second officer releases; the worker writes the bank files"] = (time.perf_counter() - phase, times)

    phase = time.perf_counter()
    times = []
    for batch in batches:
        one = time.perf_counter()
        payment_file = finance.call("GET", f"/api/v1/payment-batches/{batch}/files/payment_csv/")
        body, content_type = multipart(f"回单-{batch}.csv", bank_answer(payment_file))
        summary = finance.call("POST", f"/api/v1/payment-batches/{batch}/results/", body, content_type=content_type)
        if not summary["reconciled"]:
            raise RuntimeError(f"batch {batch}: the result left transfers without a result: {summary}")
        times.append(time.perf_counter() - one)
    # The worker ends the claims after each upload commits (workflow.disbursement.settle_batch).
    wait_for_worker(
        batches,
        "settled",
        lambda batch: finance.call("GET", f"/api/v1/payment-batches/{batch}/reconciliation/")["settling_since"] is None,
    )
    phases["bank result imported; the worker ends the claims (paid)"] = (time.perf_counter() - phase, times)
    phases["whole"] = (time.perf_counter() - started, [])
    return phases, len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=200, help="claims taken from the first POST to paid")
    parser.add_argument("--load-claims", type=int, default=1000, help="claims generate_load puts in the database first")
    parser.add_argument("--batch-size", type=int, default=100, help="claims in one payment batch")
    parser.add_argument("--clients", type=int, default=8, help="client threads of the per-claim steps")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (about 2 × cores)")
    parser.add_argument("--concurrency", type=int, default=2, help="the Celery worker's processes (the Procfile's default)")
    parser.add_argument("--pgbench-seconds", type=float, default=20, help="each pgbench run, before and after")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7", help="the broker of the worker and the web processes")
    parser.add_argument("--database", default="claims_bench_lifecycle", help="made afresh on each run")
    args = parser.parse_args()
    if "bench" not in args.database:
        sys.exit("--database must have 'bench' in its name: it is dropped and made again")

    psql(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    if args.load_claims:
        ensure_database(args.database, args.load_claims)
    else:
        psql(f'CREATE DATABASE "{args.database}"')
        env = environment(args.database)
        python = str(PROJECT / ".venv" / "bin" / "python")
        subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=PROJECT, env=env, check=True)
        subprocess.run([python, "manage.py", "seed_demo", "--password", PASSWORD], cwd=PROJECT, env=env, check=True)
    needed = args.claims * LINES_PER_CLAIM * LINE_COST
    left = funds_left(args.database)
    if needed > left:
        sys.exit(f"{args.claims} claims need {needed} of {DEPARTMENT}'s allocation, {left} is left: run fewer")
    purge_queues(args.database, args.redis)  # a message left by an earlier run names rows of the database dropped above

    before = pgbench_tps(simple_update=False, clients=args.clients, seconds=args.pgbench_seconds)
    worker = Worker(args.database, args.redis, args.concurrency)
    server = Server(args.database, args.workers, extra_env={"REDIS_URL": args.redis})
    try:
        meter = CpuMeter({"web (gunicorn)": server.process.pid, "Celery worker": worker.process.pid})
        phases, batches = lifecycle(server, args.claims, args.clients, args.batch_size)
        elapsed, cpu_spent = meter.stop()
        # The bound of this API shape: the cheapest authenticated read, as many clients.
        reads = request_rate(server, api_token(server, "dept_reviewer"), [CHEAPEST_READ] * args.clients, 10)
    finally:
        server.stop()
        time.sleep(2)  # the last notifications
        tasks = worker.tasks_succeeded()
        worker.stop()
    after = pgbench_tps(simple_update=False, clients=args.clients, seconds=args.pgbench_seconds)

    paid = int(psql("SELECT count(*) FROM claims_claim WHERE status = 'paid' AND class_name LIKE '%压测%'", args.database))
    if paid != args.claims:
        sys.exit(f"{paid} of the {args.claims} claims reached paid")
    whole = phases.pop("whole")[0]
    rate = args.claims / whole
    baseline = (before + after) / 2
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"]
    print(f"\n{os.cpu_count()} cores, load average {' '.join(load)}; gunicorn {args.workers} workers, ", end="")
    print(f"Celery worker --concurrency {args.concurrency}; {args.load_claims:,} generated claims besides")
    print(
        f"{args.claims} claims of {LINES_PER_CLAIM} lines, {args.clients} client threads; {batches} batches of ≤{args.batch_size}"
    )
    print(f"worker tasks that succeeded: {', '.join(f'{name} {count}' for name, count in sorted(tasks.items())) or 'none'}\n")
    print("| phase | seconds | per claim (ms) | p95 of one request chain (ms) |\n|---|---|---|---|")
    for name, (seconds, times) in phases.items():
        print(f"| {name} | {seconds:.1f} | {seconds / args.claims * 1000:.1f} | {p(times, 0.95) * 1000:.0f} |")
    print(f"| **submission to paid** | **{whole:.1f}** | **{whole / args.claims * 1000:.1f}** | |")
    print(f"\n| claims paid per second | {rate:.2f} |\n|---|---|")
    print(f"| pgbench TPC-B TPS, before / after | {before:,.0f} / {after:,.0f} |")
    print(f"| the cheapest authenticated read (GET {CHEAPEST_READ}), {args.clients} clients, per second | {reads:,.0f} |")
    print(f"\nratio: claims/s ÷ pgbench TPC-B TPS = {rate:.2f} ÷ {baseline:,.0f} = {rate / baseline:.4f} (target ≥ 0.02)")
    print(
        f"bound: a claim is {REQUESTS_PER_CLAIM} requests besides its batch's; were each as cheap as that read,"
        f" {reads:,.0f} ÷ {REQUESTS_PER_CLAIM} = {reads / REQUESTS_PER_CLAIM:,.1f}/s,"
        f" ÷ pgbench TPC-B TPS = {reads / REQUESTS_PER_CLAIM / baseline:.4f}"
    )
    print(f"\nwhere the CPU went from the first submission to the last claim paid ({elapsed:.0f} s × {os.cpu_count()} cores):\n")
    print(cpu_table(elapsed, cpu_spent, per=args.claims, unit="claim"))


if __name__ == "__main__":
    main()
