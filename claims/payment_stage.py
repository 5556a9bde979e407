"""Whether a claim awaiting payment is "approved" or already "in payment".

While the workflow's disbursement step is open, the claim's status follows its lines: in
payment once any approved line has gone into a batch (and stays so while a line is paid or
returned by the bank). The one definition, used by the workflow when the step opens and
by the payment services when they move lines."""

from django.db.models import Exists, OuterRef

from .models import IN_PAYMENT_LINE_STATES, SETTLED_LINE_STATES, Claim, ClaimLine, ClaimStatus, LineDecision

AWAITING_PAYMENT = (ClaimStatus.APPROVED, ClaimStatus.IN_PAYMENT)
CHUNK = 5000


def unsettled_lines():
    """Approved lines with an amount whose payment is not settled (paid, recovered or finally not
    paid): while a claim awaiting payment has one, its disbursement step stays open. The one
    definition: the workflow ends a claim by it, the reconciliation counts and checks by it."""
    return ClaimLine.objects.filter(decision=LineDecision.APPROVE, amount__gt=0).exclude(payment_status__in=SETTLED_LINE_STATES)


def lock_claims(claim_ids) -> None:
    """The claims' row locks, in pk order (chunked), before any of their lines or the ledger: the
    order every payment service takes them in (claim, line, ledger; cancel_line_payment locks one
    claim, then its line), so that two of them never deadlock."""
    ordered = sorted(set(claim_ids))
    for start in range(0, len(ordered), CHUNK):
        list(
            Claim.objects.select_for_update()
            .filter(pk__in=ordered[start : start + CHUNK])
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def payment_stage_status(claim: Claim) -> str:
    in_payment = claim.lines.filter(payment_status__in=IN_PAYMENT_LINE_STATES).exists()
    return ClaimStatus.IN_PAYMENT if in_payment else ClaimStatus.APPROVED


def refresh_payment_stage(*, claim_ids) -> dict[int, tuple[str, str]]:
    """Set approved/in payment on those of the claims that await payment, from their lines.
    Returns the claims whose status changed: {claim id: (before, after)}."""
    claim_ids = sorted(set(claim_ids))
    changed: dict[int, tuple[str, str]] = {}
    for start in range(0, len(claim_ids), CHUNK):
        awaiting = Claim.objects.filter(pk__in=claim_ids[start : start + CHUNK], status__in=AWAITING_PAYMENT).annotate(
            has_line_in_payment=Exists(
                ClaimLine.objects.filter(claim_id=OuterRef("pk"), payment_status__in=IN_PAYMENT_LINE_STATES)
            )
        )
        moves = {ClaimStatus.IN_PAYMENT: [], ClaimStatus.APPROVED: []}
        for pk, before, in_payment in awaiting.values_list("pk", "status", "has_line_in_payment"):
            after = ClaimStatus.IN_PAYMENT if in_payment else ClaimStatus.APPROVED
            if after != before:
                moves[after].append(pk)
                changed[pk] = (before, after)
        for after, pks in moves.items():
            if pks:
                Claim.objects.filter(pk__in=pks, status__in=AWAITING_PAYMENT).update(status=after)
    return changed
