"""The money side (RULES.md §4): the segregated fund account of a jurisdiction and year, the
departments' filed plans and the allocations they become, payment batches sent to the bank,
the bank's results, and recoveries of money paid wrongly.

Amounts are Decimal with two places. Counters that guard money (an allocation's committed
amount) are changed only by conditional UPDATEs and are also bounded by CHECK constraints,
so two people acting at once can never over-commit, on PostgreSQL or SQLite."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from claims.models import ZERO, ClaimLine, Department, Jurisdiction, PolicyCategory, Provider, Trainee


class InFundAccountJurisdiction:
    """A record of a fund account: its ledger entries belong to the account's jurisdiction
    (audit.services._jurisdiction_reference reads ``ledger_jurisdiction_id``)."""

    @property
    def ledger_jurisdiction_id(self) -> int:
        return self.fund_account.jurisdiction_id


class FundAccount(models.Model):
    """职业技能提升行动专账: one per jurisdiction and budget year (M1)."""

    jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.PROTECT, related_name="fund_accounts", verbose_name=_("行政区")
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    name = models.CharField(_("账户名称"), max_length=200)
    bank_name = models.CharField(_("开户银行"), max_length=200)
    account_number = models.CharField(_("账号"), max_length=40)
    # The money placed in the account for the year; accepted allocations may not exceed it.
    budget = models.DecimalField(_("年度资金"), max_digits=14, decimal_places=2, default=ZERO)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("专账")
        verbose_name_plural = _("专账")
        ordering = ["jurisdiction", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["jurisdiction", "year"], name="one_fund_account_per_year"),
            models.CheckConstraint(condition=Q(budget__gte=0), name="fund_budget_not_negative"),
        ]

    def __str__(self):
        return f"{self.name} {self.year}"


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    FILED = "filed", _("已报备，待人社局确认")
    HR_ACCEPTED = "hr_accepted", _("人社局已确认，待财政确认")
    ACCEPTED = "accepted", _("已备案")
    REFUSED = "refused", _("退回")


class FundingPlan(InFundAccountJurisdiction, models.Model):
    """A department's annual training plan with its subsidy budget, filed with HR and finance (M2)."""

    fund_account = models.ForeignKey(FundAccount, on_delete=models.PROTECT, related_name="plans", verbose_name=_("专账"))
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="funding_plans", verbose_name=_("行业主管部门")
    )
    status = models.CharField(_("状态"), max_length=20, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    total = models.DecimalField(_("计划金额"), max_digits=14, decimal_places=2, default=ZERO)
    headcount = models.PositiveIntegerField(_("计划人数"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    filed_at = models.DateTimeField(null=True, blank=True)
    hr_accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hr_accepted_at = models.DateTimeField(null=True, blank=True)
    finance_accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    finance_accepted_at = models.DateTimeField(null=True, blank=True)
    refusal_reason = models.TextField(_("退回理由"), blank=True)

    class Meta:
        verbose_name = _("年度培训计划")
        verbose_name_plural = _("年度培训计划")
        ordering = ["fund_account", "department"]
        constraints = [models.UniqueConstraint(fields=["fund_account", "department"], name="one_plan_per_department_and_year")]

    def __str__(self):
        return f"{self.department} {self.fund_account.year}"


class PlanItem(models.Model):
    """Headcount and amount for one catalogue category of a plan."""

    plan = models.ForeignKey(FundingPlan, on_delete=models.CASCADE, related_name="items")
    category = models.CharField(_("类别"), max_length=30, choices=PolicyCategory.choices)
    headcount = models.PositiveIntegerField(_("人数"))
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["plan", "category"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "category"], name="one_item_per_category"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="plan_item_amount_not_negative"),
        ]


class Allocation(InFundAccountJurisdiction, models.Model):
    """The department's accepted plan amount for the year. ``committed`` is the money bound by
    approved lines (reserved, in a batch, at the bank, paid or returned), less what was recovered;
    approvals add to it only while it stays within ``amount``."""

    fund_account = models.ForeignKey(FundAccount, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("专账"))
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("行业主管部门")
    )
    plan = models.OneToOneField(FundingPlan, on_delete=models.PROTECT, related_name="allocation")
    amount = models.DecimalField(_("分配金额"), max_digits=14, decimal_places=2)
    committed = models.DecimalField(_("已占用"), max_digits=14, decimal_places=2, default=ZERO)

    class Meta:
        verbose_name = _("资金分配")
        verbose_name_plural = _("资金分配")
        ordering = ["fund_account", "department"]
        constraints = [
            models.UniqueConstraint(fields=["fund_account", "department"], name="one_allocation_per_department_and_year"),
            models.CheckConstraint(
                condition=Q(committed__gte=0) & Q(committed__lte=F("amount")), name="allocation_never_over_committed"
            ),
        ]

    def __str__(self):
        return f"{self.department} {self.fund_account.year}"


class PayeeAccount(models.Model):
    """Where a payee is paid: a provider's bank account, or a person's social security card
    account (M3). Account numbers are kept encrypted and shown masked; the bank file is the
    only place they appear in full."""

    provider = models.OneToOneField(Provider, null=True, blank=True, on_delete=models.PROTECT, related_name="payee_account")
    trainee = models.OneToOneField(Trainee, null=True, blank=True, on_delete=models.PROTECT, related_name="payee_account")
    # An enterprise paid under S10–S14, keyed by its unified social credit code (claims name it).
    enterprise_credit_code = models.CharField(_("企业统一社会信用代码"), max_length=18, null=True, blank=True, unique=True)
    account_name = models.CharField(_("户名"), max_length=200)
    bank_name = models.CharField(_("开户银行"), max_length=200)
    account_number_encrypted = models.TextField()
    account_number_masked = models.CharField(_("账号"), max_length=40)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("收款账户")
        verbose_name_plural = _("收款账户")
        constraints = [
            models.CheckConstraint(
                condition=(Q(provider__isnull=False) & Q(trainee__isnull=True) & Q(enterprise_credit_code__isnull=True))
                | (Q(provider__isnull=True) & Q(trainee__isnull=False) & Q(enterprise_credit_code__isnull=True))
                | (Q(provider__isnull=True) & Q(trainee__isnull=True) & Q(enterprise_credit_code__isnull=False)),
                name="payee_account_has_one_owner",
            ),
        ]

    def __str__(self):
        return f"{self.account_name} {self.account_number_masked}"

    @property
    def ledger_jurisdiction_id(self) -> int | None:
        """A provider's account is its jurisdiction's; a trainee's or an enterprise's belongs to none
        (a person or an enterprise may be paid in several jurisdictions)."""
        return self.provider.jurisdiction_id if self.provider_id else None


class BatchStatus(models.TextChoices):
    BUILT = "built", _("已生成，待复核发放")
    RELEASING = "releasing", _("发放中（生成银行文件）")
    RELEASED = "released", _("已发送银行")
    RECONCILED = "reconciled", _("已对账")
    CANCELLED = "cancelled", _("已作废")


class PaymentBatch(InFundAccountJurisdiction, models.Model):
    number = models.CharField(_("批次号"), max_length=40, unique=True)
    fund_account = models.ForeignKey(FundAccount, on_delete=models.PROTECT, related_name="batches", verbose_name=_("专账"))
    status = models.CharField(_("状态"), max_length=20, choices=BatchStatus.choices, default=BatchStatus.BUILT, db_index=True)
    total = models.DecimalField(_("金额合计"), max_digits=16, decimal_places=2, default=ZERO)
    line_count = models.PositiveIntegerField(_("明细行数"), default=0)
    payee_count = models.PositiveIntegerField(_("收款人数"), default=0)
    built_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    built_at = models.DateTimeField(auto_now_add=True)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    release_requested_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Approved lines left out when the batch was built, and why: [{"claim", "line", "reason"}].
    skipped = models.JSONField(default=list, blank=True)
    # A bank result moved lines at this moment: the claims it may end are ended by the worker
    # (workflow.disbursement.settle_batch), which clears it. A file of thousands of claims would
    # outlast a web request; a lost task is found again by the due-job sweep.
    settle_requested_at = models.DateTimeField(_("申领待办结（自）"), null=True, blank=True)
    # The worker settling the batch holds it until then (renewed with each chunk of claims); once
    # passed, the worker is taken for dead and the sweep hands the batch to another.
    settle_lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("拨付批次")
        verbose_name_plural = _("拨付批次")
        ordering = ["-id"]
        # The sweep's question (batches whose claims await settling): a few rows at any time.
        indexes = [
            models.Index(
                fields=["settle_requested_at"], condition=Q(settle_requested_at__isnull=False), name="batch_settle_requested"
            )
        ]

    def __str__(self):
        return self.number


class PayeeKind(models.TextChoices):
    PROVIDER = "provider", _("培训机构")
    TRAINEE = "trainee", _("个人（社会保障卡）")
    ENTERPRISE = "enterprise", _("企业")


class TransferStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送银行")
    PAID = "paid", _("已入账")
    RETURNED = "returned", _("退票")
    CANCELLED = "cancelled", _("已作废")


class Transfer(models.Model):
    """One row of the bank file: everything a batch pays one payee, in one transfer."""

    batch = models.ForeignKey(PaymentBatch, on_delete=models.PROTECT, related_name="transfers")
    seq = models.PositiveIntegerField(_("序号"))
    payee_kind = models.CharField(_("收款人类型"), max_length=20, choices=PayeeKind.choices)
    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    trainee = models.ForeignKey(Trainee, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    enterprise_credit_code = models.CharField(_("企业统一社会信用代码"), max_length=18, blank=True)
    # The account as it was when the batch was built (a later correction does not rewrite history).
    account_name = models.CharField(_("户名"), max_length=200)
    bank_name = models.CharField(_("开户银行"), max_length=200)
    account_number_encrypted = models.TextField()
    account_number_masked = models.CharField(_("账号"), max_length=40)
    # Who had set that account (PayeeAccount.updated_by): they may not release the batch (four eyes).
    account_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # When that account was set (PayeeAccount.updated_at): shown to the releaser when it is not
    # the account the payee was last paid into (selectors.batches.changed_accounts).
    account_set_at = models.DateTimeField(null=True, blank=True)
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2)
    status = models.CharField(_("状态"), max_length=20, choices=TransferStatus.choices, default=TransferStatus.PENDING)
    bank_reference = models.CharField(_("银行流水号"), max_length=60, blank=True)
    return_reason = models.CharField(_("退票原因"), max_length=200, blank=True)
    result_at = models.DateTimeField(null=True, blank=True)
    # The result file that stated the transfer's result: its uploader is who a claim's payment is
    # recorded as done by, when two files of one batch are settled together.
    result_file = models.ForeignKey("BankFile", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["batch", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "seq"], name="transfer_seq_per_batch"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="transfer_amount_positive"),
        ]

    def __str__(self):
        return f"{self.batch.number}#{self.seq}"


class BatchLineStatus(models.TextChoices):
    IN_BATCH = "in_batch", _("已编入批次")
    IN_PAYMENT = "in_payment", _("支付中")
    PAID = "paid", _("已拨付")
    RETURNED = "returned", _("退票")
    CANCELLED = "cancelled", _("批次作废")


LIVE_BATCH_LINE_STATUSES = (BatchLineStatus.IN_BATCH, BatchLineStatus.IN_PAYMENT, BatchLineStatus.PAID)


class BatchLine(models.Model):
    """A claim line paid by a transfer. A line has at most one live batch line (in a batch, at
    the bank or paid): the database refuses a second, so no line is ever paid twice."""

    batch = models.ForeignKey(PaymentBatch, on_delete=models.PROTECT, related_name="lines")
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="lines")
    claim_line = models.ForeignKey(ClaimLine, on_delete=models.PROTECT, related_name="batch_lines")
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    status = models.CharField(_("状态"), max_length=20, choices=BatchLineStatus.choices, default=BatchLineStatus.IN_BATCH)

    class Meta:
        ordering = ["batch", "transfer", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["claim_line"],
                condition=Q(status__in=LIVE_BATCH_LINE_STATUSES),
                name="one_live_payment_per_claim_line",
            ),
        ]


class BankFileKind(models.TextChoices):
    PAYMENT_CSV = "payment_csv", _("支付文件（CSV）")
    PAYMENT_XLSX = "payment_xlsx", _("支付文件（Excel）")
    RESULT = "result", _("银行回单文件")


class BankFile(models.Model):
    """A file exchanged with the bank, kept as sent or received, with its SHA-256."""

    batch = models.ForeignKey(PaymentBatch, on_delete=models.PROTECT, related_name="files")
    kind = models.CharField(max_length=20, choices=BankFileKind.choices)
    filename = models.CharField(max_length=200)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "kind"],
                condition=Q(kind__in=["payment_csv", "payment_xlsx"]),
                name="one_payment_file_of_each_kind_per_batch",
            ),
        ]


class RecoveryReason(models.TextChoices):
    FRAUD = "fraud", _("虚假培训、套取骗取")
    REVOKED = "revoked", _("证书被撤销")
    OVERPAID = "overpaid", _("多付、错付")
    OTHER = "other", _("其他")


class RecoveryStatus(models.TextChoices):
    OPEN = "open", _("追回中")
    RECOVERED = "recovered", _("已追回")


class RecoveryOrder(models.Model):
    """追回: HR orders money paid on a line to be returned; finance records what comes back."""

    claim_line = models.ForeignKey(ClaimLine, on_delete=models.PROTECT, related_name="recovery_orders")
    amount_due = models.DecimalField(_("应追回金额"), max_digits=12, decimal_places=2)
    amount_recovered = models.DecimalField(_("已追回金额"), max_digits=12, decimal_places=2, default=ZERO)
    payer_kind = models.CharField(_("退款人类型"), max_length=20, choices=PayeeKind.choices)
    payer_name = models.CharField(_("退款人"), max_length=200)
    reason_code = models.CharField(_("追回原因"), max_length=20, choices=RecoveryReason.choices)
    reason = models.TextField(_("情况说明"))
    status = models.CharField(_("状态"), max_length=20, choices=RecoveryStatus.choices, default=RecoveryStatus.OPEN)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("追回单")
        verbose_name_plural = _("追回单")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_due__gt=0) & Q(amount_recovered__gte=0) & Q(amount_recovered__lte=F("amount_due")),
                name="recovery_within_amount_due",
            ),
        ]


class RecoveryReceipt(models.Model):
    """Money that came back on an order, named by the bank's voucher (缴款凭证号): one payment
    into the treasury, so one receipt of the jurisdiction; recorded again (a double click, a
    retried POST, two officers working from one bank statement) it would be counted twice."""

    order = models.ForeignKey(RecoveryOrder, on_delete=models.PROTECT, related_name="receipts")
    # The order's claim's: a copy, for the uniqueness of the voucher within the jurisdiction.
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="+", editable=False)
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    received_on = models.DateField(_("到账日期"))
    reference = models.CharField(_("缴款凭证号"), max_length=60)
    # The voucher number as compared (claims.validators.number_key: "缴-2026-0001" and
    # "缴２０２６０００１" are one voucher). Null only on a receipt recorded again before the key
    # existed (migration 0006): kept as counted, and no key of its own.
    reference_key = models.CharField(max_length=120, null=True, editable=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="receipt_amount_positive"),
            models.UniqueConstraint(fields=["jurisdiction", "reference_key"], name="one_receipt_per_voucher"),
        ]
