"""The claim process's timers, run by the due-job registry (due/registry.py: ``manage.py run_due``
and Celery beat): each finds in the inbox read model what is past its deadline at ``now`` and
hands each claim to a service (services.py), which checks again under the claim's locks and
records the ledger entry. Idempotent: what was withdrawn or escalated is not found again.

Why a due job over the inbox read model and not viewflow's ``OnTimeout`` boundary timer: the due
date is a date on the jurisdiction's working-day calendar, which an administrator may change
after the task started (an override, a new time limit: inbox.refresh_due_dates moves the stored
date); a boundary timer fixes its moment when the task opens. Its dispatcher runs at the wall
clock, where ``run_due --now`` must run at a given moment; and an interrupting boundary would
cancel the review task, where escalation must leave it open with its owner. Each run reads the
read model's open rows of one or three steps (its indexes lead with the step), not the task table."""

import datetime

from .deadlines import last_due_not_passed
from .models import InboxItem
from .services import escalate_overdue_task, withdraw_unanswered_return
from .steps import REVIEW_STEPS


def _overdue(now: datetime.datetime):
    # Every jurisdiction shares one time zone (claims.dates.local_zone): one "today" for the query.
    return InboxItem.objects.filter(due__lt=last_due_not_passed(now)).order_by("due", "task_id")


def withdraw_unanswered_returns(now: datetime.datetime) -> int:
    """Returned claims whose correction deadline passed: withdrawn (RULES: docs/rules.md, "Time limits")."""
    claim_ids = list(_overdue(now).filter(step="correction").values_list("claim_id", flat=True))
    return sum(withdraw_unanswered_return(claim_id=claim_id, now=now) for claim_id in claim_ids)


def escalate_overdue_reviews(now: datetime.datetime) -> int:
    """Review tasks past their due date, not yet escalated: escalated to the team lead."""
    task_ids = list(_overdue(now).filter(step__in=REVIEW_STEPS, escalated=False).values_list("task_id", flat=True))
    return sum(escalate_overdue_task(task_id=task_id, now=now) for task_id in task_ids)
