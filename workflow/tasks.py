"""Celery tasks of the claim process, run by beat."""

from celery import shared_task
from django.utils import timezone

from due.registry import run_due


@shared_task
def run_due_jobs() -> dict:
    """Celery beat's entry to the due-job registry (settings.CELERY_BEAT_SCHEDULE, every minute):
    every timer and sweep due now, as ``manage.py run_due`` runs them. Not retried: the next beat
    runs them again, and every job is idempotent."""
    return run_due(timezone.now())
