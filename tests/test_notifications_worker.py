"""Notifications are never lost and never sent twice (issue 14).

A change writes its in-app notifications and their e-mails (the outbox) in its own transaction;
after commit a real Celery worker (Redis, tests/conftest.py::celery_worker_process) sends each
e-mail and marks it sent. Redis down at commit loses nothing: the decision succeeds and the
outbox's sweep sends the e-mail later. A worker that dies after the mail server took a message
leaves it "sending": nothing sends it again.

The worker writes e-mails with Django's console backend, into its log: a message is counted
there by its Message-ID (its idempotency key)."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from claims.models import ClaimStatus
from claims.services import create_claim
from notifications import services as outbox
from notifications.models import EmailState, Kind, Notification, OutboxEmail
from notifications.tasks import deliver_emails
from workflow.selectors import actionable_tasks, open_task_of_claim
from workflow.services import decide_task, submit_claim
from workflow.tasks import run_due_jobs

from .conftest import WorkerProcess, _celery_app, _purge_queue, claim_data, redis_unreachable, worker_running

DELIVER = r"notifications\.tasks\.deliver_emails\[[0-9a-f-]+\] succeeded"


def sent_copies(worker, email: OutboxEmail, *, after: int = 0) -> int:
    """How many times the worker wrote this e-mail out (console backend), by its Message-ID."""
    return worker.log()[after:].count(f"Message-ID: {email.message_id}")


def submitted_and_returned(demo):
    """STORIES: 王磊 (provider clerk) submits; the department's reviewer returns it for correction."""
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    task = actionable_tasks(demo["dept_reviewer"]).get()
    decide_task(user=demo["dept_reviewer"], task_id=task.pk, decision="return", comment="请补充第2行的证书编号")
    claim.refresh_from_db()
    return claim, task


@pytest.mark.celery_worker
def test_a_decision_sends_exactly_one_email_and_one_notification(celery_worker, demo):
    offset = celery_worker.log_offset()
    claim, task = submitted_and_returned(demo)
    assert claim.status == ClaimStatus.RETURNED

    # Two e-mails: the task reaching the department's reviewer, the return reaching the clerk.
    celery_worker.wait_for_log(DELIVER, after=offset, count=2)
    [returned] = Notification.objects.filter(claim=claim, kind=Kind.RETURNED)
    assert returned.recipient == demo["provider_clerk"]
    assert "请补充第2行的证书编号" in returned.message
    email = returned.email
    email.refresh_from_db()
    assert (email.state, email.attempts, email.to) == (EmailState.SENT, 1, demo["provider_clerk"].email)
    assert sent_copies(celery_worker, email, after=offset) == 1
    [task_note] = Notification.objects.filter(claim=claim, kind=Kind.TASK)
    assert (task_note.recipient, task_note.task_id) == (demo["dept_reviewer"], task.pk)  # not dept2_reviewer (民政局)

    # The task enqueued again (a redelivered message): the e-mail is sent already, nothing goes out.
    again = deliver_emails.delay([email.pk])
    celery_worker.wait_for_task(again.id)
    assert sent_copies(celery_worker, email, after=offset) == 1
    assert Notification.objects.filter(claim=claim).count() == 2


@pytest.mark.celery_worker
def test_with_redis_down_at_commit_the_decision_succeeds_and_the_sweep_delivers_later(celery_worker, demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    task = actionable_tasks(demo["dept_reviewer"]).get()
    offset = celery_worker.log_offset()

    with redis_unreachable():
        decide_task(user=demo["dept_reviewer"], task_id=task.pk, decision="reject", comment="非本部门职责", reason="E2")

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED  # committed: the message could not be enqueued
    [rejected] = Notification.objects.filter(claim=claim, kind=Kind.REJECTED)
    assert rejected.email.state == EmailState.PENDING

    # Redis is back: beat's due jobs (sent here at once: the outbox's sweep among them) send it.
    run = run_due_jobs.delay()
    celery_worker.wait_for_task(run.id)
    rejected.email.refresh_from_db()
    assert rejected.email.state == EmailState.SENT
    assert sent_copies(celery_worker, rejected.email, after=offset) == 1
    # A second sweep has nothing to send.
    run = run_due_jobs.delay()
    celery_worker.wait_for_task(run.id)
    assert sent_copies(celery_worker, rejected.email, after=offset) == 1


@pytest.fixture
def crashing_worker(celery_worker_process, transactional_db, celery_test_queue, tmp_path):
    """A second real worker, on a queue of its own, whose mail backend kills the process right
    after writing a message out (tests/mail_backends.py): the crash point between sending and
    marking sent."""
    app = _celery_app()
    queue = f"{celery_test_queue}-crash"
    env = {**celery_worker_process.env, "CELERY_QUEUE": queue, "EMAIL_BACKEND": "tests.mail_backends.CrashAfterSendBackend"}
    worker = WorkerProcess(app=app, queue=queue, env=env, log_path=tmp_path / "crashing-worker.log")
    try:
        with worker_running(worker):
            yield worker
    finally:
        _purge_queue(app, queue)
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


@pytest.mark.celery_worker
def test_a_worker_killed_after_sending_does_not_mail_twice(crashing_worker, demo, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # this process's sends, counted
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)  # the worker takes the e-mail, sends it, dies

    [note] = Notification.objects.filter(claim=claim)
    crashing_worker.wait_for_log(rf"Message-ID: {note.email.message_id}")
    crashing_worker.process.wait(timeout=30)
    assert crashing_worker.process.returncode == 70
    note.email.refresh_from_db()
    assert note.email.state == EmailState.SENDING  # claimed, never marked sent

    # The same message again (Redis redelivers an unacknowledged task): it is claimed, not sent.
    assert outbox.deliver(note.email.pk) == EmailState.SENDING
    # The sweep, past the lease: uncertain, and not sent again.
    later = timezone.now() + outbox.SEND_LEASE + datetime.timedelta(minutes=1)
    assert outbox.sweep_outbox(now=later) == {"uncertain": 1}
    note.email.refresh_from_db()
    assert note.email.state == EmailState.UNCERTAIN
    assert outbox.sweep_outbox(now=later + datetime.timedelta(hours=1)) == {"uncertain": 0}
    assert mail.outbox == []
    assert crashing_worker.log().count(f"Message-ID: {note.email.message_id}") == 1
    # The in-app notification is there whatever happened to the e-mail.
    assert note.recipient == demo["dept_reviewer"] and note.read_at is None
    claim.refresh_from_db()
    assert open_task_of_claim(claim).pk == note.task_id
