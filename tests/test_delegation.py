"""Delegation and reassignment (issue 14).

The HR bureau's head (hr_head) goes on leave and names the HR reviewer (hr_reviewer) her
substitute for a few days: in that range the substitute sees and decides the head's approvals,
in her place, except on a claim the substitute reviewed himself (one person, one duty per claim:
RULES N4). Outside the range, nothing. A team lead (an HR reviewer marked team lead) reassigns or releases a taken task. Every one
of these is in the ledger and on the task."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from audit.selectors import claim_history
from claims import roles
from claims.errors import ActionForbidden, InvalidInput, NotInScope, StepAlreadyTaken
from claims.models import Jurisdiction
from claims.services import create_claim
from notifications.models import Kind, Notification
from workflow import assignment, selectors
from workflow.inbox import inbox_drift
from workflow.models import ClaimDuty, InboxItem
from workflow.services import decide_task, submit_claim, take_task
from workflow.staffing import ensure_staff_user

from .api_support import error, login
from .conftest import DEMO_PASSWORD, claim_data, line, resident_id


def at_hr_head(demo, *, serial: int, hr_reviewer: str = "hr_reviewer"):
    """A claim over the HR head's threshold, approved by the department and by ``hr_reviewer``."""
    lines = [line(resident_id(serial + n), f"学员{n}", certificate_number=f"D{serial}-{n}", stated_cost=None) for n in range(3)]
    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines, class_name=f"第{serial}期"))
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    decide_task(user=demo["dept_reviewer"], task_id=selectors.open_task_of_claim(claim).pk, decision="approve")
    decide_task(user=demo[hr_reviewer], task_id=selectors.open_task_of_claim(claim).pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == "hr_head_approval", claim.status
    return claim, selectors.open_task_of_claim(claim)


@pytest.fixture
def leave(demo):
    """A second HR reviewer, a low HR-head threshold, and today's date (local)."""
    Jurisdiction.objects.filter(code="WL").update(hr_head_threshold=Decimal("1000.00"))
    demo["hr_reviewer2"] = ensure_staff_user(
        username="hr_reviewer2",
        password=DEMO_PASSWORD,
        role=roles.HR_REVIEWER,
        scope_group=Jurisdiction.objects.get(code="WL").staff_group,
        email="hr_reviewer2@demo.invalid",
    )
    return timezone.localdate()


def test_the_substitute_acts_for_the_head_within_the_range_and_not_where_he_reviewed(demo, leave):
    today = leave
    own, own_task = at_hr_head(demo, serial=10)  # hr_reviewer reviewed it: his duty
    other, other_task = at_hr_head(demo, serial=20, hr_reviewer="hr_reviewer2")
    head, substitute = demo["hr_head"], demo["hr_reviewer"]
    assert not selectors.actionable_items(substitute).filter(step="hr_head_approval").exists()

    delegation = assignment.name_substitute(
        user=head, substitute_username="hr_reviewer", starts_on=today, ends_on=today + datetime.timedelta(days=4), reason="年假"
    )
    # He sees the other claim's approval, in his own inbox, and not the claim he reviewed.
    assert list(selectors.actionable_items(substitute).filter(step="hr_head_approval").values_list("task_id", flat=True)) == [
        other_task.pk
    ]
    assert assignment.acting_for(user=substitute, task=other_task) == head
    with pytest.raises(ActionForbidden) as refused:
        decide_task(user=substitute, task_id=own_task.pk, decision="approve")
    assert refused.value.code == "segregation_of_duties"

    take_task(user=head, task_id=other_task.pk)  # she had taken it before leaving
    client = Client()
    client.force_login(demo["hr_reviewer2"])
    assert "data-owner-substitute" in client.get(f"/tasks/{other_task.pk}/", secure=True).content.decode()
    decide_task(user=substitute, task_id=other_task.pk, decision="approve", comment="代为审批")
    other.refresh_from_db()
    assert other.status == "approved"
    [entry] = [
        event
        for event in claim_history(claim=other)
        if event.action == "claim.approved_step" and event.detail["step"] == "hr_head_approval"
    ]
    assert (entry.actor_username, entry.detail["on_behalf_of"]) == ("hr_reviewer", "hr_head")
    assert ClaimDuty.objects.filter(claim=other, user=substitute, duty="hr_head_approval").exists()  # his duty now
    assert AuditEvent.objects.filter(action="delegation.created", object_id=str(delegation.pk)).exists()
    assert inbox_drift() == []


def test_the_range_bounds_the_substitute(demo, leave):
    today = leave
    _claim, task = at_hr_head(demo, serial=30, hr_reviewer="hr_reviewer2")
    start = today + datetime.timedelta(days=7)
    assignment.name_substitute(
        user=demo["hr_head"],
        substitute_username="hr_reviewer",
        starts_on=start,
        ends_on=start + datetime.timedelta(days=2),
        reason="休假",
    )
    substitute = demo["hr_reviewer"]

    def may_act_on(day) -> bool:
        with time_machine.travel(datetime.datetime.combine(day, datetime.time(4), tzinfo=datetime.UTC), tick=False):
            return selectors.actionable_items(substitute).filter(task_id=task.pk).exists()

    assert not may_act_on(today)
    assert not may_act_on(start - datetime.timedelta(days=1))
    assert may_act_on(start) and may_act_on(start + datetime.timedelta(days=2))
    assert not may_act_on(start + datetime.timedelta(days=3))
    with pytest.raises(ActionForbidden):  # today, before the range: refused
        take_task(user=substitute, task_id=task.pk)


def test_a_revoked_delegation_ends_at_once_and_the_substitute_is_told_of_new_work(demo, leave):
    today = leave
    delegation = assignment.name_substitute(
        user=demo["hr_head"], substitute_username="hr_reviewer", starts_on=today, ends_on=today, reason="休假"
    )
    claim, task = at_hr_head(demo, serial=40, hr_reviewer="hr_reviewer2")
    told = set(Notification.objects.filter(task_id=task.pk, kind=Kind.TASK).values_list("recipient__username", flat=True))
    assert told == {"hr_head", "hr_reviewer"}
    assignment.revoke_substitute(user=demo["hr_head"], delegation_id=delegation.pk, reason="提前返岗")
    assert not selectors.actionable_items(demo["hr_reviewer"]).filter(task_id=task.pk).exists()
    with pytest.raises(NotInScope):  # only the delegator revokes
        assignment.revoke_substitute(user=demo["hr_reviewer"], delegation_id=delegation.pk, reason="提前返岗")
    with pytest.raises(StepAlreadyTaken):
        assignment.revoke_substitute(user=demo["hr_head"], delegation_id=delegation.pk, reason="提前返岗")


def test_who_may_name_whom(demo, leave):
    today = leave
    name = assignment.name_substitute
    with pytest.raises(ActionForbidden):  # a clerk is no reviewer
        name(user=demo["provider_clerk"], substitute_username="provider2_clerk", starts_on=today, ends_on=today, reason="休假")
    for username, field in (("admin", "substitute"), ("finance_officer", "substitute"), ("nobody", "substitute")):
        with pytest.raises(InvalidInput) as refused:
            name(user=demo["hr_head"], substitute_username=username, starts_on=today, ends_on=today, reason="休假")
        assert field in refused.value.fields
    with pytest.raises(InvalidInput) as refused:
        name(user=demo["hr_head"], substitute_username="hr_head", starts_on=today, ends_on=today, reason="休假")
    assert "substitute" in refused.value.fields
    with pytest.raises(InvalidInput) as refused:
        name(
            user=demo["hr_head"],
            substitute_username="hr_reviewer",
            starts_on=today - datetime.timedelta(days=1),
            ends_on=today,
            reason="休假",
        )
    assert "starts_on" in refused.value.fields
    with pytest.raises(InvalidInput) as refused:
        name(
            user=demo["hr_head"],
            substitute_username="hr_reviewer",
            starts_on=today,
            ends_on=today + datetime.timedelta(days=200),
            reason="休假",
        )
    assert "ends_on" in refused.value.fields
    with pytest.raises(InvalidInput) as refused:
        name(user=demo["hr_head"], substitute_username="hr_reviewer", starts_on=today, ends_on=today, reason="x\x00")
    assert "reason" in refused.value.fields


def test_naming_a_substitute_does_not_tell_which_usernames_exist(demo, leave):
    """The form is no directory: a username nobody has, a deactivated account, and people who may
    not be named (a clerk, finance, another jurisdiction's auditor, the administrator) are all
    refused with one answer, on the substitute field."""
    today = leave.isoformat()
    get_user_model().objects.create_user(username="former_reviewer", password=DEMO_PASSWORD, is_active=False)
    api = login("dept_reviewer")
    answers = {
        username: error(
            api.post("/api/v1/delegations/", {"substitute": username, "starts_on": today, "ends_on": today}, format="json"), 400
        )
        for username in ("no_such_user_zz", "former_reviewer", "provider_clerk", "finance_officer", "auditor_yh", "admin")
    }
    assert list(answers["no_such_user_zz"]["fields"]) == ["substitute"]
    assert all(answer == answers["no_such_user_zz"] for answer in answers.values()), answers


def test_a_department_colleague_substitutes_across_departments(demo, leave):
    """The 应急管理局 reviewer names the 民政局 reviewer: he sees her department's claim's task
    (not the claim list), and decides it in her place (through the API: the task page also reads
    the claim's documents, which only those who see the claim may)."""
    today = leave
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    task = selectors.open_task_of_claim(claim)
    colleague = demo["dept2_reviewer"]
    assert not selectors.tasks_visible_to(colleague).filter(pk=task.pk).exists()
    assignment.name_substitute(
        user=demo["dept_reviewer"], substitute_username="dept2_reviewer", starts_on=today, ends_on=today, reason="休假"
    )
    assert selectors.tasks_visible_to(colleague).filter(pk=task.pk).exists()
    api = APIClient()
    api.force_authenticate(colleague)
    assert api.get(f"/api/v1/tasks/{task.pk}/", secure=True).status_code == 200
    response = api.post(
        f"/api/v1/tasks/{task.pk}/decide/", {"decision": "approve", "comment": "代审"}, format="json", secure=True
    )
    assert response.status_code == 200, response.content
    claim.refresh_from_db()
    assert claim.status == "hr_review"


def test_a_team_lead_reassigns_and_releases_a_taken_task(demo, leave):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    decide_task(
        user=demo["dept_reviewer"], task_id=selectors.actionable_tasks(demo["dept_reviewer"]).get().pk, decision="approve"
    )
    claim.refresh_from_db()
    task = selectors.open_task_of_claim(claim)
    take_task(user=demo["hr_reviewer"], task_id=task.pk)
    # 刘敏 leads the HR bureau's reviewers: an HR reviewer marked team lead (roles.TEAM_LEAD).
    lead = ensure_staff_user(
        username="hr_lead", password=DEMO_PASSWORD, role=roles.HR_REVIEWER, scope_group=claim.jurisdiction.staff_group
    )
    with pytest.raises(ActionForbidden):  # not a team lead yet
        assignment.release_task(user=lead, task_id=task.pk, reason="年假")
    lead.groups.add(Group.objects.get_or_create(name=roles.TEAM_LEAD)[0])

    with pytest.raises(InvalidInput) as refused:  # the lead must give it to someone who may act
        assignment.reassign_task(user=lead, task_id=task.pk, to_username="finance_officer", reason="x")
    assert "to" in refused.value.fields
    with pytest.raises(InvalidInput) as refused:
        assignment.reassign_task(user=lead, task_id=task.pk, to_username="hr_reviewer2", reason="")
    assert "reason" in refused.value.fields
    # Nobody's username, a deactivated reviewer's, an administrator's, another jurisdiction's
    # auditor's, a department reviewer's and a finance officer's all get one answer: the form
    # tells no lead which accounts exist.
    gone = ensure_staff_user(
        username="hr_gone", password=DEMO_PASSWORD, role=roles.HR_REVIEWER, scope_group=claim.jurisdiction.staff_group
    )
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    answers = set()
    for username in ("no_such_person", gone.username, "admin", "auditor_yh", "dept_reviewer", "finance_officer"):
        with pytest.raises(InvalidInput) as refused:
            assignment.reassign_task(user=lead, task_id=task.pk, to_username=username, reason="x")
        answers.add((str(refused.value), tuple(str(message) for message in refused.value.fields["to"])))
    assert len(answers) == 1, answers

    assignment.reassign_task(user=lead, task_id=task.pk, to_username="hr_reviewer2", reason="原办理人休假")
    assert InboxItem.objects.get(task=task).owner == demo["hr_reviewer2"]
    assert selectors.actionable_items(demo["hr_reviewer2"]).filter(task_id=task.pk).exists()
    assert not selectors.actionable_items(demo["hr_reviewer"]).filter(task_id=task.pk).exists()
    assert Notification.objects.filter(task_id=task.pk, recipient=demo["hr_reviewer2"]).exists()
    # The reviewer who held it is told who has it now, and why; it asks nothing of her.
    [away] = Notification.objects.filter(task_id=task.pk, recipient=demo["hr_reviewer"], kind="task_reassigned")
    assert "原办理人休假" in away.message and "无需您再处理" in away.message
    assert (demo["hr_reviewer2"].get_full_name() or "hr_reviewer2") in away.message
    assert away.settled_at is None and away.read_at is None

    assignment.release_task(user=lead, task_id=task.pk, reason="重新分配")
    item = InboxItem.objects.get(task=task)
    assert (item.owner, item.status) == (None, "NEW")
    entries = [(e.action, e.detail.get("from"), e.detail.get("to"), e.reason) for e in claim_history(claim=claim)][-3:]
    assert entries == [
        ("task.assigned", None, None, ""),
        ("task.reassigned", "hr_reviewer", "hr_reviewer2", "原办理人休假"),
        ("task.released", "hr_reviewer2", None, "重新分配"),
    ]
    # Shown on the task.
    client = Client()
    client.force_login(lead)
    page = client.get(f"/tasks/{task.pk}/", secure=True).content.decode()
    assert 'id="task-assignment"' in page and "原办理人休假" in page and 'id="lead-actions"' in page
    assert inbox_drift() == []


def test_a_substitute_of_another_department_opens_the_task_page_and_its_documents(demo, leave):
    """The 应急管理局 reviewer names the 民政局 reviewer for today. He opens her task's page (not a
    404): the claim's lines and its certificate scan, which he downloads (the ledger names him, on
    her behalf). He still does not see the claim elsewhere, nor can he add to it. Had he done
    another duty on the claim (N4), the page would not be his; once revoked, neither."""
    import hashlib

    from claims import attachments
    from claims.models import Attachment, AttachmentKind

    today = leave
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    content = b"%PDF-1.7\n%%EOF\n"
    scan = Attachment.objects.create(
        claim=claim,
        kind=AttachmentKind.CERTIFICATE,
        filename="证书.pdf",
        content_type="application/pdf",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        storage_name=attachments._write(content),
        uploaded_by=demo["provider_clerk"],
    )
    task = selectors.open_task_of_claim(claim)
    colleague = Client()
    colleague.force_login(demo["dept2_reviewer"])
    assert colleague.get(f"/tasks/{task.pk}/").status_code == 404
    delegation = assignment.name_substitute(
        user=demo["dept_reviewer"], substitute_username="dept2_reviewer", starts_on=today, ends_on=today, reason="休假"
    )
    page = colleague.get(f"/tasks/{task.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="acting-for"' in html and "证书.pdf" in html and claim.number in html
    download = colleague.get(f"/claims/{claim.pk}/attachments/{scan.pk}/")
    assert download.status_code == 200 and b"".join(download) == content
    entry = AuditEvent.objects.filter(action="attachment.downloaded").latest("seq")
    assert entry.actor == demo["dept2_reviewer"] and entry.detail["on_behalf_of"] == "dept_reviewer"
    assert colleague.get(f"/claims/{claim.pk}/").status_code == 404  # the claim itself stays hers
    assert colleague.post(f"/claims/{claim.pk}/comments/", {"body": "代审意见"}).status_code == 404

    duty = ClaimDuty.objects.create(claim=claim, user=demo["dept2_reviewer"], duty="hr_review")
    assert colleague.get(f"/tasks/{task.pk}/").status_code == 404
    assert colleague.get(f"/claims/{claim.pk}/attachments/{scan.pk}/").status_code == 404
    duty.delete()
    assert colleague.get(f"/tasks/{task.pk}/").status_code == 200
    assignment.revoke_substitute(user=demo["dept_reviewer"], delegation_id=delegation.pk, reason="提前返岗")
    assert colleague.get(f"/tasks/{task.pk}/").status_code == 404
