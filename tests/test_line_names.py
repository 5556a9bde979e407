"""A person (Trainee) is one record per ID number across every provider; the name is not theirs to
share. Each claim line and each class's roster place keeps the name typed on it, and everything
that shows a line's person shows that name: a clerk typing an ID number learns nothing of what
another provider typed with it."""

import datetime
import io
import json

from django.test import Client
from openpyxl import load_workbook
from rest_framework.test import APIClient
from viewflow.workflow.models import Process

from claims.models import ClaimLine, Jurisdiction, Trainee
from claims.services import create_claim
from workflow.services import decide_task, submit_claim

from .conftest import TODAY, claim_data, line, resident_id
from .payments_support import approved_claim, open_task_id
from .test_class_filing import class_data, filed
from .test_resubmission import FIX_LINE_2_CERTIFICATE, at_hr_review, corrected_and_resubmitted, returned_by

REAL, TYPED = "欧阳真名", "随便写的名字"


def first_provider_submits(demo, serial: int, name: str = REAL):
    """WL-P001 claims for the person first: the person's record is made with its name."""
    data = claim_data(lines=[line(resident_id(serial), name, certificate_number=f"N-{serial:05d}")])
    claim = create_claim(user=demo["provider_clerk"], data=data)
    submit_claim(user=demo["provider_clerk"], claim=claim)
    return claim


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_second_provider_typing_the_id_number_sees_only_its_own_name_through_the_api(demo):
    first_provider_submits(demo, 901)
    client = api(demo["provider2_clerk"])
    data = claim_data(lines=[line(resident_id(901), TYPED, certificate_number="M-00901")])
    created = client.post("/api/v1/claims/", data, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["lines"][0]["trainee_name"] == TYPED
    claim_id = created.json()["id"]
    for response in (created, client.get(f"/api/v1/claims/{claim_id}/"), client.get("/api/v1/claims/")):
        assert response.status_code in (200, 201) and REAL not in response.content.decode()
    # The first provider's line keeps its own name.
    assert set(ClaimLine.objects.filter(certificate_number__startswith="M-00901").values_list("name", flat=True)) == {TYPED}
    assert set(ClaimLine.objects.filter(certificate_number="N-00901").values_list("name", flat=True)) == {REAL}


def test_a_second_provider_sees_only_its_own_name_on_the_claim_pages(demo):
    first_provider_submits(demo, 902)
    claim = create_claim(
        user=demo["provider2_clerk"], data=claim_data(lines=[line(resident_id(902), TYPED, certificate_number="M-00902")])
    )
    client = Client()
    client.force_login(demo["provider2_clerk"])
    for url in (f"/claims/{claim.pk}/", f"/claims/{claim.pk}/edit/"):
        page = client.get(url)
        assert page.status_code == 200
        assert TYPED in page.content.decode() and REAL not in page.content.decode(), url


def test_a_second_provider_filing_a_class_sees_only_its_own_names(demo):
    data = class_data(903)
    data["trainees"][0]["name"] = REAL
    filed(demo, 903, trainees=data["trainees"])
    start = TODAY + datetime.timedelta(days=14)
    body = class_data(903, start=start, end=start + datetime.timedelta(days=4))
    body["trainees"][0]["name"] = TYPED
    client = api(demo["provider2_clerk"])
    created = client.post("/api/v1/classes/", body, format="json")
    assert created.status_code == 201, created.content
    assert [place["name"] for place in created.json()["trainees"]] == [TYPED]
    assert REAL not in client.get(f"/api/v1/classes/{created.json()['id']}/").content.decode()
    pages = Client()
    pages.force_login(demo["provider2_clerk"])
    page = pages.get(f"/classes/{created.json()['id']}/").content.decode()
    assert TYPED in page and REAL not in page


def test_the_public_notice_and_its_xlsx_mask_each_lines_own_name(demo):
    """The person's record is made by WL-P001's draft; WL-P002's claim for them goes on notice."""
    Jurisdiction.objects.filter(code="WL").update(public_notice_from=TODAY)
    create_claim(user=demo["provider_clerk"], data=claim_data(lines=[line(resident_id(904), REAL)]))
    claim = create_claim(
        user=demo["provider2_clerk"],
        data=claim_data(
            lines=[line(resident_id(904), "司马丙丁"), line(resident_id(908), "欧阳甲乙", certificate_number="N-908")]
        ),
    )
    submit_claim(user=demo["provider2_clerk"], claim=claim)
    decide_task(user=demo["dept_reviewer"], task_id=open_task_id(claim), decision="approve")
    decide_task(user=demo["hr_reviewer"], task_id=open_task_id(claim), decision="approve")
    client = Client()
    assert [row.name_masked for row in client.get("/public/notice/").context["rows"]] == ["司**丁", "欧**乙"]
    book = load_workbook(io.BytesIO(client.get("/public/notice.xlsx").content))
    cells = [str(cell.value) for row in book.active.iter_rows() for cell in row if cell.value is not None]
    assert "司**丁" in cells and "欧**乙" in cells and "欧**名" not in cells


def test_finance_sees_each_lines_own_name_for_a_person_without_an_account(demo):
    """S6 pays the person: the lines finance must find an account for, by the API and the page."""
    first_provider_submits(demo, 905)
    approved_claim(
        demo,
        serials=(905,),
        clerk="provider2_clerk",
        policy="S6",
        hardship_group="employment_difficulty",
        stated_cost=None,
        training_days=20,
    )
    finance = api(demo["finance_officer"])
    body = finance.get("/api/v1/payment-batches/awaiting/")
    assert body.status_code == 200, body.content
    assert [row["trainee_name"] for row in body.json()["missing_accounts"]] == ["学员905"]
    trainee = Trainee.objects.get(claim_lines__name="学员905")
    account = finance.get(f"/api/v1/payee-accounts/trainees/{trainee.pk}/")
    assert account.json()["owner_name"] == "学员905"
    page = Client()
    page.force_login(demo["finance_officer"])
    html = page.get("/payments/payee-accounts/", {"trainee": trainee.pk}).content.decode()
    assert "学员905" in html and REAL not in html


def test_a_name_changed_outside_the_fix_goes_to_the_department_and_the_process_keeps_no_name(demo):
    claim = at_hr_review(demo, claim_data(lines=[line(resident_id(1), "张三"), line(resident_id(2), "李四")]))
    returned_by(demo["hr_reviewer"], claim, fix=FIX_LINE_2_CERTIFICATE)
    assert "张三" not in json.dumps(Process.objects.get(pk=claim.process_id).data, ensure_ascii=False)
    lines = [line(resident_id(1), "张叁"), line(resident_id(2), "李四", certificate_number="T-2026-0002")]
    claim = corrected_and_resubmitted(demo, claim, lines=lines)
    assert claim.status == "department_review"
    assert list(claim.lines.values_list("name", flat=True)) == ["张叁", "李四"]
