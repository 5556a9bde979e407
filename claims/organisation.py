"""Services for setting up the organisation: jurisdictions, departments, providers and their staff.

Scope is held by guardian object permissions on the jurisdiction, department or provider,
granted to that body's staff group; a person joins one role group and one staff group."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from guardian.shortcuts import assign_perm

from audit import actions
from audit.services import record_event

from . import roles
from .models import Department, Jurisdiction, Provider
from .validators import validate_credit_code


def _staff_group(name: str, perm: str, obj, actor, reason: str) -> Group:
    group, created = Group.objects.get_or_create(name=name)
    assign_perm(perm, group, obj)
    if created:
        record_event(
            actor=actor,
            action=actions.GROUP_CREATED,
            obj=group,
            reason=reason,
            detail={"group": name, "perm": perm, "on": str(obj.pk)},
        )
    record_event(actor=actor, action=actions.PERMISSION_GRANTED, obj=obj, detail={"group": name, "perms": [perm.split(".")[-1]]})
    return group


JURISDICTION_SETTINGS = (
    "certificate_check_mode",
    "class_filing_days_ahead",
    "class_filing_from",
    "attendance_minimum_percent",
    "public_notice_from",
)

# The ledger actions (created, updated) of each kind of body.
LEDGER_ACTIONS = {
    "jurisdiction": (actions.JURISDICTION_CREATED, actions.JURISDICTION_UPDATED),
    "department": (actions.DEPARTMENT_CREATED, actions.DEPARTMENT_UPDATED),
    "provider": (actions.PROVIDER_CREATED, actions.PROVIDER_UPDATED),
}


def _upsert(*, actor, model, kind: str, code: str, values: dict, reason: str = ""):
    """Create the object with ``code``, or update its fields to ``values``; the ledger gets
    "<kind>.created" with the fields, or "<kind>.updated" with before/after of the fields that
    changed (nothing when none did), with ``reason``."""
    created_action, updated_action = LEDGER_ACTIONS[kind]
    existing = model.objects.select_for_update().filter(code=code).first()
    names = list(values)
    if existing is None:
        obj = model.objects.create(code=code, **values)
        record_event(actor=actor, action=created_action, obj=obj, reason=reason, detail={"code": code, **_snapshot(obj, names)})
        return obj
    before = _snapshot(existing, names)
    for name, value in values.items():
        setattr(existing, name, value)
    existing.save()
    existing.refresh_from_db()
    after = _snapshot(existing, names)
    changed = [name for name in names if before[name] != after[name]]
    if changed:
        record_event(
            actor=actor,
            action=updated_action,
            obj=existing,
            reason=reason,
            detail={
                "code": code,
                "before": {name: before[name] for name in changed},
                "after": {name: after[name] for name in changed},
            },
        )
    return existing


def _snapshot(obj, names) -> dict:
    """Field values as the ledger keeps them: related objects by their code (or pk)."""
    values = {}
    for name in names:
        value = getattr(obj, name)
        if hasattr(value, "_meta"):
            value = getattr(value, "code", None) or str(value.pk)
        values[name] = value
    return values


def _set_staff_group(*, actor, obj, kind: str, name: str, perm: str, reason: str) -> None:
    obj.staff_group = _staff_group(name, perm, obj, actor, reason)
    obj.save(update_fields=["staff_group"])
    record_event(
        actor=actor,
        action=LEDGER_ACTIONS[kind][1],
        obj=obj,
        reason=reason,
        detail={"code": obj.code, "before": {"staff_group": None}, "after": {"staff_group": name}},
    )


@transaction.atomic
def ensure_jurisdiction(
    *, actor=None, code: str, name: str, hr_head_threshold=None, reason: str = "", **settings
) -> Jurisdiction:
    """``settings``: the jurisdiction's other settings to set (certificate_check_mode,
    class_filing_days_ahead, class_filing_from, attendance_minimum_percent, public_notice_from).
    ``reason``: why, for the ledger (the admin asks it)."""
    values = {"name": name}
    if hr_head_threshold is not None:
        values["hr_head_threshold"] = hr_head_threshold
    for name_ in settings:
        if name_ not in JURISDICTION_SETTINGS:
            raise TypeError(f"unknown jurisdiction setting {name_!r}")
    values.update(settings)
    jurisdiction = _upsert(actor=actor, model=Jurisdiction, kind="jurisdiction", code=code, values=values, reason=reason)
    if jurisdiction.staff_group is None:
        _set_staff_group(
            actor=actor,
            obj=jurisdiction,
            kind="jurisdiction",
            name=f"jurisdiction:{code}",
            perm="claims.oversee_jurisdiction",
            reason=reason,
        )
    return jurisdiction


@transaction.atomic
def ensure_department(
    *, actor=None, jurisdiction: Jurisdiction, code: str, name: str, sector: str = "", reason: str = ""
) -> Department:
    """``reason``: why, for the ledger (required of a person: audit.actions.REASON_REQUIRED)."""
    department = _upsert(
        actor=actor,
        model=Department,
        kind="department",
        code=code,
        values={"jurisdiction": jurisdiction, "name": name, "sector": sector},
        reason=reason,
    )
    if department.staff_group is None:
        _set_staff_group(
            actor=actor,
            obj=department,
            kind="department",
            name=f"department:{code}",
            perm="claims.review_department_claims",
            reason=reason,
        )
    return department


@transaction.atomic
def ensure_provider(
    *, actor=None, jurisdiction: Jurisdiction, code: str, name: str, credit_code: str, reason: str = ""
) -> Provider:
    """``reason``: why, for the ledger (required of a person: audit.actions.REASON_REQUIRED)."""
    try:
        validate_credit_code(credit_code)
    except ValidationError as error:
        raise ValidationError({"credit_code": error.error_list}) from None
    provider = _upsert(
        actor=actor,
        model=Provider,
        kind="provider",
        code=code,
        values={"jurisdiction": jurisdiction, "name": name, "credit_code": credit_code},
        reason=reason,
    )
    if provider.staff_group is None:
        _set_staff_group(
            actor=actor,
            obj=provider,
            kind="provider",
            name=f"provider:{code}",
            perm="claims.submit_provider_claims",
            reason=reason,
        )
    return provider


@transaction.atomic
def ensure_staff_user(
    *,
    actor=None,
    username: str,
    password: str,
    role: str,
    scope_group: Group | None,
    email: str = "",
    team_lead: bool = False,
    reason: str = "",
    **extra,
):
    """Create or reset a person with one role and one scope; ``team_lead``: also marked the team
    lead of that scope (roles.TEAM_LEAD: overdue reviews escalate to them; they reassign tasks).
    ``reason``: why, for the ledger (required of a person: audit.actions.REASON_REQUIRED)."""
    if role not in roles.ALL_ROLES:
        raise ValueError(f"unknown role {role}")
    # Django's password validators (settings.AUTH_PASSWORD_VALIDATORS), before anything is saved:
    # django.core.exceptions.ValidationError listing what is wrong with the password.
    validate_password(password, get_user_model()(username=username, email=email, **extra))
    user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": email, **extra})
    fields = ["email", *extra]
    before_fields = {name: getattr(user, name) for name in fields}
    for key, value in extra.items():
        setattr(user, key, value)
    user.email = email or user.email
    password_changed = created or not user.check_password(password)
    if password_changed:
        user.set_password(password)
    user.save()
    role_group, role_created = Group.objects.get_or_create(name=role)
    if role_created:
        record_event(actor=actor, action=actions.GROUP_CREATED, obj=role_group, reason=reason, detail={"group": role})
    groups = [role_group] + ([scope_group] if scope_group is not None else [])
    if team_lead:
        lead_group, lead_created = Group.objects.get_or_create(name=roles.TEAM_LEAD)
        if lead_created:
            record_event(
                actor=actor, action=actions.GROUP_CREATED, obj=lead_group, reason=reason, detail={"group": roles.TEAM_LEAD}
            )
        groups.append(lead_group)
    before = sorted(user.groups.values_list("name", flat=True))
    user.groups.set(groups)
    after = sorted(group.name for group in groups)
    if created:
        record_event(
            actor=actor,
            action=actions.USER_CREATED,
            obj=user,
            reason=reason,
            detail={"username": username, "groups": after, **{name: getattr(user, name) for name in fields}},
        )
        return user
    changed = [name for name in fields if before_fields[name] != getattr(user, name)]
    if changed or password_changed:
        # A new password is recorded as such: never what it is, nor its hash.
        record_event(
            actor=actor,
            action=actions.USER_UPDATED,
            obj=user,
            reason=reason,
            detail={
                "username": username,
                "password": "reset" if password_changed else "unchanged",
                "before": {name: before_fields[name] for name in changed},
                "after": {name: getattr(user, name) for name in changed},
            },
        )
    if before != after:
        record_event(
            actor=actor, action=actions.USER_GROUPS_CHANGED, obj=user, reason=reason, detail={"before": before, "after": after}
        )
    return user
