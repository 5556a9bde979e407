"""Presentation helpers for the pages: labels for codes kept in the database, amounts and dates
as people write them."""

import datetime

from django import template
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from audit import actions
from claims import access, dates, roles
from claims.amounts import amount_text
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
def is_action(action: str, name: str) -> bool:
    """``event.action|is_action:"PERMISSION_GRANTED"``: the entry is of that action, named by its
    constant in audit/actions.py (templates spell no identifier: tests/test_audit_actions.py)."""
    value = getattr(actions, name, None)
    if not name.isupper() or not isinstance(value, str) or not actions.is_registered(value):
        raise template.TemplateSyntaxError(f"is_action: no action {name!r} in audit/actions.py")
    return action == value


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
    (``claims.amounts.amount_text``); not an amount: as it is."""
    return amount_text(value)


def _as_date_or_moment(value):
    """A date or a moment; an ISO string (a ledger entry's detail, a selector's JSON) parsed; a
    moment in local time. None for what is neither."""
    if isinstance(value, str):
        try:  # "2026-12-06" is a day, not midnight
            value = datetime.date.fromisoformat(value) if len(value) == 10 else parse_datetime(value)
        except ValueError:
            return None
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value) if timezone.is_aware(value) else value
    return value if isinstance(value, datetime.date) else None


def _time(iso: str, shown: str) -> str:
    # The language's format for people, ISO in datetime= for machines (and for tests).
    return format_html('<time datetime="{}">{}</time>', iso, shown)


@register.filter
def day_text(value, form: str = "") -> str:
    """A date (or a moment's local date) in the active language's format: 2026年12月6日 in
    Chinese (Django's zh-hans DATE_FORMAT), Dec. 6, 2026 in English; ``day_text:"short"``
    without the year (12月6日, December 6). Plain text, for a title or an attribute; on a page,
    ``day``. What is not a date is returned as it is."""
    if value in (None, ""):
        return ""
    parsed = _as_date_or_moment(value)
    if parsed is None:
        return str(value)
    if isinstance(parsed, datetime.datetime):
        parsed = parsed.date()
    return formats.date_format(parsed, "MONTH_DAY_FORMAT") if form == "short" else dates.date_text(parsed)


@register.filter
def day(value, form: str = "") -> str:
    """``day_text`` in ``<time datetime="2026-12-06">``."""
    parsed = _as_date_or_moment(value)
    if parsed is None:
        return day_text(value)
    if isinstance(parsed, datetime.datetime):
        parsed = parsed.date()
    return _time(parsed.isoformat(), day_text(parsed, form))


@register.filter
def moment_text(value, form: str = "") -> str:
    """A moment in local time in the active language's format: 2026年12月6日 14:03 in Chinese;
    ``moment_text:"seconds"`` to the second (the ledger's order within a minute). A date alone:
    as ``day_text``. Plain text; on a page, ``moment``."""
    if value in (None, ""):
        return ""
    parsed = _as_date_or_moment(value)
    if parsed is None:
        return str(value)
    if not isinstance(parsed, datetime.datetime):
        return day_text(parsed)
    if form == "seconds":
        return f"{dates.date_text(parsed)} {formats.time_format(parsed, 'H:i:s')}"
    return dates.moment_text(parsed)


@register.filter
def moment(value, form: str = "") -> str:
    """``moment_text`` in ``<time datetime="2026-12-06T14:03+08:00">``."""
    parsed = _as_date_or_moment(value)
    if parsed is None:
        return moment_text(value)
    if not isinstance(parsed, datetime.datetime):
        return day(parsed)
    iso = parsed.isoformat(timespec="seconds" if form == "seconds" else "minutes")
    return _time(iso, moment_text(parsed, form))
