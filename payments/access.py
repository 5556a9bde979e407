"""Who may act on the money of a jurisdiction or a department: a role, held in scope."""

from django.utils.translation import gettext as _

from claims import roles
from claims.errors import ActionForbidden
from claims.models import Department, Jurisdiction
from claims.selectors import departments_of_reviewer, jurisdictions_overseen_by

HR_ROLES = (roles.HR_REVIEWER, roles.HR_HEAD)


def oversees(user, jurisdiction: Jurisdiction) -> bool:
    return jurisdictions_overseen_by(user).filter(pk=jurisdiction.pk).exists()


def require_finance(user, jurisdiction: Jurisdiction) -> None:
    if not (roles.has_role(user, roles.FINANCE_OFFICER) and oversees(user, jurisdiction)):
        raise ActionForbidden(_("只有本地区财政部门经办人可以办理。"), code="role")


def require_hr(user, jurisdiction: Jurisdiction) -> None:
    if not (any(roles.has_role(user, role) for role in HR_ROLES) and oversees(user, jurisdiction)):
        raise ActionForbidden(_("只有本地区人社局审核人或负责人可以办理。"), code="role")


def require_department_reviewer(user, department: Department) -> None:
    if not (roles.has_role(user, roles.DEPARTMENT_REVIEWER) and departments_of_reviewer(user).filter(pk=department.pk).exists()):
        raise ActionForbidden(_("只有本部门审核人可以办理。"), code="role")
