"""Benchmark: import a 10,000-row roster on PostgreSQL, against a plain bulk insert.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/claims SECRET_KEY=bench \
        .venv/bin/python bench/import_roster.py [--rows 10000] [--repeat 3] [--keep]

DATABASE_URL names the server (and the credentials); the benchmark creates its own database
``claims_bench`` there (dropped and created again; dropped at the end unless --keep), migrates
it and runs seed_demo. Celery is not involved: the roster is received as the API would receive
it, then processed by ``claims.imports.process_roster`` in this process, as the worker would.

It prints, for each run: the wall time to read the file (openpyxl), to check every row
(claims.inputs.parse_line), and the whole import (read, check, price, flag, save the claim and
its lines, audit), then a plain ``bulk_create`` of the same number of ClaimLine rows for the
same trainees in the same database, and the ratio of the two.
"""

import argparse
import datetime
import io
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DATABASE = "claims_bench"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs, each with a new roster of new trainees")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DATABASE} database afterwards")
    return parser.parse_args()


def bench_database_url(server_url: str) -> tuple[str, str]:
    """(URL of the throwaway database, URL of the maintenance database) on the DATABASE_URL server."""
    parts = urlsplit(server_url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit("DATABASE_URL must name a PostgreSQL server (postgres://…): the benchmark is about PostgreSQL.")
    return urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}")), urlunsplit(parts._replace(path="/postgres"))


def recreate_database(maintenance_url: str, *, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        if not drop_only:
            connection.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')


def roster_bytes(rows: int, first_serial: int) -> bytes:
    """A filled template: distinct valid ID numbers, real date cells, labels as the drop-down lists give them."""
    from openpyxl import load_workbook

    from claims.roster import SHEET_TITLE, build_template
    from claims.validators import resident_id_check_char

    today = datetime.date.today()
    workbook = load_workbook(io.BytesIO(build_template()))
    sheet = workbook[SHEET_TITLE]
    sheet.delete_rows(2)
    for offset in range(rows):
        serial = first_serial + offset
        birth = datetime.date(1960, 1, 1) + datetime.timedelta(days=serial // 1000)
        first17 = f"331081{birth:%Y%m%d}{serial % 1000:03d}"
        sheet.append([
            first17 + resident_id_check_char(first17), f"学员{serial}", "低压电工", "初级工", "特种作业操作证书",
            f"T{serial:010d}", today - datetime.timedelta(days=10 + offset % 200), 10, 450,
        ])  # fmt: skip
        sheet.cell(row=offset + 2, column=7).number_format = "yyyy-mm-dd"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def bulk_insert_baseline(claim_like, trainee_ids: list[int]) -> float:
    """A plain bulk_create of the same number of lines, for the same trainees, in one transaction."""
    from django.db import transaction

    from claims.models import Claim, ClaimLine

    baseline_claim = Claim.objects.create(
        number=f"BENCH-{time.time_ns()}"[:30], jurisdiction=claim_like.jurisdiction, provider=claim_like.provider,
        department=claim_like.department, policy=claim_like.policy, class_name="bulk insert baseline",
        training_start=claim_like.training_start, training_end=claim_like.training_end, created_by=claim_like.created_by,
    )  # fmt: skip
    today = datetime.date.today()
    occupation_id = claim_like.lines.order_by("line_no").values_list("occupation_id", flat=True).first()  # the roster's
    lines = [
        ClaimLine(
            claim=baseline_claim,
            line_no=line_no,
            trainee_id=trainee_id,
            name=f"学员{line_no}",
            occupation_id=occupation_id,
            level="junior",
            certificate_type="special_operation",
            certificate_number=f"B{line_no:010d}",
            certificate_date=today,
            training_days=10,
            stated_cost="450.00",
            amount="450.00",
        )  # fmt: skip
        for line_no, trainee_id in enumerate(trainee_ids, start=1)
    ]
    started = time.perf_counter()
    with transaction.atomic():
        ClaimLine.objects.bulk_create(lines, batch_size=1000)
    return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url:
        sys.exit("Set DATABASE_URL to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/claims")
    database_url, maintenance_url = bench_database_url(server_url)
    recreate_database(maintenance_url)
    os.environ["DATABASE_URL"] = database_url
    os.environ.pop("REDIS_URL", None)  # no broker: nothing is enqueued anywhere real
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DEBUG", "False")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from claims import imports
    from claims.models import RosterUploadStatus
    from claims.roster import read_roster
    from config.celery import app

    try:
        print(
            f"database: {connection.vendor} {connection.pg_version if connection.vendor == 'postgresql' else ''}"
            f" ({BENCH_DATABASE}); rows per roster: {args.rows}; runs: {args.repeat}"
        )
        call_command("migrate", verbosity=0)
        call_command("seed_demo", password="bench-only-password", stdout=open(os.devnull, "w"))
        app.conf.task_always_eager = False  # receive_roster queues to the in-memory broker; we process here
        clerk = get_user_model().objects.get(username="provider_clerk")
        header = {
            "provider": "WL-P001", "department": "WL-YJJ", "policy": "S3", "class_name": "基准测试班",
            "training_start": (datetime.date.today() - datetime.timedelta(days=260)).isoformat(),
            "training_end": (datetime.date.today() - datetime.timedelta(days=220)).isoformat(),
        }  # fmt: skip

        results = []
        for run in range(1, args.repeat + 1):
            content, generate_seconds = timed(roster_bytes, args.rows, first_serial=run * 100_000)
            sheet, read_seconds = timed(read_roster, content)
            (_lines, errors), check_seconds = timed(imports._check_all, sheet.rows)
            assert not errors, errors[:3]
            upload, receive_seconds = timed(
                imports.receive_roster, user=clerk, header=header, filename=f"bench-{run}.xlsx", content=content
            )
            assert upload.status == RosterUploadStatus.RECEIVED, upload.status
            done, import_seconds = timed(imports.process_roster, upload_id=upload.pk)
            assert done.status == RosterUploadStatus.DONE, done.errors[:3]
            claim = done.claim
            assert claim.lines.count() == args.rows
            trainee_ids = list(claim.lines.order_by("line_no").values_list("trainee_id", flat=True))
            bulk_seconds = bulk_insert_baseline(claim, trainee_ids)
            ratio = import_seconds / bulk_seconds
            results.append((import_seconds, bulk_seconds, ratio))
            print(
                f"run {run}: file {len(content) / 1024:.0f} KiB (generated in {generate_seconds:.2f}s) | "
                f"read {read_seconds:.2f}s | check rows {check_seconds:.2f}s | receive (request part) {receive_seconds:.2f}s | "
                f"import via process_roster {import_seconds:.2f}s | bulk_create {bulk_seconds:.3f}s | ratio {ratio:.1f}x"
            )
        import_median = statistics.median(r[0] for r in results)
        bulk_median = statistics.median(r[1] for r in results)
        print(
            f"median of {len(results)}: import {import_median:.2f}s ({args.rows / import_median:,.0f} rows/s), "
            f"bulk_create {bulk_median:.3f}s ({args.rows / bulk_median:,.0f} rows/s), "
            f"ratio import/bulk_create {import_median / bulk_median:.1f}x"
        )
    finally:
        connection.close()
        if not args.keep:
            recreate_database(maintenance_url, drop_only=True)


if __name__ == "__main__":
    main()
