"""Who may call an endpoint: asked of the apps' access modules, never decided here.

A view names its ``capability`` (a name of claims.access or payments.access), or a dict of
them by method; HasCapability lets the call through when the caller's roles grant it and
otherwise answers with the access module's own refusal (403, its code and message). Scope
stays with the selectors (404), the rest of the rules with the services."""

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from claims import access as claims_access
from payments import access as payments_access

ACCESS_MODULES = (claims_access, payments_access)


def access_module_of(capability: str):
    """The access module whose table names the capability (the names are unique across apps)."""
    for module in ACCESS_MODULES:
        if capability in module.CAPABILITIES:
            return module
    raise LookupError(f"no access module has the capability {capability!r}")


class HasCapability(BasePermission):
    """The caller holds the view's ``capability`` (a str, for every method the view handles, or
    {"GET": …, "POST": …}; a method left out is checked by the view or its service). OPTIONS and
    methods the view does not handle (405) are left to DRF."""

    def has_permission(self, request, view):
        capability = self.capability_for(request, view)
        if capability is not None:
            access_module_of(capability).require(request.user, capability)
        return True

    @staticmethod
    def capability_for(request, view) -> str | None:
        method = request.method.lower()
        if method == "options" or not hasattr(view, method):
            return None
        capability = getattr(view, "capability", None)
        if isinstance(capability, dict):
            return capability.get("GET" if method == "head" else request.method)
        return capability


class HasAnyRole(BasePermission):
    """The caller holds one of the view's ``allowed_roles`` (role groups of claims.roles).

    Only the ledger's endpoints still name roles (api/views.py AuditVerifyView, api/audit_views.py);
    their roles belong to an access module of the audit side, once there is one."""

    message = _("您的角色不能执行此操作。")

    def has_permission(self, request, view):
        return claims_access.holds_any(request.user, view.allowed_roles)
