"""Benchmark: build and release a payment batch of 100,000 lines on PostgreSQL, against a plain
bulk insert of the same number of rows in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/claims_bench_batches SECRET_KEY=bench \\
        .venv/bin/python bench/payment_batch.py [--claims 10000] [--lines-per-claim 10] [--keep] [--tracemalloc]

DATABASE_URL names the server and the benchmark's own database (``claims_bench_batches`` unless the
URL names one with "bench" in its name): it is dropped and created again, migrated and seeded (seed_demo), and dropped at
the end unless --keep. Celery is not involved: request_release queues to an in-memory broker and
the task's body (payments.services.batches.release_batch) is called here, as the worker would.

Fixtures (bulk-inserted, not timed in the ratio): --claims approved claims of --lines-per-claim
reserved lines each against the WL-YJJ allocation; 70 % are paid to providers (40 providers with
bank accounts), 30 % to persons (300 trainees with social security card accounts) — 340 payees.

It prints the seconds and lines/s of build_batch, of request_release (the four-eyes check) and of
release_batch (bank files CSV + XLSX, lines in payment, one ledger entry per claim), of the bank's
result (every transfer paid) applied as the upload's request applies it (transfers, batch and claim
lines, one ledger entry per claim; the claims' workflow follows in the worker, not timed), then a plain
bulk_create of as many BatchLine rows (rolled back), the ratios, and the process's peak memory
(ru_maxrss; with --tracemalloc also the Python heap peak of each step, which slows them down).
"""

import argparse
import datetime
import os
import resource
import sys
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE = "claims_bench_batches"
PROVIDERS = 40
PERSON_PAYEES = 300
TRAINEES = 10_000
LINE_AMOUNT = Decimal("50.00")
CHUNK = 5000


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--lines-per-claim", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace the Python heap peak of each step (slower)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions of build and release (slower)")
    return parser.parse_args()


def bench_database_url(server_url: str) -> tuple[str, str, str]:
    """(URL of the throwaway database, URL of the maintenance database, its name) on the DATABASE_URL server."""
    parts = urlsplit(server_url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit("DATABASE_URL must name a PostgreSQL server (postgres://…): the benchmark is about PostgreSQL.")
    name = parts.path.strip("/") or DEFAULT_DATABASE
    if "bench" not in name:
        # It drops and recreates this database: never one an application may be using (CI's "claims").
        name = DEFAULT_DATABASE
    return urlunsplit(parts._replace(path=f"/{name}")), urlunsplit(parts._replace(path="/postgres")), name


def recreate_database(maintenance_url: str, name: str, *, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            connection.execute(f'CREATE DATABASE "{name}"')


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


class Step:
    """Times a step; reports wall seconds, the peak RSS after it and (with tracemalloc) the heap peak during it."""

    def __init__(self, name: str, *, trace: bool, profile: bool = False):
        self.name, self.trace, self.profile = name, trace, profile

    def __enter__(self):
        if self.trace:
            tracemalloc.start()
        if self.profile:
            import cProfile

            self.profiler = cProfile.Profile()
            self.profiler.enable()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        if self.profile:
            import pstats

            self.profiler.disable()
            print(f"--- profile of {self.name}")
            pstats.Stats(self.profiler).sort_stats("cumulative").print_stats(25)
        self.heap_peak = None
        if self.trace:
            self.heap_peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        self.rss = peak_rss_mib()
        return False


def create_fixtures(*, claims: int, lines_per_claim: int) -> int:
    """Approved claims with reserved lines, bulk-inserted as the approval flow would leave them."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from claims.models import (
        Claim,
        ClaimLine,
        ClaimStatus,
        Department,
        Jurisdiction,
        LineDecision,
        PaymentStatus,
        Provider,
        SubsidyPolicy,
        Trainee,
    )
    from claims.occupations import resolve_occupation
    from claims.personal_data import encrypt_id_number
    from payments.models import Allocation, FundAccount, PayeeAccount
    from payments.services.payees import mask_account_number

    year = timezone.localdate().year
    jurisdiction = Jurisdiction.objects.get(code="WL")
    department = Department.objects.get(code="WL-YJJ")
    account = FundAccount.objects.get(jurisdiction=jurisdiction, year=year)
    allocation = Allocation.objects.get(fund_account=account, department=department)
    to_provider = SubsidyPolicy.objects.get(jurisdiction=jurisdiction, code="S3")
    to_person = SubsidyPolicy.objects.get(jurisdiction=jurisdiction, code="S6")
    clerk = get_user_model().objects.get(username="provider_clerk")
    total_lines = claims * lines_per_claim
    total = LINE_AMOUNT * total_lines

    with transaction.atomic():
        providers = Provider.objects.bulk_create(
            [
                Provider(
                    jurisdiction=jurisdiction, code=f"BENCH-P{n:03d}", name=f"基准培训学校{n:03d}", credit_code=f"91BENCH{n:011d}"
                )
                for n in range(PROVIDERS)
            ]
        )
        secret = encrypt_id_number("331081199001010000")  # the same ciphertext for every bench person: never decrypted here
        trainees = Trainee.objects.bulk_create(
            [
                Trainee(
                    id_number_digest=f"bench-{n:058d}",
                    id_number_masked="331081********0000",
                    id_number_encrypted=secret,
                )
                for n in range(TRAINEES)
            ],
            batch_size=CHUNK,
        )

        def payee_account(number: str, **owner) -> PayeeAccount:
            return PayeeAccount(
                **owner,
                account_name=(owner.get("provider") or owner.get("trainee")).name,
                bank_name="基准银行",
                account_number_encrypted=encrypt_id_number(number),
                account_number_masked=mask_account_number(number),
            )

        PayeeAccount.objects.bulk_create(
            [payee_account(f"62220000{n:010d}", provider=provider) for n, provider in enumerate(providers)]
            + [payee_account(f"62170000{n:010d}", trainee=trainee) for n, trainee in enumerate(trainees[:PERSON_PAYEES])]
        )
        today = datetime.date.today()
        person_claims_from = int(claims * 0.7)
        claim_rows = Claim.objects.bulk_create(
            [
                Claim(
                    number=f"BENCH-{n:07d}",
                    jurisdiction=jurisdiction,
                    provider=providers[n % PROVIDERS],
                    department=department,
                    policy=to_person if n >= person_claims_from else to_provider,
                    class_name="基准测试班",
                    training_start=today - datetime.timedelta(days=60),
                    training_end=today - datetime.timedelta(days=30),
                    status=ClaimStatus.APPROVED,
                    total=LINE_AMOUNT * lines_per_claim,
                    created_by=clerk,
                )
                for n in range(claims)
            ],
            batch_size=CHUNK,
        )
        lines = []
        electrician = resolve_occupation("低压电工")  # seed_demo's occupation table: 电工
        for n, claim in enumerate(claim_rows):
            for j in range(lines_per_claim):
                serial = n * lines_per_claim + j
                trainee = trainees[serial % PERSON_PAYEES] if n >= person_claims_from else trainees[serial % TRAINEES]
                lines.append(
                    ClaimLine(
                        claim=claim,
                        line_no=j + 1,
                        trainee=trainee,
                        name=f"学员{serial % TRAINEES:05d}",
                        occupation=electrician,
                        level="junior",
                        certificate_type="special_operation",
                        certificate_number=f"B{serial:010d}",
                        certificate_key=f"B{serial:010d}",
                        certificate_date=today,
                        training_days=10,
                        amount=LINE_AMOUNT,
                        decision=LineDecision.APPROVE,
                        payment_status=PaymentStatus.RESERVED,
                        allocation=allocation,
                    )
                )
            if len(lines) >= CHUNK:
                ClaimLine.objects.bulk_create(lines, batch_size=CHUNK)
                lines = []
        ClaimLine.objects.bulk_create(lines, batch_size=CHUNK)
        # The money the approvals reserved: the allocation (and the account's budget) hold it.
        Allocation.objects.filter(pk=allocation.pk).update(amount=F("amount") + total, committed=F("committed") + total)
        FundAccount.objects.filter(pk=account.pk).update(budget=F("budget") + total)
    return total_lines


def bulk_insert_baseline(batch, rows: int) -> float:
    """A plain bulk_create of as many BatchLine rows (in a cancelled batch, so they take no live line), rolled back."""
    from django.db import transaction

    from payments.models import BatchLine, BatchLineStatus, BatchStatus, PaymentBatch, Transfer

    claim_line_ids = list(batch.lines.order_by("id").values_list("claim_line_id", flat=True)[:rows])
    with transaction.atomic():
        dummy = PaymentBatch.objects.create(
            number="BENCH-BASELINE", fund_account=batch.fund_account, built_by=batch.built_by, status=BatchStatus.CANCELLED
        )
        transfer = Transfer.objects.create(
            batch=dummy,
            seq=1,
            payee_kind="provider",
            account_name="x",
            bank_name="x",
            account_number_encrypted="x",
            account_number_masked="x",
            amount=Decimal("1.00"),
        )
        objects = [
            BatchLine(batch=dummy, transfer=transfer, claim_line_id=line_id, amount=LINE_AMOUNT, status=BatchLineStatus.CANCELLED)
            for line_id in claim_line_ids
        ]
        started = time.perf_counter()
        BatchLine.objects.bulk_create(objects, batch_size=CHUNK)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


def main() -> None:
    args = parse_args()
    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url:
        sys.exit("Set DATABASE_URL to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/claims_bench_batches")
    database_url, maintenance_url, name = bench_database_url(server_url)
    recreate_database(maintenance_url, name)
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
    from serving import bank_answer

    from claims.models import ClaimLine, Jurisdiction
    from config.celery import app
    from payments.models import BankFile, BatchStatus
    from payments.services.batches import release_batch
    from workflow.disbursement import apply_bank_result, build_batch, request_release

    trace = args.tracemalloc
    try:
        print(
            f"database: {connection.vendor} {connection.pg_version if connection.vendor == 'postgresql' else ''} ({name}); "
            f"claims: {args.claims} x {args.lines_per_claim} lines; payees: {PROVIDERS} providers + {PERSON_PAYEES} persons"
        )
        call_command("migrate", verbosity=0)
        call_command("seed_demo", password="bench-only-password", stdout=open(os.devnull, "w"))
        app.conf.task_always_eager = False  # request_release queues to the in-memory broker; the task body runs here
        users = get_user_model().objects
        builder, releaser = users.get(username="finance_officer"), users.get(username="finance_officer2")
        jurisdiction = Jurisdiction.objects.get(code="WL")

        with Step("fixtures", trace=False) as fixtures:
            rows = create_fixtures(claims=args.claims, lines_per_claim=args.lines_per_claim)
        print(f"fixtures: {rows:,} reserved lines bulk-inserted in {fixtures.seconds:.1f}s (not part of the ratio)")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        with Step("build", trace=trace, profile=args.profile) as build:
            batch = build_batch(actor=builder, jurisdiction=jurisdiction)
        assert batch.line_count == rows and not batch.skipped, (batch.line_count, batch.skipped[:3])
        with Step("request_release", trace=trace) as check:
            request_release(actor=releaser, batch=batch)
        with Step("release", trace=trace, profile=args.profile) as release:
            released = release_batch(batch_id=batch.pk)
        assert released.status == BatchStatus.RELEASED
        assert ClaimLine.objects.filter(payment_status="in_payment").count() == rows
        csv_size = BankFile.objects.filter(batch=batch, kind="payment_csv").values_list("content", flat=True).get()
        answer = bank_answer(bytes(csv_size))  # every transfer paid
        with Step("result", trace=trace, profile=args.profile) as result:
            # The upload's request: the claims' workflow follows in the worker (settle_batch), not timed here.
            summary = apply_bank_result(actor=builder, batch=batch, filename="result.csv", content=answer)
        assert summary.reconciled and summary.lines_paid == rows, (summary.reconciled, summary.lines_paid)

        with Step("baseline", trace=False):
            baseline_seconds = bulk_insert_baseline(batch, rows)
        whole = build.seconds + check.seconds + release.seconds

        def line(step, label):
            heap = f", heap peak {step.heap_peak:.0f} MiB" if step.heap_peak is not None else ""
            return (
                f"{label:<34} {step.seconds:8.2f}s  {rows / step.seconds:>10,.0f} lines/s  "
                f"ratio {step.seconds / baseline_seconds:6.1f}x  (peak RSS so far {step.rss:.0f} MiB{heap})"
            )

        print(
            f"batch {released.number}: {released.line_count:,} lines, {released.payee_count} payees, total {released.total}, "
            f"CSV {len(bytes(csv_size)) / 1024:.0f} KiB"
        )
        print(line(build, "build_batch"))
        print(line(check, "request_release (check, four eyes)"))
        print(line(release, "release_batch (task body)"))
        print(f"{'build + release':<34} {whole:8.2f}s  {rows / whole:>10,.0f} lines/s  ratio {whole / baseline_seconds:6.1f}x")
        print(line(result, f"bank result, {summary.claims:,} claims (request)"))
        print(f"{'baseline: bulk_create BatchLine':<34} {baseline_seconds:8.2f}s  {rows / baseline_seconds:>10,.0f} rows/s")
        print(f"peak RSS of the process: {peak_rss_mib():.0f} MiB")
    finally:
        connection.close()
        if not args.keep:
            recreate_database(maintenance_url, name, drop_only=True)


if __name__ == "__main__":
    main()
