"""Money in the spreadsheets the product writes reads with its two decimals: 900.00, never the
General format's "900" (nor 1234.50 as "1234.5"). The bank's upload tools and finance's
reconciliations take a cell's text; the CSV says "900.00", so must the .xlsx. Every writer
builds its rows with claims.spreadsheets.xlsx_row, and MONEY_FORMAT is spelled nowhere else."""

import io
import re
from pathlib import Path

from django.utils import timezone
from openpyxl import load_workbook

from claims.models import Jurisdiction
from claims.spreadsheets import MONEY_FORMAT
from payments.services.funds import export_funds_report

from .payments_support import approved_claim
from .test_payment_results import released_batch
from .test_public_notice import on_notice

PROJECT = Path(__file__).resolve().parent.parent


def formats_of_amounts(xlsx: bytes, columns: str, sheet: str | None = None) -> dict[str, str]:
    """The number format of each number in the given columns (letters), by cell."""
    book = load_workbook(io.BytesIO(xlsx))
    found = {}
    for column in columns:
        for cell in (book[sheet] if sheet else book.active)[column]:
            if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                found[cell.coordinate] = cell.number_format
    return found


def shows_two_decimals(formats: dict[str, str]) -> bool:
    return bool(formats) and set(formats.values()) == {MONEY_FORMAT}


def test_the_banks_xlsx_payment_file_shows_each_amount_and_the_total_with_two_decimals(
    demo, django_capture_on_commit_callbacks, celery_eager
):
    approved_claim(demo, serials=(1, 2))
    batch = released_batch(demo, django_capture_on_commit_callbacks)
    xlsx = bytes(batch.files.get(kind="payment_xlsx").content)
    amounts = formats_of_amounts(xlsx, "G")  # each transfer's amount, and the trailer's total
    assert len(amounts) == batch.transfers.count() + 1
    assert shows_two_decimals(amounts), amounts


def test_the_funds_report_shows_every_figure_with_two_decimals(demo):
    content, _filename = export_funds_report(actor=demo["finance_officer"], year=timezone.localdate().year)
    amounts = formats_of_amounts(content, "EFGHIJK")  # allocated … remaining, the totals and the budget
    assert shows_two_decimals(amounts), amounts


def test_the_auditors_export_shows_claim_totals_and_published_amounts_with_two_decimals(demo, client):
    Jurisdiction.objects.filter(code="WL").update(public_notice_from=timezone.localdate())
    on_notice(demo)
    client.force_login(demo["auditor"])
    response = client.post("/audit/export/xlsx/", {"query": ""})
    assert response.status_code == 200
    assert shows_two_decimals(formats_of_amounts(response.content, "F", sheet="claims"))  # 金额合计
    assert shows_two_decimals(formats_of_amounts(response.content, "J", sheet="notice"))  # 补贴金额 published


def test_the_public_notice_file_shows_each_subsidy_with_two_decimals(demo, client):
    Jurisdiction.objects.filter(code="WL").update(public_notice_from=timezone.localdate())
    on_notice(demo)
    amounts = formats_of_amounts(client.get("/public/notice.xlsx").content, "G")  # 补贴金额
    assert len(amounts) == 2 and shows_two_decimals(amounts), amounts


def test_the_money_format_is_spelled_once():
    """A writer that sets its own money format (or none) is a second definition: it goes through xlsx_row."""
    spelled = []
    for path in PROJECT.rglob("*.py"):
        relative = path.relative_to(PROJECT)
        if relative.parts[0] in (".venv", "tests", "bench") or relative == Path("claims/spreadsheets.py"):
            continue
        if re.search(r"""number_format\s*=\s*["'][#,0]*0\.00["']""", path.read_text(encoding="utf-8")):
            spelled.append(str(relative))
    assert spelled == []
