"""What one decision costs the web process (issue 12: "a decision in a bounded, small number of
queries and a few milliseconds of Python"): the CPU time and the statements of each request a
reviewer makes for it (take the task, read the claim, decide), against claims generate_load made.

    SECRET_KEY=bench .venv/bin/python bench/decision_cost.py [--claims 20000] [--decisions 40]

In one process (Django's test client with an API token: the middleware, the view, its queries and
its serializers; no server, no network), against ``claims_bench_transitions`` (made as
bench/transitions.py makes it, or kept from its last run). The e-mails of each decision go to a
Redis queue (``--redis``, db 7, emptied after), as in production, rather than being sent in the
request. Each request's CPU is time.process_time() around it: this process's own, not the
database's. The baseline, asked as often in the same run: /healthz and the cheapest authenticated
read (serving.CHEAPEST_READ). Prints p50 of each, its ratio to the cheapest read, and the
statements (p50 and most)."""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import CHEAPEST_READ, database_url, ensure_database, p, purge_queues  # noqa: E402
from transitions import decision_on, rejecting_flagged  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--claims", type=int, default=20_000, help="claims generate_load makes if the database is new")
parser.add_argument("--decisions", type=int, default=40)
parser.add_argument("--redis", default="redis://127.0.0.1:6379/7", help="where the decisions' e-mail tasks are queued")
parser.add_argument("--database", default="claims_bench_transitions")
parser.add_argument(
    "--profile", metavar="FILE", help="write cProfile's statistics of the POST decide requests (CPU time) to FILE"
)
parser.add_argument(
    "--statements",
    action="store_true",
    help="print each statement of the first request of each kind, with the project's line that issued it",
)
ARGS = parser.parse_args()

ensure_database(ARGS.database, ARGS.claims)
os.environ.update(
    DATABASE_URL=database_url(ARGS.database),
    REDIS_URL=ARGS.redis,
    DEBUG="False",
    SECURE_SSL_REDIRECT="False",
    ALLOWED_HOSTS="testserver",
    DJANGO_SETTINGS_MODULE="config.settings",
)
os.environ.setdefault("SECRET_KEY", "bench-only")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.tokens import issue_token  # noqa: E402


class Reviewer:
    def __init__(self, user):
        self.user = user
        issued, _revoked = issue_token(user)
        self.client = Client(HTTP_AUTHORIZATION=f"Token {issued.key}")

    def call(self, method: str, path: str, body: dict | None = None):
        if method == "GET":
            return self.client.get(path)
        return self.client.post(path, json.dumps(body or {}), content_type="application/json")


PROFILE = cProfile.Profile(time.process_time) if ARGS.profile else None
PROJECT = str(Path(__file__).resolve().parent.parent)
STATEMENTS_SHOWN: set[str] = set()


def issued_by(execute, sql, params, many, context):
    """Remembers which of the project's lines issued a statement: the innermost frame outside the
    libraries (and outside this benchmark)."""
    frames = [
        frame
        for frame in traceback.extract_stack()
        if frame.filename.startswith(PROJECT) and "/.venv/" not in frame.filename and "/bench/" not in frame.filename
    ]
    where = f"{frames[-1].filename[len(PROJECT) + 1 :]}:{frames[-1].lineno} {frames[-1].name}" if frames else "(libraries)"
    ISSUED.append((where, " ".join(sql.split())[:110]))
    return execute(sql, params, many, context)


ISSUED: list[tuple[str, str]] = []


def measured(samples: dict, kind: str, reviewer: Reviewer, method: str, path: str, body: dict | None = None):
    if ARGS.statements and kind not in STATEMENTS_SHOWN:
        # Shown, not measured: finding each statement's line costs more than the statement.
        STATEMENTS_SHOWN.add(kind)
        ISSUED.clear()
        with connection.execute_wrapper(issued_by):
            response = reviewer.call(method, path, body)
        print(f"\n{kind}: {len(ISSUED)} statements")
        for number, (where, sql) in enumerate(ISSUED, 1):
            print(f"{number:3} {where:64} {sql}")
        return response
    profiled = PROFILE is not None and kind.startswith("POST decide")
    with CaptureQueriesContext(connection) as queries:
        started = time.process_time()
        if profiled:
            PROFILE.enable()
        response = reviewer.call(method, path, body)
        if profiled:
            PROFILE.disable()
        spent = time.process_time() - started
    samples.setdefault(kind, []).append((spent, len(queries.captured_queries)))
    return response


def decide_inboxes(reviewers: list[Reviewer], decisions: int, samples: dict) -> int:
    """Each reviewer in turn decides what their inbox holds until ``decisions`` are made."""
    decided = 0
    for reviewer in reviewers:
        inbox = reviewer.call("GET", "/api/v1/tasks/").json()["results"]
        for task in inbox:
            if decided >= decisions:
                return decided
            if task["assigned_to"] not in (None, reviewer.user.username):
                continue
            # The baseline, between the requests measured: the same process, caches and connection.
            measured(samples, "GET /healthz (baseline)", reviewer, "GET", "/healthz")
            measured(samples, f"GET {CHEAPEST_READ} (baseline)", reviewer, "GET", CHEAPEST_READ)
            if task["assigned_to"] is None:
                taken = measured(samples, "POST take", reviewer, "POST", f"/api/v1/tasks/{task['id']}/take/")
                if taken.status_code != 200:
                    continue
            claim = measured(samples, "GET claim", reviewer, "GET", f"/api/v1/claims/{task['claim']}/").json()
            decide = f"POST decide at {task['step']}"
            answer = measured(samples, decide, reviewer, "POST", f"/api/v1/tasks/{task['id']}/decide/", decision_on(claim))
            if answer.status_code == 400 and answer.json().get("error", {}).get("code") == "active_flags":
                # Refused for lines the review's recheck flagged: rejected with their codes, as a reviewer would.
                partial = rejecting_flagged(answer.json())
                answer = measured(samples, f"{decide}, again", reviewer, "POST", f"/api/v1/tasks/{task['id']}/decide/", partial)
            if answer.status_code == 200:
                decided += 1
    return decided


def main() -> None:
    users = get_user_model().objects.order_by("username")
    # Half the decisions by department reviewers, half by HR reviewers (demo/load.py: _ensure_staff).
    by_step = [
        [Reviewer(user) for user in users.filter(username__startswith=prefix)]
        for prefix in ("load_reviewer_", "load_hr_reviewer_")
    ]
    reviewers = [reviewer for group in by_step for reviewer in group]
    samples: dict[str, list[tuple[float, int]]] = {}
    decided = sum(decide_inboxes(group, ARGS.decisions // 2, samples) for group in by_step)
    purge_queues(ARGS.database, ARGS.redis)
    if not decided:
        sys.exit("no open task left to decide: drop the database (dropdb claims_bench_transitions) and run again")

    cheapest = p([cpu for cpu, _n in samples[f"GET {CHEAPEST_READ} (baseline)"]], 0.5)
    print(f"\n{decided} decisions by {len(reviewers)} generated reviewers; {os.cpu_count()} cores\n")
    print("| request | asked | CPU p50 (ms) | ÷ cheapest read | statements p50 / most |")
    print("|---|---|---|---|---|")
    for kind, values in samples.items():
        cpu = p([spent for spent, _n in values], 0.5)
        counts = [count for _spent, count in values]
        print(f"| {kind} | {len(values)} | {cpu * 1000:.1f} | {cpu / cheapest:.1f} | {p(counts, 0.5)} / {max(counts)} |")
    decide = p([cpu for kind, values in samples.items() if kind.startswith("POST decide") for cpu, _n in values], 0.5)
    if PROFILE is not None:
        PROFILE.dump_stats(ARGS.profile)
        print(f"\n(profiled: the decide requests' CPU above includes cProfile's; its statistics are in {ARGS.profile})")
    print(
        f"\nratio: POST decide CPU (every step) ÷ the cheapest authenticated read's = {decide * 1000:.1f} ÷ {cheapest * 1000:.1f} = {decide / cheapest:.1f}"
    )


if __name__ == "__main__":
    main()
