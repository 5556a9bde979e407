"""Issue 10 (money rules): one certificate is paid once (CERT_DUP).

Reported: through the API, the same person with the same certificate number, the occupation
spelled 低压电工作业 instead of 电工, was not flagged and would have been paid twice; the same
certificate number on another person was not flagged either.

A certificate is its issuer and number (claims/certificates.py; docs/rules.md, CERT_DUP):
compared without regard to case, spaces or full-width forms; a line that does not say who
issued it is matched on number and certificate type. A line whose certificate is already on
another line that counts (submitted, not rejected or withdrawn, not blocked) is flagged,
whoever's line that is, in any claim, or earlier in the same claim. Under PostgreSQL two
claims naming one certificate, submitted at the same moment, are checked one after the
other: the second is flagged."""

import datetime

import pytest

from claims.certificates import CERTIFICATE_LOCK_CLASS, certificate_key, certificate_lock_id
from claims.models import Claim, ClaimLine, ClaimStatus, PolicyCategory
from claims.services import create_claim
from workflow import selectors as inbox
from workflow.services import decide_task, override_flag, submit_claim, withdraw_claim

from .api_support import create_claim as api_create_claim
from .api_support import error, login, ok, submit
from .conftest import claim_data, line, resident_id
from .test_concurrency import Gate, join_all, run_at_once, wait_for_postgres_lock_waiters
from .test_eligibility import ensure_policy

TODAY = datetime.date.today()
ZHANG, LI = resident_id(801), resident_id(802)
CERTIFICATE = "T330000000801"


def period(n: int) -> dict:
    """Training dates of class n: classes do not overlap (no N9 flag)."""
    start = TODAY - datetime.timedelta(days=300 - 25 * n)
    return {"training_start": start.isoformat(), "training_end": (start + datetime.timedelta(days=10)).isoformat()}


def draft(user, lines, *, n: int, policy="S3") -> Claim:
    return create_claim(user=user, data=claim_data(lines=lines, policy=policy, class_name=f"证书班 {n}", **period(n)))


def submitted(user, lines, *, n: int, policy="S3") -> Claim:
    claim = draft(user, lines, n=n, policy=policy)
    submit_claim(user=user, claim=claim)
    claim.refresh_from_db()
    return claim


def codes(claim: Claim, line_no: int = 1) -> list[str]:
    return [flag["code"] for flag in ClaimLine.objects.get(claim=claim, line_no=line_no).flags]


def cert_flag(claim: Claim, line_no: int = 1) -> dict:
    return next(flag for flag in ClaimLine.objects.get(claim=claim, line_no=line_no).flags if flag["code"] == "CERT_DUP")


# --------------------------------------------------------------------------- the report


def test_the_reported_case_the_same_certificate_spelled_as_another_occupation_is_flagged_and_not_paid_twice(demo):
    clerk, hr = login("provider_clerk"), login("hr_reviewer")
    first = api_create_claim(clerk, claim_data(lines=[line(ZHANG, "张三", certificate_number=CERTIFICATE)], **period(1)))
    submit(clerk, first["id"])
    assert ok(clerk.get(f"/api/v1/claims/{first['id']}/"))["lines"][0]["flags"] == []

    # The same person, the same certificate, the occupation written as the certificate says it.
    again = line(ZHANG, "张三", occupation="低压电工作业", certificate_number=CERTIFICATE)
    second = api_create_claim(clerk, claim_data(lines=[again], **period(2)))
    submit(clerk, second["id"])
    (flagged,) = ok(clerk.get(f"/api/v1/claims/{second['id']}/"))["lines"]
    assert (flagged["occupation"], flagged["occupation_code"]) == ("电工", "6-31-01-03")
    by_code = {flag["code"]: flag for flag in flagged["flags"]}
    assert set(by_code) == {"E3", "CERT_DUP"}  # the same occupation and level again, and the same certificate
    assert by_code["CERT_DUP"]["related"] == [first["number"]]
    assert by_code["CERT_DUP"]["message"] == f"证书 {CERTIFICATE} 已申领过补贴（同一证书只补贴一次）：{first['number']}。"
    english = ok(clerk.get(f"/api/v1/claims/{second['id']}/", HTTP_ACCEPT_LANGUAGE="en"))["lines"][0]["flags"]
    assert any(flag["message"].startswith(f"Certificate {CERTIFICATE} was claimed already") for flag in english)

    # The department passes it on; HR cannot approve the line while the flag stands.
    task = inbox.open_task_of_claim(Claim.objects.get(pk=second["id"]))
    decide_task(user=demo["dept_reviewer"], task_id=task.pk, decision="approve", comment="材料齐全")
    task = inbox.open_task_of_claim(Claim.objects.get(pk=second["id"]))
    body = error(hr.post(f"/api/v1/tasks/{task.pk}/decide/", {"decision": "approve", "comment": "同意"}, format="json"), 400)
    assert body["code"] == "active_flags" and "CERT_DUP" in body["fields"]["lines"][0]
    # Rejected with the flag's own reason code.
    rejected = hr.post(
        f"/api/v1/tasks/{task.pk}/decide/",
        {"decision": "reject", "comment": "证书已申领", "reason": "CERT_DUP"},
        format="json",
    )
    assert ok(rejected)["status"] == ClaimStatus.REJECTED


def test_the_same_certificate_number_on_another_person_of_another_provider_is_flagged(demo):
    first = submitted(demo["provider_clerk"], [line(ZHANG, "张三", certificate_number=CERTIFICATE)], n=1)
    other = submitted(demo["provider2_clerk"], [line(LI, "李四", certificate_number=CERTIFICATE)], n=2)
    assert codes(first) == []
    assert codes(other) == ["CERT_DUP"]  # someone else's certificate: not E3, which is per person
    assert cert_flag(other)["related"] == [first.number]
    assert cert_flag(other)["source"] == "002 §五(十九), 004 §五(三)"


def test_numbers_are_compared_without_case_spaces_dashes_or_full_width_forms(demo):
    first = submitted(demo["provider_clerk"], [line(ZHANG, "张三", certificate_number="T-2026-A801")], n=1)
    written_otherwise = "ｔ－２０２６－ａ８０１ "  # full-width, lower case, a trailing space
    assert certificate_key(written_otherwise) == certificate_key("T-2026-A801") == "T2026A801"
    other = submitted(demo["provider_clerk"], [line(LI, "李四", certificate_number=written_otherwise)], n=2)
    assert codes(other) == ["CERT_DUP"] and cert_flag(other)["related"] == [first.number]


def test_two_lines_of_one_claim_with_one_certificate_the_second_is_flagged(demo):
    claim = submitted(
        demo["provider_clerk"],
        [line(ZHANG, "张三", certificate_number=CERTIFICATE), line(LI, "李四", certificate_number=CERTIFICATE)],
        n=1,
    )
    assert codes(claim, 1) == []
    assert codes(claim, 2) == ["CERT_DUP"]
    flag = cert_flag(claim, 2)
    assert "本申领第 1 行" in flag["message"] and "line 1 of this claim" in flag["message_en"]
    assert "related" not in flag  # no other claim


def test_a_draft_shows_the_flag_it_would_get_and_a_rejected_or_withdrawn_claim_frees_the_certificate(demo):
    clerk = demo["provider_clerk"]
    first = submitted(clerk, [line(ZHANG, "张三", certificate_number=CERTIFICATE)], n=1)
    waiting = draft(clerk, [line(LI, "李四", certificate_number=CERTIFICATE)], n=2)
    assert codes(waiting) == ["CERT_DUP"]  # as a draft: the flag it would get if submitted now
    assert codes(first) == []  # a draft's line counts for no one

    # The department rejects the first claim: its certificate no longer counts.
    decide_task(
        user=demo["dept_reviewer"],
        task_id=inbox.open_task_of_claim(first).pk,
        decision="reject",
        comment="虚假培训",
        reason="FRAUD",
    )
    submit_claim(user=clerk, claim=waiting)
    assert codes(waiting) == []

    # A withdrawn claim frees it too: returned for correction, the provider withdraws it, and
    # the other claim's next review step finds the certificate free.
    third = submitted(clerk, [line(resident_id(803), "王五", certificate_number="T330000000803")], n=3)
    fourth = submitted(clerk, [line(resident_id(804), "赵六", certificate_number="T330000000803")], n=4)
    assert codes(fourth) == ["CERT_DUP"]
    decide_task(user=demo["dept_reviewer"], task_id=inbox.open_task_of_claim(third).pk, decision="return", comment="请核对证书")
    withdraw_claim(user=clerk, claim=Claim.objects.get(pk=third.pk), reason="证书录入错误")
    decide_task(user=demo["dept_reviewer"], task_id=inbox.open_task_of_claim(fourth).pk, decision="approve", comment="ok")
    assert codes(fourth) == []


def test_the_issuer_with_the_number_identifies_a_certificate_and_without_one_the_type_does(demo):
    clerk = demo["provider_clerk"]
    zhejiang = submitted(clerk, [line(ZHANG, "张三", certificate_number="0801", certificate_issuer="浙江省应急管理厅")], n=1)
    # Another issuer's certificate that happens to have the same number: another certificate.
    jiangsu = submitted(clerk, [line(LI, "李四", certificate_number="0801", certificate_issuer="江苏省应急管理厅")], n=2)
    assert codes(jiangsu) == []
    # The issuer written with other spacing and width: the same issuer.
    spaced = submitted(
        clerk, [line(resident_id(803), "王五", certificate_number="0801", certificate_issuer="浙江省 应急管理厅 ")], n=3
    )
    assert codes(spaced) == ["CERT_DUP"] and cert_flag(spaced)["related"] == [zhejiang.number]
    # No issuer given: the number and the certificate type decide (both special-operation certificates).
    unknown = submitted(clerk, [line(resident_id(804), "赵六", certificate_number="0801")], n=4)
    assert codes(unknown) == ["CERT_DUP"] and set(cert_flag(unknown)["related"]) == {zhejiang.number, jiangsu.number}
    # …and a certificate of another type with that number is another certificate.
    skill = submitted(
        clerk,
        [line(resident_id(805), "钱七", occupation="养老护理员", certificate_type="skill_level", certificate_number="0801")],
        n=5,
        policy="S1",
    )
    assert "CERT_DUP" not in codes(skill)


def test_one_persons_certificate_is_one_certificate_whatever_issuer_or_type_is_written(demo):
    # A second spelling of the issuer, and another certificate type, on 张三's own number 0901:
    # still the certificate already claimed, not a second one to pay.
    clerk = demo["provider_clerk"]
    first = submitted(clerk, [line(ZHANG, "张三", certificate_number="0901", certificate_issuer="浙江省应急管理厅")], n=1)
    again = submitted(
        clerk,
        [line(ZHANG, "张三", level="junior", certificate_number="0901", certificate_issuer="浙江应急管理厅")],
        n=2,
    )
    assert "CERT_DUP" in codes(again) and cert_flag(again)["related"] == [first.number]
    other_type = submitted(
        clerk,
        [line(ZHANG, "张三", occupation="养老护理员", certificate_type="skill_level", certificate_number="0901")],
        n=3,
        policy="S1",
    )
    assert "CERT_DUP" in codes(other_type)


def test_the_living_allowance_for_the_days_of_a_training_is_not_a_second_payment_of_its_certificate(demo):
    ensure_policy("S6", PolicyCategory.LIVING_ALLOWANCE)
    clerk = demo["provider_clerk"]
    training = submitted(clerk, [line(ZHANG, "张三", certificate_number=CERTIFICATE)], n=1)
    allowance = submitted(
        clerk,
        [line(ZHANG, "张三", certificate_number=CERTIFICATE, hardship_group="low_income_rural", stated_cost=None)],
        n=1,
        policy="S6",
    )
    assert "CERT_DUP" not in codes(allowance)
    assert codes(training) == []


def test_an_hr_override_lets_the_line_through_and_the_certificate_then_counts_for_later_lines(demo):
    clerk, hr, dept = demo["provider_clerk"], demo["hr_reviewer"], demo["dept_reviewer"]
    first = submitted(clerk, [line(ZHANG, "张三", certificate_number=CERTIFICATE)], n=1)
    second = submitted(demo["provider2_clerk"], [line(LI, "李四", certificate_number=CERTIFICATE)], n=2)
    assert codes(second) == ["CERT_DUP"]
    # The first claim's review re-checks it: the flagged second line does not take the certificate from it.
    decide_task(user=dept, task_id=inbox.open_task_of_claim(first).pk, decision="approve", comment="ok")
    assert codes(first) == []
    decide_task(user=dept, task_id=inbox.open_task_of_claim(second).pk, decision="approve", comment="ok")
    assert codes(second) == ["CERT_DUP"]
    override_flag(user=hr, line_id=ClaimLine.objects.get(claim=second).pk, code="CERT_DUP", reason="发证机构更正了编号")
    third = submitted(clerk, [line(resident_id(803), "王五", certificate_number=CERTIFICATE)], n=3)
    assert set(cert_flag(third)["related"]) == {first.number, second.number}


def test_a_renewal_keeps_the_certificate_number_and_is_paid_once_per_renewal(demo):
    """An S3 renewal (复审) keeps the special-operation certificate's number: it is not a second
    payment of the certificate, but the same renewal claimed twice is."""
    clerk = demo["provider_clerk"]
    new = submitted(
        clerk,
        [
            line(
                ZHANG, "张三", certificate_number=CERTIFICATE, certificate_date=(TODAY - datetime.timedelta(days=260)).isoformat()
            )
        ],
        n=1,
    )
    renewal = line(ZHANG, "张三", certificate_number=CERTIFICATE, variant="renewal", stated_cost="80.00")
    renewed = submitted(clerk, [renewal], n=2)
    assert "CERT_DUP" not in codes(renewed) and codes(new) == []
    again = submitted(demo["provider2_clerk"], [renewal], n=3)
    assert "CERT_DUP" in codes(again) and cert_flag(again)["related"] == [renewed.number]


# --------------------------------------------------------------------------- at the same moment


@pytest.mark.postgres
def test_two_claims_with_one_certificate_submitted_at_once_are_checked_one_after_the_other(transactional_db, demo):
    """Two providers, two people, one certificate number, both submitted at the same moment.
    The person locks do not meet (different people); the certificate's lock makes the second
    submission wait for the first, so it sees the first line and is flagged."""
    drafts = [
        draft(demo["provider_clerk"], [line(ZHANG, "张三", certificate_number=CERTIFICATE)], n=1),
        draft(demo["provider2_clerk"], [line(LI, "李四", certificate_number=CERTIFICATE)], n=2),
    ]
    assert [codes(claim) for claim in drafts] == [[], []]  # drafts count for no one
    clerks = [demo["provider_clerk"], demo["provider2_clerk"]]

    def hold_the_certificate():
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [CERTIFICATE_LOCK_CLASS, certificate_lock_id(certificate_key(CERTIFICATE))],
            )

    with Gate(hold_the_certificate) as gate:
        threads, outcomes = run_at_once(
            *[lambda claim=claim, clerk=clerk: submit_claim(user=clerk, claim=claim) for claim, clerk in zip(drafts, clerks)]
        )
        waiting = wait_for_postgres_lock_waiters(2, threads)  # both wait for the certificate
        gate.open()
        join_all(threads)
    assert waiting == 2, outcomes
    assert [error for _result, error in outcomes] == [None, None]
    assert Claim.objects.filter(status=ClaimStatus.DEPARTMENT_REVIEW).count() == 2
    flagged = sorted(codes(claim) for claim in drafts)
    assert flagged == [[], ["CERT_DUP"]]  # one passes, one is flagged: never both clean
    (second,) = [claim for claim in drafts if codes(claim)]
    (first,) = [claim for claim in drafts if claim != second]
    assert cert_flag(second)["related"] == [first.number]
