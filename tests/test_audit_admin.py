"""Changes made in the Django admin (users, groups, their permissions) land in the ledger too."""

from django.contrib.auth.models import Group, Permission
from django.http import HttpRequest  # django-axes: a login names its request
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.selectors import verify_chain

from .conftest import DEMO_PASSWORD


def admin_client(client, demo):
    assert client.login(request=HttpRequest(), username="admin", password=DEMO_PASSWORD)
    return client


def test_creating_a_group_with_permissions_in_the_admin_is_recorded(client, demo):
    admin = admin_client(client, demo)
    view_claim = Permission.objects.get(codename="view_claim")
    response = admin.post(reverse("admin:auth_group_add"), {"name": "inspectors", "permissions": [view_claim.pk]})
    assert response.status_code == 302, response.content[:500]
    group = Group.objects.get(name="inspectors")
    created = AuditEvent.objects.get(action="group.created", object_id=str(group.pk))
    assert created.actor_username == "admin" and created.detail["via"] == "admin"
    relations = AuditEvent.objects.get(action="group.relations_changed", object_id=str(group.pk))
    assert relations.detail["before"] == {"permissions": []}
    assert relations.detail["after"]["permissions"] == [str(view_claim)]
    assert verify_chain()["ok"]


def test_changing_a_users_groups_in_the_admin_is_recorded_with_before_and_after(client, demo):
    admin = admin_client(client, demo)
    auditor = demo["auditor"]
    before_groups = sorted(group.name for group in auditor.groups.all())
    finance = Group.objects.get(name="finance_officer")
    joined = timezone.localtime(auditor.date_joined)
    response = admin.post(
        reverse("admin:auth_user_change", args=[auditor.pk]),
        {
            "username": auditor.username,
            "first_name": auditor.first_name,
            "last_name": "changed",
            "email": auditor.email,
            "is_active": "on",
            "groups": [group.pk for group in auditor.groups.all()] + [finance.pk],
            "date_joined_0": joined.date().isoformat(),
            "date_joined_1": joined.time().strftime("%H:%M:%S"),
            "initial-date_joined_0": joined.date().isoformat(),
            "initial-date_joined_1": joined.time().strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content[:2000]
    updated = AuditEvent.objects.get(action="user.updated", object_id=str(auditor.pk), detail__via="admin")
    assert updated.detail["changed"]["last_name"] == {"before": "", "after": "changed"}
    relations = AuditEvent.objects.get(action="user.relations_changed", object_id=str(auditor.pk))
    assert relations.detail["before"]["groups"] == before_groups
    assert relations.detail["after"]["groups"] == sorted(before_groups + ["finance_officer"])
    # No password or its hash in the ledger.
    assert "pbkdf2" not in updated.payload and "md5$" not in updated.payload


def test_deleting_a_group_in_the_admin_is_recorded(client, demo):
    admin = admin_client(client, demo)
    group = Group.objects.create(name="temporary")
    response = admin.post(reverse("admin:auth_group_delete", args=[group.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Group.objects.filter(pk=group.pk).exists()
    assert AuditEvent.objects.get(action="group.deleted", object_id=str(group.pk)).detail["fields"]["name"] == "temporary"


def test_the_ledger_in_the_admin_is_read_only_and_filtered_by_action_label(client, demo):
    admin = admin_client(client, demo)
    body = admin.get(reverse("admin:audit_auditevent_changelist")).content.decode()
    assert '<a href="?action=user.created">新建用户 (user.created)</a>' in body
    filtered = admin.get(reverse("admin:audit_auditevent_changelist"), {"action": "user.created"})
    assert filtered.status_code == 200
    assert filtered.context["cl"].result_count == AuditEvent.objects.filter(action="user.created").count() > 0
    event = AuditEvent.objects.order_by("seq").first()
    assert admin.post(reverse("admin:audit_auditevent_change", args=[event.pk]), {"reason": "changed"}).status_code == 403
