"""The disbursement step: the payment services that touch a claim's process, called with
what the process knows. Finance builds and releases batches without paying a claim its
officer acted on at another step (RULES N4), and the claims a bank result or a line finally
not paid leaves with nothing to pay end here, in the same transaction. Pages and the API
call these, not the payment services directly."""

from django.db import transaction

from claims.models import Claim, ClaimLine, Jurisdiction
from payments.models import PaymentBatch
from payments.services import batches, results

from .notify import notify_payment_returned
from .policy import processes_with_other_duties
from .services import settle_claims


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
    summary = results.apply_bank_result(actor=actor, batch=batch, filename=filename, content=content)
    summary.claims_paid = settle_claims(actor=actor, claim_ids=summary.claims_to_settle, detail={"batch": summary.batch.number})
    for claim in Claim.objects.filter(pk__in=summary.returned_lines).select_related("provider").order_by("pk"):
        notify_payment_returned(claim=claim, lines=summary.returned_lines[claim.pk], batch_number=summary.batch.number)
    return summary


@transaction.atomic
def cancel_line_payment(*, actor, line: ClaimLine, reason_code: str, reason: str) -> ClaimLine:
    line = results.cancel_line_payment(actor=actor, line=line, reason_code=reason_code, reason=reason)
    settle_claims(actor=actor, claim_ids=[line.claim_id], detail={"line": line.line_no})
    return line
