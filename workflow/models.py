from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from viewflow import jsonstore
from viewflow.workflow.models import Process, Task

from claims.models import Claim, Department, Jurisdiction, Provider

from .dates import due_date
from .steps import Decision


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
    # Set by HR's approval when the approved total is over the jurisdiction's threshold (STORIES 7).
    needs_hr_head = jsonstore.BooleanField(default=False)

    class Meta:
        proxy = True
        verbose_name = _("申领流程")
        verbose_name_plural = _("申领流程")


class InboxItem(models.Model):
    """One row per open human task: what the inboxes filter, sort and count on, so that an inbox
    reads an index range of this table whatever the year holds (issue 12). Kept current in the
    transaction of every change of the task or of its claim (workflow/inbox.py: refresh_inbox);
    scope and segregation of duties are indexed predicates on it (selectors.py)."""

    task = models.OneToOneField(Task, primary_key=True, on_delete=models.CASCADE, related_name="inbox_item")
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="inbox_items")
    step = models.CharField(max_length=40)  # the step table's name (steps.py)
    status = models.CharField(max_length=50)  # viewflow's task status: NEW, ASSIGNED or STARTED
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The claim's scope, for each step's scope predicate (Scope: provider, department, jurisdiction).
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="+")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    claim_number = models.CharField(max_length=30)
    amount = models.DecimalField(max_digits=14, decimal_places=2)  # the claim's total
    flagged_lines = models.PositiveIntegerField(default=0)  # lines with a flag (overridden or not)
    created = models.DateTimeField()  # the task's
    due = models.DateField()  # created + the step's working days, in local time
    resubmitted = models.BooleanField(default=False)  # the claim came back from a correction
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
    def of_task(cls, task, claim: Claim, *, flagged_lines: int = 0, resubmitted: bool = False, duties=()) -> "InboxItem":
        """The row of an open task of this claim (unsaved): the one way a row is made.
        ``duties``: the (user id, duty) pairs done on the claim so far."""
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
            amount=claim.total,
            flagged_lines=flagged_lines,
            created=task.created,
            due=due_date(task.created, task.flow_task.name),
            resubmitted=resubmitted,
            duties=cls.duty_tokens(duties),
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
