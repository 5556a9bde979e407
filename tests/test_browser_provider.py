"""The provider's journey in a real browser: 钱老师 (provider_clerk) finds the claim the
department returned for missing material at the top of her dashboard, attaches the signed
roster, tells the reviewer in the claim's thread, and resubmits."""

import pytest

from claims.models import Attachment, Claim, Comment
from claims.services import create_claim
from notifications.models import Notification
from workflow.selectors import open_task_of_claim
from workflow.services import decide_task, submit_claim

from .browser_support import SCREENSHOTS, browser_page, playwright_sync, sign_in  # noqa: F401 (a fixture)
from .conftest import claim_data

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.mark.browser
def test_a_provider_answers_a_return_with_a_document_and_a_comment(transactional_db, live_server, demo, browser_page, tmp_path):
    claim = submit_claim(user=demo["provider_clerk"], claim=create_claim(user=demo["provider_clerk"], data=claim_data()))
    decide_task(
        user=demo["dept_reviewer"], task_id=open_task_of_claim(claim).pk, decision="return", comment="材料不全：缺签字花名册"
    )
    page, expect = browser_page, playwright_sync.expect

    sign_in(page, f"{live_server.url}/portal/", "provider_clerk")

    # The dashboard: the returned claim first, with the reason and its deadline.
    expect(page.locator("h1")).to_have_text("机构工作台")
    row = page.locator("#returned-claims tbody tr", has_text=claim.number)
    expect(row).to_contain_text("材料不全：缺签字花名册")
    row.get_by_role("link", name=claim.number).click()

    # The claim page: attach the signed roster (a PDF, whatever the browser says of it).
    expect(page.locator(".notice.returned")).to_contain_text("缺签字花名册")
    roster = tmp_path / "签字花名册.pdf"
    roster.write_bytes(PDF)
    page.select_option("#attachment-kind", "roster")
    page.set_input_files("#attachment-file", str(roster))
    page.get_by_role("button", name="上传材料").click()
    expect(page.locator(".message.success")).to_contain_text("签字花名册.pdf")
    expect(page.locator("#attachments table")).to_contain_text("签字花名册")

    # Tell the reviewer in the thread.
    page.fill("#comment-body", "@dept_reviewer 已补签字花名册，请查收。")
    page.get_by_role("button", name="发表留言").click()
    expect(page.locator(".message.success")).to_contain_text("dept_reviewer")
    expect(page.locator("#thread")).to_contain_text("已补签字花名册")
    expect(page.locator("#thread")).not_to_contain_text("内部备注")  # no internal-note box for a provider
    page.screenshot(path=str(SCREENSHOTS / "browser_provider_claim.png"), full_page=True)

    page.get_by_label("我已核对申领内容，确认提交").check()
    page.get_by_role("button", name="重新提交").click()
    expect(page.locator(".kv .status")).to_have_text("行业部门审核")

    assert Claim.objects.get(pk=claim.pk).status == "department_review"
    assert Attachment.objects.get(claim=claim).kind == "roster"
    assert Comment.objects.get(claim=claim).mentions.get().username == "dept_reviewer"
    assert Notification.objects.filter(recipient=demo["dept_reviewer"], claim=claim).exists()
