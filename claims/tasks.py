"""Celery tasks of the claims app. Enqueued on commit; idempotent; retried."""

import logging

from celery import shared_task

from . import imports

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=5, acks_late=True)
def import_roster(self, upload_id: int) -> str:
    """Import a received roster (claims.imports.process_roster). A duplicated or redelivered
    message finds the upload already taken or finished and does nothing. A failure of our own
    is retried with backoff; when the retries are spent the upload fails with a message."""
    try:
        upload = imports.process_roster(upload_id=upload_id)
    except Exception as error:
        if self.request.retries >= self.max_retries:
            logger.exception("roster upload %s: giving up after %d retries", upload_id, self.request.retries)
            imports.give_up(upload_id=upload_id)
            raise
        raise self.retry(exc=error, countdown=2**self.request.retries) from error
    return upload.status if upload is not None else "missing"
