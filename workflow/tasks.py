"""Celery tasks of the claim process. Enqueued on commit; idempotent; retried."""

from celery import shared_task

from .notify import notify_people_of_task


@shared_task(bind=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def notify_task_opened(self, task_id: int) -> int:
    """Tell the people who may act on a newly opened task (one notification each, e-mailed once)."""
    return notify_people_of_task(task_id)
