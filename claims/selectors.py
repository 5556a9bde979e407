"""Reads, always scoped to what the user may see."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from audit.actions import INTERNAL_ACTIONS
from audit.models import AuditEvent

from . import roles
from .access import may_read_internal_notes
from .errors import NotInScope
from .models import Claim, ClaimStatus, Department, Jurisdiction, Provider


def _objects_with_perm(user, perm: str, klass) -> QuerySet:
    """Object permissions only: global (model-wide) permissions and superuser status grant nothing here."""
    if not user.is_authenticated:
        return klass.objects.none()
    return get_objects_for_user(user, perm, klass=klass, accept_global_perms=False, with_superuser=False)


def jurisdictions_overseen_by(user) -> QuerySet:
    return _objects_with_perm(user, "claims.oversee_jurisdiction", Jurisdiction)


def providers_of_clerk(user) -> QuerySet:
    return _objects_with_perm(user, "claims.submit_provider_claims", Provider)


def departments_of_reviewer(user) -> QuerySet:
    return _objects_with_perm(user, "claims.review_department_claims", Department)


def scope_ids(user) -> dict[str, list[int]]:
    """The ids of the providers the user submits for, the departments they review for and the
    jurisdictions they oversee (one small query each), read once per user object (roles.SCOPE_CACHE)."""
    cached = user.__dict__.get(roles.SCOPE_CACHE)
    if cached is None:
        cached = user.__dict__[roles.SCOPE_CACHE] = {
            "provider": list(providers_of_clerk(user).values_list("pk", flat=True)),
            "department": list(departments_of_reviewer(user).values_list("pk", flat=True)),
            "jurisdiction": list(jurisdictions_overseen_by(user).values_list("pk", flat=True)),
        }
    return cached


def _claims_of(*, providers=None, departments=None, jurisdictions=None) -> Q:
    """Who sees a claim, as predicates on its own columns: its provider's clerks from the draft
    on; its department's reviewers once it is submitted; those who oversee its jurisdiction once
    it is out of draft (a draft withdrawn before submission included).

    This says what the per-claim object permissions say: view_claim is granted to the provider's
    staff group when the claim is drafted (claims.services.create_claim) and to the department's
    staff group when it is submitted (workflow.services.submit_claim), the groups that hold
    submit_provider_claims / review_department_claims on the provider / department; a claim's
    provider never changes and its department only while a draft. The scope itself stays in
    guardian, on the organisation (who holds which provider, department, jurisdiction); the
    claims' columns are indexed, a list of the grants is not (tests/test_claim_lists.py checks
    that both say the same for every role and state)."""
    condition = Q(pk__in=[])  # the parts the caller leaves out (None) add nothing
    if providers is not None:
        condition |= Q(provider_id__in=providers)
    if departments is not None:
        condition |= Q(department_id__in=departments, submitted_at__isnull=False)
    if jurisdictions is not None:
        condition |= Q(jurisdiction_id__in=jurisdictions) & ~Q(status=ClaimStatus.DRAFT)
    return condition


def claims_visible_to(user) -> QuerySet:
    """Claims granted to the user's provider or department, plus the submitted claims of any
    jurisdiction the user oversees. Everything else is invisible. One query (the scope as
    subqueries): for one claim or a short list; a long list reads the scope once (claim_scope)."""
    if not user.is_authenticated:
        return Claim.objects.none()
    return Claim.objects.filter(
        _claims_of(
            providers=providers_of_clerk(user).values("pk"),
            departments=departments_of_reviewer(user).values("pk"),
            jurisdictions=jurisdictions_overseen_by(user).values("pk"),
        )
    )


@dataclass(frozen=True)
class ClaimScope:
    """The user's providers, departments and jurisdictions, read once for a list."""

    providers: tuple[int, ...] = ()
    departments: tuple[int, ...] = ()
    jurisdictions: tuple[int, ...] = ()


def claim_scope(user) -> ClaimScope:
    if not user.is_authenticated:
        return ClaimScope()
    ids = scope_ids(user)
    return ClaimScope(
        providers=tuple(ids["provider"]), departments=tuple(ids["department"]), jurisdictions=tuple(ids["jurisdiction"])
    )


def claims_in_scope(scope: ClaimScope) -> QuerySet:
    """claims_visible_to with the scope as constants, and only the parts the user holds: a
    reviewer's list is ``department_id = d AND submitted_at IS NOT NULL``, an index range of
    (department, id), not a join with guardian's rows or an OR of empty lists."""
    return Claim.objects.filter(
        _claims_of(
            providers=scope.providers or None,
            departments=scope.departments or None,
            jurisdictions=scope.jurisdictions or None,
        )
    )


def ledger_entries_visible_to(user) -> QuerySet:
    """The ledger entries the user may read: every read of the ledger (a claim's history and
    timeline, inclusion proofs, the signed export) goes through here; the admin site shows the
    ledger to superusers (the operator) only.

    An entry of a claim is readable when the claim is (claims_visible_to: so a draft's entries
    stay with its provider until it is submitted); any other entry of a jurisdiction (its
    providers, departments, catalogue, funds, batches, the auditor's own draws and exports) by
    those who oversee that jurisdiction. Entries of no jurisdiction (accounts, roles, sign-ins,
    denied requests) are read by no one here: they name people of every jurisdiction. The
    reviewers' internal notes (audit.actions.INTERNAL_ACTIONS) only by those who may read them
    (claims.access.may_read_internal_notes): never by the claim's provider."""
    if not user.is_authenticated:
        return AuditEvent.objects.none()
    overseen = jurisdictions_overseen_by(user).values("pk")
    entries = AuditEvent.objects.filter(
        Q(claim_id__in=claims_visible_to(user).values("pk")) | Q(claim_id__isnull=True, jurisdiction_id__in=overseen)
    )
    if not may_read_internal_notes(user):
        entries = entries.exclude(action__in=INTERNAL_ACTIONS)
    return entries


def ledger_history_of_claim(*, user, claim) -> QuerySet:
    """The entries of a claim the user may read (a claim or its id), oldest first."""
    claim_id = claim if isinstance(claim, int) else claim.pk
    return ledger_entries_visible_to(user).filter(claim_id=claim_id).order_by("seq")


def get_claim_for_user(*, user, claim_id) -> Claim:
    try:
        return claims_visible_to(user).select_related("provider", "department", "policy", "jurisdiction").get(pk=claim_id)
    except (Claim.DoesNotExist, ValueError, TypeError):
        raise NotInScope("Not found.") from None


def departments_visible_to(user) -> QuerySet:
    """A provider sees every department of its jurisdiction; a reviewer its own; overseers their jurisdictions'."""
    if not user.is_authenticated:
        return Department.objects.none()
    provider_jurisdictions = providers_of_clerk(user).values("jurisdiction")
    return Department.objects.filter(
        Q(jurisdiction__in=provider_jurisdictions)
        | Q(pk__in=departments_of_reviewer(user).values("pk"))
        | Q(jurisdiction__in=jurisdictions_overseen_by(user).values("pk"))
    ).select_related("jurisdiction")


def providers_visible_to(user) -> QuerySet:
    """A clerk sees their own provider; reviewers and overseers the providers of their jurisdictions."""
    if not user.is_authenticated:
        return Provider.objects.none()
    reviewer_jurisdictions = departments_of_reviewer(user).values("jurisdiction")
    return Provider.objects.filter(
        Q(pk__in=providers_of_clerk(user).values("pk"))
        | Q(jurisdiction__in=reviewer_jurisdictions)
        | Q(jurisdiction__in=jurisdictions_overseen_by(user).values("pk"))
    ).select_related("jurisdiction")
