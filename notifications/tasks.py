import logging

from celery import shared_task
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from workflow.selectors import actionable_tasks
from workflow.steps import STEPS

from .models import Notification

logger = logging.getLogger(__name__)


def users_who_can_act(task: Task):
    step = STEPS[task.flow_task.name]
    candidates = get_user_model().objects.filter(is_active=True, groups__name=step.role).distinct()
    return [user for user in candidates if actionable_tasks(user).filter(pk=task.pk).exists()]


@shared_task(bind=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def notify_task_opened(self, task_id: int) -> int:
    """Idempotent: a notification per (recipient, task); e-mail only once per notification."""
    task = Task.objects.filter(pk=task_id, status__in=(STATUS.NEW, STATUS.ASSIGNED)).select_related("process__claim").first()
    if task is None:
        return 0
    claim = task.process.claim
    step = STEPS[task.flow_task.name]
    message = _("申领 %(number)s 待您处理：%(step)s") % {"number": claim.number, "step": step.label}
    sent = 0
    for user in users_who_can_act(task):
        with transaction.atomic():
            notification, _created = Notification.objects.get_or_create(
                recipient=user, task_id=task.pk, defaults={"claim": claim, "message": message}
            )
            notification = Notification.objects.select_for_update().get(pk=notification.pk)
            if notification.emailed_at is None and user.email:
                send_mail(message, message, None, [user.email])
                notification.emailed_at = timezone.now()
                notification.save(update_fields=["emailed_at"])
        sent += 1
    return sent
