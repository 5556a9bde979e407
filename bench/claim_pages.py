"""A claim's pages as its lines grow: the department reviewer's task page (the claim, its lines
and the decision form: two selects and a "fix" box a line) and the claim page, for a claim of
``--small`` lines and one of ``--large`` (a roster may hold 20,000; 2,000 is a large class).

    SECRET_KEY=bench .venv/bin/python bench/claim_pages.py [--small 20] [--large 2000] [--requests 3]

In one process (Django's test client, signed in: the view, its queries and its template; no
server, no network), against ``claims_bench_pages`` (made once: migrate, seed_demo; kept and
migrated after), on two claims the provider's clerk creates and submits for the run. Each page is
asked ``--requests`` times, small and large in turn. Prints, per page and size: the CPU p50
(time.process_time, this process), the statements, the bytes of the page and of it gzipped (as a
browser that asks is sent it), then the ratio of the large claim's CPU per line to the small's:
1.0 is a page whose cost grows no faster than its lines.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import PASSWORD, database_url, manage, psql  # noqa: E402

DATABASE = "claims_bench_pages"

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--small", type=int, default=20)
parser.add_argument("--large", type=int, default=2000)
parser.add_argument("--requests", type=int, default=3)
ARGS = parser.parse_args()

if psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'") == "1":
    manage(DATABASE, "migrate", "-v0")
else:
    psql(f'CREATE DATABASE "{DATABASE}"')
    manage(DATABASE, "migrate", "-v0")
    manage(DATABASE, "seed_demo", "--password", PASSWORD)
os.environ.update(
    DATABASE_URL=database_url(DATABASE),
    DEBUG="False",
    SECURE_SSL_REDIRECT="False",
    ALLOWED_HOSTS="testserver",
    DJANGO_SETTINGS_MODULE="config.settings",
)
os.environ.pop("REDIS_URL", None)  # nothing here is queued anywhere real
os.environ.setdefault("SECRET_KEY", "bench-only")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from claims.models import Claim  # noqa: E402
from claims.services import create_claim  # noqa: E402
from claims.validators import resident_id_check_char  # noqa: E402
from workflow.selectors import open_task_of_claim  # noqa: E402
from workflow.services import submit_claim  # noqa: E402


def claim_of(count: int, first: int):
    """A submitted claim of ``count`` electricians, people and certificates of their own (this run's)."""
    today = timezone.localdate()
    lines = []
    for serial in range(first, first + count):
        first17 = f"331081{datetime.date(1960, 1, 1) + datetime.timedelta(days=serial // 1000):%Y%m%d}{serial % 1000:03d}"
        lines.append({
            "id_number": first17 + resident_id_check_char(first17), "name": f"学员{serial}", "occupation": "电工",
            "level": "senior", "certificate_type": "special_operation", "certificate_number": f"BP-{serial:08d}",
            "certificate_date": (today - datetime.timedelta(days=30)).isoformat(), "training_days": 10, "stated_cost": "450.00",
        })  # fmt: skip
    clerk = get_user_model().objects.get(username="provider_clerk")
    claim = create_claim(
        user=clerk,
        data={
            "department": "WL-YJJ", "policy": "S3", "class_name": f"页面基准 {count} 人",
            "training_start": (today - datetime.timedelta(days=60)).isoformat(),
            "training_end": (today - datetime.timedelta(days=40)).isoformat(), "lines": lines,
        },
    )  # fmt: skip
    submit_claim(user=clerk, claim=claim)
    claim.refresh_from_db()
    return claim


def measured(client: Client, url: str) -> tuple[float, int, int, int | None]:
    """(CPU seconds, statements, bytes, bytes gzipped) of one GET."""
    statements = []

    def counted(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        started = time.process_time()
        response = client.get(url)
        spent = time.process_time() - started
    assert response.status_code == 200, (url, response.status_code)
    packed = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
    compressed = packed.get("Content-Encoding") == "gzip"  # (not before the site compressed its pages)
    return spent, len(statements), len(response.content), len(packed.content) if compressed else None


def main() -> None:
    # This run's people: after every serial an earlier run used (no repeat flags between runs).
    first = Claim.objects.count() * 100_000 + 1
    claims = {size: claim_of(size, first + index * 50_000) for index, size in enumerate((ARGS.small, ARGS.large))}
    reviewer = Client()
    reviewer.force_login(get_user_model().objects.get(username="dept_reviewer"))
    pages = {
        "task page (decision form)": lambda claim: reverse("approvals:task", args=[open_task_of_claim(claim).pk]),
        "claim page": lambda claim: reverse("approvals:claim", args=[claim.pk]),
    }
    samples: dict[tuple[str, int], list] = {}
    for name, url_of in pages.items():
        for claim in claims.values():
            reviewer.get(url_of(claim))  # what a process reads once (content types, labels)
        for _round in range(ARGS.requests):
            for size, claim in claims.items():
                samples.setdefault((name, size), []).append(measured(reviewer, url_of(claim)))

    print(f"\n{os.cpu_count()} cores; {ARGS.requests} requests of each; database {DATABASE}\n")
    print("| page | lines | CPU p50 (ms) | per line (ms) | statements | bytes | gzipped |")
    print("|---|---|---|---|---|---|---|")
    per_line = {}
    for (name, size), values in samples.items():
        cpu = statistics.median(value[0] for value in values)
        per_line[(name, size)] = cpu / size
        statements, plain, packed = values[-1][1:]
        packed_text = f"{packed:,}" if packed is not None else "not compressed"
        print(f"| {name} | {size:,} | {cpu * 1000:,.0f} | {cpu / size * 1000:.2f} | {statements} | {plain:,} | {packed_text} |")
    print()
    for name in pages:
        ratio = per_line[(name, ARGS.large)] / per_line[(name, ARGS.small)]
        print(
            f"ratio: {name}, CPU per line at {ARGS.large:,} lines ÷ at {ARGS.small:,} = {ratio:.2f} (≤ 1: no worse than linear)"
        )


if __name__ == "__main__":
    main()
