"""The inbox read model (models.InboxItem) and the duties table (models.ClaimDuty), written here only.

``refresh_inbox(claim)`` makes a claim's rows what its process says: one inbox row per open human
task, and a duty row per done task of a person. The services call it in the transaction of every
change of a task (sync_claim_status after each transition, take, withdraw); the claims app tells
of a change of a claim's lines (claims.signals.claim_lines_changed: its total and flags), and
``refresh_figures`` updates the figures of its open rows. So the inbox is never behind the process,
and neither are the notifications that asked someone to act on a task (settled here when it no
longer asks it of them).
"""

from django.db.models import Count, Q
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import STATUS

from claims.models import Claim
from notifications.services import settle_task_notifications

from .deadlines import Deadlines, due_date, passed_at
from .flows import ClaimFlow
from .models import ClaimDuty, InboxItem
from .selectors import OPEN_STATUSES, flagged_line_count, node
from .steps import HUMAN_STEPS, STEPS

ITEM_FIELDS = (
    "claim",
    "step",
    "status",
    "owner",
    "jurisdiction",
    "department",
    "provider",
    "claim_number",
    "class_name",
    "submitted",
    "amount",
    "flagged_lines",
    "created",
    "due",
    "resubmitted",
    "changes",
    "duties",
    "escalated",
)


def step_nodes(names) -> list:
    return [node(name) for name in names]


def refresh_inbox(claim: Claim) -> list[Task]:
    """The claim's inbox rows and duties as its process stands (a handful of queries). Returns
    its open human tasks, newest first, with their owners: what the caller's status and
    notifications read, not read again."""
    if claim.process_id is None:
        return []
    tasks = list(Task.objects.filter(process_id=claim.process_id, flow_task__in=step_nodes(STEPS)).select_related("owner"))
    open_tasks = [task for task in tasks if task.status in OPEN_STATUSES and task.flow_task.name in HUMAN_STEPS]
    # Who was asked to act on a task that no longer asks it of them (taken by another, done) is told no more.
    settle_task_notifications(claim_id=claim.pk, open_tasks={task.pk: (task.owner_id, task.assigned) for task in open_tasks})
    done = [task for task in tasks if task.status == STATUS.DONE]
    stale = InboxItem.objects.filter(claim_id=claim.pk)
    if open_tasks:
        stale = stale.exclude(task_id__in=[task.pk for task in open_tasks])
    stale.delete()
    duties = {(task.owner_id, STEPS[task.flow_task.name].duty) for task in done if task.owner_id}
    if open_tasks:
        resubmitted = any(task.flow_task.name == "correction" for task in done)
        changes = (
            review_changes(Process.objects.filter(pk=claim.process_id).values_list("data", flat=True).first())
            if resubmitted
            else {}
        )
        flagged = flagged_line_count(claim)
        InboxItem.objects.bulk_create(
            [
                InboxItem.of_task(task, claim, flagged_lines=flagged, resubmitted=resubmitted, changes=changes, duties=duties)
                for task in open_tasks
            ],
            update_conflicts=True,
            unique_fields=["task"],
            update_fields=[name for name in ITEM_FIELDS if name != "claim"],
        )
    if duties:
        ClaimDuty.objects.bulk_create(
            [ClaimDuty(claim_id=claim.pk, user_id=user_id, duty=duty) for user_id, duty in duties], ignore_conflicts=True
        )
    return open_tasks


def review_changes(process_data: dict | None) -> dict:
    """What the last resubmission changed, as the process keeps it (ClaimProcess.review_changes)."""
    return (process_data or {}).get("review_changes") or {}


def refresh_figures(claim: Claim) -> None:
    """The claim's total and flagged lines on its open inbox rows (its lines changed)."""
    if claim.process_id is None:
        return  # a draft: no task yet
    InboxItem.objects.filter(claim_id=claim.pk).update(amount=claim.total, flagged_lines=flagged_line_count(claim))


def refresh_due_dates(*, jurisdiction_id: int | None = None, steps=None, dates=None, batch_size: int = 2000) -> int:
    """The due dates of the open inbox rows again, after an administrator changed what they are
    counted from, so that every page, the API and the timers keep reading one stored date: rows
    of this jurisdiction (all when None), of these steps (a time limit changed; all when None),
    and, when ``dates`` (days whose override changed) are given, only rows those days can move:
    started before the last of them and due on or after the first (a day outside a row's
    interval is not counted by it). Returns the rows whose date changed."""
    rows = InboxItem.objects.only("pk", "created", "step", "jurisdiction_id", "due").order_by("pk")
    if jurisdiction_id is not None:
        rows = rows.filter(jurisdiction_id=jurisdiction_id)
    if steps is not None:
        rows = rows.filter(step__in=list(steps))
    if dates:
        rows = rows.filter(due__gte=min(dates), created__lt=passed_at(max(dates)))
    deadlines, changed = Deadlines(), []
    for item in rows.iterator(chunk_size=batch_size):
        due = due_date(item.created, item.step, item.jurisdiction_id, deadlines=deadlines)
        if due != item.due:
            item.due = due
            changed.append(item)
    InboxItem.objects.bulk_update(changed, ["due"], batch_size=batch_size)
    return len(changed)


def on_claim_lines_changed(sender, *, claim: Claim, **kwargs) -> None:
    """The claims app's signal (claims/signals.py): a claim's lines and total changed."""
    refresh_figures(claim)


def rebuild_inbox(*, batch_size: int = 2000) -> tuple[int, int]:
    """Every duty and inbox row again from the tasks (a deployment adding them, or a check):
    set-based, in batches, never a query per claim. Returns (rows, duties) written."""
    duties = 0
    done = (
        Task.objects.filter(
            status=STATUS.DONE, owner__isnull=False, flow_task__in=step_nodes(STEPS), process__claim__isnull=False
        )
        .values_list("process__claim", "owner_id", "flow_task")
        .order_by()
        .distinct()
    )
    batch = []
    for claim_id, owner_id, flow_task in done.iterator(chunk_size=batch_size):
        batch.append(ClaimDuty(claim_id=claim_id, user_id=owner_id, duty=STEPS[flow_task.name].duty))
        if len(batch) >= batch_size:
            duties += len(ClaimDuty.objects.bulk_create(batch, ignore_conflicts=True))
            batch = []
    duties += len(ClaimDuty.objects.bulk_create(batch, ignore_conflicts=True))

    InboxItem.objects.all().delete()
    open_tasks = (
        Task.objects.filter(status__in=OPEN_STATUSES, flow_task__in=step_nodes(HUMAN_STEPS), process__claim__isnull=False)
        .select_related("process__claim")
        .order_by("pk")
    )
    corrected = set(
        Task.objects.filter(status=STATUS.DONE, flow_task=ClaimFlow.correction)
        .filter(process_id__in=open_tasks.values("process_id"))
        .values_list("process_id", flat=True)
    )
    flagged = dict(
        Claim.objects.filter(process__in=open_tasks.values("process_id"))
        .annotate(n=Count("lines", filter=~Q(lines__flags=[])))
        .values_list("pk", "n")
    )
    duties_of_claim: dict[int, set] = {}
    open_duties = ClaimDuty.objects.filter(claim__process__in=open_tasks.values("process_id"))
    for claim_id, user_id, duty in open_duties.values_list("claim_id", "user_id", "duty").iterator(chunk_size=batch_size):
        duties_of_claim.setdefault(claim_id, set()).add((user_id, duty))
    rows = 0
    batch = []
    deadlines = Deadlines()  # each jurisdiction's calendar read once for the whole rebuild
    for task in open_tasks.iterator(chunk_size=batch_size):
        claim = task.process.claim
        batch.append(
            InboxItem.of_task(
                task,
                claim,
                flagged_lines=flagged.get(claim.pk, 0),
                resubmitted=task.process_id in corrected,
                changes=review_changes(task.process.data),
                duties=duties_of_claim.get(claim.pk, ()),
                deadlines=deadlines,
            )
        )
        if len(batch) >= batch_size:
            rows += len(InboxItem.objects.bulk_create(batch))
            batch = []
    rows += len(InboxItem.objects.bulk_create(batch))
    return rows, duties


def inbox_drift() -> list[int]:
    """The claims whose inbox rows differ from their process (for tests and a consistency check):
    an open human task without its row, or a row without its open task."""
    open_tasks = Task.objects.filter(status__in=OPEN_STATUSES, flow_task__in=step_nodes(HUMAN_STEPS))
    missing = open_tasks.filter(inbox_item__isnull=True).values_list("process__claim", flat=True)
    orphaned = InboxItem.objects.filter(~Q(task__status__in=OPEN_STATUSES)).values_list("claim_id", flat=True)
    return sorted(set(missing) | set(orphaned))
