"""Who may act on the money: the one place that answers it for payments.

A capability is a named action; ``CAPABILITIES`` says which role groups (claims.roles) hold
it, ``REFUSALS`` what a refused user is told (ActionForbidden, 403 "role"). ``may`` answers for
the role alone (what a page offers, what the API lets through); the services also need the
object in the user's scope (``require_in``: the jurisdiction overseen; ``require_for_department``:
the department reviewed) and, for some actions, a second person (four eyes: a batch is released
by another officer than its builder; an order's receipts are recorded by another than its opener).

The pages, the API, the selectors and the services ask here; none tests role groups itself."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from claims import roles
from claims.access import holds_any, roles_held
from claims.errors import ActionForbidden
from claims.models import Claim, ClaimLine, ClaimStatus, Department, Jurisdiction, Payee, PaymentStatus, Provider, Trainee
from claims.selectors import departments_of_reviewer, jurisdictions_overseen_by, providers_of_clerk

from .models import BatchStatus, FundingPlan, PaymentBatch, PlanStatus, RecoveryOrder, RecoveryStatus

FINANCE = (roles.FINANCE_OFFICER,)
HR = (roles.HR_REVIEWER, roles.HR_HEAD)
AUDIT = (roles.AUDITOR,)

# Payment batches
READ_BATCHES = "read_batches"
BUILD_BATCHES = "build_batches"
RELEASE_BATCHES = "release_batches"
CANCEL_BATCHES = "cancel_batches"
DOWNLOAD_BANK_FILES = "download_bank_files"
SET_PAYEE_ACCOUNTS = "set_payee_accounts"
# The bank's results, returns and recoveries
READ_PAYMENT_RESULTS = "read_payment_results"
UPLOAD_BANK_RESULTS = "upload_bank_results"
CORRECT_RETURNED_PAYEES = "correct_returned_payees"
CANCEL_LINE_PAYMENTS = "cancel_line_payments"
OPEN_RECOVERIES = "open_recoveries"
RECORD_RECOVERY_RECEIPTS = "record_recovery_receipts"
# Funds: accounts, plans, the report
READ_FUND_REPORTS = "read_fund_reports"
OPEN_FUND_ACCOUNTS = "open_fund_accounts"
DRAFT_PLANS = "draft_plans"
FILE_PLANS = "file_plans"
HR_ACCEPT_PLANS = "hr_accept_plans"
FINANCE_ACCEPT_PLANS = "finance_accept_plans"

# Capability → the roles that hold it.
CAPABILITIES: dict[str, tuple[str, ...]] = {
    # The batches of one's jurisdictions, what awaits a batch, finance's desk.
    READ_BATCHES: FINANCE + AUDIT,
    # Build a batch from the approved lines awaiting payment.
    BUILD_BATCHES: FINANCE,
    # Check and release a built batch: another officer than its builder (may_release_batch).
    RELEASE_BATCHES: FINANCE,
    # Withdraw a batch not yet released.
    CANCEL_BATCHES: FINANCE,
    # Take a released batch's bank files (full account numbers).
    DOWNLOAD_BANK_FILES: FINANCE,
    # See and set where a person or a provider is paid (a provider's clerk sets its own: may_set_payee_account).
    SET_PAYEE_ACCOUNTS: FINANCE,
    # A batch's reconciliation, the returned transfers, recovery orders, a submitted claim's lines for either.
    READ_PAYMENT_RESULTS: FINANCE + HR + AUDIT,
    # Apply the bank's result file to a released batch.
    UPLOAD_BANK_RESULTS: FINANCE,
    # Correct the account of a payee whose transfer the bank returned.
    CORRECT_RETURNED_PAYEES: FINANCE,
    # Finally not pay an approved line awaiting a batch, or returned.
    CANCEL_LINE_PAYMENTS: HR,
    # Open a recovery order (追回) on a paid line.
    OPEN_RECOVERIES: HR,
    # Record money recovered on an order: another person than its opener (may_record_receipt).
    RECORD_RECOVERY_RECEIPTS: FINANCE,
    # The funds pages and the funds report (each sees the accounts of its scope).
    READ_FUND_REPORTS: FINANCE + HR + AUDIT + (roles.DEPARTMENT_REVIEWER,),
    # Open the year's fund account (专账).
    OPEN_FUND_ACCOUNTS: FINANCE,
    # Draft or redraft one's department's annual plan, while draft or refused.
    DRAFT_PLANS: (roles.DEPARTMENT_REVIEWER,),
    # File a drafted plan.
    FILE_PLANS: (roles.DEPARTMENT_REVIEWER,),
    # Accept (or refuse) a filed plan.
    HR_ACCEPT_PLANS: HR,
    # Accept (or refuse) a plan HR accepted: it becomes the department's allocation.
    FINANCE_ACCEPT_PLANS: FINANCE,
}

_FINANCE_ONLY = gettext_lazy("只有本地区财政部门经办人可以办理。")
_HR_ONLY = gettext_lazy("只有本地区人社局审核人或负责人可以办理。")
_DEPARTMENT_ONLY = gettext_lazy("只有本部门审核人可以办理。")

# Capability → what a refused user is told.
REFUSALS = {
    READ_BATCHES: gettext_lazy("只有财政部门经办人和审计人员可以查看拨付批次。"),
    BUILD_BATCHES: _FINANCE_ONLY,
    RELEASE_BATCHES: _FINANCE_ONLY,
    CANCEL_BATCHES: _FINANCE_ONLY,
    DOWNLOAD_BANK_FILES: _FINANCE_ONLY,
    SET_PAYEE_ACCOUNTS: _FINANCE_ONLY,
    READ_PAYMENT_RESULTS: gettext_lazy("您的角色不能执行此操作。"),
    UPLOAD_BANK_RESULTS: _FINANCE_ONLY,
    CORRECT_RETURNED_PAYEES: _FINANCE_ONLY,
    CANCEL_LINE_PAYMENTS: _HR_ONLY,
    OPEN_RECOVERIES: _HR_ONLY,
    RECORD_RECOVERY_RECEIPTS: _FINANCE_ONLY,
    READ_FUND_REPORTS: gettext_lazy("您的角色不能查看资金报表。"),
    OPEN_FUND_ACCOUNTS: _FINANCE_ONLY,
    DRAFT_PLANS: _DEPARTMENT_ONLY,
    FILE_PLANS: _DEPARTMENT_ONLY,
    HR_ACCEPT_PLANS: _HR_ONLY,
    FINANCE_ACCEPT_PLANS: _FINANCE_ONLY,
}


# --------------------------------------------------------------------------- capabilities


def may(user, capability: str) -> bool:
    """The user's roles grant the capability (an unknown name is a KeyError, never a silent no)."""
    return holds_any(user, CAPABILITIES[capability])


def _refuse(capability: str) -> ActionForbidden:
    return ActionForbidden(str(REFUSALS[capability]), code="role")


def require(user, capability: str) -> None:
    """The role alone (403 "role" otherwise): the API's and the reports' check."""
    if not may(user, capability):
        raise _refuse(capability)


def capabilities_of(user) -> frozenset[str]:
    """Every capability of this module the user holds (one query)."""
    held = roles_held(user)
    return frozenset(name for name, allowed in CAPABILITIES.items() if held & set(allowed))


# --------------------------------------------------------------------------- in scope


def oversees(user, jurisdiction: Jurisdiction) -> bool:
    return jurisdictions_overseen_by(user).filter(pk=jurisdiction.pk).exists()


def require_in(user, capability: str, jurisdiction: Jurisdiction) -> None:
    """The capability, held by staff of the jurisdiction (the services' check)."""
    if not (may(user, capability) and oversees(user, jurisdiction)):
        raise _refuse(capability)


def require_for_department(user, capability: str, department: Department) -> None:
    """The capability, held by a reviewer of the department."""
    if not (may(user, capability) and departments_of_reviewer(user).filter(pk=department.pk).exists()):
        raise _refuse(capability)


# --------------------------------------------------------------------------- batches


def may_build_batches(user) -> bool:
    """What the batch list offers: finance staff of at least one jurisdiction."""
    return may(user, BUILD_BATCHES) and jurisdictions_overseen_by(user).exists()


def may_release_batch(user, batch: PaymentBatch) -> bool:
    return batch.status == BatchStatus.BUILT and may(user, RELEASE_BATCHES) and batch.built_by_id != user.pk


def waits_for_another_releaser(user, batch: PaymentBatch) -> bool:
    """The officer who built the batch: its release is for another (four eyes)."""
    return batch.status == BatchStatus.BUILT and may(user, RELEASE_BATCHES) and batch.built_by_id == user.pk


def require_not_builder(user, batch: PaymentBatch) -> None:
    if batch.built_by_id == user.pk:
        raise ActionForbidden(_("复核发放须由生成批次以外的另一名财政经办人办理。"), code="four_eyes")


def require_not_account_setter(user, batch: PaymentBatch) -> None:
    """Whoever set a payee's account (entered or corrected it) does not also release the money to
    it: one person alone would decide where the money goes and send it there."""
    seqs = list(batch.transfers.filter(account_set_by=user).order_by("seq").values_list("seq", flat=True)[:10])
    if seqs:
        raise ActionForbidden(
            _("双人复核：本批次第 %(seqs)s 笔的收款账户由您设置，须由另一名财政经办人复核发放。")
            % {"seqs": "、".join(str(seq) for seq in seqs)},
            code="four_eyes",
        )


def may_cancel_batch(user, batch: PaymentBatch) -> bool:
    return batch.status == BatchStatus.BUILT and may(user, CANCEL_BATCHES)


def may_download_bank_files(user, batch: PaymentBatch) -> bool:
    return batch.status in (BatchStatus.RELEASED, BatchStatus.RECONCILED) and may(user, DOWNLOAD_BANK_FILES)


def may_set_payee_account(
    user, *, provider: Provider | None = None, trainee: Trainee | None = None, enterprise_credit_code: str | None = None
) -> bool:
    """A provider's account: its clerks, or finance of its jurisdiction. A person's: finance of a
    jurisdiction where the person has a line in a claim out of draft. An enterprise's: finance of
    a jurisdiction where a claim out of draft names it. (A draft is a clerk's typing, not a claim:
    typing a person's ID number into one gives that jurisdiction's finance no hold on their card.)"""
    overseen = jurisdictions_overseen_by(user)
    if enterprise_credit_code is not None:
        claims = Claim.objects.filter(enterprise_credit_code=enterprise_credit_code).exclude(status=ClaimStatus.DRAFT)
        return may(user, SET_PAYEE_ACCOUNTS) and overseen.filter(pk__in=claims.values("jurisdiction")).exists()
    if provider is not None:
        if providers_of_clerk(user).filter(pk=provider.pk).exists():
            return True
        return may(user, SET_PAYEE_ACCOUNTS) and overseen.filter(pk=provider.jurisdiction_id).exists()
    lines = trainee.claim_lines.exclude(claim__status=ClaimStatus.DRAFT)
    return may(user, SET_PAYEE_ACCOUNTS) and overseen.filter(pk__in=lines.values("claim__jurisdiction")).exists()


def require_may_set_payee_account(
    user, *, provider: Provider | None = None, trainee: Trainee | None = None, enterprise_credit_code: str | None = None
) -> None:
    if not may_set_payee_account(user, provider=provider, trainee=trainee, enterprise_credit_code=enterprise_credit_code):
        raise ActionForbidden(_("您不能修改该收款账户。"), code="role")


def jurisdictions_awaiting_payment_to(*, trainee: Trainee | None = None, enterprise_credit_code: str | None = None):
    """The jurisdictions with approved lines waiting for a batch that will pay this person's card
    (or this enterprise's account): a batch pays the account as it is when built."""
    if trainee is not None:
        lines = ClaimLine.objects.filter(trainee=trainee, claim__policy__payee=Payee.TRAINEE)
    else:
        lines = ClaimLine.objects.filter(
            claim__enterprise_credit_code=enterprise_credit_code, claim__policy__payee=Payee.ENTERPRISE
        )
    lines = lines.filter(payment_status=PaymentStatus.RESERVED)
    return Jurisdiction.objects.filter(pk__in=lines.values("claim__jurisdiction")).order_by("code")


def require_not_redirecting_elsewhere(
    user, *, provider: Provider | None = None, trainee: Trainee | None = None, enterprise_credit_code: str | None = None
) -> None:
    """A person's card account (an enterprise's account) is one, whichever jurisdictions pay it,
    and finance of each of them may set it. Changing it is refused while another jurisdiction,
    one the user does not oversee, has approved money waiting to be paid into it: finance of one
    jurisdiction does not decide where another's money goes, unseen by the other's officers (whose
    four-eyes rule knows only their own people). Once that money is in a batch (which keeps the
    account it was built with) the change may be made. A provider's account is its jurisdiction's."""
    if provider is not None:
        return
    elsewhere = jurisdictions_awaiting_payment_to(trainee=trainee, enterprise_credit_code=enterprise_credit_code).exclude(
        pk__in=jurisdictions_overseen_by(user).values("pk")
    )
    names = list(elsewhere.values_list("name", flat=True)[:5])
    if names:
        raise ActionForbidden(
            _(
                "%(jurisdictions)s有已核准待拨付给该收款人的款项，将付入现有账户：请由该地区财政经办人修改，"
                "或待其编入拨付批次后再修改。"
            )
            % {"jurisdictions": "、".join(names)},
            code="scope",
        )


# --------------------------------------------------------------------------- recoveries


def may_record_receipt(user, order: RecoveryOrder) -> bool:
    return order.status == RecoveryStatus.OPEN and may(user, RECORD_RECOVERY_RECEIPTS) and order.opened_by_id != user.pk


def require_not_opener(user, order: RecoveryOrder) -> None:
    if user.pk == order.opened_by_id:
        raise ActionForbidden(_("开具追回单的人不能登记该单的到账。"), code="segregation")


# --------------------------------------------------------------------------- plans


def may_edit_plan(user, plan: FundingPlan) -> bool:
    return may(user, DRAFT_PLANS) and plan.status in (PlanStatus.DRAFT, PlanStatus.REFUSED)


def may_file_plan(user, plan: FundingPlan) -> bool:
    return may(user, FILE_PLANS) and plan.status == PlanStatus.DRAFT


def acceptance_of(plan: FundingPlan) -> str | None:
    """The capability the plan's state calls for next: HR's acceptance of a filed plan, finance's
    of an HR-accepted one; None once accepted (or while a draft, or refused)."""
    return {PlanStatus.FILED: HR_ACCEPT_PLANS, PlanStatus.HR_ACCEPTED: FINANCE_ACCEPT_PLANS}.get(plan.status)


def may_accept_plan(user, plan: FundingPlan) -> bool:
    capability = acceptance_of(plan)
    return capability is not None and may(user, capability) and user.pk not in earlier_hands(plan)


def earlier_hands(plan: FundingPlan) -> set:
    """Who acted at the plan's earlier stages: its filer, and once HR accepted it, HR's acceptor.
    Segregation of duties (N4): one person acts at one stage of a plan, whatever roles they hold."""
    hands = {plan.filed_by_id}
    if plan.status == PlanStatus.HR_ACCEPTED:
        hands.add(plan.hr_accepted_by_id)
    return hands - {None}


def require_not_earlier_hand(user, plan: FundingPlan) -> None:
    """Accepting or refusing a plan: not by a person who filed or accepted it at an earlier stage."""
    if user.pk in earlier_hands(plan):
        raise ActionForbidden(
            _("职责分离：您已办理过本计划的上一环节（报备或人社局受理），不能再受理或退回它。"), code="segregation_of_duties"
        )


def may_decide_plans(user) -> bool:
    """HR or finance: those who accept or refuse plans at one stage or the other."""
    return may(user, HR_ACCEPT_PLANS) or may(user, FINANCE_ACCEPT_PLANS)
