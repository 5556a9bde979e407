"""Who may use the auditor's workspace: the one place that answers it for the auditor app.

Built, like payments.access, on claims.access.holds_any (the one role test); which claims
an auditor sees stays with claims.selectors (the jurisdictions the auditor oversees)."""

from django.utils.translation import gettext_lazy as _

from claims import roles
from claims.access import holds_any, roles_held
from claims.errors import ActionForbidden

USE_AUDIT_WORKSPACE = "use_audit_workspace"

# Capability → the roles that hold it.
CAPABILITIES: dict[str, tuple[str, ...]] = {
    # Search and sample claims, read their timelines and states as of a day, verify and export
    # the ledger (/audit/). Read-only: the only writes are the ledger entries of draws and exports.
    USE_AUDIT_WORKSPACE: (roles.AUDITOR,),
}

# Capability → what a refused user is told.
REFUSALS = {
    USE_AUDIT_WORKSPACE: _("只有审计人员可以使用审计工作台。"),
}


def may(user, capability: str) -> bool:
    """The user's roles grant the capability (an unknown name is a KeyError, never a silent no)."""
    return holds_any(user, CAPABILITIES[capability])


def require(user, capability: str) -> None:
    if not may(user, capability):
        raise ActionForbidden(str(REFUSALS[capability]))


def capabilities_of(user) -> frozenset[str]:
    """Every capability of this module the user holds (one query)."""
    held = roles_held(user)
    return frozenset(name for name, allowed in CAPABILITIES.items() if held & set(allowed))
