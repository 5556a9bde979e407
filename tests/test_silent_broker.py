"""Redis down at commit is not only a refused connection (tests/conftest.py::redis_unreachable):
a broker whose host is gone never answers the connection, and a hung server (paused, a half-open
connection after a failover) takes the command and never replies. The change has committed; the
request must still answer at once, as it does when Redis refuses, and the sweep does the rest.
Without a socket timeout the publish waited forever: the person saw no answer (gunicorn killed
the request at WEB_TIMEOUT: a 502 for a decision that stood) and each such request held one of
the few web workers."""

import logging

import pytest
from django.utils import timezone

from claims.models import ClaimStatus
from claims.services import create_claim
from due.registry import run_due
from notifications.models import EmailState, Kind, Notification, OutboxEmail
from workflow.bulk import bulk_approve
from workflow.selectors import actionable_tasks
from workflow.services import submit_claim

from .api_support import login
from .conftest import claim_data, line, redis_not_answering, resident_id

# A request that waited on the silent broker would never return: pytest-timeout ends the test.
HANGS_AFTER = 120  # seconds


@pytest.mark.postgres
@pytest.mark.timeout(HANGS_AFTER)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["host gone", "server hung"])
def test_a_decision_answers_at_once_while_redis_is_silent_and_the_sweep_sends_its_email(demo, how, mailoutbox):
    clerk, reviewer = demo["provider_clerk"], demo["dept_reviewer"]
    claim = create_claim(user=clerk, data=claim_data())
    submit_claim(user=clerk, claim=claim)
    task = actionable_tasks(reviewer).get()
    client = login("dept_reviewer")

    with redis_not_answering(how):  # silent for as long as the request takes: it must give up itself
        response = client.post(
            f"/api/v1/tasks/{task.pk}/decide/", {"decision": "reject", "comment": "非本部门职责", "reason": "E2"}, format="json"
        )

    assert response.status_code == 200, response.content[:300]
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED
    [rejected] = Notification.objects.filter(claim=claim, kind=Kind.REJECTED)
    assert rejected.email.state == EmailState.PENDING

    # The outbox's sweep (beat's due jobs, every minute) sends it, once.
    mailoutbox.clear()
    run_due(timezone.now(), only=("notifications.sweep_outbox",))
    rejected.email.refresh_from_db()
    assert rejected.email.state == EmailState.SENT
    assert [message.extra_headers["Message-ID"] for message in mailoutbox].count(rejected.email.message_id) == 1


@pytest.mark.postgres
@pytest.mark.timeout(HANGS_AFTER)
@pytest.mark.django_db(transaction=True)
def test_a_bulk_approval_waits_on_a_silent_broker_once_not_once_a_claim(demo, caplog):
    """Each approval commits on its own and has its e-mails to send: the broker's silence, found
    by the first, is not waited for again by each of the others (due/enqueue.py)."""
    clerk, reviewer = demo["provider_clerk"], demo["dept_reviewer"]
    for serial in range(4):
        claim = create_claim(
            user=clerk,
            data=claim_data(lines=[line(resident_id(serial + 1), f"学员{serial}", certificate_number=f"T-{serial + 1:05d}")]),
        )
        submit_claim(user=clerk, claim=claim)
    task_ids = list(actionable_tasks(reviewer).values_list("pk", flat=True))
    assert len(task_ids) == 4

    with redis_not_answering("server hung"), caplog.at_level(logging.WARNING, logger="due.enqueue"):
        outcome = bulk_approve(user=reviewer, task_ids=task_ids)

    assert (len(outcome.approved), outcome.failed) == (4, [])
    # The first message waited on the broker until the socket timeout; every later one was not tried.
    tried, skipped = [], []
    for record in (record for record in caplog.records if record.name == "due.enqueue"):
        (skipped if "the broker failed just before" in record.getMessage() else tried).append(record.getMessage())
    assert len(tried) == 1 and len(skipped) >= 3, (tried, skipped)
    assert OutboxEmail.objects.filter(state=EmailState.PENDING).count() >= 4  # for the sweep
