"""Reads of fund accounts, plans and allocations, always scoped to what the user may see, and
the funds report (allocated, reserved, paid, returned, recovered, remaining per department).

Finance, HR and auditors see the accounts, plans and allocations of the jurisdictions they
oversee; a department reviewer sees the accounts of its jurisdiction (to file a plan against)
and its own department's plans and allocations. Anything else is out of scope (404).

The report is computed in SQL, a fixed number of queries whatever the number of lines: one
grouped aggregate over the lines, one over the recovery orders and one over the receipts."""

from collections import defaultdict
from decimal import Decimal

from django.db.models import DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from claims.errors import NotInScope
from claims.models import ClaimLine, PaymentStatus
from claims.selectors import departments_of_reviewer, jurisdictions_overseen_by

from .. import access
from ..models import Allocation, FundAccount, FundingPlan, RecoveryOrder, RecoveryReceipt

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def _money(value) -> Decimal:
    """Two places, whatever the database returned (SQLite's sums drop them)."""
    return (value or ZERO).quantize(CENT)


# Money bound but not yet paid.
RESERVED_STATES = (PaymentStatus.RESERVED, PaymentStatus.IN_BATCH, PaymentStatus.IN_PAYMENT)
# Money that left the account (a recovered line was paid first; what came back is counted as recovered).
PAID_STATES = (PaymentStatus.PAID, PaymentStatus.RECOVERED)
# A line in one of these states holds its amount against the allocation (less what was recovered).
BOUND_STATES = (*RESERVED_STATES, *PAID_STATES, PaymentStatus.RETURNED)

FIGURES = ("allocated", "reserved", "paid", "returned", "recovered", "committed", "remaining")


def _overseen(user) -> QuerySet:
    return jurisdictions_overseen_by(user).values("pk")


def fund_accounts_visible_to(user) -> QuerySet:
    if not user.is_authenticated:
        return FundAccount.objects.none()
    return FundAccount.objects.filter(
        Q(jurisdiction__in=_overseen(user)) | Q(jurisdiction__in=departments_of_reviewer(user).values("jurisdiction"))
    ).select_related("jurisdiction")


def plans_visible_to(user) -> QuerySet:
    if not user.is_authenticated:
        return FundingPlan.objects.none()
    return FundingPlan.objects.filter(
        Q(fund_account__jurisdiction__in=_overseen(user)) | Q(department__in=departments_of_reviewer(user).values("pk"))
    ).select_related("fund_account__jurisdiction", "department", "allocation")


def allocations_visible_to(user) -> QuerySet:
    if not user.is_authenticated:
        return Allocation.objects.none()
    return Allocation.objects.filter(
        Q(fund_account__jurisdiction__in=_overseen(user)) | Q(department__in=departments_of_reviewer(user).values("pk"))
    ).select_related("fund_account__jurisdiction", "department", "plan")


def _get(queryset, pk):
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise NotInScope() from None


def get_fund_account_for_user(*, user, account_id) -> FundAccount:
    return _get(fund_accounts_visible_to(user), account_id)


def get_plan_for_user(*, user, plan_id) -> FundingPlan:
    return _get(plans_visible_to(user).prefetch_related("items"), plan_id)


def overseen_jurisdiction_ids(user) -> set[int]:
    """The jurisdictions whose whole accounts (budget, account number) the user may see."""
    return set(_overseen(user).values_list("pk", flat=True))


# --------------------------------------------------------------------------- the report


def _sum(condition: Q):
    return Coalesce(Sum("amount", filter=condition), Value(ZERO), output_field=DecimalField(max_digits=16, decimal_places=2))


def _line_figures(allocation_ids: list[int]) -> dict[int, dict]:
    """Per allocation: reserved, paid, returned and the bound amount, in one grouped query."""
    rows = (
        ClaimLine.objects.filter(allocation_id__in=allocation_ids)
        .order_by()
        .values("allocation_id")
        .annotate(
            reserved=_sum(Q(payment_status__in=RESERVED_STATES)),
            paid=_sum(Q(payment_status__in=PAID_STATES)),
            returned=_sum(Q(payment_status=PaymentStatus.RETURNED)),
            bound=_sum(Q(payment_status__in=BOUND_STATES)),
        )
    )
    return {row.pop("allocation_id"): {name: _money(value) for name, value in row.items()} for row in rows}


def _recovered(allocation_ids: list[int]) -> dict[int, Decimal]:
    rows = (
        RecoveryOrder.objects.filter(claim_line__allocation_id__in=allocation_ids)
        .order_by()
        .values("claim_line__allocation_id")
        .annotate(total=Sum("amount_recovered"))
    )
    return {row["claim_line__allocation_id"]: _money(row["total"]) for row in rows}


def _receipt_mismatches(allocation_ids: list[int]) -> list[dict]:
    """Recovery orders whose recorded amount differs from the sum of their receipts."""
    receipts = dict(
        RecoveryReceipt.objects.filter(order__claim_line__allocation_id__in=allocation_ids)
        .order_by()
        .values("order_id")
        .annotate(total=Sum("amount"))
        .values_list("order_id", "total")
    )
    receipts = {order: _money(total) for order, total in receipts.items()}
    orders = (
        RecoveryOrder.objects.filter(claim_line__allocation_id__in=allocation_ids)
        .filter(Q(amount_recovered__gt=0) | Q(pk__in=list(receipts)))
        .values("pk", "amount_recovered", "claim_line__allocation_id")
    )
    return [
        {
            "order": order["pk"],
            "allocation": order["claim_line__allocation_id"],
            "recorded": order["amount_recovered"],
            "receipts": receipts.get(order["pk"], ZERO),
        }
        for order in orders
        if receipts.get(order["pk"], ZERO) != order["amount_recovered"]
    ]


def funds_report(*, user, year: int) -> dict:
    """The year's report for every fund account the user sees: a row per department allocation,
    the totals, the account's balance (budget − paid + recovered) and unallocated budget, and
    any anomaly (an allocation whose committed counter differs from what its lines bind)."""
    accounts = list(fund_accounts_visible_to(user).filter(year=year).order_by("jurisdiction__code"))
    whole = overseen_jurisdiction_ids(user)
    allocations = list(
        allocations_visible_to(user).filter(fund_account__in=[account.pk for account in accounts]).order_by("department__code")
    )
    ids = [allocation.pk for allocation in allocations]
    lines = _line_figures(ids)
    recovered = _recovered(ids)
    receipt_mismatches = _receipt_mismatches(ids)
    by_account = defaultdict(list)
    for allocation in allocations:
        by_account[allocation.fund_account_id].append(allocation)

    report = {"year": year, "accounts": []}
    for account in accounts:
        rows, anomalies = [], []
        for allocation in by_account[account.pk]:
            figures = lines.get(allocation.pk, {"reserved": ZERO, "paid": ZERO, "returned": ZERO, "bound": ZERO})
            back = recovered.get(allocation.pk, ZERO)
            derived = figures["bound"] - back
            row = {
                "allocation": allocation.pk,
                "department": allocation.department.code,
                "department_name": allocation.department.name,
                "allocated": allocation.amount,
                "reserved": figures["reserved"],
                "paid": figures["paid"],
                "returned": figures["returned"],
                "recovered": back,
                "committed": allocation.committed,
                "remaining": allocation.amount - allocation.committed,
            }
            rows.append(row)
            if derived != allocation.committed:
                anomalies.append(
                    {
                        "kind": "committed_mismatch",
                        "department": allocation.department.code,
                        "allocation": allocation.pk,
                        "committed": allocation.committed,
                        "from_lines": derived,
                        "message": _("%(department)s：分配占用额 %(committed)s 元，与明细行计算的 %(derived)s 元不符。")
                        % {"department": allocation.department.name, "committed": allocation.committed, "derived": derived},
                    }
                )
        departments = {row["allocation"]: row["department"] for row in rows}
        for mismatch in receipt_mismatches:
            if mismatch["allocation"] in departments:
                anomalies.append(
                    {
                        "kind": "recovery_receipts_mismatch",
                        "department": departments[mismatch["allocation"]],
                        "allocation": mismatch["allocation"],
                        "order": mismatch["order"],
                        "committed": mismatch["recorded"],
                        "from_lines": mismatch["receipts"],
                        "message": _("追回单 %(order)s：已追回金额 %(recorded)s 元，与缴款凭证合计 %(receipts)s 元不符。")
                        % mismatch,
                    }
                )
        totals = {name: sum((row[name] for row in rows), ZERO) for name in FIGURES}
        entry = {
            "id": account.pk,
            "jurisdiction": account.jurisdiction.code,
            "jurisdiction_name": account.jurisdiction.name,
            "name": account.name,
            "year": account.year,
            "rows": rows,
            "totals": totals,
            "anomalies": anomalies,
            "budget": None,
            "unallocated": None,
            "balance": None,
        }
        if account.jurisdiction_id in whole:
            # The whole account's figures, for those who oversee it (a department sees its own row only).
            entry["budget"] = account.budget
            entry["unallocated"] = account.budget - totals["allocated"]
            entry["balance"] = account.budget - totals["paid"] + totals["recovered"]
        report["accounts"].append(entry)
    return report


def funds_report_for(*, user, year: int) -> dict:
    """The report, for a user whose role may read it (ActionForbidden otherwise)."""
    access.require(user, access.READ_FUND_REPORTS)
    return funds_report(user=user, year=year)
