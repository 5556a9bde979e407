"""Pricing a line by the catalogue version in force on its certificate date (RULES.md §3, transition clause)."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q
from django.utils.translation import gettext as _

from .models import ZERO, AmountRule, Level, PolicyVersion, SubsidyPolicy


@dataclass
class PricedLine:
    amount: Decimal
    version: PolicyVersion | None
    explanation: str
    flags: list = field(default_factory=list)


def version_in_force(policy: SubsidyPolicy, on: datetime.date) -> PolicyVersion | None:
    return (
        policy.versions.filter(valid_from__lte=on)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on))
        .order_by("-version")
        .first()
    )


def price_line(*, policy: SubsidyPolicy, line) -> PricedLine:
    """Price one line (a claims.inputs.LineInput or a ClaimLine) by the version in force on its certificate date."""
    level, certificate_type, certificate_date, stated_cost = line.level, line.certificate_type, line.certificate_date, line.stated_cost
    version = version_in_force(policy, certificate_date)
    if version is None:
        message = _("%(date)s 无有效的 %(code)s 补贴标准。") % {"date": certificate_date.isoformat(), "code": policy.code}
        return PricedLine(ZERO, None, message, [{"code": "NO_STANDARD", "message": message}])
    level_label = Level(level).label
    amount_text = version.amount_by_level.get(level)
    if amount_text is None or (version.certificate_types and certificate_type not in version.certificate_types):
        message = _("%(code)s v%(version)d 不适用于该等级或证书类型（%(level)s）。") % {
            "code": policy.code,
            "version": version.version,
            "level": level_label,
        }
        return PricedLine(ZERO, version, message, [{"code": "LEVEL", "message": message}])
    standard = Decimal(amount_text)
    if version.amount_rule == AmountRule.FIXED:
        return PricedLine(standard, version, f"{policy.code} v{version.version} {level_label} {standard} → {standard}")
    if stated_cost is None:
        explanation = _("%(code)s v%(version)d %(level)s ≤%(cap)s，未填实际费用 → 按上限 %(cap)s") % {
            "code": policy.code,
            "version": version.version,
            "level": level_label,
            "cap": standard,
        }
        return PricedLine(standard, version, explanation)
    amount = min(standard, stated_cost)
    explanation = _("%(code)s v%(version)d %(level)s ≤%(cap)s，实际费用 %(cost)s → %(amount)s") % {
        "code": policy.code,
        "version": version.version,
        "level": level_label,
        "cap": standard,
        "cost": stated_cost,
        "amount": amount,
    }
    return PricedLine(amount, version, explanation)
