"""The eligibility rules (claims/eligibility.py) and the HR overrides of their flags.

One table row per rule and outcome, each citing the paragraph the rule comes from
(seed prefix and paragraph as in RULES.md, or RULES.md §6 for the national procedure);
then story 3 of STORIES.md, the overrides, and the re-check at each review step."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.selectors import verify_chain
from claims.eligibility import ENGINE_CODES, RULES, check_claim, claim_deadline
from claims.errors import ActionForbidden, InvalidInput, StepAlreadyTaken
from claims.models import (
    AmountRule,
    Claim,
    ClaimStatus,
    FlagOverride,
    Jurisdiction,
    LineDecision,
    Payee,
    PolicyCategory,
    PolicyVersion,
    SubsidyPolicy,
)
from claims.reasons import REASONS
from claims.services import create_claim
from claims.sources import source_label
from workflow import selectors as inbox
from workflow.services import LineDecisionInput, decide_task, override_flag, submit_claim

from .api_support import error, login, ok
from .conftest import claim_data, line, resident_id

TODAY = datetime.date.today()
THIS_YEAR = TODAY  # a certificate date in the current calendar year, never in the future
LAST_YEAR = datetime.date(TODAY.year - 1, 12, 31)  # last year, yet within 12 months of any day this year
LONG_AGO = datetime.date(TODAY.year - 3, 6, 1)

PERSON = resident_id(500)  # the trainee the rules are about
OTHERS = [resident_id(600 + n) for n in range(10)]


# --------------------------------------------------------------------------- building claims


def period(n: int) -> dict:
    """Training dates of the n-th class: 25-day classes that never overlap each other."""
    start = TODAY - datetime.timedelta(days=400 - 30 * n)
    return {"training_start": start.isoformat(), "training_end": (start + datetime.timedelta(days=25)).isoformat()}


def person_line(occupation: str, *, level="senior", certificate_date=THIS_YEAR, policy="S3", **extra) -> dict:
    kinds = {"S3": "special_operation", "S1": "skill_level", "S17": "skill_level", "S6": "training"}
    return line(
        PERSON,
        "王芳",
        occupation=occupation,
        level=level,
        certificate_type=kinds[policy],
        certificate_number=f"C-{occupation}-{level}-{certificate_date}",
        certificate_date=certificate_date.isoformat(),
        **extra,
    )


def period_before(lines, n: int) -> dict:
    """period(n), or for a certificate dated before it, the n-th 25-day class ending before the
    certificate (a certificate is obtained after its training: claims/standard_checks.py)."""
    dates = period(n)
    earliest = min(datetime.date.fromisoformat(line["certificate_date"]) for line in lines)
    if earliest >= datetime.date.fromisoformat(dates["training_start"]):
        return dates
    start = earliest - datetime.timedelta(days=26 + 30 * n)
    return {"training_start": start.isoformat(), "training_end": (start + datetime.timedelta(days=25)).isoformat()}


def draft(user, lines, *, n: int, policy="S3", department="WL-YJJ", **header) -> Claim:
    dates = {} if "training_start" in header else period_before(lines, n)
    data = claim_data(lines=lines, policy=policy, department=department, class_name=f"班级 {n}", **dates, **header)
    return create_claim(user=user, data=data)


def submitted(user, lines, *, n: int, **kwargs) -> Claim:
    claim = draft(user, lines, n=n, **kwargs)
    submit_claim(user=user, claim=claim)
    claim.refresh_from_db()
    return claim


def codes(claim: Claim, line_no: int = 1) -> list[str]:
    return [flag["code"] for flag in claim.lines.get(line_no=line_no).flags]


def flag_of(claim: Claim, code: str, line_no: int = 1) -> dict:
    return next(flag for flag in claim.lines.get(line_no=line_no).flags if flag["code"] == code)


def ensure_policy(code: str, category: str, *, payee=Payee.TRAINEE, amounts=None, certificate_types=()) -> SubsidyPolicy:
    """The demo catalogue's standard with its category; a version in force today if it has none
    (the full S1–S18 catalogue has them)."""
    jurisdiction = Jurisdiction.objects.get(code="WL")
    policy, _created = SubsidyPolicy.objects.get_or_create(
        jurisdiction=jurisdiction, code=code, defaults={"name": code, "payee": payee}
    )
    if policy.category != category:
        policy.category = category
        policy.save(update_fields=["category"])
    if not policy.versions.exists():
        PolicyVersion.objects.create(
            policy=policy,
            version=1,
            valid_from=datetime.date(2022, 1, 1),
            amount_rule=AmountRule.PER_DAY,
            amount_by_level=amounts or {"*": "50.00"},
            certificate_types=list(certificate_types),
        )
    return policy


def earlier_trainings(demo, count: int, *, first_n: int = 0, certificate_date=THIS_YEAR, user="provider_clerk") -> list[Claim]:
    occupations = ["电工", "焊工", "叉车司机", "高处作业", "制冷作业"]
    return [
        submitted(demo[user], [person_line(occupations[first_n + i], certificate_date=certificate_date)], n=first_n + i)
        for i in range(count)
    ]


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    code: str
    source: str  # the paragraph the rule comes from (RULES.md's citation)
    flagged: bool
    story: str
    build: Callable  # (demo) -> the claim whose line 1 is examined
    related: Callable | None = None  # (demo, claim) -> the claim numbers the flag must name
    line_no: int = 1


def e2_three_this_year(demo):
    earlier = earlier_trainings(demo, 3)
    demo["_expected"] = [claim.number for claim in earlier]
    return draft(
        demo["provider_clerk"],
        [person_line("养老护理员", policy="S1", level="intermediate")],
        n=9,
        policy="S1",
        department="WL-MZJ",
    )


def e2_two_this_year(demo):
    earlier_trainings(demo, 2)
    return draft(demo["provider_clerk"], [person_line("养老护理员")], n=9)


def e2_one_last_year(demo):
    earlier_trainings(demo, 2)
    submitted(demo["provider_clerk"], [person_line("制冷作业", certificate_date=LAST_YEAR)], n=5)
    return draft(demo["provider_clerk"], [person_line("养老护理员")], n=9)


def e2_across_providers(demo):
    earlier = earlier_trainings(demo, 2) + earlier_trainings(demo, 1, first_n=3, user="provider2_clerk")
    demo["_expected"] = [claim.number for claim in earlier]
    return draft(demo["provider_clerk"], [person_line("养老护理员")], n=9)


def e2_one_earlier_claim_rejected(demo):
    earlier = earlier_trainings(demo, 3)
    Claim.objects.filter(pk=earlier[1].pk).update(status=ClaimStatus.REJECTED)
    return draft(demo["provider_clerk"], [person_line("养老护理员")], n=9)


def e2_one_earlier_claim_withdrawn(demo):
    earlier = earlier_trainings(demo, 3)
    Claim.objects.filter(pk=earlier[1].pk).update(status=ClaimStatus.WITHDRAWN)
    return draft(demo["provider_clerk"], [person_line("养老护理员")], n=9)


def e2_one_earlier_line_rejected(demo):
    earlier = earlier_trainings(demo, 3)
    earlier[2].lines.update(decision=LineDecision.REJECT, decision_reason="DOCS")
    return draft(demo["provider_clerk"], [person_line("养老护理员")], n=9)


def e2_one_earlier_claim_still_a_draft(demo):
    earlier_trainings(demo, 2)
    draft(demo["provider_clerk"], [person_line("制冷作业")], n=5)
    return draft(demo["provider_clerk"], [person_line("养老护理员")], n=9)


def e2_a_fourth_already_flagged_does_not_count(demo):
    earlier = earlier_trainings(demo, 4)
    assert "E2" in codes(earlier[3])
    demo["_expected"] = [claim.number for claim in earlier[:3]]
    return draft(demo["provider_clerk"], [person_line("养老护理员")], n=9)


def e2_a_fourth_overridden_counts(demo):
    earlier = earlier_trainings(demo, 4)
    FlagOverride.objects.create(line=earlier[3].lines.get(), code="E2", reason="test", overridden_by=demo["hr_reviewer"])
    demo["_expected"] = [claim.number for claim in earlier]
    return draft(demo["provider_clerk"], [person_line("养老护理员")], n=9)


def e2_living_allowance_is_not_a_training(demo):
    ensure_policy("S6", PolicyCategory.LIVING_ALLOWANCE)
    earlier_trainings(demo, 3)
    return draft(
        demo["provider_clerk"], [person_line("养老护理员", policy="S6", hardship_group="low_income_rural")], n=9, policy="S6"
    )


def e3_same_occupation_and_level_years_ago(demo):
    earlier = submitted(demo["provider_clerk"], [person_line("电工", certificate_date=LONG_AGO)], n=0)
    demo["_expected"] = [earlier.number]
    return draft(demo["provider_clerk"], [person_line("电工")], n=9)


def e3_same_occupation_higher_level(demo):
    submitted(demo["provider_clerk"], [person_line("电工", level="junior", certificate_date=LAST_YEAR)], n=0)
    return draft(demo["provider_clerk"], [person_line("电工", level="intermediate")], n=9)


def e3_other_occupation_same_level(demo):
    submitted(demo["provider_clerk"], [person_line("焊工", certificate_date=LAST_YEAR)], n=0)
    return draft(demo["provider_clerk"], [person_line("电工")], n=9)


def e3_other_person(demo):
    submitted(demo["provider_clerk"], [line(OTHERS[0], "李四", occupation="电工", level="senior")], n=0)
    return draft(demo["provider_clerk"], [person_line("电工")], n=9)


def n3_lower_after_higher(demo):
    earlier = submitted(demo["provider_clerk"], [person_line("电工", level="senior", certificate_date=LAST_YEAR)], n=0)
    demo["_expected"] = [earlier.number]
    return draft(demo["provider_clerk"], [person_line("电工", level="intermediate")], n=9)


def n3_lower_level_of_another_occupation(demo):
    submitted(demo["provider_clerk"], [person_line("焊工", level="senior", certificate_date=LAST_YEAR)], n=0)
    return draft(demo["provider_clerk"], [person_line("电工", level="intermediate")], n=9)


def n2_certificate_older_than_12_months(demo):
    return draft(demo["provider_clerk"], [person_line("电工", certificate_date=TODAY - datetime.timedelta(days=400))], n=9)


def n2_certificate_of_last_month(demo):
    return draft(demo["provider_clerk"], [person_line("电工", certificate_date=TODAY - datetime.timedelta(days=30))], n=9)


def n9_overlapping_class(demo):
    other = submitted(demo["provider2_clerk"], [person_line("焊工")], n=9)
    demo["_expected"] = [other.number]
    return draft(demo["provider_clerk"], [person_line("电工")], n=9)


def n9_classes_one_after_the_other(demo):
    submitted(demo["provider2_clerk"], [person_line("焊工")], n=8)
    return draft(demo["provider_clerk"], [person_line("电工")], n=9)


def n9_overlapping_draft(demo):
    draft(demo["provider2_clerk"], [person_line("焊工")], n=9)
    return draft(demo["provider_clerk"], [person_line("电工")], n=9)


def dup_twice_in_one_claim(demo):
    return draft(demo["provider_clerk"], [line(OTHERS[0], "李四"), person_line("电工"), person_line("焊工")], n=9)


def dup_once_in_one_claim(demo):
    return draft(demo["provider_clerk"], [line(OTHERS[0], "李四"), person_line("电工")], n=9)


def hardship_missing(demo):
    ensure_policy("S6", PolicyCategory.LIVING_ALLOWANCE)
    return draft(demo["provider_clerk"], [person_line("养老护理员", policy="S6")], n=9, policy="S6")


def hardship_given(demo):
    ensure_policy("S6", PolicyCategory.LIVING_ALLOWANCE)
    return draft(
        demo["provider_clerk"], [person_line("养老护理员", policy="S6", hardship_group="employment_difficulty")], n=9, policy="S6"
    )


def e9_personal_certificate_after_free_training(demo):
    ensure_policy("S17", PolicyCategory.PERSONAL_CERTIFICATE)
    return draft(
        demo["provider_clerk"],
        [person_line("养老护理员", policy="S17", level="intermediate", free_training=True)],
        n=9,
        policy="S17",
    )


def e9_personal_certificate_after_paid_training(demo):
    ensure_policy("S17", PolicyCategory.PERSONAL_CERTIFICATE)
    return draft(demo["provider_clerk"], [person_line("养老护理员", policy="S17", level="intermediate")], n=9, policy="S17")


def e9_free_training_under_a_provider_standard(demo):
    return draft(demo["provider_clerk"], [person_line("电工", free_training=True)], n=9)


E2_SOURCE = "000 §二(三), 001 §13, 002 §五(十九), 004 §四"
CASES = [
    Case("E2", E2_SOURCE, True, "fourth after three (story 3)", e2_three_this_year, lambda demo, claim: demo["_expected"]),
    Case("E2", E2_SOURCE, False, "third this year", e2_two_this_year),
    Case("E2", E2_SOURCE, False, "calendar year of the certificate", e2_one_last_year),
    Case("E2", E2_SOURCE, True, "counted across providers", e2_across_providers, lambda demo, claim: demo["_expected"]),
    Case("E2", E2_SOURCE, False, "rejected claim does not count", e2_one_earlier_claim_rejected),
    Case("E2", E2_SOURCE, False, "withdrawn claim does not count", e2_one_earlier_claim_withdrawn),
    Case("E2", E2_SOURCE, False, "rejected line does not count", e2_one_earlier_line_rejected),
    Case("E2", E2_SOURCE, False, "draft does not count", e2_one_earlier_claim_still_a_draft),
    Case(
        "E2",
        E2_SOURCE,
        True,
        "line blocked by E2 does not count",
        e2_a_fourth_already_flagged_does_not_count,
        lambda demo, claim: demo["_expected"],
    ),
    Case(
        "E2", E2_SOURCE, True, "overridden E2 line counts", e2_a_fourth_overridden_counts, lambda demo, claim: demo["_expected"]
    ),
    Case("E2", E2_SOURCE, False, "living allowance is not a training", e2_living_allowance_is_not_a_training),
    Case(
        "E3",
        E2_SOURCE,
        True,
        "same occupation and level years ago",
        e3_same_occupation_and_level_years_ago,
        lambda demo, claim: demo["_expected"],
    ),
    Case("E3", E2_SOURCE, False, "same occupation higher level", e3_same_occupation_higher_level),
    Case("E3", E2_SOURCE, False, "other occupation same level", e3_other_occupation_same_level),
    Case("E3", E2_SOURCE, False, "other person", e3_other_person),
    Case(
        "N3",
        "RULES.md §6 N3（浙江）",
        True,
        "intermediate after senior",
        n3_lower_after_higher,
        lambda demo, claim: demo["_expected"],
    ),
    Case("N3", "RULES.md §6 N3（浙江）", False, "lower level of another occupation", n3_lower_level_of_another_occupation),
    Case("N2", "RULES.md §6 N2（浙江、广东）", True, "certificate older than 12 months", n2_certificate_older_than_12_months),
    Case("N2", "RULES.md §6 N2（浙江、广东）", False, "certificate of last month", n2_certificate_of_last_month),
    Case(
        "N9", "RULES.md §6 N9（天津）", True, "two classes at once", n9_overlapping_class, lambda demo, claim: demo["_expected"]
    ),
    Case("N9", "RULES.md §6 N9（天津）", False, "one class after the other", n9_classes_one_after_the_other),
    Case("N9", "RULES.md §6 N9（天津）", False, "overlapping claim still a draft", n9_overlapping_draft),
    Case("DUP", "002 §五(十九), 004 §五(三)", True, "twice in one claim", dup_twice_in_one_claim, line_no=3),
    Case("DUP", "002 §五(十九), 004 §五(三)", False, "once in one claim", dup_once_in_one_claim, line_no=2),
    Case("HARDSHIP", "002 §二(五)", True, "S6 without hardship group", hardship_missing),
    Case("HARDSHIP", "002 §二(五)", False, "S6 employment difficulty", hardship_given),
    Case("E9", "002 §三(十三)", True, "S17 after free training", e9_personal_certificate_after_free_training),
    Case("E9", "002 §三(十三)", False, "S17 after paid training", e9_personal_certificate_after_paid_training),
    Case("E9", "002 §三(十三)", False, "provider standard not under E9", e9_free_training_under_a_provider_standard),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.code}-{'flag' if c.flagged else 'pass'}-{c.story}" for c in CASES])
def test_rule(demo, case: Case):
    claim = case.build(demo)
    line_no = case.line_no
    found = codes(claim, line_no)
    if not case.flagged:
        assert case.code not in found, found
        return
    assert case.code in found, found
    flag = flag_of(claim, case.code, line_no)
    assert flag["source"] == case.source
    assert flag["message"] and flag["message_en"] and flag["message"] != flag["message_en"]
    if case.related is not None:
        expected = case.related(demo, claim)
        assert flag["related"] == expected
        for number in expected:
            assert number in flag["message"] and number in flag["message_en"]


def test_every_flag_has_a_reason_code_to_reject_with():
    """At the HR steps a flagged line is rejected with its flag's code (or the flag overridden)."""
    assert {rule.code for rule in RULES} == ENGINE_CODES
    pricing_codes = {"NO_STANDARD", "LEVEL", "VARIANT"}
    assert ENGINE_CODES | pricing_codes <= set(REASONS)


def test_the_claim_deadline_is_twelve_months_after_the_certificate():
    assert claim_deadline(datetime.date(2025, 3, 15)) == datetime.date(2026, 3, 15)
    assert claim_deadline(datetime.date(2024, 2, 29)) == datetime.date(2025, 2, 28)


def test_n2_is_checked_against_the_submission_date_not_the_review_date(demo):
    """A claim made in time stays in time while it waits for review (RULES.md §6 N2)."""
    old = TODAY - datetime.timedelta(days=400)
    claim = submitted(demo["provider_clerk"], [person_line("电工", certificate_date=old)], n=9)
    assert "N2" in codes(claim)
    # As if it had been submitted 60 days ago, when the certificate was 340 days old (its lines
    # claimed that day: ClaimLine.claimed_on, to which N2 counts).
    then = timezone.now() - datetime.timedelta(days=60)
    Claim.objects.filter(pk=claim.pk).update(submitted_at=then)
    claim.lines.update(claimed_on=timezone.localdate(then))
    claim.refresh_from_db()
    check_claim(claim=claim)
    assert "N2" not in codes(claim)


def test_a_draft_shows_the_flags_it_would_get_and_submission_recomputes_them(demo):
    """The draft was clean; another claim took the last place of the year before it was
    submitted: submission flags it (the quota rule runs again under the lock)."""
    earlier_trainings(demo, 2)
    late = draft(demo["provider_clerk"], [person_line("养老护理员")], n=8)
    assert codes(late) == []
    first = submitted(demo["provider2_clerk"], [person_line("制冷作业")], n=7)
    assert codes(first) == []
    late.refresh_from_db()
    assert codes(late) == []  # drafts are not re-checked behind the clerk's back
    submit_claim(user=demo["provider_clerk"], claim=late)
    late.refresh_from_db()
    assert codes(late) == ["E2"]
    assert first.number in flag_of(late, "E2")["related"]


def test_pricing_flags_are_kept_by_the_rules(demo):
    """LEVEL comes from pricing alone; the rules engine keeps it and adds its own."""
    claim = draft(demo["provider_clerk"], [person_line("电工", level="technician"), person_line("焊工", level="technician")], n=9)
    assert codes(claim, 1) == ["LEVEL"]
    assert codes(claim, 2) == ["LEVEL", "DUP"]
    check_claim(claim=claim)
    assert codes(claim, 2) == ["LEVEL", "DUP"]


# --------------------------------------------------------------------------- story 3


def story3_elder_care_class(demo):
    """One trainee already has three subsidised trainings this year: a forklift course with
    another school, and two earlier ones; then the 民政局 养老护理员 (中级) class."""
    forklift = submitted(demo["provider2_clerk"], [person_line("叉车司机")], n=0)
    electrician = submitted(demo["provider_clerk"], [person_line("电工")], n=1)
    welder = submitted(demo["provider_clerk"], [person_line("焊工")], n=2)
    trainees = [
        line(OTHERS[0], "赵敏", certificate_number="MZ-2026-0600"),
        person_line("养老护理员"),
        line(OTHERS[1], "孙丽", certificate_number="MZ-2026-0601"),
    ]
    for row in trainees:
        row.update(occupation="养老护理员", level="intermediate", certificate_type="skill_level", stated_cost="2800.00")
    elder_care = submitted(demo["provider_clerk"], trainees, n=9, policy="S1", department="WL-MZJ")
    return [forklift, electrician, welder], elder_care


def only_task(user):
    tasks = list(inbox.actionable_tasks(user))
    assert len(tasks) == 1, tasks
    return tasks[0]


def test_story3_hr_rejects_the_over_quota_line_with_e2_and_approves_the_rest(demo):
    earlier, claim = story3_elder_care_class(demo)
    assert codes(claim, 1) == [] and codes(claim, 3) == []
    assert codes(claim, 2) == ["E2"]
    e2 = flag_of(claim, "E2", 2)
    assert e2["related"] == [c.number for c in earlier]
    assert all(c.number in e2["message"] for c in earlier)
    assert f"{THIS_YEAR.year} 年已有 3 次补贴培训" in e2["message"]

    # The 民政局 reviewer passes the flagged line on: HR decides it.
    decide_task(user=demo["dept2_reviewer"], task_id=only_task(demo["dept2_reviewer"]).pk, decision="approve", comment="材料齐全")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_REVIEW

    hr, task = demo["hr_reviewer"], only_task(demo["hr_reviewer"])
    with pytest.raises(InvalidInput) as refused:
        decide_task(user=hr, task_id=task.pk, decision="approve", comment="同意")
    assert "第 2 行（E2）" in refused.value.message and refused.value.fields == {"lines": ["第 2 行（E2）"]}
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_REVIEW

    decide_task(
        user=hr,
        task_id=task.pk,
        decision="approve",
        comment="第2行超过年度次数",
        line_decisions=[LineDecisionInput(line=2, decision="reject", reason="E2")],
    )
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED
    assert [(l.line_no, l.decision, l.decision_reason) for l in claim.lines.order_by("line_no")] == [
        (1, "approve", ""),
        (2, "reject", "E2"),
        (3, "approve", ""),
    ]
    assert claim.total == Decimal("5600.00")  # two lines of S1 ≤3500 at the stated 2800
    assert verify_chain()["ok"] is True


# --------------------------------------------------------------------------- overrides


@pytest.fixture
def at_hr_review(demo):
    """Story 3's claim, passed on by the 民政局 reviewer, waiting for HR."""
    _earlier, claim = story3_elder_care_class(demo)
    decide_task(user=demo["dept2_reviewer"], task_id=only_task(demo["dept2_reviewer"]).pk, decision="approve", comment="材料齐全")
    claim.refresh_from_db()
    return claim


def test_hr_overrides_e2_with_a_reason_and_may_then_approve_the_line(demo, at_hr_review):
    claim, hr = at_hr_review, demo["hr_reviewer"]
    line2 = claim.lines.get(line_no=2)
    override = override_flag(user=hr, line_id=line2.pk, code="E2", reason="第一次培训证书已被撤销，经核实不计入")
    assert (override.line, override.code, override.overridden_by) == (line2, "E2", hr)
    event = AuditEvent.objects.get(action="flag.overridden")
    assert (event.actor_id, event.object_id, event.claim_id, event.reason) == (hr.pk, str(line2.pk), claim.pk, override.reason)
    assert event.detail["line"] == 2 and event.detail["code"] == "E2" and event.detail["reason"] == override.reason

    decide_task(user=hr, task_id=only_task(hr).pk, decision="approve", comment="同意")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED
    assert set(claim.lines.values_list("decision", flat=True)) == {"approve"}
    # The re-check at the decision kept the flag, and the override with it.
    assert codes(claim, 2) == ["E2"] and FlagOverride.objects.filter(line=line2, code="E2").exists()
    assert verify_chain()["ok"] is True


def test_override_needs_a_reason_and_a_flag_the_line_has(demo, at_hr_review):
    claim, hr = at_hr_review, demo["hr_reviewer"]
    line2, line1 = claim.lines.get(line_no=2), claim.lines.get(line_no=1)
    with pytest.raises(InvalidInput) as no_reason:
        override_flag(user=hr, line_id=line2.pk, code="E2", reason="   ")
    assert set(no_reason.value.fields) == {"reason"}
    with pytest.raises(InvalidInput) as no_flag:
        override_flag(user=hr, line_id=line1.pk, code="E2", reason="理由")
    assert set(no_flag.value.fields) == {"code"}
    with pytest.raises(InvalidInput) as hidden:  # the page's form reaches here unparsed: a control character
        override_flag(user=hr, line_id=line2.pk, code="E2", reason="核实\x0b无误")
    assert "U+000B" in hidden.value.fields["reason"][0]
    assert not FlagOverride.objects.exists() and not AuditEvent.objects.filter(action="flag.overridden").exists()
    override_flag(user=hr, line_id=line2.pk, code="E2", reason="理由")
    with pytest.raises(StepAlreadyTaken):
        override_flag(user=hr, line_id=line2.pk, code="E2", reason="再次")


def test_only_hr_at_an_hr_step_may_override(demo):
    _earlier, claim = story3_elder_care_class(demo)
    line2 = claim.lines.get(line_no=2)
    # At the department step not even HR may override; the department reviewer never may.
    for user in (demo["hr_reviewer"], demo["dept2_reviewer"]):
        with pytest.raises(ActionForbidden):
            override_flag(user=user, line_id=line2.pk, code="E2", reason="理由")
    decide_task(user=demo["dept2_reviewer"], task_id=only_task(demo["dept2_reviewer"]).pk, decision="approve", comment="材料齐全")
    for user in (demo["dept2_reviewer"], demo["finance_officer"]):
        with pytest.raises(ActionForbidden):
            override_flag(user=user, line_id=line2.pk, code="E2", reason="理由")
    # The HR head may, at the HR reviewer's step too.
    override_flag(user=demo["hr_head"], line_id=line2.pk, code="E2", reason="负责人核定")
    assert FlagOverride.objects.get().overridden_by == demo["hr_head"]


def test_review_recheck_picks_up_quota_used_meanwhile_by_another_claim(demo):
    """Two trainings this year; claim A takes the third place. Claim B comes later and is
    flagged E2, but HR overrides it and approves: B now uses the quota. When A reaches HR,
    the re-check finds the year full: A's approval is refused and A shows E2 naming B."""
    earlier_trainings(demo, 2)
    a = submitted(demo["provider_clerk"], [person_line("养老护理员")], n=7)
    b = submitted(demo["provider2_clerk"], [person_line("制冷作业")], n=8)
    assert codes(a) == [] and codes(b) == ["E2"]

    hr, dept = demo["hr_reviewer"], demo["dept_reviewer"]
    task_b = inbox.open_task_of_claim(b)
    decide_task(user=dept, task_id=task_b.pk, decision="approve", comment="ok")
    override_flag(user=hr, line_id=b.lines.get().pk, code="E2", reason="补贴计划调整，经局务会同意")
    decide_task(user=hr, task_id=inbox.open_task_of_claim(b).pk, decision="approve", comment="同意")
    b.refresh_from_db()
    assert b.status == ClaimStatus.APPROVED

    decide_task(user=dept, task_id=inbox.open_task_of_claim(a).pk, decision="approve", comment="ok")
    a.refresh_from_db()
    assert codes(a) == ["E2"] and b.number in flag_of(a, "E2")["related"]  # the department step re-checked it

    # Clear the stored flag to show the HR step re-checks by itself, and keeps what it found.
    a.lines.update(flags=[])
    with pytest.raises(InvalidInput):
        decide_task(user=hr, task_id=inbox.open_task_of_claim(a).pk, decision="approve", comment="同意")
    assert codes(a) == ["E2"]
    assert AuditEvent.objects.filter(claim_id=a.pk, action="claim.flags_rechecked").count() == 1
    a.refresh_from_db()
    assert a.status == ClaimStatus.HR_REVIEW


# --------------------------------------------------------------------------- API


def test_api_flags_override_and_languages(demo, at_hr_review):
    claim = at_hr_review
    hr = login("hr_reviewer")
    body = ok(hr.get(f"/api/v1/claims/{claim.pk}/"))
    lines = {line["line_no"]: line for line in body["lines"]}
    assert lines[1]["flags"] == [] and lines[3]["flags"] == []
    (e2,) = lines[2]["flags"]
    assert (e2["code"], e2["source"], e2["overridden"], e2["override_reason"]) == ("E2", E2_SOURCE, False, "")
    assert e2["message"].startswith("该学员")
    english = ok(hr.get(f"/api/v1/claims/{claim.pk}/", HTTP_ACCEPT_LANGUAGE="en"))
    assert english["lines"][1]["flags"][0]["message"].startswith("The trainee already has 3 subsidised trainings")

    url = f"/api/v1/claims/{claim.pk}/lines/2/override/"
    assert error(hr.post(url, {"code": "E2", "reason": ""}, format="json"), 400)["fields"].keys() == {"reason"}
    assert error(hr.post(url, {"code": "N2", "reason": "理由"}, format="json"), 400)["fields"].keys() == {"code"}
    assert error(login("dept2_reviewer").post(url, {"code": "E2", "reason": "理由"}, format="json"), 403)
    assert error(login("provider_clerk").post(url, {"code": "E2", "reason": "理由"}, format="json"), 403)
    assert error(login("provider2_clerk").post(url, {"code": "E2", "reason": "理由"}, format="json"), 404)
    assert error(hr.post(f"/api/v1/claims/{claim.pk}/lines/99/override/", {"code": "E2", "reason": "理由"}, format="json"), 404)
    assert error(hr.post("/api/v1/claims/999999/lines/2/override/", {"code": "E2", "reason": "理由"}, format="json"), 404)
    assert not FlagOverride.objects.exists()

    body = ok(hr.post(url, {"code": "E2", "reason": "经核实不计入"}, format="json"))
    flag = next(line for line in body["lines"] if line["line_no"] == 2)["flags"][0]
    assert (flag["code"], flag["overridden"], flag["override_reason"]) == ("E2", True, "经核实不计入")
    assert error(hr.post(url, {"code": "E2", "reason": "again"}, format="json"), 409)

    task = ok(hr.get("/api/v1/tasks/"))["results"][0]
    decided = ok(hr.post(f"/api/v1/tasks/{task['id']}/decide/", {"decision": "approve", "comment": "同意"}, format="json"))
    assert decided["status"] == "approved"
    history = [event["action"] for event in ok(login("auditor").get(f"/api/v1/claims/{claim.pk}/history/"))["results"]]
    assert "flag.overridden" in history


def test_api_refuses_an_hr_approval_of_a_flagged_line(demo, at_hr_review):
    hr = login("hr_reviewer")
    task = ok(hr.get("/api/v1/tasks/"))["results"][0]
    refused = error(
        hr.post(f"/api/v1/tasks/{task['id']}/decide/", {"decision": "approve", "comment": "同意"}, format="json"), 400
    )
    assert refused["code"] == "active_flags" and refused["fields"] == {"lines": ["第 2 行（E2）"]}
    assert "驳回" in refused["message"] and "豁免" in refused["message"]


# --------------------------------------------------------------------------- pages


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_task_page_shows_flags_and_lets_hr_override_them(demo, at_hr_review):
    claim = at_hr_review
    task = inbox.open_task_of_claim(claim)
    page_url = reverse("approvals:task", args=[task.pk])
    override_url = reverse("approvals:line_override", args=[task.pk, 2])

    hr = client_for(demo["hr_reviewer"])
    page = hr.get(page_url).content.decode()
    # The source by the documents' titles (claims/sources.py), not by the seeds' file numbers.
    assert 'data-code="E2"' in page and "该学员" in page and source_label(E2_SOURCE) in page and E2_SOURCE not in page
    assert override_url in page and 'name="reason"' in page

    # The department reviewer sees the flag, not the override form.
    dept_page = client_for(demo["dept2_reviewer"]).get(page_url).content.decode()
    assert 'data-code="E2"' in dept_page and override_url not in dept_page

    # A reason is required.
    response = hr.post(override_url, {"code": "E2", "reason": ""})
    assert response.status_code == 400 and not FlagOverride.objects.exists()

    response = hr.post(override_url, {"code": "E2", "reason": "经核实不计入"})
    assert response.status_code == 302
    page = hr.get(page_url).content.decode()
    assert "已豁免（" in page and "经核实不计入" in page and override_url not in page

    # In English, the flag's English message.
    hr.post(reverse("set_language"), {"language": "en", "next": page_url})
    page = hr.get(page_url).content.decode()
    assert "The trainee already has 3 subsidised trainings" in page


def test_a_refused_hr_approval_on_the_page_names_the_line(demo, at_hr_review):
    task = inbox.open_task_of_claim(at_hr_review)
    hr = client_for(demo["hr_reviewer"])
    response = hr.post(reverse("approvals:task_decide", args=[task.pk]), {"decision": "approve", "comment": "同意"})
    assert response.status_code == 400
    assert "第 2 行（E2）" in response.content.decode()


def test_department_reviewer_cannot_override_on_the_page(demo, at_hr_review):
    task = inbox.open_task_of_claim(at_hr_review)
    response = client_for(demo["dept2_reviewer"]).post(
        reverse("approvals:line_override", args=[task.pk, 2]), {"code": "E2", "reason": "x"}
    )
    assert response.status_code == 403 and not FlagOverride.objects.exists()
