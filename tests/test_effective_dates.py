"""When the standards of seed 002 apply, and which figures no seed states (issue 10).

002 (诸暨, issued 2020-02-21) "自发文之日起施行，期限至 2021 年 12 月 31 日止" and, in its last
paragraph, "本实施方案施行之前符合专账资金列支范围但尚未结报支付的，按原补贴标准在专账资金中列支":
a certificate from before 2020-02-21 is paid at the former standard, whose amounts the seeds
do not state. So version 1 starts on 2020-02-21; earlier certificates are flagged NO_STANDARD
for HR and never priced at the new (raised) amount. The versions from 2022 and S1 v3 (4000
from 2026) are the demo's own figures: every page, the API and the claim line say so."""

import datetime
import re

from django.test import Client
from django.urls import reverse

from claims.models import PolicyVersion
from claims.services import create_claim

from .api_support import login, ok
from .conftest import claim_data, line, resident_id

ISSUED = datetime.date(2020, 2, 21)
DEMO_BADGE = "演示数据，非政策规定"


def technician_claim(demo, certificate_date: datetime.date):
    """李师傅, a technician (技师) certificate: S18, the high-skill promotion grant paid to the person."""
    row = line(
        resident_id(180),
        "李师傅",
        occupation="电工",
        level="technician",
        certificate_type="skill_level",
        certificate_number=f"J-{certificate_date}",
        certificate_date=certificate_date.isoformat(),
        stated_cost="5000.00",
    )
    # The class ends before the certificate (a certificate follows its training: claims/standard_checks.py).
    start, end = certificate_date - datetime.timedelta(days=40), certificate_date - datetime.timedelta(days=20)
    data = claim_data(lines=[row], policy="S18", training_start=start.isoformat(), training_end=end.isoformat())
    return create_claim(user=demo["provider_clerk"], data=data)


def test_version_one_of_the_002_standards_starts_on_its_date_of_issue(demo):
    firsts = PolicyVersion.objects.filter(version=1, policy__jurisdiction__code="WL")
    assert firsts.count() == 18
    assert {(version.valid_from, version.valid_to) for version in firsts} == {(ISSUED, datetime.date(2021, 12, 31))}
    # The catalogue says what happens before: the former standard, amounts not stated in the seeds.
    for version in firsts:
        assert "2020-02-21" in version.notes and "原标准金额种子文件未载明" in version.notes


def test_a_2019_technician_certificate_is_not_priced_at_the_raised_s18_amount(demo):
    # 002 §三(十三): 技师 raised from ≤ 2500 to ≤ 4500 "行动期间". A 2019 certificate predates the plan.
    claim = technician_claim(demo, datetime.date(2019, 6, 1))
    priced = claim.lines.get()
    assert priced.amount == 0
    assert priced.policy_version is None
    (flag,) = [flag for flag in priced.flags if flag["code"] == "NO_STANDARD"]
    assert flag["message"] == (
        "2019年6月1日 早于 S18 的生效日期 2020年2月21日：按原补贴标准处理，原标准金额未载入目录（种子文件未载明），请人社局审核。"
    )
    assert flag["message_en"].isascii() and "former standard" in flag["message_en"]


def test_the_day_002_was_issued_a_technician_gets_the_raised_amount(demo):
    priced = technician_claim(demo, ISSUED).lines.get()
    assert (priced.amount, str(priced.policy_version)) == (4500, "S18 v1")
    assert [flag["code"] for flag in priced.flags] == ["N2"]  # long past the 12 months; priced all the same
    before = technician_claim(demo, ISSUED - datetime.timedelta(days=1)).lines.get()
    assert "NO_STANDARD" in [flag["code"] for flag in before.flags]


def test_the_api_says_which_versions_are_demo_figures(demo):
    policies = {p["code"]: p for p in ok(login("provider_clerk").get("/api/v1/policies/?page_size=100"))["results"]}
    s1 = {version["version"]: version for version in policies["S1"]["versions"]}
    assert (s1[1]["demo_only"], s1[2]["demo_only"], s1[3]["demo_only"]) == (False, True, True)
    assert s1[3]["amount_by_level"]["senior"] == "4000.00"
    # S16 ended with 2021 and has no demo version.
    assert [version["demo_only"] for version in policies["S16"]["versions"]] == [False]


def test_a_line_priced_by_a_demo_version_says_so(demo):
    claim = ok(login("provider_clerk").post("/api/v1/claims/", claim_data(), format="json"), 201)
    first = claim["lines"][0]
    assert (first["rule_version"], first["rule_version_demo_only"]) == ("S3 v2", True)
    page = Client()
    page.force_login(demo["provider_clerk"])
    html = page.get(reverse("approvals:claim", args=[claim["id"]])).content.decode()
    assert re.search(r"S3 v2</span>\s*<span class=\"badge warn demo-only\"", html)
    assert DEMO_BADGE in html


def test_the_catalogue_pages_mark_every_demo_version(demo):
    client = Client()
    client.force_login(demo["dept_reviewer"])
    listing = client.get(reverse("claims:catalogue")).content.decode()
    # Each demo version (v2 of 17 standards, S1 v3) and the current summary of each with one.
    assert listing.count(DEMO_BADGE) >= 18
    detail = client.get(reverse("claims:catalogue_policy", args=["WL", "S1"])).content.decode()
    rows = {number: re.search(rf'<tr id="version-{number}".*?</tr>', detail, re.S).group(0) for number in (1, 2, 3)}
    assert DEMO_BADGE not in rows[1]
    assert DEMO_BADGE in rows[2] and DEMO_BADGE in rows[3]


def test_the_auditor_timeline_and_export_mark_a_demo_version(demo):
    import io

    from openpyxl import load_workbook

    from workflow.services import submit_claim

    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    auditor = Client()
    auditor.force_login(demo["auditor"])
    timeline = auditor.get(reverse("audit:timeline", args=[claim.pk])).content.decode()
    current = timeline.split("定价规则版本")[1].split("</p>")[0]
    assert "S3 v2" in current and DEMO_BADGE in current
    response = auditor.post("/audit/export/xlsx/", {"query": ""})
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    (row,) = [row for row in rows if row[0] == claim.number]
    assert row[-1] == f"S3 v2（{DEMO_BADGE}）"


def test_seeding_again_marks_a_demo_version_a_claim_already_used(demo):
    """A database seeded before the mark: S3 v2 priced a line and is not marked. Seeding again
    marks it (the amounts stay as they are), and the ledger says so."""
    from audit.models import AuditEvent
    from claims.catalogue import VERSION_UPDATED

    from .test_catalogue import seed

    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    version = claim.lines.first().policy_version
    assert str(version) == "S3 v2"
    PolicyVersion.objects.filter(pk=version.pk).update(demo_only=False)
    seed()
    version.refresh_from_db()
    assert version.demo_only
    event = AuditEvent.objects.filter(action=VERSION_UPDATED, object_id=str(version.pk)).latest("seq")
    assert event.detail["changed"] == ["demo_only"]
    assert (event.detail["before"]["demo_only"], event.detail["after"]["demo_only"]) == (False, True)
