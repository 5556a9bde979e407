"""Who did what, when, and why: a person's discretionary change carries a written reason.

The HR bureau's administrator raises a subsidy amount from a date, citing the policy document that
raised it; the auditor later reads on the standard's history who changed it, when, and why. A
reviewer back from leave revokes her substitute, saying why. The ledger itself refuses an entry of
such an action without a reason (audit.actions.REASON_REQUIRED), wherever it is written from, so a
new page or API that forgets to ask fails its first test."""

import ast
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from audit.services import record_event, record_events
from claims import catalogue
from claims.bounds import TEXT_MAX_LENGTH
from claims.errors import InvalidInput
from claims.models import Jurisdiction, SubsidyPolicy
from workflow import assignment
from workflow.models import Delegation

from .api_support import error, login, ok
from .test_catalogue import terms, version_post

PROJECT = Path(__file__).resolve().parent.parent
DOCUMENT = "人社发〔2025〕12 号第二条：初级工补贴自 2026 年 1 月 1 日起提高至 1200 元"


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def s19(demo):
    """A standard S19 of the demo jurisdiction with its first version (junior 1000, senior 2000 from 2024)."""
    policy = catalogue.create_policy(
        actor=demo["admin"],
        jurisdiction=Jurisdiction.objects.get(code="WL"),
        code="S19",
        name="演示：技能提升补贴",
        category="personal_certificate",
        payee="trainee",
        reason="新增标准：002 号文件第三条",
    )
    catalogue.add_version(actor=demo["admin"], policy=policy, terms=terms(), reason="002 号文件第三条（首个版本）")
    return policy


# --------------------------------------------------------------------------- the catalogue


def test_the_administrator_raises_an_amount_giving_the_policy_document_and_the_auditor_reads_who_when_why(demo, s19):
    admin = web(demo["admin"])
    form = admin.get("/catalogue/WL/S19/versions/new/").content.decode()
    assert 'name="reason"' in form  # the page asks why

    before = timezone.now()
    response = admin.post(
        "/catalogue/WL/S19/versions/new/",
        version_post(valid_from="2026-01-01", amount_junior="1200", reason=f"  {DOCUMENT}  "),
    )
    assert (response.status_code, response["Location"]) == (302, "/catalogue/WL/S19/")
    added = AuditEvent.objects.filter(action=actions.CATALOGUE_VERSION_ADDED).latest("seq")
    closed = AuditEvent.objects.filter(action=actions.CATALOGUE_VERSION_CLOSED).latest("seq")
    # The reason is the entry's own (stripped), and the previous version's end, which the raise set, says the same why.
    assert (added.actor_username, added.reason, added.detail["after"]["amount_by_level"]["junior"]) == (
        "admin",
        DOCUMENT,
        "1200.00",
    )
    assert (closed.reason, closed.detail["superseded_by"]) == (DOCUMENT, 2)
    assert added.at >= before

    # The auditor reads the standard's history: who, when and why, next to what changed.
    page = web(demo["auditor"]).get("/catalogue/WL/S19/").content.decode()
    history = page[page.index('id="catalogue-history"') :]
    rows = {re.search(r">(#\d+)</td>", row).group(1): row for row in history.split("<tr")[2:]}  # by the entry's number
    assert DOCUMENT in rows[f"#{added.seq}"] and "admin" in rows[f"#{added.seq}"]
    assert DOCUMENT in rows[f"#{closed.seq}"]  # v1's end, set by the raise


@pytest.mark.parametrize(
    "reason, message",
    [("", "必填"), ("   ", "必填"), ("政策\u202e文件", "U+202E"), ("理" * (TEXT_MAX_LENGTH + 1), str(TEXT_MAX_LENGTH))],
    ids=["missing", "blank", "refused character", "too long"],
)
def test_every_catalogue_page_refuses_a_change_without_a_valid_reason_and_saves_nothing(demo, s19, reason, message):
    admin = web(demo["admin"])
    posts = {
        "/catalogue/new/": {
            "jurisdiction": "WL",
            "code": "S20",
            "name": "演示",
            "category": "skills",
            "payee": "provider",
            "reason": reason,
        },
        "/catalogue/WL/S19/edit/": {"name": "改名", "category": "skills", "payee": "provider", "reason": reason},
        "/catalogue/WL/S19/versions/new/": version_post(valid_from="2026-01-01", amount_junior="1200", reason=reason),
        "/catalogue/WL/S19/versions/1/edit/": version_post(amount_junior="1100", reason=reason),
    }
    entries = AuditEvent.objects.count()
    snapshot = catalogue.version_snapshot(s19.versions.get())
    for url, data in posts.items():
        response = admin.post(url, data)
        assert response.status_code == 400, url
        assert message in response.content.decode(), url
    s19.refresh_from_db()
    assert (s19.name, s19.versions.count(), catalogue.version_snapshot(s19.versions.get())) == (
        "演示：技能提升补贴",
        1,
        snapshot,
    )
    assert not SubsidyPolicy.objects.filter(code="S20").exists()
    assert AuditEvent.objects.count() == entries


def test_the_catalogue_services_ask_the_reason_with_the_other_fields(demo, s19):
    """A service called without a reason (the API or a script tomorrow) is refused like the page,
    the reason's problem named with the terms' own."""
    with pytest.raises(InvalidInput) as refused:
        catalogue.add_version(actor=demo["admin"], policy=s19, terms=terms(valid_from=None), reason=" ")
    assert {"reason", "valid_from"} <= set(refused.value.fields)
    version = s19.versions.get()
    for call in (
        lambda: catalogue.update_version(actor=demo["admin"], version=version, terms=terms(notes="更正"), reason=""),
        lambda: catalogue.update_policy(
            actor=demo["admin"], policy=s19, name="改名", category="skills", payee="trainee", reason=""
        ),
    ):
        with pytest.raises(InvalidInput) as refused:
            call()
        assert "reason" in refused.value.fields
    catalogue.update_version(actor=demo["admin"], version=version, terms=terms(notes="更正"), reason="更正说明文字")
    assert AuditEvent.objects.filter(action=actions.CATALOGUE_VERSION_UPDATED).latest("seq").reason == "更正说明文字"


# --------------------------------------------------------------------------- delegations


@pytest.fixture
def delegation(demo):
    today = timezone.localdate()
    return assignment.name_substitute(
        user=demo["hr_head"], substitute_username="hr_reviewer", starts_on=today, ends_on=today, reason="年假"
    )


def test_the_reviewer_back_from_leave_revokes_her_substitute_saying_why(demo, delegation):
    head = web(demo["hr_head"])
    page = head.get("/delegations/").content.decode()
    revoke_form = page[page.index(f"/delegations/{delegation.pk}/revoke/") :]
    assert 'name="reason"' in revoke_form[: revoke_form.index("</form>")]

    head.post(f"/delegations/{delegation.pk}/revoke/", {"reason": ""})
    delegation.refresh_from_db()
    assert delegation.revoked_at is None
    assert not AuditEvent.objects.filter(action=actions.DELEGATION_REVOKED).exists()

    response = head.post(f"/delegations/{delegation.pk}/revoke/", {"reason": " 提前销假 "})
    assert response.status_code == 302
    delegation.refresh_from_db()
    assert delegation.revoked_at is not None
    entry = AuditEvent.objects.get(action=actions.DELEGATION_REVOKED)
    assert (entry.actor_username, entry.reason) == ("hr_head", "提前销假")


def test_the_api_revokes_a_delegation_only_with_a_reason(demo, delegation):
    client = login("hr_head")
    refused = error(client.post(f"/api/v1/delegations/{delegation.pk}/revoke/", {}, format="json"), 400)
    assert "reason" in refused["fields"]
    assert Delegation.objects.get(pk=delegation.pk).revoked_at is None
    ok(client.post(f"/api/v1/delegations/{delegation.pk}/revoke/", {"reason": "提前销假"}, format="json"))
    assert AuditEvent.objects.get(action=actions.DELEGATION_REVOKED).reason == "提前销假"


def test_naming_a_substitute_says_why(demo):
    today = timezone.localdate()
    with pytest.raises(InvalidInput) as refused:
        assignment.name_substitute(
            user=demo["hr_head"], substitute_username="hr_reviewer", starts_on=today, ends_on=today, reason="  "
        )
    assert "reason" in refused.value.fields
    assert not Delegation.objects.exists()


# --------------------------------------------------------------------------- the class: declared once, enforced by the ledger


# The decisions of a person that the ledger keeps only with their reason. Pinned here so that
# taking one out of audit.actions.REASON_REQUIRED is a visible change of this list.
EXPECTED_REASON_REQUIRED = {
    # a claim's review and its people
    "claim.withdrawn",
    "claim.returned",
    "claim.rejected",
    "flag.overridden",
    "task.reassigned",
    "task.released",
    "delegation.created",
    "delegation.revoked",
    "objection.upheld",
    "objection.dismissed",
    "class.refused",
    # money: plans, batches, lines, recoveries
    "plan.refused",
    "payment_batch.cancelled",
    "claim.line_payment_cancelled",
    "claim.payment_requeued",
    "recovery.opened",
    # the subsidy catalogue: money policy
    "catalogue.policy_created",
    "catalogue.policy_updated",
    "catalogue.version_added",
    "catalogue.version_updated",
    "catalogue.version_closed",
    # the organisation, the calendar and time limits, accounts (the admin asks CHANGE_REASON)
    "jurisdiction.created",
    "jurisdiction.updated",
    "department.created",
    "department.updated",
    "provider.created",
    "provider.updated",
    "user.created",
    "user.updated",
    "user.deleted",
    "user.groups_changed",
    "user.relations_changed",
    "group.created",
    "group.updated",
    "group.deleted",
    "group.relations_changed",
    "working_day.created",
    "working_day.updated",
    "working_day.deleted",
    "deadline.created",
    "deadline.updated",
    "deadline.deleted",
    "auth.lockout_lifted",
}


def test_the_actions_that_need_a_reason_are_declared_once_and_registered():
    assert set(actions.REASON_REQUIRED) == EXPECTED_REASON_REQUIRED
    assert all(actions.is_registered(action) for action in actions.REASON_REQUIRED)


@pytest.mark.parametrize("action", sorted(EXPECTED_REASON_REQUIRED))
def test_the_ledger_refuses_a_persons_entry_without_its_reason(demo, action):
    obj = Group.objects.create(name=f"reason-probe {action}")
    with transaction.atomic():
        for reason in ("", "  \n"):
            with pytest.raises(ValueError, match="reason"):
                record_event(actor=demo["admin"], action=action, obj=obj, reason=reason)
            with pytest.raises(ValueError, match="reason"):
                record_events([{"actor": demo["admin"], "action": action, "obj": obj, "reason": reason}])
        # With its reason it is written; a system step (no person) needs none: the seed, the console.
        assert record_event(actor=demo["admin"], action=action, obj=obj, reason="依据").reason == "依据"
        record_event(actor=None, action=action, obj=obj)


def test_a_system_step_or_a_routine_act_needs_no_reason(demo):
    """Approving, submitting, taking a task: the person's act is its own why (a comment is optional)."""
    obj = Group.objects.create(name="reason-probe routine")
    with transaction.atomic():
        for action in ("claim.approved_step", "claim.submitted", "task.assigned", "payment_batch.built"):
            assert action not in actions.REASON_REQUIRED
            record_event(actor=demo["admin"], action=action, obj=obj)


def _resolved_action(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
    value = getattr(actions, name, None) if name else None
    return value if isinstance(value, str) and actions.is_registered(value) else None


def test_every_call_that_records_such_an_action_for_a_person_passes_a_reason():
    """The source, statically: a call of record_event with such an action passes ``reason=``
    unless it records a system step (``actor=None``)."""
    missing = []
    for path in sorted(PROJECT.rglob("*.py")):
        parts = path.relative_to(PROJECT).parts
        if parts[0].startswith(".") or parts[0] in {"tests", "bench"} or "migrations" in parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "record_event"):
                continue
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            action = _resolved_action(keywords["action"]) if "action" in keywords else None
            actor = keywords.get("actor")
            system = isinstance(actor, ast.Constant) and actor.value is None
            if action in actions.REASON_REQUIRED and "reason" not in keywords and not system:
                missing.append(f"{path.relative_to(PROJECT)}:{node.lineno} {action}")
    assert missing == []


# --------------------------------------------------------------------------- one check of the reason a person writes

# What claims.bounds.reason_refusal refuses, whatever the service: nothing to read, a character the
# reader cannot see (a page's form reaches the service unparsed: only the API's parser refuses it
# before), more than the ledger keeps of a reason. Each service still words a missing one its way.
REFUSED_REASONS = [("  ", ""), ("核实\x0b无误", "U+000B"), ("理" * (TEXT_MAX_LENGTH + 1), str(TEXT_MAX_LENGTH))]


def _refused_with(attempt, reason: str, said: str) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput) as refused, transaction.atomic():
        attempt(reason)
    assert said in " ".join(refused.value.fields["reason"]), refused.value.fields
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(("reason", "said"), REFUSED_REASONS)
def test_the_provider_withdraws_a_claim_only_with_a_reason_the_ledger_keeps(demo, reason, said):
    from workflow.services import withdraw_claim

    from .test_claim_lists import drafted

    claim = drafted(demo, 1, submit=False)
    _refused_with(lambda text: withdraw_claim(user=demo["provider_clerk"], claim=claim, reason=text), reason, said)
    claim.refresh_from_db()
    assert claim.status == "draft"


@pytest.mark.parametrize(("reason", "said"), REFUSED_REASONS)
def test_hr_overrides_a_flag_only_with_a_reason_the_ledger_keeps(demo, reason, said):
    from claims.models import FlagOverride
    from workflow.services import decide_task, override_flag

    from .test_eligibility import only_task, story3_elder_care_class

    _earlier, claim = story3_elder_care_class(demo)
    decide_task(user=demo["dept2_reviewer"], task_id=only_task(demo["dept2_reviewer"]).pk, decision="approve", comment="材料齐全")
    line = claim.lines.get(line_no=2)
    _refused_with(lambda text: override_flag(user=demo["hr_reviewer"], line_id=line.pk, code="E2", reason=text), reason, said)
    assert not FlagOverride.objects.exists()


@pytest.mark.parametrize(("reason", "said"), REFUSED_REASONS)
def test_finance_cancels_a_batch_only_with_a_reason_the_ledger_keeps(demo, reason, said):
    from payments.services.batches import cancel_batch
    from workflow.disbursement import build_batch

    from .payments_support import approved_claim

    approved_claim(demo, serials=(1,))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=Jurisdiction.objects.get(code="WL"))
    _refused_with(lambda text: cancel_batch(actor=demo["finance_officer"], batch=batch, reason=text), reason, said)
    batch.refresh_from_db()
    assert batch.status == "built"


@pytest.mark.parametrize(("reason", "said"), REFUSED_REASONS)
def test_hr_sends_a_plan_back_only_with_a_reason_the_ledger_keeps(demo, reason, said):
    from payments.services import funds as services

    from .test_funds import filed_plan, next_account

    plan = filed_plan(demo, next_account(demo))
    _refused_with(lambda text: services.refuse_plan(actor=demo["hr_reviewer"], plan=plan, reason=text), reason, said)
    plan.refresh_from_db()
    assert plan.status == "filed"
