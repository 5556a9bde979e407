"""An entry's columns against its hashed bytes.

Only an entry's payload is hashed and signed; its other columns are copies, and they are what
the auditor's timeline and the API's history show and what decides who reads the entry
(claim_id, jurisdiction_id). Someone with the database (the append-only triggers disabled, as
the audit did) rewrites a copy: the verification names the entry and the column."""

import datetime
import hashlib
import json

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from audit import copies
from audit.checkpoints import sign_checkpoint, verify_ledger
from audit.models import AuditEvent
from workflow import selectors
from workflow.services import decide_task, submit_claim

from .api_support import login, ok
from .audit_support import audit_key, old_format_entry, tamper  # noqa: F401 - fixture
from .conftest import DEMO_PASSWORD, claim_data, line, resident_id
from .test_audit_ledger import verify_command

pytestmark = pytest.mark.postgres  # the tampering goes around PostgreSQL's append-only triggers


def at_department(demo, serial):
    from claims.services import create_claim

    lines = [line(resident_id(serial), "学员甲", certificate_number=f"Z{serial}", stated_cost=None)]
    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines, class_name=f"第{serial}期"))
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    return claim


def approved_by_the_department(demo, serial, comment):
    """A claim the department approved, and the entry of that approval."""
    claim = at_department(demo, serial)
    decide_task(user=demo["dept_reviewer"], task_id=selectors.open_task_of_claim(claim).pk, decision="approve", comment=comment)
    return claim, AuditEvent.objects.get(claim_id=claim.pk, action="claim.approved_step")


def auditor_client():
    auditor = Client()
    assert auditor.login(request=HttpRequest(), username="auditor", password=DEMO_PASSWORD)
    return auditor


def test_rewriting_an_entrys_shown_columns_is_noticed_by_the_verifier(audit_key, demo):
    """The department's approval is signed over; then who approved it and why are rewritten in the
    columns the timeline shows, the bytes untouched. The timeline shows the forgery; the
    verification (command, API, page) names the entry and the two columns."""
    claim, entry = approved_by_the_department(demo, 903, "台账核对无误")
    checkpoint = sign_checkpoint()
    assert verify_ledger()["ok"]

    tamper(AuditEvent, entry.pk, actor_username="dept2_reviewer", reason="伪造的理由")

    auditor = auditor_client()
    timeline = auditor.get(reverse("audit:timeline", args=[claim.pk])).content.decode()
    assert "伪造的理由" in timeline and "dept2_reviewer" in timeline  # what the auditor is shown
    result = verify_ledger()
    assert (result["ok"], result["chain_ok"], result["copies_ok"]) == (False, True, False)
    assert (result["first_bad_copy_seq"], result["bad_copy_columns"]) == (entry.seq, ["actor_username", "reason"])
    assert result["checkpoints_ok"] and result["latest_checkpoint"]["tree_size"] == checkpoint.tree_size  # the bytes are intact

    output, failure = verify_command()
    assert f"columns: DISAGREE with the bytes from seq {entry.seq} (actor_username, reason)" in output
    assert failure is not None and f"the columns of seq {entry.seq} disagree with its bytes: actor_username, reason" in failure
    api = ok(login("auditor").get("/api/v1/audit/verify/"))
    assert (api["ok"], api["copies_ok"], api["first_bad_copy_seq"], api["bad_copy_columns"]) == (
        False,
        False,
        entry.seq,
        ["actor_username", "reason"],
    )
    page = auditor.get(reverse("audit:verify")).content.decode()
    assert f"第 {entry.seq} 条记录的字段与其哈希内容不符（actor_username, reason）" in page


def test_moving_an_entry_out_of_the_auditors_scope_is_noticed_by_the_verifier(audit_key, demo):
    """claim_id and jurisdiction_id decide who reads an entry. Set to null, the department's
    approval is gone from the claim's timeline (and from the auditor's export); the entry's bytes
    name the claim and its jurisdiction, and the verification names both columns."""
    claim, entry = approved_by_the_department(demo, 904, "同意")
    sign_checkpoint()
    auditor = auditor_client()
    assert "同意" in auditor.get(reverse("audit:timeline", args=[claim.pk])).content.decode()

    tamper(AuditEvent, entry.pk, claim_id=None, jurisdiction_id=None)

    assert "同意" not in auditor.get(reverse("audit:timeline", args=[claim.pk])).content.decode()
    result = verify_ledger()
    assert result["ok"] is False
    assert (result["first_bad_copy_seq"], result["bad_copy_columns"]) == (entry.seq, ["claim_id", "jurisdiction_id"])


def test_a_new_entry_names_its_jurisdiction_in_its_bytes(demo):
    claim = at_department(demo, 905)
    entry = AuditEvent.objects.filter(claim_id=claim.pk).latest("seq")
    body = json.loads(entry.payload)
    assert (body["claim"], body["jurisdiction"]) == (claim.number, claim.jurisdiction.code)
    assert entry.jurisdiction_id == claim.jurisdiction_id
    bureau_entry = AuditEvent.objects.filter(jurisdiction_id__isnull=True).latest("seq")  # a sign-in, a role
    assert json.loads(bureau_entry.payload)["jurisdiction"] is None


@pytest.fixture(params=["sql", "python"])
def comparison(request, monkeypatch):
    """The verification as PostgreSQL runs it (one statement) and as SQLite does (Python)."""

    def never(size):
        raise AssertionError("the other comparison ran")

    if request.param == "python":
        monkeypatch.setattr(copies, "_first_disagreement_in_sql", lambda size: copies._first_disagreement_in_python(size))
    else:
        monkeypatch.setattr(copies, "_first_disagreement_in_python", never)
    return request.param


def test_an_entry_written_before_the_bytes_named_a_jurisdiction_still_verifies(audit_key, demo, comparison):
    """A ledger goes on from entries without the "jurisdiction" key: they verify as they were
    hashed, and their jurisdiction_id is checked through the claim their bytes name."""
    claim = at_department(demo, 906)
    old = old_format_entry(claim=claim, reason="升级前的记录")
    assert "jurisdiction" not in json.loads(old.payload)
    at_department(demo, 907)  # new entries after it
    sign_checkpoint()
    result = verify_ledger()
    assert result["ok"] and result["copies_ok"], result

    tamper(AuditEvent, old.pk, jurisdiction_id=None)
    result = verify_ledger()
    assert (result["first_bad_copy_seq"], result["bad_copy_columns"]) == (old.seq, ["jurisdiction_id"])


def rewritten(column: str, *, claim, other_claim):
    """Another value for ``column`` of the department's approval of ``claim``."""
    from claims.models import Jurisdiction

    return {
        "actor_username": "dept2_reviewer",
        "action": "claim.rejected_step",
        "object_type": "claims.claimline",
        "object_id": "999999",
        "from_state": "approved",
        "to_state": "rejected",
        "reason": "伪造的理由",
        "detail": {"lines": []},
        "at": datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
        "claim_id": other_claim.pk,
        "jurisdiction_id": Jurisdiction.objects.exclude(pk=claim.jurisdiction_id).values_list("pk", flat=True).first(),
    }[column]


@pytest.mark.parametrize("column", list(copies.COPIED_FROM))
def test_each_column_rewritten_alone_is_named(audit_key, demo, comparison, column):
    claim, entry = approved_by_the_department(demo, 908, "同意")
    value = rewritten(column, claim=claim, other_claim=at_department(demo, 909))
    assert value is not None and getattr(entry, column) != value
    assert verify_ledger()["copies_ok"]

    tamper(AuditEvent, entry.pk, **{column: value})

    result = verify_ledger()
    assert (result["ok"], result["chain_ok"]) == (False, True)
    assert (result["first_bad_copy_seq"], result["bad_copy_columns"]) == (entry.seq, [column])


def test_a_payload_postgresql_cannot_read_is_named_not_a_server_error(audit_key, demo):
    """A payload that is not JSON (its hash rewritten too, so only the chain's next link and the
    columns tell): the one SQL statement cannot read it, Python names it."""
    entry = AuditEvent.objects.order_by("-seq").first()
    tamper(AuditEvent, entry.pk, payload="not json", hash=hashlib.sha256(b"not json").hexdigest())
    result = verify_ledger()
    assert (result["first_bad_copy_seq"], result["bad_copy_columns"]) == (entry.seq, list(copies.COPIED_FROM))
