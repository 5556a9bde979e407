"""The department reviewer's morning in a real browser (STORIES 5; Debian's chromium through
Playwright): she finds a trainee's claim by the ID number (which no address shows), filters her
queue to the clean claims, ticks them, reads the confirmation (each claim, its amount, the total)
and approves them with one click; the flagged claim stays in her queue."""

import pytest

from claims.personal_data import id_number_digest
from claims.services import create_claim
from workflow.services import submit_claim

from .browser_support import SCREENSHOTS, browser_page, playwright_sync, select_that_submits, sign_in  # noqa: F401 (a fixture)
from .conftest import claim_data, line, resident_id
from .test_browser_screens import DESK, PHONE, SIDEWAYS, axe_violations


def submitted(demo, serial: int, *, flagged: bool = False):
    clerk = demo["provider_clerk"]
    if flagged:  # one certificate on two lines: CERT_DUP on the second
        lines = [
            line(resident_id(700 + serial), "王芳", certificate_number="F-1"),
            line(resident_id(800), "李娜", certificate_number="F-1"),
        ]
    else:
        lines = [line(resident_id(700 + serial), f"学员{serial}", certificate_number=f"K-{serial}")]
    claim = create_claim(user=clerk, data=claim_data(lines=lines, class_name=f"低压电工作业 第{serial}期"))
    submit_claim(user=clerk, claim=claim)
    claim.refresh_from_db()
    return claim


@pytest.mark.browser
def test_the_reviewer_searches_and_bulk_approves_in_the_browser(transactional_db, live_server, demo, browser_page):
    expect = playwright_sync.expect
    clean = [submitted(demo, n) for n in (1, 2, 3)]
    flagged = submitted(demo, 4, flagged=True)
    page = browser_page
    sign_in(page, f"{live_server.url}/inbox/", "dept_reviewer", by_keyboard=True)
    expect(page.locator("h1")).to_contain_text("收件箱")
    expect(page.locator("#my-tasks tbody tr")).to_have_count(4)
    expect(page.locator("#my-tasks")).to_contain_text("低压电工作业 第2期")  # the class name in the rows

    # The ID number typed in the search box: found by its digest, the address never shows it.
    id_number = resident_id(702)
    page.fill('input[name="q"]', id_number)
    page.press('input[name="q"]', "Enter")
    expect(page.locator("#my-tasks tbody tr")).to_have_count(1)
    expect(page.locator("#my-tasks")).to_contain_text(clean[1].number)
    assert id_number not in page.url and f"trainee={id_number_digest(id_number)}" in page.url
    page.get_by_role("link", name="清除筛选").click()
    expect(page.locator("#my-tasks tbody tr")).to_have_count(4)

    # Clean claims only (the select submits itself), all ticked, one confirmation.
    select_that_submits(page, 'select[name="flags"]', "clean")
    expect(page).to_have_url(f"{live_server.url}/inbox/?flags=clean")
    expect(page.locator("#my-tasks tbody tr")).to_have_count(3)
    expect(page.locator('a[data-tab="mine"] .count')).to_have_text("3")
    for checkbox in page.locator('input[name="tasks"]').all():
        checkbox.check()
    page.screenshot(path=str(SCREENSHOTS / "browser_inbox_bulk.png"), full_page=True)
    page.locator("#bulk-approve").click()

    expect(page.locator("h1")).to_contain_text("确认批量同意")
    expect(page.locator("#bulk-list tbody tr")).to_have_count(3)
    expect(page.locator("#bulk-total")).to_have_text("1,350.00")
    page.screenshot(path=str(SCREENSHOTS / "browser_inbox_bulk_confirm.png"), full_page=True)
    # The answer to a POST, so not in the sweep of test_browser_screens: axe and a phone's width here.
    assert axe_violations(page) == []
    page.set_viewport_size(PHONE)
    # The table now scrolls in its box, which takes the keyboard's focus (scroll_regions.js, 100 ms after a resize).
    page.wait_for_function("() => document.querySelector('#bulk-list').closest('.table-scroll').tabIndex === 0")
    fit = page.evaluate(SIDEWAYS)
    assert fit["scrollWidth"] <= fit["clientWidth"], fit
    assert axe_violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / "browser_inbox_bulk_confirm-390.png"), full_page=True)
    page.set_viewport_size(DESK)
    page.locator("#bulk-confirm").click()

    expect(page).to_have_url(f"{live_server.url}/inbox/")
    expect(page.locator(".message.success")).to_contain_text("已批量同意 3 件")
    for claim in clean:
        expect(page.locator(".message.success")).to_contain_text(claim.number)
    expect(page.locator("#my-tasks tbody tr")).to_have_count(1)
    expect(page.locator("#my-tasks")).to_contain_text(flagged.number)
