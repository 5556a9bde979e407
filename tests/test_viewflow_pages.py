"""viewflow's generic pages list every process to anyone with the model-wide view permission
(DESIGN.md): they are not mounted, the admin is closed to non-staff, and nobody holds a
model-wide permission on claims; claims are granted per object."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from guardian.shortcuts import get_groups_with_perms

from claims.models import Claim
from claims.selectors import claims_visible_to
from claims.services import create_claim
from workflow.selectors import actionable_tasks
from workflow.services import decide_task, submit_claim

from .conftest import claim_data

VIEWFLOW_URLS = [
    "/workflow/",
    "/flow/",
    "/viewflow/",
    "/workflow/claimflow/",
    "/workflow/workflow/claimflow/",
    "/claimflow/",
    "/process/",
]


def all_views(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from all_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            callback = pattern.callback
            view = getattr(callback, "view_class", None) or getattr(callback, "cls", None) or callback
            yield prefix + str(pattern.pattern), view.__module__


@pytest.fixture
def submitted_claim(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    return claim


def test_no_url_leads_to_a_viewflow_view():
    views = list(all_views(get_resolver().url_patterns))
    assert any(module.startswith("approvals") for _route, module in views)  # the walk sees our pages
    assert [route for route, module in views if module.split(".")[0] == "viewflow"] == []


@pytest.mark.parametrize("url", VIEWFLOW_URLS)
def test_viewflow_pages_are_not_found(client, demo, submitted_claim, url):
    client.force_login(demo["dept_reviewer"])
    assert client.get("/inbox/", secure=True).status_code == 200  # logged in, and our inbox answers
    assert client.get(url, secure=True).status_code == 404


@pytest.mark.parametrize("username", ["dept_reviewer", "provider_clerk", "hr_reviewer", "auditor", "finance_officer", None])
def test_admin_sends_non_staff_to_its_login(client, demo, submitted_claim, username):
    if username:
        client.force_login(demo[username])
    admin_pages = (
        reverse("admin:claims_claim_changelist"),
        reverse("admin:claims_claim_change", args=[submitted_claim.pk]),
        reverse("admin:audit_auditevent_changelist"),
    )
    for url in admin_pages:
        response = client.get(url, secure=True)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login") + "?next=")
    login_page = client.get(reverse("admin:login"), secure=True)
    assert submitted_claim.number.encode() not in login_page.content
    assert submitted_claim.class_name.encode() not in login_page.content


def test_nobody_holds_a_model_wide_permission_on_claims(demo, submitted_claim):
    decide_task(user=demo["dept_reviewer"], task_id=actionable_tasks(demo["dept_reviewer"]).get().pk, decision="approve")
    claim_perms = Permission.objects.filter(content_type=ContentType.objects.get_for_model(Claim))
    assert set(claim_perms.values_list("codename", flat=True)) >= {"view_claim", "review_claim", "change_claim"}

    assert list(Group.objects.filter(permissions__in=claim_perms).values_list("name", flat=True)) == []
    assert list(get_user_model().objects.filter(user_permissions__in=claim_perms).values_list("username", flat=True)) == []
    for user in get_user_model().objects.filter(is_superuser=False):
        for codename in ("view_claim", "review_claim", "change_claim"):
            assert not user.has_perm(f"claims.{codename}"), (user.username, codename)

    # What there is instead: object permissions on this claim, for the provider and the department.
    holders = get_groups_with_perms(submitted_claim, attach_perms=True)
    assert {group.name: sorted(perms) for group, perms in holders.items()} == {
        "provider:WL-P001": ["change_claim", "view_claim"],
        "department:WL-YJJ": ["review_claim", "view_claim"],
    }
    # The administrator is a superuser for the admin site, yet sees no claim through the product.
    assert demo["admin"].is_superuser
    assert not claims_visible_to(demo["admin"]).exists()
    assert claims_visible_to(demo["dept_reviewer"]).get() == submitted_claim
    assert not claims_visible_to(demo["dept2_reviewer"]).exists()
