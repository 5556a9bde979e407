"""Three journeys in a real browser (issue 15), each as its role works: the provider withdraws a
returned claim it will not correct; the HR head decides a claim of 40 lines over the approval
line from the summary at the top of the page; the auditor finds that claim, reads who did what
and why, exports it and checks the ledger."""

import pytest

from audit.models import AuditEvent
from claims.models import Claim, Jurisdiction
from claims.services import create_claim
from workflow.selectors import open_task_of_claim
from workflow.services import LineDecisionInput, decide_task, submit_claim

from .browser_support import SCREENSHOTS, browser_page, playwright_sync, sign_in  # noqa: F401 (a fixture)
from .conftest import DEMO_PASSWORD, claim_data
from .test_browser_screens import large_claim


@pytest.mark.browser
def test_a_provider_withdraws_a_returned_claim_from_its_dashboard(transactional_db, live_server, demo, browser_page):
    clerk = demo["provider_clerk"]
    claim = submit_claim(user=clerk, claim=create_claim(user=clerk, data=claim_data()))
    decide_task(user=demo["dept_reviewer"], task_id=open_task_of_claim(claim).pk, decision="return", comment="请补充考勤表")
    page, expect = browser_page, playwright_sync.expect

    sign_in(page, f"{live_server.url}/portal/", "provider_clerk")
    row = page.locator("#returned-claims tbody tr", has_text=claim.number)
    expect(row).to_contain_text("请补充考勤表")
    row.get_by_role("link", name="撤回").click()

    # The claim page opens at the withdrawal, which says what it means before it is confirmed.
    withdraw = page.locator("#withdraw")
    withdraw.locator("summary").click()
    expect(withdraw).to_contain_text("撤回不能恢复")
    withdraw.get_by_label("撤回理由").fill("学员已另行申领，本期不再申报")
    withdraw.get_by_role("button", name="确认撤回").click()

    expect(page.locator(".message.success")).to_contain_text(claim.number)
    expect(page.locator(".kv .status")).to_have_text("已撤回")
    expect(page.locator("#withdraw")).to_have_count(0)  # nothing left to withdraw or submit
    page.screenshot(path=str(SCREENSHOTS / "browser_withdrawn_claim.png"), full_page=True)

    claim.refresh_from_db()
    assert claim.status == "withdrawn" and open_task_of_claim(claim) is None
    event = AuditEvent.objects.filter(claim_id=claim.pk, to_state="withdrawn").get()
    assert event.actor_username == "provider_clerk" and event.reason == "学员已另行申领，本期不再申报"


@pytest.mark.browser
def test_the_hr_head_decides_a_claim_of_forty_lines_from_its_summary(transactional_db, live_server, demo, browser_page):
    """温岭市's approval line lowered to 1,000 yuan: a claim of 40 lines, the department having
    rejected the line naming another's certificate, comes to the HR head after the HR reviewer."""
    Jurisdiction.objects.filter(code="WL").update(hr_head_threshold="1000.00")
    claim = large_claim(demo)
    decide_task(
        user=demo["dept_reviewer"],
        task_id=open_task_of_claim(claim).pk,
        decision="approve",
        line_decisions=[LineDecisionInput(line=6, decision="reject", reason="CERT_DUP")],
    )
    decide_task(user=demo["hr_reviewer"], task_id=open_task_of_claim(claim).pk, decision="approve", comment="同意")
    claim.refresh_from_db()
    assert claim.status == "hr_head_approval"
    page, expect = browser_page, playwright_sync.expect

    sign_in(page, f"{live_server.url}/inbox/", "hr_head")
    page.get_by_role("link", name=claim.number).first.click()

    # At the top: why the head decides, the totals claimed and approved, the lines by standard and level.
    expect(page.locator("#hr-head-reason")).to_contain_text("1,000.00")
    expect(page.locator("#hr-head-reason")).to_have_attribute("data-hr-head", "at_head")
    claimed, approved = page.locator("#claimed-total").inner_text(), page.locator("#approved-total").inner_text()
    assert claimed != approved  # one line rejected below the department
    expect(page.locator("#lines-summary tfoot")).to_contain_text("40")
    expect(page.locator("#lines-summary tfoot")).to_contain_text(approved)

    # The decision is one link away, not 40 rows down.
    page.get_by_role("link", name="跳到审核决定").click()
    decision = page.locator("#decision")
    expect(decision).to_be_in_viewport()
    decision.locator('input[name="decision"][value="approve"]').check()
    decision.locator('textarea[name="comment"]').fill("经负责人审批同意")
    page.screenshot(path=str(SCREENSHOTS / "browser_hr_head_large_claim.png"), full_page=False)
    decision.get_by_role("button", name="提交决定").click()

    expect(page.locator(".message.success")).to_contain_text(claim.number)
    claim.refresh_from_db()
    assert claim.status not in ("hr_head_approval", "hr_review")
    event = AuditEvent.objects.get(claim_id=claim.pk, actor_username="hr_head", action="claim.approved_step")
    assert event.reason == "经负责人审批同意" and event.from_state == "hr_head_approval"
    assert approved.replace(",", "") == f"{claim.total:.2f}"  # the page's approved total is what is paid


@pytest.mark.browser
def test_the_auditor_finds_a_claim_reads_its_history_exports_it_and_checks_the_ledger(
    transactional_db, live_server, demo, browser_page
):
    clerk = demo["provider_clerk"]
    claim = submit_claim(user=clerk, claim=create_claim(user=clerk, data=claim_data()))
    decide_task(user=demo["dept_reviewer"], task_id=open_task_of_claim(claim).pk, decision="return", comment="缺考勤表")
    claim.refresh_from_db()
    status_before = claim.status
    page, expect = browser_page, playwright_sync.expect

    sign_in(page, f"{live_server.url}/audit/", "auditor")
    page.get_by_label("申领编号").fill(claim.number)
    page.get_by_role("button", name="筛选").click()
    page.get_by_role("link", name=claim.number).click()

    # Who did what, when and why: the submission, then the department's return with its reason.
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("provider_clerk")
    returned = timeline.locator(".audit-event", has_text="dept_reviewer")
    expect(returned.first).to_contain_text("缺考勤表")
    page.screenshot(path=str(SCREENSHOTS / "browser_auditor_timeline.png"), full_page=True)

    # The search's export, after the password again (an export is a disclosure).
    page.go_back()
    page.go_back()
    page.get_by_label("申领编号").fill(claim.number)
    page.get_by_role("button", name="筛选").click()
    export = page.locator("form", has=page.get_by_role("button", name="导出查询结果（XLSX）"))
    password = export.locator('input[type="password"]')
    if password.count():
        password.fill(DEMO_PASSWORD)
    with page.expect_download() as download:
        export.get_by_role("button", name="导出查询结果（XLSX）").click()
    assert download.value.suggested_filename.endswith(".xlsx")

    page.goto(f"{live_server.url}/audit/verify/")
    expect(page.locator("#verify-result")).to_contain_text("哈希链完整")
    assert "ok" in page.locator("#verify-result").get_attribute("class").split()
    assert AuditEvent.objects.filter(actor_username="auditor", action__startswith="audit.export").exists()
    assert Claim.objects.get(pk=claim.pk).status == status_before  # reading and exporting change nothing
