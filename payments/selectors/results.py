"""Reads of the bank's results: a batch's reconciliation (sent vs paid vs returned vs pending, and
every row in a state it should not be in), the returned lines awaiting a corrected account, and
recovery orders. Always scoped: finance, HR and auditors of the batch's jurisdiction; anything
else is out of scope (404).

Each figure and each kind of anomaly is one SQL query, whatever the size of the batch."""

from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from claims.errors import NotInScope
from claims.models import Claim, ClaimLine, ClaimStatus, PaymentStatus
from claims.payment_stage import AWAITING_PAYMENT, unsettled_lines
from claims.selectors import jurisdictions_overseen_by

from .. import access
from ..models import (
    LIVE_BATCH_LINE_STATUSES,
    BatchLine,
    BatchLineStatus,
    BatchStatus,
    PaymentBatch,
    RecoveryOrder,
    Transfer,
    TransferStatus,
)

ZERO = Decimal("0.00")
ANOMALY_LIMIT = 200
# The batch line status each transfer status goes with.
LINE_STATUS_OF_TRANSFER = {
    TransferStatus.PENDING: BatchLineStatus.IN_BATCH,
    TransferStatus.SENT: BatchLineStatus.IN_PAYMENT,
    TransferStatus.PAID: BatchLineStatus.PAID,
    TransferStatus.RETURNED: BatchLineStatus.RETURNED,
    TransferStatus.CANCELLED: BatchLineStatus.CANCELLED,
}


def batches_visible_to(user) -> QuerySet:
    if not access.may(user, access.READ_PAYMENT_RESULTS):
        return PaymentBatch.objects.none()
    return PaymentBatch.objects.filter(
        fund_account__jurisdiction__in=jurisdictions_overseen_by(user).values("pk")
    ).select_related("fund_account__jurisdiction", "built_by", "released_by")


def get_batch_for_user(*, user, batch_id) -> PaymentBatch:
    try:
        return batches_visible_to(user).get(pk=batch_id)
    except (PaymentBatch.DoesNotExist, ValueError, TypeError):
        raise NotInScope() from None


def get_transfer_for_user(*, user, transfer_id) -> Transfer:
    try:
        return Transfer.objects.select_related("batch__fund_account__jurisdiction").get(
            pk=transfer_id, batch__in=batches_visible_to(user).values("pk")
        )
    except (Transfer.DoesNotExist, ValueError, TypeError):
        raise NotInScope() from None


def recoveries_visible_to(user) -> QuerySet:
    if not access.may(user, access.READ_PAYMENT_RESULTS):
        return RecoveryOrder.objects.none()
    return RecoveryOrder.objects.filter(
        claim_line__claim__jurisdiction__in=jurisdictions_overseen_by(user).values("pk")
    ).select_related("claim_line__claim", "claim_line__trainee", "opened_by")


def get_recovery_for_user(*, user, order_id) -> RecoveryOrder:
    try:
        return recoveries_visible_to(user).get(pk=order_id)
    except (RecoveryOrder.DoesNotExist, ValueError, TypeError):
        raise NotInScope() from None


def get_line_for_overseer(*, user, claim_id, line_no) -> ClaimLine:
    """A line of a submitted claim of a jurisdiction the user oversees (HR, finance, auditor)."""
    if not access.may(user, access.READ_PAYMENT_RESULTS):
        raise NotInScope()
    try:
        return ClaimLine.objects.select_related("claim__jurisdiction", "trainee").get(
            claim_id=claim_id,
            line_no=line_no,
            claim__jurisdiction__in=jurisdictions_overseen_by(user).values("pk"),
            claim__status__in=[status for status in ClaimStatus.values if status != ClaimStatus.DRAFT],
        )
    except (ClaimLine.DoesNotExist, ValueError, TypeError):
        raise NotInScope() from None


# --------------------------------------------------------------------------- reconciliation


def _figures(queryset, status_field: str) -> dict:
    rows = queryset.values(status_field).annotate(n=Count("pk"), amount=Sum("amount")).order_by()
    return {row[status_field]: {"count": row["n"], "amount": row["amount"] or ZERO} for row in rows}


def _pick(figures: dict, *statuses) -> dict:
    return {
        "count": sum(figures.get(s, {}).get("count", 0) for s in statuses),
        "amount": sum((figures.get(s, {}).get("amount", ZERO) for s in statuses), ZERO),
    }


def _line_ref(row: dict) -> dict:
    return {
        "claim": row.get("claim_line__claim__number") or row.get("claim__number"),
        "claim_id": row.get("claim_line__claim_id") or row.get("claim_id"),
        "line": row.get("claim_line__line_no") or row.get("line_no"),
        "transfer": row.get("transfer__seq"),
    }


def reconciliation(batch: PaymentBatch) -> dict:
    """Sent vs paid vs returned vs pending (transfers and lines, count and amount), and anomalies."""
    transfers = _figures(Transfer.objects.filter(batch=batch), "status")
    lines = _figures(BatchLine.objects.filter(batch=batch), "status")
    sent_states = (TransferStatus.SENT, TransferStatus.PAID, TransferStatus.RETURNED)
    return {
        "batch": batch,
        "transfers": {
            "sent": _pick(transfers, *sent_states),
            "paid": _pick(transfers, TransferStatus.PAID),
            "returned": _pick(transfers, TransferStatus.RETURNED),
            "pending": _pick(transfers, TransferStatus.SENT),
            "not_sent": _pick(transfers, TransferStatus.PENDING),
            "cancelled": _pick(transfers, TransferStatus.CANCELLED),
            "all": _pick(transfers, *TransferStatus.values),
        },
        "lines": {
            "sent": _pick(lines, BatchLineStatus.IN_PAYMENT, BatchLineStatus.PAID, BatchLineStatus.RETURNED),
            "paid": _pick(lines, BatchLineStatus.PAID),
            "returned": _pick(lines, BatchLineStatus.RETURNED),
            "pending": _pick(lines, BatchLineStatus.IN_PAYMENT),
            "all": _pick(lines, *BatchLineStatus.values),
        },
        "anomalies": anomalies(batch),
        # A bank result's claims still being ended by the worker (workflow.disbursement.settle_batch),
        # and how many it has left: nothing left to pay, their disbursement step still open.
        "settling_since": batch.settle_requested_at,
        "claims_left_to_settle": claims_left_to_settle(batch) if batch.settle_requested_at else 0,
    }


def claims_left_to_settle(batch: PaymentBatch) -> int:
    """The batch's claims that await payment with nothing left to pay: the worker ends each."""
    in_batch = BatchLine.objects.filter(batch=batch).values("claim_line__claim_id")
    return (
        Claim.objects.filter(pk__in=in_batch, status__in=AWAITING_PAYMENT)
        .exclude(Exists(unsettled_lines().filter(claim=OuterRef("pk"))))
        .count()
    )


def anomalies(batch: PaymentBatch) -> list[dict]:
    """Every row of the batch (or of its claims) in a state it should not be in: [{code, message, …}]."""
    found: list[dict] = []

    def add(code: str, message: str, rows, **extra):
        for row in rows[:ANOMALY_LIMIT]:
            found.append(
                {
                    "code": code,
                    "message": message,
                    **_line_ref(row),
                    **extra,
                    **{key: row[key] for key in ("expected", "actual") if key in row},
                }
            )

    batch_lines = BatchLine.objects.filter(batch=batch)
    ref = ("claim_line__claim__number", "claim_line__claim_id", "claim_line__line_no", "transfer__seq")

    # Totals: the batch against its transfers, each transfer against its lines.
    transfer_total = (
        Transfer.objects.filter(batch=batch).exclude(status=TransferStatus.CANCELLED).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    if batch.status != BatchStatus.CANCELLED and transfer_total != batch.total:
        found.append(
            {
                "code": "batch_total",
                "message": _("批次金额合计与各笔转账之和不符。"),
                "claim": None,
                "claim_id": None,
                "line": None,
                "transfer": None,
                "expected": batch.total,
                "actual": transfer_total,
            }
        )
    line_sums = (
        BatchLine.objects.filter(transfer=OuterRef("pk")).order_by().values("transfer").annotate(s=Sum("amount")).values("s")
    )
    bad_transfers = (
        Transfer.objects.filter(batch=batch)
        .annotate(
            lines_total=Coalesce(
                Subquery(line_sums, output_field=DecimalField(max_digits=16, decimal_places=2)),
                Value(ZERO, output_field=DecimalField(max_digits=16, decimal_places=2)),
            )
        )
        .exclude(lines_total=F("amount"))
        .values("seq", "amount", "lines_total")[:ANOMALY_LIMIT]
    )
    for row in bad_transfers:
        found.append(
            {
                "code": "transfer_total",
                "message": _("转账金额与其明细之和不符。"),
                "claim": None,
                "claim_id": None,
                "line": None,
                "transfer": row["seq"],
                "expected": row["amount"],
                "actual": row["lines_total"],
            }
        )

    # A batch line whose status does not go with its transfer's.
    mismatch = Q()
    for transfer_status, line_status in LINE_STATUS_OF_TRANSFER.items():
        mismatch |= Q(transfer__status=transfer_status) & ~Q(status=line_status)
    add(
        "line_vs_transfer",
        _("明细状态与所属转账的状态不符。"),
        batch_lines.filter(mismatch)
        .annotate(expected=F("transfer__status"), actual=F("status"))
        .values(*ref, "expected", "actual"),
    )
    # A batch line whose amount is not its claim line's.
    add(
        "line_amount",
        _("批次明细金额与申领明细金额不符。"),
        batch_lines.exclude(amount=F("claim_line__amount"))
        .annotate(expected=F("claim_line__amount"), actual=F("amount"))
        .values(*ref, "expected", "actual"),
    )
    # Paid at the bank, but the claim line does not say so.
    add(
        "paid_not_recorded",
        _("银行已入账，但申领明细不是“已拨付”。"),
        batch_lines.filter(status=BatchLineStatus.PAID)
        .exclude(claim_line__payment_status__in=(PaymentStatus.PAID, PaymentStatus.RECOVERED))
        .annotate(actual=F("claim_line__payment_status"))
        .values(*ref, "actual"),
    )
    # At the bank (in payment), but the claim line is elsewhere.
    add(
        "in_payment_not_recorded",
        _("已发送银行待回单，但申领明细不是“支付中”。"),
        batch_lines.filter(status=BatchLineStatus.IN_PAYMENT)
        .exclude(claim_line__payment_status=PaymentStatus.IN_PAYMENT)
        .annotate(actual=F("claim_line__payment_status"))
        .values(*ref, "actual"),
    )

    claim_lines = ClaimLine.objects.filter(pk__in=batch_lines.values("claim_line_id"))
    line_ref = ("claim__number", "claim_id", "line_no")
    live_released = BatchLine.objects.filter(
        claim_line=OuterRef("pk"),
        status=BatchLineStatus.IN_PAYMENT,
        batch__status__in=(BatchStatus.RELEASED, BatchStatus.RECONCILED),
    )
    add(
        "in_payment_without_batch",
        _("申领明细为“支付中”，但不在任何已发送银行的批次中。"),
        claim_lines.filter(payment_status=PaymentStatus.IN_PAYMENT).exclude(Exists(live_released)).values(*line_ref),
    )
    paid_line = BatchLine.objects.filter(claim_line=OuterRef("pk"), status=BatchLineStatus.PAID)
    add(
        "paid_without_bank",
        _("申领明细为“已拨付”，但没有银行入账的批次明细。"),
        claim_lines.filter(payment_status=PaymentStatus.PAID).exclude(Exists(paid_line)).values(*line_ref),
    )
    live_line = BatchLine.objects.filter(claim_line=OuterRef("pk"), status__in=LIVE_BATCH_LINE_STATUSES)
    add(
        "returned_but_live",
        _("申领明细为“退票”，却仍有有效的批次明细。"),
        claim_lines.filter(payment_status=PaymentStatus.RETURNED).filter(Exists(live_line)).values(*line_ref),
    )
    add(
        "reserved_but_live",
        _("申领明细为“待拨付”，却仍有有效的批次明细。"),
        claim_lines.filter(payment_status=PaymentStatus.RESERVED).filter(Exists(live_line)).values(*line_ref),
    )
    # A claim that ended as paid while one of its approved lines is not settled.
    claims = Claim.objects.filter(pk__in=claim_lines.values("claim_id"), status=ClaimStatus.PAID)
    add(
        "claim_paid_unsettled",
        _("申领已办结（已拨付），但有核准明细尚未结清。"),
        unsettled_lines().filter(claim__in=claims).annotate(actual=F("payment_status")).values(*line_ref, "actual"),
    )
    return found


# --------------------------------------------------------------------------- returns and recoveries


def open_returned_batch_lines() -> QuerySet:
    """Batch lines returned whose claim line is still returned and that are their line's latest
    batch line: a line returned, corrected, batched again and returned again awaits a correction
    on its latest transfer only."""
    later = BatchLine.objects.filter(claim_line=OuterRef("claim_line"), pk__gt=OuterRef("pk"))
    return BatchLine.objects.filter(status=BatchLineStatus.RETURNED, claim_line__payment_status=PaymentStatus.RETURNED).exclude(
        Exists(later)
    )


def returned_transfers_visible_to(user) -> QuerySet:
    """Returned transfers with at least one of their lines still returned (awaiting a correction)."""
    still_returned = open_returned_batch_lines().filter(transfer=OuterRef("pk"))
    return (
        Transfer.objects.filter(status=TransferStatus.RETURNED, batch__in=batches_visible_to(user).values("pk"))
        .filter(Exists(still_returned))
        .select_related("batch", "provider", "trainee")
        .order_by("-result_at", "-pk")
    )


def line_payment_info(line_ids) -> dict[int, dict]:
    """line id → {batch, batch_id, status, return_reason} of its latest batch line (one query)."""
    info = {}
    for row in (
        BatchLine.objects.filter(claim_line_id__in=line_ids)
        .order_by("claim_line_id", "pk")
        .values("claim_line_id", "batch_id", "batch__number", "status", "transfer__return_reason", "transfer__seq")
    ):
        info[row["claim_line_id"]] = {
            "batch": row["batch__number"],
            "batch_id": row["batch_id"],
            "status": row["status"],
            "return_reason": row["transfer__return_reason"],
            "transfer": row["transfer__seq"],
        }
    return info


def latest_batch_number():
    """A subquery for annotations: the number of the line's latest batch, or null."""
    return Subquery(
        BatchLine.objects.filter(claim_line=OuterRef("pk"))
        .exclude(status=BatchLineStatus.CANCELLED)
        .order_by("-pk")
        .values("batch__number")[:1]
    )


def recovery_figures(line: ClaimLine) -> dict:
    totals = RecoveryOrder.objects.filter(claim_line=line).aggregate(
        due=Coalesce(Sum("amount_due"), Value(ZERO), output_field=DecimalField(max_digits=12, decimal_places=2)),
        recovered=Coalesce(Sum("amount_recovered"), Value(ZERO), output_field=DecimalField(max_digits=12, decimal_places=2)),
    )
    return {**totals, "available": line.amount - totals["due"]}


def recoveries_of_lines(line_ids) -> dict[int, list[RecoveryOrder]]:
    """line id → its recovery orders (one query)."""
    found: dict[int, list[RecoveryOrder]] = {}
    for order in RecoveryOrder.objects.filter(claim_line_id__in=line_ids).order_by("pk"):
        found.setdefault(order.claim_line_id, []).append(order)
    return found
