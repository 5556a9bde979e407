"""The words people read for the codes the process keeps (statuses, steps, decisions, reason
codes, the fields of a line and their values). The pages (approvals' template filters) and
the auditor's timeline both label with these, so a code is never shown raw and is worded
the same on every screen. An unknown code is shown as it is."""

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _

from claims.line_fields import LINE_FIELDS_BY_NAME
from claims.models import Claim, ClaimLine, ClaimStatus, Level, LineDecision, PaymentStatus
from claims.reasons import REASONS

from .steps import STEPS, Decision


def _choice_label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def status_label(value: str) -> str:
    return _choice_label(ClaimStatus, value) if value else ""


def step_label(step_name: str) -> str:
    step = STEPS.get(step_name)
    return str(step.label) if step else step_name


def decision_label(value: str) -> str:
    """A step's decision (approve, return, reject…) or a line's (approve, reject, pending)."""
    if not value:
        return ""
    if value in Decision.values:
        return str(Decision(value).label)
    return _choice_label(LineDecision, value)


def line_decision_label(value: str) -> str:
    return _choice_label(LineDecision, value) if value else ""


def level_label(value: str) -> str:
    return _choice_label(Level, value) if value else ""


def payment_label(value: str) -> str:
    return _choice_label(PaymentStatus, value) if value else ""


def reason_label(code: str) -> str:
    """A reason or flag code in words (the code itself is for the API and the ledger)."""
    if not code:
        return ""
    label = REASONS.get(code)
    return str(label) if label else code


DIGEST_SHOWN = 12  # hex digits of a keyed digest shown: enough to tell two apart at a glance


def digest_label(value: str) -> str:
    """A keyed digest, shortened: what tells two values apart, not the value."""
    return f"{value[:DIGEST_SHOWN]}…" if len(value) > DIGEST_SHOWN else value


# Line fields whose values are codes, and how each is labelled.
_LINE_VALUE_LABELS = {
    "decision": line_decision_label,
    "decision_reason": reason_label,
    "payment_status": payment_label,
    "account_number_digest": digest_label,
}


# Line fields whose model field has no verbose name of its own, and the payee's account that a
# claim's entry records when it is corrected (payments.services.payees.account_in_ledger).
_LINE_FIELD_LABELS = {
    "flags": _("预警"),
    "account_name": _("户名"),
    "bank_name": _("开户银行"),
    "account_number": _("账号"),
    "account_number_digest": _("账号摘要（密钥散列）"),
}


def line_field_label(name: str) -> str:
    """The name people read for a field of a claim line (its model's verbose name)."""
    if name in _LINE_FIELD_LABELS:
        return str(_LINE_FIELD_LABELS[name])
    try:
        return str(ClaimLine._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:  # a field the ledger recorded that the model no longer has
        return name


def _model_field(name: str):
    """The field of a claim line or of a claim by that name (a line's first), or None."""
    for model in (ClaimLine, Claim):
        try:
            return model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
    return None


def line_value_label(name: str, value):
    """A recorded value of a claim's or a line's field as people read it: codes labelled (a level,
    a certificate type, a payment status, a claim's status), yes and no in words, flags by their codes."""
    if value is None:
        return None
    if name in _LINE_VALUE_LABELS:
        return _LINE_VALUE_LABELS[name](value)
    if isinstance(value, bool):
        return str(_("是") if value else _("否"))
    if isinstance(value, list):
        return "、".join(str(item) for item in value) or "—"
    field = _model_field(name)
    if field is not None and field.choices and isinstance(value, str):
        return str(dict(field.flatchoices).get(value, value))
    return value


# --- what a return asked to fix, and the changes beyond it (policy.changes_outside_fix) ----------


def fix_field_label(name: str) -> str:
    """A field a return may name or a resubmission change: a line's (as the claim form labels
    it), its amount, or the claim's own (department, standard, class name, dates)."""
    if name in LINE_FIELDS_BY_NAME:
        return str(LINE_FIELDS_BY_NAME[name].label)
    try:
        return str(Claim._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return line_field_label(name)


def fix_label(fix: dict | None) -> str:
    """What a return asked to fix, as the provider and the reviewers read it."""
    lines, fields = (fix or {}).get("lines") or [], (fix or {}).get("fields") or []
    if not lines and not fields:
        if (fix or {}).get("attachments"):
            return str(_("补充或更正所指材料"))
        return str(_("未指明（可更正各行内容，但不得提高金额）"))
    line_fields = [name for name in fields if name in LINE_FIELDS_BY_NAME]
    claim_fields = [name for name in fields if name not in LINE_FIELDS_BY_NAME]
    parts = []
    if lines or line_fields:
        where = _("第 %(lines)s 行") % {"lines": "、".join(str(n) for n in lines)} if lines else _("各行")
        what = "、".join(fix_field_label(name) for name in line_fields) if line_fields else _("全部内容")
        parts.append(str(_("%(where)s：%(what)s") % {"where": where, "what": what}))
    parts += [fix_field_label(name) for name in claim_fields]
    return "；".join(parts)


def change_label(change: dict) -> str:
    """One change outside what a return asked to fix."""
    if change.get("change") == "added":
        return str(_("新增第 %(n)s 行") % {"n": change.get("line")})
    if change.get("change") == "removed":
        return str(_("删除第 %(n)s 行") % {"n": change.get("line")})
    if "line" in change:
        return str(_("第 %(n)s 行%(field)s") % {"n": change["line"], "field": fix_field_label(change.get("field", ""))})
    return fix_field_label(change.get("field", ""))
