"""Hostile uploads (issue 11): every uploaded spreadsheet, roster or bank result, goes through the
one bounded reader of claims/spreadsheets.py.

- a 0.5 MB .xlsx whose shared strings expand to 500 MiB is refused from the zip's directory,
  before any XML is parsed: a 400 naming the file, and the process's Python heap stays small;
- a roster of millions of blank rows is refused at the bound (blank rows count), whatever size
  its sheet says it has, without reading the rows past the bound;
- a bank result of 300,000 bad rows is refused at the row bound; one of thousands of bad rows
  lists the first 200 errors and the total, in a small body;
- the batch's row lock is not held while a result file is parsed;
- a workbook that opens but is damaged inside a row is refused as damaged (400) by every reader;
- every XML part openpyxl could read is bounded before it opens the workbook, wherever the part
  is stored: rows, cells of a row and in all, shared strings, the elements of a part (styles…),
  and no DTD.

Every fixture is generated here (no large file in the repository)."""

import csv
import datetime
import io
import re
import tracemalloc
import zipfile
import zlib

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from openpyxl import Workbook

from claims import roster
from claims.errors import InvalidInput
from claims.models import Attendance, Claim, Jurisdiction, RegistryImport, RosterUpload, TrainingClass
from claims.registry import ExportRejected, import_registry_export
from claims.spreadsheets import SpreadsheetRefused, check_xlsx_archive, limits
from payments.models import BankFile, Transfer
from workflow.disbursement import apply_bank_result, build_batch, request_release

from .api_support import login
from .payments_support import approved_claim
from .test_class_filing import class_data, filed
from .test_payment_results import HEADER, csv_file, result_rows, two_payees  # noqa: F401 - a fixture
from .test_roster_import import HEADER as ROSTER_HEADER
from .test_roster_import import IMPORT_URL, fill_template, rows_read, trainee_row  # noqa: F401 - a fixture

MIB = 1024 * 1024
PEAK_LIMIT = 50 * MIB  # the Python heap a refused hostile upload may take, measured by tracemalloc


def rewritten(xlsx: bytes, replace: dict[str, object], add: tuple | list = ()) -> bytes:
    """The workbook with some parts replaced (or added): bytes, or a callable writing the part."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        names = [item.filename for item in source.infolist()]
        for name in names + [name for name in add if name not in names]:
            part = replace.get(name)
            if part is None:
                target.writestr(source.getinfo(name), source.read(name))
            elif callable(part):
                with target.open(name, "w") as stream:
                    part(stream)
            else:
                target.writestr(name, part, zipfile.ZIP_DEFLATED)
    return out.getvalue()


class RepeatedChunkDeflater:
    """A deflate compressor (zipfile's) that deflates ``chunk`` once and repeats the result each
    time the same chunk is written: every piece ends with a full flush, which makes deflate
    blocks independent of what came before, so the stream stays valid (zipfile checks its CRC)."""

    def __init__(self, chunk: bytes):
        self.chunk = chunk
        self.deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        once = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.deflated_chunk = once.compress(chunk) + once.flush(zlib.Z_FULL_FLUSH)

    def compress(self, data: bytes) -> bytes:
        if data is self.chunk:
            return self.deflated_chunk
        return self.deflater.compress(data) + self.deflater.flush(zlib.Z_FULL_FLUSH)

    def flush(self) -> bytes:
        return self.deflater.flush()


SHARED_STRINGS_REL = (
    '<Relationship Id="rIdBomb" Target="sharedStrings.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
)
SHARED_STRINGS_TYPE = (
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)


def bomb(xlsx: bytes, unpacked: int = 500 * MIB) -> bytes:
    """The workbook with a shared-strings part (declared, so a reader would load it) that expands
    to ``unpacked`` bytes: one huge string."""

    def shared_strings(stream):
        chunk = b"A" * MIB
        stream._compressor = RepeatedChunkDeflater(chunk)  # seconds, not a minute, to deflate 500 MiB
        stream.write(b'<?xml version="1.0" encoding="UTF-8"?>')
        stream.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>')
        for _ in range(unpacked // MIB):
            stream.write(chunk)
        stream.write(b"</t></si></sst>")

    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        rels = archive.read("xl/_rels/workbook.xml.rels").decode()
        types = archive.read("[Content_Types].xml").decode()
    replace = {"xl/sharedStrings.xml": shared_strings}
    if "sharedStrings" not in rels:
        replace["xl/_rels/workbook.xml.rels"] = rels.replace("</Relationships>", SHARED_STRINGS_REL + "</Relationships>").encode()
        replace["[Content_Types].xml"] = types.replace("</Types>", SHARED_STRINGS_TYPE + "</Types>").encode()
    return rewritten(xlsx, replace, add=["xl/sharedStrings.xml"])


def sheet_with_blank_rows(xlsx: bytes, blank_rows: int, *, dimension: str | None) -> bytes:
    """The roster's sheet with ``blank_rows`` explicit empty rows after its data, and the stated
    size (<dimension>) set to ``dimension`` (a lie) or removed."""
    name = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        xml = archive.read(name).decode()
    last = max(int(number) for number in re.findall(r'<row r="(\d+)"', xml))
    blanks = "".join(f'<row r="{number}"/>' for number in range(last + 1, last + 1 + blank_rows))
    xml = xml.replace("</sheetData>", blanks + "</sheetData>")
    xml = re.sub(r'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{dimension}"/>' if dimension else "", xml)
    return rewritten(xlsx, {name: xml.encode()})


def peak_of(action) -> tuple[object, int]:
    """What ``action()`` returns, and the peak of Python heap it took (tracemalloc)."""
    tracemalloc.start()
    try:
        result = action()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture(scope="module")
def result_bomb() -> bytes:
    workbook = Workbook()
    workbook.active.append(HEADER)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return bomb(buffer.getvalue())


@pytest.fixture(scope="module")
def roster_bomb() -> bytes:
    return bomb(fill_template([trainee_row(1)]))


def test_the_bomb_is_a_real_workbook_that_would_expand_to_500_mib(result_bomb):
    """The fixture is what it claims: a valid zip (CRCs checked) declaring shared strings of 500 MiB."""
    with zipfile.ZipFile(io.BytesIO(result_bomb)) as archive:
        part = archive.getinfo("xl/sharedStrings.xml")
        assert part.file_size > 500 * MIB and part.compress_size < MIB
        with archive.open(part) as stream:  # inflates it in pieces, checking the CRC at the end
            size = sum(len(piece) for piece in iter(lambda: stream.read(16 * MIB), b""))
    assert size == part.file_size


# --------------------------------------------------------------------------- zip bombs


def test_a_half_megabyte_bank_result_expanding_to_500_mib_is_refused_before_it_is_parsed(demo, two_payees, result_bomb):
    _claim_a, _claim_b, batch = two_payees
    assert len(result_bomb) < MIB  # about 0.5 MB on the wire
    finance = login("finance_officer")

    def post():
        upload = SimpleUploadedFile("回单.xlsx", result_bomb, content_type="application/octet-stream")
        return finance.post(f"/api/v1/payment-batches/{batch.pk}/results/", {"file": upload}, format="multipart")

    response, peak = peak_of(post)
    assert response.status_code == 400, response.content[:500]
    body = response.json()["error"]
    assert list(body["fields"]) == ["file"] and "解压后过大" in body["fields"]["file"][0]
    assert peak < PEAK_LIMIT, f"peak {peak / MIB:.1f} MiB"
    assert not BankFile.objects.filter(batch=batch, kind="result").exists()
    assert set(Transfer.objects.filter(batch=batch).values_list("status", flat=True)) == {"sent"}


def test_a_roster_expanding_to_500_mib_is_refused_before_it_is_parsed(demo, roster_bomb):
    clerk = login("provider_clerk")

    def post():
        upload = SimpleUploadedFile("花名册.xlsx", roster_bomb, content_type=roster.XLSX_CONTENT_TYPE)
        return clerk.post(IMPORT_URL, {**ROSTER_HEADER, "file": upload}, format="multipart")

    claims_before = Claim.objects.count()
    response, peak = peak_of(post)
    assert response.status_code == 400, response.content[:500]
    assert "解压后过大" in response.json()["error"]["fields"]["file"][0]
    assert "too large once decompressed" in response.json()["error"]["fields"]["file"][1]
    assert peak < PEAK_LIMIT, f"peak {peak / MIB:.1f} MiB"
    assert (Claim.objects.count(), RosterUpload.objects.count()) == (claims_before, 0)


def test_a_part_compressed_suspiciously_well_is_refused_even_under_the_size_limits():
    workbook = Workbook()
    workbook.active.append(["x"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    squeezed = bomb(buffer.getvalue(), unpacked=20 * MIB)  # 20 MiB, under every size limit, ratio ~1000
    with pytest.raises(SpreadsheetRefused) as refused:
        check_xlsx_archive(squeezed)
    assert refused.value.code == "suspicious_ratio"
    assert limits().max_ratio < 1000


def test_a_file_that_is_not_a_zip_or_not_a_workbook_is_refused_as_such():
    with pytest.raises(SpreadsheetRefused) as refused:
        check_xlsx_archive(b"PK\x03\x04 not really a zip")
    assert refused.value.code == "damaged"
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    with pytest.raises(SpreadsheetRefused) as refused:
        check_xlsx_archive(other.getvalue())
    assert refused.value.code == "not_xlsx"


# --------------------------------------------------------------------------- blank rows


@pytest.mark.parametrize("dimension", [None, "A1:J3"], ids=["no stated size", "a stated size that lies"])
def test_a_roster_of_two_million_blank_rows_is_refused_at_the_bound(demo, rows_read, dimension):
    content = sheet_with_blank_rows(fill_template([trainee_row(1)]), 2_000_000, dimension=dimension)
    clerk = login("provider_clerk")

    def post():
        upload = SimpleUploadedFile("花名册.xlsx", content, content_type=roster.XLSX_CONTENT_TYPE)
        return clerk.post(IMPORT_URL, {**ROSTER_HEADER, "file": upload}, format="multipart")

    response, peak = peak_of(post)
    assert response.status_code == 400, response.content[:500]
    message = response.json()["error"]["fields"]["file"][0]
    assert f"花名册超过 {roster.MAX_ROWS} 行" in message and "空行也计算在内" in message
    assert rows_read["rows"] == 0  # refused by the scan of claims.spreadsheets before openpyxl read a row
    assert peak < PEAK_LIMIT, f"peak {peak / MIB:.1f} MiB"
    assert RosterUpload.objects.count() == 0


def test_a_roster_whose_last_row_is_four_millions_rows_down_is_refused_at_the_bound(demo, rows_read):
    """openpyxl fills a gap between two rows with blank rows: they are counted as they come."""
    template = fill_template([trainee_row(1)])
    name = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(io.BytesIO(template)) as archive:
        xml = archive.read(name).decode()
    far = '<row r="4000000"><c r="A4000000" t="inlineStr"><is><t>x</t></is></c></row>'
    xml = re.sub(r'<dimension ref="[^"]*"\s*/>', "", xml.replace("</sheetData>", far + "</sheetData>"))
    content = rewritten(template, {name: xml.encode()})
    response = login("provider_clerk").post(
        IMPORT_URL, {**ROSTER_HEADER, "file": SimpleUploadedFile("r.xlsx", content)}, format="multipart"
    )
    assert response.status_code == 400
    assert f"花名册超过 {roster.MAX_ROWS} 行" in response.json()["error"]["fields"]["file"][0]
    assert rows_read["rows"] == 0


def test_blank_rows_inside_the_bound_are_skipped_and_the_roster_imports(demo):
    content = sheet_with_blank_rows(fill_template([trainee_row(1)]), 500, dimension=None)
    response = login("provider_clerk").post(
        IMPORT_URL, {**ROSTER_HEADER, "file": SimpleUploadedFile("r.xlsx", content)}, format="multipart"
    )
    assert response.status_code == 201, response.content[:500]


# --------------------------------------------------------------------------- many bad rows


def bad_rows(count: int) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(HEADER)
    writer.writerows(["PB-X", "x", "1", "-1", "?", "", ""] for _ in range(count))
    return text.getvalue().encode()


def test_a_bank_result_of_300000_bad_rows_is_refused_at_the_row_bound_with_a_small_body(demo, two_payees):
    _claim_a, _claim_b, batch = two_payees
    content = bad_rows(300_000)
    upload = SimpleUploadedFile("回单.csv", content, content_type="text/csv")
    response = login("finance_officer").post(f"/api/v1/payment-batches/{batch.pk}/results/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert len(response.content) < 2_000, len(response.content)
    assert response.json()["error"]["fields"]["file"] == [
        f"文件超过 {limits().max_rows} 行（至少有 {limits().max_rows + 1} 行，空行也计算在内）。"
    ]


def test_a_bank_result_wrong_in_every_row_lists_the_first_200_errors_and_the_total(demo, two_payees):
    _claim_a, _claim_b, batch = two_payees
    upload = SimpleUploadedFile("回单.csv", bad_rows(3_000), content_type="text/csv")
    response = login("finance_officer").post(f"/api/v1/payment-batches/{batch.pk}/results/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    body = response.json()["error"]
    listed = [message for name, messages in body["fields"].items() if name != "file" for message in messages]
    assert len(listed) == 200
    # Each row: batch number, sequence, amount, result: four errors, 12,000 in all.
    assert body["message"] == "银行回单文件有 12000 处错误，未作任何处理。"
    assert body["fields"]["file"] == ["仅列出前 200 处错误，另有 11800 处未列出（共 12000 处）。"]
    assert len(response.content) < 40_000, len(response.content)


# --------------------------------------------------------------------------- no lock while parsing


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_result_file_is_read_and_checked_before_the_batch_is_locked(demo, celery_eager):
    """Another transaction holds the batch's row lock: a bad file is still refused (400) at once,
    as it is read and checked before the lock is asked for; a good one waits for the lock."""
    claim = approved_claim(demo, serials=(1,))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=claim.jurisdiction)
    request_release(actor=demo["finance_officer2"], batch=batch)  # committed: the eager task ran on commit
    batch.refresh_from_db()
    assert batch.status == "released"
    settings = connection.settings_dict
    holder = psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None, port=settings["PORT"] or None,
    )  # fmt: skip
    try:
        holder.execute("SELECT id FROM payments_paymentbatch WHERE id = %s FOR UPDATE", [batch.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")  # a safety net: a regression fails instead of hanging
        with pytest.raises(InvalidInput) as refused:
            apply_bank_result(actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=bad_rows(10))
        assert "rows[2].批次号" in refused.value.fields
        good = csv_file(result_rows(batch, {1: "成功"}))
        with pytest.raises(Exception, match="lock timeout"):  # the good file does need the lock
            apply_bank_result(actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=good)
    finally:
        holder.rollback()
        holder.close()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    assert apply_bank_result(actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=good).changed


@override_settings(SPREADSHEET_MAX_ROWS=50)
def test_the_row_bound_is_a_setting(demo, two_payees):
    _claim_a, _claim_b, batch = two_payees
    with pytest.raises(InvalidInput) as refused:
        apply_bank_result(actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=bad_rows(60))
    assert refused.value.fields["file"] == ["文件超过 50 行（至少有 51 行，空行也计算在内）。"]


# --------------------------------------------------------------------------- a workbook damaged inside a row

PACKAGE_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/{sheet}" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "{types}</Types>"
)
PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="{target}" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>{relationships}</Relationships>'
)
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET_HEAD = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN_NS}"><sheetData>'
SHEET_TAIL = "</sheetData></worksheet>"


def package(sheet: str, *, sheet_path="xl/worksheets/sheet1.xml", parts=None, relationships="", types="") -> bytes:
    """A workbook written by hand, as a hostile uploader would: one sheet (``sheet``, its XML) at
    ``sheet_path``, found through the workbook's relationships, and ``parts`` besides."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", PACKAGE_TYPES.format(sheet=sheet_path, types=types))
        archive.writestr("_rels/.rels", PACKAGE_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.format(target="/" + sheet_path, relationships=relationships))
        archive.writestr(sheet_path, sheet)
        for name, data in (parts or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def title_row(titles) -> str:
    return '<row r="1">' + "".join(f'<c t="inlineStr"><is><t>{title}</t></is></c>' for title in titles) + "</row>"


DAMAGED_CELLS = {
    "a shared string past the table": '<c r="A2" t="s"><v>7</v></c>',
    "text in a number cell": '<c r="A2"><v>abc</v></c>',
}
DAMAGED = "文件可能已损坏"
CLASS_ROSTER_TITLES = ["身份证号码", "姓名"]
ATTENDANCE_TITLES = ["身份证号码", "日期", "出勤"]
EXPORT_TITLES = ["证书编号", "姓名", "身份证号码", "职业编码", "等级", "发证日期"]


def damaged_in_a_row(titles, cell: str) -> bytes:
    """A workbook that opens (its archive and XML are sound) and fails only while row 2 is read."""
    return package(SHEET_HEAD + title_row(titles) + f'<row r="2">{cell}</row>' + SHEET_TAIL)


@pytest.fixture(params=list(DAMAGED_CELLS.values()), ids=list(DAMAGED_CELLS))
def damaged_cell(request) -> str:
    return request.param


def test_a_class_filed_with_a_roster_damaged_inside_a_row_is_refused_as_damaged(demo, client, damaged_cell):
    start = datetime.date.today() + datetime.timedelta(days=21)
    form = {
        key: value for key, value in class_data(start=start, end=start + datetime.timedelta(days=4)).items() if key != "trainees"
    }
    client.force_login(demo["provider_clerk"])
    upload = SimpleUploadedFile("名单.xlsx", damaged_in_a_row(CLASS_ROSTER_TITLES, damaged_cell))
    response = client.post("/classes/new/", {**form, "file": upload})
    assert response.status_code == 400
    assert DAMAGED in response.content.decode()
    assert not TrainingClass.objects.exists()


def test_a_class_roster_or_attendance_damaged_inside_a_row_is_refused_as_damaged(demo, client, damaged_cell):
    training_class = filed(demo, 1)
    client.force_login(demo["provider_clerk"])
    for path, titles in (("roster", CLASS_ROSTER_TITLES), ("attendance", ATTENDANCE_TITLES)):
        upload = SimpleUploadedFile(f"{path}.xlsx", damaged_in_a_row(titles, damaged_cell))
        response = client.post(f"/classes/{training_class.pk}/{path}/", {"file": upload})
        assert response.status_code == 400, path
        assert DAMAGED in response.content.decode(), path
    assert training_class.trainees.count() == 1
    assert not Attendance.objects.exists()


def test_a_registry_export_damaged_inside_a_row_is_refused_as_damaged(demo, client, damaged_cell):
    client.force_login(demo["hr_reviewer"])
    upload = SimpleUploadedFile("证书.xlsx", damaged_in_a_row(EXPORT_TITLES, damaged_cell))
    response = client.post("/registry/", {"source": "台州市职业技能鉴定中心", "jurisdiction": "WL", "file": upload})
    assert response.status_code == 400
    assert DAMAGED in response.content.decode()
    assert not RegistryImport.objects.exists()


def test_every_reader_refuses_a_sheet_damaged_inside_a_row_as_damaged(demo, two_payees, damaged_cell):
    """The one definition (claims.spreadsheets.sheet_rows) serves every reader: the claim's
    roster, the class's roster and attendance, the registry's export and the bank's result."""
    for read, titles in (
        (roster.read_roster, [column.header() for column in roster.COLUMNS]),
        (roster.read_class_roster, CLASS_ROSTER_TITLES),
        (roster.read_attendance, ATTENDANCE_TITLES),
    ):
        with pytest.raises(roster.RosterFileError) as refused:
            read(damaged_in_a_row(titles, damaged_cell))
        assert [error["row"] for error in refused.value.errors] == [None]
        assert DAMAGED in refused.value.errors[0]["message"], read.__name__
    with pytest.raises(ExportRejected) as rejected:
        import_registry_export(
            actor=demo["hr_reviewer"],
            jurisdiction=Jurisdiction.objects.get(code="WL"),
            source="台州市职业技能鉴定中心",
            filename="证书.xlsx",
            content=damaged_in_a_row(EXPORT_TITLES, damaged_cell),
        )
    assert DAMAGED in rejected.value.message
    _claim_a, _claim_b, batch = two_payees
    with pytest.raises(InvalidInput) as unreadable:
        apply_bank_result(
            actor=demo["finance_officer"], batch=batch, filename="回单.xlsx", content=damaged_in_a_row(HEADER, damaged_cell)
        )
    assert unreadable.value.fields == {"file": ["不是有效的 .xlsx 文件。"]}
    assert set(Transfer.objects.filter(batch=batch).values_list("status", flat=True)) == {"sent"}


def test_a_workbook_without_a_worksheet_is_refused_as_damaged(demo):
    empty = rewritten(
        package(SHEET_HEAD + SHEET_TAIL),
        {"xl/workbook.xml": WORKBOOK.replace('<sheet name="Sheet1" sheetId="1" r:id="rId1"/>', "").encode()},
    )
    with pytest.raises(roster.RosterFileError) as refused:
        roster.read_attendance(empty)
    assert DAMAGED in refused.value.errors[0]["message"]


# --------------------------------------------------------------------------- every part openpyxl could read

ROSTER_TITLES = [column.header() for column in roster.COLUMNS]
STYLES_REL = (
    '<Relationship Id="rIdStyles" Target="styles.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"/>'
)
STYLES_TYPE = (
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
)
DTD = '<!DOCTYPE x [<!ENTITY a "AAAAAAAAAA">]>'


def import_roster(content: bytes):
    return login("provider_clerk").post(
        IMPORT_URL, {**ROSTER_HEADER, "file": SimpleUploadedFile("花名册.xlsx", content)}, format="multipart"
    )


def refusal_of(response) -> str:
    assert response.status_code == 400, response.content[:500]
    assert RosterUpload.objects.count() == 0
    return response.json()["error"]["fields"]["file"][0]


def with_shared_strings(sheet: str, strings: str) -> bytes:
    return package(
        sheet,
        parts={"xl/sharedStrings.xml": strings},
        relationships=SHARED_STRINGS_REL.replace('Target="sharedStrings.xml"', 'Target="/xl/sharedStrings.xml"'),
        types=SHARED_STRINGS_TYPE,
    )


def test_a_sheet_stored_outside_xl_worksheets_is_bounded_all_the_same(demo, rows_read):
    """openpyxl finds a sheet through the workbook's relationships, wherever it is stored."""
    blank_rows = "<row/>" * (roster.MAX_ROWS + 1)
    content = package(SHEET_HEAD + title_row(ROSTER_TITLES) + blank_rows + SHEET_TAIL, sheet_path="xl/data/sheet1.xml")
    message = refusal_of(import_roster(content))
    assert f"花名册超过 {roster.MAX_ROWS} 行" in message
    assert rows_read["rows"] == 0  # refused by the scan, before openpyxl read a row


@pytest.mark.parametrize("where", ["the sheet, stored outside xl/worksheets", "the shared strings"])
def test_a_dtd_in_any_part_is_refused_as_damaged(demo, where):
    """Entity expansion starts at a DTD, which no spreadsheet needs."""
    expanded = "&a;" * 1000
    if where == "the shared strings":
        strings = f'<?xml version="1.0"?>{DTD}<sst xmlns="{MAIN_NS}"><si><t>{expanded}</t></si></sst>'
        row = '<row r="2"><c r="B2" t="s"><v>0</v></c></row>'
        content = with_shared_strings(SHEET_HEAD + title_row(ROSTER_TITLES) + row + SHEET_TAIL, strings)
    else:
        row = f'<row r="2"><c r="B2" t="inlineStr"><is><t>{expanded}</t></is></c></row>'
        sheet = f'<?xml version="1.0"?>{DTD}<worksheet xmlns="{MAIN_NS}"><sheetData>' + title_row(ROSTER_TITLES) + row
        content = package(sheet + SHEET_TAIL, sheet_path="xl/data/sheet1.xml")
    assert DAMAGED in refusal_of(import_roster(content))


def test_a_row_of_more_cells_than_the_column_bound_is_refused_before_it_is_read(demo, rows_read):
    """A row of thousands of empty cells: openpyxl would build every one of them."""
    row = '<row r="2">' + "<c/>" * 5_000 + "</row>"
    content = package(SHEET_HEAD + title_row(ROSTER_TITLES) + row + SHEET_TAIL)
    assert refusal_of(import_roster(content)) == f"第2行超过 {limits().max_columns} 列，无法处理。"
    assert rows_read["rows"] == 0


@override_settings(SPREADSHEET_MAX_CELLS=100)
def test_the_rows_and_cells_of_all_sheets_and_the_shared_strings_are_bounded(demo, rows_read):
    rows = "".join(f'<row r="{number}">' + "<c/>" * 10 + "</row>" for number in range(2, 12))  # 100 cells and the titles
    content = package(SHEET_HEAD + title_row(ROSTER_TITLES) + rows + SHEET_TAIL)
    assert refusal_of(import_roster(content)) == "文件的行和单元格过多（共超过 100 个），无法处理。"
    blank_rows = SHEET_HEAD + "<row/>" * 60 + SHEET_TAIL  # two sheets under the row bound, over this one together
    content = package(blank_rows, parts={"xl/worksheets/sheet2.xml": blank_rows})
    assert refusal_of(import_roster(content)) == "文件的行和单元格过多（共超过 100 个），无法处理。"
    strings = f'<?xml version="1.0"?><sst xmlns="{MAIN_NS}">' + "<si><t>x</t></si>" * 101 + "</sst>"
    content = with_shared_strings(SHEET_HEAD + title_row(ROSTER_TITLES) + SHEET_TAIL, strings)
    assert refusal_of(import_roster(content)) == "文件的共享文本过多（超过 100 条），无法处理。"
    assert rows_read["rows"] == 0


@override_settings(SPREADSHEET_MAX_ELEMENTS=5_000)
def test_a_styles_part_of_too_many_entries_is_refused_before_openpyxl_builds_it(demo, two_payees):
    """openpyxl builds the styles whole when it opens the workbook (2 million <xf/> took 1.3 GB)."""
    _claim_a, _claim_b, batch = two_payees
    styles = (
        f'<?xml version="1.0"?><styleSheet xmlns="{MAIN_NS}"><cellXfs count="6000">' + "<xf/>" * 6_000 + "</cellXfs></styleSheet>"
    )
    content = package(
        SHEET_HEAD + title_row(HEADER) + SHEET_TAIL, parts={"xl/styles.xml": styles}, relationships=STYLES_REL, types=STYLES_TYPE
    )
    with pytest.raises(InvalidInput) as refused:
        apply_bank_result(actor=demo["finance_officer"], batch=batch, filename="回单.xlsx", content=content)
    assert refused.value.fields == {"file": ["文件的结构过于复杂（到部件 xl/styles.xml 已超过 5000 个元素），无法处理。"]}
    assert set(Transfer.objects.filter(batch=batch).values_list("status", flat=True)) == {"sent"}


def test_a_row_number_of_thousands_of_digits_is_refused_as_too_many_rows(demo):
    far = "9" * 5_000
    row = f'<row r="{far}"><c r="A{far}" t="inlineStr"><is><t>x</t></is></c></row>'
    content = package(SHEET_HEAD.replace("<sheetData>", f'<dimension ref="A1:A{far}"/><sheetData>') + row + SHEET_TAIL)
    assert f"花名册超过 {roster.MAX_ROWS} 行" in refusal_of(import_roster(content))


def test_a_part_that_is_not_xml_such_as_an_image_is_left_to_openpyxl(demo):
    """The scan bounds what an XML parser would read: a binary part fails it at its first byte."""
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    content = rewritten(fill_template([trainee_row(1)]), {"xl/media/image1.png": png}, add=["xl/media/image1.png"])
    response = import_roster(content)
    assert response.status_code == 201, response.content[:500]
