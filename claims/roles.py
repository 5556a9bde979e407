"""Role groups of DESIGN.md. A user holds one role group and one scope group
(a provider's, a department's or a jurisdiction's staff group)."""

PROVIDER_CLERK = "provider_clerk"
DEPARTMENT_REVIEWER = "department_reviewer"
HR_REVIEWER = "hr_reviewer"
HR_HEAD = "hr_head"
FINANCE_OFFICER = "finance_officer"
AUDITOR = "auditor"
ADMINISTRATOR = "administrator"

ALL_ROLES = (PROVIDER_CLERK, DEPARTMENT_REVIEWER, HR_REVIEWER, HR_HEAD, FINANCE_OFFICER, AUDITOR, ADMINISTRATOR)
JURISDICTION_ROLES = (HR_REVIEWER, HR_HEAD, FINANCE_OFFICER, AUDITOR)
# Not a role but a mark beside one: a reviewer in this group leads their team (their role in
# their scope group) and is who an overdue task of that team escalates to (workflow.policy.team_leads_for).
TEAM_LEAD = "team_lead"


# Where a user object keeps its groups and its scope once read (as Django's backend keeps its
# _perm_cache): a request's user asks for them many times.
GROUPS_CACHE = "_groups_cache"
SCOPE_CACHE = "_scope_ids_cache"  # claims.selectors.scope_ids


def has_role(user, role: str) -> bool:
    if not user.is_authenticated:
        return False
    return any(group.name == role for group in groups_of(user))


def roles_of(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    return {group.name for group in groups_of(user) if group.name in ALL_ROLES}


def groups_of(user) -> list:
    """Every group the user is in (role and staff groups), read once per user object: a request's
    user asks for its roles and scope many times. A change of its groups forgets them
    (forget_groups, on m2m_changed)."""
    if user.pk is None:
        return []
    cached = user.__dict__.get(GROUPS_CACHE)
    if cached is None:
        cached = user.__dict__[GROUPS_CACHE] = list(user.groups.all())
    return cached


def forget_groups(sender, *, instance, **kwargs) -> None:
    """m2m_changed of User.groups: the user (or, from the group's side, nobody we hold) re-reads
    its groups and its scope."""
    instance.__dict__.pop(GROUPS_CACHE, None)
    instance.__dict__.pop(SCOPE_CACHE, None)


def group_ids_of(user) -> set[int]:
    return {group.pk for group in groups_of(user)}
