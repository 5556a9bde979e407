"""Each standard's own conditions (RULES.md §3, seed 002), checked against a claim's class and lines.

Two kinds, as the policy text puts them:

- conditions on the class and on what a line states are input errors, a 400 naming the field
  and row with nothing saved (``problems``): the days of a line within the class's days, the
  certificate on or after the start of the training, the actual cost where the standard pays
  the actual cost up to a limit, the length of the class (S5 at least 3 months, S9 at most one
  month), and, for a standard paid per item (S7), each item once and at most ``max_items``
  packages in a claim;
- conditions on the person (a target group, a veteran of the year, a filed chief technician)
  are flags HR decides (``condition_flags``), like HARDSHIP for the living allowance.

Both read the version in force on the line's certificate date, as pricing does.
"""

import calendar
import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

from .dates import date_text
from .models import PolicyCategory, PricingUnit, SubsidyPolicy, TargetGroup
from .pricing import VersionBook, pricing_flag, versions_for

# Where a standard sets the length of the class (002 §二(五), §二(八)): (category, months, at least?).
MIN_MONTHS = {PolicyCategory.VETERANS: 3}  # 不少于 3 个月
MAX_MONTHS = {PolicyCategory.ABROAD: 1}  # 不超过 1 个月
# S4: 农民工、建档立卡贫困人口、在校大学生（含技师学院学生）和退役军人 (002 §二(四)).
S4_GROUPS = frozenset(TargetGroup.values)


@dataclass(frozen=True)
class Problem:
    """One input error: ``field`` of line ``index`` (None: a header field), and its message."""

    index: int | None
    field: str
    render: Callable[[], str]

    @property
    def path(self) -> str:
        return self.field if self.index is None else f"lines[{self.index}].{self.field}"


def class_days(start: datetime.date, end: datetime.date) -> int:
    """The days of a class, both ends included."""
    return (end - start).days + 1


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day ``months`` later (31 Jan + 1 month → 28/29 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _class_problems(category: str, start: datetime.date, end: datetime.date) -> list[Problem]:
    problems = []
    if category in MIN_MONTHS:
        months = MIN_MONTHS[category]
        shortest = add_months(start, months) - datetime.timedelta(days=1)
        if end < shortest:
            problems.append(
                Problem(
                    None,
                    "training_end",
                    lambda: (
                        _("该标准的培训不少于 %(months)d 个月：%(start)s 开始的培训最早 %(end)s 结束。")
                        % {"months": months, "start": date_text(start), "end": date_text(shortest)}
                    ),
                )
            )
    if category in MAX_MONTHS:
        months = MAX_MONTHS[category]
        longest = add_months(start, months) - datetime.timedelta(days=1)
        if end > longest:
            problems.append(
                Problem(
                    None,
                    "training_end",
                    lambda: (
                        _("该标准的培训不超过 %(months)d 个月：%(start)s 开始的培训最迟 %(end)s 结束。")
                        % {"months": months, "start": date_text(start), "end": date_text(longest)}
                    ),
                )
            )
    return problems


def problems(
    *,
    policy: SubsidyPolicy,
    training_start: datetime.date,
    training_end: datetime.date,
    lines: Sequence,
    versions: VersionBook | None = None,
) -> list[Problem]:
    """The input errors of a claim's class and lines (LineInput or ClaimLine) under its standard."""
    book = versions if versions is not None else versions_for(policy)
    found = _class_problems(policy.category, training_start, training_end)
    days = class_days(training_start, training_end)
    items_seen: dict[tuple[str, str], int] = {}
    packages = 0
    for index, line in enumerate(lines):
        if line.training_days is not None and line.training_days > days:
            found.append(
                Problem(
                    index,
                    "training_days",
                    lambda: (
                        _("培训天数不能超过本班的天数 %(days)d 天（%(start)s 至 %(end)s）。")
                        % {"days": days, "start": date_text(training_start), "end": date_text(training_end)}
                    ),
                )
            )
        if line.certificate_date < training_start:
            found.append(
                Problem(
                    index,
                    "certificate_date",
                    lambda: (
                        _("发证日期不能早于培训开始日期 %(start)s：证书须在培训后取得。") % {"start": date_text(training_start)}
                    ),
                )
            )
        version = book.in_force(policy.pk, line.certificate_date)
        if version is None:
            continue  # priced with the NO_STANDARD flag
        if version.cost_required and line.stated_cost is None:
            found.append(
                Problem(
                    index,
                    "stated_cost",
                    lambda: _("%(code)s 按实际费用补贴（不超过标准）：须填写实际培训费用。") % {"code": policy.code},
                )
            )
        if version.unit == PricingUnit.ITEM:
            variant = (line.variant or "").strip()
            key = (variant, line.occupation.code)  # the same occupation, however it was written
            if key in items_seen:
                first = items_seen[key] + 1
                found.append(
                    Problem(
                        index,
                        "occupation",
                        lambda first=first: _("同一项目在本申领中重复（见第 %(n)d 行）：每项只补贴一次。") % {"n": first},
                    )
                )
            else:
                items_seen[key] = index
            if not variant:
                packages += 1
                if version.max_items is not None and packages == version.max_items + 1:
                    limit = version.max_items
                    found.append(
                        Problem(
                            index,
                            "variant",
                            lambda limit=limit: (
                                _("%(code)s 最多补贴 %(n)d 项：本申领超过了。") % {"code": policy.code, "n": limit}
                            ),
                        )
                    )
    return found


# --------------------------------------------------------------------------- flags on the person

CONDITION_SOURCES = {
    "TARGET_GROUP": "002 §二(四)",
    "VETERAN": "002 §二(五)",
    "CHIEF_TECHNICIAN": "002 §三(十一)",
}
CONDITION_CODES = frozenset(CONDITION_SOURCES)


def condition_flags(*, policy: SubsidyPolicy, training_start: datetime.date, line) -> list[dict]:
    """The flags of a line whose person does not meet a condition the standard names."""
    category = policy.category
    if category == PolicyCategory.ENTREPRENEURSHIP and line.target_group not in S4_GROUPS:
        return [
            pricing_flag(
                "TARGET_GROUP",
                lambda: _("创业培训补贴对象为农民工、建档立卡贫困人口、在校大学生和退役军人：未填写或不属于这些人员类别。"),
                CONDITION_SOURCES["TARGET_GROUP"],
            )
        ]
    if category == PolicyCategory.VETERANS and (
        line.target_group != TargetGroup.VETERAN or line.discharge_year != training_start.year
    ):
        year = training_start.year
        return [
            pricing_flag(
                "VETERAN",
                lambda: _("退役军人培训补贴只给当年（%(year)d 年）退役的退役军人：人员类别或退役年份不符。") % {"year": year},
                CONDITION_SOURCES["VETERAN"],
            )
        ]
    if category == PolicyCategory.CHIEF_TECHNICIAN and not line.chief_technician_filed:
        return [
            pricing_flag(
                "CHIEF_TECHNICIAN",
                lambda: _("技能岗位津贴只给经过备案的企业首席技师：未注明已备案。"),
                CONDITION_SOURCES["CHIEF_TECHNICIAN"],
            )
        ]
    return []
