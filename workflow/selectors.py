"""Reads for the inbox: tasks the user may see or act on, always within their claim scope."""

from django.db.models import OuterRef, Q, QuerySet, Subquery
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from claims import roles
from claims.errors import NotInScope
from claims.selectors import claims_visible_to, jurisdictions_overseen_by
from workflow.flows import ClaimFlow
from workflow.steps import STEPS

OPEN_STATUSES = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)
HUMAN_STEPS = [name for name in STEPS if name != "submit"]


def node(step_name: str):
    return getattr(ClaimFlow, step_name)


def step_of(task: Task):
    return STEPS[task.flow_task.name]


def tasks_visible_to(user) -> QuerySet:
    """Human tasks of the claims the user can see (any status)."""
    return (
        Task.objects.filter(process__claim__in=claims_visible_to(user), flow_task__in=[node(n) for n in HUMAN_STEPS])
        .select_related("owner", "process__claim__provider", "process__claim__department")
        .order_by("created", "pk")
    )


def get_task_for_user(*, user, task_id) -> Task:
    try:
        return tasks_visible_to(user).get(pk=task_id)
    except (Task.DoesNotExist, ValueError, TypeError):
        raise NotInScope("Not found.") from None


def _steps_for(user) -> list[str]:
    user_roles = roles.roles_of(user)
    return [name for name in HUMAN_STEPS if STEPS[name].role in user_roles]


def duties_done_by(*, user, process_id) -> set[str]:
    """The duties this person has already performed on one claim (N4, Art. 25)."""
    done = Task.objects.filter(process_id=process_id, owner=user, status=STATUS.DONE)
    return {STEPS[task.flow_task.name].duty for task in done if task.flow_task and task.flow_task.name in STEPS}


def processes_with_other_duties(user, step_name: str) -> QuerySet:
    """Processes where this user performed a duty other than the step's own."""
    duty = STEPS[step_name].duty
    other_duty_nodes = [node(name) for name, step in STEPS.items() if step.duty != duty]
    return Task.objects.filter(owner=user, status=STATUS.DONE, flow_task__in=other_duty_nodes).values("process_id")


def actionable_tasks(user) -> QuerySet:
    """Open tasks the user may take or decide: their role's steps, in scope, unassigned or
    assigned to them, and not on a claim where they already did another duty."""
    condition = Q(pk__in=[])
    for step_name in _steps_for(user):
        condition |= Q(flow_task=node(step_name)) & ~Q(process_id__in=processes_with_other_duties(user, step_name))
    return (
        tasks_visible_to(user)
        .filter(condition, status__in=(STATUS.NEW, STATUS.ASSIGNED))
        .filter(Q(owner__isnull=True) | Q(owner=user))
    )


def my_tasks(user) -> QuerySet:
    return actionable_tasks(user).filter(owner=user)


def team_queue(user) -> QuerySet:
    """Open tasks of the user's steps and scope, whoever holds them (what the team has on its plate)."""
    steps = [node(name) for name in _steps_for(user)]
    return tasks_visible_to(user).filter(flow_task__in=steps, status__in=OPEN_STATUSES)


def open_task_of_claim(claim):
    if claim.process_id is None:
        return None
    return (
        Task.objects.filter(process_id=claim.process_id, status__in=OPEN_STATUSES, flow_task__in=[node(n) for n in HUMAN_STEPS])
        .select_related("owner")
        .first()
    )


def user_in_step_scope(*, user, step_name: str, claim) -> bool:
    """Scope for acting (not just seeing): the provider's clerks, the department's reviewers,
    the jurisdiction's HR and finance staff."""
    if step_name in ("submit", "correction"):
        return user.has_perm("claims.change_claim", claim)
    if step_name == "department_review":
        return user.has_perm("claims.review_claim", claim)
    return jurisdictions_overseen_by(user).filter(pk=claim.jurisdiction_id).exists()


def with_open_step(claims: QuerySet) -> QuerySet:
    """Annotate each claim with its open human task (``open_task_id``, ``open_flow_task``) in the same query."""
    open_tasks = Task.objects.filter(
        process_id=OuterRef("process_id"), status__in=OPEN_STATUSES, flow_task__in=[node(n) for n in HUMAN_STEPS]
    ).order_by("pk")
    return claims.annotate(
        open_task_id=Subquery(open_tasks.values("pk")[:1]),
        open_flow_task=Subquery(open_tasks.values("flow_task")[:1]),
    )
