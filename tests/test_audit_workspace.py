"""The auditor workspace: read-only pages for the auditor role, scoped to the jurisdiction."""

import datetime
import io
import zipfile
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from openpyxl import load_workbook

from audit.models import AuditEvent
from claims import roles
from claims.organisation import ensure_jurisdiction, ensure_staff_user
from claims.services import create_claim
from workflow import selectors as inbox
from workflow.services import LineDecisionInput, decide_task, submit_claim

from .audit_support import audit_key  # noqa: F401 - fixture
from .conftest import DEMO_PASSWORD, claim_data, line, resident_id

ZONE = ZoneInfo(settings.TIME_ZONE)


def at(day: int, hour: int = 10) -> datetime.datetime:
    return datetime.datetime(2026, 3, day, hour, 0, tzinfo=ZONE)


class Clock:
    """timezone.now() at a chosen instant, so that ledger entries fall on chosen days."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.real_now = timezone.now

    def set(self, instant):
        self.monkeypatch.setattr(timezone, "now", lambda: instant)

    def reset(self):
        self.monkeypatch.setattr(timezone, "now", self.real_now)


def only_task(user):
    tasks = list(inbox.actionable_tasks(user))
    assert len(tasks) == 1, tasks
    return tasks[0]


@pytest.fixture
def journey(demo, monkeypatch):
    """A claim for a January class, its certificates issued on 10 February, created and submitted
    on 2 March, approved by the department on 5 March with a comment, and by HR on 9 March with
    line 2 rejected."""
    clock = Clock(monkeypatch)
    clock.set(at(2))
    people = [
        line(resident_id(n), name, certificate_number=f"T-2026-000{n}", certificate_date="2026-02-10")
        for n, name in ((1, "张三"), (2, "李四"))
    ]
    data = claim_data(lines=people, training_start="2026-01-05", training_end="2026-01-20")
    claim = create_claim(user=demo["provider_clerk"], data=data)
    submit_claim(user=demo["provider_clerk"], claim=claim)
    clock.set(at(5))
    decide_task(
        user=demo["dept_reviewer"], task_id=only_task(demo["dept_reviewer"]).pk, decision="approve", comment="材料齐全，抽查无误"
    )
    clock.set(at(9))
    decide_task(
        user=demo["hr_reviewer"],
        task_id=only_task(demo["hr_reviewer"]).pk,
        decision="approve",
        comment="第2行证书无效",
        line_decisions=[LineDecisionInput(line=2, decision="reject", reason="CERT_INVALID")],
    )
    clock.reset()
    claim.refresh_from_db()
    assert claim.status == "approved"
    return claim


@pytest.fixture
def auditor(client, demo):
    client.force_login(demo["auditor"])
    return client


def test_an_auditor_finds_a_claim_by_trainee_id_number_through_the_digest(auditor, journey):
    draft = create_claim(user=journey.created_by, data=claim_data(lines=claim_data()["lines"][1:]))
    assert draft.status == "draft"  # the same trainee, but drafts are not the auditor's
    response = auditor.post("/audit/", {"id_number": resident_id(2)})
    assert response.status_code == 302
    location = response["Location"]
    assert resident_id(2) not in location  # the number never travels in a URL
    assert "trainee_digest=" in location
    page = auditor.get(location)
    body = page.content.decode()
    assert journey.number in body
    assert draft.number not in body
    assert resident_id(2) not in body

    nobody = auditor.post("/audit/", {"id_number": resident_id(77)}, follow=True)
    assert journey.number not in nobody.content.decode()

    by_filters = auditor.get(
        "/audit/", {"status": "approved", "amount_min": "100", "submitted_from": "2026-03-01", "submitted_to": "2026-03-02"}
    )
    assert journey.number in by_filters.content.decode()
    outside = auditor.get("/audit/", {"submitted_from": "2026-03-03"})
    assert journey.number not in outside.content.decode()


def test_the_timeline_shows_every_event_with_actors_comments_decisions_and_rule_versions(auditor, journey):
    response = auditor.get(f"/audit/claims/{journey.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    events = list(AuditEvent.objects.filter(claim_id=journey.pk).order_by("seq"))
    positions = [body.index(f'id="seq-{event.seq}"') for event in events]
    assert positions == sorted(positions)  # oldest first
    for event in events:
        assert event.hash in body
    for text in ("创建申领", "提交申领", "审核通过", "provider_clerk", "dept_reviewer", "hr_reviewer",
                 "材料齐全，抽查无误", "第2行证书无效", "证书无法核验或无效", "S3 v"):  # fmt: skip
        assert text in body, text
    assert resident_id(1) not in body and resident_id(2) not in body
    # The per-line before/after (line_changes) of the HR decision, in words: never a raw code.
    assert "#2 审核结果" in body and "不同意" in body
    for raw in ("#2 decision", "hr_review ·", ">approve<", ">reject<", "payment_status", ">senior<"):
        assert raw not in body, raw


def test_the_claim_is_replayed_as_it_stood_on_a_past_date(auditor, journey):
    url = f"/audit/claims/{journey.pk}/as-of/"
    before = auditor.get(url, {"date": "2026-03-01"}).content.decode()
    assert "尚不存在" in before
    submitted = auditor.get(url, {"date": "2026-03-04"}).content.decode()
    assert "status-department_review" in submitted
    reviewed = auditor.get(url, {"date": "2026-03-05"}).content.decode()
    assert "status-hr_review" in reviewed
    assert "status-approved" not in reviewed.split('id="as-of-status"')[1].split("</p>")[0]
    after = auditor.get(url, {"date": "2026-03-10"}).content.decode()
    verdict = after.split('id="as-of-status"')[1].split("</p>")[0]
    assert "status-approved" in verdict
    assert "450.00" in verdict  # the line HR rejected no longer counts
    lines = after.split('class="data compact audit-lines"')[1].split("</table>")[0]
    assert "不同意" in lines and ">reject<" not in lines  # the rejected line, in words
    assert auditor.get(url, {"date": "not-a-date"}).status_code == 200


def test_the_verify_page_shows_an_intact_ledger(auditor, journey, audit_key):
    from audit.checkpoints import sign_checkpoint

    with transaction.atomic():
        sign_checkpoint()
    body = auditor.get("/audit/verify/").content.decode()
    assert 'class="audit-verdict ok"' in body
    head = AuditEvent.objects.order_by("-seq").first()
    assert head.hash in body


def test_the_xlsx_export_has_the_rows_masked_ids_only_and_is_recorded(auditor, journey):
    response = auditor.post("/audit/export/xlsx/", {"query": "status=approved"})
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    rows = list(book.active.iter_rows(values_only=True))
    assert len(rows) == 2
    assert rows[1][0] == journey.number
    cells = " ".join(str(cell) for row in rows for cell in row)
    assert resident_id(1) not in cells and resident_id(2) not in cells
    assert resident_id(1)[:6] in cells  # masked: region and last four
    event = AuditEvent.objects.filter(action="audit.exported").get()
    assert event.actor_username == "auditor"
    assert event.detail == {"format": "xlsx", "filters": {"status": "approved"}, "rows": 1}


def test_an_export_past_its_bound_asks_for_a_narrower_search_and_records_nothing(auditor, journey, monkeypatch):
    """A year of a city's claims would be read in one request: past EXPORT_MAX_LINES lines the
    auditor is sent back to the search, told how many lines it found and the bound."""
    from auditor import views as auditor_views

    monkeypatch.setattr(auditor_views, "EXPORT_MAX_LINES", journey.lines.count() - 1)
    response = auditor.post("/audit/export/xlsx/", {"query": "status=approved"}, follow=True)
    assert response.redirect_chain[-1][0] == "/audit/?status=approved"
    assert "超过导出上限 1 行" in response.content.decode()
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_a_claims_people_fill_their_cell_up_to_what_a_spreadsheet_cell_holds():
    """A claim of 2,000 lines: its masked IDs would be 41,998 characters in one cell, past Excel's
    32,767 (it drops the cell's contents); the cell holds whole IDs that fit, then the count."""
    from types import SimpleNamespace

    from auditor.views import masked_ids_cell
    from claims.spreadsheets import CELL_MAX_CHARACTERS

    people = [SimpleNamespace(trainee=SimpleNamespace(id_number_masked=f"331081********{n:04d}")) for n in range(2000)]
    cell = masked_ids_cell(people)
    assert len(cell) <= CELL_MAX_CHARACTERS and cell.endswith("共 2000 人，余见申领明细")
    assert cell.startswith("331081********0000; 331081********0001")
    assert all(len(item) == 18 for item in cell.split("; …")[0].split("; "))  # whole IDs only
    assert masked_ids_cell(people[:3]) == "331081********0000; 331081********0001; 331081********0002"


def test_the_signed_package_downloads_as_a_zip_and_is_recorded(auditor, journey, audit_key):
    today = timezone.localdate().isoformat()
    response = auditor.post("/audit/export/package/", {"date_from": "2026-03-01", "date_to": today})
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert {"entries.jsonl", "manifest.json", "verify_export.py", "public_key.txt"} <= set(archive.namelist())
    event = AuditEvent.objects.filter(action="audit.exported").get()
    assert event.detail == {"format": "package", "from": "2026-03-01", "to": today}


def test_the_same_seed_draws_the_same_sample_and_every_draw_is_recorded(auditor, demo):
    numbers = []
    for serial in range(5):
        claim = create_claim(
            user=demo["provider_clerk"],
            data=claim_data(lines=[claim_data()["lines"][0] | {"id_number": resident_id(10 + serial)}]),
        )
        submit_claim(user=demo["provider_clerk"], claim=claim)
        numbers.append(claim.number)
    year = timezone.localdate().year

    def draw(seed):
        response = auditor.post("/audit/sample/", {"year": year, "size": 3, "seed": seed})
        assert response.status_code == 200
        return response.context["seed"], [claim.number for claim in response.context["drawn"]]

    seed, first = draw("audit-2026")
    assert seed == "audit-2026"
    assert len(first) == 3 and set(first) <= set(numbers)
    assert draw("audit-2026")[1] == first
    generated, _ = draw("")
    assert generated  # a seed is made up and recorded when none is given
    events = list(AuditEvent.objects.filter(action="audit.sample_drawn").order_by("seq"))
    assert len(events) == 3
    assert events[0].detail == {"year": year, "size": 3, "seed": "audit-2026", "population": 5, "claims": first}
    assert events[2].detail["seed"] == generated
    assert all(event.actor_username == "auditor" for event in events)


@pytest.mark.parametrize("username", ["provider_clerk", "dept_reviewer"])
def test_other_roles_get_403_on_every_audit_page(client, journey, demo, username):
    client.force_login(demo[username])
    for url in (
        "/audit/",
        f"/audit/claims/{journey.pk}/",
        f"/audit/claims/{journey.pk}/as-of/?date=2026-03-05",
        "/audit/verify/",
    ):
        assert client.get(url).status_code == 403, url
    for url, data in (
        ("/audit/", {"id_number": resident_id(1)}),
        ("/audit/sample/", {"year": 2026, "size": 1, "seed": "x"}),
        ("/audit/export/xlsx/", {"query": ""}),
        ("/audit/export/package/", {"date_from": "2026-03-01", "date_to": "2026-03-31"}),
    ):
        assert client.post(url, data).status_code == 403, url
    assert not AuditEvent.objects.filter(action__in=["audit.exported", "audit.sample_drawn"]).exists()


def test_an_anonymous_visitor_is_sent_to_log_in(client, journey):
    response = client.get("/audit/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_auditor_of_another_jurisdiction_does_not_see_the_claim(client, journey):
    with transaction.atomic():
        elsewhere = ensure_jurisdiction(code="XJ", name="他市")
        stranger = ensure_staff_user(
            username="auditor_xj", password=DEMO_PASSWORD, role=roles.AUDITOR, scope_group=elsewhere.staff_group
        )
    client.force_login(stranger)
    assert client.get(f"/audit/claims/{journey.pk}/").status_code == 404
    assert client.get(f"/audit/claims/{journey.pk}/as-of/", {"date": "2026-03-10"}).status_code == 404
    assert journey.number not in client.get("/audit/").content.decode()
    assert journey.number not in client.post("/audit/", {"id_number": resident_id(1)}, follow=True).content.decode()


def test_the_nav_links_the_workspace_for_auditors_only(client, demo):
    client.force_login(demo["auditor"])
    assert 'href="/audit/"' in client.get("/inbox/").content.decode()
    client.force_login(demo["hr_reviewer"])
    assert 'href="/audit/"' not in client.get("/inbox/").content.decode()
