"""Services for setting up the organisation: jurisdictions, departments, providers and their staff.

Scope is held by guardian object permissions on the jurisdiction, department or provider,
granted to that body's staff group; a person joins one role group and one staff group."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from guardian.shortcuts import assign_perm

from audit.services import record_event

from . import roles
from .models import Department, Jurisdiction, Provider
from .validators import validate_credit_code


def _staff_group(name: str, perm: str, obj, actor) -> Group:
    group, created = Group.objects.get_or_create(name=name)
    assign_perm(perm, group, obj)
    if created:
        record_event(actor=actor, action="group.created", obj=group, detail={"group": name, "perm": perm, "on": str(obj.pk)})
    return group


@transaction.atomic
def ensure_jurisdiction(*, actor=None, code: str, name: str, hr_head_threshold=None) -> Jurisdiction:
    defaults = {"name": name}
    if hr_head_threshold is not None:
        defaults["hr_head_threshold"] = hr_head_threshold
    jurisdiction, created = Jurisdiction.objects.update_or_create(code=code, defaults=defaults)
    if created:
        record_event(actor=actor, action="jurisdiction.created", obj=jurisdiction, detail={"code": code, "name": name})
    if jurisdiction.staff_group is None:
        jurisdiction.staff_group = _staff_group(f"jurisdiction:{code}", "claims.oversee_jurisdiction", jurisdiction, actor)
        jurisdiction.save(update_fields=["staff_group"])
    return jurisdiction


@transaction.atomic
def ensure_department(*, actor=None, jurisdiction: Jurisdiction, code: str, name: str, sector: str = "") -> Department:
    department, created = Department.objects.update_or_create(
        code=code, defaults={"jurisdiction": jurisdiction, "name": name, "sector": sector}
    )
    if created:
        record_event(actor=actor, action="department.created", obj=department, detail={"code": code, "name": name})
    if department.staff_group is None:
        department.staff_group = _staff_group(f"department:{code}", "claims.review_department_claims", department, actor)
        department.save(update_fields=["staff_group"])
    return department


@transaction.atomic
def ensure_provider(*, actor=None, jurisdiction: Jurisdiction, code: str, name: str, credit_code: str) -> Provider:
    try:
        validate_credit_code(credit_code)
    except ValidationError as error:
        raise ValidationError({"credit_code": error.error_list}) from None
    provider, created = Provider.objects.update_or_create(
        code=code, defaults={"jurisdiction": jurisdiction, "name": name, "credit_code": credit_code}
    )
    if created:
        record_event(actor=actor, action="provider.created", obj=provider, detail={"code": code, "name": name})
    if provider.staff_group is None:
        provider.staff_group = _staff_group(f"provider:{code}", "claims.submit_provider_claims", provider, actor)
        provider.save(update_fields=["staff_group"])
    return provider


@transaction.atomic
def ensure_staff_user(*, actor=None, username: str, password: str, role: str, scope_group: Group | None, email: str = "", **extra):
    """Create or reset a person with one role and one scope."""
    if role not in roles.ALL_ROLES:
        raise ValueError(f"unknown role {role}")
    user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": email, **extra})
    for key, value in extra.items():
        setattr(user, key, value)
    user.email = email or user.email
    user.set_password(password)
    user.save()
    role_group, _ = Group.objects.get_or_create(name=role)
    groups = [role_group] + ([scope_group] if scope_group is not None else [])
    before = sorted(user.groups.values_list("name", flat=True))
    user.groups.set(groups)
    after = sorted(group.name for group in groups)
    if created:
        record_event(actor=actor, action="user.created", obj=user, detail={"username": username, "groups": after})
    elif before != after:
        record_event(actor=actor, action="user.groups_changed", obj=user, detail={"before": before, "after": after})
    return user
