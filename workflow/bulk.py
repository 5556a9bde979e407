"""Bulk approval (STORIES 5): a reviewer approves the clean claims they picked from their queue
with one confirmation, and each claim is decided and recorded on its own.

``bulk_candidates`` (a read) says what the confirmation lists: the picked rows the person may act
on now, at a review step, with no flagged line; ``steps_after_approval`` where each will go. ``bulk_approve`` (the write) then calls
services.decide_task once per task, each in its own transaction: the scope, segregation of duties
and the step's state are checked per claim as for one decision, the rules and certificates run
again, a line that now carries an active flag refuses that claim (``require_clean``), and each
approval is its own ledger entry (claim.approved_step, the comment BULK_COMMENT). A claim that
fails is reported by its number with the reason and leaves the others decided. Sent twice (a
double click, the back button), the second run finds every task decided: the step's state under
the process lock (decide_task) refuses it, so nothing is approved twice.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from claims.bounds import whole_number
from claims.errors import DomainError, InvalidInput, NotInScope
from claims.models import Claim

from .policy import step_after_approval, steps_of_user
from .selectors import actionable_items, tasks_visible_to
from .services import decide_task
from .steps import REVIEW_STEPS

BULK_MAX = 50  # tasks in one bulk approval: the inbox's page
TASK_ID_MAX = 10**12 - 1  # twelve digits: more is no task's id
# The comment each approval records (the ledger keeps it as written; the pages show it).
BULK_COMMENT = gettext_lazy("批量审批：无预警，同意。")


def parse_task_ids(raw) -> list[int]:
    """The picked task ids (form values or JSON numbers), unique, in the order given; InvalidInput
    naming ``tasks`` when there are none, too many, or one is not an id."""
    ids: list[int] = []
    for value in raw or []:
        task_id = whole_number(value, maximum=TASK_ID_MAX)
        if task_id is None:
            shown = str(value).strip()[:20]
            raise InvalidInput(_("所选任务有误。"), fields={"tasks": [_("“%(value)s”不是任务编号。") % {"value": shown}]})
        if task_id not in ids:
            ids.append(task_id)
    if not ids:
        raise InvalidInput(_("请先勾选要批量同意的申领。"), fields={"tasks": [_("至少选择一件。")]})
    if len(ids) > BULK_MAX:
        raise InvalidInput(_("一次最多批量同意 %(n)d 件。") % {"n": BULK_MAX}, fields={"tasks": [_("选择过多。")]})
    return ids


def bulk_candidates(user, task_ids) -> QuerySet:
    """The picked rows the user may decide now that a bulk approval takes: a review step, no line
    flagged (the inbox's clean rows). In the order of the inbox."""
    return (
        actionable_items(user)
        .filter(task_id__in=list(task_ids), flagged_lines=0, step__in=REVIEW_STEPS)
        .select_related("provider", "jurisdiction")
    )


def steps_after_approval(rows) -> dict[int, str]:
    """For each row of ``bulk_candidates``, by task: the step its approval sends the claim to,
    asked of the decision's own definition (policy.step_after_approval), the claim as it stands."""
    claims = Claim.objects.select_related("jurisdiction").in_bulk([row.claim_id for row in rows])
    today = timezone.localdate()
    return {row.task_id: step_after_approval(step_name=row.step, claim=claims[row.claim_id], today=today) for row in rows}


@dataclass
class BulkOutcome:
    approved: list[dict] = field(default_factory=list)  # {"number", "amount", "status"}
    failed: list[dict] = field(default_factory=list)  # {"number", "reason"}

    @property
    def approved_total(self) -> Decimal:
        return sum((item["amount"] for item in self.approved), Decimal("0.00"))


def bulk_approve(*, user, task_ids) -> BulkOutcome:
    """Approve each task on its own (the module's docstring); nothing here is one transaction."""
    ids = parse_task_ids(task_ids)
    numbers = dict(tasks_visible_to(user).filter(pk__in=ids).values_list("pk", "process__claim__number"))
    outcome = BulkOutcome()
    for task_id in ids:
        # A task out of the user's scope is named by its id only: its claim's number is not theirs to read.
        number = numbers.get(task_id) or _("任务 #%(id)d") % {"id": task_id}
        try:
            claim = decide_task(user=user, task_id=task_id, decision="approve", comment=str(BULK_COMMENT), require_clean=True)
        except NotInScope:
            outcome.failed.append({"number": number, "reason": _("不存在或不在您的范围内。")})
        except DomainError as error:
            outcome.failed.append({"number": number, "reason": error.message})
        else:
            outcome.approved.append({"number": claim.number, "amount": claim.total, "status": claim.get_status_display()})
    return outcome


def may_bulk_approve(user) -> bool:
    """Whether the user's role decides a review step (the others have nothing to bulk-approve)."""
    return any(name in REVIEW_STEPS for name in steps_of_user(user))
