"""The quota rule (E2: at most 3 subsidised trainings per person per year) under concurrent
submissions, with real threads on real PostgreSQL connections (see tests/test_concurrency.py).

Each submission locks the claim's people (rows of Trainee, in primary-key order) before it
counts their trainings, so ten claims for one person submitted at the same moment are
counted one after the other: three pass, seven are flagged."""

import datetime

import pytest

from claims.eligibility import active_flags
from claims.models import Claim, ClaimLine, ClaimStatus, Trainee
from claims.personal_data import id_number_digest
from claims.services import create_claim
from workflow.services import submit_claim

from .conftest import claim_data, line, resident_id
from .test_concurrency import Gate, join_all, run_at_once, wait_for_postgres_lock_waiters

CLAIMS = 10
PEOPLE = [resident_id(700), resident_id(701)]
# Ten occupations of the demo's occupation table (demo/occupations.py): no line repeats another's (E3).
OCCUPATIONS = ["电工", "焊工", "养老护理员", "中式烹调师", "中式面点师", "车工", "铣工", "叉车司机", "高处作业", "制冷作业"]


def ten_drafts(clerk) -> list[Claim]:
    """Ten classes, one after the other, each with the same two people (in alternating line
    order, so two submissions lock them in opposite orders unless the locks are ordered)."""
    drafts = []
    today = datetime.date.today()
    for n in range(CLAIMS):
        start = today - datetime.timedelta(days=300 - 25 * n)
        rows = [
            line(PEOPLE[0], "王芳", occupation=OCCUPATIONS[n], certificate_number=f"A-{n}", certificate_date=today.isoformat()),
            line(PEOPLE[1], "陈静", occupation=OCCUPATIONS[n], certificate_number=f"B-{n}", certificate_date=today.isoformat()),
        ]
        if n % 2:
            rows.reverse()
        data = claim_data(
            lines=rows,
            class_name=f"并发班 {n}",
            training_start=start.isoformat(),
            training_end=(start + datetime.timedelta(days=20)).isoformat(),
        )
        drafts.append(create_claim(user=clerk, data=data))
    return drafts


def unflagged_lines(trainee: Trainee) -> list[ClaimLine]:
    """The person's lines without an active E2 flag."""
    lines = ClaimLine.objects.filter(trainee=trainee).prefetch_related("overrides")
    return [
        line
        for line in lines
        if "E2" not in {flag["code"] for flag in active_flags(line.flags, [o.code for o in line.overrides.all()])}
    ]


@pytest.mark.postgres
def test_ten_concurrent_submissions_for_one_person_leave_at_most_three_subsidised(transactional_db, demo):
    clerk = demo["provider_clerk"]
    drafts = ten_drafts(clerk)
    people = [Trainee.objects.get(id_number_digest=id_number_digest(number)) for number in PEOPLE]
    # As drafts, every line is clean: nothing is submitted yet.
    assert all(line.flags == [] for line in ClaimLine.objects.all())

    def lock_people():
        list(Trainee.objects.select_for_update().filter(pk__in=[p.pk for p in people]).order_by("pk"))

    with Gate(lock_people) as gate:
        threads, outcomes = run_at_once(*[lambda claim=claim: submit_claim(user=clerk, claim=claim) for claim in drafts])
        # Every submission has reached the count and waits for the people's rows.
        waiting = wait_for_postgres_lock_waiters(CLAIMS, threads)
        gate.open()
        join_all(threads)
    assert waiting == CLAIMS, outcomes
    assert [error for _result, error in outcomes] == [None] * CLAIMS  # no deadlock, no error
    assert Claim.objects.filter(status=ClaimStatus.DEPARTMENT_REVIEW).count() == CLAIMS

    for person in people:
        passed = unflagged_lines(person)
        assert len(passed) == 3, [(line.claim.number, line.flags) for line in ClaimLine.objects.filter(trainee=person)]
        flagged = ClaimLine.objects.filter(trainee=person).exclude(pk__in=[line.pk for line in passed])
        for flagged_line in flagged:
            (e2,) = [flag for flag in flagged_line.flags if flag["code"] == "E2"]
            # Each flagged line names the three that passed.
            assert sorted(e2["related"]) == sorted(passed_line.claim.number for passed_line in passed)
