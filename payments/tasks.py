"""Celery tasks of the payments app. Enqueued on commit; idempotent; retried."""

import logging

from celery import shared_task

from .services import batches

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=8, acks_late=True)
def release_batch_task(self, batch_id: int) -> str:
    """Write a released batch's bank files and mark its lines in payment (services.batches.release_batch).
    All of it is one transaction: a crash leaves the batch "releasing" and a retry, a redelivered
    message or the due job ``payments.requeue_stuck_releases`` does it once. A batch already
    released is left alone."""
    try:
        batch = batches.release_batch(batch_id=batch_id)
    except Exception as error:
        logger.warning("release of batch %s failed (attempt %d): %s", batch_id, self.request.retries + 1, error)
        raise self.retry(exc=error, countdown=min(2**self.request.retries, 300)) from error
    return batch.status if batch is not None else "missing"
