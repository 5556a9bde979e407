"""A ledger entry that names other claims (HR's override of a flag keeps the flag's message and
``related``: the claims of other providers, departments or jurisdictions that hold the same
person or certificate) is read as its reader may see it, by every reader and on every read
path: the claim's history in the API, the claim and task pages, the auditor's timeline and
as-of pages. The stored entry is untouched: its bytes, which a third party verifies, go whole
into the signed package of the jurisdiction's auditor (docs/architecture.md, "Who reads the
ledger").

Two stories. In Wenling, 温岭市某技工学校 claims 学员1's certificate T-SHARED with 市民政局;
温岭市某职业技能培训学校 claims it again with 市应急管理局, and HR overrides the duplicate: 市应急管理局's
reviewer reads the override without 市民政局's claim. In Yuhuan, a school claims the same
person and certificate as a Wenling claim and Yuhuan's HR overrides the flags: Yuhuan's auditor
reads the override without the Wenling claim."""

import datetime
import io
import json
import zipfile

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit import actions
from audit.checkpoints import sign_checkpoint
from audit.models import AuditEvent
from claims import roles
from claims.models import AmountRule, CertificateType, ClaimLine, Level, Payee, PolicyVersion, SubsidyPolicy
from claims.organisation import ensure_department, ensure_jurisdiction, ensure_provider, ensure_staff_user
from claims.selectors import ledger_history_of_claim
from claims.services import create_claim
from demo.funds import ensure_demo_funds
from demo.management.commands.seed_demo import credit_code
from workflow.services import decide_task, override_flag, submit_claim

from .api_support import login, ok
from .audit_support import audit_key  # noqa: F401 - fixture
from .conftest import DEMO_PASSWORD, claim_data, line, resident_id
from .payments_support import open_task_id
from .test_audit_export import auditor_machine, run_verifier  # noqa: F401 - fixture

SHARED = "T-SHARED"


def trainee_line():
    return line(resident_id(1), "学员1", certificate_number=SHARED)


def overridden(claim, *, hr, code="CERT_DUP") -> AuditEvent:
    """HR's override of ``code`` on the claim's line (at its HR step), as recorded."""
    override_flag(user=hr, line_id=ClaimLine.objects.get(claim=claim).pk, code=code, reason="经核实为补考，同意豁免")
    return AuditEvent.objects.get(claim_id=claim.pk, action=actions.FLAG_OVERRIDDEN, detail__code=code)


def history_of(username: str, claim) -> list[dict]:
    body = ok(login(username).get(f"/api/v1/claims/{claim.pk}/history/"))
    return body["results"] if isinstance(body, dict) else body


def page(user, url: str) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


# --------------------------------------------------------------------------- two departments of Wenling


@pytest.fixture
def civil_affairs_and_emergency(demo):
    """市民政局's claim of 学员1 and T-SHARED, then 市应急管理局's, approved by its department and
    at HR's review, where HR overrides the certificate named twice."""
    theirs = create_claim(
        user=demo["provider2_clerk"], data=claim_data(lines=[trainee_line()], department="WL-MZJ", class_name="养老护理 第1期")
    )
    submit_claim(user=demo["provider2_clerk"], claim=theirs)
    ours = create_claim(user=demo["provider_clerk"], data=claim_data(lines=[trainee_line()], class_name="低压电工 第1期"))
    submit_claim(user=demo["provider_clerk"], claim=ours)
    decide_task(user=demo["dept_reviewer"], task_id=open_task_id(ours), decision="approve")
    theirs.refresh_from_db()
    event = overridden(ours, hr=demo["hr_reviewer"])
    assert event.detail["related"] == [theirs.number] and theirs.number in event.detail["message"]
    return theirs, ours, event


def test_the_emergency_departments_reviewer_reads_the_override_without_the_civil_affairs_claim(demo, civil_affairs_and_emergency):
    theirs, ours, event = civil_affairs_and_emergency
    [entry] = [entry for entry in history_of("dept_reviewer", ours) if entry["action"] == actions.FLAG_OVERRIDDEN]
    assert theirs.number not in json.dumps(entry, ensure_ascii=False)
    # What the override was stays: the line, the flag, why it is overridden, and that another claim holds the certificate.
    assert entry["detail"]["code"] == "CERT_DUP" and entry["detail"]["related"] == []
    assert entry["reason"] == "经核实为补考，同意豁免" and "另 1 份您无权查看的申领" in entry["detail"]["message"]
    assert entry["hash"] == event.hash  # the entry as recorded, read in part
    # The claim page and the instances every page reads.
    assert theirs.number not in page(demo["dept_reviewer"], reverse("approvals:claim", args=[ours.pk]))
    for read in ledger_history_of_claim(user=demo["dept_reviewer"], claim=ours):
        assert theirs.number not in json.dumps(read.detail, ensure_ascii=False) + read.payload
    # A raw read of the details cannot be shaped: it leaves the override out.
    raw = ledger_history_of_claim(user=demo["dept_reviewer"], claim=ours).values_list("action", "detail")
    assert raw and theirs.number not in json.dumps(list(raw), ensure_ascii=False, default=str)
    # The stored entry is untouched.
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.detail["related"] == [theirs.number] and theirs.number in stored.payload


def test_a_history_with_more_overrides_costs_the_reviewer_no_more_statements(demo, civil_affairs_and_emergency):
    """The claims all the entries name are asked in one statement, not one per entry."""
    _theirs, ours, _event = civil_affairs_and_emergency

    def statements() -> int:
        with CaptureQueriesContext(connection) as captured:
            entries = list(ledger_history_of_claim(user=demo["dept_reviewer"], claim=ours))
        assert all(not entry.detail.get("related") for entry in entries if entry.action == actions.FLAG_OVERRIDDEN)
        return len(captured)

    one = statements()
    overridden(ours, hr=demo["hr_reviewer"], code="E3")
    overridden(ours, hr=demo["hr_reviewer"], code="N9")
    assert statements() == one


def test_hr_and_the_auditor_who_see_the_claim_read_it_named(demo, civil_affairs_and_emergency):
    theirs, ours, _event = civil_affairs_and_emergency
    [entry] = [entry for entry in history_of("hr_reviewer", ours) if entry["action"] == actions.FLAG_OVERRIDDEN]
    assert entry["detail"]["related"] == [theirs.number] and theirs.number in entry["detail"]["message"]
    [entry] = [entry for entry in history_of("auditor", ours) if entry["action"] == actions.FLAG_OVERRIDDEN]
    assert entry["detail"]["related"] == [theirs.number]


# --------------------------------------------------------------------------- Yuhuan, a neighbour


@pytest.fixture
def yuhuan(demo, audit_key):
    """Yuhuan (the demo's second jurisdiction, auditor_yh's) with a department, a school, its
    reviewers and standard S3; a Wenling claim of 学员1 and T-SHARED, then a Yuhuan one at HR's
    review, where Yuhuan's HR overrides the certificate named twice; a checkpoint over it all."""
    with transaction.atomic():
        jurisdiction = ensure_jurisdiction(code="YH", name="玉环市")
        department = ensure_department(jurisdiction=jurisdiction, code="YH-YJJ", name="玉环市应急管理局")
        provider = ensure_provider(
            jurisdiction=jurisdiction, code="YH-P001", name="玉环市某培训学校", credit_code=credit_code("91331021MA2AL0001")
        )
        people = {
            username: ensure_staff_user(username=username, password=DEMO_PASSWORD, role=role, scope_group=group)
            for username, role, group in (
                ("yh_clerk", roles.PROVIDER_CLERK, provider.staff_group),
                ("yh_dept_reviewer", roles.DEPARTMENT_REVIEWER, department.staff_group),
                ("yh_hr_reviewer", roles.HR_REVIEWER, jurisdiction.staff_group),
            )
        }
        policy = SubsidyPolicy.objects.create(
            jurisdiction=jurisdiction, code="S3", name="特种作业安全技能培训", payee=Payee.PROVIDER
        )
        PolicyVersion.objects.create(
            policy=policy,
            version=1,
            valid_from=datetime.date(2022, 1, 1),
            amount_rule=AmountRule.CAP,
            amount_by_level={Level.SENIOR.value: "500.00"},
            certificate_types=[CertificateType.SPECIAL_OPERATION.value],
        )
        ensure_demo_funds(jurisdiction=jurisdiction)
    wenling_claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=[trainee_line()], class_name="温岭 第1期"))
    submit_claim(user=demo["provider_clerk"], claim=wenling_claim)
    wenling_claim.refresh_from_db()
    claim = create_claim(
        user=people["yh_clerk"], data=claim_data(lines=[trainee_line()], department="YH-YJJ", class_name="玉环 第1期")
    )
    submit_claim(user=people["yh_clerk"], claim=claim)
    decide_task(user=people["yh_dept_reviewer"], task_id=open_task_id(claim), decision="approve")
    event = overridden(claim, hr=people["yh_hr_reviewer"])
    assert event.detail["related"] == [wenling_claim.number]
    sign_checkpoint()
    return {"wenling_claim": wenling_claim, "claim": claim, "event": event, "auditor": demo["auditor_yh"]}


def test_yuhuans_auditor_reads_the_override_without_the_wenling_claim(yuhuan):
    wenling_number, claim, auditor = yuhuan["wenling_claim"].number, yuhuan["claim"], yuhuan["auditor"]
    [entry] = [entry for entry in history_of("auditor_yh", claim) if entry["action"] == actions.FLAG_OVERRIDDEN]
    assert wenling_number not in json.dumps(entry, ensure_ascii=False) and entry["detail"]["related"] == []
    for url in (
        reverse("audit:timeline", args=[claim.pk]),
        reverse("audit:as_of", args=[claim.pk]) + f"?date={timezone.localdate().isoformat()}",
        reverse("approvals:claim", args=[claim.pk]),
    ):
        assert wenling_number not in page(auditor, url), url


def test_yuhuans_signed_package_and_proof_hold_the_override_whole_and_verify_offline(client, yuhuan, auditor_machine, tmp_path):
    """The bytes are the evidence: Yuhuan's auditor verifies the override of a Yuhuan claim as it
    was hashed, the Wenling number in it too (a number, not the claim: its content stays Wenling's)."""
    event = yuhuan["event"]
    proof = ok(login("auditor_yh").get(f"/api/v1/audit/inclusion/?seq={event.seq}"))
    assert proof["payload"] == event.payload and proof["entry_hash"] == event.hash
    client.force_login(yuhuan["auditor"])
    today = timezone.localdate().isoformat()
    response = client.post("/audit/export/package/", {"date_from": today, "date_to": today})
    assert response.status_code == 200
    package = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    entries = package.read("entries.jsonl").decode().splitlines()
    assert yuhuan["event"].payload in entries
    assert yuhuan["claim"].number in package.read("entries.jsonl").decode()
    out = tmp_path / "yuhuan"
    package.extractall(out)
    result = run_verifier(auditor_machine, out, "--public-key", package.read("public_key.txt").decode().strip())
    assert result.returncode == 0 and "VERDICT: OK" in result.stdout, result.stdout + result.stderr
