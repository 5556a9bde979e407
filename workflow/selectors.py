"""Reads for the inbox: tasks the user may see or act on, always within their claim scope."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from claims.errors import NotInScope
from claims.inputs import HEADER_FIELDS
from claims.keyset import BadCursor as BadCursor  # the pages and the API catch it here
from claims.keyset import after, bounded_count, decode_cursor, encode_cursor
from claims.line_fields import LINE_FIELDS
from claims.models import ClaimStatus, Level, LineDecision
from claims.personal_data import name_digest
from claims.selectors import claims_visible_to, scope_ids

from .deadlines import Deadlines
from .flows import ClaimFlow
from .models import InboxItem
from .policy import above_hr_head_threshold, delegators_of, steps_of_user
from .steps import HUMAN_STEPS, STEPS, Scope

OPEN_STATUSES = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)
# The inboxes' order, and their keyset: oldest first.
INBOX_ORDER = ("created", "task_id")


def node(step_name: str):
    return getattr(ClaimFlow, step_name)


def step_of(task: Task):
    return STEPS[task.flow_task.name]


TASK_RELATED = ("owner", "process__claim__provider", "process__claim__department")


def tasks_visible_to(user) -> QuerySet:
    """Human tasks of the claims the user can see (any status), and the open tasks they may act
    on today as someone's substitute (Delegation)."""
    visible = Q(process__claim__in=claims_visible_to(user))
    if delegators_of(user):
        visible |= Q(pk__in=delegated_items(user).values("task_id"))
    return (
        Task.objects.filter(visible, flow_task__in=[node(n) for n in HUMAN_STEPS])
        .select_related(*TASK_RELATED)
        .order_by("created", "pk")
    )


def get_task_for_user(*, user, task_id) -> Task:
    """A human task of a claim the user can see. An open task of the user's own steps and scope
    (what a person acting asks for) is found by its inbox row, an index lookup; any other by the
    visibility query."""
    try:
        task_id = int(task_id)
        if team_items(user).filter(task_id=task_id).exists():
            return Task.objects.select_related(*TASK_RELATED).get(pk=task_id)
        return tasks_visible_to(user).get(pk=task_id)
    except (Task.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotInScope() from None


def process_of_task_for_user(*, user, task_id) -> int:
    """The process of a task get_task_for_user finds, in one read and without the task itself:
    a service acting on it locks the process first and reads the task as it is under the lock."""
    try:
        task_id = int(task_id)
        process_id = team_items(user).order_by().filter(task_id=task_id).values_list("task__process_id", flat=True).first()
        if process_id is None:
            process_id = tasks_visible_to(user).values_list("process_id", flat=True).get(pk=task_id)
        return process_id
    except (Task.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotInScope() from None


SCOPE_COLUMN = {
    Scope.PROVIDER: "provider_id__in",
    Scope.DEPARTMENT: "department_id__in",
    Scope.JURISDICTION: "jurisdiction_id__in",
}


ALL_DUTIES = frozenset(step.duty for step in STEPS.values())


def _in_scope(user, *, segregated: bool, acting=None) -> Q:
    """Inbox rows of the user's steps in each step's scope: an index range per step
    (InboxItem's indexes). ``segregated``: without the claims where the user (and ``acting``,
    their substitute, if given) did another duty (RULES N4), a filter on each row read (its
    ``duties``), never a join with anyone's history."""
    ids = scope_ids(user)
    condition = Q(pk__in=[])
    people = [user] + ([acting] if acting is not None else [])
    for name in steps_of_user(user):
        step = STEPS[name]
        in_step = Q(step=name, **{SCOPE_COLUMN[step.scope]: ids[step.scope]})
        if segregated:
            for person in people:
                for duty in sorted(ALL_DUTIES - {step.duty}):
                    in_step &= ~Q(duties__contains=InboxItem.duty_token(person.pk, duty))
        condition |= in_step
    return condition


def team_items(user) -> QuerySet:
    """Open tasks of the user's steps and scope, whoever holds them (what the team has on its plate)."""
    return InboxItem.objects.filter(_in_scope(user, segregated=False)).order_by(*INBOX_ORDER)


def actionable_items(user) -> QuerySet:
    """Open tasks the user may take or decide: their role's steps, in scope, unassigned or
    assigned to them, and not on a claim where they already did another duty; and those they
    may act on today as a substitute (delegated_items)."""
    condition = _in_scope(user, segregated=True) & (Q(owner__isnull=True) | Q(owner=user))
    condition |= _delegated(user)
    return InboxItem.objects.filter(condition, status__in=(STATUS.NEW, STATUS.ASSIGNED)).order_by(*INBOX_ORDER)


def _delegated(user) -> Q:
    """Rows the user may act on for the people who named them substitute for today: those
    people's steps in their scope, held by nobody, by them or by the user, on claims where
    neither did another duty (policy.acting_principal decides the same for one task)."""
    condition = Q(pk__in=[])
    for delegator in delegators_of(user):
        condition |= _in_scope(delegator, segregated=True, acting=user) & (Q(owner__isnull=True) | Q(owner__in=[user, delegator]))
    return condition


def delegated_items(user) -> QuerySet:
    """Open tasks the user may act on today only as someone's substitute."""
    return InboxItem.objects.filter(_delegated(user), status__in=(STATUS.NEW, STATUS.ASSIGNED)).order_by(*INBOX_ORDER)


def delegated_task_notifications(user) -> Q | None:
    """The user's notifications of the open tasks they may act on today as someone's substitute
    (tasks_visible_to's second part): their bell lists them while the delegation lasts, beside
    those about the claims they see (notifications.selectors, registered in workflow/apps.py)."""
    if not delegators_of(user):
        return None
    return Q(task_id__in=delegated_items(user).values("task_id"))


def actionable_tasks(user) -> QuerySet:
    """The tasks of ``actionable_items``, for a check on one task or a short list."""
    return Task.objects.filter(pk__in=actionable_items(user).values("task_id")).order_by("created", "pk")


@dataclass(frozen=True)
class InboxPage:
    items: list
    next_cursor: str | None  # the keyset of the page after this one, or None at the end
    count: int  # rows in the list, exact up to claims.keyset.COUNT_BOUND
    count_capped: bool  # True: there are more than ``count``


def inbox_page(
    items: QuerySet, *, cursor: str | None, size: int, order: tuple[str, ...] = INBOX_ORDER, nullable=frozenset()
) -> InboxPage:
    """One page of an inbox list in ``order`` (the inbox's own, or a sort of inbox_filters.SORTS),
    after ``cursor`` (keyset: rows after the last one read, never an OFFSET), with the list's
    bounded count (claims.keyset.bounded_count). A cursor this list and order did not write raises BadCursor."""
    page_rows = items.order_by(*order)
    if cursor:
        keys = decode_cursor(cursor, queryset=items, order=order)
        page_rows = page_rows.filter(after(order, keys, nullable=frozenset(nullable)))
    rows = list(page_rows.select_related("owner", "provider", "department")[: size + 1])
    count, capped = bounded_count(items)
    next_cursor = None
    if len(rows) > size:
        last = rows[size - 1]
        next_cursor = encode_cursor([getattr(last, name.lstrip("-")) for name in order], queryset=items, order=order)
    return InboxPage(items=rows[:size], next_cursor=next_cursor, count=count, count_capped=capped)


def flagged_line_count(claim) -> int:
    """The claim's lines with a flag (overridden or not), as the inbox shows them."""
    return claim.lines.exclude(flags=[]).count()


def task_item(task: Task) -> InboxItem:
    """The task as an inbox row: its own row while open, else one built from the task (a done
    task read by id), so that every task is shown in one shape."""
    item = InboxItem.objects.select_related("owner").filter(task_id=task.pk).first()
    if item is not None:
        return item
    claim = task.process.claim
    return InboxItem.of_task(task, claim, flagged_lines=flagged_line_count(claim))


def open_task_of_claim(claim):
    if claim.process_id is None:
        return None
    return (
        Task.objects.filter(process_id=claim.process_id, status__in=OPEN_STATUSES, flow_task__in=[node(n) for n in HUMAN_STEPS])
        .select_related("owner")
        .first()
    )


def with_open_step(claims: QuerySet) -> QuerySet:
    """Annotate each claim with its open human task (``open_task_id``, ``open_flow_task``) in the same query."""
    open_tasks = Task.objects.filter(
        process_id=OuterRef("process_id"), status__in=OPEN_STATUSES, flow_task__in=[node(n) for n in HUMAN_STEPS]
    ).order_by("pk")
    return claims.annotate(
        open_task_id=Subquery(open_tasks.values("pk")[:1]),
        open_flow_task=Subquery(open_tasks.values("flow_task")[:1]),
    )


def claim_content(claim) -> dict:
    """What the provider may change on a returned claim, as plain JSON (kept on its process when
    it is returned, compared at resubmission by policy.changes_outside_fix): the department, the
    standard, the header fields, and each line's fields (claims.line_fields) and amount by line
    number. The trainee is kept by its key, the name by its keyed digest: no personal data in the process."""
    lines = {}
    for line in claim.lines.order_by("line_no"):
        values = {}
        for spec in LINE_FIELDS:
            if spec.name == "id_number":
                values["id_number"] = line.trainee_id
            elif spec.name == "name":
                values["name"] = name_digest(line.name)
            elif spec.stored_as == "":
                values[spec.name] = _plain(spec.stored_value(line))
        values["amount"] = _plain(line.amount)
        lines[str(line.line_no)] = values
    return {
        "department": claim.department.code,
        "policy": claim.policy.code,
        **{spec.name: _plain(getattr(claim, spec.name)) for spec in HEADER_FIELDS},
        "enterprise_name": claim.enterprise_name,
        "enterprise_credit_code": claim.enterprise_credit_code,
        "lines": lines,
        "total": _plain(claim.total),  # what the claim would pay as it stands (not a field anyone changes)
    }


def _plain(value):
    """A field's value as JSON keeps it: dates in ISO form, amounts as text."""
    if isinstance(value, datetime.date | Decimal):
        return str(value)
    return value


# --- deadlines as the pages show them --------------------------------------------------------------


def mark_due(items, *, now: datetime.datetime | None = None) -> list:
    """Each open inbox row with ``due_state`` (deadlines.DueState: due soon, overdue or on time),
    counted on its jurisdiction's calendar (one read per jurisdiction for the list)."""
    deadlines = Deadlines()
    for item in items:
        open_now = item.status in OPEN_STATUSES
        item.due_state = deadlines.state(item.due, item.jurisdiction_id, now=now) if open_now else ""
    return items


@dataclass(frozen=True)
class StepTime:
    """One human step a claim went through: when it reached the step, when it left, who did it,
    how many working days it took against its time limit (the claim page)."""

    step: str
    label: str
    owner: object
    created: datetime.datetime
    finished: datetime.datetime | None
    working_days: int  # taken so far when still open
    limit: int
    due: datetime.date | None
    status: str


def step_times(claim) -> list[StepTime]:
    """The claim's human steps in order, from viewflow's tasks (created, finished), each with the
    working days it took on the jurisdiction's calendar (deadlines.Deadlines.took)."""
    if claim.process_id is None:
        return []
    deadlines = Deadlines()
    now = timezone.now()
    due_of = dict(InboxItem.objects.filter(claim_id=claim.pk).values_list("task_id", "due"))
    times = []
    tasks = (
        Task.objects.filter(process_id=claim.process_id, flow_task__in=[node(n) for n in HUMAN_STEPS])
        .exclude(status=STATUS.CANCELED, owner__isnull=True, finished__isnull=True)
        .select_related("owner")
        .order_by("created", "pk")
    )
    for task in tasks:
        name = task.flow_task.name
        times.append(
            StepTime(
                step=name,
                label=STEPS[name].label,
                owner=task.owner,
                created=task.created,
                finished=task.finished,
                working_days=deadlines.took(task.created, task.finished or now, claim.jurisdiction_id),
                limit=deadlines.working_days(name, claim.jurisdiction_id),
                due=due_of.get(task.pk),
                status=str(task.status),
            )
        )
    return times


# --- a claim's figures (the claim and task pages) ------------------------------------------------


@dataclass
class LineSummary:
    """The claim's lines of one standard and one level: how many, how many flagged, what they
    claim and what is approved of it (every line not rejected: what the claim's total counts)."""

    key: str  # a stable token for the page's anchors
    policy: object  # the standard (SubsidyPolicy)
    level: str
    level_label: str
    lines: list
    count: int = 0
    flagged: int = 0
    rejected: int = 0
    claimed: Decimal = Decimal("0.00")
    approved: Decimal = Decimal("0.00")


@dataclass
class ClaimFigures:
    summary: list  # LineSummary, by standard then level (lowest first)
    count: int
    flagged: int
    rejected: int
    claimed: Decimal  # every line's amount
    approved: Decimal  # the claim's total: the lines not rejected
    threshold: Decimal  # the jurisdiction's HR-head threshold (policy.above_hr_head_threshold)
    above_threshold: bool
    # Why the HR head approves it or not: "at_head" (HR's approval found the total over the
    # threshold), "needed" / "not_needed" (where HR's approval will send it), "" (decided already).
    hr_head: str


# Statuses in which HR's approval is still to come (policy.needs_hr_head will then decide).
_BEFORE_HR_APPROVAL = (ClaimStatus.DRAFT, ClaimStatus.DEPARTMENT_REVIEW, ClaimStatus.HR_REVIEW, ClaimStatus.RETURNED)


def claim_figures(claim, lines: list) -> ClaimFigures:
    """What the claim page sums up from the lines it already read (no query of its own but the
    jurisdiction, which the page's claim holds): totals by standard and level, flagged and
    rejected lines, claimed and approved totals, and why (or whether) the HR head approves it."""
    levels = {value: index for index, value in enumerate(Level.values)}
    groups: dict[tuple, LineSummary] = {}
    for line in lines:
        policy = line.policy_version.policy if line.policy_version_id else claim.policy
        key = (policy.pk, line.level)
        group = groups.get(key)
        if group is None:
            group = groups[key] = LineSummary(
                key=f"{policy.code}-{line.level}", policy=policy, level=line.level, level_label=line.get_level_display(), lines=[]
            )
        group.lines.append(line)
        group.count += 1
        group.claimed += line.amount
        if line.flags:
            group.flagged += 1
        if line.decision == LineDecision.REJECT:
            group.rejected += 1
        else:
            group.approved += line.amount
    summary = sorted(groups.values(), key=lambda g: (g.policy.code, levels.get(g.level, len(levels))))
    above = above_hr_head_threshold(claim)
    if claim.status == ClaimStatus.HR_HEAD_APPROVAL:
        hr_head = "at_head"
    elif claim.status in _BEFORE_HR_APPROVAL:
        hr_head = "needed" if above else "not_needed"
    else:
        hr_head = ""  # decided: the step times and the history say who approved it
    return ClaimFigures(
        summary=summary,
        count=len(lines),
        flagged=sum(group.flagged for group in summary),
        rejected=sum(group.rejected for group in summary),
        claimed=sum((group.claimed for group in summary), Decimal("0.00")),
        approved=sum((group.approved for group in summary), Decimal("0.00")),
        threshold=claim.jurisdiction.hr_head_threshold,
        above_threshold=above,
        hr_head=hr_head,
    )
