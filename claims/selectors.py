"""Reads, always scoped to what the user may see."""

import itertools
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.query import ModelIterable

from audit.actions import FLAG_IN_DETAIL, INTERNAL_ACTIONS, PARTLY_SHOWN_TO_PROVIDER
from audit.models import AuditEvent

from . import roles
from .access import may_read_internal_notes
from .eligibility import flag_as_seen, related_numbers
from .errors import NotInScope
from .models import (
    Claim,
    ClaimStatus,
    Department,
    DepartmentGroupObjectPermission,
    DepartmentUserObjectPermission,
    Jurisdiction,
    JurisdictionGroupObjectPermission,
    JurisdictionUserObjectPermission,
    Provider,
    ProviderGroupObjectPermission,
    ProviderUserObjectPermission,
)

# The scope a user holds, by kind: the objects granted through guardian's direct-foreign-key
# tables (to the user or to one of their groups) and the permission that makes the grant.
SCOPE_GRANTS = {
    "provider": (ProviderUserObjectPermission, ProviderGroupObjectPermission, "submit_provider_claims"),
    "department": (DepartmentUserObjectPermission, DepartmentGroupObjectPermission, "review_department_claims"),
    "jurisdiction": (JurisdictionUserObjectPermission, JurisdictionGroupObjectPermission, "oversee_jurisdiction"),
}


def _scope_statement() -> str:
    """The six grant tables in one UNION ALL: what guardian's get_objects_for_user returns for
    each permission (object permissions only; global permissions and superuser status grant
    nothing here), read in one round trip and without building six ORM queries on every
    request (a decision's take, read and decide are three requests)."""
    permission = Permission._meta.db_table
    memberships = get_user_model().groups.through._meta.db_table
    parts = []
    for kind, (by_user, by_group, _codename) in SCOPE_GRANTS.items():
        parts.append(
            f"SELECT '{kind}', g.content_object_id FROM {by_user._meta.db_table} g"
            f" JOIN {permission} p ON p.id = g.permission_id WHERE g.user_id = %s AND p.codename = %s"
        )
        parts.append(
            f"SELECT '{kind}', g.content_object_id FROM {by_group._meta.db_table} g"
            f" JOIN {permission} p ON p.id = g.permission_id"
            f" WHERE g.group_id IN (SELECT m.group_id FROM {memberships} m WHERE m.user_id = %s) AND p.codename = %s"
        )
    return " UNION ALL ".join(parts)


def scope_ids(user) -> dict[str, list[int]]:
    """The ids of the providers the user submits for, the departments they review for and the
    jurisdictions they oversee, sorted; read once per user object (roles.SCOPE_CACHE; a change of
    the user's groups forgets it)."""
    if not user.is_authenticated:
        return {kind: [] for kind in SCOPE_GRANTS}
    cached = user.__dict__.get(roles.SCOPE_CACHE)
    if cached is None:
        params = []
        for _by_user, _by_group, codename in SCOPE_GRANTS.values():
            params += [user.pk, codename, user.pk, codename]
        with connection.cursor() as cursor:
            cursor.execute(_scope_statement(), params)
            granted = cursor.fetchall()
        cached = {kind: sorted({pk for granted_kind, pk in granted if granted_kind == kind}) for kind in SCOPE_GRANTS}
        user.__dict__[roles.SCOPE_CACHE] = cached
    return cached


def jurisdictions_overseen_by(user) -> QuerySet:
    return Jurisdiction.objects.filter(pk__in=scope_ids(user)["jurisdiction"])


def providers_of_clerk(user) -> QuerySet:
    return Provider.objects.filter(pk__in=scope_ids(user)["provider"])


def departments_of_reviewer(user) -> QuerySet:
    return Department.objects.filter(pk__in=scope_ids(user)["department"])


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
    jurisdiction the user oversees. Everything else is invisible. The scope is read once per
    user object (scope_ids) and enters the query as constants (claims_in_scope)."""
    return claims_in_scope(claim_scope(user))


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
    (claims.access.may_read_internal_notes): never by the claim's provider, who reads some entries
    only in part (audit.actions.PARTLY_SHOWN_TO_PROVIDER: an objection's words and receipt).
    Every reader reads a flag kept in an entry (audit.actions.FLAG_IN_DETAIL: HR's override)
    naming only the claims they may see. The instances come shaped for their reader (LedgerAsSeen);
    a ``values()`` or ``values_list()`` that reads what shaping hides leaves those entries out."""
    if not user.is_authenticated:
        return AuditEvent.objects.none()
    overseen = jurisdictions_overseen_by(user).values("pk")
    readable = Q(claim_id__in=claims_visible_to(user).values("pk")) | Q(claim_id__isnull=True, jurisdiction_id__in=overseen)
    if may_read_internal_notes(user):
        return LedgerAsSeen(AuditEvent).seen_by(user, as_provider=False).filter(readable)
    return LedgerAsSeen(AuditEvent).seen_by(user, as_provider=True).filter(readable).exclude(action__in=INTERNAL_ACTIONS)


# What shaping hides of an entry a provider's clerk reads in part; of an entry keeping a flag, its
# detail (a raw read of its payload, the bytes, is the evidence: given whole to the entry's readers,
# as the signed package gives it: docs/architecture.md, "Who reads the ledger").
SHAPED_FIELDS = frozenset({"reason", "detail", "payload"})
SHAPED_FLAG_FIELDS = frozenset({"detail"})


class LedgerAsSeen(QuerySet):
    """Ledger entries as one reader reads them (seen_by): instances come shaped (_AsSeen, kept by
    every filter, slice, get and page); a raw read (``values()``, ``values_list()``) that names a
    field shaping hides, or every field, leaves out the entries that shaping would change, since
    its rows cannot be shaped without their action."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._iterable_class = _AsSeen
        self._reader = None
        self._as_provider = True

    def seen_by(self, reader, *, as_provider: bool) -> "LedgerAsSeen":
        """``as_provider``: the reader may not read internal notes, and reads some entries in part."""
        clone = self._chain()
        clone._reader, clone._as_provider = reader, as_provider
        return clone

    def _clone(self):
        clone = super()._clone()
        clone._reader, clone._as_provider = self._reader, self._as_provider
        return clone

    def values(self, *fields, **expressions):
        return QuerySet.values(self._for_raw_read(fields, expressions), *fields, **expressions)

    def values_list(self, *fields, flat=False, named=False):
        return QuerySet.values_list(self._for_raw_read(fields, {}), *fields, flat=flat, named=named)

    def _for_raw_read(self, fields, expressions) -> QuerySet:
        named = {str(field).split("__")[0] for field in fields}
        every = not fields or bool(expressions)
        left_out = set()
        if every or named & SHAPED_FLAG_FIELDS:
            left_out |= FLAG_IN_DETAIL
        if self._as_provider and (every or named & SHAPED_FIELDS):
            left_out |= set(PARTLY_SHOWN_TO_PROVIDER)
        return self.exclude(action__in=left_out) if left_out else self


class _AsSeen(ModelIterable):
    """Entries as their reader reads them (entry_as_seen). Only the instances read change: the
    stored, hashed entry is never touched (the ledger is append-only)."""

    def __iter__(self):
        reader, as_provider = self.queryset._reader, self.queryset._as_provider
        rows = super().__iter__()
        # The entries read at once (an iterator(): a chunk at a time), so that the claims their
        # flags name are asked in one statement, whether they name any or not; none if no entry
        # keeps a flag.
        size = self.chunk_size if self.chunked_fetch else None
        while entries := list(itertools.islice(rows, size)):
            flags = [entry.detail for entry in entries if entry.action in FLAG_IN_DETAIL and isinstance(entry.detail, dict)]
            visible = claim_numbers_visible_to(reader, related_numbers(flags)) if flags else frozenset()
            for entry in entries:
                yield entry_as_seen(entry, visible_claims=visible, as_provider=as_provider)
            if size is None:
                return


def entry_as_seen(entry: AuditEvent, *, visible_claims, as_provider: bool) -> AuditEvent:
    """The one shaping of a ledger entry for its reader, in place on the instance read: a flag it
    keeps (audit.actions.FLAG_IN_DETAIL) names only the claims ``visible_claims`` (numbers:
    claim_numbers_visible_to), the others counted (claims.eligibility.flag_as_seen); a provider's
    clerk (``as_provider``) reads the entries of audit.actions.PARTLY_SHOWN_TO_PROVIDER without
    their reason, the detail it is not shown, or the bytes that hold both. Shaped, an entry
    loses its payload (the bytes, which hold what was hidden)."""
    if entry.action in FLAG_IN_DETAIL and isinstance(entry.detail, dict):
        seen = flag_as_seen(entry.detail, visible_claims)
        if seen is not entry.detail:
            entry.detail, entry.payload = seen, ""
    shown = PARTLY_SHOWN_TO_PROVIDER.get(entry.action) if as_provider else None
    if shown is not None:
        entry.reason, entry.payload = (entry.reason if "reason" in shown else ""), ""
        entry.detail = {key: value for key, value in (entry.detail or {}).items() if key in shown}
    return entry


def claim_numbers_visible_to(user, numbers) -> frozenset[str]:
    """Which of these claim numbers (a flag's ``related``: claims.eligibility.related_numbers) name
    claims the user may see: one query, for no numbers too (a page costs the same statements
    whether its lines' flags name claims or not: tests/test_large_claims.py)."""
    numbers = set(numbers) or {""}  # no claim's number is empty: asked, and found in none
    return frozenset(claims_visible_to(user).filter(number__in=numbers).values_list("number", flat=True))


def ledger_history_of_claim(*, user, claim) -> QuerySet:
    """The entries of a claim the user may read (a claim or its id), oldest first."""
    claim_id = claim if isinstance(claim, int) else claim.pk
    return ledger_entries_visible_to(user).filter(claim_id=claim_id).order_by("seq")


def get_claim_for_user(*, user, claim_id, queryset=None) -> Claim:
    """The claim if the user may see it, else NotInScope (missing and out of scope alike).
    ``queryset``: what to read with it (a function of the scoped claims), instead of its relations."""
    claims = claims_visible_to(user)
    claims = queryset(claims) if queryset else claims.select_related("provider", "department", "policy", "jurisdiction")
    try:
        return claims.get(pk=claim_id)
    except (Claim.DoesNotExist, ValueError, TypeError):
        raise NotInScope() from None


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
