"""Class filing (开班备案) and the bell, in a real browser (Debian's chromium through Playwright).

温岭市某职业技能培训学校's clerk (provider_clerk) files her 低压电工作业 class three weeks ahead with
its roster file, and 市应急管理局's reviewer (dept_reviewer) opens the filing and accepts it. Two
claims reach the reviewer: the bell counts them unread; marking one read, then all, lowers it."""

import datetime
import io

import pytest
from openpyxl import Workbook

from claims.models import TrainingClass
from notifications.models import Notification

from .browser_support import SCREENSHOTS, browser_page, playwright_sync, sign_in  # noqa: F401 (a fixture)
from .conftest import resident_id


def roster(tmp_path, *serials):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["身份证号码 id_number", "姓名 name"])
    for serial in serials:
        sheet.append([resident_id(serial), f"学员{serial}"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    path = tmp_path / "学员名单.xlsx"
    path.write_bytes(buffer.getvalue())
    return path


def log_in(page, url: str, username: str) -> None:
    page.context.clear_cookies()  # whoever was signed in before
    sign_in(page, f"{url}/classes/", username)


@pytest.mark.browser
def test_a_provider_files_a_class_and_the_department_accepts_it_in_the_browser(
    transactional_db, live_server, demo, browser_page, tmp_path
):
    page, expect = browser_page, playwright_sync.expect
    start = datetime.date.today() + datetime.timedelta(days=21)

    log_in(page, live_server.url, "provider_clerk")
    expect(page.locator("h1")).to_contain_text("开班备案")
    page.goto(f"{live_server.url}/classes/new/")
    page.select_option("#id_department", "WL-YJJ")
    page.select_option("#id_policy", "S3")
    page.fill("#id_occupation", "电工")
    page.select_option("#id_level", "senior")
    page.fill("#id_name", "低压电工作业 第3期")
    page.fill("#id_start", start.isoformat())
    page.fill("#id_end", (start + datetime.timedelta(days=4)).isoformat())
    page.fill("#id_daily_start", "08:30")
    page.fill("#id_daily_end", "17:00")
    page.fill("#id_place", "温岭市太平街道 实训楼 201")
    page.fill("#id_teacher", "林老师")
    page.set_input_files("#id_file", str(roster(tmp_path, 1, 2)))
    page.get_by_role("button", name="报备", exact=True).click()
    expect(page.locator(".message.success")).to_contain_text("待行业主管部门确认")
    training_class = TrainingClass.objects.get()
    expect(page.locator("#class-roster")).to_contain_text("学员2")

    # The department's reviewer hears of it by the bell and goes to the class from there.
    log_in(page, live_server.url, "dept_reviewer")
    expect(page.locator("#bell [data-unread]")).to_have_text("1")
    page.locator("#bell").click()
    filed = page.locator("#notifications tbody tr.unread")
    expect(filed).to_contain_text("班级待确认备案")
    expect(filed).to_contain_text(training_class.number)
    filed.get_by_role("link").click()
    expect(page).to_have_url(f"{live_server.url}/classes/{training_class.pk}/")
    page.fill("#class-comment", "材料齐全")
    page.get_by_role("button", name="确认备案").click()
    expect(page.locator(".message.success")).to_contain_text("已确认备案")
    expect(page.locator("h1 .status")).to_have_text("已备案")
    page.screenshot(path=str(SCREENSHOTS / "browser_class_accepted.png"), full_page=True)
    training_class.refresh_from_db()
    assert training_class.status == "accepted" and training_class.decided_by == demo["dept_reviewer"]

    # And the provider's clerk hears the answer the same way.
    log_in(page, live_server.url, "provider_clerk")
    page.locator("#bell").click()
    answer = page.locator("#notifications tbody tr.unread")
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text(f"班级 {training_class.number}（低压电工作业 第3期）已备案")
    page.screenshot(path=str(SCREENSHOTS / "browser_class_answer_notified.png"), full_page=True)


@pytest.mark.browser
def test_the_bell_shows_the_unread_count_and_marking_one_read_lowers_it(transactional_db, live_server, demo, browser_page):
    from claims.services import create_claim
    from workflow.services import submit_claim

    from .conftest import claim_data, line

    for serial in (61, 62):
        data = claim_data(lines=[line(resident_id(serial), f"学员{serial}", certificate_number=f"T-{serial:05d}")])
        submit_claim(user=demo["provider_clerk"], claim=create_claim(user=demo["provider_clerk"], data=data))
    unread = Notification.objects.filter(recipient=demo["dept_reviewer"], read_at__isnull=True).count()
    assert unread == 2
    page, expect = browser_page, playwright_sync.expect

    log_in(page, live_server.url, "dept_reviewer")
    bell = page.locator("#bell")
    expect(bell.locator("[data-unread]")).to_have_text("2")
    bell.click()
    expect(page.locator("#notifications tbody tr.unread")).to_have_count(2)
    page.locator("#notifications tbody tr.unread").first.get_by_role("button", name="标为已读").click()
    expect(page.locator("#bell [data-unread]")).to_have_text("1")
    expect(page.locator("#notifications tbody tr.unread")).to_have_count(1)
    page.get_by_role("button", name="全部标为已读").click()
    expect(page.locator("#bell [data-unread]")).to_have_text("0")
    page.screenshot(path=str(SCREENSHOTS / "browser_bell.png"), full_page=True)
    assert not Notification.objects.filter(recipient=demo["dept_reviewer"], read_at__isnull=True).exists()
