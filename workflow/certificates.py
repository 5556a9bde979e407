"""Re-checking certificates on demand (``manage.py recheck_certificates``, the admin's action on
claims): each claim's lines are checked at their source again (claims/certificate_checks.py),
and a line already paid whose certificate has since been revoked gets a recovery order
(payments/services/recoveries.py). The workflow layer, because it reaches both."""

from django.db import transaction

from claims.certificate_checks import CheckOccasion, check_certificates
from claims.models import Claim, ClaimStatus
from payments.services.recoveries import open_recovery_for_revoked_certificate


@transaction.atomic
def recheck_claim_certificates(*, actor, claim: Claim) -> dict:
    """Check one submitted claim's certificates now; returns counts by result and the recovery
    orders opened."""
    claim = Claim.objects.select_for_update().select_related("jurisdiction").get(pk=claim.pk)
    outcome = check_certificates(claim=claim, occasion=CheckOccasion.RECHECK, actor=actor)
    orders = []
    for line in outcome.revoked_lines:
        order = open_recovery_for_revoked_certificate(actor=actor, line=line, source=_source_of(outcome, line))
        if order is not None:
            orders.append(order)
    results: dict[str, int] = {}
    for check in outcome.checks:
        results[check.result] = results.get(check.result, 0) + 1
    return {"claim": claim.number, "results": results, "recoveries": [order.pk for order in orders]}


def _source_of(outcome, line) -> str:
    return next((check.source for check in outcome.checks if check.line_id == line.pk), "")


def claims_to_recheck():
    """Every submitted claim that was not withdrawn (drafts are checked when submitted)."""
    return Claim.objects.exclude(status__in=(ClaimStatus.DRAFT, ClaimStatus.WITHDRAWN)).order_by("pk")
