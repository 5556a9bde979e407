"""Celery tasks of the notifications: deliver the e-mails of one notification after commit. The
sweep and the daily digest are due jobs (notifications/apps.py), run by beat's ``run_due_jobs``
and ``manage.py run_due``."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def deliver_emails(email_ids: list[int]) -> list[str]:
    """Send the outbox e-mails one notification wrote (its recipients'), each at most once
    (services.deliver); one message, not one per e-mail: publishing a task costs the request
    about 1 ms. No automatic retry: a refused e-mail goes back to pending with a later attempt
    time, and the sweep sends it then, as it sends those left by a task that failed midway. An
    e-mail found already claimed or sent is left alone."""
    return [services.deliver(email_id) for email_id in email_ids]
