"""联网核查: every line's certificate is checked at its source at submission and at each review,
and again on demand; a revoked, forged or mismatched certificate flags the line CERT_INVALID
(no override lifts it); an unknown one is left to the reviewer (advisory) or flagged
CERT_UNKNOWN (required); a certificate revoked after payment opens a recovery order.

The people are the demo's: 学员1 and 学员2 on 温岭市某职业技能培训学校's 低压电工作业 class (S3,
special-operation certificates T-00001, T-00002), issued by the demo's assessment body."""

import datetime
import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from claims.certificate_checks import latest_checks
from claims.errors import InvalidInput
from claims.models import CertificateCheck, ClaimLine, IssuedCertificate, Jurisdiction, RegistryImport
from claims.registry import import_registry_export
from claims.services import create_claim
from demo import assessment
from payments.models import RecoveryOrder
from workflow.services import decide_task, override_flag, submit_claim

from .conftest import claim_data, line, resident_id
from .payments_support import approved_claim, open_task_id
from .test_audit_completeness import Ledger
from .test_payment_results import csv_file, released_batch, result_rows

TODAY = datetime.date.today()
CERTIFICATE_DATE = TODAY - datetime.timedelta(days=30)  # the date conftest's lines carry


def issue(serial: int, **overrides) -> IssuedCertificate:
    fields = {
        "number": f"T-{serial:05d}",
        "holder_name": f"学员{serial}",
        "holder_id_number": resident_id(serial),
        "certificate_date": CERTIFICATE_DATE,
    }
    fields.update(overrides)
    return assessment.issue(**fields)


def draft(demo, *serials, **line_fields):
    lines = [line(resident_id(n), f"学员{n}", certificate_number=f"T-{n:05d}", **line_fields) for n in serials]
    return create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines))


def flags_of(claim, line_no=1) -> list[str]:
    return [flag["code"] for flag in ClaimLine.objects.get(claim=claim, line_no=line_no).flags]


def test_the_demo_bodys_own_certificates_verify_at_submission_and_the_reviewer_sees_the_source(demo, client):
    issue(1)
    issue(2)
    claim = draft(demo, 1, 2)
    assert not CertificateCheck.objects.filter(line__claim=claim).exists()  # a draft is not checked
    submit_claim(user=demo["provider_clerk"], claim=claim)
    checks = latest_checks(claim)
    assert [(c.result, c.source, c.occasion) for c in checks.values()] == [
        ("verified", assessment.BODY_NAME, "submission"),
        ("verified", assessment.BODY_NAME, "submission"),
    ]
    assert flags_of(claim) == [] and flags_of(claim, 2) == []
    # The API line and the claim page show the latest check.
    api = APIClient()
    api.force_authenticate(demo["dept_reviewer"])
    body = api.get(f"/api/v1/claims/{claim.pk}/").json()
    assert body["lines"][0]["certificate_check"]["result"] == "verified"
    assert body["lines"][0]["certificate_check"]["source"] == assessment.BODY_NAME
    client.force_login(demo["dept_reviewer"])
    page = client.get(reverse("approvals:claim", args=[claim.pk])).content.decode()
    assert 'data-check="verified"' in page and assessment.BODY_NAME in page
    # The auditor's timeline of the claim holds its certificate checks.
    client.force_login(demo["auditor"])
    timeline = client.get(reverse("audit:timeline", args=[claim.pk])).content.decode()
    assert timeline.count('data-check="verified"') == 2
    # Each review checks again: the reviewer decides on the latest.
    decide_task(user=demo["dept_reviewer"], task_id=open_task_id(claim), decision="approve")
    assert CertificateCheck.objects.filter(line__claim=claim, occasion="review").count() == 2


def test_a_forged_date_fails_the_signature_and_no_override_lifts_it(demo):
    record = issue(1)
    # Someone changes the registry's copy to the date the claim needs, without the body's key.
    IssuedCertificate.objects.filter(pk=record.pk).update(certificate_date=CERTIFICATE_DATE - datetime.timedelta(days=3))
    claim = draft(demo, 1, certificate_date=(CERTIFICATE_DATE - datetime.timedelta(days=3)).isoformat())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    check = latest_checks(claim)[ClaimLine.objects.get(claim=claim).pk]
    assert check.result == "invalid"
    assert [p["code"] for p in check.problems] == ["signature"]
    assert flags_of(claim) == ["CERT_INVALID"]
    decide_task(user=demo["dept_reviewer"], task_id=open_task_id(claim), decision="approve")
    line_id = ClaimLine.objects.get(claim=claim).pk
    with pytest.raises(InvalidInput) as refused:
        override_flag(user=demo["hr_reviewer"], line_id=line_id, code="CERT_INVALID", reason="纸质证书看过了")
    assert "不能豁免" in refused.value.fields["code"][0]
    with pytest.raises(InvalidInput):  # the HR approval cannot pass the flagged line
        decide_task(user=demo["hr_reviewer"], task_id=open_task_id(claim), decision="approve")


def test_a_certificate_of_another_level_or_holder_is_invalid(demo):
    issue(1, level="intermediate")  # the body issued 中级工; the claim says 高级工
    issue(2, holder_id_number=resident_id(9))  # T-00002 is someone else's
    claim = draft(demo, 1, 2)
    submit_claim(user=demo["provider_clerk"], claim=claim)
    checks = list(latest_checks(claim).values())
    assert [[p["code"] for p in c.problems] for c in checks] == [["level"], ["holder"]]
    assert flags_of(claim) == ["CERT_INVALID"] and flags_of(claim, 2) == ["CERT_INVALID"]


def test_an_unknown_certificate_is_for_the_reviewer_where_advisory_and_a_flag_where_required(demo):
    claim = draft(demo, 1)  # no registry knows T-00001
    submit_claim(user=demo["provider_clerk"], claim=claim)
    assert [c.result for c in latest_checks(claim).values()] == ["unknown"]
    assert flags_of(claim) == []  # 温岭 is advisory: shown as unverified, checked by hand
    Jurisdiction.objects.filter(code="WL").update(certificate_check_mode="required")
    decide_task(user=demo["dept_reviewer"], task_id=open_task_id(claim), decision="approve")
    assert flags_of(claim) == ["CERT_UNKNOWN"]
    # HR checked it by hand at the body: a written override lets the approval pass.
    override_flag(
        user=demo["hr_reviewer"], line_id=ClaimLine.objects.get(claim=claim).pk, code="CERT_UNKNOWN", reason="电话核实鉴定中心"
    )
    decide_task(user=demo["hr_reviewer"], task_id=open_task_id(claim), decision="approve")
    claim.refresh_from_db()
    assert claim.status == "approved"


def test_a_certificate_revoked_between_submission_and_review_is_flagged_at_the_review(demo):
    record = issue(1)
    claim = draft(demo, 1)
    submit_claim(user=demo["provider_clerk"], claim=claim)
    assert flags_of(claim) == []
    assessment.revoke(record, on=TODAY)
    decide_task(user=demo["dept_reviewer"], task_id=open_task_id(claim), decision="approve")
    assert flags_of(claim) == ["CERT_INVALID"]
    assert [p["code"] for c in latest_checks(claim).values() for p in c.problems] == ["revoked"]


def test_a_certificate_revoked_after_payment_opens_a_recovery_order(
    demo, django_capture_on_commit_callbacks, celery_eager, apply_result
):
    records = [issue(1), issue(2)]
    claim = approved_claim(demo, serials=(1, 2))
    batch = released_batch(demo, django_capture_on_commit_callbacks)

    apply_result(
        actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=csv_file(result_rows(batch, {1: "成功"}))
    )
    claim.refresh_from_db()
    assert claim.status == "paid"
    assessment.revoke(records[0], on=TODAY)
    ledger = Ledger()
    out = io.StringIO()
    with ledger.expect("claim.certificates_checked", "recovery.opened"):
        call_command("recheck_certificates", by="hr_reviewer", claim=[claim.number], stdout=out)
    assert "1 recovery order(s) opened" in out.getvalue()
    order = RecoveryOrder.objects.get()
    first = ClaimLine.objects.get(claim=claim, line_no=1)
    assert (order.claim_line_id, order.amount_due, order.reason_code, order.payer_kind) == (
        first.pk,
        first.amount,
        "revoked",
        "provider",
    )
    assert first.amount == Decimal("450.00")
    assert flags_of(claim) == ["CERT_INVALID"] and flags_of(claim, 2) == []
    # Checking again opens no second order for the same line.
    call_command("recheck_certificates", by="hr_reviewer", claim=[claim.number], stdout=io.StringIO())
    assert RecoveryOrder.objects.count() == 1


def export_csv(rows) -> bytes:
    header = ["证书编号", "姓名", "身份证号码", "职业编码", "等级", "发证日期", "状态"]
    return csv_file(rows, header=header, trailer=False)


def test_a_registry_export_answers_where_there_is_no_online_registry(demo):
    ledger = Ledger()
    wl = Jurisdiction.objects.get(code="WL")
    with ledger.nothing(), pytest.raises(InvalidInput) as refused:
        import_registry_export(
            actor=demo["hr_reviewer"],
            jurisdiction=wl,
            source="台州市职业技能鉴定中心",
            filename="证书.csv",
            content=export_csv([["T-00001", "学员1", "123", "6-31-01-03", "高级工", CERTIFICATE_DATE.isoformat(), "有效"]]),
        )
    assert "第 2 行“身份证号码”" in refused.value.fields["rows[2].id_number"][0]
    with ledger.expect("registry.imported"):
        imported = import_registry_export(
            actor=demo["hr_reviewer"],
            jurisdiction=wl,
            source="台州市职业技能鉴定中心",
            filename="证书.csv",
            content=export_csv(
                [
                    ["T-00001", "学员1", resident_id(1), "6-31-01-03", "高级工", CERTIFICATE_DATE.isoformat(), "有效"],
                    ["T-00002", "学员2", resident_id(2), "6-31-01-03", "高级工", CERTIFICATE_DATE.isoformat(), "已撤销"],
                ]
            ),
        )
    assert RegistryImport.objects.get(pk=imported.pk).row_count == 2
    claim = draft(demo, 1, 2)
    submit_claim(user=demo["provider_clerk"], claim=claim)
    checks = list(latest_checks(claim).values())
    assert [c.result for c in checks] == ["verified", "invalid"]
    assert checks[0].source.startswith("台州市职业技能鉴定中心")
    assert flags_of(claim) == [] and flags_of(claim, 2) == ["CERT_INVALID"]


def test_the_administrator_rechecks_selected_claims_from_the_admin(demo, client):
    record = issue(1)
    claim = draft(demo, 1)
    submit_claim(user=demo["provider_clerk"], claim=claim)
    assessment.revoke(record, on=TODAY)
    client.force_login(demo["admin"])
    response = client.post(
        reverse("admin:claims_claim_changelist"),
        {"action": "recheck_certificates", "_selected_action": [claim.pk]},
        secure=True,
    )
    assert response.status_code == 302, response.status_code
    assert flags_of(claim) == ["CERT_INVALID"]
    assert CertificateCheck.objects.filter(line__claim=claim, occasion="recheck", checked_by=demo["admin"]).count() == 1


def export_xlsx(rows) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["证书编号", "姓名", "身份证号码", "职业编码", "等级", "发证日期", "状态"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_the_hr_bureau_imports_a_registry_export_on_its_page_all_or_nothing(demo, client):
    """温岭's HR reviewer imports the 台州市职业技能鉴定中心's export on the registry page. The first
    file has a formula in row 3's name, a bad ID number in row 4 and row 5 repeats row 2's
    certificate: each is named by row and column, and nothing is saved. Fixed, it imports, the
    ledger records it, and the certificates answer at submission. A department reviewer may not."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from audit.models import AuditEvent
    from claims.models import RegistryEntry

    good = ["T-00001", "学员1", resident_id(1), "6-31-01-03", "高级工", CERTIFICATE_DATE, "有效"]
    bad = export_xlsx(
        [
            good,
            ["T-00002", '=HYPERLINK("http://x","学员2")', resident_id(2), "6-31-01-03", "高级工", CERTIFICATE_DATE, "有效"],
            ["T-00003", "学员3", "110105194912310021", "6-31-01-03", "高级工", CERTIFICATE_DATE, "有效"],
            ["T-00001", "学员1", resident_id(1), "6-31-01-03", "高级工", CERTIFICATE_DATE, "有效"],
        ]
    )
    client.force_login(demo["hr_reviewer"])
    assert client.get("/registry/").status_code == 200
    refused = client.post("/registry/", {"source": "台州市职业技能鉴定中心", "file": SimpleUploadedFile("证书.xlsx", bad)})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert 'data-row="3" data-field="name"' in page and "不接受公式" in page
    assert 'data-row="4" data-field="id_number"' in page
    # The roster's table (one include): row, the column by its header, the problem.
    assert re.search(r'data-row="4" data-field="id_number">\s*<td class="num">4</td>\s*<td class="nowrap">身份证号码</td>', page)
    assert 'data-row="5" data-field="number"' in page and "与第 2 行重复" in page
    assert not RegistryImport.objects.exists() and not RegistryEntry.objects.exists()
    assert not AuditEvent.objects.filter(action="registry.imported").exists()

    fixed = export_xlsx([good, ["T-00002", "学员2", resident_id(2), "6-31-01-03", "高级工", CERTIFICATE_DATE, "已撤销"]])
    done = client.post("/registry/", {"source": "台州市职业技能鉴定中心", "file": SimpleUploadedFile("证书.xlsx", fixed)})
    assert done.status_code == 302
    imported = RegistryImport.objects.get()
    assert imported.row_count == 2 and imported.imported_by == demo["hr_reviewer"]
    assert AuditEvent.objects.filter(action="registry.imported", actor=demo["hr_reviewer"]).count() == 1
    assert "证书.xlsx" in client.get("/registry/").content.decode()
    claim = draft(demo, 1, 2)
    submit_claim(user=demo["provider_clerk"], claim=claim)
    assert flags_of(claim, 2) == ["CERT_INVALID"]

    client.force_login(demo["dept_reviewer"])
    assert client.get("/registry/").status_code == 403
    assert client.post("/registry/", {"source": "x", "file": SimpleUploadedFile("证书.xlsx", fixed)}).status_code == 403
    assert RegistryImport.objects.count() == 1


def test_the_command_imports_through_the_same_path_and_names_the_row(demo, tmp_path):
    from django.core.management.base import CommandError

    path = tmp_path / "证书.csv"
    path.write_bytes(
        export_csv([["T-00001", "学员1", resident_id(1), "6-31-01-03", "九级工", CERTIFICATE_DATE.isoformat(), "有效"]])
    )
    with pytest.raises(CommandError) as refused:
        call_command("import_registry_export", str(path), jurisdiction="WL", source="台州", by="hr_reviewer")
    assert "rows[2].level" in str(refused.value) and "第 2 行“等级”" in str(refused.value)
    assert not RegistryImport.objects.exists()
