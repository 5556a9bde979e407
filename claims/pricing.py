"""Pricing a line by the catalogue version in force on its certificate date (RULES.md §3, transition clause).

Each amount rule reads like the policy text:

- fixed:      a set amount per person (or per item), whatever the cost (S4, S7, S14);
- cap:        "at most": the lesser of the cap and the stated cost (S1, S3, S5, S8, S9, S13, S17, S18);
- per_day:    a rate per day of training (S6: 50 per day);
- per_period: an amount per month or per year, for at most ``max_periods`` periods (S10–S12, S15);
- percent_of: a share of another standard's amount for the same level, in force on the same date (S2: ≤ 50% of S1);
- uplift:     another standard's amount plus at most ``percent`` % (S16: ≤ +30%).

``capped_by_cost`` makes the last four pay the lesser of the computed amount and the stated cost
(a "cap" always does). A line's ``variant`` picks an alternative amount (S3 renewal, S8 out of
province, S7 assessment standard). A line is priced by the version in force on its certificate
date, never by today's date, and stores that version, the amount and a short explanation, in
Chinese and in English (as a flag keeps its message: rendered once in each language).
"""

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from django.db import connection
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .dates import date_text
from .languages import in_both_languages
from .models import ZERO, AmountRule, CertificateType, ClaimLine, Level, Period, PolicyVersion, PricingUnit, SubsidyPolicy

ANY_LEVEL = "*"
CENT = Decimal("0.01")
# Rules whose amounts are given per level (or "*") in the version itself; the other two take them from a base standard.
OWN_AMOUNT_RULES = (AmountRule.FIXED, AmountRule.CAP, AmountRule.PER_DAY, AmountRule.PER_PERIOD)
BASED_RULES = (AmountRule.PERCENT_OF, AmountRule.UPLIFT)
NO_STANDARD_SOURCE = "RULES.md §3 / 002 末段（过渡条款）"
# What a line keeps of its explanation, in either language (a flag keeps its whole message).
EXPLANATION_MAX_LENGTH = ClaimLine._meta.get_field("explanation").max_length


def variant_labels() -> dict[str, str]:
    """Names of the variants the demo catalogue uses; any other code is shown as it is."""
    return {
        "renewal": pgettext("variant", "复审"),
        "out_of_province": pgettext("variant", "省外研修"),
        "assessment_standard": pgettext("variant", "专项职业能力考核规范"),
    }


def variant_label(code: str) -> str:
    return variant_labels().get(code, code)


def money_text(value: Decimal) -> str:
    """3500 for whole amounts, 2800.50 otherwise: short enough to read in an explanation."""
    value = Decimal(value)
    return str(value.quantize(Decimal(1))) if value == value.to_integral_value() else str(value.quantize(CENT))


def _money(value) -> Decimal:
    # "At most": a share or an uplift is rounded down to the cent, never up past the limit.
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)


@dataclass
class PricedLine:
    amount: Decimal
    version: PolicyVersion | None
    explanation: str  # Chinese
    explanation_en: str
    flags: list = field(default_factory=list)

    def __post_init__(self):
        self.amount = Decimal(self.amount).quantize(CENT)
        self.explanation = self.explanation[:EXPLANATION_MAX_LENGTH]
        self.explanation_en = self.explanation_en[:EXPLANATION_MAX_LENGTH]


class VersionBook:
    """The versions of one standard and of the standards it is based on, read once and used for
    every line of a claim (``price_line(..., versions=book)``)."""

    def __init__(self, versions: Iterable[PolicyVersion], *, policy_ids: Iterable[int] = ()):
        self._by_policy: dict[int, list[PolicyVersion]] = defaultdict(list)
        self._loaded = set(policy_ids)
        for version in versions:
            self._loaded.add(version.policy_id)
            self._by_policy[version.policy_id].append(version)
        for items in self._by_policy.values():
            items.sort(key=lambda version: version.version, reverse=True)

    def in_force(self, policy_id: int, on: datetime.date) -> PolicyVersion | None:
        for version in self._by_policy.get(policy_id, ()):
            if version.valid_from <= on and (version.valid_to is None or on <= version.valid_to):
                return version
        return None

    def has_policy(self, policy_id: int) -> bool:
        """Whether the book was loaded with this standard's versions (it may have none)."""
        return policy_id in self._loaded


def _lock_versions_against_edits(policy_ids: set[int]) -> None:
    """On PostgreSQL, hold FOR KEY SHARE on the versions read for pricing until the transaction
    ends: claim creations do not block each other, but catalogue.update_version (FOR UPDATE)
    waits for them and then sees the lines they priced, so a version is never edited under a
    line being priced by it. SQLite serialises writing transactions (IMMEDIATE) instead."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {PolicyVersion._meta.db_table} WHERE policy_id = ANY(%s) FOR KEY SHARE",  # noqa: S608 - table name from the model
            [sorted(policy_ids)],
        )


def versions_for(policy: SubsidyPolicy, *, depth: int = 3) -> VersionBook:
    """Every version of the standard and of its base standards (percent_of, uplift), in two or three queries."""
    wanted, loaded, versions = {policy.pk}, set(), []
    for _level in range(depth):
        wanted -= loaded
        if not wanted:
            break
        _lock_versions_against_edits(wanted)
        batch = list(PolicyVersion.objects.filter(policy_id__in=wanted).select_related("policy", "base_policy"))
        versions.extend(batch)
        loaded |= wanted
        wanted = {version.base_policy_id for version in batch if version.base_policy_id}
    return VersionBook(versions, policy_ids=loaded)


def version_in_force(policy: SubsidyPolicy, on: datetime.date) -> PolicyVersion | None:
    return versions_for(policy, depth=1).in_force(policy.pk, on)


# The flags pricing itself raises (a line it prices at nothing): computed again whenever the line is priced again.
PRICING_CODES = frozenset({"NO_STANDARD", "LEVEL", "VARIANT"})


def pricing_flag(code: str, render: Callable[[], str], source: str) -> dict:
    """A flag in the shape every rule uses: code, message (Chinese), message_en, source."""
    message, message_en = in_both_languages(render)
    return {"code": code, "message": message, "message_en": message_en, "source": source}


def _level_label(level: str) -> str:
    try:
        return str(Level(level).label)
    except ValueError:
        return level


def _certificate_label(certificate_type: str) -> str:
    try:
        return str(CertificateType(certificate_type).label)
    except ValueError:
        return certificate_type


def _period_units(period: str) -> tuple[str, str]:
    """(per-unit, count-unit): 6000/年 × 2 年, 1000/月 × 36 个月."""
    if period == Period.MONTH:
        return pgettext("per period", "月"), pgettext("number of periods", "个月")
    return pgettext("per period", "年"), pgettext("number of periods", "年")


def _amount_for_level(version: PolicyVersion, level: str) -> tuple[Decimal | None, bool]:
    """(amount, specific to the level?) from the version's own amounts; None if the level is not covered."""
    amounts = version.amount_by_level or {}
    if level in amounts:
        return Decimal(amounts[level]), True
    if ANY_LEVEL in amounts:
        return Decimal(amounts[ANY_LEVEL]), False
    return None, False


def _no_standard(policy: SubsidyPolicy, on: datetime.date, *, base: SubsidyPolicy | None = None, version=None) -> PricedLine:
    first = policy.versions.order_by("valid_from").first() if base is None else None
    if first is not None and on < first.valid_from:
        # The transition clause of 002: claims that qualified before a standard took effect are paid
        # at the former standard, which the catalogue does not hold: HR decides, nothing is priced.

        def render():
            return _(
                "%(date)s 早于 %(code)s 的生效日期 %(from)s：按原补贴标准处理，原标准金额未载入目录（种子文件未载明），请人社局审核。"
            ) % {"date": date_text(on), "code": policy.code, "from": date_text(first.valid_from)}
    elif base is None:

        def render():
            return _("%(date)s 无有效的 %(code)s 补贴标准。") % {"date": date_text(on), "code": policy.code}
    else:

        def render():
            return _("%(date)s 无有效的基准标准 %(base)s，无法计算 %(code)s。") % {
                "date": date_text(on),
                "base": base.code,
                "code": policy.code,
            }

    flag = pricing_flag("NO_STANDARD", render, NO_STANDARD_SOURCE)
    return PricedLine(ZERO, version, flag["message"], flag["message_en"], [flag])


def _not_covered(version: PolicyVersion, render: Callable[[], str]) -> PricedLine:
    flag = pricing_flag("LEVEL", render, f"RULES.md §3 {version.policy.code} / {version.source}".strip(" /"))
    return PricedLine(ZERO, version, flag["message"], flag["message_en"], [flag])


def _settle(gross: Decimal, stated_cost: Decimal | None, capped: bool) -> Decimal:
    """The amount paid: the lesser of ``gross`` and the stated cost when capped by cost."""
    return min(gross, stated_cost) if capped and stated_cost is not None else gross


def _settle_text(gross: Decimal, stated_cost: Decimal | None, capped: bool) -> str:
    """The explanation's ending, after the computation: " → 500", " = 12000，实际费用 9000 → 9000"."""
    if not capped:
        return " → " + money_text(gross)
    if stated_cost is None:
        return _(" = %(gross)s，未填实际费用 → 按上限 %(gross)s") % {"gross": money_text(gross)}
    return _(" = %(gross)s，实际费用 %(cost)s → %(amount)s") % {
        "gross": money_text(gross),
        "cost": money_text(stated_cost),
        "amount": money_text(min(gross, stated_cost)),
    }


def price_line(*, policy: SubsidyPolicy, line, versions: VersionBook | None = None) -> PricedLine:
    """Price one line (a claims.inputs.LineInput or a ClaimLine) by the version in force on its
    certificate date. ``versions``: a VersionBook from ``versions_for(policy)``, to read the
    catalogue once per claim instead of once per line."""
    book = versions if versions is not None and versions.has_policy(policy.pk) else versions_for(policy)
    on = line.certificate_date
    version = book.in_force(policy.pk, on)
    if version is None:
        return _no_standard(policy, on)
    head = f"{policy.code} v{version.version}"

    if version.certificate_types and line.certificate_type not in version.certificate_types:
        return _not_covered(
            version,
            lambda: (
                _("%(head)s 不适用于%(certificate)s。") % {"head": head, "certificate": _certificate_label(line.certificate_type)}
            ),
        )

    if version.amount_rule in BASED_RULES:
        return _price_on_base(policy, version, head, line, book)

    standard, level_specific = _amount_for_level(version, line.level)
    if standard is None:
        return _not_covered(
            version, lambda: _("%(head)s 不适用于该等级（%(level)s）。") % {"head": head, "level": _level_label(line.level)}
        )
    variant = (getattr(line, "variant", "") or "").strip()
    if variant:
        if variant not in (version.variant_amounts or {}):
            allowed = sorted(version.variant_amounts or {})

            def render():
                if not allowed:
                    return _("%(head)s 没有“%(variant)s”这一类型，类型应留空。") % {"head": head, "variant": variant}
                return _("%(head)s 没有“%(variant)s”这一类型，可选：%(allowed)s，或留空。") % {
                    "head": head,
                    "variant": variant,
                    "allowed": pgettext("list separator", "、").join(
                        _("%(code)s（%(label)s）") % {"code": code, "label": variant_label(code)} for code in allowed
                    ),
                }

            flag = pricing_flag("VARIANT", render, f"RULES.md §3 {policy.code} / {version.source}".strip(" /"))
            return PricedLine(ZERO, version, flag["message"], flag["message_en"], [flag])
        standard, level_specific = Decimal(version.variant_amounts[variant]), False

    def label() -> str:
        parts = [head]
        if level_specific:
            parts.append(_level_label(line.level))
        if variant:
            parts.append(variant_label(variant))
        return " ".join(parts)

    rule = version.amount_rule
    if rule == AmountRule.FIXED:
        return PricedLine(
            standard,
            version,
            *in_both_languages(
                lambda: _("%(label)s 定额 %(amount)s → %(amount)s") % {"label": label(), "amount": money_text(standard)}
            ),
        )

    if rule == AmountRule.CAP:
        if line.stated_cost is None:
            return PricedLine(
                standard,
                version,
                *in_both_languages(
                    lambda: (
                        _("%(label)s ≤%(cap)s，未填实际费用 → 按上限 %(cap)s") % {"label": label(), "cap": money_text(standard)}
                    )
                ),
            )
        amount = min(standard, line.stated_cost)
        return PricedLine(
            amount,
            version,
            *in_both_languages(
                lambda: (
                    _("%(label)s ≤%(cap)s，实际费用 %(cost)s → %(amount)s")
                    % {
                        "label": label(),
                        "cap": money_text(standard),
                        "cost": money_text(line.stated_cost),
                        "amount": money_text(amount),
                    }
                )
            ),
        )

    capped = version.capped_by_cost
    limit = "≤" if capped else ""
    if rule == AmountRule.PER_DAY:
        days = int(line.training_days or 0)
        gross = _money(standard * days)
        return PricedLine(
            _settle(gross, line.stated_cost, capped),
            version,
            *in_both_languages(
                lambda: (
                    _("%(label)s %(limit)s%(rate)s/天 × %(days)d 天")
                    % {"label": label(), "limit": limit, "rate": money_text(standard), "days": days}
                    + _settle_text(gross, line.stated_cost, capped)
                )
            ),
        )

    if rule == AmountRule.PER_PERIOD:
        claimed = getattr(line, "periods", None)
        counted = min(claimed or 1, version.max_periods or claimed or 1)
        gross = _money(standard * counted)

        def render_period():
            per_unit, count_unit = _period_units(version.period)
            if claimed is None:
                note = _("（未填期数，按 1 %(unit)s）") % {"unit": count_unit}
            elif claimed > counted:
                note = _("（申领 %(claimed)d %(unit)s，最多 %(max)d %(unit)s）") % {
                    "claimed": claimed,
                    "max": version.max_periods,
                    "unit": count_unit,
                }
            else:
                note = ""
            return _("%(label)s %(limit)s%(rate)s/%(per)s × %(n)d %(unit)s%(note)s") % {
                "label": label(),
                "limit": limit,
                "rate": money_text(standard),
                "per": per_unit,
                "n": counted,
                "unit": count_unit,
                "note": note,
            } + _settle_text(gross, line.stated_cost, capped)

        return PricedLine(_settle(gross, line.stated_cost, capped), version, *in_both_languages(render_period))

    raise ValueError(f"unknown amount rule {rule!r} on {version}")


def _price_on_base(policy: SubsidyPolicy, version: PolicyVersion, head: str, line, book: VersionBook) -> PricedLine:
    """percent_of (S2: ≤ 50% of S1) and uplift (S16: S1 + ≤ 30%): the base standard's amount for
    the line's level, in the base version in force on the same certificate date."""
    on = line.certificate_date
    base_policy = version.base_policy
    if base_policy is None:
        raise ValueError(f"{version} has rule {version.amount_rule} and no base standard")
    if not book.has_policy(base_policy.pk):
        book = versions_for(base_policy)
    base = book.in_force(base_policy.pk, on)
    if base is None:
        return _no_standard(policy, on, base=base_policy, version=version)
    base_head = f"{base_policy.code} v{base.version}"
    base_amount = None
    if base.amount_rule in OWN_AMOUNT_RULES:
        base_amount, _specific = _amount_for_level(base, line.level)
    if base_amount is None:
        return _not_covered(
            version,
            lambda: (
                _("%(head)s：基准标准 %(base)s 不适用于该等级（%(level)s）。")
                % {"head": head, "base": base_head, "level": _level_label(line.level)}
            ),
        )
    percent = Decimal(version.percent)
    if version.amount_rule == AmountRule.PERCENT_OF:
        gross = _money(base_amount * percent / 100)
    else:
        gross = _money(base_amount * (100 + percent) / 100)
    capped = version.capped_by_cost

    def render():
        values = {
            "head": head,
            "level": _level_label(line.level),
            "base": base_head,
            "base_amount": money_text(base_amount),
            "percent": money_text(percent),
        }
        if version.amount_rule == AmountRule.PERCENT_OF:
            text = _("%(head)s %(level)s：%(base)s %(base_amount)s × %(percent)s%%") % values
        else:
            text = _("%(head)s %(level)s：%(base)s %(base_amount)s 上浮 ≤%(percent)s%%") % values
        return text + _settle_text(gross, line.stated_cost, capped)

    return PricedLine(_settle(gross, line.stated_cost, capped), version, *in_both_languages(render))


def price_lines(*, policy: SubsidyPolicy, lines: Iterable, versions: VersionBook | None = None) -> list[PricedLine]:
    """Price a claim's lines, each by its unit (PolicyVersion.unit): a standard paid per person,
    per day, per month or year or per item prices each line on its own; one paid per enterprise
    (S13: 最高 2 万元 a qualifying enterprise) pays the claim's lines together at most its cap
    once: the lines share it in their order, and a line past it is paid what is left."""
    book = versions if versions is not None else versions_for(policy)
    priced = [price_line(policy=policy, line=line, versions=book) for line in lines]
    left: dict[int, Decimal] = {}
    for price in priced:
        version = price.version
        if version is None or version.unit != PricingUnit.ENTERPRISE or price.flags:
            continue
        cap = enterprise_cap(version)
        if version.pk not in left:
            left[version.pk] = cap
        paid = min(price.amount, left[version.pk])
        if paid != price.amount:
            values = {"cap": money_text(cap), "amount": money_text(paid)}
            chinese, english = in_both_languages(
                lambda values=values: _("；按企业计，本申领合计不超过 %(cap)s → %(amount)s") % values
            )
            price.explanation = (price.explanation + chinese)[:EXPLANATION_MAX_LENGTH]
            price.explanation_en = (price.explanation_en + english)[:EXPLANATION_MAX_LENGTH]
            price.amount = paid
        left[version.pk] -= paid
    return priced


def enterprise_cap(version: PolicyVersion) -> Decimal:
    """The most a claim is paid under a per-enterprise version: its largest own amount."""
    return max((Decimal(amount) for amount in (version.amount_by_level or {}).values()), default=ZERO)
