"""Redis down at commit is not only a refused connection (tests/conftest.py::redis_unreachable):
a broker whose host is gone never answers the connection, and a hung server (paused, a half-open
connection after a failover) takes the command and never replies. The change has committed; the
request must still answer at once, as it does when Redis refuses, and the sweep does the rest.
Without a socket timeout the publish waited forever: the person saw no answer (gunicorn killed
the request at WEB_TIMEOUT: a 502 for a decision that stood) and each such request held one of
the few web workers."""

import time

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
from .conftest import REDIS_SILENT_FOR, claim_data, line, redis_not_answering, resident_id


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["host gone", "server hung"])
def test_a_decision_answers_at_once_while_redis_is_silent_and_the_sweep_sends_its_email(demo, how, mailoutbox):
    clerk, reviewer = demo["provider_clerk"], demo["dept_reviewer"]
    claim = create_claim(user=clerk, data=claim_data())
    submit_claim(user=clerk, claim=claim)
    task = actionable_tasks(reviewer).get()
    client = login("dept_reviewer")

    with redis_not_answering(how):
        started = time.monotonic()
        response = client.post(
            f"/api/v1/tasks/{task.pk}/decide/", {"decision": "reject", "comment": "非本部门职责", "reason": "E2"}, format="json"
        )
        waited = time.monotonic() - started

    assert response.status_code == 200, response.content[:300]
    assert waited < REDIS_SILENT_FOR / 2, f"the request waited {waited:.1f} s on a silent broker"
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
@pytest.mark.django_db(transaction=True)
def test_a_bulk_approval_waits_on_a_silent_broker_once_not_once_a_claim(demo):
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

    with redis_not_answering("server hung"):
        started = time.monotonic()
        outcome = bulk_approve(user=reviewer, task_ids=task_ids)
        waited = time.monotonic() - started

    assert (len(outcome.approved), outcome.failed) == (4, [])
    assert waited < REDIS_SILENT_FOR / 2, f"the bulk approval waited {waited:.1f} s on a silent broker"
    assert OutboxEmail.objects.filter(state=EmailState.PENDING).count() >= 4  # for the sweep
