"""A standard's own maximum holds across claims (issue 10), with the figures of seed 002:

- S13 岗位练兵 (002 §三(十)): 对符合条件的企业给予最高 2 万元. An enterprise is paid at most 20,000
  under the standard's version, however many claims (of however many providers) carry it: the
  line that would go beyond is flagged ENTERPRISE_CAP, saying what is left;
- S7 培训包 (002 §二(六)): 开发十项精品培训包, 每项 5 万元. Each item is funded once, and at most ten
  packages, across every developer's claims (ITEM_DUP, ITEMS);
- these are the policy's own maximum: no HR override lifts them (the line is rejected, or the
  claim returned for a lower cost); checked one claim after the other under a lock."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from claims.errors import InvalidInput
from claims.models import Claim, ClaimLine
from demo.occupations import OCCUPATIONS
from workflow import selectors as inbox
from workflow.services import LineDecisionInput, decide_task, override_flag, submit_claim, take_task

from .conftest import line, resident_id
from .test_eligibility import codes, draft, flag_of, submitted

TODAY = datetime.date.today()
PUMPS = {"enterprise_name": "温岭市某泵业有限公司", "enterprise_credit_code": "91331081MA2K00001E"}
VALVES = {"enterprise_name": "温岭市某阀门有限公司", "enterprise_credit_code": "91331081MA2K00002H"}
OCCUPATION_NAMES = [name for _code, name, _aliases in OCCUPATIONS]


def contest_line(n: int, cost: str) -> dict:
    """One employee's line of an enterprise contest (S13): the enterprise's actual cost."""
    return line(
        resident_id(900 + n),
        f"职工{n}",
        certificate_type="training",
        certificate_number=f"GW-{n}",
        certificate_date=(TODAY - datetime.timedelta(days=1)).isoformat(),
        stated_cost=cost,
    )


def contest(user, *, n: int, costs: list[str], enterprise=PUMPS, submit=True) -> Claim:
    lines = [contest_line(10 * n + i, cost) for i, cost in enumerate(costs)]
    make = submitted if submit else draft
    return make(user, lines, n=n, policy="S13", **enterprise)


def item_line(n: int, occupation: str, variant: str = "") -> dict:
    """A developer's item (S7): what was developed (occupation) and its kind (variant)."""
    return line(
        resident_id(950 + n),
        "李工",
        occupation=occupation,
        variant=variant,
        certificate_number=f"K-{n}",
        certificate_date=(TODAY - datetime.timedelta(days=1)).isoformat(),
    )


def lines_of(claim: Claim) -> list[ClaimLine]:
    return list(claim.lines.order_by("line_no"))


# --------------------------------------------------------------------------- S13: per enterprise


def test_an_enterprise_paid_15000_has_5000_left_whoever_claims_next(demo):
    first = contest(demo["provider_clerk"], n=1, costs=["15000.00"])
    assert codes(first) == []
    # Another provider organised a second contest for the same enterprise: 8,000 of cost.
    second = contest(demo["provider2_clerk"], n=2, costs=["8000.00"])
    flag = flag_of(second, "ENTERPRISE_CAP")
    assert flag["related"] == [first.number]
    assert "最高补贴 20000：该企业已计 15000，尚余 5000，本行 8000 超出" in flag["message"]
    assert "5000 is left" in flag["message_en"]


def test_what_is_left_is_paid_and_nothing_beyond(demo):
    contest(demo["provider_clerk"], n=1, costs=["15000.00"])
    within = contest(demo["provider_clerk"], n=2, costs=["3000.00", "2000.00", "1.00"])
    assert [codes(within, n) for n in (1, 2, 3)] == [[], [], ["ENTERPRISE_CAP"]]


def test_another_enterprise_has_its_own_20000(demo):
    contest(demo["provider_clerk"], n=1, costs=["20000.00"])
    other = contest(demo["provider_clerk"], n=2, costs=["20000.00"], enterprise=VALVES)
    assert codes(other) == []


def test_a_draft_shows_the_flag_and_a_withdrawn_or_rejected_claim_frees_the_grant(demo):
    clerk = demo["provider_clerk"]
    first = contest(clerk, n=1, costs=["20000.00"])
    waiting = contest(clerk, n=2, costs=["5000.00"], submit=False)
    assert codes(waiting) == ["ENTERPRISE_CAP"]  # what it would get if submitted now
    Claim.objects.filter(pk=first.pk).update(status="withdrawn")
    submit_claim(user=clerk, claim=waiting)
    assert codes(waiting) == []


def test_the_cap_is_no_flag_hr_can_override(demo):
    contest(demo["provider_clerk"], n=1, costs=["15000.00"])
    second = contest(demo["provider_clerk"], n=2, costs=["5000.00", "3000.00"])
    decide_task(user=demo["dept_reviewer"], task_id=inbox.open_task_of_claim(second).pk, decision="approve", comment="ok")
    beyond = lines_of(second)[1]
    assert codes(second, 2) == ["ENTERPRISE_CAP"]
    with pytest.raises(InvalidInput) as refused:
        override_flag(user=demo["hr_reviewer"], line_id=beyond.pk, code="ENTERPRISE_CAP", reason="企业申请")
    assert "不能豁免" in refused.value.fields["code"][0]
    assert not beyond.overrides.exists()
    # HR rejects the line with the flag's code: the enterprise is paid what was left, 5,000.
    task = inbox.open_task_of_claim(second)
    take_task(user=demo["hr_reviewer"], task_id=task.pk)
    decide_task(
        user=demo["hr_reviewer"],
        task_id=task.pk,
        decision="approve",
        comment="超过企业上限的行驳回",
        line_decisions=[LineDecisionInput(line=2, decision="reject", reason="ENTERPRISE_CAP")],
    )
    second.refresh_from_db()
    assert second.total == 5000
    assert [line.decision for line in lines_of(second)] == ["approve", "reject"]


def test_the_hr_task_page_says_the_cap_cannot_be_overridden_and_offers_no_form(demo):
    contest(demo["provider_clerk"], n=1, costs=["20000.00"])
    second = contest(demo["provider_clerk"], n=2, costs=["5000.00"])
    decide_task(user=demo["dept_reviewer"], task_id=inbox.open_task_of_claim(second).pk, decision="approve", comment="ok")
    hr = Client()
    hr.force_login(demo["hr_reviewer"])
    page = hr.get(reverse("approvals:task", args=[inbox.open_task_of_claim(second).pk])).content.decode()
    assert 'data-code="ENTERPRISE_CAP"' in page and "尚余 0" in page
    assert "不能豁免" in page and 'name="code" value="ENTERPRISE_CAP"' not in page


# --------------------------------------------------------------------------- S7: per item


def test_an_item_is_funded_once_across_developers(demo):
    first = submitted(demo["provider_clerk"], [item_line(1, "次坞打面")], n=1, policy="S7")
    again = submitted(demo["provider2_clerk"], [item_line(2, "次坞打面"), item_line(3, "养老护理员")], n=2, policy="S7")
    assert codes(again, 1) == ["ITEM_DUP"]
    assert flag_of(again, "ITEM_DUP", 1)["related"] == [first.number]
    assert codes(again, 2) == []
    # The assessment standard (专项职业能力考核规范) of the same occupation is another item.
    standard = submitted(demo["provider_clerk"], [item_line(4, "次坞打面", "assessment_standard")], n=3, policy="S7")
    assert codes(standard) == []


def test_ten_packages_in_all_not_ten_a_claim(demo):
    clerk = demo["provider_clerk"]
    first = submitted(clerk, [item_line(n, OCCUPATION_NAMES[n]) for n in range(6)], n=1, policy="S7")
    second = submitted(clerk, [item_line(n, OCCUPATION_NAMES[n]) for n in range(6, 11)], n=2, policy="S7")
    assert [codes(first, n) for n in range(1, 7)] == [[]] * 6
    # Lines 1–4 of the second claim are packages 7–10; line 5 would be the eleventh.
    assert [codes(second, n) for n in range(1, 6)] == [[], [], [], [], ["ITEMS"]]
    assert flag_of(second, "ITEMS", 5)["related"] == [first.number, second.number]


# --------------------------------------------------------------------------- under concurrent submissions


@pytest.mark.postgres
def test_two_contests_for_one_enterprise_submitted_at_once_share_one_20000(transactional_db, demo):
    """Two claims of 15,000 for one enterprise, submitted at the same moment by two providers,
    wait for the lock on the enterprise's grant and are checked one after the other: one passes,
    the other is flagged with 5,000 left."""
    from claims.advisory_locks import hold_advisory_locks
    from claims.eligibility import LIMIT_LOCK_CLASS

    from .test_concurrency import Gate, join_all, run_at_once, wait_for_postgres_lock_waiters

    users = [demo["provider_clerk"], demo["provider2_clerk"]]
    claims = [contest(user, n=n, costs=["15000.00"], submit=False) for n, user in enumerate(users, start=1)]
    version = claims[0].lines.get().policy_version

    def lock_the_grant():
        hold_advisory_locks(LIMIT_LOCK_CLASS, [f"enterprise:{version.pk}:{PUMPS['enterprise_credit_code']}"])

    with Gate(lock_the_grant) as gate:
        threads, outcomes = run_at_once(
            *[
                lambda claim=claim, user=user: submit_claim(user=user, claim=claim)
                for claim, user in zip(claims, users, strict=True)
            ]
        )
        waiting = wait_for_postgres_lock_waiters(len(claims), threads)
        gate.open()
        join_all(threads)
    assert waiting == len(claims), outcomes
    assert [error for _result, error in outcomes] == [None, None]
    flagged = [claim for claim in claims if codes(claim) == ["ENTERPRISE_CAP"]]
    assert len(flagged) == 1
    assert "尚余 5000，" in flag_of(flagged[0], "ENTERPRISE_CAP")["message"]
