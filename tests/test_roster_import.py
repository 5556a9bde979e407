"""Roster import (issue 3, STORIES.md story 1): the clerk downloads the template, fills it in,
uploads it; every bad row is named in Chinese and English and nothing is saved; a good roster
becomes one draft claim with every line priced. Bad files get a clear 400, never a 500."""

import datetime
import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest  # django-axes: a login names its request
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from claims import imports, roster
from claims.models import Claim, ClaimLine, RosterUpload, RosterUploadStatus, Trainee
from claims.validators import resident_id_check_char
from due.registry import run_due

from .api_support import error, login, ok
from .conftest import redis_unreachable

IMPORT_URL = "/api/v1/claims/import/"
TEMPLATE_URL = "/api/v1/claims/import/template/"
TODAY = datetime.date.today()


# --------------------------------------------------------------------------- building rosters


def valid_id(serial: int) -> str:
    """A valid resident ID number, distinct for each serial (up to 366,000)."""
    birth = datetime.date(1980, 1, 1) + datetime.timedelta(days=serial // 1000)
    first17 = f"331081{birth:%Y%m%d}{serial % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def wrong_check_digit(id_number: str) -> str:
    return id_number[:17] + ("0" if id_number[17] != "0" else "1")


def trainee_row(serial: int, **overrides) -> dict:
    row = {
        "id_number": valid_id(serial),
        "name": f"学员{serial}",
        "occupation": "低压电工",
        "level": "初级工",  # as the template's drop-down list gives it
        "certificate_type": "特种作业操作证书",
        "certificate_number": f"T3310{serial:06d}",
        "certificate_date": TODAY - datetime.timedelta(days=20),  # a real date cell
        "training_days": 10,
        "stated_cost": 450,
    }
    row.update(overrides)
    return row


def fill_template(rows: list[dict], template: bytes | None = None) -> bytes:
    """What the clerk does in Excel: open the template, replace the example row, save."""
    workbook = load_workbook(io.BytesIO(template or roster.build_template()))
    sheet = workbook[roster.SHEET_TITLE]
    fields = [cell.value.rsplit(" ", 1)[-1] for cell in sheet[1]]
    sheet.delete_rows(2)
    for number, row in enumerate(rows, start=2):
        for column, name in enumerate(fields, start=1):
            if name in row:
                cell = sheet.cell(row=number, column=column, value=row[name])
                if isinstance(row[name], datetime.date):
                    cell.number_format = "yyyy-mm-dd"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def story_rows(bad_serials=()) -> list[dict]:
    """Story 1: 28 new S3 certificates and 6 renewals; ``bad_serials`` get a wrong check digit."""
    rows = [trainee_row(n) for n in range(1, 29)] + [trainee_row(n, variant="renewal", stated_cost=80) for n in range(29, 35)]
    for row_index, row in enumerate(rows, start=1):
        if row_index in bad_serials:
            row["id_number"] = wrong_check_digit(row["id_number"])
    return rows


HEADER = {
    "department": "WL-YJJ",
    "policy": "S3",
    "class_name": "低压电工作业 2026 第3期",
    "training_start": (TODAY - datetime.timedelta(days=50)).isoformat(),
    "training_end": (TODAY - datetime.timedelta(days=40)).isoformat(),
}


def upload(client, content: bytes, filename: str = "花名册.xlsx", **header):
    data = {**HEADER, **header, "file": SimpleUploadedFile(filename, content, content_type=roster.XLSX_CONTENT_TYPE)}
    return client.post(IMPORT_URL, data, format="multipart")


def counts() -> tuple[int, int, int, int]:
    return Claim.objects.count(), ClaimLine.objects.count(), Trainee.objects.count(), RosterUpload.objects.count()


@pytest.fixture
def clerk(demo):
    return login("provider_clerk")


# --------------------------------------------------------------------------- story 1


def test_the_template_goes_out_as_it_is_to_a_browser_that_asks_for_gzip(demo, clerk):
    """An .xlsx is a zip already: compressing it again costs the CPU of every download for nothing
    (pages and JSON are still compressed: tests/test_large_claims.py)."""
    response = clerk.get(TEMPLATE_URL, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert response.status_code == 200 and not response.has_header("Content-Encoding")
    assert load_workbook(io.BytesIO(response.content)).sheetnames[0] == roster.SHEET_TITLE


def test_template_downloads_with_the_headers_an_example_and_drop_down_lists(demo, clerk):
    response = clerk.get(TEMPLATE_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == roster.XLSX_CONTENT_TYPE
    assert "attachment" in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames[0] == roster.SHEET_TITLE
    sheet = workbook[roster.SHEET_TITLE]
    headers = [cell.value for cell in sheet[1]]
    assert headers[:8] == [
        "身份证号码 id_number", "姓名 name", "职业（工种） occupation", "等级 level", "证书类型 certificate_type",
        "证书编号 certificate_number", "发证日期 certificate_date", "培训天数 training_days",
    ]  # fmt: skip
    assert [h.rsplit(" ", 1)[1] for h in headers] == [column.field for column in roster.COLUMNS]
    example = {h.rsplit(" ", 1)[1]: cell for h, cell in zip(headers, sheet[2])}
    assert isinstance(example["certificate_date"].value, datetime.datetime)  # a real date, shown as a date
    assert example["certificate_date"].number_format == "yyyy-mm-dd"
    assert example["level"].value == "初级工"
    lists = {str(v.sqref).split(":")[0][0]: v.formula1 for v in sheet.data_validations.dataValidation if v.type == "list"}
    assert lists["D"].startswith(f"'{roster.CHOICES_SHEET_TITLE}'!")  # 等级 from the allowed-values sheet
    choices = workbook[roster.CHOICES_SHEET_TITLE]
    assert [c.value for c in choices["A"][1:9]] == [
        "学徒工",
        "初级工",
        "中级工",
        "高级工",
        "技师",
        "高级技师",
        "特级技师",
        "首席技师",
    ]
    (variants,) = [column for column in choices.iter_cols() if str(column[0].value).endswith(" variant")]
    assert "renewal" in [c.value for c in variants]  # the catalogue's variants (S3 renewal)
    assert sheet.max_row == 2  # column formats only: the sheet is its real size


def test_story_1_two_wrong_check_digits_refuse_the_roster_naming_both_rows_then_the_fixed_roster_is_one_claim(demo, clerk):
    template = clerk.get(TEMPLATE_URL).content
    before = counts()

    body = error(upload(clerk, fill_template(story_rows(bad_serials=(12, 17)), template)), 400)
    # Rows 13 and 18 of the sheet (the header is row 1): both named, with the column, in both languages.
    assert set(body["fields"]) == {"rows[13].id_number", "rows[18].id_number"}
    zh, en = body["fields"]["rows[13].id_number"]
    assert zh == "第13行 身份证号码：身份证号码校验码错误。"
    assert en.startswith("Row 13, Resident ID number:") and "check" in en
    assert body["fields"]["rows[18].id_number"][0].startswith("第18行 身份证号码：")
    assert "2" in body["message"]
    assert counts() == before  # nothing saved: no claim, no line, no trainee, no upload

    claim = ok(upload(clerk, fill_template(story_rows(), template)), 201)
    assert claim["status"] == "draft"
    assert (claim["department"], claim["policy"]) == ("WL-YJJ", "S3")
    assert len(claim["lines"]) == 34
    assert all(line["rule_version"] for line in claim["lines"])  # every line priced by a catalogue version
    new = [line for line in claim["lines"] if line["line_no"] <= 28]
    assert {line["amount"] for line in new} == {"450.00"}  # S3 new certificate ≤ 500, stated cost 450
    assert all(str(line["trainee"]).endswith(valid_id(n)[-4:]) for n, line in enumerate(claim["lines"], start=1))
    assert counts() == (before[0] + 1, before[1] + 34, before[2] + 34, before[3] + 1)
    roster_upload = RosterUpload.objects.get()
    assert (roster_upload.status, roster_upload.claim_id, roster_upload.row_count) == (RosterUploadStatus.DONE, claim["id"], 34)


def test_the_same_roster_uploaded_again_is_refused_naming_the_claim(demo, clerk):
    content = fill_template([trainee_row(1), trainee_row(2)])
    claim = ok(upload(clerk, content), 201)
    body = error(upload(clerk, content, filename="again.xlsx"), 409)
    assert body["code"] == "duplicate_upload"
    assert claim["number"] in body["message"]
    assert Claim.objects.count() == 1


def test_a_row_with_many_problems_lists_every_field_and_the_status_page_of_another_provider_is_404(demo, clerk):
    rows = [
        trainee_row(1),
        trainee_row(2, name="", level="高级", certificate_date="2026-03-01", training_days="十", stated_cost="=400+50"),
    ]
    body = error(upload(clerk, fill_template(rows)), 400)
    assert set(body["fields"]) == {
        "rows[3].name",
        "rows[3].level",
        "rows[3].certificate_date",
        "rows[3].training_days",
        "rows[3].stated_cost",
    }
    assert body["fields"]["rows[3].certificate_date"][0] == "第3行 发证日期：请使用日期格式，不要使用文本（例如 2026-03-01）。"
    assert body["fields"]["rows[3].certificate_date"][1].startswith("Row 3, Certificate date: Use a date")
    assert "公式" in body["fields"]["rows[3].stated_cost"][0]
    assert "formula" in body["fields"]["rows[3].stated_cost"][1].lower()
    assert "学徒工" in body["fields"]["rows[3].level"][0]


def test_header_fields_are_checked_like_a_claim(demo, clerk):
    body = error(upload(clerk, fill_template([trainee_row(1)]), department="NOPE", training_end="2020-01-01"), 400)
    assert set(body["fields"]) == {"department", "training_end"}
    assert not RosterUpload.objects.exists()


def test_only_provider_clerks_import(demo):
    body = error(upload(login("dept_reviewer"), fill_template([trainee_row(1)])), 403)
    assert body["code"] == "forbidden"


# --------------------------------------------------------------------------- bad files


def refused(client, content: bytes, filename="roster.xlsx") -> dict:
    before = counts()
    body = error(upload(client, content, filename=filename), 400)
    assert counts() == before
    return body


def test_not_an_xlsx_file(demo, clerk):
    body = refused(clerk, "身份证号码,姓名\n11010519491231002X,张三\n".encode(), filename="roster.csv")
    assert list(body["fields"]) == ["file"]
    zh, en = body["fields"]["file"]
    assert ".xlsx" in zh and ".xlsx" in en and "Excel" in en
    assert "旧版" in refused(clerk, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, filename="roster.xls")["message"]
    assert "损坏" in refused(clerk, b"PK\x03\x04 not really a zip")["message"]
    damaged = io.BytesIO()
    with zipfile.ZipFile(damaged, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook>not what openpyxl wants")
    assert "损坏" in refused(clerk, damaged.getvalue())["message"]


def test_missing_file_and_empty_file(demo, clerk):
    response = clerk.post(IMPORT_URL, HEADER, format="multipart")
    assert error(response, 400)["fields"] == {"file": ["必填。"]}
    assert "空" in refused(clerk, b"")["message"]


def test_empty_sheet_and_a_sheet_with_headers_only(demo, clerk):
    workbook = Workbook()
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert "工作表是空的" in refused(clerk, buffer.getvalue())["message"]

    body = refused(clerk, fill_template([]))
    assert "没有学员" in body["fields"]["file"][0]
    assert "no trainee" in body["fields"]["file"][1].lower()


def test_wrong_headers_name_the_missing_columns(demo, clerk):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["身份证号码 id_number", "姓名", "职业", "证书编号 certificate_number", "备注"])
    sheet.append([valid_id(1), "张三", "电工", "T1", ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    body = refused(clerk, buffer.getvalue())
    messages = body["fields"]["rows[1]"]
    missing = next(m for m in messages if m.startswith("第1行：缺少必填列"))
    for title in ("职业（工种）", "等级", "证书类型", "发证日期", "培训天数"):
        assert title in missing
    assert "身份证号码" not in missing and "姓名" not in missing.replace("无法识别", "")
    assert any("职业" in m and "无法识别" in m for m in messages)  # "职业" is not a column of ours
    assert any(m.startswith("Row 1: Missing required columns") and "Occupation" in m for m in messages)


def test_a_roster_of_its_own_making_is_read_by_the_columns_titles_or_their_aliases(demo, clerk):
    """A clerk's own sheet: titles without the field keys, in another order, 身份证号 for the ID column."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "身份证号", "职业（工种）", "等级", "证书类型", "证书编号", "发证日期", "培训天数", "类型"])
    sheet.append(
        ["张三", valid_id(1), "低压电工", "高级工", "特种作业操作证书", "T1", TODAY - datetime.timedelta(days=9), 10, "renewal"]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    claim = ok(upload(clerk, buffer.getvalue()), 201)
    (line,) = claim["lines"]
    assert (line["trainee_name"], line["trainee"][-4:], line["variant"], line["amount"]) == (
        "张三",
        valid_id(1)[-4:],
        "renewal",
        "100.00",
    )


@pytest.fixture
def rows_read(monkeypatch):
    """Rows openpyxl has read from a sheet (read-only mode, as rosters are read), counted as they come."""
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    read = {"rows": 0}
    cells_by_row = ReadOnlyWorksheet._cells_by_row

    def counted(self, *args, **kwargs):
        for row in cells_by_row(self, *args, **kwargs):
            read["rows"] += 1
            yield row

    monkeypatch.setattr(ReadOnlyWorksheet, "_cells_by_row", counted)
    return read


def test_a_100000_row_roster_is_refused_without_reading_it_all(demo, clerk, rows_read):
    """What makes the refusal fast (timed in no test): the sheet's rows are counted by a bare
    scan that stops at MAX_ROWS + 1 rows, before openpyxl reads any row; a file that states its
    size is refused at its <dimension>."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(roster.SHEET_TITLE)
    sheet.append([column.header() for column in roster.COLUMNS])
    for serial in range(100_000):
        sheet.append([valid_id(serial)])
    buffer = io.BytesIO()
    workbook.save(buffer)  # write-only: no <dimension>, so the rows are counted while read

    message = refused(clerk, buffer.getvalue())["fields"]["file"][0]
    assert f"{roster.MAX_ROWS}" in message and "超过" in message
    assert f"至少有 {roster.MAX_ROWS + 1} 行" in message  # it stopped counting there
    assert rows_read["rows"] == 0, rows_read  # refused by claims.spreadsheets.check_xml_part

    # A file that states its size (Excel writes <dimension>) is refused before any row is read.
    sized = Workbook()
    sized.active.append([column.header() for column in roster.COLUMNS])
    sized.active.cell(row=100_001, column=1, value=valid_id(1))
    buffer = io.BytesIO()
    sized.save(buffer)
    rows_read["rows"] = 0
    assert "100000" in refused(clerk, buffer.getvalue())["fields"]["file"][0]
    assert rows_read["rows"] == 0


def test_formulas_and_dates_as_text_are_refused_with_row_and_column(demo, clerk):
    rows = [trainee_row(1, certificate_date="2026/03/01"), trainee_row(2, training_days="=5*2"), trainee_row(3)]
    body = refused(clerk, fill_template(rows))
    assert body["fields"]["rows[2].certificate_date"][0] == "第2行 发证日期：请使用日期格式，不要使用文本（例如 2026-03-01）。"
    assert body["fields"]["rows[3].training_days"][0] == "第3行 培训天数：不接受公式，请复制后“选择性粘贴为数值”。"
    assert set(body["fields"]) == {"rows[2].certificate_date", "rows[3].training_days"}


def test_numbers_given_as_text_are_accepted_and_an_id_stored_as_a_number_is_refused(demo, clerk):
    rows = [trainee_row(1, training_days="10", stated_cost="399.50"), trainee_row(2, id_number=float(valid_id(2)[:17] + "0"))]
    body = refused(clerk, fill_template(rows))
    assert list(body["fields"]) == ["rows[3].id_number"]
    assert "文本" in body["fields"]["rows[3].id_number"][0]
    claim = ok(upload(clerk, fill_template(rows[:1])), 201)
    assert (claim["lines"][0]["amount"], claim["lines"][0]["stated_cost"]) == ("399.50", "399.50")


def test_a_roster_wrong_everywhere_lists_the_first_errors_and_counts_the_rest(demo, clerk):
    rows = [
        trainee_row(n, id_number=wrong_check_digit(valid_id(n)), certificate_date="2026-01-05", training_days="=1")
        for n in range(imports.QUEUE_FROM_ROWS - 1)
    ]  # 999 rows, 3 errors each: imported (and refused) in the request
    body = refused(clerk, fill_template(rows))
    assert "999" in body["message"] and "2997" in body["message"]
    messages = [message for messages in body["fields"].values() for message in messages]
    assert len(messages) == 2 * (200 + 1)  # the first 200 (SPREADSHEET_MAX_LISTED_ERRORS), and how many more
    assert body["fields"]["file"] == [
        "还有 2797 处错误（933 行）未列出：同类错误请在 Excel 中整列检查。",
        "2797 more errors (in 933 rows) are not listed: check the whole column in Excel for errors of the same kind.",
    ]


def test_the_example_row_left_in_is_refused(demo, clerk):
    template = clerk.get(TEMPLATE_URL).content
    body = refused(clerk, template)
    assert body["fields"]["rows[2]"][0] == "第2行：这是模板的示例行，请删除后再上传。"


# --------------------------------------------------------------------------- the pages


def web_login(client, username="provider_clerk"):
    from .conftest import DEMO_PASSWORD

    assert client.login(request=HttpRequest(), username=username, password=DEMO_PASSWORD)
    return client


def test_web_upload_shows_every_error_then_creates_the_claim(demo, client):
    web_login(client)
    page = client.get("/claims/")
    assert "导入花名册" in page.content.decode()
    form = client.get("/claims/import/")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.content.decode()
    assert client.get("/claims/import/template/")["Content-Type"] == roster.XLSX_CONTENT_TYPE

    post = {**HEADER, "file": SimpleUploadedFile("r.xlsx", fill_template(story_rows(bad_serials=(3,))))}
    response = client.post("/claims/import/", post)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="roster-errors"' in html and "第4行 身份证号码：身份证号码校验码错误。" in html
    # One banner says the roster was refused (the count, the table), not a second message above it.
    assert html.count("未保存") == 1 and 'class="message error"' not in html
    # The registry's table too (one include): row, the column's letter and header, the problem.
    assert re.search(r'<td class="num">4</td>\s*<td class="nowrap"><span class="mono">[A-Z]+</span> 身份证号码</td>', html)
    assert not Claim.objects.exists()

    post = {**HEADER, "file": SimpleUploadedFile("r.xlsx", fill_template(story_rows()))}
    response = client.post("/claims/import/", post)
    claim = Claim.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/claims/{claim.pk}/"
    assert claim.lines.count() == 34


def test_status_page_and_endpoint_are_the_providers_clerks_only(demo, client):
    content = fill_template([trainee_row(1)])
    upload_row = RosterUpload.objects.create(
        provider=demo["provider_clerk"].groups.get(provider__isnull=False).provider, created_by=demo["provider_clerk"],
        header=HEADER, filename="r.xlsx", content=content, sha256="x", row_count=1200, processed_rows=500,
        status=RosterUploadStatus.PROCESSING,
    )  # fmt: skip
    body = ok(login("provider_clerk").get(f"{IMPORT_URL}{upload_row.pk}/"))
    assert (body["status"], body["row_count"], body["processed_rows"], body["claim"]) == ("processing", 1200, 500, None)
    for outsider in ("provider2_clerk", "dept_reviewer", "hr_head", "auditor"):
        error(login(outsider).get(f"{IMPORT_URL}{upload_row.pk}/"), 404)
    web_login(client)
    page = client.get(f"/claims/import/{upload_row.pk}/").content.decode()
    assert '<progress max="1200" value="500"' in page and "js/roster_status.js" in page
    web_login(client, "provider2_clerk")
    assert client.get(f"/claims/import/{upload_row.pk}/").status_code == 404


# --------------------------------------------------------------------------- the service


def test_rows_from_1000_are_queued_and_processed_once(transactional_db, demo, celery_eager):
    """Eager Celery (no Redis): the task runs on commit in this process. Delivering it again, or
    calling process_roster again, creates nothing more. (The real worker: test_roster_worker.py.)"""
    content = fill_template([trainee_row(n) for n in range(imports.QUEUE_FROM_ROWS)])
    header = {**HEADER, "provider": "WL-P001"}
    upload_row = imports.receive_roster(user=demo["provider_clerk"], header=header, filename="big.xlsx", content=content)
    upload_row.refresh_from_db()
    assert (upload_row.status, upload_row.processed_rows, upload_row.row_count) == ("done", 1000, 1000)
    assert upload_row.claim.lines.count() == 1000
    from claims.tasks import import_roster

    import_roster.delay(upload_row.pk)
    imports.process_roster(upload_id=upload_row.pk)
    assert Claim.objects.count() == 1 and ClaimLine.objects.count() == 1000
    # The queued upload was in the ledger before the worker made its claim.
    from audit.models import AuditEvent

    received = AuditEvent.objects.get(action="roster.received", object_id=str(upload_row.pk))
    created = AuditEvent.objects.get(action="claim.created", claim_id=upload_row.claim_id)
    assert received.seq < created.seq and received.detail["rows"] == 1000


def test_a_stale_processing_upload_is_taken_over_and_the_old_run_writes_nothing(transactional_db, demo):
    content = fill_template([trainee_row(1), trainee_row(2)])
    provider = demo["provider_clerk"].groups.get(provider__isnull=False).provider
    upload_row = RosterUpload.objects.create(
        provider=provider, created_by=demo["provider_clerk"], header={**HEADER, "provider": provider.code},
        filename="r.xlsx", content=content, sha256="y", row_count=2, status=RosterUploadStatus.PROCESSING,
        started_at=datetime.datetime.now(datetime.UTC),
    )  # fmt: skip
    assert imports.process_roster(upload_id=upload_row.pk).status == "processing"  # a live run has it: nothing done
    assert not Claim.objects.exists()

    stale = datetime.datetime.now(datetime.UTC) - imports.STALE_AFTER - datetime.timedelta(seconds=1)
    RosterUpload.objects.filter(pk=upload_row.pk).update(started_at=stale)
    done = imports.process_roster(upload_id=upload_row.pk)
    assert done.status == "done" and done.claim.lines.count() == 2
    assert imports.process_roster(upload_id=upload_row.pk).claim_id == done.claim_id
    assert Claim.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_roster_queued_while_redis_is_down_is_imported_by_the_due_jobs(demo, clerk, monkeypatch, celery_eager):
    """王磊 uploads a roster big enough for the worker while Redis is down. The upload is kept
    ("received") and he is answered as with Redis up (202), not with an error for what was
    committed. The same file again is refused: it is waiting. Once it has waited STALE_AFTER, the
    due jobs (beat's every minute, or `make due`) hand it to the worker (here, eager Celery: in
    this process), and it becomes his claim."""
    monkeypatch.setattr(imports, "QUEUE_FROM_ROWS", 2)  # two rows take the worker's path
    content = fill_template([trainee_row(1), trainee_row(2)])
    with redis_unreachable():
        queued = ok(upload(clerk, content), 202)
    assert (queued["status"], queued["claim"]) == ("received", None)
    assert error(upload(clerk, content, filename="again.xlsx"), 409)["code"] == "duplicate_upload"

    received = RosterUpload.objects.get(pk=queued["id"]).created_at
    waited = imports.STALE_AFTER + datetime.timedelta(minutes=1)
    assert run_due(received + datetime.timedelta(minutes=1))["claims.requeue_stale_uploads"] == 0  # its task may yet come
    assert run_due(received + waited)["claims.requeue_stale_uploads"] == 1
    body = ok(clerk.get(f"{IMPORT_URL}{queued['id']}/"))
    assert body["status"] == "done" and Claim.objects.get(pk=body["claim"]).lines.count() == 2
    assert run_due(received + waited)["claims.requeue_stale_uploads"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_roster_whose_worker_was_killed_midway_is_imported_by_the_due_jobs(demo, celery_eager):
    """The worker importing a roster is killed (a deploy, out of memory): the upload is left
    "processing". Its message, redelivered at once (acks_late), finds it taken by a run that
    still looks alive and does nothing. Once STALE_AFTER has passed, the due jobs hand it to the
    worker again, which takes it over and makes the claim."""
    provider = demo["provider_clerk"].groups.get(provider__isnull=False).provider
    killed_at = timezone.now()
    upload_row = RosterUpload.objects.create(
        provider=provider, created_by=demo["provider_clerk"], header={**HEADER, "provider": provider.code},
        filename="big.xlsx", content=fill_template([trainee_row(1), trainee_row(2)]), sha256="k", row_count=2,
        status=RosterUploadStatus.PROCESSING, started_at=killed_at,
    )  # fmt: skip
    from claims.tasks import import_roster

    assert import_roster.apply(args=[upload_row.pk]).get() == "processing"  # the redelivered message: nothing to do
    assert run_due(killed_at + datetime.timedelta(minutes=1))["claims.requeue_stale_uploads"] == 0  # may be alive

    # STALE_AFTER on (the run's stamp moved back: the worker's claim reads the real clock).
    RosterUpload.objects.filter(pk=upload_row.pk).update(started_at=killed_at - imports.STALE_AFTER)
    assert run_due(timezone.now())["claims.requeue_stale_uploads"] == 1
    upload_row.refresh_from_db()
    assert upload_row.status == "done" and upload_row.claim.lines.count() == 2
    assert Claim.objects.count() == 1


def test_a_failing_run_hands_the_upload_back_for_the_retry(transactional_db, demo, monkeypatch):
    content = fill_template([trainee_row(1)])
    provider = demo["provider_clerk"].groups.get(provider__isnull=False).provider
    upload_row = RosterUpload.objects.create(
        provider=provider,
        created_by=demo["provider_clerk"],
        header={**HEADER, "provider": provider.code},
        filename="r.xlsx",
        content=content,
        sha256="z",
        row_count=1,
    )

    def broken(**kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(imports, "create_claim_from_inputs", broken)
    with pytest.raises(ConnectionError):
        imports.process_roster(upload_id=upload_row.pk)
    upload_row.refresh_from_db()
    assert (upload_row.status, upload_row.claim_id) == ("received", None)
    assert not Claim.objects.exists() and not ClaimLine.objects.exists()
    monkeypatch.undo()
    assert imports.process_roster(upload_id=upload_row.pk).status == "done"


def test_a_chart_sheet_named_like_the_roster_is_passed_over_for_the_worksheet(demo, clerk):
    """花名册 names a chart here (no rows): the roster is read from the first worksheet, not a 500."""
    from openpyxl.chart import BarChart, Reference

    workbook = load_workbook(io.BytesIO(fill_template(story_rows())))
    data = workbook[roster.SHEET_TITLE]
    data.title = "学员"
    chart = BarChart()
    chart.add_data(Reference(data, min_col=8, min_row=1, max_row=3))
    workbook.create_chartsheet(roster.SHEET_TITLE).add_chart(chart)
    buffer = io.BytesIO()
    workbook.save(buffer)
    claim = ok(upload(clerk, buffer.getvalue()), 201)
    assert len(claim["lines"]) == 34
