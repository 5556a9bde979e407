"""Celery tasks of the notifications: deliver one e-mail after commit. The sweep and the daily
digest are due jobs (notifications/apps.py), run by beat's ``run_due_jobs`` and ``manage.py run_due``."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def deliver_email(email_id: int) -> str:
    """Send one outbox e-mail (services.deliver). No automatic retry: a refused e-mail goes back
    to pending with a later attempt time, and the sweep sends it then. A task that finds its
    e-mail already claimed or sent does nothing."""
    return services.deliver(email_id)
