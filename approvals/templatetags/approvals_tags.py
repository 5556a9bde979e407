"""Presentation helpers for the pages: labels for codes kept in the database, amounts and dates
as people write them."""

import datetime
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from audit import actions
from claims import access, roles
from claims.sources import source_label
from workflow import labels

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


# Codes as people read them: the one wording of workflow/labels.py.
register.filter("status_label", labels.status_label)
register.filter("decision_label", labels.line_decision_label)
register.filter("payment_label", labels.payment_label)
register.filter("step_label", labels.step_label)
register.filter("reason_label", labels.reason_label)
register.filter("flag_label", labels.reason_label)  # a flag's code is the reason it is rejected with
register.filter("source_label", source_label)
register.filter("fix_label", labels.fix_label)


@register.filter
def change_labels(changes) -> str:
    """The changes outside what a return asked to fix, in one line."""
    return "；".join(labels.change_label(change) for change in changes or ())


@register.filter
def action_label(action: str) -> str:
    """The label of a ledger action (the one registry: audit/actions.py)."""
    return actions.label(action)


@register.filter
def person(user) -> str:
    """A user as people know them: full name and login name."""
    if user is None:
        return ""
    full_name = user.get_full_name()
    if not full_name:
        return user.username
    return _("%(name)s（%(username)s）") % {"name": full_name, "username": user.username}


@register.filter
def money(value) -> str:
    """An amount in yuan with thousands separators and two places: 1234567.5 → 1,234,567.50
    (the grouping finance writes in both languages); not an amount: as it is."""
    if value is None or value == "":
        return ""
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


@register.filter
def day(value) -> str:
    """A date (or a moment's local date) in the active language's format: 2026年12月6日 in
    Chinese (Django's zh-hans DATE_FORMAT), Dec. 6, 2026 in English."""
    if not value:
        return ""
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        value = value.date()
    return formats.date_format(value, "DATE_FORMAT")


@register.filter
def moment(value) -> str:
    """A moment in local time in the active language's format: 2026年12月6日 14:03 in Chinese."""
    if not value:
        return ""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "DATETIME_FORMAT")
