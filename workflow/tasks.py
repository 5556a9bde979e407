"""Celery tasks of the claim process. Enqueued on commit; idempotent; retried."""

from celery import shared_task
from django.utils import timezone

from due.registry import run_due

from .notify import notify_people_of_task


@shared_task(bind=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def notify_task_opened(self, task_id: int) -> int:
    """Tell the people who may act on a newly opened task (one notification each, e-mailed once)."""
    return notify_people_of_task(task_id)


@shared_task
def run_due_jobs() -> dict:
    """Celery beat's entry to the due-job registry (settings.CELERY_BEAT_SCHEDULE, every minute):
    every timer and sweep due now, as ``manage.py run_due`` runs them. Not retried: the next beat
    runs them again, and every job is idempotent."""
    return run_due(timezone.now())
