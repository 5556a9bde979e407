from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from .languages import in_active_language
from .validators import validate_credit_code

ZERO = Decimal("0.00")


class Level(models.TextChoices):
    """The eight-level skills ladder (RULES.md E10), lowest first."""

    APPRENTICE = "apprentice", _("学徒工")
    JUNIOR = "junior", _("初级工")
    INTERMEDIATE = "intermediate", _("中级工")
    SENIOR = "senior", _("高级工")
    TECHNICIAN = "technician", _("技师")
    SENIOR_TECHNICIAN = "senior_technician", _("高级技师")
    PRINCIPAL_TECHNICIAN = "principal_technician", _("特级技师")
    CHIEF_TECHNICIAN = "chief_technician", _("首席技师")


class CertificateType(models.TextChoices):
    QUALIFICATION = "qualification", _("职业资格证书")
    SKILL_LEVEL = "skill_level", _("职业技能等级证书")
    SPECIAL_ABILITY = "special_ability", _("专项职业能力证书")
    SPECIAL_OPERATION = "special_operation", _("特种作业操作证书")
    TRAINING = "training", _("培训合格证书")


class ClaimStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    DEPARTMENT_REVIEW = "department_review", _("行业部门审核")
    HR_REVIEW = "hr_review", _("人社局审核")
    HR_HEAD_APPROVAL = "hr_head_approval", _("人社局负责人审批")
    # 公示 (RULES.md N5): finally approved, its approved lines published for objections before finance pays.
    PUBLIC_NOTICE = "public_notice", _("公示中")
    APPROVED = "approved", _("已核准，待拨付")
    IN_PAYMENT = "in_payment", _("支付中")
    PAID = "paid", _("已拨付")
    RETURNED = "returned", _("退回修改")
    REJECTED = "rejected", _("不予补贴")
    WITHDRAWN = "withdrawn", _("已撤回")


class LineDecision(models.TextChoices):
    PENDING = "pending", _("待审核")
    APPROVE = "approve", _("同意")
    REJECT = "reject", _("不同意")


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", _("未拨付")
    # Approved: the amount is reserved against the department's allocation, awaiting a batch.
    RESERVED = "reserved", _("已核准，待拨付")
    IN_BATCH = "in_batch", _("已编入拨付批次")
    IN_PAYMENT = "in_payment", _("支付中")
    PAID = "paid", _("已拨付")
    # 退票: the bank returned the transfer; the payee account is corrected, then it is paid again.
    RETURNED = "returned", _("退票待更正")
    RECOVERED = "recovered", _("已追回")
    # Finally not paid after approval (objection upheld, payee cannot be paid): reservation released.
    CANCELLED = "cancelled", _("不予拨付")


# Payment states of a line that put its claim "in payment" while the disbursement step is open.
IN_PAYMENT_LINE_STATES = (PaymentStatus.IN_BATCH, PaymentStatus.IN_PAYMENT, PaymentStatus.PAID, PaymentStatus.RETURNED)
# A line is settled when nothing more will be paid on it.
SETTLED_LINE_STATES = (PaymentStatus.PAID, PaymentStatus.RECOVERED, PaymentStatus.CANCELLED)


class Payee(models.TextChoices):
    PROVIDER = "provider", _("培训机构")
    TRAINEE = "trainee", _("个人")
    ENTERPRISE = "enterprise", _("企业")


class AmountRule(models.TextChoices):
    FIXED = "fixed", _("定额")
    CAP = "cap", _("最高限额（按实际费用，不超过限额）")
    PER_DAY = "per_day", _("按培训天数")
    PER_PERIOD = "per_period", _("按月或按年（有最长期数）")
    PERCENT_OF = "percent_of", _("按另一标准的百分比")
    UPLIFT = "uplift", _("在另一标准上上浮")


class PricingUnit(models.TextChoices):
    """What one amount of a standard pays for (RULES.md §3): a person, a person's day, a person's
    month or year, an enterprise (once per claim), or an item developed (S7: a training package)."""

    PERSON = "person", _("每人")
    PERSON_DAY = "person_day", _("每人每天")
    PERSON_PERIOD = "person_period", _("每人每月或每年")
    ENTERPRISE = "enterprise", _("每家企业（每份申领一次）")
    ITEM = "item", _("每项")


class Period(models.TextChoices):
    MONTH = "month", _("月")
    YEAR = "year", _("年")


class PolicyCategory(models.TextChoices):
    SKILLS = "skills", _("职业技能培训")
    PROJECT = "project", _("项目制培训")
    SAFETY = "safety", _("安全技能培训")
    ENTREPRENEURSHIP = "entrepreneurship", _("创业培训")
    VETERANS = "veterans", _("退役军人培训")
    LIVING_ALLOWANCE = "living_allowance", _("培训期间生活费补贴")
    DEVELOPMENT = "development", _("培训包、题库开发")
    ELITE = "elite", _("技工班、巧匠班、大师班")
    ABROAD = "abroad", _("境外培训")
    APPRENTICESHIP = "apprenticeship", _("新型学徒制")
    GRADUATES = "graduates", _("校企定向培养毕业生")
    CONTESTS = "contests", _("岗位练兵、技能竞赛")
    SELF_EVALUATION = "self_evaluation", _("企业自主评价")
    CHIEF_TECHNICIAN = "chief_technician", _("企业首席技师")
    TRADE_FRICTION = "trade_friction", _("受贸易摩擦影响企业")
    PERSONAL_CERTIFICATE = "personal_certificate", _("个人取证补贴")
    HIGH_SKILL = "high_skill", _("高技能人才晋级补贴")


# The categories whose standards are training subsidies (职业培训补贴, 002 §五(十九)): their lines
# count towards a person's three subsidised trainings a year (E2) and the once-per-occupation-
# and-level rule (E3, N3). The others pay for something else: the days of a training (S6), a
# development item (S7), an enterprise's apprentices, graduates, contests or self-evaluation
# (S10–S14), a post allowance (S15).
TRAINING_SUBSIDY_CATEGORIES = frozenset(
    {
        PolicyCategory.SKILLS,
        PolicyCategory.PROJECT,
        PolicyCategory.SAFETY,
        PolicyCategory.ENTREPRENEURSHIP,
        PolicyCategory.VETERANS,
        PolicyCategory.ELITE,
        PolicyCategory.ABROAD,
        PolicyCategory.TRADE_FRICTION,
        PolicyCategory.PERSONAL_CERTIFICATE,
        PolicyCategory.HIGH_SKILL,
    }
)


class HardshipGroup(models.TextChoices):
    """Groups that may receive the living allowance during training (RULES.md S6)."""

    LOW_INCOME_RURAL = "low_income_rural", _("农村低收入家庭")
    EMPLOYMENT_DIFFICULTY = "employment_difficulty", _("就业困难人员")
    ZERO_EMPLOYMENT_FAMILY = "zero_employment_family", _("零就业家庭")
    TWO_AFTER_STUDENTS = "two_after_students", _("农村或城市低保家庭“两后生”")


class TargetGroup(models.TextChoices):
    """Who a standard is for, where its text names the people (002 §二(四) S4, §二(五) S5)."""

    MIGRANT_WORKER = "migrant_worker", _("农民工")
    REGISTERED_POOR = "registered_poor", _("建档立卡贫困人口")
    COLLEGE_STUDENT = "college_student", _("在校大学生（含技师学院学生）")
    VETERAN = "veteran", _("退役军人")


class CertificateCheckMode(models.TextChoices):
    """What a certificate the registry does not know does to a line (docs/rules.md, CERT_UNKNOWN)."""

    # An online registry covers the jurisdiction: a certificate it does not know flags the line.
    REQUIRED = "required", _("必须核验（查无此证即预警）")
    # No online registry (or not all of it): the reviewer checks an unknown certificate by hand.
    ADVISORY = "advisory", _("辅助核验（查无此证由审核人人工核对）")


class Jurisdiction(models.Model):
    code = models.CharField(_("代码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    # Claims whose approved total exceeds this go to the HR head (STORIES 7).
    hr_head_threshold = models.DecimalField(_("负责人审批金额线"), max_digits=14, decimal_places=2, default=Decimal("100000.00"))
    # 联网核查 (004 §五(四)): whether an unknown certificate stops a line or is checked by hand.
    certificate_check_mode = models.CharField(
        _("证书核验方式"), max_length=20, choices=CertificateCheckMode.choices, default=CertificateCheckMode.ADVISORY
    )
    # 开班备案 (RULES.md N1): filed at least this many working days before the class starts.
    class_filing_days_ahead = models.PositiveSmallIntegerField(_("开班备案提前工作日数"), default=5)
    # Classes starting on or after this date need a filing (under the standards that require one);
    # none: no filing is required yet (like a policy's effective date).
    class_filing_from = models.DateField(_("开班备案起始日期"), null=True, blank=True)
    # 公示 (RULES.md N5): claims finally approved on or after this date are published for
    # objections before finance may pay them (for the jurisdiction's "public_notice" time limit);
    # none: no notice yet (like a policy's effective date; never retroactive).
    public_notice_from = models.DateField(_("公示起始日期"), null=True, blank=True)
    # RULES.md N9 (天津): a trainee attending less than this share of the class's days is not paid.
    attendance_minimum_percent = models.PositiveSmallIntegerField(_("最低出勤率（%）"), default=80)
    # HR, finance and audit staff of the jurisdiction: holds oversee_jurisdiction on it.
    staff_group = models.OneToOneField(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="jurisdiction")

    class Meta:
        verbose_name = _("行政区")
        verbose_name_plural = _("行政区")
        permissions = [("oversee_jurisdiction", _("Can see and act on the jurisdiction's submitted claims"))]

    def __str__(self):
        return self.name

    @property
    def ledger_jurisdiction_id(self) -> int:
        """A jurisdiction's ledger entries are its own (audit.services._jurisdiction_reference)."""
        return self.pk


class Department(models.Model):
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="departments", verbose_name=_("行政区"))
    code = models.CharField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    sector = models.CharField(_("行业"), max_length=100, blank=True)
    # The department's reviewers: claim permissions are granted to this group.
    staff_group = models.OneToOneField(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="department")

    class Meta:
        verbose_name = _("行业主管部门")
        verbose_name_plural = _("行业主管部门")
        ordering = ["code"]
        permissions = [("review_department_claims", _("Can review the department's claims"))]

    def __str__(self):
        return self.name


class Provider(models.Model):
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="providers", verbose_name=_("行政区"))
    code = models.CharField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, unique=True, validators=[validate_credit_code])
    # The provider's clerks: claim permissions are granted to this group.
    staff_group = models.OneToOneField(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="provider")

    class Meta:
        verbose_name = _("培训机构")
        verbose_name_plural = _("培训机构")
        ordering = ["code"]
        permissions = [("submit_provider_claims", _("Can draft and submit the provider's claims"))]

    def __str__(self):
        return self.name


class Trainee(models.Model):
    """A person, identified by the keyed digest of the resident ID number (never stored in clear).
    No name: each line and class place keeps the name its provider typed (ClaimLine.name,
    ClassTrainee.name); one kept here would be one provider's typing shown to another."""

    id_number_digest = models.CharField(max_length=64, unique=True)
    id_number_masked = models.CharField(_("身份证号码"), max_length=18)
    id_number_encrypted = models.TextField()

    class Meta:
        verbose_name = _("学员")
        verbose_name_plural = _("学员")

    def __str__(self):
        return self.id_number_masked  # not the name: whichever provider first typed it (ClaimLine.name)


class SubsidyPolicy(models.Model):
    """A catalogue standard (S1…S18 of RULES.md §3) in one jurisdiction."""

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="policies")
    code = models.CharField(_("代码"), max_length=10)
    name = models.CharField(_("名称"), max_length=200)
    category = models.CharField(_("类别"), max_length=30, choices=PolicyCategory.choices, default=PolicyCategory.SKILLS)
    payee = models.CharField(_("补贴对象"), max_length=20, choices=Payee.choices, default=Payee.PROVIDER)
    # The standard pays for a class (training subsidies): its classes are filed before they start (N1).
    class_filing_required = models.BooleanField(_("须开班备案"), default=False)

    class Meta:
        verbose_name = _("补贴标准")
        verbose_name_plural = _("补贴标准")
        constraints = [models.UniqueConstraint(fields=["jurisdiction", "code"], name="policy_code_per_jurisdiction")]
        ordering = ["jurisdiction", "code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class PolicyVersion(models.Model):
    """The amounts of a standard during one effective period; lines are priced by certificate date."""

    policy = models.ForeignKey(SubsidyPolicy, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    amount_rule = models.CharField(max_length=20, choices=AmountRule.choices)
    # {"senior": "3500.00", ...}: levels the standard covers, with their amount (or cap, or rate);
    # the key "*" covers any level.
    amount_by_level = models.JSONField(default=dict)
    # {"renewal": "100.00"}: amounts for a line's variant (S3 renewal, S8 out of province…).
    variant_amounts = models.JSONField(default=dict, blank=True)
    period = models.CharField(max_length=10, choices=Period.choices, blank=True)
    max_periods = models.PositiveSmallIntegerField(null=True, blank=True)
    # percent_of: the share of the base standard (S2: 50); uplift: the largest uplift (S16: 30).
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    base_policy = models.ForeignKey(SubsidyPolicy, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Pay the lesser of the computed amount and the stated cost.
    capped_by_cost = models.BooleanField(default=False)
    # What one amount pays for (per person, per day, per enterprise, per item: claims/pricing.py).
    unit = models.CharField(_("计价单位"), max_length=20, choices=PricingUnit.choices, default=PricingUnit.PERSON)
    # "按实际费用、不超过": the line must state the actual cost (claims/standard_checks.py).
    cost_required = models.BooleanField(_("须填实际费用"), default=False)
    # S7: at most this many items without a variant (002 §二(六): 十项精品培训包); None: no limit.
    max_items = models.PositiveSmallIntegerField(_("最多项数"), null=True, blank=True)
    certificate_types = models.JSONField(default=list)
    source = models.CharField(_("依据"), max_length=200, blank=True)
    notes = models.TextField(_("说明"), blank=True)
    # Figures the demo catalogue shows that no seed states (S1 v3, the versions from 2022): every page,
    # export and explanation that shows them says so (演示数据，非政策规定).
    demo_only = models.BooleanField(_("演示数据"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["policy", "version"], name="policy_version_unique")]
        ordering = ["policy", "version"]

    def __str__(self):
        return f"{self.policy.code} v{self.version}"

    @property
    def ledger_jurisdiction_id(self) -> int:
        """Its entries belong to the jurisdiction of its standard (audit.services._jurisdiction_reference)."""
        return self.policy.jurisdiction_id


class Occupation(models.Model):
    """An occupation (工种) of the national occupational classification (《中华人民共和国职业分类大典》),
    by its code (6-31-01-03 电工). A claim line names one; rules that compare occupations (E3, N3)
    compare codes. Lines may write the name or one of its aliases (claims/occupations.py)."""

    code = models.CharField(_("职业编码"), max_length=30, unique=True)
    name = models.CharField(_("职业（工种）名称"), max_length=100)
    # Other names the same occupation goes by on rosters and certificates (低压电工作业 → 电工).
    aliases = models.JSONField(_("别名"), default=list, blank=True)
    # Not accepted on new lines when inactive (kept for the lines that name it).
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("职业（工种）")
        verbose_name_plural = _("职业（工种）")
        ordering = ["code"]

    def __str__(self):
        return self.name


class OccupationKey(models.Model):
    """A normalised name or alias of an occupation (claims.occupations.occupation_key): the index
    a line's occupation text is resolved by. One key names one occupation."""

    key = models.CharField(max_length=100, unique=True)
    occupation = models.ForeignKey(Occupation, on_delete=models.CASCADE, related_name="keys")


class Claim(models.Model):
    number = models.CharField(_("申领编号"), max_length=30, unique=True)
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="claims")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="claims", verbose_name=_("培训机构"))
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="claims", verbose_name=_("行业主管部门"))
    policy = models.ForeignKey(SubsidyPolicy, on_delete=models.PROTECT, related_name="claims", verbose_name=_("补贴标准"))
    class_name = models.CharField(_("班级名称"), max_length=200)
    training_start = models.DateField(_("培训开始"))
    training_end = models.DateField(_("培训结束"))
    # The enterprise paid, for a standard whose payee is an enterprise (S10–S14); blank otherwise.
    enterprise_name = models.CharField(_("企业名称"), max_length=200, blank=True)
    enterprise_credit_code = models.CharField(_("企业统一社会信用代码"), max_length=18, blank=True)
    status = models.CharField(_("状态"), max_length=30, choices=ClaimStatus.choices, default=ClaimStatus.DRAFT, db_index=True)
    total = models.DecimalField(_("金额合计"), max_digits=14, decimal_places=2, default=ZERO)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # The filed class the claim is for (开班备案), where there is one.
    training_class = models.ForeignKey(
        "TrainingClass", null=True, blank=True, on_delete=models.PROTECT, related_name="claims", verbose_name=_("备案班级")
    )
    process = models.OneToOneField("viewflow.Process", null=True, blank=True, on_delete=models.PROTECT, related_name="claim")

    class Meta:
        verbose_name = _("申领")
        verbose_name_plural = _("申领")
        ordering = ["-id"]
        permissions = [("review_claim", _("Can review the claim for its department"))]
        # The claim lists' orders within each scope (claims.selectors.claims_in_scope): newest
        # first for the claim list, last submitted first for the auditor's search, with and
        # without a status; each page is a range of one of these (claims/keyset.py).
        indexes = [
            models.Index(fields=["jurisdiction", "status", "id"], name="claim_jurisdiction_status_id"),
            models.Index(fields=["jurisdiction", "id"], name="claim_jurisdiction_id"),
            models.Index(fields=["department", "id"], name="claim_department_id"),
            models.Index(fields=["provider", "id"], name="claim_provider_id"),
            models.Index(fields=["jurisdiction", "submitted_at", "id"], name="claim_jurisdiction_submitted"),
            models.Index(fields=["jurisdiction", "status", "submitted_at", "id"], name="claim_jur_status_submitted"),
        ]

    def __str__(self):
        return self.number


class ClaimLine(models.Model):
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField(_("行号"))
    trainee = models.ForeignKey(Trainee, on_delete=models.PROTECT, related_name="claim_lines")
    # The name as typed on this line: a person (trainee) is one record across every provider, so
    # a name read from it would show what another provider typed for that ID number.
    name = models.CharField(_("姓名"), max_length=50)
    occupation = models.ForeignKey(Occupation, on_delete=models.PROTECT, related_name="+", verbose_name=_("职业（工种）"))
    level = models.CharField(_("等级"), max_length=30, choices=Level.choices)
    certificate_type = models.CharField(_("证书类型"), max_length=30, choices=CertificateType.choices)
    certificate_number = models.CharField(_("证书编号"), max_length=60)
    # Who issued the certificate (blank: not given); with the number it identifies the certificate (CERT_DUP).
    certificate_issuer = models.CharField(_("发证机构"), max_length=100, blank=True)
    # The number normalised (claims.certificates.certificate_key): how lines naming one certificate are found.
    certificate_key = models.CharField(max_length=120, blank=True, db_index=True, editable=False)
    certificate_date = models.DateField(_("发证日期"))
    training_days = models.PositiveIntegerField(_("培训天数"))
    stated_cost = models.DecimalField(_("实际培训费用"), max_digits=12, decimal_places=2, null=True, blank=True)
    # Pricing inputs some standards need (RULES.md §3): S3 renewal, S6 hardship group, E9 free training,
    # periods claimed for per-month/per-year standards.
    variant = models.CharField(_("类型"), max_length=30, blank=True)
    hardship_group = models.CharField(_("困难群体类别"), max_length=30, choices=HardshipGroup.choices, blank=True)
    free_training = models.BooleanField(_("免费培训"), default=False)
    periods = models.PositiveSmallIntegerField(_("申领期数"), null=True, blank=True)
    # Conditions on the person some standards name (claims/standard_checks.py): S4 and S5 target
    # groups, the year a veteran left the service (S5: of the year), a filed chief technician (S15).
    target_group = models.CharField(_("人员类别"), max_length=30, choices=TargetGroup.choices, blank=True)
    discharge_year = models.PositiveSmallIntegerField(_("退役年份"), null=True, blank=True)
    chief_technician_filed = models.BooleanField(_("首席技师已备案"), default=False)
    amount = models.DecimalField(_("补贴金额"), max_digits=12, decimal_places=2, default=ZERO)
    policy_version = models.ForeignKey(PolicyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # How the amount was computed (claims/pricing.py), in Chinese and in English; read through
    # localized_explanation. A line priced before the English was kept may have none.
    explanation = models.CharField(_("计算说明"), max_length=300, blank=True)
    explanation_en = models.CharField(_("计算说明（英文）"), max_length=300, blank=True)
    # [{"code": "DUP", "message": "…", "message_en": "…", "source": "…"}]; empty when the line is clean.
    flags = models.JSONField(default=list, blank=True)
    decision = models.CharField(_("审核结果"), max_length=10, choices=LineDecision.choices, default=LineDecision.PENDING)
    decision_reason = models.CharField(_("理由代码"), max_length=30, blank=True)
    # The local date this person's certificate (of this date) was first submitted on this claim:
    # N2's 12 months count to it. Null until submitted; a line added or replaced on a returned
    # claim is claimed when it is resubmitted, not at the claim's first submission.
    claimed_on = models.DateField(_("申领日期"), null=True, blank=True, editable=False)
    payment_status = models.CharField(_("拨付状态"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID)
    # The allocation the approved amount is reserved against (set at final approval).
    allocation = models.ForeignKey("payments.Allocation", null=True, blank=True, on_delete=models.PROTECT, related_name="lines")

    class Meta:
        ordering = ["claim", "line_no"]
        constraints = [models.UniqueConstraint(fields=["claim", "line_no"], name="line_no_per_claim")]
        # What awaits payment (finance's desk: an allocation's reserved lines) is a range of this
        # index, not every line of the year's allocations; the funds report's sums by state read
        # the index alone (the amount is in it), though still every line of the year.
        indexes = [models.Index(fields=["allocation", "payment_status"], include=["amount"], name="line_allocation_payment")]

    def __str__(self):
        return f"{self.claim.number}#{self.line_no}"

    @property
    def localized_explanation(self) -> str:
        """The explanation in the language of the page or the API request."""
        return in_active_language(self.explanation, self.explanation_en)


class FlagOverride(models.Model):
    """An HR reviewer's written decision that a flag does not stop the line; survives re-checks."""

    line = models.ForeignKey(ClaimLine, on_delete=models.CASCADE, related_name="overrides")
    code = models.CharField(max_length=20)
    reason = models.TextField()
    overridden_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    overridden_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["line", "code"], name="one_override_per_flag")]


class RosterUploadStatus(models.TextChoices):
    RECEIVED = "received", _("已接收")
    PROCESSING = "processing", _("处理中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("有错误")


class RosterUpload(models.Model):
    """An uploaded .xlsx roster: kept whole so a worker on any host can process it, exactly once."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="roster_uploads")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # The claim's header fields (department, policy, class_name, training_start, training_end).
    header = models.JSONField(default=dict)
    filename = models.CharField(max_length=255)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64, db_index=True)
    row_count = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=RosterUploadStatus.choices, default=RosterUploadStatus.RECEIVED)
    # [{"row": 3, "field": "id_number", "message": "…", "message_en": "…"}]
    errors = models.JSONField(default=list, blank=True)
    claim = models.OneToOneField(Claim, null=True, blank=True, on_delete=models.PROTECT, related_name="roster_upload")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def ledger_jurisdiction_id(self) -> int:
        """Its entries belong to the jurisdiction of its provider (audit.services._jurisdiction_reference)."""
        return self.provider.jurisdiction_id


# --------------------------------------------------------------------------- certificate registries (联网核查)


class AssessmentBody(models.Model):
    """An assessment body (评价机构、鉴定中心) that signs the certificates it issues (Ed25519)."""

    code = models.CharField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    # The raw 32-byte Ed25519 public key, hex: what its certificates' signatures are checked with.
    public_key = models.CharField(_("公钥"), max_length=64)

    class Meta:
        verbose_name = _("评价机构")
        verbose_name_plural = _("评价机构")
        ordering = ["code"]

    def __str__(self):
        return self.name


class CertificateStatus(models.TextChoices):
    VALID = "valid", _("有效")
    REVOKED = "revoked", _("已撤销")


class IssuedCertificate(models.Model):
    """A certificate as its assessment body published it, signed over its fields
    (claims/registry.py, ``signed_fields``); a revocation is published re-signed."""

    body = models.ForeignKey(AssessmentBody, on_delete=models.PROTECT, related_name="certificates")
    number = models.CharField(_("证书编号"), max_length=60)
    number_key = models.CharField(max_length=120, db_index=True)
    holder_name = models.CharField(_("持证人"), max_length=50)
    holder_id_number_digest = models.CharField(max_length=64, db_index=True)
    holder_id_number_encrypted = models.TextField()
    occupation_code = models.CharField(_("职业编码"), max_length=30)
    level = models.CharField(_("等级"), max_length=30, choices=Level.choices)
    certificate_type = models.CharField(_("证书类型"), max_length=30, choices=CertificateType.choices)
    certificate_date = models.DateField(_("发证日期"))
    status = models.CharField(_("状态"), max_length=20, choices=CertificateStatus.choices, default=CertificateStatus.VALID)
    revoked_on = models.DateField(_("撤销日期"), null=True, blank=True)
    signature = models.CharField(max_length=128)  # hex of the 64-byte Ed25519 signature
    published_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("评价机构发证记录")
        verbose_name_plural = _("评价机构发证记录")
        constraints = [models.UniqueConstraint(fields=["body", "number_key"], name="one_certificate_per_body_number")]


class RegistryImport(models.Model):
    """A registry's export (CSV or XLSX) imported for a jurisdiction without an online registry."""

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="registry_imports")
    source = models.CharField(_("来源"), max_length=200)
    filename = models.CharField(_("文件名"), max_length=255)
    sha256 = models.CharField(max_length=64)
    row_count = models.PositiveIntegerField(default=0)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("证书库导入")
        verbose_name_plural = _("证书库导入")
        ordering = ["-imported_at", "-id"]


class RegistryEntry(models.Model):
    registry_import = models.ForeignKey(RegistryImport, on_delete=models.CASCADE, related_name="entries")
    number = models.CharField(_("证书编号"), max_length=60)
    number_key = models.CharField(max_length=120, db_index=True)
    holder_name = models.CharField(_("持证人"), max_length=50)
    holder_id_number_digest = models.CharField(max_length=64)
    occupation_code = models.CharField(_("职业编码"), max_length=30)
    level = models.CharField(_("等级"), max_length=30, choices=Level.choices)
    certificate_date = models.DateField(_("发证日期"))
    status = models.CharField(_("状态"), max_length=20, choices=CertificateStatus.choices, default=CertificateStatus.VALID)
    revoked_on = models.DateField(_("撤销日期"), null=True, blank=True)


class CheckResult(models.TextChoices):
    VERIFIED = "verified", _("核验一致")
    INVALID = "invalid", _("核验不符")
    UNKNOWN = "unknown", _("证书库查无此证")


class CertificateCheck(models.Model):
    """One check of a line's certificate at its source: what was checked, when, against which
    source, and the result. The reviewer sees the latest; earlier ones stay."""

    line = models.ForeignKey(ClaimLine, on_delete=models.CASCADE, related_name="certificate_checks")
    checked_at = models.DateTimeField(default=timezone.now, db_index=True)
    # claims.certificate_checks.CheckOccasion
    occasion = models.CharField(max_length=20)
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # What was asked: the line's number, issuer, occupation code, level, date, holder (masked).
    asked = models.JSONField(default=dict)
    source = models.CharField(_("核验来源"), max_length=200, blank=True)
    result = models.CharField(_("核验结果"), max_length=20, choices=CheckResult.choices)
    # [{"field": "level", "message": "…", "message_en": "…"}]: what differs, or why it is invalid.
    problems = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["line", "-checked_at", "-id"]


# --------------------------------------------------------------------------- class filing (开班备案) and attendance


class ClassStatus(models.TextChoices):
    FILED = "filed", _("已报备，待确认")
    ACCEPTED = "accepted", _("已备案")
    REFUSED = "refused", _("不予备案")


class TrainingClass(models.Model):
    """A class filed by a provider before it starts, accepted or refused by its department."""

    number = models.CharField(_("备案编号"), max_length=30, unique=True)
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="classes")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="classes", verbose_name=_("培训机构"))
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="classes", verbose_name=_("行业主管部门"))
    policy = models.ForeignKey(SubsidyPolicy, on_delete=models.PROTECT, related_name="classes", verbose_name=_("补贴标准"))
    occupation = models.ForeignKey(Occupation, on_delete=models.PROTECT, related_name="+", verbose_name=_("职业（工种）"))
    level = models.CharField(_("等级"), max_length=30, choices=Level.choices)
    name = models.CharField(_("班级名称"), max_length=200)
    start = models.DateField(_("开班日期"))
    end = models.DateField(_("结业日期"))
    # The daily hours: two classes of one person overlap when their dates and hours both do.
    daily_start = models.TimeField(_("每日开始时间"))
    daily_end = models.TimeField(_("每日结束时间"))
    place = models.CharField(_("培训地点"), max_length=200)
    teacher = models.CharField(_("授课教师"), max_length=100)
    status = models.CharField(_("状态"), max_length=20, choices=ClassStatus.choices, default=ClassStatus.FILED, db_index=True)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(_("理由"), blank=True)

    class Meta:
        verbose_name = _("开班备案")
        verbose_name_plural = _("开班备案")
        ordering = ["-id"]

    def __str__(self):
        return f"{self.number} {self.name}"

    @property
    def calendar_days(self) -> int:
        """Every day from its start to its end, taught or not (the days it taught are its
        attendance record's: claims.classes.ClassAttendance)."""
        return (self.end - self.start).days + 1


class ClassTrainee(models.Model):
    """A planned trainee of a filed class (its roster)."""

    training_class = models.ForeignKey(TrainingClass, on_delete=models.CASCADE, related_name="trainees")
    trainee = models.ForeignKey(Trainee, on_delete=models.PROTECT, related_name="classes")
    name = models.CharField(_("姓名"), max_length=50)  # as filed with this class (see ClaimLine.name)
    row = models.PositiveIntegerField()

    class Meta:
        ordering = ["training_class", "row"]
        constraints = [models.UniqueConstraint(fields=["training_class", "trainee"], name="one_place_per_trainee_per_class")]


class Attendance(models.Model):
    """A trainee present (or not) on a day of the class."""

    class_trainee = models.ForeignKey(ClassTrainee, on_delete=models.CASCADE, related_name="attendance")
    day = models.DateField(_("日期"))
    present = models.BooleanField(_("出勤"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["class_trainee", "day"], name="one_attendance_per_day")]


class AttachmentKind(models.TextChoices):
    """What a document attached to a claim is (the evidence 002 §五 asks a claim to carry)."""

    CERTIFICATE = "certificate", _("证书扫描件")
    ROSTER = "roster", _("签字花名册")
    ATTENDANCE = "attendance", _("考勤表")
    INVOICE = "invoice", _("发票")
    OTHER = "other", _("其他材料")


class Attachment(models.Model):
    """A document of a claim, or of one of its lines (by line number: a claim's lines are
    replaced when it is edited). The bytes live in a file under settings.ATTACHMENTS_DIR named
    ``storage_name`` (random); only claims/attachments.py reads or writes them."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="attachments")
    line_no = models.PositiveIntegerField(_("行号"), null=True, blank=True)
    kind = models.CharField(_("材料类型"), max_length=20, choices=AttachmentKind.choices)
    filename = models.CharField(_("文件名"), max_length=200)
    # Recognised from the bytes (claims.attachments.sniff), never taken from the name or the request.
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(max_length=64)
    storage_name = models.CharField(max_length=64, unique=True, editable=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("申领材料")
        verbose_name_plural = _("申领材料")
        ordering = ["claim", "id"]


class Comment(models.Model):
    """A message in a claim's thread between its provider and its reviewers. An internal note
    (``internal``) is the reviewers' own: the provider never reads it (claims.access.may_read_internal_notes)."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(_("内容"))
    internal = models.BooleanField(_("内部备注"), default=False)
    # The people the comment mentioned (@username) who were in the claim's scope, and so were told.
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("留言")
        verbose_name_plural = _("留言")
        ordering = ["claim", "id"]


# django-guardian object permissions with direct foreign keys (fast joins, real FKs).
class ClaimUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Claim, on_delete=models.CASCADE)


class ClaimGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Claim, on_delete=models.CASCADE)


class JurisdictionUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE)


class JurisdictionGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE)


class DepartmentUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Department, on_delete=models.CASCADE)


class DepartmentGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Department, on_delete=models.CASCADE)


class ProviderUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Provider, on_delete=models.CASCADE)


class ProviderGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Provider, on_delete=models.CASCADE)
