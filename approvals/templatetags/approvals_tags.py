"""Presentation helpers for the pages: labels for codes kept in the database."""

from django import template
from django.utils.translation import gettext_lazy as _

from audit import actions
from claims import access, roles
from claims.models import ClaimStatus, LineDecision, PaymentStatus
from claims.reasons import REASONS
from workflow.steps import STEPS

register = template.Library()

ROLE_LABELS = {
    roles.PROVIDER_CLERK: _("培训机构经办人"),
    roles.DEPARTMENT_REVIEWER: _("行业部门审核人"),
    roles.HR_REVIEWER: _("人社局审核人"),
    roles.HR_HEAD: _("人社局负责人"),
    roles.FINANCE_OFFICER: _("财政拨付经办人"),
    roles.AUDITOR: _("审计人员"),
    roles.ADMINISTRATOR: _("系统管理员"),
}


@register.filter
def claims_may(user, capability: str) -> bool:
    """``user|claims_may:"import_roster"``: a capability of claims.access."""
    if capability not in access.CAPABILITIES:
        raise template.TemplateSyntaxError(f"claims_may: no capability {capability!r} in claims.access")
    return access.may(user, capability)


@register.filter
def role_labels(user) -> str:
    held = access.roles_held(user)
    return "、".join(str(ROLE_LABELS[role]) for role in roles.ALL_ROLES if role in held)


@register.filter
def status_label(value: str) -> str:
    if not value:
        return ""
    try:
        return ClaimStatus(value).label
    except ValueError:
        return value


@register.filter
def decision_label(value: str) -> str:
    try:
        return LineDecision(value).label
    except ValueError:
        return value


@register.filter
def payment_label(value: str) -> str:
    try:
        return PaymentStatus(value).label
    except ValueError:
        return value


@register.filter
def step_label(step_name: str) -> str:
    step = STEPS.get(step_name)
    return step.label if step else step_name


@register.filter
def action_label(action: str) -> str:
    """The label of a ledger action (the one registry: audit/actions.py)."""
    return actions.label(action)


@register.filter
def reason_label(code: str) -> str:
    if not code:
        return ""
    label = REASONS.get(code)
    return f"{code} {label}" if label else code


@register.filter
def person(user) -> str:
    """A user as people know them: full name and login name."""
    if user is None:
        return ""
    full_name = user.get_full_name()
    if not full_name:
        return user.username
    return _("%(name)s（%(username)s）") % {"name": full_name, "username": user.username}
