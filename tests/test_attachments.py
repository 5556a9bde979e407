"""A provider attaches the evidence of a claim (certificate scans, the signed roster, the
attendance sheet, invoices); the reviewers and the auditor read it; nobody else does.

钱老师 (provider_clerk of 温岭某职业技能培训学校) scans the certificates of the 低压电工 class,
attaches them to the draft and submits it. The department's reviewer returns it (材料不全),
pointing at the unreadable scan; she adds a better one. The other school's clerk cannot reach
any of it; every upload and download is in the ledger."""

import io
import zipfile
from pathlib import Path

import pytest
from django.test import Client

from audit import actions
from audit.models import AuditEvent
from claims import attachments
from claims.errors import ActionForbidden, InvalidInput, NotInScope
from claims.models import Attachment, Claim
from workflow import selectors as inbox
from workflow.services import decide_task, submit_claim

from .api_support import create_claim, error, login, ok
from .conftest import claim_data

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    return buffer.getvalue()


def stored_files(directory) -> list[Path]:
    return [path for path in Path(directory).rglob("*") if path.is_file()]


@pytest.fixture
def draft(demo):
    return Claim.objects.get(pk=create_claim(login("provider_clerk"), claim_data())["id"])


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(client, claim, content: bytes, name: str, kind="certificate", line=""):
    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile(name, content, content_type="application/pdf")  # what the browser claims, never believed
    return client.post(f"/claims/{claim.pk}/attachments/", {"file": file, "kind": kind, "line": line})


def test_a_provider_attaches_scans_and_only_people_in_scope_download_them(demo, draft, attachments_dir):
    clerk = page_client(demo["provider_clerk"])
    files_before = set(stored_files(attachments_dir))
    response = upload(clerk, draft, PDF, "张三-证书.pdf", line="1")
    assert response.status_code == 302
    document = Attachment.objects.get(claim=draft)
    assert (document.kind, document.line_no, document.filename, document.content_type) == (
        "certificate",
        1,
        "张三-证书.pdf",
        "application/pdf",
    )
    # Stored outside the database under a random name, not the one given.
    (path,) = set(stored_files(attachments_dir)) - files_before
    assert path.read_bytes() == PDF and path.name == document.storage_name and "证书" not in str(path)
    page = clerk.get(f"/claims/{draft.pk}/").content.decode()
    assert "张三-证书.pdf" in page and f"/claims/{draft.pk}/attachments/{document.pk}/" in page

    # A draft's documents are its provider's alone: not the department's yet, nor the auditor's.
    url = f"/claims/{draft.pk}/attachments/{document.pk}/"
    for outsider in ("provider2_clerk", "dept_reviewer", "auditor"):
        assert page_client(demo[outsider]).get(url).status_code == 404, outsider
    submit_claim(user=demo["provider_clerk"], claim=draft)

    # Submitted: the department's reviewer and the jurisdiction's auditor read it; the other school never.
    for reader in ("dept_reviewer", "auditor"):
        response = page_client(demo[reader]).get(url)
        assert response.status_code == 200, reader
        assert response.content == PDF
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
    assert page_client(demo["provider2_clerk"]).get(url).status_code == 404
    assert page_client(demo["dept2_reviewer"]).get(url).status_code == 404
    error(login("provider2_clerk").get(f"/api/v1/claims/{draft.pk}/attachments/{document.pk}/download/"), 404)
    error(login("provider2_clerk").get(f"/api/v1/claims/{draft.pk}/attachments/"), 404)
    # A document of another claim named under this one: not found either.
    other = Claim.objects.get(pk=create_claim(login("provider2_clerk"), claim_data())["id"])
    with pytest.raises(NotInScope):
        attachments.download_attachment(user=demo["provider2_clerk"], claim_id=other.pk, attachment_id=document.pk)

    # Every upload and every download is in the ledger, with who and what.
    entries = AuditEvent.objects.filter(claim_id=draft.pk, action__startswith="attachment.").order_by("seq")
    assert [(entry.action, entry.actor_username) for entry in entries] == [
        (actions.ATTACHMENT_UPLOADED, "provider_clerk"),
        (actions.ATTACHMENT_DOWNLOADED, "dept_reviewer"),
        (actions.ATTACHMENT_DOWNLOADED, "auditor"),
    ]
    assert entries[0].detail["sha256"] == document.sha256 and entries[0].detail["line"] == 1
    # The auditor's timeline says it in words.
    timeline = page_client(demo["auditor"]).get(f"/audit/claims/{draft.pk}/").content.decode()
    assert "上传材料" in timeline and "下载材料" in timeline and "文件名: 张三-证书.pdf · 行号 1" in timeline


@pytest.mark.parametrize(
    ("content", "name"),
    [(HTML, "certificate.pdf"), (_zip(), "invoice.pdf"), (b"MZ\x90\x00", "roster.jpg"), (b"", "empty.pdf")],
    ids=["html-named-pdf", "zip-named-pdf", "exe-named-jpg", "empty"],
)
def test_a_file_is_judged_by_its_bytes_not_its_name(demo, draft, attachments_dir, content, name):
    clerk = login("provider_clerk")
    files_before = len(stored_files(attachments_dir))
    refused = error(clerk.post(f"/api/v1/claims/{draft.pk}/attachments/", {"file": _file(content, name), "kind": "invoice"}), 400)
    assert list(refused["fields"]) == ["file"]
    assert not Attachment.objects.exists() and len(stored_files(attachments_dir)) == files_before
    assert not AuditEvent.objects.filter(action=actions.ATTACHMENT_UPLOADED).exists()


def test_an_image_is_kept_as_what_it_is_whatever_it_was_called(demo, draft):
    clerk = login("provider_clerk")
    png = ok(clerk.post(f"/api/v1/claims/{draft.pk}/attachments/", {"file": _file(PNG, "考勤表.pdf"), "kind": "attendance"}), 201)
    jpeg = ok(
        clerk.post(f"/api/v1/claims/{draft.pk}/attachments/", {"file": _file(JPEG, "../../etc/发票"), "kind": "invoice"}), 201
    )
    assert (png["content_type"], png["filename"]) == ("image/png", "考勤表.png")
    assert (jpeg["content_type"], jpeg["filename"]) == ("image/jpeg", "发票.jpg")
    listed = ok(clerk.get(f"/api/v1/claims/{draft.pk}/attachments/"))
    assert [item["kind_label"] for item in listed] == ["考勤表", "发票"]
    downloaded = clerk.get(listed[1]["download"])
    assert downloaded.status_code == 200 and downloaded.content == JPEG
    assert "filename*=utf-8''%E5%8F%91%E7%A5%A8.jpg" in downloaded["Content-Disposition"]


def test_a_file_over_the_limit_is_refused_naming_the_field(demo, draft, settings, attachments_dir):
    settings.ATTACHMENT_MAX_BYTES = 1024
    clerk = login("provider_clerk")
    files_before = len(stored_files(attachments_dir))
    refused = error(
        clerk.post(f"/api/v1/claims/{draft.pk}/attachments/", {"file": _file(PDF + b" " * 1024, "big.pdf"), "kind": "roster"}),
        400,
    )
    assert list(refused["fields"]) == ["file"] and "文件过大" in refused["fields"]["file"][0]
    # Far larger: refused from the announced length, before the body is read.
    far = clerk.post(
        f"/api/v1/claims/{draft.pk}/attachments/",
        {"file": _file(PDF + b" " * 200_000, "huge.pdf"), "kind": "roster"},
    )
    assert far.status_code == 400 and list(far.json()["error"]["fields"]) == ["file"]
    response = upload(page_client(demo["provider_clerk"]), draft, PDF + b" " * 1024, "big.pdf")
    assert response.status_code == 400
    assert "文件过大" in response.content.decode()
    assert not Attachment.objects.exists() and len(stored_files(attachments_dir)) == files_before


def test_bad_kind_or_line_is_named(demo, draft):
    with pytest.raises(InvalidInput) as refused:
        attachments.add_attachment(
            user=demo["provider_clerk"], claim=draft, kind="selfie", content=PDF, filename="a.pdf", line_no="9"
        )
    assert set(refused.value.fields) == {"kind", "line"}
    for line_no in ("99999999999999999999", "１", "-1"):  # past the column, a full-width digit, negative
        with pytest.raises(InvalidInput) as refused:
            attachments.add_attachment(
                user=demo["provider_clerk"], claim=draft, kind="roster", content=PDF, filename="a.pdf", line_no=line_no
            )
        assert list(refused.value.fields) == ["line"], line_no


def test_documents_are_added_while_the_claim_is_in_the_providers_hands(demo, draft):
    clerk = demo["provider_clerk"]
    attachments.add_attachment(user=clerk, claim=draft, kind="roster", content=PDF, filename="花名册.pdf")
    submit_claim(user=clerk, claim=draft)
    # Under review: the reviewers decide on what was submitted.
    with pytest.raises(ActionForbidden):
        attachments.add_attachment(user=clerk, claim=draft, kind="invoice", content=PDF, filename="发票.pdf")
    error(
        login("provider_clerk").post(f"/api/v1/claims/{draft.pk}/attachments/", {"file": _file(PDF, "a.pdf"), "kind": "invoice"}),
        403,
    )
    # Nor may a reviewer add documents in the provider's name.
    with pytest.raises(ActionForbidden):
        attachments.add_attachment(user=demo["dept_reviewer"], claim=draft, kind="invoice", content=PDF, filename="发票.pdf")
    assert Attachment.objects.filter(claim=draft).count() == 1


def test_a_return_for_missing_material_points_at_the_document(demo, draft):
    clerk = demo["provider_clerk"]
    scan = attachments.add_attachment(
        user=clerk, claim=draft, kind="certificate", content=PDF, filename="模糊的证书.pdf", line_no=2
    )
    task = inbox.open_task_of_claim(submit_claim(user=clerk, claim=draft))
    reviewer = login("dept_reviewer")
    ok(reviewer.post(f"/api/v1/tasks/{task.pk}/take/"))
    wrong = error(
        reviewer.post(
            f"/api/v1/tasks/{task.pk}/decide/",
            {"decision": "return", "comment": "材料不全", "fix": {"attachments": [scan.pk + 999]}},
            format="json",
        ),
        400,
    )
    assert list(wrong["fields"]) == ["fix.attachments[0]"]
    decide_task(
        user=demo["dept_reviewer"],
        task_id=task.pk,
        decision="return",
        comment="材料不全：第2行证书扫描件看不清",
        fix={"attachments": [scan.pk]},
    )
    returned = AuditEvent.objects.filter(claim_id=draft.pk, action=actions.CLAIM_RETURNED).get()
    assert returned.detail["fix"]["attachments"] == [scan.pk]

    page = page_client(clerk).get(f"/claims/{draft.pk}/").content.decode()
    assert "所指材料" in page and f'href="/claims/{draft.pk}/#attachment-{scan.pk}"' in page and "模糊的证书.pdf" in page
    assert "补充或更正所指材料" in page
    edit = page_client(clerk).get(f"/claims/{draft.pk}/edit/").content.decode()  # the reason, repeated while editing
    assert "材料不全：第2行证书扫描件看不清" in edit and "模糊的证书.pdf" in edit
    # Returned: she may add the better scan.
    response = upload(page_client(clerk), draft, PDF, "清晰的证书.pdf", line="2")
    assert response.status_code == 302
    assert Attachment.objects.filter(claim=draft).count() == 2


def _file(content: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/pdf")
