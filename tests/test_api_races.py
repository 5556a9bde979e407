"""Two people clicking at once, through the API: the same take, decide, submit, resubmit or
withdraw POSTed twice (or a take against a decide), on two PostgreSQL connections held at a gate
(tests/test_concurrency.py's helpers) until both wait on the same row. Exactly one wins (200),
the other is a 409, and nothing is recorded twice."""

import pytest
from django.db import connection
from rest_framework.test import APIClient
from viewflow.workflow.models import Process, Task

from audit.models import AuditEvent
from claims.models import Claim, ClaimStatus
from claims.services import create_claim
from workflow import selectors as inbox
from workflow.services import decide_task

from .conftest import DEMO_PASSWORD, claim_data
from .test_concurrency import (  # noqa: F401 - second_department_reviewer is a fixture
    Gate,
    join_all,
    run_at_once,
    second_department_reviewer,
    submitted_claim,
    wait_for_postgres_lock_waiters,
)

pytestmark = pytest.mark.postgres


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def race(lock, *posts):
    """Both POSTs wait at the gate on ``lock``'s row, then go; the responses' status codes."""
    with Gate(lock) as gate:
        threads, outcomes = run_at_once(*posts)
        waiting = wait_for_postgres_lock_waiters(len(posts), threads)
        gate.open()
        join_all(threads)
    assert waiting == len(posts), f"the requests did not both wait on the row: {outcomes}"
    assert all(error is None for _r, error in outcomes), outcomes
    responses = [response for response, _error in outcomes]
    return waiting, sorted(response.status_code for response in responses), responses


def lock_process_of(claim):
    return lambda: Process.objects.select_for_update().filter(pk=claim.process_id).exists()


def lock_claim(claim):
    return lambda: Claim.objects.select_for_update().filter(pk=claim.pk).exists()


def test_two_reviewers_taking_one_task_at_once_one_gets_it_the_other_409(transactional_db, demo, second_department_reviewer):
    claim = submitted_claim(demo)
    task = inbox.actionable_tasks(demo["dept_reviewer"]).get()
    reviewers = [demo["dept_reviewer"], second_department_reviewer]
    waiting, codes, _ = race(
        lock_process_of(claim), *[lambda u=u: client_of(u).post(f"/api/v1/tasks/{task.pk}/take/") for u in reviewers]
    )
    assert codes == [200, 409], codes
    assert AuditEvent.objects.filter(claim_id=claim.pk, action="task.assigned").count() == 1


def test_one_reviewer_posting_decide_twice_at_once_records_one_decision(transactional_db, demo):
    claim = submitted_claim(demo)
    reviewer = demo["dept_reviewer"]
    task = inbox.actionable_tasks(reviewer).get()
    post = lambda: client_of(reviewer).post(f"/api/v1/tasks/{task.pk}/decide/", {"decision": "approve"}, format="json")  # noqa: E731
    waiting, codes, responses = race(lock_process_of(claim), post, post)
    assert codes == [200, 409], codes
    assert AuditEvent.objects.filter(claim_id=claim.pk, action="claim.approved_step").count() == 1
    assert Task.objects.filter(process_id=claim.process_id, flow_task=inbox.node("hr_review")).count() == 1


def test_take_and_decide_of_two_reviewers_at_once(transactional_db, demo, second_department_reviewer):
    claim = submitted_claim(demo)
    task = inbox.actionable_tasks(demo["dept_reviewer"]).get()
    waiting, codes, _ = race(
        lock_process_of(claim),
        lambda: client_of(demo["dept_reviewer"]).post(f"/api/v1/tasks/{task.pk}/decide/", {"decision": "approve"}, format="json"),
        lambda: client_of(second_department_reviewer).post(f"/api/v1/tasks/{task.pk}/take/"),
    )
    assert codes == [200, 409], codes
    assert AuditEvent.objects.filter(claim_id=claim.pk, action="claim.approved_step").count() <= 1


def test_submit_posted_twice_at_once_through_the_api(transactional_db, demo):
    clerk = demo["provider_clerk"]
    claim = create_claim(user=clerk, data=claim_data())
    post = lambda: client_of(clerk).post(f"/api/v1/claims/{claim.pk}/submit/")  # noqa: E731
    waiting, codes, responses = race(lock_claim(claim), post, post)
    assert codes == [200, 409], [(r.status_code, r.content[:200]) for r in responses]
    assert Process.objects.count() == 1
    assert AuditEvent.objects.filter(claim_id=claim.pk, action="claim.submitted").count() == 1


def test_resubmit_posted_twice_at_once_through_the_api(transactional_db, demo):
    clerk, reviewer = demo["provider_clerk"], demo["dept_reviewer"]
    claim = submitted_claim(demo)
    decide_task(user=reviewer, task_id=inbox.actionable_tasks(reviewer).get().pk, decision="return", comment="补材料")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.RETURNED
    post = lambda: client_of(clerk).post(f"/api/v1/claims/{claim.pk}/submit/")  # noqa: E731
    waiting, codes, responses = race(lock_claim(claim), post, post)
    assert codes == [200, 409], [(r.status_code, r.content[:200]) for r in responses]
    assert AuditEvent.objects.filter(claim_id=claim.pk, action="claim.resubmitted").count() == 1
    open_tasks = Task.objects.filter(process_id=claim.process_id, status__in=("NEW", "ASSIGNED"))
    assert open_tasks.count() == 1


def test_withdraw_posted_twice_at_once_through_the_api(transactional_db, demo):
    clerk = demo["provider_clerk"]
    claim = create_claim(user=clerk, data=claim_data())
    post = lambda: client_of(clerk).post(f"/api/v1/claims/{claim.pk}/withdraw/", {"reason": "重复"}, format="json")  # noqa: E731
    waiting, codes, responses = race(lock_claim(claim), post, post)
    assert codes == [200, 409], [(r.status_code, r.content[:200]) for r in responses]
    assert AuditEvent.objects.filter(claim_id=claim.pk, action="claim.withdrawn").count() == 1


def test_two_logins_of_one_user_at_once_each_get_a_token_and_the_later_one_holds(transactional_db, demo):
    """A script and a person signing in as the same user at the same moment: one token per user,
    so the second replaces the first, never a 500 on the table's one-per-user rule."""
    from accounts.models import ApiToken
    from audit.services import LEDGER_LOCK_KEY

    def lock_ledger():  # each login writes its token, then waits to record it
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])

    body = {"username": "hr_reviewer", "password": DEMO_PASSWORD}
    sign_in = lambda: APIClient().post("/api/v1/auth/token/", body, format="json")  # noqa: E731
    waiting, codes, responses = race(lock_ledger, sign_in, sign_in)
    assert codes == [200, 200], [(r.status_code, r.content[:300]) for r in responses]
    assert ApiToken.objects.filter(user=demo["hr_reviewer"]).count() == 1
    live = [
        r.json()["token"]
        for r in responses
        if APIClient(HTTP_AUTHORIZATION=f"Token {r.json()['token']}").get("/api/v1/tasks/").status_code == 200
    ]
    assert len(live) == 1
