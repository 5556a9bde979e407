"""Completeness of the audit ledger: every service that writes leaves, in the same transaction,
a ledger entry for each object it changed; access events (logins, failed logins, logouts, API
tokens, denied accesses) are recorded; no raw ID number ever enters the ledger.

The check is generic: before and after each call, every row of every model of the project
(except the few listed in NOT_LEDGER_STATE, each with its reason) is snapshotted; each row
added, changed or deleted must be covered by one of the entries the call appended. A future
model, or a service that forgets its entry, fails here without this file knowing about it."""

import contextlib
import datetime
import json
from dataclasses import replace

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from audit.models import AuditEvent
from claims import catalogue, roles
from claims import services as claims
from claims.errors import InvalidInput
from claims.imports import receive_roster
from claims.models import Claim, ClaimLine, ClassTrainee, Jurisdiction, Trainee
from claims.organisation import ensure_department, ensure_jurisdiction, ensure_provider, ensure_staff_user
from workflow import services as claim_process
from workflow.services import LineDecisionInput

from .conftest import DEMO_PASSWORD, claim_data, line, resident_id
from .test_roster_import import HEADER, fill_template, trainee_row, valid_id

# Models whose rows are not state the ledger must account for, and why.
NOT_LEDGER_STATE = {
    "audit.auditevent": "the ledger itself",
    "audit.checkpoint": "signed over the ledger; its own verification is the record",
    "audit.subtreehash": "a cache of Merkle hashes, recomputable from the ledger",
    "sessions.session": "a login's session; the login is recorded on the user (auth.login)",
    "accounts.usersession": "which sessions a login opened (to end them all); the login is recorded (auth.login)",
    # django-axes counts failed logins to throttle them; only a lockout is recorded (auth.locked_out),
    # else anyone could grow the ledger with wrong passwords. Its access logs are switched off.
    "axes.accessattempt": "failed logins counted for throttling; a lockout is recorded once (auth.locked_out)",
    "axes.accessattemptexpiration": "when a counted failure stops counting",
    "axes.accesslog": "switched off (AXES_DISABLE_ACCESS_LOG): the ledger records logins",
    "axes.accessfailurelog": "switched off (AXES_ENABLE_ACCESS_FAILURE_LOG)",
    "admin.logentry": "Django admin's own log",
    "contenttypes.contenttype": "schema metadata",
    "auth.permission": "schema metadata (migrations create them)",
    # Notifications tell people about a change that is already in the ledger (the claim's event);
    # they change no claim, line, amount or permission, and are re-derivable from the tasks.
    "notifications.notification": "a message about a recorded change, not a change",
    # A copy of what an assessment body published: the body's signature over it is its record
    # (claims/registry.py); what a check found in it is in the claim's entry.
    "claims.issuedcertificate": "an assessment body's signed publication, not our change",
    "claims.assessmentbody": "an assessment body and its public key, as it publishes them",
    "notifications.outboxemail": "the e-mail of a notification, and whether it has been sent",
    "notifications.preference": "how a person wants to be told (e-mail, digest): their own setting, no claim's",
}

OPEN = (STATUS.NEW, STATUS.ASSIGNED)


def tracked_models():
    return [model for model in apps.get_models() if not model._meta.proxy and model._meta.label_lower not in NOT_LEDGER_STATE]


def snapshot() -> dict:
    """{model label: {pk: row}}; a user's row carries its groups (the m2m table)."""
    state = {}
    for model in tracked_models():
        label = model._meta.label_lower
        rows = {row["pk_"]: row for row in _rows(model)}
        if label == "auth.user":
            for user in model.objects.prefetch_related("groups"):
                rows[user.pk]["groups"] = sorted(group.pk for group in user.groups.all())
        state[label] = rows
    return state


def _rows(model):
    pk = model._meta.pk.attname
    for row in model.objects.values():
        key = row[pk]
        row = {name: json.dumps(value, sort_keys=True, default=str) for name, value in row.items()}
        row["pk_"] = key
        yield row


def changes(before: dict, after: dict) -> list[tuple[str, object, dict]]:
    """(model label, pk, the row as it is now or was before it went) for each row added, changed or deleted."""
    changed = []
    for label in after:
        old, new = before.get(label, {}), after[label]
        for pk in set(old) | set(new):
            if old.get(pk) != new.get(pk):
                changed.append((label, pk, new.get(pk) or old.get(pk)))
    return changed


def _claim_of_process(process_id) -> int | None:
    return Claim.objects.filter(process_id=process_id).values_list("pk", flat=True).first()


def owners(label: str, pk, row: dict) -> list[tuple]:
    """The ledger keys any one of which accounts for a change of this row:
    (object_type, object_id), ("claim", id) for an entry of that claim, ("mention", text)."""
    value = lambda name: json.loads(row[name])  # noqa: E731
    if label == "claims.claimline":
        return [("claim", value("claim_id"))]
    if label == "claims.flagoverride":
        return [("claims.claimline", value("line_id"))]
    if label == "claims.trainee":
        return [("mention", value("id_number_masked"))]
    if label == "claims.certificatecheck":
        return [("claim", ClaimLine.objects.filter(pk=value("line_id")).values_list("claim_id", flat=True).first())]
    if label == "claims.registryentry":
        return [("claims.registryimport", value("registry_import_id"))]
    if label == "claims.classtrainee":
        return [("claims.trainingclass", value("training_class_id"))]
    if label == "claims.attendance":
        class_id = ClassTrainee.objects.filter(pk=value("class_trainee_id")).values_list("training_class_id", flat=True).first()
        return [("claims.trainingclass", class_id)]
    if label == "claims.rosterupload":
        return [("claim", value("claim_id")), ("mention", f'"roster_upload":{pk}')]
    if label == "viewflow.process":
        return [("claim", _claim_of_process(pk))]
    if label == "viewflow.task":
        return [("claim", _claim_of_process(value("process_id")))]
    if label in ("claim_workflow.inboxitem", "claim_workflow.claimduty"):
        return [("claim", value("claim_id"))]  # read models of the claim's process, derived from its tasks
    if label in ("payments.transfer", "payments.batchline", "payments.bankfile"):
        return [("payments.paymentbatch", value("batch_id"))]
    if label == "payments.planitem":
        return [("payments.fundingplan", value("plan_id"))]
    if label == "payments.recoveryreceipt":
        return [("payments.recoveryorder", value("order_id"))]
    if label == "accounts.apitoken":
        return [("auth.user", value("user_id"))]
    if label.endswith("objectpermission"):
        if "content_object_id" in row:  # direct foreign-key tables: the object's model by the table's name
            target = {
                "claim": "claims.claim",
                "jurisdiction": "claims.jurisdiction",
                "department": "claims.department",
                "provider": "claims.provider",
            }[label.split(".")[1].replace("groupobjectpermission", "").replace("userobjectpermission", "")]
            return [(target, value("content_object_id"))]
        content_type = apps.get_model("contenttypes", "ContentType").objects.get(pk=value("content_type_id"))
        return [(f"{content_type.app_label}.{content_type.model}", value("object_pk"))]
    return [(label, pk)]


def covered(key: tuple, entries: list[AuditEvent]) -> bool:
    kind, ident = key
    for entry in entries:
        if (
            kind == "claim"
            and ident is not None
            and (entry.claim_id == ident or (entry.object_type, entry.object_id) == ("claims.claim", str(ident)))
        ):
            return True
        if kind == "mention" and str(ident) in entry.payload:
            return True
        if (entry.object_type, entry.object_id) == (kind, str(ident)):
            return True
    return False


class Ledger:
    """Checks what each call appends to the ledger against what it changed."""

    def __init__(self):
        self.calls = 0

    @contextlib.contextmanager
    def expect(self, *actions: str):
        before, last = snapshot(), _last_seq()
        result = {}
        yield result
        after = snapshot()
        entries = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq"))
        seen = [entry.action for entry in entries]
        for action in actions:
            assert action in seen, (action, seen)
        missing = [
            (label, pk, owners(label, pk, row))
            for label, pk, row in changes(before, after)
            if not any(covered(key, entries) for key in owners(label, pk, row))
        ]
        assert not missing, f"changed without a ledger entry: {missing}; entries: {seen}"
        result["entries"] = entries
        result["changed"] = changes(before, after)
        self.calls += 1

    @contextlib.contextmanager
    def nothing(self):
        """A failing call: neither the change nor any entry stays."""
        before, last = snapshot(), _last_seq()
        yield
        assert _last_seq() == last, [e.action for e in AuditEvent.objects.filter(seq__gt=last)]
        assert changes(before, snapshot()) == []


def _last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def open_task(claim: Claim) -> Task:
    return Task.objects.filter(process_id=Claim.objects.get(pk=claim.pk).process_id, status__in=OPEN).get()


def one(entries, action) -> AuditEvent:
    found = [entry for entry in entries if entry.action == action]
    assert len(found) == 1, [entry.action for entry in entries]
    return found[0]


@pytest.fixture
def ledger(demo):
    return Ledger()


def test_every_claim_service_records_each_change_with_before_and_after(demo, ledger):
    clerk, dept, hr = demo["provider_clerk"], demo["dept_reviewer"], demo["hr_reviewer"]

    with ledger.expect("claim.created", "permission.granted") as call:
        claim = claims.create_claim(user=clerk, data=claim_data())
    assert {label for label, _pk, _row in call["changed"]} >= {"claims.claim", "claims.claimline", "claims.trainee"}

    with ledger.expect("claim.edited") as call:
        claim = claims.update_claim(
            user=clerk,
            claim=claim,
            data={
                "class_name": "低压电工作业 2026 第2期",
                "lines": [line(resident_id(1), "张三"), line(resident_id(3), "王五", certificate_number="T-2026-0003")],
            },
        )
    edited = one(call["entries"], "claim.edited").detail
    assert (edited["before"]["class_name"], edited["after"]["class_name"]) == (
        "低压电工作业 2026 第1期",
        "低压电工作业 2026 第2期",
    )
    assert [item["certificate_number"] for item in edited["lines_before"]] == ["T-2026-0001", "T-2026-0002"]
    assert [item["certificate_number"] for item in edited["lines"]] == ["T-2026-0001", "T-2026-0003"]

    with ledger.expect("claim.submitted", "permission.granted"):
        claim = claim_process.submit_claim(user=clerk, claim=claim)

    with ledger.expect("task.assigned"):
        task = claim_process.take_task(user=dept, task_id=open_task(claim).pk)

    with ledger.expect("claim.approved_step") as call:
        claim_process.decide_task(
            user=dept,
            task_id=task.pk,
            decision="approve",
            comment="ok",
            line_decisions=[LineDecisionInput(line=1, decision="approve")],
        )
    changed_lines = one(call["entries"], "claim.approved_step").detail["line_changes"]
    assert [(item["line"], item["before"]["decision"], item["after"]["decision"]) for item in changed_lines] == [
        (1, "pending", "approve"),
        (2, "pending", "approve"),
    ]

    with ledger.expect("claim.returned"):
        claim_process.decide_task(user=hr, task_id=open_task(claim).pk, decision="return", comment="第2行证书编号有误")

    with ledger.expect("claim.edited"):
        claims.update_claim(user=clerk, claim=claim, data={"class_name": "低压电工作业 2026 第2期（更正）"})

    with ledger.expect("claim.resubmitted"):
        claim_process.submit_claim(user=clerk, claim=claim)

    with ledger.expect("claim.approved_step", "allocation.reserved") as call:
        claim_process.decide_task(
            user=hr,
            task_id=open_task(claim).pk,
            decision="approve",
            comment="同意",
            line_decisions=[LineDecisionInput(line=2, decision="reject", reason="DOCS")],
        )
    detail = one(call["entries"], "claim.approved_step").detail
    assert {
        "line": 2,
        "before": {"decision": "approve", "decision_reason": ""},
        "after": {"decision": "reject", "decision_reason": "DOCS"},
    } in detail["line_changes"]
    assert detail["total_before"] != detail["total"]

    reserved = one(call["entries"], "allocation.reserved")
    assert (reserved.detail["amount"], reserved.detail["lines"]) == (str(claim.lines.get(line_no=1).amount), [1])
    assert open_task(claim).flow_task.name == "disbursement"


def test_override_and_rejection_are_recorded_and_a_failed_decision_leaves_nothing(demo, ledger, monkeypatch):
    clerk, dept, hr = demo["provider_clerk"], demo["dept_reviewer"], demo["hr_reviewer"]
    twice = [line(resident_id(7), "赵六"), line(resident_id(7), "赵六", certificate_number="T-2026-0099")]
    with ledger.expect("claim.created"):
        claim = claims.create_claim(user=clerk, data=claim_data(lines=twice))
    with ledger.expect("claim.submitted"):
        claim_process.submit_claim(user=clerk, claim=claim)
    with ledger.expect("claim.approved_step"):
        claim_process.decide_task(user=dept, task_id=open_task(claim).pk, decision="approve", comment="转人社局")

    # Fails after the change (the task claimed, the flags re-checked): all of it rolls back with the entry.
    with ledger.nothing(), pytest.raises(InvalidInput):
        claim_process.decide_task(
            user=hr,
            task_id=open_task(claim).pk,
            decision="approve",
            comment="x",
            line_decisions=[
                LineDecisionInput(line=1, decision="reject", reason="DUP"),
                LineDecisionInput(line=2, decision="reject", reason="DUP"),
            ],
        )

    flagged = claim.lines.get(line_no=2)
    assert "DUP" in [flag["code"] for flag in flagged.flags]
    with ledger.expect("flag.overridden") as call:
        claim_process.override_flag(user=hr, line_id=flagged.pk, code="DUP", reason="两张不同证书，核实无误")
    assert one(call["entries"], "flag.overridden").object_id == str(flagged.pk)

    with ledger.expect("claim.rejected") as call:
        claim_process.decide_task(user=hr, task_id=open_task(claim).pk, decision="reject", comment="虚假培训", reason="FRAUD")
    assert all(item["after"]["decision"] == "reject" for item in one(call["entries"], "claim.rejected").detail["line_changes"])

    # A service whose entry cannot be written leaves no change either (same transaction).
    def broken(**kwargs):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(claims, "record_event", broken)
    with ledger.nothing(), pytest.raises(RuntimeError):
        claims.create_claim(user=clerk, data=claim_data())


def test_roster_import_catalogue_and_organisation_services_record_their_changes(demo, ledger):
    clerk, admin = demo["provider_clerk"], demo["admin"]
    with ledger.expect("claim.created") as call:
        upload = receive_roster(
            user=clerk, header=dict(HEADER), filename="花名册.xlsx", content=fill_template([trainee_row(n) for n in range(1, 4)])
        )
    assert one(call["entries"], "claim.created").detail["source"]["roster_upload"] == upload.pk

    jurisdiction = Jurisdiction.objects.get(code="WL")
    with ledger.expect("catalogue.policy_created"):
        policy = catalogue.create_policy(
            actor=admin,
            jurisdiction=jurisdiction,
            code="S19",
            name="演示",
            category="personal_certificate",
            payee="trainee",
            reason="依据 002 号文件",
        )
    terms = catalogue.VersionTerms(
        valid_from=datetime.date(2024, 1, 1),
        amount_rule="cap",
        amount_by_level={"junior": "1000", "senior": "2000.00"},
        certificate_types=["skill_level"],
        source="002 §三(十三)",
    )
    with ledger.expect():
        first = catalogue.add_version(actor=admin, policy=policy, terms=terms, reason="依据 002 号文件")
    with ledger.expect() as call:
        catalogue.update_version(
            actor=admin, version=first, terms=replace(catalogue.terms_of(first), notes="更正"), reason="依据 002 号文件"
        )
    assert call["changed"] and call["entries"]
    with ledger.expect() as call:
        catalogue.add_version(
            actor=admin, policy=policy, terms=replace(terms, valid_from=datetime.date(2025, 1, 1)), reason="依据 002 号文件"
        )
    first.refresh_from_db()
    assert first.valid_to == datetime.date(2024, 12, 31)  # closed the day before: its own entry covers it

    with ledger.expect("jurisdiction.created", "group.created", "permission.granted"):
        other = ensure_jurisdiction(actor=admin, code="XJ", name="新区", reason="区划调整")
    with ledger.expect("jurisdiction.updated") as call:
        ensure_jurisdiction(actor=admin, code="XJ", name="新区（更名）", hr_head_threshold="50000.00", reason="区划调整")
    updated = one(call["entries"], "jurisdiction.updated").detail
    assert updated["before"] == {"name": "新区", "hr_head_threshold": "100000.00"}
    assert updated["after"] == {"name": "新区（更名）", "hr_head_threshold": "50000.00"}
    with ledger.expect() as call:
        ensure_jurisdiction(actor=admin, code="XJ", name="新区（更名）", reason="区划调整")
    assert call["entries"] == [] and call["changed"] == []  # nothing changed, nothing recorded

    with ledger.expect("department.created", "permission.granted"):
        department = ensure_department(actor=admin, jurisdiction=other, code="XJ-YJJ", name="应急管理局", reason="区划调整")
    with ledger.expect("department.updated") as call:
        ensure_department(
            actor=admin, jurisdiction=other, code="XJ-YJJ", name="应急管理局（新）", sector="安全", reason="区划调整"
        )
    assert one(call["entries"], "department.updated").detail["after"] == {"name": "应急管理局（新）", "sector": "安全"}

    with ledger.expect("provider.created", "permission.granted"):
        provider = ensure_provider(
            actor=admin, jurisdiction=other, code="XJ-P1", name="某学校", credit_code="91350100M000100Y43", reason="区划调整"
        )
    with ledger.expect("provider.updated"):
        ensure_provider(
            actor=admin,
            jurisdiction=other,
            code="XJ-P1",
            name="某学校（新）",
            credit_code="91350100M000100Y43",
            reason="区划调整",
        )

    with ledger.expect("user.created"):
        person = ensure_staff_user(
            actor=admin,
            username="xj_clerk",
            password="Xj-Clerk-Pass-One",
            role=roles.PROVIDER_CLERK,
            scope_group=provider.staff_group,
            reason="区划调整",
        )
    with ledger.expect("user.groups_changed", "user.updated") as call:
        ensure_staff_user(
            actor=admin,
            username="xj_clerk",
            password="Xj-Clerk-Pass-Two",
            role=roles.DEPARTMENT_REVIEWER,
            scope_group=department.staff_group,
            reason="区划调整",
        )
    groups = one(call["entries"], "user.groups_changed").detail
    assert groups["before"] == sorted([roles.PROVIDER_CLERK, "provider:XJ-P1"])
    assert groups["after"] == sorted([roles.DEPARTMENT_REVIEWER, "department:XJ-YJJ"])
    assert (
        "Xj-Clerk-Pass-Two" not in one(call["entries"], "user.updated").payload
        and person.password not in call["entries"][0].payload
    )
    assert Group.objects.filter(name="department:XJ-YJJ").exists()


def test_logins_logouts_tokens_and_denied_accesses_are_recorded_and_failed_logins_are_not(demo, ledger):
    clerk = demo["provider_clerk"]
    browser = Client(REMOTE_ADDR="10.1.2.3")
    # A failed login is counted by django-axes, not recorded: anyone could grow the ledger with them.
    # A lockout is recorded, once (tests/test_accounts.py).
    with ledger.nothing():
        assert browser.post("/accounts/login/", {"username": "provider_clerk", "password": "wrong"}).status_code == 200
    with ledger.nothing():
        browser.post("/accounts/login/", {"username": "nobody", "password": "wrong"})

    with ledger.expect("auth.login") as call:
        assert browser.post("/accounts/login/", {"username": "provider_clerk", "password": DEMO_PASSWORD}).status_code == 302
    assert one(call["entries"], "auth.login").actor == clerk

    # Denied on a page: another provider's claim is out of scope (404), the catalogue editor is not theirs (403).
    others = claims.create_claim(user=demo["provider2_clerk"], data=claim_data())
    with ledger.expect("access.denied") as call:
        assert browser.get(f"/claims/{others.pk}/").status_code == 404
    assert one(call["entries"], "access.denied").detail["status"] == 404
    with ledger.expect("access.denied") as call:
        assert browser.get("/catalogue/WL/S1/versions/new/").status_code == 403
    assert one(call["entries"], "access.denied").detail["path"] == "/catalogue/WL/S1/versions/new/"

    with ledger.expect("auth.logout"):
        browser.post("/accounts/logout/")

    api = APIClient(REMOTE_ADDR="10.9.9.9")
    with ledger.nothing():
        assert (
            api.post("/api/v1/auth/token/", {"username": "provider_clerk", "password": "wrong"}, format="json").status_code == 400
        )
    with ledger.expect("auth.token_issued") as call:
        response = api.post("/api/v1/auth/token/", {"username": "provider_clerk", "password": DEMO_PASSWORD}, format="json")
    token = response.json()["token"]
    issued = one(call["entries"], "auth.token_issued")
    assert issued.detail["new_token"] is True and token not in issued.payload

    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    with ledger.expect("access.denied") as call:
        assert api.get(f"/api/v1/claims/{others.pk}/").status_code == 404
    assert one(call["entries"], "access.denied").detail["code"] == "not_found"
    with ledger.expect("access.denied") as call:
        assert api.get("/api/v1/audit/verify/").status_code == 403
    denied = one(call["entries"], "access.denied")
    assert (denied.actor, denied.detail["method"], denied.detail["status"]) == (clerk, "GET", 403)
    # Anonymous requests are refused (401/redirect) without an entry: there is nobody to name.
    with ledger.expect() as call:
        assert APIClient().get("/api/v1/audit/verify/").status_code == 401
    assert call["entries"] == []


def test_no_raw_id_number_enters_the_ledger(demo):
    """After every service above has run on its own data, no payload holds an ID number in clear."""
    clerk = demo["provider_clerk"]
    numbers = [resident_id(n) for n in range(1, 4)] + [valid_id(n) for n in range(1, 4)]
    claim = claims.create_claim(
        user=clerk,
        data=claim_data(lines=[line(number, f"人{n}", certificate_number=f"C{n}") for n, number in enumerate(numbers[:3])]),
    )
    claim_process.submit_claim(user=clerk, claim=claim)
    receive_roster(
        user=clerk, header=dict(HEADER), filename="r.xlsx", content=fill_template([trainee_row(n) for n in range(1, 4)])
    )
    assert Trainee.objects.count() >= 6
    for entry in AuditEvent.objects.all():
        for number in numbers:
            assert number not in entry.payload and number.lower() not in entry.payload, (entry.seq, entry.action)
