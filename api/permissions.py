from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from claims import roles


class HasAnyRole(BasePermission):
    """The caller holds one of the view's ``allowed_roles`` (role groups of claims.roles)."""

    message = _("您的角色不能执行此操作。")

    def has_permission(self, request, view):
        return bool(roles.roles_of(request.user) & set(view.allowed_roles))
