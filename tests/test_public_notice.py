"""Public notice (公示, RULES N5; issue 13): once 温岭 publishes its approved claims (its
``public_notice_from`` date), a claim finally approved goes on notice for 5 working days before
finance may batch it. Anyone may object to a line (rate-limited per address, with a receipt); the
HR head upholds (the line is rejected, its reservation released, the provider told) or dismisses;
the period's end hands the claim to finance (``run_due --now``), not while an objection is open.

2026 around National Day (State Council): Sunday 20 September is worked; 25–27 September
(Mid-Autumn) and 1–7 October are holidays."""

import datetime
import io
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db.models import F
from django.http import HttpRequest
from django.test import Client
from openpyxl import load_workbook
from viewflow.workflow.models import Task

from audit.models import AuditEvent
from claims.errors import InvalidInput
from claims.models import Claim, ClaimLine, ClaimStatus, Jurisdiction, LineDecision, PaymentStatus, Trainee
from claims.personal_data import decrypt_id_number
from claims.selectors import ledger_entries_visible_to
from claims.services import create_claim
from notifications.models import Notification
from payments.models import Allocation
from payments.services.batches import build_batch
from workflow import notice
from workflow.inbox import refresh_inbox
from workflow.models import InboxItem, Objection, ObjectionStatus
from workflow.policy import people_who_may_act
from workflow.services import decide_task, submit_claim

from .api_support import error, login, ok
from .audit_support import audit_key  # noqa: F401 - fixture
from .conftest import DEMO_PASSWORD, TODAY, claim_data, line, resident_id
from .payments_support import open_task_id

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=BEIJING)


def run_due(now: str) -> str:
    out = StringIO()
    call_command("run_due", "--now", now, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def publishing(demo):
    """温岭 publishes the claims it approves from today (as seed_demo --with-claims sets it)."""
    Jurisdiction.objects.filter(code="WL").update(public_notice_from=TODAY)
    return demo


def on_notice(demo, *, names=("张三丰", "李四"), serials=(1, 2)) -> Claim:
    """A claim of 温岭市某职业技能培训学校 approved by the department and HR (below the HR head's line)."""
    lines = [
        line(resident_id(serial), name, certificate_number=f"T-{serial:05d}") for serial, name in zip(serials, names, strict=True)
    ]
    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines))
    submit_claim(user=demo["provider_clerk"], claim=claim)
    decide_task(user=demo["dept_reviewer"], task_id=open_task_id(claim), decision="approve", comment="材料齐全")
    decide_task(user=demo["hr_reviewer"], task_id=open_task_id(claim), decision="approve", comment="同意")
    claim.refresh_from_db()
    return claim


def notice_started_at(claim: Claim, moment: datetime.datetime) -> InboxItem:
    """The claim as if its notice had opened at ``moment``."""
    item = InboxItem.objects.get(claim=claim, step="public_notice")
    Task.objects.filter(pk=item.task_id).update(created=moment)
    refresh_inbox(claim)
    return InboxItem.objects.get(claim=claim, step="public_notice")


def object_to(claim: Claim, line_no: int = 1, **overrides) -> Objection:
    values = {"contact": "13800000000", "reason": "该学员当期未参加培训。", "client_address": "203.0.113.5"}
    values.update(overrides)
    return notice.file_objection(line_id=claim.lines.get(line_no=line_no).pk, **values)


# --------------------------------------------------------------------------- into the notice


def test_a_final_approval_puts_the_claim_on_notice_with_its_money_reserved(publishing):
    claim = on_notice(publishing)
    assert claim.status == ClaimStatus.PUBLIC_NOTICE == "public_notice"
    assert claim.get_status_display() == "公示中"
    assert set(claim.lines.values_list("payment_status", flat=True)) == {PaymentStatus.RESERVED}
    item = InboxItem.objects.get(claim=claim)
    assert item.step == "public_notice"
    # The HR head, who decides its objections, finds it in the inbox.
    assert [user.username for user in people_who_may_act(step_name="public_notice", claim=claim)] == ["hr_head"]
    head = Client()
    head.force_login(publishing["hr_head"])
    assert "公示" in head.get(f"/tasks/{item.task_id}/").content.decode()
    assert "公示中" in head.get(f"/claims/{claim.pk}/").content.decode()
    approved = AuditEvent.objects.filter(claim_id=claim.pk, action="claim.approved_step").last()
    assert (approved.from_state, approved.to_state) == ("hr_review", "public_notice")


def test_without_a_notice_date_the_approval_goes_to_finance_as_api_v1_says(demo):
    """The API contract's organisation (seed_demo without claims) publishes nothing yet."""
    claim = on_notice(demo)
    assert claim.status == ClaimStatus.APPROVED


def test_finance_cannot_batch_a_claim_on_notice(publishing):
    claim = on_notice(publishing)
    wl = Jurisdiction.objects.get(code="WL")
    with pytest.raises(InvalidInput) as refused:
        build_batch(actor=publishing["finance_officer"], jurisdiction=wl, other_duty_processes=[], claim_ids=[claim.pk])
    assert "claims[0]" in refused.value.fields
    finance = login("finance_officer")
    assert "claims[0]" in error(finance.post("/api/v1/payment-batches/", {"claims": [claim.pk]}, format="json"), 400)["fields"]


# --------------------------------------------------------------------------- the period's end


def test_the_notice_closes_on_its_fifth_working_day_and_not_before(publishing):
    """Opened Friday 18 September 2026: the worked Sunday 20th counts, so the 5 working days end
    on Thursday 24th; Mid-Autumn follows. At midnight the claim goes to finance by itself."""
    claim = on_notice(publishing)
    item = notice_started_at(claim, beijing(2026, 9, 18, 10, 0))
    assert item.due == datetime.date(2026, 9, 24)
    assert "workflow.close_due_notices: 0" in run_due("2026-09-24T23:59:00+08:00")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PUBLIC_NOTICE
    assert "workflow.close_due_notices: 1" in run_due("2026-09-25T00:00:00+08:00")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED
    assert InboxItem.objects.get(claim=claim).step == "disbursement"
    closed = AuditEvent.objects.get(claim_id=claim.pk, action="claim.notice_closed")
    assert (closed.from_state, closed.to_state, closed.actor_id) == ("public_notice", "approved", None)
    assert closed.detail["end"] == "2026-09-24"
    # Idempotent: a second run (beat, an operator) finds nothing.
    assert "workflow.close_due_notices: 0" in run_due("2026-09-25T00:00:00+08:00")
    assert AuditEvent.objects.filter(claim_id=claim.pk, action="claim.notice_closed").count() == 1
    # Now finance may batch it.
    wl = Jurisdiction.objects.get(code="WL")
    batch = build_batch(actor=publishing["finance_officer"], jurisdiction=wl, other_duty_processes=[], claim_ids=[claim.pk])
    assert batch.line_count == 2


def test_an_open_objection_holds_the_claim_until_the_hr_head_dismisses_it(publishing):
    claim = on_notice(publishing)
    total = claim.total
    notice_started_at(claim, beijing(2026, 9, 18, 10, 0))
    objection = object_to(claim, now=beijing(2026, 9, 21, 9, 0))
    assert "workflow.close_due_notices: 0" in run_due("2026-09-28T09:00:00+08:00")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PUBLIC_NOTICE
    notice.decide_objection(
        user=publishing["hr_head"], objection_id=objection.pk, decision="dismissed", reason="经核查，学员出勤记录完整。"
    )
    line = claim.lines.get(line_no=1)
    assert (line.decision, line.payment_status) == (LineDecision.APPROVE, PaymentStatus.RESERVED)
    dismissed = AuditEvent.objects.get(claim_id=claim.pk, action="objection.dismissed")
    assert dismissed.actor_username == "hr_head" and dismissed.detail["receipts"] == [objection.receipt]
    assert "workflow.close_due_notices: 1" in run_due("2026-09-28T09:00:00+08:00")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED and claim.total == total


# --------------------------------------------------------------------------- objections


def test_an_upheld_objection_rejects_the_line_and_releases_its_reservation(publishing, django_capture_on_commit_callbacks):
    claim = on_notice(publishing)
    allocation = Allocation.objects.get(pk=claim.lines.get(line_no=1).allocation_id)
    committed = allocation.committed
    with django_capture_on_commit_callbacks(execute=True):
        objection = object_to(claim, line_no=1)
    assert objection.receipt.startswith("YY") and objection.status == ObjectionStatus.OPEN
    filed = AuditEvent.objects.get(claim_id=claim.pk, action="objection.filed")
    assert filed.actor_id is None and "13800000000" not in str(filed.detail)  # the contact stays out of the ledger
    assert Notification.objects.filter(recipient=publishing["hr_head"], claim=claim, message__contains="异议").exists()

    with django_capture_on_commit_callbacks(execute=True):
        notice.decide_objection(
            user=publishing["hr_head"], objection_id=objection.pk, decision="upheld", reason="学员当期在外地务工，未参加培训。"
        )
    line = claim.lines.get(line_no=1)
    assert (line.decision, line.decision_reason, line.payment_status) == (
        LineDecision.REJECT,
        "OBJECTION",
        PaymentStatus.CANCELLED,
    )
    allocation.refresh_from_db()
    assert allocation.committed == committed - line.amount
    claim.refresh_from_db()
    assert claim.total == claim.lines.get(line_no=2).amount  # the other line proceeds
    assert AuditEvent.objects.filter(claim_id=claim.pk, action="objection.upheld", actor_username="hr_head").exists()
    assert AuditEvent.objects.filter(claim_id=claim.pk, action="allocation.released").exists()
    assert Notification.objects.filter(recipient=publishing["provider_clerk"], claim=claim, message__contains="异议成立").exists()
    assert notice.objection_by_receipt(objection.receipt.lower()).status == ObjectionStatus.UPHELD
    # Deciding it again is refused; the line is off the public list.
    with pytest.raises(Exception, match="已处理"):
        notice.decide_objection(user=publishing["hr_head"], objection_id=objection.pk, decision="dismissed", reason="再议")
    assert list(notice.lines_on_notice().filter(claim=claim).values_list("line_no", flat=True)) == [2]


def test_an_upheld_objection_is_told_to_the_provider_even_if_the_process_dies_after_commit(
    publishing, django_capture_on_commit_callbacks, mailoutbox
):
    """The HR head upholds an objection, and the web process dies right after the commit: no
    after-commit callback runs. The provider is told all the same, as of every decision: its
    notification and e-mail were written with the rejected line, and the outbox's sweep (a due
    job) sends the e-mail."""
    claim = on_notice(publishing)
    with django_capture_on_commit_callbacks(execute=True):
        objection = object_to(claim, line_no=1)
    with django_capture_on_commit_callbacks(execute=False):  # committed; nothing after it runs
        notice.decide_objection(
            user=publishing["hr_head"], objection_id=objection.pk, decision="upheld", reason="经核实未参加培训。"
        )
    assert claim.lines.get(line_no=1).decision == LineDecision.REJECT
    [told] = Notification.objects.filter(recipient=publishing["provider_clerk"], claim=claim, message__contains="异议成立")
    assert told.email is not None and told.email.state == "pending"

    mailoutbox.clear()
    run_due(datetime.datetime.now(datetime.UTC).isoformat())
    told.email.refresh_from_db()
    assert told.email.state == "sent"
    assert [message.to for message in mailoutbox if "异议成立" in message.body] == [[publishing["provider_clerk"].email]]


def test_the_provider_reads_that_its_line_was_objected_to_but_not_the_objection_nor_its_receipt(
    publishing, django_capture_on_commit_callbacks
):
    """An objection is anonymous: the provider under question reads, in its claim's history (API
    and page), that line 1 was objected to and what the HR head decided, never the objector's
    words, the receipt (the key to the objection's public status page) nor the HR head's
    reasoning on it. The bureau reads everything; the stored entries are what they were."""
    claim = on_notice(publishing)
    words = "举报人王五：张三丰从未到课，本人是同班学员。"
    with django_capture_on_commit_callbacks(execute=True):
        objection = object_to(claim, 1, reason=words)
        notice.decide_objection(
            user=publishing["hr_head"], objection_id=objection.pk, decision="upheld", reason="经核实王五所述属实。"
        )
    secrets = (words, "王五", objection.receipt)

    body = login("provider_clerk").get(f"/api/v1/claims/{claim.pk}/history/")
    history = ok(body)["results"]
    assert not [secret for secret in secrets if secret in body.content.decode()]
    [filed] = [entry for entry in history if entry["action"] == "objection.filed"]
    [upheld] = [entry for entry in history if entry["action"] == "objection.upheld"]
    assert filed["reason"] == "" and filed["detail"]["line"] == 1 and "receipt" not in filed["detail"]
    assert upheld["reason"] == "" and upheld["detail"]["line_after"]["decision"] == LineDecision.REJECT
    assert "receipts" not in upheld["detail"]
    clerk = Client()
    clerk.force_login(publishing["provider_clerk"])
    page = clerk.get(f"/claims/{claim.pk}/").content.decode()
    assert 'data-action="objection.filed"' in page and 'data-action="objection.upheld"' in page
    assert not [secret for secret in secrets if secret in page]

    for username in ("hr_reviewer", "hr_head", "dept_reviewer", "auditor"):
        shown = login(username).get(f"/api/v1/claims/{claim.pk}/history/").content.decode()
        assert all(secret in shown for secret in secrets), username
    head = Client()
    head.force_login(publishing["hr_head"])
    assert words in head.get(f"/claims/{claim.pk}/").content.decode()  # the page shows no receipt to anyone
    stored = AuditEvent.objects.get(claim_id=claim.pk, action="objection.filed")
    assert stored.reason == words and stored.detail["receipt"] == objection.receipt


def test_a_raw_read_of_the_providers_ledger_never_gives_what_shaping_hides(publishing, django_capture_on_commit_callbacks):
    """The shaping of an objection's entries holds for every read of the provider's ledger, not
    only for instances: a values() or values_list() that reads the reason, the detail or the
    bytes leaves those entries out; one that reads none of them still lists them."""
    claim = on_notice(publishing)
    words = "举报人赵六：未到课。"
    with django_capture_on_commit_callbacks(execute=True):
        objection = object_to(claim, 1, reason=words)
    clerk_reads = ledger_entries_visible_to(publishing["provider_clerk"]).filter(claim_id=claim.pk)
    raw_reads = [
        list(clerk_reads.values()),
        list(clerk_reads.values("action", "reason")),
        list(clerk_reads.values_list("detail__receipt", flat=True)),
        list(clerk_reads.values_list("payload", "hash")),
        list(clerk_reads.values(said=F("reason"))),
    ]
    for read in raw_reads:
        assert read and words not in str(read) and objection.receipt not in str(read), read
    assert "objection.filed" in set(clerk_reads.values_list("action", flat=True))
    [filed] = clerk_reads.filter(action="objection.filed")
    assert filed.reason == "" and filed.payload == "" and "receipt" not in filed.detail
    bureau_reads = ledger_entries_visible_to(publishing["hr_head"]).filter(claim_id=claim.pk)
    assert words in str(list(bureau_reads.values("reason")))


def test_a_claim_whose_every_line_is_upheld_against_ends_unpaid_at_the_period_end(publishing):
    claim = on_notice(publishing, names=("王五",), serials=(3,))
    notice_started_at(claim, beijing(2026, 9, 18, 10, 0))
    objection = object_to(claim, now=beijing(2026, 9, 22, 9, 0))
    notice.decide_objection(user=publishing["hr_head"], objection_id=objection.pk, decision="upheld", reason="证书与本人不符。")
    assert "workflow.close_due_notices: 1" in run_due("2026-09-25T00:00:00+08:00")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED


def test_only_the_hr_head_of_the_jurisdiction_decides_and_bad_objections_name_their_field(publishing):
    claim = on_notice(publishing)
    objection = object_to(claim)
    for username in ("hr_reviewer", "finance_officer", "provider_clerk"):
        with pytest.raises(Exception) as refused:
            notice.decide_objection(user=publishing[username], objection_id=objection.pk, decision="upheld", reason="x")
        assert getattr(refused.value, "status", None) in (403, 404)
    for values, field in (
        ({"contact": ""}, "contact"),
        ({"reason": "虚假\x00培训"}, "reason"),
        ({"reason": "该学员未参加培训\x0b（见附件）"}, "reason"),  # a textarea takes a vertical tab
        ({"contact": "138\x0100000000"}, "contact"),
        ({"reason": "长" * 2001}, "reason"),
        ({"contact": "1" * 101}, "contact"),
    ):
        with pytest.raises(InvalidInput) as bad:
            object_to(claim, **values)
        assert field in bad.value.fields
    with pytest.raises(InvalidInput) as late:
        object_to(claim, now=datetime.datetime.now(BEIJING) + datetime.timedelta(days=60))
    assert "line" in late.value.fields
    assert Objection.objects.count() == 1


def test_objections_are_rate_limited_per_client_address(publishing, settings):
    settings.OBJECTION_RATE_LIMIT = 2
    settings.TRUSTED_PROXY_COUNT = 1
    claim = on_notice(publishing)
    url = "/public/notice/objection/"
    body = {"line": claim.lines.get(line_no=1).pk, "contact": "someone@example.cn", "reason": "怀疑冒名顶替。"}
    client = Client()
    answers = [client.post(url, body, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    # Another address (as the trusted proxy saw it) is not held back by the first's count.
    assert client.post(url, body, HTTP_X_FORWARDED_FOR="198.51.100.7, 198.51.100.8").status_code == 200
    assert Objection.objects.count() == 3


def test_an_objection_with_a_control_character_is_refused_on_the_page_naming_the_field(publishing):
    claim = on_notice(publishing)
    line_id = claim.lines.get(line_no=1).pk
    body = {"line": line_id, "contact": "13900000000", "reason": "该学员未参加培训\x0b（见附件）"}
    refused = Client().post("/public/notice/objection/", body)
    assert refused.status_code == 400
    assert set(refused.context["errors"]) == {"reason"}
    assert "U+000B" in refused.context["errors"]["reason"][0]
    assert not Objection.objects.exists()


# --------------------------------------------------------------------------- the public page and file


def test_the_public_page_and_its_xlsx_show_no_full_id_number_or_name(publishing):
    claim = on_notice(publishing)
    other = on_notice(publishing, names=("欧阳小明", '=HYPERLINK("http://x")'), serials=(4, 5))
    client = Client()  # nobody signed in
    page = client.get("/public/notice/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "张*丰" in html and "李*" in html and "欧**明" in html
    assert "331081" in html  # the masked number's first six digits
    book = load_workbook(io.BytesIO(client.get("/public/notice.xlsx").content))
    cells = [str(cell.value) for row in book.active.iter_rows() for cell in row if cell.value is not None]
    assert "张*丰" in cells and len(book.active["A"]) == 5  # a header and four lines
    assert not any(cell.startswith("=") for cell in cells)
    text = html + "\n".join(cells)
    for trainee in Trainee.objects.all():
        assert decrypt_id_number(trainee.id_number_encrypted) not in text
    for name in ClaimLine.objects.values_list("name", flat=True):
        assert name not in text, name
    # Filters: by provider and by occupation.
    assert client.get("/public/notice/", {"provider": "WL-P002"}).context["rows"] == []
    assert len(client.get("/public/notice/", {"occupation": "电工"}).context["rows"]) == 4
    assert {claim.pk, other.pk} == set(Claim.objects.filter(status=ClaimStatus.PUBLIC_NOTICE).values_list("pk", flat=True))


def test_text_stored_with_control_characters_before_they_were_refused_still_exports(publishing):
    """Old rows: a trainee's name and an objection's reason stored with control characters (put
    straight into the database). The public file and the auditor's export still open, the
    characters a spreadsheet cannot hold written as U+FFFD."""
    claim = on_notice(publishing)
    claim.lines.filter(line_no=1).update(name="\x01张三丰")  # the line's own name, which the notice shows
    objection = object_to(claim)
    Objection.objects.filter(pk=objection.pk).update(reason="该学员未参加培训\x0b（见附件）")
    public = Client().get("/public/notice.xlsx")
    assert public.status_code == 200
    names = [row[4] for row in load_workbook(io.BytesIO(public.content)).active.iter_rows(values_only=True)]
    assert "\ufffd**丰" in names  # the name masked as it is stored: \x01 张 三 丰
    auditor = Client()
    auditor.force_login(publishing["auditor"])
    exported = auditor.post("/audit/export/xlsx/", {"query": ""})
    assert exported.status_code == 200
    rows = list(load_workbook(io.BytesIO(exported.content))["notice"].iter_rows(values_only=True))
    assert "该学员未参加培训\ufffd（见附件）" in [row[11] for row in rows if row[10] == objection.receipt]


def test_a_member_of_the_public_objects_and_follows_the_receipt_the_hr_head_decides_on_the_page(publishing):
    claim = on_notice(publishing)
    public = Client()
    line_id = claim.lines.get(line_no=2).pk
    assert public.get("/public/notice/objection/", {"line": line_id}).status_code == 200
    filed = public.post("/public/notice/objection/", {"line": line_id, "contact": "13900000000", "reason": "李四未参加考试。"})
    receipt = filed.context["objection"].receipt
    assert receipt in filed.content.decode()
    assert "待处理" in public.get("/public/notice/receipt/", {"receipt": receipt}).content.decode()
    assert public.get("/public/notice/receipt/", {"receipt": "YY0000"}).status_code == 404

    head = Client()
    assert head.login(request=HttpRequest(), username="hr_head", password=DEMO_PASSWORD)
    listing = head.get("/objections/")
    assert listing.status_code == 200 and receipt in listing.content.decode()
    objection = Objection.objects.get(receipt=receipt)
    assert (
        head.post(f"/objections/{objection.pk}/decide/", {"decision": "dismissed", "reason": "经核实已参加考试。"}).status_code
        == 302
    )
    status = public.get("/public/notice/receipt/", {"receipt": receipt}).content.decode()
    assert "异议不成立" in status and "经核实已参加考试。" in status and "13900000000" not in status
    clerk = Client()
    assert clerk.login(request=HttpRequest(), username="provider_clerk", password=DEMO_PASSWORD)
    assert clerk.get("/objections/").status_code == 403


# --------------------------------------------------------------------------- the API (v1)


def test_the_api_lists_the_notice_masked_as_the_page_and_takes_objections_rate_limited_as_the_page(publishing, settings):
    """A neighbour's app reads 温岭's notice without signing in: the same lines, masked the same way
    as /public/notice/; she objects to 李四's line and follows her receipt. The page and the API
    count one address's objections together."""
    from rest_framework.test import APIClient

    settings.OBJECTION_RATE_LIMIT = 3
    settings.TRUSTED_PROXY_COUNT = 1
    claim = on_notice(publishing)
    public = APIClient()
    listed = ok(public.get("/api/v1/public/notice/"))
    assert listed["count"] == 2
    page_rows = Client().get("/public/notice/").context["rows"]
    assert [(row["line"], row["trainee"], row["id_number"]) for row in listed["results"]] == [
        (row.line_id, row.name_masked, row.id_masked) for row in page_rows
    ]
    first = listed["results"][0]
    assert first["trainee"] == "张*丰" and first["amount"] == str(page_rows[0].amount)
    assert first["period_end"] == page_rows[0].end.isoformat()
    body = public.get("/api/v1/public/notice/").content.decode()
    for trainee in Trainee.objects.all():
        assert decrypt_id_number(trainee.id_number_encrypted) not in body
    assert not [name for name in ClaimLine.objects.values_list("name", flat=True) if name in body]
    assert ok(public.get("/api/v1/public/notice/", {"provider": "WL-P002"}))["count"] == 0

    line_id = claim.lines.get(line_no=2).pk
    body = {"line": line_id, "contact": "13900000000", "reason": "李四未参加考试。"}
    here = {"HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    receipt = ok(public.post("/api/v1/public/objections/", body, format="json", **here), 201)["receipt"]
    status = ok(public.get(f"/api/v1/public/objections/{receipt}/"))
    assert status["status"] == "open" and "13900000000" not in str(status)
    assert error(public.get("/api/v1/public/objections/YY0000/"), 404)["code"] == "not_found"
    assert "line" in error(public.post("/api/v1/public/objections/", {**body, "line": 10**9}, format="json"), 400)["fields"]
    assert "reason" in error(public.post("/api/v1/public/objections/", {**body, "reason": ""}, format="json"), 400)["fields"]
    # Only JSON: a page of another site can make a visitor's browser post a form, not JSON.
    for form_encoded in (public.post("/api/v1/public/objections/", body), Client().post("/api/v1/public/objections/", body)):
        assert error(form_encoded, 415)["code"] == "unsupported_media_type"
    assert Objection.objects.count() == 1
    # One more on the page, one more by the API: the fourth from the address is refused.
    assert Client().post("/public/notice/objection/", body, **here).status_code == 200
    ok(public.post("/api/v1/public/objections/", body, format="json", **here), 201)
    assert error(public.post("/api/v1/public/objections/", body, format="json", **here), 429)["code"] == "rate_limited"
    assert Objection.objects.count() == 3


def test_the_hr_head_decides_objections_through_the_api(publishing, django_capture_on_commit_callbacks):
    claim = on_notice(publishing)
    objection = object_to(claim, 2, reason="李四未参加考试。")
    head = login("hr_head")
    listed = ok(head.get("/api/v1/objections/"))
    assert listed["count"] == 1
    found = listed["results"][0]
    assert (found["receipt"], found["claim"], found["line"], found["status"]) == (objection.receipt, claim.pk, 2, "open")
    assert found["due"] and found["due_state"] in ("", "due_soon")
    assert ok(head.get("/api/v1/objections/", {"status": "upheld"}))["count"] == 0
    for username in ("provider_clerk", "dept_reviewer", "hr_reviewer", "finance_officer", "auditor"):
        other = login(username)
        assert error(other.get("/api/v1/objections/"), 403)["code"] == "role"
        refused = other.post(f"/api/v1/objections/{objection.pk}/decide/", {"decision": "upheld", "reason": "x"}, format="json")
        assert refused.status_code == 403, username
    assert (
        "decision"
        in error(
            head.post(f"/api/v1/objections/{objection.pk}/decide/", {"decision": "maybe", "reason": "x"}, format="json"), 400
        )["fields"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        decided = ok(
            head.post(
                f"/api/v1/objections/{objection.pk}/decide/",
                {"decision": "upheld", "reason": "李四当期在外地务工，未参加考试。"},
                format="json",
            )
        )
    assert decided["status"] == "upheld" and decided["decided_by"] == "hr_head" and decided["due_state"] == ""
    assert claim.lines.get(line_no=2).decision == LineDecision.REJECT
    assert AuditEvent.objects.filter(action="objection.upheld", actor=publishing["hr_head"]).count() == 1
    again = head.post(f"/api/v1/objections/{objection.pk}/decide/", {"decision": "dismissed", "reason": "再议"}, format="json")
    assert error(again, 409)["code"]
    assert error(head.get(f"/api/v1/objections/{objection.pk + 1000}/"), 404)["code"] == "not_found"


def test_an_objection_not_decided_in_time_is_overdue_and_run_due_tells_the_hr_head_and_team_lead(publishing):
    """An objection filed on Friday 18 September 2026 is decided within 5 working days: by Thursday
    24th (the worked Sunday 20th counts). Nobody decides it: from midnight it is overdue on the HR
    head's list, and run_due tells the HR head and the HR bureau's team lead, once."""
    from django.contrib.auth.models import Group

    from claims import roles
    from workflow.staffing import ensure_staff_user

    claim = on_notice(publishing)
    lead = ensure_staff_user(
        username="hr_lead", password=DEMO_PASSWORD, role=roles.HR_REVIEWER, scope_group=claim.jurisdiction.staff_group
    )
    lead.groups.add(Group.objects.get_or_create(name=roles.TEAM_LEAD)[0])
    notice_started_at(claim, beijing(2026, 9, 18, 9, 0))
    objection = object_to(claim, 1, now=beijing(2026, 9, 18, 10, 0))
    assert notice.objection_due(objection) == datetime.date(2026, 9, 24)

    def told():
        return sorted(
            Notification.objects.filter(key__startswith=f"objection_overdue:{objection.pk}:").values_list(
                "recipient__username", "kind"
            )
        )

    assert "workflow.overdue_objections: 0" in run_due("2026-09-24T23:59:00+08:00")
    assert told() == []
    assert "workflow.overdue_objections: 2" in run_due("2026-09-25T00:00:00+08:00")
    assert told() == [("hr_head", "deadline_passed"), ("hr_lead", "deadline_passed")]
    run_due("2026-09-28T09:00:00+08:00")
    assert len(told()) == 2  # once
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PUBLIC_NOTICE  # the open objection holds the claim
    head = Client()
    head.force_login(publishing["hr_head"])
    listing = head.get("/objections/").content.decode()
    assert (
        f'data-objection="{objection.receipt}" data-due-state="overdue"' in listing
        and '<time datetime="2026-09-24">2026年9月24日</time>' in listing
    )
    assert ok(login("hr_head").get("/api/v1/objections/"))["results"][0]["due_state"] == "overdue"
    # Decided late, it is no longer overdue.
    notice.decide_objection(user=publishing["hr_head"], objection_id=objection.pk, decision="dismissed", reason="经核实已参加。")
    assert ok(login("hr_head").get("/api/v1/objections/"))["results"][0]["due_state"] == ""


# --------------------------------------------------------------------------- the auditor's notice file (N10)


def test_the_auditor_finds_the_notice_file_in_the_workspace_and_both_exports(publishing, audit_key):
    """The auditor of 温岭 asks for a claim's notice file: what was published (masked), from when to
    when, the two objections and what became of them (one upheld, one dismissed) and the period's
    end. The timeline shows it; the XLSX export has it on its "notice" sheet; the signed package
    holds the ledger entries it is made of."""
    import json
    import zipfile

    from django.utils import timezone

    claim = on_notice(publishing)
    published = AuditEvent.objects.get(action="claim.notice_published", claim_id=claim.pk)
    assert published.actor_username == "hr_reviewer"
    item = InboxItem.objects.get(claim=claim, step="public_notice")
    assert published.detail["end"] == item.due.isoformat()
    assert [(line["line"], line["trainee"], line["amount"]) for line in published.detail["lines"]] == [
        (1, "张*丰", str(claim.lines.get(line_no=1).amount)),
        (2, "李*", str(claim.lines.get(line_no=2).amount)),
    ]
    upheld = object_to(claim, 2, reason="该学员未参加考试。")
    dismissed = object_to(claim, 1, reason="该学员冒名顶替。", client_address="203.0.113.9")
    notice.decide_objection(user=publishing["hr_head"], objection_id=upheld.pk, decision="upheld", reason="经核实未参加考试。")
    notice.decide_objection(user=publishing["hr_head"], objection_id=dismissed.pk, decision="dismissed", reason="本人参加。")
    run_due((timezone.localtime() + datetime.timedelta(days=30)).isoformat())
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED

    auditor = Client()
    auditor.force_login(publishing["auditor"])
    page = auditor.get(f"/audit/claims/{claim.pk}/").content.decode()
    section = page.split('id="notice-file"')[1].split("</section>")[0]
    assert published.detail["start"] in section and item.due.isoformat() in section
    assert "张*丰" in section and "李*" in section
    assert f'data-objection="{upheld.receipt}" data-status="upheld"' in section and "经核实未参加考试。" in section
    assert f'data-objection="{dismissed.receipt}" data-status="dismissed"' in section
    assert "13800000000" not in section  # the objector's contact stays with the HR head

    response = auditor.post("/audit/export/xlsx/", {"query": ""})
    book = load_workbook(io.BytesIO(response.content))
    rows = list(book["notice"].iter_rows(values_only=True))
    mine = [row for row in rows[1:] if row[0] == claim.number]
    assert [row[6] for row in mine] == ["公示", "公示", "异议", "异议"]
    assert {row[10]: row[12] for row in mine if row[10]} == {upheld.receipt: "异议成立", dismissed.receipt: "异议不成立"}
    assert all(row[1] == published.detail["start"] and row[2] == item.due.isoformat() for row in mine)
    cells = " ".join(str(cell) for row in rows for cell in row if cell is not None)
    for trainee in Trainee.objects.all():
        assert decrypt_id_number(trainee.id_number_encrypted) not in cells
    assert not [name for name in ClaimLine.objects.values_list("name", flat=True) if name in cells]

    today = timezone.localdate().isoformat()
    package = auditor.post("/audit/export/package/", {"date_from": today, "date_to": today})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(package.streaming_content)))
    actions = [json.loads(entry)["action"] for entry in archive.read("entries.jsonl").decode().splitlines()]
    for action in ("claim.notice_published", "objection.filed", "objection.upheld", "objection.dismissed", "claim.notice_closed"):
        assert action in actions, action


def test_an_objection_left_open_on_a_claim_no_longer_on_notice_is_not_decided(publishing):
    """After the notice, a line is stopped by cancelling its payment or recovering it (finance),
    not by an objection: upholding one there once rejected a line already batched, and it was paid."""
    from claims.errors import StepAlreadyTaken

    claim = on_notice(publishing)
    objection = object_to(claim)
    Claim.objects.filter(pk=claim.pk).update(status=ClaimStatus.APPROVED)  # as the closing race once left one
    with pytest.raises(StepAlreadyTaken):
        notice.decide_objection(user=publishing["hr_head"], objection_id=objection.pk, decision="upheld", reason="成立")
    line = claim.lines.get(line_no=1)
    assert (line.decision, line.payment_status) == (LineDecision.APPROVE, PaymentStatus.RESERVED)
    assert Objection.objects.get(pk=objection.pk).status == ObjectionStatus.OPEN
