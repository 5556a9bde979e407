"""Who may call an endpoint: asked of the apps' access modules, never decided here.

A view names its ``capability`` (a name in one of settings.ACCESS_MODULES), or a dict of
them by method; HasCapability lets the call through when the caller's roles grant it and
otherwise answers with the access module's own refusal (403, its code and message). Scope
stays with the selectors (404), the rest of the rules with the services."""

from importlib import import_module

from django.conf import settings
from rest_framework.permissions import BasePermission

from claims import access as claims_access

# The apps' access modules, as settings.ACCESS_MODULES lists them (the menu reads the same list).
ACCESS_MODULES = tuple(import_module(path) for path in settings.ACCESS_MODULES)


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


class MayReadLedger(BasePermission):
    """The ledger's endpoints (verify, checkpoints, proofs): claims.access.READ_LEDGER. A refusal
    is DRF's own 403 ``permission_denied``, as these endpoints have always answered."""

    message = claims_access.REFUSALS[claims_access.READ_LEDGER]

    def has_permission(self, request, view):
        return claims_access.may(request.user, claims_access.READ_LEDGER)
