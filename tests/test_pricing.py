"""Pricing, one row per catalogue standard S1–S18 of RULES.md §3 and per variant and boundary.

Each row's id names the standard, its source paragraph in seed 002 (Zhuji plan; 002 II(1) =
§二(一)) and the rule it shows; the row also carries the source as the catalogue states it,
and the test checks the version that priced the line cites that paragraph. Dates: 2020 is
priced by version 1 (2020-02-21, the date 002 was issued, to 2021-12-31), 2023 by version 2 (from 2022), 2026 by S1 v3 (demo data
from 2026-01-01: 高级工 ≤ 4000)."""

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from claims.inputs import LineInput
from claims.models import PolicyVersion, SubsidyPolicy
from claims.pricing import price_line, versions_for

D2020 = datetime.date(2020, 6, 1)
D2023 = datetime.date(2023, 6, 1)
D2026 = datetime.date(2026, 3, 1)

NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V"}


def chinese_number(text: str) -> int:
    """一 … 十九: enough for the paragraphs of seed 002."""
    if text.startswith("十"):
        return 10 + (NUMERALS[text[1:]] if text[1:] else 0)
    if "十" in text:
        tens, _, units = text.partition("十")
        return NUMERALS[tens] * 10 + (NUMERALS[units] if units else 0)
    return NUMERALS[text]


def ascii_source(source: str) -> str:
    """ "002 §三(十三)" → "002 III(13)", so that test ids stay readable in any terminal."""
    document, _, paragraph = source.partition(" §")
    section, _, item = paragraph.partition("(")
    return f"{document} {ROMAN[chinese_number(section)]}({chinese_number(item.rstrip(')'))})"


@dataclass
class Row:
    code: str
    source: str
    rule: str
    line: dict
    amount: str
    version: str | None
    explanation: str
    flags: list = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.code} [{ascii_source(self.source)}] {self.rule}"


def row(code, source, rule, line, amount, version, explanation, flags=()):
    return Row(code, source, rule, line, amount, version, explanation, list(flags))


ROWS = [
    # S1: qualification / skill-level / special-ability training up to 高级工, ≤ 3500 (a cap).
    row(
        "S1",
        "002 §二(一)",
        "cost 2800 under the cap 3500 pays the cost",
        {"stated_cost": "2800"},
        "2800.00",
        "S1 v2",
        "S1 v2 高级工 ≤3500，实际费用 2800 → 2800",
    ),
    row(
        "S1",
        "002 §二(一)",
        "cost 4200 over the cap pays the cap 3500",
        {"stated_cost": "4200"},
        "3500.00",
        "S1 v2",
        "S1 v2 高级工 ≤3500，实际费用 4200 → 3500",
    ),
    row(
        "S1",
        "002 §二(一)",
        "cost exactly the cap pays the cap",
        {"stated_cost": "3500"},
        "3500.00",
        "S1 v2",
        "S1 v2 高级工 ≤3500，实际费用 3500 → 3500",
    ),
    row(
        "S1",
        "002 §二(一)",
        "cost with cents under the cap pays it to the cent",
        {"stated_cost": "2999.95"},
        "2999.95",
        "S1 v2",
        "S1 v2 高级工 ≤3500，实际费用 2999.95 → 2999.95",
    ),
    row(
        "S1",
        "002 §二(一)",
        "no stated cost pays the cap and says so",
        {"stated_cost": None},
        "3500.00",
        "S1 v2",
        "S1 v2 高级工 ≤3500，未填实际费用 → 按上限 3500",
    ),
    row(
        "S1",
        "002 §二(一)",
        "a 2020 certificate is priced by v1",
        {"stated_cost": "3900", "certificate_date": D2020},
        "3500.00",
        "S1 v1",
        "S1 v1 高级工 ≤3500，实际费用 3900 → 3500",
    ),
    row(
        "S1",
        "002 §二(一)",
        "a 2026 certificate is priced by v3 (demo: senior cap 4000)",
        {"stated_cost": "3900", "certificate_date": D2026},
        "3900.00",
        "S1 v3",
        "S1 v3 高级工 ≤4000，实际费用 3900 → 3900",
    ),
    row(
        "S1",
        "002 §二(一)",
        "the last day of v2 (2025-12-31) is still v2",
        {"stated_cost": "3900", "certificate_date": datetime.date(2025, 12, 31)},
        "3500.00",
        "S1 v2",
        "S1 v2 高级工 ≤3500，实际费用 3900 → 3500",
    ),
    row(
        "S1",
        "002 §二(一)",
        "the first day of v3 (2026-01-01) is v3",
        {"stated_cost": None, "certificate_date": datetime.date(2026, 1, 1)},
        "4000.00",
        "S1 v3",
        "S1 v3 高级工 ≤4000，未填实际费用 → 按上限 4000",
    ),
    row(
        "S1",
        "002 §二(一)",
        "v3 changed only the senior level: junior stays 3500",
        {"level": "junior", "stated_cost": "3900", "certificate_date": D2026},
        "3500.00",
        "S1 v3",
        "S1 v3 初级工 ≤3500，实际费用 3900 → 3500",
    ),
    row(
        "S1",
        "002 §二(一)",
        "a certificate the day before 002 took effect is for the former standard, not stated (NO_STANDARD)",
        {"certificate_date": datetime.date(2020, 2, 20)},
        "0.00",
        None,
        "2020年2月20日 早于 S1 的生效日期 2020年2月21日：按原补贴标准处理，原标准金额未载入目录（种子文件未载明），请人社局审核。",
        ["NO_STANDARD"],
    ),
    row(
        "S1",
        "002 §二(一)",
        "a technician is above the standard (LEVEL)",
        {"level": "technician"},
        "0.00",
        "S1 v2",
        "S1 v2 不适用于该等级（技师）。",
        ["LEVEL"],
    ),
    row(
        "S1",
        "002 §二(一)",
        "a special operation certificate is not covered (LEVEL)",
        {"certificate_type": "special_operation"},
        "0.00",
        "S1 v2",
        "S1 v2 不适用于特种作业操作证书。",
        ["LEVEL"],
    ),
    # S2: project-based training, ≤ 50% of the nearest qualification standard (S1, same level, same date).
    row(
        "S2",
        "002 §二(一)",
        "50 percent of S1 v2 3500 is 1750, less than the cost",
        {"certificate_type": "training", "stated_cost": "2000"},
        "1750.00",
        "S2 v2",
        "S2 v2 高级工：S1 v2 3500 × 50% = 1750，实际费用 2000 → 1750",
    ),
    row(
        "S2",
        "002 §二(一)",
        "a cost under 50 percent of S1 pays the cost",
        {"certificate_type": "training", "stated_cost": "1200"},
        "1200.00",
        "S2 v2",
        "S2 v2 高级工：S1 v2 3500 × 50% = 1750，实际费用 1200 → 1200",
    ),
    row(
        "S2",
        "002 §二(一)",
        "in 2026 the base is S1 v3 (4000), so 2000",
        {"certificate_type": "training", "stated_cost": None, "certificate_date": D2026},
        "2000.00",
        "S2 v2",
        "S2 v2 高级工：S1 v3 4000 × 50% = 2000，未填实际费用 → 按上限 2000",
    ),
    row(
        "S2",
        "002 §二(一)",
        "in 2020 the base is S1 v1",
        {"certificate_type": "training", "stated_cost": "1900", "certificate_date": D2020},
        "1750.00",
        "S2 v1",
        "S2 v1 高级工：S1 v1 3500 × 50% = 1750，实际费用 1900 → 1750",
    ),
    row(
        "S2",
        "002 §二(一)",
        "a level S1 does not cover (LEVEL)",
        {"certificate_type": "training", "level": "technician"},
        "0.00",
        "S2 v2",
        "S2 v2：基准标准 S1 v2 不适用于该等级（技师）。",
        ["LEVEL"],
    ),
    row(
        "S2",
        "002 §二(一)",
        "only training certificates (LEVEL)",
        {"certificate_type": "qualification"},
        "0.00",
        "S2 v2",
        "S2 v2 不适用于职业资格证书。",
        ["LEVEL"],
    ),
    # S3: special operation safety training: new certificate ≤ 500, renewal ≤ 100.
    row(
        "S3",
        "002 §二(二)",
        "new certificate, cost 450 under 500",
        {"certificate_type": "special_operation", "stated_cost": "450"},
        "450.00",
        "S3 v2",
        "S3 v2 高级工 ≤500，实际费用 450 → 450",
    ),
    row(
        "S3",
        "002 §二(二)",
        "new certificate, cost 800 capped at 500",
        {"certificate_type": "special_operation", "stated_cost": "800"},
        "500.00",
        "S3 v2",
        "S3 v2 高级工 ≤500，实际费用 800 → 500",
    ),
    row(
        "S3",
        "002 §二(二)",
        "renewal capped at 100",
        {"certificate_type": "special_operation", "variant": "renewal", "stated_cost": "450"},
        "100.00",
        "S3 v2",
        "S3 v2 复审 ≤100，实际费用 450 → 100",
    ),
    row(
        "S3",
        "002 §二(二)",
        "renewal costing 80 pays 80",
        {"certificate_type": "special_operation", "variant": "renewal", "stated_cost": "80"},
        "80.00",
        "S3 v2",
        "S3 v2 复审 ≤100，实际费用 80 → 80",
    ),
    row(
        "S3",
        "002 §二(二)",
        "an unknown variant is flagged, not priced (VARIANT)",
        {"certificate_type": "special_operation", "variant": "refresher"},
        "0.00",
        "S3 v2",
        "S3 v2 没有“refresher”这一类型，可选：renewal（复审），或留空。",
        ["VARIANT"],
    ),
    # S4: entrepreneurship training, 1000 per person (fixed).
    row(
        "S4",
        "002 §二(四)",
        "fixed 1000 whatever the cost",
        {"certificate_type": "training", "stated_cost": "3000"},
        "1000.00",
        "S4 v2",
        "S4 v2 定额 1000 → 1000",
    ),
    row(
        "S4",
        "002 §二(四)",
        "fixed 1000 even below the cost",
        {"certificate_type": "training", "stated_cost": "600", "level": "junior"},
        "1000.00",
        "S4 v2",
        "S4 v2 定额 1000 → 1000",
    ),
    # S5: veterans, ≤ 5000.
    row(
        "S5",
        "002 §二(五)",
        "veterans cost 6000 capped at 5000",
        {"stated_cost": "6000"},
        "5000.00",
        "S5 v2",
        "S5 v2 高级工 ≤5000，实际费用 6000 → 5000",
    ),
    # S6: living allowance, 50 per day of training.
    row(
        "S6",
        "002 §二(五)",
        "12 days at 50 per day",
        {"training_days": 12, "hardship_group": "employment_difficulty"},
        "600.00",
        "S6 v2",
        "S6 v2 50/天 × 12 天 → 600",
    ),
    row(
        "S6",
        "002 §二(五)",
        "one day at 50",
        {"training_days": 1, "hardship_group": "low_income_rural"},
        "50.00",
        "S6 v2",
        "S6 v2 50/天 × 1 天 → 50",
    ),
    # S7: training package with question bank 50,000 per item; assessment standard 10,000.
    row("S7", "002 §二(六)", "training package 50000 per item", {}, "50000.00", "S7 v2", "S7 v2 定额 50000 → 50000"),
    row(
        "S7",
        "002 §二(六)",
        "assessment standard 10000 per item",
        {"variant": "assessment_standard"},
        "10000.00",
        "S7 v2",
        "S7 v2 专项职业能力考核规范 定额 10000 → 10000",
    ),
    # S8: elite classes, in province ≤ 10,000, out of province (大师班) ≤ 20,000.
    row(
        "S8",
        "002 §二(七)",
        "in province cost 12000 capped at 10000",
        {"stated_cost": "12000", "level": "technician"},
        "10000.00",
        "S8 v2",
        "S8 v2 ≤10000，实际费用 12000 → 10000",
    ),
    row(
        "S8",
        "002 §二(七)",
        "out of province cost 25000 capped at 20000",
        {"stated_cost": "25000", "variant": "out_of_province"},
        "20000.00",
        "S8 v2",
        "S8 v2 省外研修 ≤20000，实际费用 25000 → 20000",
    ),
    row(
        "S8",
        "002 §二(七)",
        "out of province cost 15000 pays 15000",
        {"stated_cost": "15000", "variant": "out_of_province"},
        "15000.00",
        "S8 v2",
        "S8 v2 省外研修 ≤20000，实际费用 15000 → 15000",
    ),
    # S9: golden blue collar abroad, ≤ 50,000, high-skill people.
    row(
        "S9",
        "002 §二(八)",
        "abroad cost 60000 capped at 50000",
        {"stated_cost": "60000", "level": "technician"},
        "50000.00",
        "S9 v2",
        "S9 v2 技师 ≤50000，实际费用 60000 → 50000",
    ),
    row(
        "S9",
        "002 §二(八)",
        "a junior worker is not high-skill (LEVEL)",
        {"level": "junior"},
        "0.00",
        "S9 v2",
        "S9 v2 不适用于该等级（初级工）。",
        ["LEVEL"],
    ),
    # S10: worker apprentice, 4000–6000 per year (below 4000: actual cost), ≤ 2 years.
    row(
        "S10",
        "002 §三(九)",
        "a year costing 3000 (below 4000) pays the actual cost",
        {"periods": 1, "stated_cost": "3000"},
        "3000.00",
        "S10 v2",
        "S10 v2 ≤6000/年 × 1 年 = 6000，实际费用 3000 → 3000",
    ),
    row(
        "S10",
        "002 §三(九)",
        "a year costing 5000 (within 4000-6000) pays 5000",
        {"periods": 1, "stated_cost": "5000"},
        "5000.00",
        "S10 v2",
        "S10 v2 ≤6000/年 × 1 年 = 6000，实际费用 5000 → 5000",
    ),
    row(
        "S10",
        "002 §三(九)",
        "a year costing 7000 pays at most 6000",
        {"periods": 1, "stated_cost": "7000"},
        "6000.00",
        "S10 v2",
        "S10 v2 ≤6000/年 × 1 年 = 6000，实际费用 7000 → 6000",
    ),
    row(
        "S10",
        "002 §三(九)",
        "3 years claimed, at most 2 paid",
        {"periods": 3, "stated_cost": "15000"},
        "12000.00",
        "S10 v2",
        "S10 v2 ≤6000/年 × 2 年（申领 3 年，最多 2 年） = 12000，实际费用 15000 → 12000",
    ),
    row(
        "S10",
        "002 §三(九)",
        "no periods stated counts one year",
        {"periods": None, "stated_cost": None},
        "6000.00",
        "S10 v2",
        "S10 v2 ≤6000/年 × 1 年（未填期数，按 1 年） = 6000，未填实际费用 → 按上限 6000",
    ),
    # S11: student apprentice, ≤ 3000 per year, ≤ 1 year.
    row(
        "S11",
        "002 §三(九)",
        "2 years claimed, 1 year of at most 3000 paid",
        {"periods": 2, "stated_cost": "5000"},
        "3000.00",
        "S11 v2",
        "S11 v2 ≤3000/年 × 1 年（申领 2 年，最多 1 年） = 3000，实际费用 5000 → 3000",
    ),
    # S12: directed graduates, 5000 per year, ≤ 2 years (not capped by cost).
    row(
        "S12",
        "002 §三(九)",
        "2 years at 5000",
        {"periods": 2, "stated_cost": "100"},
        "10000.00",
        "S12 v2",
        "S12 v2 5000/年 × 2 年 → 10000",
    ),
    row(
        "S12",
        "002 §三(九)",
        "3 years claimed, at most 2 paid",
        {"periods": 3},
        "10000.00",
        "S12 v2",
        "S12 v2 5000/年 × 2 年（申领 3 年，最多 2 年） → 10000",
    ),
    # S13: on-the-job drills and contests, ≤ 20,000 per enterprise.
    row(
        "S13",
        "002 §三(十)",
        "contest cost 25000 capped at 20000",
        {"stated_cost": "25000"},
        "20000.00",
        "S13 v2",
        "S13 v2 ≤20000，实际费用 25000 → 20000",
    ),
    # S14: enterprise self-evaluation, 300 / 500 / 800 (fixed per level).
    row(
        "S14",
        "002 §三(十一)",
        "junior 300",
        {"level": "junior", "certificate_type": "skill_level"},
        "300.00",
        "S14 v2",
        "S14 v2 初级工 定额 300 → 300",
    ),
    row(
        "S14",
        "002 §三(十一)",
        "intermediate 500",
        {"level": "intermediate", "certificate_type": "skill_level"},
        "500.00",
        "S14 v2",
        "S14 v2 中级工 定额 500 → 500",
    ),
    row(
        "S14",
        "002 §三(十一)",
        "senior 800",
        {"level": "senior", "certificate_type": "skill_level"},
        "800.00",
        "S14 v2",
        "S14 v2 高级工 定额 800 → 800",
    ),
    row(
        "S14",
        "002 §三(十一)",
        "technician is not a self-evaluated level (LEVEL)",
        {"level": "technician", "certificate_type": "skill_level"},
        "0.00",
        "S14 v2",
        "S14 v2 不适用于该等级（技师）。",
        ["LEVEL"],
    ),
    # S15: enterprise chief technician, 1000 per month, ≤ 3 years.
    row(
        "S15",
        "002 §三(十一)",
        "12 months at 1000",
        {"periods": 12, "level": "chief_technician"},
        "12000.00",
        "S15 v2",
        "S15 v2 1000/月 × 12 个月 → 12000",
    ),
    row(
        "S15",
        "002 §三(十一)",
        "40 months claimed, at most 36 paid",
        {"periods": 40, "level": "chief_technician"},
        "36000.00",
        "S15 v2",
        "S15 v2 1000/月 × 36 个月（申领 40 个月，最多 36 个月） → 36000",
    ),
    # S16: trade friction, the standard (S1) plus at most 30%, until the end of 2021.
    row(
        "S16",
        "002 §三(十二)",
        "S1 3500 plus 30 percent is 4550, under the cost",
        {"certificate_date": D2020, "stated_cost": "5000"},
        "4550.00",
        "S16 v1",
        "S16 v1 高级工：S1 v1 3500 上浮 ≤30% = 4550，实际费用 5000 → 4550",
    ),
    row(
        "S16",
        "002 §三(十二)",
        "a cost under the uplifted standard pays the cost",
        {"certificate_date": D2020, "stated_cost": "4000"},
        "4000.00",
        "S16 v1",
        "S16 v1 高级工：S1 v1 3500 上浮 ≤30% = 4550，实际费用 4000 → 4000",
    ),
    row(
        "S16",
        "002 §三(十二)",
        "after 2021 there is no standard (NO_STANDARD)",
        {"certificate_date": datetime.date(2022, 1, 1)},
        "0.00",
        None,
        "2022年1月1日 无有效的 S16 补贴标准。",
        ["NO_STANDARD"],
    ),
    # S17: personal certificate, ≤ 1000 / 1500 / 2000.
    row(
        "S17",
        "002 §三(十三)",
        "junior cost 1200 capped at 1000",
        {"level": "junior", "stated_cost": "1200"},
        "1000.00",
        "S17 v2",
        "S17 v2 初级工 ≤1000，实际费用 1200 → 1000",
    ),
    row(
        "S17",
        "002 §三(十三)",
        "intermediate without cost pays 1500",
        {"level": "intermediate", "stated_cost": None},
        "1500.00",
        "S17 v2",
        "S17 v2 中级工 ≤1500，未填实际费用 → 按上限 1500",
    ),
    row(
        "S17",
        "002 §三(十三)",
        "senior cost 1800 pays 1800",
        {"level": "senior", "stated_cost": "1800"},
        "1800.00",
        "S17 v2",
        "S17 v2 高级工 ≤2000，实际费用 1800 → 1800",
    ),
    row(
        "S17",
        "002 §三(十三)",
        "technician is S18's, not S17's (LEVEL)",
        {"level": "technician"},
        "0.00",
        "S17 v2",
        "S17 v2 不适用于该等级（技师）。",
        ["LEVEL"],
    ),
    # S18: high-skill promotion grant, technician ≤ 4500, senior technician ≤ 6000.
    row(
        "S18",
        "002 §三(十三)",
        "technician without cost pays 4500",
        {"level": "technician", "stated_cost": None},
        "4500.00",
        "S18 v2",
        "S18 v2 技师 ≤4500，未填实际费用 → 按上限 4500",
    ),
    row(
        "S18",
        "002 §三(十三)",
        "senior technician cost 7000 capped at 6000",
        {"level": "senior_technician", "stated_cost": "7000"},
        "6000.00",
        "S18 v2",
        "S18 v2 高级技师 ≤6000，实际费用 7000 → 6000",
    ),
    row(
        "S18",
        "002 §三(十三)",
        "in 2020 too, v1",
        {"level": "senior_technician", "stated_cost": "7000", "certificate_date": D2020},
        "6000.00",
        "S18 v1",
        "S18 v1 高级技师 ≤6000，实际费用 7000 → 6000",
    ),
    row(
        "S18",
        "002 §三(十三)",
        "a senior worker is S1's, not S18's (LEVEL)",
        {"level": "senior"},
        "0.00",
        "S18 v2",
        "S18 v2 不适用于该等级（高级工）。",
        ["LEVEL"],
    ),
]


def line_input(**overrides) -> LineInput:
    values = {
        "id_number": "11010519491231002X",
        "name": "张三",
        "occupation": "电工",
        "level": "senior",
        "certificate_type": "qualification",
        "certificate_number": "C-1",
        "certificate_date": D2023,
        "training_days": 10,
        "stated_cost": None,
    }
    values.update(overrides)
    if values["stated_cost"] is not None:
        values["stated_cost"] = Decimal(values["stated_cost"]).quantize(Decimal("0.01"))
    return LineInput(**values)


@pytest.fixture
def catalogue(demo):
    """The demo catalogue: what seed_demo puts in the Wenling jurisdiction (seeded once per
    session, see tests/conftest.py, rather than built again for each of these many tests)."""
    return {policy.code: policy for policy in SubsidyPolicy.objects.filter(jurisdiction__code="WL")}


def test_every_standard_of_rules_section_3_has_rows():
    assert {r.code for r in ROWS} == {f"S{n}" for n in range(1, 19)}
    assert len({r.id for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("case", ROWS, ids=[r.id for r in ROWS])
def test_price(catalogue, case):
    policy = catalogue[case.code]
    priced = price_line(policy=policy, line=line_input(**case.line))
    assert priced.amount == Decimal(case.amount)
    assert (str(priced.version) if priced.version else None) == case.version
    assert priced.explanation == case.explanation
    assert priced.explanation_en and not re.search(r"[\u4e00-\u9fff]", priced.explanation_en), priced.explanation_en
    assert [flag["code"] for flag in priced.flags] == case.flags
    # The row cites the paragraph the catalogue cites for this standard.
    cited = {version.source for version in policy.versions.all()}
    assert cited == {case.source}


@pytest.mark.parametrize("case", [r for r in ROWS if r.flags], ids=[r.id for r in ROWS if r.flags])
def test_pricing_flags_are_bilingual_with_a_source(catalogue, case):
    flag = price_line(policy=catalogue[case.code], line=line_input(**case.line)).flags[0]
    assert set(flag) == {"code", "message", "message_en", "source"}
    assert flag["message"] == case.explanation
    assert flag["message_en"] and flag["message_en"].isascii(), flag["message_en"]
    assert flag["source"].startswith("RULES.md §3")


def test_explanations_are_kept_in_both_languages_whatever_the_request_language(catalogue):
    from django.utils import translation

    with translation.override("en"):
        refused = price_line(policy=catalogue["S1"], line=line_input(level="technician"))
    with translation.override("zh-hans"):
        capped = price_line(
            policy=catalogue["S3"], line=line_input(certificate_type="special_operation", stated_cost=Decimal("450"))
        )
    assert (refused.explanation, refused.explanation_en) == (
        "S1 v2 不适用于该等级（技师）。",
        "S1 v2 does not cover this level (Technician).",
    )
    assert refused.flags[0]["message_en"] == refused.explanation_en
    assert (capped.explanation, capped.explanation_en) == (
        "S3 v2 高级工 ≤500，实际费用 450 → 450",
        "S3 v2 Senior ≤500, actual cost 450 → 450",
    )


def test_a_version_book_prices_many_lines_without_further_queries(catalogue, django_assert_num_queries):
    policy = catalogue["S2"]  # percent_of: the book holds S1's versions too
    book = versions_for(policy)
    lines = [
        line_input(certificate_type="training", stated_cost=str(1000 + n), certificate_date=date)
        for n in range(20)
        for date in (D2020, D2023, D2026)
    ]
    with django_assert_num_queries(0):
        priced = [price_line(policy=policy, line=item, versions=book) for item in lines]
    assert priced == [price_line(policy=policy, line=item) for item in lines]
    assert {str(p.version) for p in priced} == {"S2 v1", "S2 v2"}


def test_a_share_is_rounded_down_to_the_cent(catalogue):
    """ "At most": 50% of an odd-cent base never rounds up past the limit."""
    s1_v2 = PolicyVersion.objects.get(policy=catalogue["S1"], version=2)
    PolicyVersion.objects.filter(pk=s1_v2.pk).update(amount_by_level={**s1_v2.amount_by_level, "senior": "3333.33"})
    priced = price_line(policy=catalogue["S2"], line=line_input(certificate_type="training"))
    assert priced.amount == Decimal("1666.66")


def test_a_claim_switched_to_another_standard_without_its_lines_is_priced_by_that_standard(demo):
    """A header edit (API PATCH {"policy": ...} with no lines) once kept the old standard's
    amounts: a line of S8's 20,000 (out of province) went through under S3, where it is worth
    nothing. Now its lines are priced as a claim made under the new standard prices them."""
    from claims.services import create_claim, update_claim

    from .conftest import claim_data, line, resident_id

    clerk = demo["provider_clerk"]
    elite = line(
        resident_id(141),
        certificate_type="skill_level",
        certificate_number="PS-1",
        stated_cost="20000.00",
        variant="out_of_province",
    )
    claim = create_claim(user=clerk, data=claim_data([elite], policy="S8"))
    assert claim.total == Decimal("20000.00")
    update_claim(user=clerk, claim=claim, data={"policy": "S3"})
    claim.refresh_from_db()
    made_under_s3 = create_claim(user=clerk, data=claim_data([{**elite, "certificate_number": "PS-2"}], policy="S3"))

    def priced(made):
        return [(made_line.amount, made_line.policy_version_id, made_line.flags) for made_line in made.lines.all()]

    assert priced(claim) == priced(made_under_s3)
    assert claim.total == made_under_s3.total < Decimal("20000.00")
