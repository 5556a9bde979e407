"""Giving people their roles, under segregation of duties (RULES N4).

Every way of giving a role asks ``policy.role_change_refusal``: this service (seed_demo and any
command that provisions staff) and the admin site's user and group forms (workflow/admin.py).
Provisioning itself stays in claims.organisation; this layer adds what only the workflow knows,
who already performed which duty on an open claim."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from claims import organisation

from . import policy


@transaction.atomic
def ensure_staff_user(
    *, actor=None, username: str, password: str, role: str, scope_group: Group | None, email: str = "", **extra
):
    """Create or reset a person with one role and one scope (claims.organisation.ensure_staff_user),
    refused (ActionForbidden, "segregation_of_duties") when the person may not hold them."""
    user = get_user_model().objects.select_for_update().filter(username=username).first()
    user = user or get_user_model()(username=username)
    role_group = Group.objects.filter(name=role).first()
    refusal = policy.role_change_refusal(
        user=user,
        role_names={role},
        group_ids={group.pk for group in (role_group, scope_group) if group is not None},
        is_superuser=extra.get("is_superuser", user.is_superuser),
        is_staff=extra.get("is_staff", user.is_staff),
    )
    if refusal is not None:
        raise refusal
    return organisation.ensure_staff_user(
        actor=actor, username=username, password=password, role=role, scope_group=scope_group, email=email, **extra
    )
