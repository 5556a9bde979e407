"""What a provider's dashboard reads (approvals/portal_views.py): its claims by status, what
needs its action first (returned claims by their deadline, then drafts), and what it was paid.
Every read starts from claims_visible_to: a clerk sees its own provider's claims, nothing else."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Max, Sum
from django.utils import timezone

from audit import actions
from claims.models import ZERO, Claim, ClaimLine, ClaimStatus, PaymentStatus
from claims.pricing import CENT
from claims.selectors import claims_visible_to, ledger_entries_visible_to

from .models import InboxItem

RECENT = 20
# The ledger's entries that say money reached the provider's bank (or the claim was paid in full).
PAYMENT_ACTIONS = (actions.CLAIM_PAYMENT_RESULT, actions.CLAIM_PAID)


@dataclass(frozen=True)
class Dashboard:
    by_status: list[tuple[str, str, int]]  # (status, label, count) for every status, in the process's order
    returned: list  # InboxItem rows of the correction step, soonest deadline first (``.overdue``, ``.reason`` set)
    drafts: list[Claim]
    payments: list[dict]  # {"claim": Claim, "amount": paid on its lines, "at": last payment entry}
    paid_total: Decimal


def provider_dashboard(user) -> Dashboard:
    claims = claims_visible_to(user)
    counts = dict(claims.order_by().values_list("status").annotate(n=Count("pk")))
    today = timezone.localdate()
    returned = list(
        InboxItem.objects.filter(claim__in=claims.filter(status=ClaimStatus.RETURNED), step="correction")
        .select_related("claim")
        .order_by("due", "claim_id")
    )
    reasons = dict(
        ledger_entries_visible_to(user)
        .filter(claim_id__in=[item.claim_id for item in returned], action=actions.CLAIM_RETURNED)
        .order_by("seq")
        .values_list("claim_id", "reason")
    )  # the last return of each claim wins
    for item in returned:
        item.overdue = item.due < today
        item.reason = reasons.get(item.claim_id, "")
    drafts = list(claims.filter(status=ClaimStatus.DRAFT).select_related("policy").order_by("-created_at")[:RECENT])
    paid_lines = ClaimLine.objects.filter(claim__in=claims, payment_status=PaymentStatus.PAID)
    paid = list(paid_lines.order_by().values("claim_id").annotate(amount=Sum("amount")).order_by("-claim_id")[:RECENT])
    by_id = {claim.pk: claim for claim in Claim.objects.filter(pk__in=[row["claim_id"] for row in paid])}
    paid_at = dict(
        ledger_entries_visible_to(user)
        .filter(claim_id__in=list(by_id), action__in=PAYMENT_ACTIONS)
        .order_by()
        .values("claim_id")
        .annotate(at=Max("at"))
        .values_list("claim_id", "at")
    )
    return Dashboard(
        by_status=[(value, label, counts.get(value, 0)) for value, label in ClaimStatus.choices],
        returned=returned,
        drafts=drafts,
        payments=[
            {"claim": by_id[row["claim_id"]], "amount": row["amount"].quantize(CENT), "at": paid_at.get(row["claim_id"])}
            for row in paid
        ],
        # In cents whatever the database sums in (SQLite's SUM drops a decimal's places).
        paid_total=(paid_lines.aggregate(total=Sum("amount"))["total"] or ZERO).quantize(CENT),
    )
