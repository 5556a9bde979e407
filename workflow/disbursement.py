"""The disbursement step: the payment services that touch a claim's process, called with
what the process knows. Finance builds and releases batches without paying a claim its
officer acted on at another step (RULES N4), and the claims a bank result or a line finally
not paid leaves with nothing to pay end here: a line's cancellation in its own transaction, a
bank result's claims in the worker right after it (settle_batch). Pages and the API call
these, not the payment services directly."""

import datetime
import logging
from itertools import groupby

from django.db import transaction
from django.utils import timezone

from claims.models import Claim, ClaimLine, Jurisdiction
from due.enqueue import enqueue_after_commit
from payments.models import PaymentBatch
from payments.services import batches, results

from .notify import notify_payment_returned
from .policy import processes_with_other_duties
from .services import settle_claims

logger = logging.getLogger(__name__)


def build_batch(
    *, actor, jurisdiction: Jurisdiction, claim_ids: list[int] | None = None, year: int | None = None
) -> PaymentBatch:
    return batches.build_batch(
        actor=actor,
        jurisdiction=jurisdiction,
        claim_ids=claim_ids,
        year=year,
        other_duty_processes=processes_with_other_duties(actor, "disbursement"),
    )


def request_release(*, actor, batch: PaymentBatch) -> PaymentBatch:
    return batches.request_release(
        actor=actor, batch=batch, other_duty_processes=processes_with_other_duties(actor, "disbursement")
    )


@transaction.atomic
def apply_bank_result(*, actor, batch: PaymentBatch, filename: str, content: bytes) -> results.ResultSummary:
    """The file moves transfers and lines here (set-based, one transaction); the claims' workflow
    follows in the worker once it commits (settle_batch): at ~45 ms a claim, a batch of
    thousands would outlast the request and roll back with it."""
    summary = results.apply_bank_result(actor=actor, batch=batch, filename=filename, content=content)
    if summary.changed:
        from .tasks import settle_batch_task  # tasks.py imports this module

        enqueue_after_commit(settle_batch_task, summary.batch.pk, sweep="workflow.settle_forgotten_batches")
    return summary


SETTLE_CHUNK = 20  # claims per transaction: progress is kept, each claim's process lock held briefly


def settle_batch(batch_id: int, *, now: datetime.datetime | None = None) -> int:
    """The claims of a batch the bank answered: each with a line paid ends when nothing else of it
    is left to pay (settle_claims), the providers of returned lines are told, chunk by chunk in
    transactions of their own. One worker at a time (the batch's lease); a crash midway loses
    nothing: what committed stays, the rest is done by the retry or the sweep, and a claim
    already ended, or a provider already told, is left alone. Returns how many claims ended.
    ``now``: the moment the batch is taken at (the sweep's)."""
    ended = 0
    requested_at = results.take_settlement(batch_id, now=now or timezone.now())
    try:
        while requested_at is not None:
            answered = results.answered_claims(batch_id)
            ended += _settle_answered(batch_id, answered)
            # Not None when another result was applied meanwhile: its claims too, still holding the batch.
            requested_at = results.finish_settlement(batch_id, requested_at=requested_at)
    except BaseException:
        results.release_settlement(batch_id)
        raise
    return ended


def _settle_answered(batch_id: int, answered: results.AnsweredClaims) -> int:
    ended = 0
    detail = {"batch": answered.number}
    claim_ids = sorted({*answered.with_paid_line, *answered.returned_lines})
    paid = set(answered.with_paid_line)
    for start in range(0, len(claim_ids), SETTLE_CHUNK):
        chunk = claim_ids[start : start + SETTLE_CHUNK]
        with transaction.atomic():
            # Each claim's payment is recorded as done by its file's uploader. In claim order, as
            # an upload locks them (results.apply_bank_result): the two never deadlock.
            paid_in_order = (pk for pk in chunk if pk in paid)
            for actor, same_actor in groupby(paid_in_order, key=answered.actors.__getitem__):
                ended += settle_claims(actor=actor, claim_ids=list(same_actor), detail=detail)
            returned = [pk for pk in chunk if pk in answered.returned_lines]
            for claim in Claim.objects.filter(pk__in=returned).select_related("provider").order_by("pk"):
                notify_payment_returned(claim=claim, lines=answered.returned_lines[claim.pk], batch_number=answered.number)
            results.renew_settlement(batch_id, now=timezone.now())
    return ended


# A batch's settling not begun this long after its result: its task was lost.
SETTLE_SWEEP_AFTER = datetime.timedelta(minutes=2)


def settle_forgotten_batches(now: datetime.datetime) -> int:
    """Due job: batches whose claims still await settling with no worker on them are settled. A
    batch that fails is logged and raised after the others: it must not hold them back."""
    batch_ids = list(results.batches_to_settle(now=now, older_than=SETTLE_SWEEP_AFTER).values_list("pk", flat=True))
    failure: Exception | None = None
    for batch_id in batch_ids:
        try:
            settle_batch(batch_id, now=now)
        except Exception as error:  # noqa: BLE001 - logged, the other batches still settled, then raised
            logger.exception("settling of batch %s failed in the sweep", batch_id)
            failure = failure or error
    if failure is not None:
        raise failure
    return len(batch_ids)


@transaction.atomic
def cancel_line_payment(*, actor, line: ClaimLine, reason_code: str, reason: str) -> ClaimLine:
    line = results.cancel_line_payment(actor=actor, line=line, reason_code=reason_code, reason=reason)
    settle_claims(actor=actor, claim_ids=[line.claim_id], detail={"line": line.line_no})
    return line
