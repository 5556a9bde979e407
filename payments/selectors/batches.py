"""Reads of payment batches and of what awaits payment, scoped to what the user may see.

Finance officers and auditors read the batches of the jurisdictions they oversee; nobody else
sees any (out of scope = 404). Every read here is a fixed number of queries whatever the size of
the batch: the lines and payees of a batch are read a page at a time, as flat rows."""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from claims.errors import NotInScope
from claims.keyset import BadCursor, keyset_page
from claims.models import Claim, ClaimLine, ClaimStatus, LineDecision, Payee, PaymentStatus, Provider, Trainee
from claims.personal_data import decrypt_id_number
from claims.selectors import jurisdictions_overseen_by
from claims.validators import name_key

from .. import access
from ..models import ZERO, BankFile, BatchLine, BatchStatus, PayeeAccount, PayeeKind, PaymentBatch, Transfer, TransferStatus

MAX_ID = 2**63 - 1  # the largest primary key the database holds; a larger id names nothing

LINE_FIELDS = (
    "id",
    "amount",
    "status",
    "claim_line_id",
    "claim_line__claim_id",
    "claim_line__claim__number",
    "claim_line__line_no",
    "claim_line__payment_status",
    "transfer_id",
    "transfer__seq",
    "transfer__payee_kind",
    "transfer__account_name",
    "transfer__account_number_masked",
    "transfer__bank_name",
)
TRANSFER_FIELDS = (
    "id",
    "seq",
    "payee_kind",
    "account_name",
    "bank_name",
    "account_number_masked",
    "amount",
    "status",
    "bank_reference",
    "return_reason",
)


def batches_visible_to(user) -> QuerySet:
    if not user.is_authenticated or not access.may(user, access.READ_BATCHES):
        return PaymentBatch.objects.none()
    return PaymentBatch.objects.filter(
        fund_account__jurisdiction__in=jurisdictions_overseen_by(user).values("pk")
    ).select_related("fund_account__jurisdiction", "built_by", "released_by", "cancelled_by")


def batches_awaiting_release(user) -> list[PaymentBatch]:
    """Built batches waiting for their release (oldest first), each marked whether this officer
    may release it or, having built it, waits for another (four eyes): finance's desk."""
    batches = list(batches_visible_to(user).filter(status=BatchStatus.BUILT).order_by("built_at", "pk")[:100])
    for batch in batches:
        batch.may_release = access.may_release_batch(user, batch)
        batch.waits_for_another = access.waits_for_another_releaser(user, batch)
    return batches


def get_batch_for_user(*, user, batch_id) -> PaymentBatch:
    try:
        return batches_visible_to(user).get(pk=batch_id)
    except (PaymentBatch.DoesNotExist, ValueError, TypeError):
        raise NotInScope() from None


def batch_lines(batch: PaymentBatch) -> QuerySet:
    """The batch's lines as flat rows (one query per page), in file order."""
    return (
        BatchLine.objects.filter(batch=batch)
        .order_by("transfer__seq", "claim_line__claim_id", "claim_line__line_no", "id")
        .values(*LINE_FIELDS)
    )


def batch_transfers(batch: PaymentBatch) -> QuerySet:
    return (
        Transfer.objects.filter(batch=batch)
        .annotate(line_count=Count("lines"))
        .order_by("seq")
        .values(*TRANSFER_FIELDS, "line_count")
    )


def batch_files(batch: PaymentBatch) -> list[BankFile]:
    """The files of a batch without their content."""
    return list(BankFile.objects.filter(batch=batch).defer("content").order_by("id"))


def get_batch_file(*, batch: PaymentBatch, kind: str) -> BankFile:
    found = BankFile.objects.filter(batch=batch, kind=kind).order_by("-id").first()
    if found is None:
        raise NotInScope()
    return found


# --------------------------------------------------------------------------- awaiting payment


def awaiting_lines(user) -> QuerySet:
    """Approved lines reserved against this year's fund account and not yet in a batch, in the user's
    jurisdictions: what a build (which takes this year's account unless told otherwise) would take."""
    if not access.may(user, access.READ_BATCHES):
        return ClaimLine.objects.none()
    return ClaimLine.objects.filter(
        claim__jurisdiction__in=jurisdictions_overseen_by(user).values("pk"),
        payment_status=PaymentStatus.RESERVED,
        allocation__fund_account__year=timezone.localdate().year,
        decision=LineDecision.APPROVE,
        amount__gt=0,
        claim__status__in=(ClaimStatus.APPROVED, ClaimStatus.IN_PAYMENT),
    )


TO_PERSON = Q(claim__policy__payee=Payee.TRAINEE)
TO_ENTERPRISE = Q(claim__policy__payee=Payee.ENTERPRISE)  # the enterprise the claim names (S10–S14)
TO_PROVIDER = ~TO_PERSON & ~TO_ENTERPRISE
ENTERPRISE_HAS_ACCOUNT = Exists(PayeeAccount.objects.filter(enterprise_credit_code=OuterRef("claim__enterprise_credit_code")))
NO_ACCOUNT = (
    (TO_PERSON & Q(trainee__payee_account__isnull=True))
    | (TO_ENTERPRISE & ~Q(ENTERPRISE_HAS_ACCOUNT))
    | (TO_PROVIDER & Q(claim__provider__payee_account__isnull=True))
)


def awaiting_summary(user) -> dict:
    """How much awaits a batch: lines, claims, amount, payees (providers and persons), and how much of it
    cannot be paid yet for want of a payee account. One query."""
    figures = awaiting_lines(user).aggregate(
        line_total=Count("pk"),
        claims=Count("claim_id", distinct=True),
        sum_amount=Coalesce(Sum("amount"), ZERO),
        providers=Count("claim__provider_id", distinct=True, filter=TO_PROVIDER),
        persons=Count("trainee_id", distinct=True, filter=TO_PERSON),
        enterprises=Count("claim__enterprise_credit_code", distinct=True, filter=TO_ENTERPRISE),
        missing_lines=Count("pk", filter=NO_ACCOUNT),
        sum_missing=Coalesce(Sum("amount", filter=NO_ACCOUNT), ZERO),
    )
    cents = Decimal("0.01")
    figures["lines"], figures["amount"], figures["missing_amount"] = (
        figures.pop("line_total"),
        Decimal(figures.pop("sum_amount")).quantize(cents),
        Decimal(figures.pop("sum_missing")).quantize(cents),
    )
    figures["payees"] = figures["providers"] + figures["persons"] + figures["enterprises"]
    return figures


def awaiting_claims(user) -> QuerySet:
    """Claims with lines awaiting a batch, one row each with its awaiting lines and amount."""
    return (
        awaiting_lines(user)
        .order_by("claim_id")
        .values(
            "claim_id",
            "claim__number",
            "claim__provider__name",
            "claim__department__name",
            "claim__policy__code",
            "claim__policy__payee",
        )
        .annotate(line_count=Count("pk"), awaiting_amount=Sum("amount"), missing=Count("pk", filter=NO_ACCOUNT))
    )


# The order of what awaits payment on the desk and the build page, and its keyset.
AWAITING_ORDER = ("claim_id",)
MISSING_ORDER = ("claim_id", "line_no")


def awaiting_page(user, cursor: str | None, page_size: int) -> dict:
    """What finance's desk and the build page show: the awaiting figures and a page of awaiting
    claims after ``cursor`` (keyset, claims.keyset; a bad cursor starts again), its count bounded."""
    claims = awaiting_claims(user)
    counted = awaiting_lines(user).values("claim_id").distinct()
    try:
        page = keyset_page(claims, order=AWAITING_ORDER, cursor=cursor, size=page_size, counted=counted)
    except BadCursor:
        page = keyset_page(claims, order=AWAITING_ORDER, cursor=None, size=page_size, counted=counted)
    for row in page.items:
        row["to_person"] = row["claim__policy__payee"] == Payee.TRAINEE
        row["to_enterprise"] = row["claim__policy__payee"] == Payee.ENTERPRISE
    return {"summary": awaiting_summary(user), "claims": page}


def missing_accounts_page(user, cursor: str | None, page_size: int):
    """A page of lines_without_payee_account after ``cursor`` (keyset; a bad cursor starts again)."""
    lines = lines_without_payee_account(user)
    try:
        page = keyset_page(lines, order=MISSING_ORDER, cursor=cursor, size=page_size, counted=lines.values("pk"))
    except BadCursor:
        page = keyset_page(lines, order=MISSING_ORDER, cursor=None, size=page_size, counted=lines.values("pk"))
    for row in page.items:
        row["to_person"] = row["claim__policy__payee"] == Payee.TRAINEE
        row["to_enterprise"] = row["claim__policy__payee"] == Payee.ENTERPRISE
    return page


def lines_without_payee_account(user) -> QuerySet:
    """Lines awaiting payment that no batch can take: their payee (the person, or the provider) has no account."""
    return (
        awaiting_lines(user)
        .filter(NO_ACCOUNT)
        .order_by("claim_id", "line_no")
        .values(
            "pk",
            "claim_id",
            "claim__number",
            "line_no",
            "amount",
            "claim__policy__payee",
            "trainee_id",
            "name",
            "trainee__id_number_masked",
            "claim__provider_id",
            "claim__provider__code",
            "claim__provider__name",
            "claim__enterprise_name",
            "claim__enterprise_credit_code",
        )
    )


# --------------------------------------------------------------------------- payees


def trainee_for_payee_account(*, user, trainee_id) -> Trainee:
    """A person whose account finance may see and set: one with a line in a submitted claim of its
    jurisdictions; ``line_name``: the name on the latest of those lines (not the person's record,
    which keeps no name: each line keeps the name its provider typed)."""
    if not access.may(user, access.SET_PAYEE_ACCOUNTS):
        raise NotInScope()
    overseen = jurisdictions_overseen_by(user).values("pk")
    lines = ClaimLine.objects.filter(claim__jurisdiction__in=overseen).exclude(claim__status=ClaimStatus.DRAFT)
    latest_name = lines.filter(trainee_id=OuterRef("pk")).order_by("-pk").values("name")[:1]
    try:
        return (
            Trainee.objects.select_related("payee_account")
            .annotate(line_name=Subquery(latest_name))
            .get(pk=trainee_id, pk__in=lines.values("trainee_id"))
        )
    except (Trainee.DoesNotExist, ValueError, TypeError):
        raise NotInScope() from None


def provider_for_payee_account(*, user, code) -> Provider:
    from claims.selectors import providers_of_clerk

    overseen = jurisdictions_overseen_by(user).values("pk") if access.may(user, access.SET_PAYEE_ACCOUNTS) else []
    found = Provider.objects.filter(
        Q(pk__in=providers_of_clerk(user).values("pk")) | Q(jurisdiction__in=overseen), code=str(code)
    )
    provider = found.select_related("payee_account").first()
    if provider is None:
        raise NotInScope()
    return provider


@dataclass(frozen=True)
class EnterprisePayee:
    """An enterprise paid under S10–S14, as the claims name it (keyed by its credit code)."""

    credit_code: str
    name: str
    payee_account: PayeeAccount | None


def enterprise_for_payee_account(*, user, credit_code) -> EnterprisePayee:
    """An enterprise whose account finance may see and set: one a submitted claim of its jurisdictions names."""
    if not access.may(user, access.SET_PAYEE_ACCOUNTS):
        raise NotInScope()
    credit_code = str(credit_code or "").strip().upper()
    claim = (
        Claim.objects.filter(
            jurisdiction__in=jurisdictions_overseen_by(user).values("pk"), enterprise_credit_code=credit_code or None
        )
        .exclude(status=ClaimStatus.DRAFT)
        .order_by("-pk")
        .values("enterprise_name")
        .first()
    )
    if claim is None:
        raise NotInScope()
    return EnterprisePayee(
        credit_code=credit_code,
        name=claim["enterprise_name"],
        payee_account=PayeeAccount.objects.filter(enterprise_credit_code=credit_code).first(),
    )


def payee_account_of(owner):
    try:
        return owner.payee_account
    except ObjectDoesNotExist:  # RelatedObjectDoesNotExist: no account yet
        return None


def payment_checksum(batch: PaymentBatch) -> str | None:
    """The SHA-256 the payment file's trailer states (over its detail rows), once the batch is released."""
    from ..models import BankFileKind

    content = BankFile.objects.filter(batch=batch, kind=BankFileKind.PAYMENT_CSV).values_list("content", flat=True).first()
    if content is None:
        return None
    last = bytes(content).decode("utf-8-sig").rstrip("\r\n").rsplit("\n", 1)[-1]
    return last.rsplit("SHA256:", 1)[-1].strip() if "SHA256:" in last else None


def changed_accounts(batch: PaymentBatch) -> list[dict]:
    """The batch's transfers that pay an account other than the one their payee was last paid into
    (the latest transfer of an earlier batch the bank paid), with who set the account and when:
    what the second pair of eyes looks at before releasing (a provider's clerk sets its account
    alone; finance of another jurisdiction may set a person's card). A payee never paid before is
    not listed: there is no account to compare with. Numbers are compared, not their ciphertexts
    (a key rotation re-encrypts), and names by ``name_key``. Two queries, whatever the batch."""
    earlier_paid = (
        Transfer.objects.filter(status=TransferStatus.PAID, batch_id__lt=OuterRef("batch_id"), payee_kind=OuterRef("payee_kind"))
        .filter(
            Q(provider_id=OuterRef("provider_id"))
            | Q(trainee_id=OuterRef("trainee_id"))
            | Q(payee_kind=PayeeKind.ENTERPRISE, enterprise_credit_code=OuterRef("enterprise_credit_code"))
        )
        .order_by("-result_at", "-pk")
    )
    username = f"account_set_by__{get_user_model().USERNAME_FIELD}"
    candidates = list(
        Transfer.objects.filter(batch=batch)
        .annotate(
            previous_id=Subquery(earlier_paid.values("pk")[:1]),
            previous_cipher=Subquery(earlier_paid.values("account_number_encrypted")[:1]),
            previous_name=Subquery(earlier_paid.values("account_name")[:1]),
        )
        .filter(previous_id__isnull=False)
        .exclude(account_number_encrypted=F("previous_cipher"), account_name=F("previous_name"))
        .order_by("seq")
        .values(
            "seq",
            "payee_kind",
            "account_name",
            "bank_name",
            "account_number_masked",
            "account_number_encrypted",
            "account_set_at",
            "previous_id",
            username,
        )
    )
    previous = {
        row["pk"]: row
        for row in Transfer.objects.filter(pk__in=[row["previous_id"] for row in candidates]).values(
            "pk", "account_name", "bank_name", "account_number_masked", "account_number_encrypted", "result_at", "batch__number"
        )
    }
    changed = []
    for row in candidates:
        before = previous[row["previous_id"]]
        same_number = row["account_number_encrypted"] == before["account_number_encrypted"] or decrypt_id_number(
            row["account_number_encrypted"]
        ) == decrypt_id_number(before["account_number_encrypted"])
        if same_number and name_key(row["account_name"]) == name_key(before["account_name"]):
            continue
        changed.append(
            {
                "seq": row["seq"],
                "payee_kind": row["payee_kind"],
                "account_name": row["account_name"],
                "bank_name": row["bank_name"],
                "account_number": row["account_number_masked"],
                "previous_account_name": before["account_name"],
                "previous_bank_name": before["bank_name"],
                "previous_account_number": before["account_number_masked"],
                "previous_batch": before["batch__number"],
                "previously_paid_at": before["result_at"],
                "set_by": row[username],
                "set_at": row["account_set_at"],
            }
        )
    return changed
