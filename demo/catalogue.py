"""The demo subsidy catalogue: every standard S1–S18 of RULES.md §3.

Version 1 holds the Zhuji amounts (seed 002, in force from its date of issue, 2020-02-21,
until 2021-12-31: "本实施方案自发文之日起施行"). Certificates before 2020-02-21 are paid at the
former standard (002, last paragraph), whose amounts the seeds do not state: no version
covers them, version 1 says so in its notes, and such lines are flagged NO_STANDARD for HR,
never priced at the new amount. Version 2 carries the amounts on from 2022-01-01, so that a
claim made today prices (demo data: the plan itself ended on 2021-12-31). S16 was "until
the end of 2021" and has no later version. S1 v3 (from 2026-01-01) raises 高级工 to 4000
(demo data, not from a seed) so that pricing by certificate date is visible: a 2025
certificate is priced by v2, a 2026 one by v3, and S2 and S16, which are computed from S1,
follow. Every version no seed states (v2, S1 v3) is marked demo_only: the pages, the API
and the explanations show it as 演示数据，非政策规定.
"""

import datetime
from dataclasses import dataclass

from claims.catalogue import VersionTerms
from claims.models import AmountRule, CertificateType, Level, Payee, Period, PolicyCategory, PricingUnit

L = Level
C = CertificateType
R = AmountRule
U = PricingUnit
UP_TO_SENIOR = [L.APPRENTICE, L.JUNIOR, L.INTERMEDIATE, L.SENIOR]
HIGH_SKILL = [L.SENIOR, L.TECHNICIAN, L.SENIOR_TECHNICIAN, L.PRINCIPAL_TECHNICIAN, L.CHIEF_TECHNICIAN]
ANY = "*"

# 002 takes effect on its date of issue (印发 2020-02-21) and runs until 2021-12-31.
V1 = (datetime.date(2020, 2, 21), datetime.date(2021, 12, 31))
V1_NOTE = (
    "002 自发文之日（2020-02-21）起施行。此前符合条件的按原补贴标准列支（002 末段），"
    "原标准金额种子文件未载明：此前取证的明细不予计价（NO_STANDARD），由人社局审核。"
)
V2_FROM = datetime.date(2022, 1, 1)
V2_NOTE = "演示数据：2022 年起沿用诸暨 2019–2021 标准（原方案期限至 2021-12-31）。"


@dataclass(frozen=True)
class DemoStandard:
    code: str
    name: str
    category: str
    payee: str
    # The Zhuji terms (version 1); valid dates are filled in by versions().
    terms: VersionTerms
    carried_on: bool = True  # a version 2 from 2022-01-01 with the same terms
    later: tuple = ()  # further versions: (valid_from, {field: value}, notes)


def _terms(
    rule,
    amounts=None,
    *,
    certificates=(),
    source,
    variants=None,
    period="",
    max_periods=None,
    percent=None,
    base="",
    capped=False,
    notes="",
    unit=PricingUnit.PERSON,
    cost_required=False,
    max_items=None,
) -> VersionTerms:
    return VersionTerms(
        valid_from=None,
        amount_rule=str(rule),
        amount_by_level={str(level): amount for level, amount in (amounts or {}).items()},
        variant_amounts=dict(variants or {}),
        period=str(period),
        max_periods=max_periods,
        percent=percent,
        base_policy=base,
        capped_by_cost=capped,
        certificate_types=[str(value) for value in certificates],
        source=source,
        notes=notes,
        unit=str(unit),
        cost_required=cost_required,
        max_items=max_items,
    )


def _each(levels, amount):
    return {level: amount for level in levels}


STANDARDS = [
    DemoStandard(
        "S1",
        "职业资格/技能等级/专项能力培训（高级工及以下）",
        PolicyCategory.SKILLS,
        Payee.PROVIDER,
        _terms(
            R.CAP,
            _each(UP_TO_SENIOR, "3500.00"),
            certificates=[C.QUALIFICATION, C.SKILL_LEVEL, C.SPECIAL_ABILITY],
            source="002 §二(一)",
            cost_required=True,
            notes="培训补贴和一次性鉴定补贴合计，每人不超过 3500 元。",
        ),
        later=(
            (
                datetime.date(2026, 1, 1),
                {"amount_by_level": {**_each(UP_TO_SENIOR[:3], "3500.00"), L.SENIOR: "4000.00"}},
                "演示数据（非政策文件）：2026 年起高级工上限提高到 4000 元，用于演示按发证日期计价。",
            ),
        ),
    ),
    DemoStandard(
        "S2",
        "项目制培训（培训合格证书）",
        PolicyCategory.PROJECT,
        Payee.PROVIDER,
        _terms(
            R.PERCENT_OF,
            certificates=[C.TRAINING],
            percent="50",
            base="S1",
            capped=True,
            source="002 §二(一)",
            cost_required=True,
            notes="不超过相同相近职业资格培训补贴标准（S1，同一等级、同一日期）的 50%。",
        ),
    ),
    DemoStandard(
        "S3",
        "高危行业、特种作业人员安全技能培训",
        PolicyCategory.SAFETY,
        Payee.PROVIDER,
        _terms(
            R.CAP,
            _each(UP_TO_SENIOR, "500.00"),
            certificates=[C.SPECIAL_OPERATION],
            variants={"renewal": "100.00"},
            source="002 §二(二)",
            notes="新取证每人最高 500 元；复审培训（类型 renewal）每人最高 100 元。",
        ),
    ),
    DemoStandard(
        "S4",
        "创业培训（农民工、建档立卡贫困人口、在校大学生、退役军人）",
        PolicyCategory.ENTREPRENEURSHIP,
        Payee.PROVIDER,
        _terms(R.FIXED, {ANY: "1000.00"}, certificates=[C.TRAINING], source="002 §二(四)", notes="每人 1000 元。"),
    ),
    DemoStandard(
        "S5",
        "退役军人职业技能培训（不少于 3 个月）",
        PolicyCategory.VETERANS,
        Payee.PROVIDER,
        _terms(
            R.CAP,
            _each(UP_TO_SENIOR, "5000.00"),
            certificates=[C.QUALIFICATION, C.SKILL_LEVEL, C.SPECIAL_ABILITY, C.TRAINING],
            source="002 §二(五)",
            notes="当年退役军人，培训不少于 3 个月，承训单位每人最高 5000 元。",
        ),
    ),
    DemoStandard(
        "S6",
        "困难人员培训期间生活费补贴",
        PolicyCategory.LIVING_ALLOWANCE,
        Payee.TRAINEE,
        _terms(
            R.PER_DAY,
            {ANY: "50.00"},
            source="002 §二(五)",
            unit=U.PERSON_DAY,
            notes="建档立卡低收入农户家庭劳动力、就业困难人员、零就业家庭成员、农村及城市低保家庭“两后生”，每人每天 50 元。",
        ),
    ),
    DemoStandard(
        "S7",
        "精品培训包（含题库）、专项职业能力考核规范开发",
        PolicyCategory.DEVELOPMENT,
        Payee.PROVIDER,
        _terms(
            R.FIXED,
            {ANY: "50000.00"},
            variants={"assessment_standard": "10000.00"},
            source="002 §二(六)",
            unit=U.ITEM,
            max_items=10,
            notes="培训包（含题库）每项 5 万元；专项职业能力考核规范（类型 assessment_standard）每项 1 万元。",
        ),
    ),
    DemoStandard(
        "S8",
        "精英培训：技工班、巧匠班、大师班",
        PolicyCategory.ELITE,
        Payee.PROVIDER,
        _terms(
            R.CAP,
            {ANY: "10000.00"},
            certificates=[C.QUALIFICATION, C.SKILL_LEVEL, C.TRAINING],
            variants={"out_of_province": "20000.00"},
            source="002 §二(七)",
            notes="技工班、巧匠班主要省内研修，每人最高 1 万元；大师班主要省外研修（类型 out_of_province），每人最高 2 万元。",
        ),
    ),
    DemoStandard(
        "S9",
        "“金蓝领”国（境）外培训（不超过 1 个月）",
        PolicyCategory.ABROAD,
        Payee.PROVIDER,
        _terms(
            R.CAP,
            _each(HIGH_SKILL, "50000.00"),
            source="002 §二(八)",
            cost_required=True,
            notes="选派高技能人才，不超过 1 个月，每人最高 5 万元。",
        ),
    ),
    DemoStandard(
        "S10",
        "新型学徒制：职工学徒",
        PolicyCategory.APPRENTICESHIP,
        Payee.ENTERPRISE,
        _terms(
            R.PER_PERIOD,
            {ANY: "6000.00"},
            period=Period.YEAR,
            max_periods=2,
            capped=True,
            source="002 §三(九)",
            unit=U.PERSON_PERIOD,
            cost_required=True,
            notes="每人每年不低于 4000 元（低于 4000 元按实补贴）、不高于 6000 元，不超过 2 年："
            "按实际费用补贴，每年最高 6000 元。",
        ),
    ),
    DemoStandard(
        "S11",
        "新型学徒制：学生学徒",
        PolicyCategory.APPRENTICESHIP,
        Payee.ENTERPRISE,
        _terms(
            R.PER_PERIOD,
            {ANY: "3000.00"},
            period=Period.YEAR,
            max_periods=1,
            capped=True,
            source="002 §三(九)",
            unit=U.PERSON_PERIOD,
            cost_required=True,
            notes="一般按学徒月实习津贴标准确定，每人每年不高于 3000 元，不超过 1 年。",
        ),
    ),
    DemoStandard(
        "S12",
        "招聘校企合作定向培养毕业生",
        PolicyCategory.GRADUATES,
        Payee.ENTERPRISE,
        _terms(
            R.PER_PERIOD,
            {ANY: "5000.00"},
            period=Period.YEAR,
            max_periods=2,
            source="002 §三(九)",
            unit=U.PERSON_PERIOD,
            notes="每人每年 5000 元，不超过 2 年。",
        ),
    ),
    DemoStandard(
        "S13",
        "企业岗位练兵、技能竞赛",
        PolicyCategory.CONTESTS,
        Payee.ENTERPRISE,
        _terms(R.CAP, {ANY: "20000.00"}, source="002 §三(十)", unit=U.ENTERPRISE, notes="按企业计，符合条件的企业最高 2 万元。"),
    ),
    DemoStandard(
        "S14",
        "企业自主评价技能人才培养补贴",
        PolicyCategory.SELF_EVALUATION,
        Payee.ENTERPRISE,
        _terms(
            R.FIXED,
            {L.JUNIOR: "300.00", L.INTERMEDIATE: "500.00", L.SENIOR: "800.00"},
            certificates=[C.SKILL_LEVEL],
            source="002 §三(十一)",
            notes="初级、中级、高级每人 300、500、800 元，补贴组织单位。",
        ),
    ),
    DemoStandard(
        "S15",
        "企业首席技师技能岗位津贴",
        PolicyCategory.CHIEF_TECHNICIAN,
        Payee.TRAINEE,
        _terms(
            R.PER_PERIOD,
            {ANY: "1000.00"},
            period=Period.MONTH,
            max_periods=36,
            source="002 §三(十一)",
            unit=U.PERSON_PERIOD,
            notes="经备案的企业首席技师，每人每月 1000 元，最多 3 年（36 个月）。",
        ),
    ),
    DemoStandard(
        "S16",
        "受经贸摩擦影响企业职工培训（2021 年底前）",
        PolicyCategory.TRADE_FRICTION,
        Payee.PROVIDER,
        _terms(
            R.UPLIFT,
            certificates=[C.QUALIFICATION, C.SKILL_LEVEL, C.SPECIAL_ABILITY],
            percent="30",
            base="S1",
            capped=True,
            source="002 §三(十二)",
            cost_required=True,
            notes="参照同类职业（工种）补贴标准（S1）上浮，上浮幅度不超过 30%；仅限 2021 年底前。",
        ),
        carried_on=False,
    ),
    DemoStandard(
        "S17",
        "个人取证补贴（失业保险技能提升补贴）",
        PolicyCategory.PERSONAL_CERTIFICATE,
        Payee.TRAINEE,
        _terms(
            R.CAP,
            {L.JUNIOR: "1000.00", L.INTERMEDIATE: "1500.00", L.SENIOR: "2000.00"},
            certificates=[C.QUALIFICATION, C.SKILL_LEVEL],
            source="002 §三(十三)",
            cost_required=True,
            notes="经备案的行业技能鉴定证书，初级、中级、高级分别不超过 1000、1500、2000 元；已享受免费培训的不重复享受。",
        ),
    ),
    DemoStandard(
        "S18",
        "高技能人才培训晋升资助（技师、高级技师）",
        PolicyCategory.HIGH_SKILL,
        Payee.TRAINEE,
        _terms(
            R.CAP,
            {L.TECHNICIAN: "4500.00", L.SENIOR_TECHNICIAN: "6000.00"},
            certificates=[C.QUALIFICATION, C.SKILL_LEVEL],
            source="002 §三(十三)",
            cost_required=True,
            notes="行动期间技师从最高 2500 元提高到 4500 元，高级技师从最高 3500 元提高到 6000 元。",
        ),
    ),
]


def versions(standard: DemoStandard) -> list[tuple[int, VersionTerms]]:
    """(number, terms) of every demo version of a standard, oldest first."""
    from dataclasses import replace

    result = [(1, replace(standard.terms, valid_from=V1[0], valid_to=V1[1], notes=f"{V1_NOTE}{standard.terms.notes}"))]
    if standard.carried_on:
        result.append(
            (
                2,
                replace(
                    standard.terms, valid_from=V2_FROM, valid_to=None, notes=f"{V2_NOTE}{standard.terms.notes}", demo_only=True
                ),
            )
        )
    for valid_from, changes, notes in standard.later:
        result.append(
            (
                len(result) + 1,
                replace(result[-1][1], valid_from=valid_from, valid_to=None, notes=notes, demo_only=True, **changes),
            )
        )
    return result
