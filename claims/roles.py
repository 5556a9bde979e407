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


def has_role(user, role: str) -> bool:
    if not user.is_authenticated:
        return False
    return user.groups.filter(name=role).exists()


def roles_of(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))


def groups_of(user) -> list:
    """Every group the user is in (role and staff groups)."""
    if user.pk is None:
        return []
    return list(user.groups.all())


def group_ids_of(user) -> set[int]:
    return {group.pk for group in groups_of(user)}
