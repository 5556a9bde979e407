"""Limits across all of a person's claims (issue 10), with the figures of seed 002:

- S10 职工学徒 (≤ 2 years), S11 学生学徒 (≤ 1 year), S12 定向培养毕业生 (≤ 2 years) and S15 首席技师
  (1000 a month, ≤ 3 years = 36 months) hold across every counting claim of the person: the
  line that would go beyond is flagged PERIODS, naming the claims that used the periods;
- a continuation of the standard's own (S3 复审 renewal, the second year of S10, the second
  period of S15) is not a repeat of the same occupation and level (E3);
- only training subsidies count towards three subsidised trainings a year (E2): allowances
  and enterprise subsidies (S6, S7, S10–S15) do not;
- a line whose payment was recovered in full is not a subsidy the person enjoyed: it counts
  for neither E2 nor E3; recovered for fraud, the person's later lines are flagged FRAUD for
  HR (docs/rules.md, "what counts and why")."""

import datetime

import pytest

from claims.eligibility import check_claim
from claims.models import TRAINING_SUBSIDY_CATEGORIES, Claim, ClaimLine, PaymentStatus, PolicyCategory
from claims.reasons import REASONS
from payments.services.recoveries import open_recovery, record_recovery_receipt

from .conftest import line, resident_id
from .payments_support import approved_claim
from .test_eligibility import LAST_YEAR, PERSON, THIS_YEAR, codes, draft, flag_of, person_line, submitted
from .test_payment_results import csv_file, released_batch, result_rows

TODAY = datetime.date.today()
# S10–S14 pay the enterprise the claim names (002 §三(九)–(十三)).
ENTERPRISE = {"enterprise_name": "温岭市某泵业有限公司", "enterprise_credit_code": "91331081MA2K00001E"}


def enterprise_line(*, periods: int, cost: str, certificate_date=THIS_YEAR, occupation="数控车工", **extra) -> dict:
    """王芳's line of a per-year or per-month standard (S10–S12, S15): any certificate type."""
    return line(
        PERSON,
        "王芳",
        occupation=occupation,
        level="senior",
        certificate_type="training",
        certificate_number=f"E-{occupation}-{periods}-{cost}",
        certificate_date=certificate_date.isoformat(),
        periods=periods,
        stated_cost=cost,
        **extra,
    )


def s10(demo, *, n: int, periods: int = 1, cost: str = "6000.00", certificate_date=THIS_YEAR) -> Claim:
    row = enterprise_line(periods=periods, cost=cost, certificate_date=certificate_date)
    return submitted(demo["provider_clerk"], [row], n=n, policy="S10", **ENTERPRISE)


def s15(demo, *, n: int, months: int) -> Claim:
    # A filed chief technician (S15's condition, checked by claims/standard_checks.py).
    return submitted(
        demo["provider_clerk"], [enterprise_line(periods=months, cost=None, chief_technician_filed=True)], n=n, policy="S15"
    )


# --------------------------------------------------------------------------- 1. period limits across claims


def test_a_worker_apprentice_is_subsidised_two_years_however_many_claims_carry_them(demo):
    # 002 §三(九): 职工学徒 … 补助不超过2年. Year one (last year) and year two come in separate claims.
    first_year = s10(demo, n=1, certificate_date=LAST_YEAR)
    second_year = s10(demo, n=2)
    assert codes(first_year) == []
    # The second year is the standard's own continuation: no E3 (same occupation, same level), no PERIODS.
    assert codes(second_year) == []
    assert first_year.lines.get().amount == second_year.lines.get().amount == 6000

    third_year = s10(demo, n=3)
    assert codes(third_year) == ["PERIODS"]
    flag = flag_of(third_year, "PERIODS")
    assert flag["related"] == [first_year.number, second_year.number]
    assert flag["message"] == (
        f"该学员本标准已申领 2年，本行再申领 1年，超过最长 2年。已申领：{first_year.number}、{second_year.number}"
    )
    assert flag["message_en"] == (
        "The trainee already has 2 year(s) of this standard; 1 year(s) more exceeds the limit of 2 year(s). "
        f"Already claimed: {first_year.number}, {second_year.number}"
    )
    assert flag["source"] == "002 §三(九)、§三(十一)"
    assert "PERIODS" in REASONS


def test_the_per_year_amount_is_paid_once_for_a_year_across_claims(demo):
    # 002 §三(九): 每人每年 … 不高于6000元. Two claims for the same year: the second is flagged.
    this_year = s10(demo, n=1, cost="4000.00")
    same_year = s10(demo, n=2, cost="2000.00")
    assert codes(this_year) == []
    assert codes(same_year) == ["PERIODS"]
    assert (
        flag_of(same_year, "PERIODS")["message"]
        == f"本标准按年补贴，该学员 {THIS_YEAR.year} 年已补贴。已申领：{this_year.number}"
    )


def test_two_years_in_one_line_then_one_more_is_flagged(demo):
    both_years = s10(demo, n=1, periods=2, cost="12000.00")
    assert codes(both_years) == []
    again = s10(demo, n=2)
    assert codes(again) == ["PERIODS"]
    assert flag_of(again, "PERIODS")["related"] == [both_years.number]


def test_a_chief_technician_allowance_stops_at_36_months_across_claims(demo):
    # 002 §三(十一): 首席技师 … 每人每月1000元 … 最多补助3年.
    first = s15(demo, n=1, months=24)
    second = s15(demo, n=2, months=12)
    assert codes(first) == codes(second) == []  # the second period continues the first: no E3
    assert second.lines.get().amount == 12000
    one_more = s15(demo, n=3, months=1)
    assert codes(one_more) == ["PERIODS"]
    assert flag_of(one_more, "PERIODS")["related"] == [first.number, second.number]


def test_a_single_line_beyond_the_limit_is_flagged_without_related_claims(demo):
    claim = s15(demo, n=1, months=40)
    assert codes(claim) == ["PERIODS"]
    assert "related" not in flag_of(claim, "PERIODS")


def test_a_flagged_period_line_does_not_use_up_the_periods(demo):
    """What counts is the one definition of claims/eligibility.py: a line blocked by its own
    PERIODS flag uses none of the person's periods."""
    first, second = s15(demo, n=1, months=24), s15(demo, n=2, months=12)
    third = s15(demo, n=3, months=1)
    assert codes(third) == ["PERIODS"]
    # A fourth claim names only the 36 months that were subsidised, not the flagged third.
    fourth = s15(demo, n=4, months=1)
    assert flag_of(fourth, "PERIODS")["related"] == [first.number, second.number]


def test_the_drafted_line_already_shows_the_limit(demo):
    s10(demo, n=1, periods=2, cost="12000.00")
    claim = draft(demo["provider_clerk"], [enterprise_line(periods=1, cost="6000.00")], n=2, policy="S10", **ENTERPRISE)
    assert codes(claim) == ["PERIODS"]


# --------------------------------------------------------------------------- 2. E3 and continuations


def test_a_safety_certificate_renewal_is_not_a_repeat_of_the_new_certificate(demo):
    # 002 §二(二): 新取证 ≤ 500, 复审 ≤ 100. The renewal continues the earlier certificate.
    new = submitted(demo["provider_clerk"], [person_line("电工", certificate_date=TODAY - datetime.timedelta(days=200))], n=1)
    renewal = submitted(demo["provider_clerk"], [person_line("电工", variant="renewal", stated_cost="100.00")], n=2)
    assert codes(new) == []
    assert codes(renewal) == []
    assert renewal.lines.get().amount == 100
    # A second new certificate for the same occupation and level is still a repeat (E3).
    again = submitted(demo["provider_clerk"], [person_line("电工", certificate_date=TODAY - datetime.timedelta(days=10))], n=3)
    assert "E3" in codes(again)
    assert new.number in flag_of(again, "E3")["related"]


# --------------------------------------------------------------------------- 3. what E2 counts


def test_allowances_and_enterprise_subsidies_are_not_subsidised_trainings(demo):
    # E2 counts training subsidies only: categories are catalogue data, one definition.
    assert PolicyCategory.APPRENTICESHIP not in TRAINING_SUBSIDY_CATEGORIES
    assert PolicyCategory.CHIEF_TECHNICIAN not in TRAINING_SUBSIDY_CATEGORIES
    assert PolicyCategory.LIVING_ALLOWANCE not in TRAINING_SUBSIDY_CATEGORIES
    assert PolicyCategory.SAFETY in TRAINING_SUBSIDY_CATEGORIES
    apprentice = s10(demo, n=1)
    chief = s15(demo, n=2, months=12)
    trainings = [
        submitted(demo["provider_clerk"], [person_line(occupation)], n=3 + i) for i, occupation in enumerate(["电工", "焊工"])
    ]
    # Two S3 trainings, an S10 year and 12 S15 months this year: the third training is the third.
    third = submitted(demo["provider_clerk"], [person_line("叉车司机")], n=5)
    assert codes(third) == []
    fourth = submitted(demo["provider_clerk"], [person_line("高处作业")], n=6)
    assert codes(fourth) == ["E2"]
    assert flag_of(fourth, "E2")["related"] == [trainings[0].number, trainings[1].number, third.number]
    assert apprentice.number not in flag_of(fourth, "E2")["related"]
    assert chief.number not in flag_of(fourth, "E2")["related"]


# --------------------------------------------------------------------------- 4. recovered in full


def recover_in_full(demo, line: ClaimLine, reason_code: str) -> None:
    order = open_recovery(
        actor=demo["hr_reviewer"],
        line=line,
        amount_due=line.amount,
        payer_kind="provider",
        payer_name="温岭市某职业技能培训学校",
        reason_code=reason_code,
        reason="虚假培训，套取补贴（002 §五(十九)）",
    )
    record_recovery_receipt(actor=demo["finance_officer"], order=order, amount=line.amount, received_on=TODAY, reference="缴-1")
    line.refresh_from_db()
    assert line.payment_status == PaymentStatus.RECOVERED


def test_a_training_recovered_in_full_for_fraud_no_longer_counts(
    demo, django_capture_on_commit_callbacks, celery_eager, apply_result
):
    paid = approved_claim(demo, serials=(1,))
    batch = released_batch(demo, django_capture_on_commit_callbacks)
    apply_result(
        actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=csv_file(result_rows(batch, {1: "成功"}))
    )
    paid_line = paid.lines.get()
    # The same person, the same occupation (电工) and level (高级工) again: a repeat while the subsidy stands.
    again = draft(
        demo["provider_clerk"],
        [line(resident_id(1), "学员1", certificate_number="T-again", occupation=paid_line.occupation, level=paid_line.level)],
        n=9,
    )
    assert codes(again) == ["E3"]

    recover_in_full(demo, paid_line, "fraud")
    check_claim(claim=again)
    # No longer a repeat; but HR is told of the fraud (FRAUD, naming the claim), and decides.
    assert codes(again) == ["FRAUD"]
    assert flag_of(again, "FRAUD")["related"] == [paid.number]
    assert flag_of(again, "FRAUD")["source"] == "002 §五(十九), RULES.md M5"
    assert "RECOVERED_FRAUD" in [flag["code"] for flag in ClaimLine.objects.get(pk=paid_line.pk).flags]


def test_a_training_recovered_in_full_for_another_reason_no_longer_counts_and_flags_nothing(
    demo, django_capture_on_commit_callbacks, celery_eager, apply_result
):
    paid = approved_claim(demo, serials=(1,))
    batch = released_batch(demo, django_capture_on_commit_callbacks)
    apply_result(
        actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=csv_file(result_rows(batch, {1: "成功"}))
    )
    recover_in_full(demo, paid.lines.get(), "revoked")
    again = draft(demo["provider_clerk"], [line(resident_id(1), "学员1", certificate_number="T-again")], n=9)
    assert codes(again) == []


@pytest.mark.parametrize("status", [PaymentStatus.PAID, PaymentStatus.RESERVED])
def test_a_paid_or_reserved_training_still_counts(demo, status):
    claim = approved_claim(demo, serials=(1,))
    ClaimLine.objects.filter(claim=claim).update(payment_status=status)
    again = draft(demo["provider_clerk"], [line(resident_id(1), "学员1", certificate_number="T-again")], n=9)
    assert codes(again) == ["E3"]


# --------------------------------------------------------------------------- under concurrent submissions


@pytest.mark.postgres
def test_five_concurrent_chief_technician_years_for_one_person_leave_three_subsidised(transactional_db, demo):
    """The period rule counts under the same person lock as E2 (claims/eligibility.py
    lock_trainees): five S15 claims of 12 months each submitted at the same moment are counted
    one after the other: three pass (36 months) and two are flagged, each naming those three."""
    from claims.models import Trainee
    from claims.personal_data import id_number_digest
    from workflow.services import submit_claim

    from .test_concurrency import Gate, join_all, run_at_once, wait_for_postgres_lock_waiters

    clerk = demo["provider_clerk"]
    drafts = [
        draft(clerk, [enterprise_line(periods=12, cost=None, chief_technician_filed=True)], n=n, policy="S15")
        for n in range(1, 6)
    ]
    person = Trainee.objects.get(id_number_digest=id_number_digest(PERSON))

    def lock_person():
        list(Trainee.objects.select_for_update().filter(pk=person.pk))

    with Gate(lock_person) as gate:
        threads, outcomes = run_at_once(*[lambda claim=claim: submit_claim(user=clerk, claim=claim) for claim in drafts])
        waiting = wait_for_postgres_lock_waiters(len(drafts), threads)
        gate.open()
        join_all(threads)
    assert waiting == len(drafts), outcomes
    assert [error for _result, error in outcomes] == [None] * len(drafts)

    lines = list(ClaimLine.objects.filter(trainee=person).select_related("claim"))
    passed = [line for line in lines if not line.flags]
    flagged = [line for line in lines if line.flags]
    assert len(passed) == 3, [(line.claim.number, line.flags) for line in lines]
    for flagged_line in flagged:
        (periods,) = [flag for flag in flagged_line.flags if flag["code"] == "PERIODS"]
        assert sorted(periods["related"]) == sorted(line.claim.number for line in passed)
