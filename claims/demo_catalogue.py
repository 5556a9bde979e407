"""The demo subsidy catalogue: RULES.md §3 (Zhuji 002, in force 2019-2021) as version 1,
and a version in force from 2022 on so that a claim made today prices.
Issue #3 extends the amount rules to every standard S1–S18."""

import datetime

from .models import AmountRule, CertificateType, Level, Payee

L = Level
C = CertificateType
UP_TO_SENIOR = [L.APPRENTICE, L.JUNIOR, L.INTERMEDIATE, L.SENIOR]

# code, name, payee, rule, {level: amount}, certificate types, source
STANDARDS = [
    ("S1", "职业资格/技能等级/专项能力培训（高级工及以下）", Payee.PROVIDER, AmountRule.CAP,
     {level: "3500.00" for level in UP_TO_SENIOR}, [C.QUALIFICATION, C.SKILL_LEVEL, C.SPECIAL_ABILITY], "002 §三(一)"),
    ("S3", "高危行业、特种作业安全技能培训（新取证）", Payee.PROVIDER, AmountRule.CAP,
     {level: "500.00" for level in UP_TO_SENIOR}, [C.SPECIAL_OPERATION], "002 §三(三)"),
    ("S5", "退役军人职业技能培训（3个月以上）", Payee.PROVIDER, AmountRule.CAP,
     {level: "5000.00" for level in UP_TO_SENIOR}, [C.QUALIFICATION, C.SKILL_LEVEL, C.SPECIAL_ABILITY, C.TRAINING], "002 §三(五)"),
    ("S17", "个人取证补贴（失业保险技能提升补贴）", Payee.TRAINEE, AmountRule.CAP,
     {L.JUNIOR: "1000.00", L.INTERMEDIATE: "1500.00", L.SENIOR: "2000.00"}, [C.QUALIFICATION, C.SKILL_LEVEL], "002 §三(十三)"),
    ("S18", "高技能人才晋级补贴（技师/高级技师）", Payee.TRAINEE, AmountRule.CAP,
     {L.TECHNICIAN: "4500.00", L.SENIOR_TECHNICIAN: "6000.00"}, [C.QUALIFICATION, C.SKILL_LEVEL], "002 §三(十四)"),
]

VERSIONS = [
    (1, datetime.date(2019, 1, 1), datetime.date(2021, 12, 31)),
    (2, datetime.date(2022, 1, 1), None),
]
