from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from viewflow import jsonstore
from viewflow.workflow.models import Process, Task

from claims.dates import date_text
from claims.models import Claim, ClaimLine, Department, Jurisdiction, Provider

from .deadlines import Deadlines, due_date
from .steps import DEADLINE_KINDS, Decision


class JSONObjectField(jsonstore.JSONFieldMixin, models.JSONField):
    """A JSON value (a dict, a list) kept as it is inside ``Process.data``: viewflow's jsonstore
    has typed scalar fields only. Its values must be plain JSON (strings, numbers, lists, dicts)."""


class ClaimProcess(Process):
    """The process of one claim. Its data are typed fields stored in ``Process.data``,
    which the flow's switches read (flows.py); the claim is ``process.claim``."""

    # The last decision taken on the claim: the switch after a step routes on it.
    last_decision = jsonstore.CharField(max_length=20, choices=Decision.choices, blank=True, null=True)
    # The review step that returned the claim for correction.
    returned_from = jsonstore.CharField(max_length=40, blank=True, null=True)
    # What that step asked to fix ({"lines": [2], "fields": ["certificate_number"]}; empty: not named),
    # and the claim as it was returned (workflow.selectors.claim_content): set with the return.
    fix_requested = JSONObjectField(null=True, blank=True)
    returned_content = JSONObjectField(null=True, blank=True)
    # Where the resubmission goes (policy.resubmission_target), and the changes outside what was
    # asked that sent it to the department instead of the returning step: set by the resubmission.
    resubmit_to = jsonstore.CharField(max_length=40, blank=True, null=True)
    changes_outside_fix = JSONObjectField(null=True, blank=True)
    # What the resubmission changed since the claim was returned (review_changes: its fields, its
    # lines, its total before and after), for the mark on the inbox's row: set by the resubmission.
    review_changes = JSONObjectField(null=True, blank=True)
    # Set by HR's approval when the approved total is over the jurisdiction's threshold (STORIES 7).
    needs_hr_head = jsonstore.BooleanField(default=False)
    # Set by the final approval when the jurisdiction publishes approved claims first (公示, RULES N5).
    needs_notice = jsonstore.BooleanField(default=False)

    class Meta:
        proxy = True
        verbose_name = _("申领流程")
        verbose_name_plural = _("申领流程")


# Where an escalation is kept on the task (Task.data): the read model copies it, a rebuild keeps it.
ESCALATED_KEY = "escalated"


class InboxItem(models.Model):
    """One row per open human task: what the inboxes filter, sort and count on, so that an inbox
    reads an index range of this table whatever the year holds (issue 12). Kept current in the
    transaction of every change of the task or of its claim (workflow/inbox.py: refresh_inbox);
    scope and segregation of duties are indexed predicates on it (selectors.py)."""

    task = models.OneToOneField(Task, primary_key=True, on_delete=models.CASCADE, related_name="inbox_item")
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="inbox_items")
    step = models.CharField(max_length=40)  # the step table's name (steps.py)
    status = models.CharField(max_length=50)  # viewflow's task status: NEW, ASSIGNED or STARTED
    # The owner and the claim's scope (for each step's scope predicate: Scope) are indexed only in
    # the composite indexes below, in the inbox's order: an index of the column alone would be
    # one more to write on every change, and a plan that reads it must sort what it finds.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="+", db_index=False)
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="+", db_index=False)
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+", db_index=False)
    claim_number = models.CharField(max_length=30)
    class_name = models.CharField(max_length=200, default="", blank=True)  # the claim's, for the rows and the search
    submitted = models.DateTimeField(null=True, blank=True)  # the claim's first submission
    amount = models.DecimalField(max_digits=14, decimal_places=2)  # the claim's total
    flagged_lines = models.PositiveIntegerField(default=0)  # lines with a flag (overridden or not)
    created = models.DateTimeField()  # the task's
    due = models.DateField()  # deadlines.due_date: created + the step's limit in working days, local time
    resubmitted = models.BooleanField(default=False)  # the claim came back from a correction
    # What the last resubmission changed (ClaimProcess.review_changes; empty when not resubmitted).
    changes = models.JSONField(default=dict, blank=True)
    # Overdue and escalated to the team lead (timers.escalate_overdue_reviews; kept on the task's data).
    escalated = models.BooleanField(default=False)
    # Who did which duty on the claim so far (ClaimDuty's rows, as ``duty_tokens`` writes them):
    # segregation of duties is then a filter on the row read, not a join with the person's history.
    duties = models.TextField(default="", blank=True)

    @staticmethod
    def duty_token(user_id: int, duty: str) -> str:
        """One person's duty as the ``duties`` column holds it: ",<user>:<duty>,"."""
        return f",{user_id}:{duty},"

    @classmethod
    def duty_tokens(cls, duties) -> str:
        """The ``duties`` column of a claim whose (user id, duty) pairs are ``duties``."""
        return "".join(cls.duty_token(user_id, duty) for user_id, duty in sorted(duties))

    @classmethod
    def of_task(
        cls,
        task,
        claim: Claim,
        *,
        flagged_lines: int = 0,
        resubmitted: bool = False,
        changes: dict | None = None,
        duties=(),
        deadlines: Deadlines | None = None,
    ) -> "InboxItem":
        """The row of an open task of this claim (unsaved): the one way a row is made.
        ``duties``: the (user id, duty) pairs done on the claim so far; ``deadlines``: the
        calendars read for a batch of rows (a rebuild), else read for this one."""
        return cls(
            task=task,
            claim=claim,
            step=task.flow_task.name,
            status=task.status,
            owner_id=task.owner_id,
            jurisdiction_id=claim.jurisdiction_id,
            department_id=claim.department_id,
            provider_id=claim.provider_id,
            claim_number=claim.number,
            class_name=claim.class_name,
            submitted=claim.submitted_at,
            amount=claim.total,
            flagged_lines=flagged_lines,
            created=task.created,
            due=due_date(task.created, task.flow_task.name, claim.jurisdiction_id, deadlines=deadlines),
            resubmitted=resubmitted,
            changes=(changes or {}) if resubmitted else {},
            duties=cls.duty_tokens(duties),
            escalated=bool((task.data or {}).get(ESCALATED_KEY)),
        )

    class Meta:
        indexes = [
            # Each role's query walks one of these in the inbox's order (created, task).
            models.Index(fields=["step", "department", "created", "task"], name="inbox_step_department"),
            models.Index(fields=["step", "jurisdiction", "created", "task"], name="inbox_step_jurisdiction"),
            models.Index(fields=["step", "provider", "created", "task"], name="inbox_step_provider"),
            models.Index(fields=["owner", "created", "task"], name="inbox_owner"),
        ]


class ClaimDuty(models.Model):
    """A duty a person performed on a claim (RULES N4: one person, one duty per claim). Segregation
    of duties looks a person up on one claim by (claim, user), never through the person's history;
    written with the inbox (workflow/inbox.py) from the claim's done tasks."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    duty = models.CharField(max_length=40)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["claim", "user", "duty"], name="claim_duty_unique")]


class WorkingDayOverrideQuerySet(models.QuerySet):
    def filter_jurisdiction(self, jurisdiction_id: int | None) -> "WorkingDayOverrideQuerySet":
        """The rows that apply to this jurisdiction: its own and those for every jurisdiction."""
        if jurisdiction_id is None:
            return self.filter(jurisdiction__isnull=True)
        return self.filter(models.Q(jurisdiction__isnull=True) | models.Q(jurisdiction_id=jurisdiction_id))


class WorkingDayOverride(models.Model):
    """An administrator's word on one day (calendar.py): a working day or not, for one
    jurisdiction or (jurisdiction empty) for all; it wins over the chinese-calendar library, so a
    local holiday, a late change or a year the library does not know yet can be entered by hand."""

    jurisdiction = models.ForeignKey(
        Jurisdiction,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("行政区"),
        help_text=_("留空：适用于所有行政区。"),
    )
    date = models.DateField(_("日期"))
    is_working = models.BooleanField(_("工作日"), help_text=_("勾选：当天上班（如调休上班日）；不勾选：当天放假。"))
    reason = models.CharField(_("原因"), max_length=200)

    objects = WorkingDayOverrideQuerySet.as_manager()

    class Meta:
        verbose_name = _("工作日调整")
        verbose_name_plural = _("工作日调整")
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["jurisdiction", "date"], name="working_day_override_unique"),
            models.UniqueConstraint(
                fields=["date"], condition=models.Q(jurisdiction__isnull=True), name="working_day_override_unique_all"
            ),
        ]

    def __str__(self):
        return f"{date_text(self.date)} {self.reason}"

    @property
    def ledger_jurisdiction_id(self):
        return self.jurisdiction_id


class StepDeadline(models.Model):
    """A jurisdiction's time limit for one kind of deadline (deadlines.DEADLINES), in working
    days; without a row the policy's default applies (the step table, RULES N5/N6)."""

    jurisdiction = models.ForeignKey(
        Jurisdiction,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("行政区"),
        help_text=_("留空：适用于所有行政区（各行政区自己的设置优先）。"),
    )
    kind = models.CharField(_("期限"), max_length=40, choices=[(kind.name, kind.label) for kind in DEADLINE_KINDS.values()])
    working_days = models.PositiveSmallIntegerField(
        _("工作日数"), validators=[MinValueValidator(1), MaxValueValidator(250)], help_text=_("1 至 250 个工作日。")
    )

    class Meta:
        verbose_name = _("办理期限")
        verbose_name_plural = _("办理期限")
        constraints = [
            models.UniqueConstraint(fields=["jurisdiction", "kind"], name="step_deadline_unique"),
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(jurisdiction__isnull=True), name="step_deadline_unique_all"
            ),
            models.CheckConstraint(
                condition=models.Q(working_days__gte=1, working_days__lte=250), name="step_deadline_working_days_range"
            ),
        ]

    def __str__(self):
        return f"{self.kind}: {self.working_days}"

    @property
    def ledger_jurisdiction_id(self):
        return self.jurisdiction_id


class Delegation(models.Model):
    """A reviewer names a substitute for a date range (local dates, both days included): in it,
    the substitute may take and decide the tasks the reviewer could, held by the reviewer or by
    nobody, except on a claim where the substitute did another duty (RULES N4). Revoked, not deleted."""

    delegator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    substitute = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    reason = models.CharField(_("事由"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["substitute", "ends_on"], name="delegation_substitute")]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")), name="delegation_range"),
            models.CheckConstraint(condition=~models.Q(substitute=models.F("delegator")), name="delegation_not_self"),
        ]


class ObjectionStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    UPHELD = "upheld", _("异议成立")
    DISMISSED = "dismissed", _("异议不成立")


class Objection(models.Model):
    """An objection to a line on public notice (公示, RULES N5), filed by anyone without signing in
    (notice.py). Decided by the HR head: upheld rejects the line, dismissed lets it proceed."""

    receipt = models.CharField(_("回执号"), max_length=20, unique=True)
    line = models.ForeignKey(ClaimLine, on_delete=models.PROTECT, related_name="objections")
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="objections")
    contact = models.CharField(_("联系方式"), max_length=100)
    reason = models.TextField(_("异议理由"), max_length=2000)
    # A keyed digest of the client's address (claims.personal_data.id_number_digest's key): the rate
    # limit counts by it; the address itself is not kept.
    client_digest = models.CharField(max_length=64, db_index=True)
    created = models.DateTimeField(db_index=True)
    status = models.CharField(_("处理结果"), max_length=20, choices=ObjectionStatus.choices, default=ObjectionStatus.OPEN)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(_("处理意见"), blank=True)

    class Meta:
        verbose_name = _("公示异议")
        verbose_name_plural = _("公示异议")
        indexes = [models.Index(fields=["claim", "status"], name="objection_claim_status")]

    def __str__(self):
        return self.receipt

    @property
    def ledger_jurisdiction_id(self):
        return self.claim.jurisdiction_id
