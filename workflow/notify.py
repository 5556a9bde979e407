"""Who is told when work reaches them: the workflow decides the recipients of a step (the
people the decision policy lets act on it); notifications/ delivers."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from notifications.services import notify_user

from .selectors import actionable_tasks, open_task_of_claim
from .steps import STEPS


def notify_open_tasks(*, claim) -> None:
    """After commit, tell the people who can act on the claim's open step (a Celery task)."""
    task = open_task_of_claim(claim)
    if task is None:
        return
    from .tasks import notify_task_opened  # tasks.py imports this module

    task_id = task.pk
    transaction.on_commit(lambda: notify_task_opened.delay(task_id))


def users_who_can_act(task: Task):
    step = STEPS[task.flow_task.name]
    candidates = get_user_model().objects.filter(is_active=True, groups__name=step.role).distinct()
    return [user for user in candidates if actionable_tasks(user).filter(pk=task.pk).exists()]


def notify_people_of_task(task_id: int) -> int:
    """One notification per person who may act on the task while it is open; idempotent."""
    task = Task.objects.filter(pk=task_id, status__in=(STATUS.NEW, STATUS.ASSIGNED)).select_related("process__claim").first()
    if task is None:
        return 0
    claim = task.process.claim
    message = _("申领 %(number)s 待您处理：%(step)s") % {"number": claim.number, "step": STEPS[task.flow_task.name].label}
    recipients = users_who_can_act(task)
    for user in recipients:
        notify_user(recipient=user, claim=claim, task_id=task.pk, message=message)
    return len(recipients)
