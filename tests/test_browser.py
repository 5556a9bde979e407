"""Stories in a real browser (Debian's chromium through Playwright): the department reviewer
logs in, opens the task from the inbox and approves it; a member of the public objects to a line
on public notice."""

import pytest

from claims.models import Claim, Jurisdiction
from claims.services import create_claim
from workflow.models import Objection
from workflow.selectors import open_task_of_claim
from workflow.services import submit_claim

from .browser_support import SCREENSHOTS, browser_page, playwright_sync  # noqa: F401 (a fixture)
from .conftest import DEMO_PASSWORD, TODAY, claim_data
from .test_public_notice import on_notice


@pytest.mark.browser
def test_department_reviewer_approves_in_the_browser(transactional_db, live_server, demo, browser_page):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    task = open_task_of_claim(claim)
    page = browser_page
    expect = playwright_sync.expect

    # Not logged in: the inbox sends the reviewer to the login page.
    page.goto(f"{live_server.url}/inbox/")
    expect(page.locator("h1")).to_have_text("登录")
    page.fill("#id_username", "dept_reviewer")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit].primary")

    # The inbox lists the claim under "my tasks"; open it.
    expect(page.locator("h1")).to_contain_text("收件箱")
    row = page.locator(f'#my-tasks tr[data-task="{task.pk}"]')
    expect(row).to_contain_text(claim.number)
    expect(row).to_contain_text("行业部门审核")
    row.get_by_role("link", name=claim.number).click()

    # The task page: header, lines (masked IDs), the decision form.
    expect(page.locator("h1")).to_contain_text(claim.number)
    expect(page.locator("#claim-lines tbody tr")).to_have_count(2)
    expect(page.locator("#claim-lines")).to_contain_text("********")
    page.check('input[name="decision"][value="approve"]')
    page.fill('textarea[name="comment"]', "材料齐全，同意")
    page.screenshot(path=str(SCREENSHOTS / "browser_task_page.png"), full_page=True)
    page.get_by_role("button", name="提交决定").click()

    # Back in the inbox with a confirmation; the claim moved on to HR review.
    expect(page).to_have_url(f"{live_server.url}/inbox/")
    expect(page.locator(".message.success")).to_contain_text(claim.number)
    expect(page.locator(".message.success")).to_contain_text("人社局审核")
    expect(page.locator(f'#my-tasks tr[data-task="{task.pk}"]')).to_have_count(0)
    assert Claim.objects.get(pk=claim.pk).status == "hr_review"

    page.goto(f"{live_server.url}/claims/{claim.pk}/")
    expect(page.locator(".kv .status")).to_have_text("人社局审核")
    expect(page.locator("#claim-history")).to_contain_text("材料齐全，同意")
    page.screenshot(path=str(SCREENSHOTS / "browser_claim_page.png"), full_page=True)


@pytest.mark.browser
def test_a_member_of_the_public_finds_a_line_on_notice_and_objects_in_the_browser(
    transactional_db, live_server, demo, browser_page
):
    """公示 (issue 13): no sign-in, the list filtered by occupation, the masked line, the objection and its receipt."""
    Jurisdiction.objects.filter(code="WL").update(public_notice_from=TODAY)
    claim = on_notice(demo)
    expect = playwright_sync.expect
    page = browser_page
    page.goto(f"{live_server.url}/public/notice/")  # nobody signed in
    page.select_option("select[name=occupation]", "电工")
    page.click("form.filters button[type=submit]")
    row = page.locator("#notice tr[data-line]").filter(has_text="张*丰")
    expect(row).to_contain_text("331081")
    row.get_by_role("link").click()
    page.fill("input[name=contact]", "13800000000")
    page.fill("textarea[name=reason]", "该学员当期未参加培训。")
    page.click("#objection button[type=submit]")
    expect(page.locator("#receipt")).to_contain_text("待处理")
    assert Objection.objects.get(claim=claim).line.line_no == 1
