"""Notifications leave the request through Celery: enqueued only after commit, carried out
by a real worker process (Redis, tests/conftest.py::celery_worker_process), idempotent."""

import pytest
from django.db import transaction

from claims.models import ClaimStatus
from claims.services import create_claim
from notifications.models import Notification
from workflow.selectors import actionable_tasks, open_task_of_claim
from workflow.services import decide_task, submit_claim
from workflow.tasks import notify_task_opened

from .conftest import claim_data

NOTIFY_TASK = r"workflow\.tasks\.notify_task_opened\[[0-9a-f-]+\]"


def wait_for_notifications(worker, claim, count: int, *, after: int, timeout: float = 30.0):
    """The claim's notifications, once there are ``count``: looked up again each time the worker
    logs that a run of the notification task (which commits before it ends) has finished, counted
    from log offset ``after``; each wait is bounded by ``timeout``."""
    finished = 0
    while True:
        notifications = list(Notification.objects.filter(claim=claim).select_related("recipient"))
        if len(notifications) >= count:
            return notifications
        finished += 1
        worker.wait_for_log(NOTIFY_TASK + " succeeded", after=after, count=finished, timeout=timeout)


@pytest.mark.celery_worker
def test_worker_notifies_the_departments_reviewers_of_a_submitted_claim(celery_worker, demo):
    offset = celery_worker.log_offset()
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)  # commits; the task goes to Redis on commit
    claim.refresh_from_db()
    task = open_task_of_claim(claim)

    # The worker process does it: it receives the task and finishes it.
    notifications = wait_for_notifications(celery_worker, claim, 1, after=offset)
    celery_worker.wait_for_log(NOTIFY_TASK + " received", after=offset)
    assert [n.recipient.username for n in notifications] == ["dept_reviewer"]  # not dept2_reviewer (民政局)
    notification = notifications[0]
    assert notification.task_id == task.pk
    assert claim.number in notification.message
    assert notification.emailed_at is not None


@pytest.mark.celery_worker
def test_running_the_notification_twice_does_not_duplicate_it(celery_worker, demo):
    offset = celery_worker.log_offset()
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    [first] = wait_for_notifications(celery_worker, claim, 1, after=offset)

    again = [notify_task_opened.delay(first.task_id) for _ in range(2)]
    for result in again:
        celery_worker.wait_for_task(result.id)
    [only] = Notification.objects.filter(claim=claim)
    assert (only.pk, only.recipient_id, only.emailed_at) == (first.pk, first.recipient_id, first.emailed_at)


@pytest.mark.celery_worker
def test_worker_notifies_hr_reviewers_after_the_department_approves(celery_worker, demo):
    offset = celery_worker.log_offset()
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    wait_for_notifications(celery_worker, claim, 1, after=offset)
    decide_task(user=demo["dept_reviewer"], task_id=actionable_tasks(demo["dept_reviewer"]).get().pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_REVIEW
    hr_task = open_task_of_claim(claim)
    wait_for_notifications(celery_worker, claim, 2, after=offset)
    recipients = set(Notification.objects.filter(task_id=hr_task.pk).values_list("recipient__username", flat=True))
    assert recipients == {"hr_reviewer"}  # not the HR head, finance or the auditor


# --------------------------------------------------------------------------- eager mode (no worker)


class Rollback(Exception):
    pass


def test_notification_is_enqueued_only_after_commit(transactional_db, celery_eager, demo):
    """Eager mode runs a task the moment it is enqueued: so whether a notification exists
    tells exactly when (and whether) it was enqueued."""
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    with transaction.atomic():
        submit_claim(user=demo["provider_clerk"], claim=claim)
        assert not Notification.objects.exists()  # not yet: the transaction is still open
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["dept_reviewer"]


def test_a_rolled_back_submission_enqueues_nothing(transactional_db, celery_eager, demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    with pytest.raises(Rollback):
        with transaction.atomic():
            submit_claim(user=demo["provider_clerk"], claim=claim)
            raise Rollback
    claim.refresh_from_db()
    assert (claim.status, claim.process_id) == (ClaimStatus.DRAFT, None)
    assert not Notification.objects.exists()
    # The same claim, submitted for real, does notify: the rollback is what stopped it above.
    submit_claim(user=demo["provider_clerk"], claim=claim)
    assert Notification.objects.count() == 1


def test_on_commit_callbacks_of_a_rolled_back_savepoint_are_dropped(db, celery_eager, demo, django_capture_on_commit_callbacks):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Rollback):
            with transaction.atomic():
                submit_claim(user=demo["provider_clerk"], claim=claim)
                raise Rollback
    assert callbacks == []
    assert not Notification.objects.exists()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submit_claim(user=demo["provider_clerk"], claim=claim)
        assert not Notification.objects.exists()
    assert len(callbacks) == 1
    assert Notification.objects.filter(recipient=demo["dept_reviewer"]).count() == 1
