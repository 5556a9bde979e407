import logging

from celery import shared_task
from django.db import OperationalError

from . import checkpoints, signing

logger = logging.getLogger(__name__)


@shared_task(bind=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def sign_checkpoint(self) -> int | None:
    """Periodic (CELERY_BEAT_SCHEDULE): sign a checkpoint if the ledger grew; idempotent.

    Returns the new checkpoint's tree size, or None when there was nothing to sign. A
    missing key or a ledger that does not check out is logged as an error, not retried:
    retrying cannot fix either."""
    try:
        checkpoint = checkpoints.sign_checkpoint()
    except signing.SigningKeyMissing as error:
        logger.error("audit checkpoint not signed: %s", error)
        return None
    except checkpoints.LedgerBroken as error:
        logger.critical("audit checkpoint not signed, the ledger does not check out: %s", error)
        return None
    return checkpoint.tree_size if checkpoint else None
