"""追回: HR orders money paid on a line to be returned (fraud, a revoked certificate, an
overpayment); finance records what comes back. Each receipt gives its amount back to the
department's allocation; the line shows ``recovered`` once its whole amount has come back.

Amounts change only by conditional UPDATEs (recovered + x <= due; committed >= x), also bounded
by CHECK constraints: two receipts recorded at once never recover more than is due. A bank
voucher (缴款凭证号) is recorded once in a jurisdiction (a unique constraint on its normalised
number): the same receipt entered twice is refused, not counted twice."""

import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import actions
from audit.services import record_event
from claims.amounts import amount_text
from claims.bounds import date_out_of_range, reason_refusal
from claims.eligibility import mark_recovered_for_fraud
from claims.errors import InvalidInput, StepAlreadyTaken
from claims.models import ClaimLine, PaymentStatus
from claims.validators import number_key

from .. import access
from ..models import PayeeKind, RecoveryOrder, RecoveryReason, RecoveryReceipt, RecoveryStatus
from .funds import give_back_to_allocation, parse_money


def _claimed_on(line: ClaimLine) -> Decimal:
    """What the line's orders already claim (an open order its amount due, a closed one what came back)."""
    return RecoveryOrder.objects.filter(claim_line=line).aggregate(total=Sum("amount_due"))["total"] or Decimal("0.00")


def recovered_on(line: ClaimLine) -> Decimal:
    return RecoveryOrder.objects.filter(claim_line=line).aggregate(total=Sum("amount_recovered"))["total"] or Decimal("0.00")


@transaction.atomic
def open_recovery(
    *, actor, line: ClaimLine, amount_due, payer_kind: str, payer_name: str, reason_code: str, reason: str
) -> RecoveryOrder:
    """HR opens a recovery order on a paid line, for at most what no other order claims yet."""
    line = ClaimLine.objects.select_for_update().select_related("claim__jurisdiction").get(pk=line.pk)
    access.require_in(actor, access.OPEN_RECOVERIES, line.claim.jurisdiction)
    errors: dict[str, list[str]] = {}
    amount = parse_money(amount_due, field="amount_due", errors=errors, positive=True)
    if payer_kind not in PayeeKind.values:
        errors["payer_kind"] = [_("请选择退款人类型。")]
    payer_name, reason = (payer_name or "").strip(), (reason or "").strip()
    if not payer_name:
        errors["payer_name"] = [_("必填。")]
    elif len(payer_name) > 200:
        errors["payer_name"] = [_("最长 200 个字符。")]
    if reason_code not in RecoveryReason.values:
        errors["reason_code"] = [_("请选择追回原因。")]
    if (problem := reason_refusal(reason)) is not None:
        errors["reason"] = [_("必填：写明追回的情况和依据。") if not reason else problem]
    if line.payment_status != PaymentStatus.PAID:
        raise StepAlreadyTaken(
            _("第 %(line)s 行未拨付（%(status)s），不能追回。")
            % {"line": line.line_no, "status": line.get_payment_status_display()}
        )
    if amount is not None:
        left = line.amount - _claimed_on(line)
        if amount > left:
            errors["amount_due"] = [
                _("超出可追回金额 %(left)s 元（本行拨付 %(amount)s 元，已开追回单的金额除外）。")
                % {"left": amount_text(left), "amount": amount_text(line.amount)}
            ]
    if errors:
        raise InvalidInput(_("追回单信息有误。"), fields=errors)
    return _open_order(
        actor=actor, line=line, amount_due=amount, payer_kind=payer_kind, payer_name=payer_name,
        reason_code=reason_code, reason=reason,
    )  # fmt: skip


def _open_order(
    *, actor, line: ClaimLine, amount_due, payer_kind: str, payer_name: str, reason_code: str, reason: str, **noted
) -> RecoveryOrder:
    """The order and its ledger entry, once what it claims is checked (by a person or by a
    certificate check); ``noted``: more the entry says of how it was opened."""
    order = RecoveryOrder.objects.create(
        claim_line=line,
        amount_due=amount_due,
        payer_kind=payer_kind,
        payer_name=payer_name,
        reason_code=reason_code,
        reason=reason,
        opened_by=actor,
    )
    record_event(
        actor=actor,
        action=actions.RECOVERY_OPENED,
        obj=order,
        claim=line.claim,
        to_state=order.status,
        reason=reason,
        detail={
            "line": line.line_no,
            "line_amount": line.amount,
            "amount_due": amount_due,
            "payer_kind": payer_kind,
            "payer_name": payer_name,
            "reason_code": reason_code,
            **noted,
        },
    )
    return order


@transaction.atomic
def record_recovery_receipt(*, actor, order: RecoveryOrder, amount, received_on, reference: str) -> RecoveryReceipt:
    """Finance records money that came back on an order: at most what is outstanding. The amount
    goes back to the allocation; a fully recovered order closes, and the line is ``recovered``
    when its whole paid amount has come back."""
    order = RecoveryOrder.objects.select_related("claim_line__claim__jurisdiction", "opened_by").get(pk=order.pk)
    line = order.claim_line
    access.require_in(actor, access.RECORD_RECOVERY_RECEIPTS, line.claim.jurisdiction)
    access.require_not_opener(actor, order)
    errors: dict[str, list[str]] = {}
    value = parse_money(amount, field="amount", errors=errors, positive=True)
    if isinstance(received_on, str):
        try:
            received_on = datetime.date.fromisoformat(received_on.strip())
        except ValueError:
            received_on = None
    if not isinstance(received_on, datetime.date):
        errors["received_on"] = [_("须为日期，如 2026-03-01。")]
    elif problem := date_out_of_range(received_on):  # no receipt in year 1
        errors["received_on"] = [problem]
    elif received_on > timezone.localdate():
        errors["received_on"] = [_("到账日期不能晚于今天。")]
    reference = (reference or "").strip()
    reference_key = number_key(reference)
    if not reference_key:
        errors["reference"] = [_("必填：缴款凭证号。")]
    elif len(reference) > 60 or len(reference_key) > RecoveryReceipt._meta.get_field("reference_key").max_length:
        errors["reference"] = [_("最长 60 个字符。")]
    if errors:
        raise InvalidInput(_("到账信息有误。"), fields=errors)
    jurisdiction = line.claim.jurisdiction
    # A friendly answer to a voucher recorded before; the unique constraint below answers the
    # one recorded at this very moment by someone else.
    if earlier := RecoveryReceipt.objects.filter(jurisdiction=jurisdiction, reference_key=reference_key).first():
        raise _voucher_recorded(reference, earlier)
    if order.status != RecoveryStatus.OPEN:
        raise StepAlreadyTaken(_("追回单已全部追回。"))
    # The line's row lock: receipts on two orders of one line are counted one after the other.
    ClaimLine.objects.select_for_update().filter(pk=line.pk).values_list("pk", flat=True).first()
    # Conditional UPDATE: two receipts at once never take the order over its amount due.
    if not RecoveryOrder.objects.filter(
        pk=order.pk, status=RecoveryStatus.OPEN, amount_recovered__lte=F("amount_due") - value
    ).update(amount_recovered=F("amount_recovered") + value):
        order.refresh_from_db()
        if order.status != RecoveryStatus.OPEN:  # another receipt closed the order meanwhile
            raise StepAlreadyTaken(_("追回单已全部追回。"))
        outstanding = order.amount_due - order.amount_recovered
        raise InvalidInput(
            _("到账金额 %(amount)s 元超出尚未追回的 %(left)s 元。")
            % {"amount": amount_text(value), "left": amount_text(outstanding)},
            fields={"amount": [_("最多 %(left)s 元。") % {"left": amount_text(outstanding)}]},
        )
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction stays usable after the refusal
            receipt = RecoveryReceipt.objects.create(
                order=order,
                jurisdiction=jurisdiction,
                amount=value,
                received_on=received_on,
                reference=reference,
                reference_key=reference_key,
                recorded_by=actor,
            )
    except IntegrityError:
        # Recorded at the same moment by another request, which committed first: this one is
        # refused whole (the service's transaction undoes the amount counted above).
        earlier = RecoveryReceipt.objects.filter(jurisdiction=jurisdiction, reference_key=reference_key).first()
        if earlier is None:
            raise
        raise _voucher_recorded(reference, earlier) from None
    order.refresh_from_db()
    before = RecoveryStatus.OPEN
    if order.amount_recovered == order.amount_due:
        RecoveryOrder.objects.filter(pk=order.pk, status=RecoveryStatus.OPEN).update(status=RecoveryStatus.RECOVERED)
        order.status = RecoveryStatus.RECOVERED
    record_event(
        actor=actor,
        action=actions.RECOVERY_RECEIPT_RECORDED,
        obj=order,
        claim=line.claim,
        from_state=before,
        to_state=order.status,
        detail={
            "line": line.line_no,
            "receipt": receipt.pk,
            "amount": value,
            "received_on": received_on,
            "reference": reference,
            "amount_due": order.amount_due,
            "amount_recovered": order.amount_recovered,
            "outstanding": order.amount_due - order.amount_recovered,
        },
    )

    # The money is back in the fund: the allocation is bound by that much less.
    give_back_to_allocation(
        actor=actor, line=line, amount=value, action=actions.ALLOCATION_RESTORED, detail={"recovery": order.pk}
    )
    if recovered_on(line) >= line.amount and ClaimLine.objects.filter(pk=line.pk, payment_status=PaymentStatus.PAID).update(
        payment_status=PaymentStatus.RECOVERED
    ):
        fraud = RecoveryOrder.objects.filter(claim_line=line, reason_code=RecoveryReason.FRAUD).exists()
        if fraud:  # the person's later claims show it to HR (claims/eligibility.py, rule FRAUD)
            mark_recovered_for_fraud(line=line)
        record_event(
            actor=actor,
            action=actions.CLAIM_LINE_RECOVERED,
            obj=line.claim,
            claim=line.claim,
            detail={
                "line": line.line_no,
                "amount": line.amount,
                "recovery": order.pk,
                "before": PaymentStatus.PAID,
                "after": PaymentStatus.RECOVERED,
                "fraud": fraud,
            },
        )
    return receipt


def _voucher_recorded(reference: str, earlier: RecoveryReceipt) -> StepAlreadyTaken:
    """409 naming ``reference``: the bank's voucher is already a receipt of the jurisdiction."""
    params = {"reference": reference, "day": earlier.received_on.isoformat(), "order": earlier.order_id}
    return StepAlreadyTaken(
        _("缴款凭证号 %(reference)s 已登记过到账，同一笔缴款不能重复登记。") % params,
        fields={"reference": [_("该凭证号已登记：追回单 %(order)s，%(day)s 到账。") % params]},
    )


def _payer_of(line: ClaimLine) -> tuple[str, str]:
    """Who returns the money: whoever the line's standard paid (the provider, the trainee, the enterprise)."""
    claim = line.claim
    payee = claim.policy.payee
    if payee == PayeeKind.TRAINEE:
        return PayeeKind.TRAINEE, line.name
    if payee == PayeeKind.ENTERPRISE:
        return PayeeKind.ENTERPRISE, claim.enterprise_name
    return PayeeKind.PROVIDER, claim.provider.name


@transaction.atomic
def open_recovery_for_revoked_certificate(*, actor, line: ClaimLine, source: str) -> RecoveryOrder | None:
    """A certificate found revoked after its line was paid: a recovery order for what no order
    claims yet, opened by the check itself (the registry's answer, not a person's judgement: no
    capability is asked; ``actor`` is who ran the check, and the ledger says so). None when the
    line is not paid or its whole amount is already claimed."""
    line = ClaimLine.objects.select_for_update().select_related("claim__policy", "claim__provider", "trainee").get(pk=line.pk)
    if line.payment_status != PaymentStatus.PAID:
        return None
    left = line.amount - _claimed_on(line)
    if left <= 0:
        return None
    payer_kind, payer_name = _payer_of(line)
    reason = _("联网核查：证书 %(number)s 已被发证机构撤销（%(source)s）。") % {
        "number": line.certificate_number,
        "source": source,
    }
    return _open_order(
        actor=actor, line=line, amount_due=left, payer_kind=payer_kind, payer_name=payer_name[:200],
        reason_code=RecoveryReason.REVOKED, reason=reason, opened_by_certificate_check=True,
    )  # fmt: skip
