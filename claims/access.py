"""Who may do what in the claims domain: the one place that answers it.

A capability is a named action; ``CAPABILITIES`` says which role groups (claims.roles) hold
it. ``may`` answers for the role alone; the object-level answers add what the object must be
(a claim of one's own provider, still a draft or returned). Scope (which claims, providers,
departments one sees) stays in claims.selectors; this module only says who may act.

Every other module asks here (or in its own app's access module, e.g. payments.access, which
builds on ``holds_any``) instead of testing role groups itself; tests/test_access.py holds the
tables to what they should be and fails on a role check written anywhere else."""

from django.utils.translation import gettext_lazy as _

from . import roles
from .errors import ActionForbidden
from .models import Claim, ClaimStatus

DRAFT_CLAIM = "draft_claim"
IMPORT_ROSTER = "import_roster"
EDIT_CLAIM = "edit_claim"
ADMINISTER_CATALOGUE = "administer_catalogue"
READ_LEDGER = "read_ledger"
COMMENT_ON_CLAIMS = "comment_on_claims"
READ_INTERNAL_NOTES = "read_internal_notes"

FILE_CLASS = "file_class"
DECIDE_CLASS = "decide_class"
DECIDE_OBJECTIONS = "decide_objections"
IMPORT_REGISTRY = "import_registry"

# Capability → the roles that hold it.
CAPABILITIES: dict[str, tuple[str, ...]] = {
    # Draft a new claim for one's provider (the form, POST /claims/).
    DRAFT_CLAIM: (roles.PROVIDER_CLERK,),
    # Upload a roster that becomes a draft claim, and follow one's provider's uploads.
    IMPORT_ROSTER: (roles.PROVIDER_CLERK,),
    # Edit, submit or resubmit a claim of one's provider while it is a draft or returned (may_edit_claim).
    EDIT_CLAIM: (roles.PROVIDER_CLERK,),
    # Add and correct the subsidy catalogue's entries and versions (reading it is open to everyone signed in).
    ADMINISTER_CATALOGUE: (roles.ADMINISTRATOR,),
    # Verify the audit ledger and read its checkpoints and proofs (/api/v1/audit/…). The ledger,
    # the ground floor, knows no roles: who may read it is decided here with the other roles.
    READ_LEDGER: (roles.AUDITOR, roles.HR_HEAD),
    # Write in a claim's thread (the claims one sees): its provider and the people who review or pay it.
    # The auditor reads the thread, never writes in it.
    COMMENT_ON_CLAIMS: (roles.PROVIDER_CLERK, roles.DEPARTMENT_REVIEWER, roles.HR_REVIEWER, roles.HR_HEAD, roles.FINANCE_OFFICER),
    # Read the reviewers' internal notes (and their ledger entries); a provider's clerk never does
    # (may_read_internal_notes), whatever other role they hold.
    READ_INTERNAL_NOTES: (roles.DEPARTMENT_REVIEWER, roles.HR_REVIEWER, roles.HR_HEAD, roles.FINANCE_OFFICER, roles.AUDITOR),
    # File one's provider's classes before they start (开班备案), their roster and attendance.
    FILE_CLASS: (roles.PROVIDER_CLERK,),
    # Accept or refuse the classes filed with one's department.
    DECIDE_CLASS: (roles.DEPARTMENT_REVIEWER,),
    # Decide objections to lines on public notice (公示, RULES N5) in one's jurisdiction (workflow/notice.py).
    DECIDE_OBJECTIONS: (roles.HR_HEAD,),
    # Import a certificate registry's export (CSV/XLSX) for one's jurisdiction (claims/registry.py),
    # where there is no online registry: the HR bureau.
    IMPORT_REGISTRY: (roles.HR_REVIEWER, roles.HR_HEAD),
}

# Capability → what a refused user is told (ActionForbidden, 403 "forbidden").
REFUSALS = {
    DRAFT_CLAIM: _("只有培训机构经办人可以创建申领。"),
    IMPORT_ROSTER: _("只有培训机构经办人可以导入花名册。"),
    EDIT_CLAIM: _("只有草稿或退回修改的申领可以由本机构经办人修改。"),
    ADMINISTER_CATALOGUE: _("只有系统管理员可以修改补贴目录。"),
    READ_LEDGER: _("您的角色不能执行此操作。"),
    COMMENT_ON_CLAIMS: _("您的角色不能在申领下留言。"),
    READ_INTERNAL_NOTES: _("只有审核人员可以查看和填写内部备注。"),
    FILE_CLASS: _("只有培训机构经办人可以开班备案。"),
    DECIDE_CLASS: _("只有行业主管部门审核人可以确认或不予备案。"),
    DECIDE_OBJECTIONS: _("只有人社局负责人可以处理公示异议。"),
    IMPORT_REGISTRY: _("只有人社局审核人员可以导入证书库。"),
}

EDITABLE_STATUSES = (ClaimStatus.DRAFT, ClaimStatus.RETURNED)


# --------------------------------------------------------------------------- roles


def roles_held(user) -> set[str]:
    """The role groups the user holds (none when signed out): for showing them, not for deciding."""
    return roles.roles_of(user)


def holds_any(user, allowed) -> bool:
    """The user holds one of the ``allowed`` roles: the one role test every access module builds on."""
    return bool(roles.roles_of(user) & set(allowed))


# --------------------------------------------------------------------------- capabilities


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


# --------------------------------------------------------------------------- objects


def may_edit_claim(user, claim: Claim) -> bool:
    """A clerk of the claim's provider (who holds change_claim on it), while it is a draft or
    returned: edit it, submit it, resubmit it."""
    return may(user, EDIT_CLAIM) and user.has_perm("claims.change_claim", claim) and claim.status in EDITABLE_STATUSES


def require_may_edit_claim(user, claim: Claim) -> None:
    if not may_edit_claim(user, claim):
        raise ActionForbidden(str(REFUSALS[EDIT_CLAIM]))


def may_add_attachments(user, claim: Claim) -> bool:
    """Documents are added by the claim's provider while the claim is in its hands (a draft, or
    returned for what is missing); once submitted they are what the reviewers decided on."""
    return may_edit_claim(user, claim)


def require_may_add_attachments(user, claim: Claim) -> None:
    if not may_add_attachments(user, claim):
        raise ActionForbidden(str(_("只有草稿或退回修改的申领可以由本机构经办人添加材料。")))


def may_read_internal_notes(user) -> bool:
    """The reviewers' internal notes (the comments and their ledger entries): never a provider's clerk."""
    return may(user, READ_INTERNAL_NOTES) and not holds_any(user, (roles.PROVIDER_CLERK,))


def require_catalogue_administrator(actor) -> None:
    """Only administrators edit the catalogue; ``actor=None`` is the system itself (seed_demo)."""
    if actor is not None:
        require(actor, ADMINISTER_CATALOGUE)
