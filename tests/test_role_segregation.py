"""Segregation of duties when roles are given (RULES N4): attack stories.

The administrator once gave itself a deciding role through the admin site and approved a claim;
an HR + finance user accepted one plan at both stages. Every way of giving a role (the admin
site's user and group forms, workflow.staffing) asks workflow.policy.role_change_refusal."""

import ast

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from audit.admin import CHANGE_REASON
from audit.models import AuditEvent
from claims import roles
from claims.errors import ActionForbidden
from claims.models import ClaimStatus
from claims.services import create_claim
from payments.models import PlanStatus
from payments.services import funds
from workflow import policy, staffing
from workflow import selectors as inbox
from workflow.services import decide_task, submit_claim

from .conftest import DEMO_PASSWORD, PROJECT_DIR, claim_data
from .test_funds import filed_plan, next_account


def admin_client(client):
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def change_user_in_admin(client, user, *, groups, is_staff=None, is_superuser=None):
    """POST the admin's user change form as a browser would, with ``groups`` (Group objects)."""
    joined = timezone.localtime(user.date_joined)
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "groups": [group.pk for group in groups],
        "date_joined_0": joined.date().isoformat(),
        "date_joined_1": joined.time().strftime("%H:%M:%S"),
        "initial-date_joined_0": joined.date().isoformat(),
        "initial-date_joined_1": joined.time().strftime("%H:%M:%S"),
        CHANGE_REASON: "岗位调整",
    }
    if is_staff if is_staff is not None else user.is_staff:
        data["is_staff"] = "on"
    if is_superuser if is_superuser is not None else user.is_superuser:
        data["is_superuser"] = "on"
    return client.post(reverse("admin:auth_user_change", args=[user.pk]), data)


def group_names(user):
    return sorted(user.groups.values_list("name", flat=True))


def groups(*names):
    return list(Group.objects.filter(name__in=names))


def submitted_claim(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    return claim


def open_task(claim):
    claim.refresh_from_db()
    return inbox.open_task_of_claim(claim)


# --------------------------------------------------------------------------- the administrator


def test_the_administrator_cannot_give_itself_a_deciding_role_in_the_admin_site(client, demo):
    admin, browser = demo["admin"], admin_client(client)
    before = group_names(admin)
    ledger_before = AuditEvent.objects.count()
    for role in policy.DECIDING_ROLES:
        response = change_user_in_admin(browser, admin, groups=groups(role, "jurisdiction:WL", *before))
        assert response.status_code == 200  # the form again, with the refusal
        body = response.content.decode()
        assert "职责分离" in body and role in body, role
        assert group_names(admin) == before
    assert AuditEvent.objects.count() == ledger_before  # nothing changed, nothing recorded


def test_a_deciding_person_cannot_be_made_superuser_staff_or_administrator(client, demo):
    hr = demo["hr_reviewer"]
    admin = admin_client(client)
    for flags in ({"is_superuser": True, "is_staff": True}, {"is_staff": True}):
        response = change_user_in_admin(admin, hr, groups=list(hr.groups.all()), **flags)
        assert response.status_code == 200 and "职责分离" in response.content.decode()
    response = change_user_in_admin(admin, hr, groups=[*hr.groups.all(), *groups(roles.ADMINISTRATOR)])
    assert response.status_code == 200 and "职责分离" in response.content.decode()
    hr.refresh_from_db()
    assert not hr.is_staff and not hr.is_superuser and roles.ADMINISTRATOR not in group_names(hr)
    # An ordinary change of the same person still goes through.
    response = change_user_in_admin(admin, hr, groups=[*hr.groups.all(), *groups(roles.AUDITOR)])
    assert response.status_code == 302
    assert roles.AUDITOR in group_names(hr)


def test_renaming_a_group_cannot_slip_a_deciding_role_to_the_administrator(client, demo):
    admin = admin_client(client)
    inspectors = Group.objects.create(name="inspectors")
    demo["admin"].groups.add(inspectors)
    head = Group.objects.get(name=roles.HR_HEAD)
    # Renaming the HR head's group away only takes a role from its members: allowed.
    renamed = {"name": "hr_head_old", CHANGE_REASON: "旧组停用"}
    assert admin.post(reverse("admin:auth_group_change", args=[head.pk]), renamed).status_code == 302
    response = admin.post(
        reverse("admin:auth_group_change", args=[inspectors.pk]), {"name": roles.HR_HEAD, CHANGE_REASON: "改名"}
    )
    assert response.status_code == 200 and "职责分离" in response.content.decode()
    assert Group.objects.get(pk=inspectors.pk).name == "inspectors"


def test_an_administrator_who_holds_a_role_from_before_still_cannot_decide(demo):
    """Data from before the rule: the superuser in the HR groups is refused at the step itself."""
    admin = demo["admin"]
    admin.groups.add(*groups(roles.DEPARTMENT_REVIEWER, "department:WL-YJJ"))
    claim = submitted_claim(demo)
    task = open_task(claim)
    assert not inbox.actionable_tasks(admin).filter(pk=task.pk).exists()
    with pytest.raises(ActionForbidden) as refused:
        decide_task(user=admin, task_id=task.pk, decision="approve")
    assert refused.value.code == "segregation_of_duties"
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW


def test_the_staffing_service_refuses_a_superuser_with_a_deciding_role(demo):
    with pytest.raises(ActionForbidden) as refused:
        staffing.ensure_staff_user(
            username="root2",
            password=DEMO_PASSWORD,
            role=roles.FINANCE_OFFICER,
            scope_group=Group.objects.get(name="jurisdiction:WL"),
            is_superuser=True,
            is_staff=True,
        )
    assert refused.value.code == "segregation_of_duties"
    assert not Group.objects.get(name=roles.FINANCE_OFFICER).user_set.filter(username="root2").exists()
    # The administrator role with no deciding role is what seed_demo gives: fine.
    staffing.ensure_staff_user(
        username="root2", password=DEMO_PASSWORD, role=roles.ADMINISTRATOR, scope_group=None, is_superuser=True, is_staff=True
    )


# --------------------------------------------------------------------------- a person who touched a claim


def test_a_reviewer_who_reviewed_an_open_claim_cannot_be_given_the_hr_role_that_would_decide_it(client, demo):
    reviewer = demo["dept_reviewer"]
    claim = submitted_claim(demo)
    decide_task(user=reviewer, task_id=open_task(claim).pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_REVIEW

    before = group_names(reviewer)
    response = change_user_in_admin(
        admin_client(client), reviewer, groups=[*reviewer.groups.all(), *groups(roles.HR_REVIEWER, "jurisdiction:WL")]
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "职责分离" in body and claim.number in body and "人社局审核" in body
    assert group_names(reviewer) == before

    # The same refusal from the staffing service, naming the claim.
    with pytest.raises(ActionForbidden) as refused:
        staffing.ensure_staff_user(
            username=reviewer.username,
            password=DEMO_PASSWORD,
            role=roles.HR_REVIEWER,
            scope_group=Group.objects.get(name="jurisdiction:WL"),
        )
    assert refused.value.code == "segregation_of_duties" and claim.number in refused.value.message

    # A role of another jurisdiction, where the claim is not, would not let her decide it: allowed.
    assert (
        policy.role_change_refusal(
            user=reviewer,
            role_names={*before, roles.HR_REVIEWER},
            group_ids={group.pk for group in reviewer.groups.all()},
            is_superuser=False,
            is_staff=False,
        )
        is None
    )

    # Once the claim is closed (HR rejects it), the change is no longer a second duty on an open claim.
    decide_task(user=demo["hr_reviewer"], task_id=open_task(claim).pk, decision="reject", comment="证书不符", reason="E3")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED
    response = change_user_in_admin(
        admin_client(client), reviewer, groups=[*reviewer.groups.all(), *groups(roles.HR_REVIEWER, "jurisdiction:WL")]
    )
    assert response.status_code == 302
    assert roles.HR_REVIEWER in group_names(reviewer)


def test_the_hr_reviewer_of_an_approved_claim_cannot_become_its_finance_officer(demo):
    claim = submitted_claim(demo)
    decide_task(user=demo["dept_reviewer"], task_id=open_task(claim).pk, decision="approve")
    decide_task(user=demo["hr_reviewer"], task_id=open_task(claim).pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED  # awaiting payment: the process is open
    hr = demo["hr_reviewer"]
    refusal = policy.role_change_refusal(
        user=hr,
        role_names={roles.HR_REVIEWER, roles.FINANCE_OFFICER},
        group_ids={group.pk for group in hr.groups.all()},
        is_superuser=False,
        is_staff=False,
    )
    assert refusal is not None and claim.number in refusal.message and "财政拨付" in refusal.message


# --------------------------------------------------------------------------- plans


def test_an_hr_and_finance_user_cannot_accept_one_plan_at_both_stages(demo):
    both = demo["hr_reviewer"]
    both.groups.add(*groups(roles.FINANCE_OFFICER))  # both roles, as the attack had them
    plan = filed_plan(demo, next_account(demo))
    funds.accept_plan(actor=both, plan=plan)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.HR_ACCEPTED
    ledger_before = AuditEvent.objects.count()
    for act in (
        lambda: funds.accept_plan(actor=both, plan=plan),
        lambda: funds.refuse_plan(actor=both, plan=plan, reason="改主意"),
    ):
        with pytest.raises(ActionForbidden) as refused:
            act()
        assert refused.value.code == "segregation_of_duties" and "职责分离" in refused.value.message
    plan.refresh_from_db()
    assert plan.status == PlanStatus.HR_ACCEPTED and AuditEvent.objects.count() == ledger_before
    assert not funds.access.may_accept_plan(both, plan)  # the page offers no button either
    assert funds.access.may_accept_plan(demo["finance_officer"], plan)
    funds.accept_plan(actor=demo["finance_officer"], plan=plan)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACCEPTED


def test_the_department_reviewer_who_filed_a_plan_cannot_accept_it_as_hr(demo):
    filer = demo["dept_reviewer"]
    filer.groups.add(*groups(roles.HR_REVIEWER, "jurisdiction:WL"))
    plan = filed_plan(demo, next_account(demo))
    with pytest.raises(ActionForbidden) as refused:
        funds.accept_plan(actor=filer, plan=plan)
    assert refused.value.code == "segregation_of_duties"
    funds.accept_plan(actor=demo["hr_reviewer"], plan=plan)


def test_plan_acceptance_by_the_same_person_is_refused_through_the_api(demo):
    from rest_framework.test import APIClient

    both = demo["hr_head"]
    both.groups.add(*groups(roles.FINANCE_OFFICER))
    plan = filed_plan(demo, next_account(demo))
    client = APIClient()
    client.force_login(both)
    assert client.post(f"/api/v1/plans/{plan.pk}/accept/").json()["status"] == "hr_accepted"
    response = client.post(f"/api/v1/plans/{plan.pk}/accept/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "segregation_of_duties"


# --------------------------------------------------------------------------- one way in


def test_no_product_module_provisions_staff_around_the_staffing_service():
    """claims.organisation.ensure_staff_user gives roles without the workflow's duties: only
    workflow/staffing.py may call it (seed_demo and every command go through the service)."""
    callers = []
    for path in sorted(PROJECT_DIR.rglob("*.py")):
        relative = path.relative_to(PROJECT_DIR).as_posix()
        top = relative.split("/")[0]
        if top.startswith(".") or top == "tests" or "/migrations/" in relative:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "claims.organisation":
                if any(alias.name == "ensure_staff_user" for alias in node.names):
                    callers.append(relative)
            if isinstance(node, ast.Attribute) and node.attr == "ensure_staff_user":
                if isinstance(node.value, ast.Name) and node.value.id == "organisation":
                    callers.append(relative)
    assert set(callers) == {"workflow/staffing.py"}, callers
