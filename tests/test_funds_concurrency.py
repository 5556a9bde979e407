"""Concurrent approvals never over-commit an allocation (PostgreSQL, real threads, each with its
own connection, closed when the thread ends; the tests commit for real), and the funds report
of a year's 100,000 lines is aggregated in SQL.

A "gate" transaction holds the allocation's row lock while the approvers start, so they are
all inside their transactions and waiting at once before the first one gets the row."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from audit.selectors import verify_chain
from claims.errors import FundsExceeded
from claims.models import Claim, ClaimLine, ClaimStatus, LineDecision
from claims.services import create_claim
from payments.models import Allocation
from payments.selectors.funds import funds_report
from payments.services.funds import reserve_approved_lines
from workflow import selectors as inbox

from .conftest import claim_data, line, resident_id
from .test_concurrency import Gate, join_all, run_at_once, wait_for_postgres_lock_waiters
from .test_funds import YEAR, allocation, claim_at_hr, hr_task_of

CLAIM_AMOUNT = Decimal("900.00")  # two lines of 450
FIT = 3  # claims that fit
RACERS = FIT + 2


def set_allocation(amount: Decimal) -> Allocation:
    target = allocation()
    Allocation.objects.filter(pk=target.pk).update(amount=amount, committed=Decimal("0.00"))
    target.refresh_from_db()
    return target


def lock_allocation(pk):
    def take():
        Allocation.objects.select_for_update().filter(pk=pk).exists()

    return take


def assert_never_over_committed(target: Allocation, claims: list[Claim], winners: int):
    target.refresh_from_db()
    assert target.committed == CLAIM_AMOUNT * winners <= target.amount
    # The CHECK constraint holds, and the lines bound are exactly the committed amount.
    reserved = ClaimLine.objects.filter(allocation=target).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    assert reserved == target.committed
    assert ClaimLine.objects.filter(claim__in=claims, payment_status="reserved").count() == 2 * winners
    assert ClaimLine.objects.filter(claim__in=claims, allocation__isnull=True).count() == 2 * (len(claims) - winners)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM payments_allocation WHERE committed < 0 OR committed > amount")
        assert cursor.fetchone()[0] == 0
    assert verify_chain()["ok"] is True


@pytest.mark.postgres
def test_concurrent_final_approvals_through_the_api_never_over_commit(transactional_db, demo):
    """N+2 claims approved by HR at once, over the API; the allocation (N×900 + 899) holds N of them."""
    from rest_framework.test import APIClient

    claims = [claim_at_hr(demo, 100 + n) for n in range(RACERS)]
    target = set_allocation(CLAIM_AMOUNT * (FIT + 1) - Decimal("1.00"))  # N+1 claims minus a yuan: N fit
    tasks = [hr_task_of(demo, claim).pk for claim in claims]

    def approve(task_id):
        client = APIClient()
        client.force_authenticate(demo["hr_reviewer"])
        return client.post(f"/api/v1/tasks/{task_id}/decide/", {"decision": "approve"}, format="json")

    with Gate(lock_allocation(target.pk)) as gate:
        threads, outcomes = run_at_once(*[lambda task_id=task_id: approve(task_id) for task_id in tasks])
        waiting = wait_for_postgres_lock_waiters(RACERS, threads)
        gate.open()
        join_all(threads)
    assert waiting == RACERS, outcomes
    assert all(error is None for _response, error in outcomes), outcomes
    codes = sorted(response.status_code for response, _error in outcomes)
    assert codes == [200] * FIT + [409] * (RACERS - FIT), [response.content for response, _ in outcomes]
    for response, _error in outcomes:
        if response.status_code == 409:
            body = response.json()["error"]
            assert body["code"] == "allocation_exceeded" and "应急管理局" in body["message"]
    approved = [claim for claim in claims if Claim.objects.get(pk=claim.pk).status == ClaimStatus.APPROVED]
    assert len(approved) == FIT
    assert Claim.objects.filter(pk__in=[c.pk for c in claims], status=ClaimStatus.HR_REVIEW).count() == RACERS - FIT
    assert_never_over_committed(target, claims, FIT)
    # The refused ones are still at their step, for HR to decide again later.
    for claim in claims:
        if claim not in approved:
            assert hr_task_of(demo, claim) is not None
    row = next(
        r for r in funds_report(user=demo["finance_officer"], year=YEAR)["accounts"][0]["rows"] if r["department"] == "WL-YJJ"
    )
    assert row["reserved"] == CLAIM_AMOUNT * FIT and row["remaining"] == target.amount - CLAIM_AMOUNT * FIT
    assert funds_report(user=demo["finance_officer"], year=YEAR)["accounts"][0]["anomalies"] == []


@pytest.mark.postgres
def test_concurrent_reservations_race_on_the_conditional_update(transactional_db, demo):
    """The reservation alone, many at once against one allocation row: exactly the ones that fit win."""
    claims = []
    for n in range(RACERS + 2):
        data = claim_data(
            lines=[line(resident_id(200 + n), "张三"), line(resident_id(700 + n), "李四", certificate_number="T-2")]
        )
        claim = create_claim(user=demo["provider_clerk"], data=data)
        claim.lines.update(decision=LineDecision.APPROVE)
        claims.append(claim)
    fit = 4
    target = set_allocation(CLAIM_AMOUNT * fit + Decimal("899.99"))

    def reserve(claim):
        with transaction.atomic():
            return reserve_approved_lines(actor=demo["hr_reviewer"], claim=claim)

    with Gate(lock_allocation(target.pk)) as gate:
        threads, outcomes = run_at_once(*[lambda claim=claim: reserve(claim) for claim in claims])
        waiting = wait_for_postgres_lock_waiters(len(claims), threads)
        gate.open()
        join_all(threads)
    assert waiting == len(claims), outcomes
    won = [result for result, error in outcomes if error is None]
    lost = [error for _result, error in outcomes if error is not None]
    assert won == [CLAIM_AMOUNT] * fit, outcomes
    assert len(lost) == len(claims) - fit and all(isinstance(error, FundsExceeded) and error.status == 409 for error in lost), (
        lost
    )
    assert_never_over_committed(target, claims, fit)
    assert not inbox.actionable_tasks(demo["provider_clerk"]).exists()


@pytest.mark.postgres
def test_two_requests_opening_the_same_years_account_at_once_get_400_not_500(transactional_db, demo):
    """The gate holds an uncommitted account of the year: the racers pass the exists() check,
    wait on the unique index, and once it commits each gets 400 on ``year`` (not an IntegrityError)."""
    from rest_framework.test import APIClient

    from claims.models import Jurisdiction
    from payments.models import FundAccount

    year = YEAR + 2
    jurisdiction = Jurisdiction.objects.get(code="WL")

    def first():
        FundAccount.objects.create(
            jurisdiction=jurisdiction,
            year=year,
            name="先到",
            bank_name="b",
            account_number="1",
            budget=Decimal("1.00"),
            created_by=demo["finance_officer"],
        )

    def open_account():
        client = APIClient()
        client.force_authenticate(demo["finance_officer"])
        return client.post(
            "/api/v1/fund-accounts/",
            {"year": year, "name": "专账", "bank_name": "b", "account_number": "2", "budget": "2.00"},
            format="json",
        )

    with Gate(first) as gate:
        threads, outcomes = run_at_once(open_account, open_account)
        waiting = wait_for_postgres_lock_waiters(2, threads)
        gate.open()
        join_all(threads)
    assert waiting == 2, outcomes
    assert all(error is None for _response, error in outcomes), outcomes
    for response, _error in outcomes:
        assert response.status_code == 400, response.content
        assert list(response.json()["error"]["fields"]) == ["year"]
    assert FundAccount.objects.filter(jurisdiction=jurisdiction, year=year).count() == 1


@pytest.mark.postgres
def test_report_of_a_year_of_100k_lines_is_aggregated_in_sql(demo, django_assert_max_num_queries):
    """100,000 lines bound to one allocation (bulk-inserted in SQL): the report takes a few queries,
    the lines are summed by the database (no line comes back to Python), and its figures match them."""
    claim = claim_at_hr(demo, 300)
    target = allocation()
    lines = 100_000
    states = ["reserved", "in_batch", "in_payment", "paid", "returned"]
    Allocation.objects.filter(pk=target.pk).update(amount=Decimal("99999999.00"), committed=Decimal("45000000.00"))
    columns = [
        f.column for f in ClaimLine._meta.concrete_fields if f.column not in ("id", "line_no", "payment_status", "allocation_id")
    ]
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO claims_claimline ({names}, line_no, payment_status, allocation_id) "
            f"SELECT {names}, 1000 + g, (ARRAY{states!r})[1 + g %% 5], %s "
            f"FROM claims_claimline, generate_series(1, %s) AS g WHERE id = %s",
            [target.pk, lines, claim.lines.get(line_no=1).pk],
        )
        cursor.execute("ANALYZE claims_claimline")
    with django_assert_max_num_queries(10) as queries:
        report = funds_report(user=demo["finance_officer"], year=YEAR)
    of_lines = [query["sql"] for query in queries.captured_queries if 'FROM "claims_claimline"' in query["sql"]]
    assert of_lines and all("SUM(" in sql and "GROUP BY" in sql for sql in of_lines), of_lines
    row = next(r for r in report["accounts"][0]["rows"] if r["department"] == "WL-YJJ")
    per_state = Decimal("450.00") * (lines // 5)
    assert (row["reserved"], row["paid"], row["returned"]) == (per_state * 3, per_state, per_state)
    assert row["committed"] == Decimal("45000000.00") and report["accounts"][0]["anomalies"] == []
