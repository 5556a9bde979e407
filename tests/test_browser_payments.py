"""Payment batches in a real browser (Debian's chromium through Playwright): one finance officer
builds a batch from the approved claims, a second one releases it (four eyes), the page waits
for the release task, and the bank's CSV is downloaded and checked (rows, trailer, checksum)."""

import csv
import hashlib
import io

import pytest

from claims.models import Claim, ClaimLine
from payments.models import PayeeAccount, PaymentBatch
from payments.services.payees import account_number_of, set_payee_account

from .browser_support import browser_page, playwright_sync, sign_in  # noqa: F401 (a fixture)
from .payments_support import approved_claim, living_allowance_claim


@pytest.mark.browser
def test_finance_builds_and_the_other_officer_releases_a_batch_and_downloads_its_file(
    transactional_db,
    live_server,
    demo,
    celery_eager,
    browser_page,
    tmp_path,
):
    first = approved_claim(demo, serials=(1, 2))
    person = living_allowance_claim(demo, serials=(50,))
    set_payee_account(
        actor=demo["finance_officer"],
        trainee=ClaimLine.objects.get(claim=person).trainee,
        account_name="学员50",
        bank_name="社保卡开户银行",
        account_number="6217000012345678",
    )
    expected_total = first.total + person.total
    page, expect, base = browser_page, playwright_sync.expect, live_server.url

    # The first officer sees what awaits payment and builds a batch of all of it.
    sign_in(page, f"{base}/payments/batches/new/", "finance_officer")
    expect(page.locator("h1")).to_contain_text("生成拨付批次")
    expect(page.locator("#awaiting-claims tbody tr")).to_have_count(2)
    expect(page.locator("#awaiting")).to_contain_text(f"{expected_total:,.2f}")
    page.click("#build-batch")
    expect(page.locator(".message.success")).to_contain_text("已生成拨付批次")
    batch = PaymentBatch.objects.get()
    expect(page.locator("h1")).to_contain_text(batch.number)
    expect(page.locator("#batch-status")).to_have_attribute("data-status", "built")
    expect(page.locator("#batch-payees tbody tr")).to_have_count(2)
    expect(page.locator("#batch-payees")).to_contain_text("6217********5678")  # masked
    expect(page.locator("#four-eyes")).to_be_visible()
    expect(page.locator("#release-batch")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "batch_built.png"), full_page=True)
    page.get_by_role("button", name="退出").click()

    # The second officer releases it; the page follows the task until the batch is released.
    sign_in(page, f"{base}/payments/batches/{batch.pk}/", "finance_officer2")
    expect(page.locator("h1")).to_contain_text(batch.number)
    page.check("#id_release_confirm")
    page.click("#release-batch")
    expect(page.locator("#batch-status")).to_have_attribute("data-status", "released")
    expect(page.locator("#batch-status")).to_have_text("已发送银行")
    expect(page.locator("#batch-files tbody tr")).to_have_count(2)
    checksum_text = page.locator("#batch-checksum").inner_text()
    page.screenshot(path=str(tmp_path / "batch_released.png"), full_page=True)

    with page.expect_download() as download_info:
        page.locator('#batch-files tr[data-kind="payment_csv"] a').click()
    download = download_info.value
    assert download.suggested_filename == f"{batch.number}.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)

    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    header, details, trailer = rows[0], rows[1:-1], rows[-1]
    assert header[:2] == ["批次号", "序号"] and len(details) == 2
    provider_account = PayeeAccount.objects.get(provider=first.provider)
    by_kind = {row[2]: row for row in details}
    assert by_kind["单位"][4] == account_number_of(provider_account) and by_kind["单位"][6] == f"{first.total:.2f}"
    assert by_kind["个人"][4] == "6217000012345678" and by_kind["个人"][6] == f"{person.total:.2f}"
    assert trailer[:2] == ["合计", "2"] and trailer[6] == f"{expected_total:.2f}"
    digest = hashlib.sha256("\n".join(",".join(row) for row in details).encode("utf-8")).hexdigest()
    assert trailer[7] == f"SHA256:{digest}" == checksum_text
    assert set(ClaimLine.objects.filter(claim__in=[first, person]).values_list("payment_status", flat=True)) == {"in_payment"}

    # The bank answers: both transfers paid. The officer uploads its result file on the batch and
    # lands on the reconciliation; the claims end in the worker's task (run here by the server as
    # the upload commits: celery_eager), so nothing is left being settled.
    answer = tmp_path / "回单.csv"
    with answer.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["批次号", "序号", "账号", "金额", "结果", "银行流水号", "失败原因"])
        for row in details:
            writer.writerow([row[0], row[1], row[4], row[6], "成功", f"BANK-{row[1]}", ""])
    page.goto(f"{base}/payments/batches/{batch.pk}/results/")
    page.set_input_files("#id_file", str(answer))
    page.click("#result-upload-form button[type=submit]")
    expect(page.locator(".message.success")).to_contain_text("入账 2 笔，退票 0 笔；涉及 2 笔申领，由后台逐笔办结")
    expect(page.locator('#reconciliation tr[data-figure="paid"] td').first).to_have_text("2")
    expect(page.locator("#settling")).to_have_count(0)
    assert set(Claim.objects.filter(pk__in=[first.pk, person.pk]).values_list("status", flat=True)) == {"paid"}
