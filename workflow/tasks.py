"""Celery tasks of the claim process: beat's due jobs, and a bank result's claims."""

import logging

from celery import shared_task
from django.utils import timezone

from due.registry import run_due

from .disbursement import settle_batch

logger = logging.getLogger(__name__)


@shared_task
def run_due_jobs() -> dict:
    """Celery beat's entry to the due-job registry (settings.CELERY_BEAT_SCHEDULE, every minute):
    every timer and sweep due now, as ``manage.py run_due`` runs them. Not retried: the next beat
    runs them again, and every job is idempotent."""
    return run_due(timezone.now())


@shared_task(bind=True, max_retries=8, acks_late=True)
def settle_batch_task(self, batch_id: int) -> int:
    """Enqueued when a bank result commits (workflow.disbursement.apply_bank_result): its
    claims end or are told, in chunks; a retry, a redelivered message or the sweep finishes
    what a failure left (settle_batch). Returns how many claims ended."""
    try:
        return settle_batch(batch_id)
    except Exception as error:
        logger.warning("settling of batch %s failed (attempt %d): %s", batch_id, self.request.retries + 1, error)
        raise self.retry(exc=error, countdown=min(2**self.request.retries, 300)) from error
