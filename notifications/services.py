"""Delivery of in-app notifications and their e-mail. Who is told what is decided above
(workflow/notify.py); this layer knows nothing of the process."""

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from .models import Notification


def notify_user(*, recipient, claim, task_id: int, message: str) -> Notification:
    """Idempotent: one notification per (recipient, task); e-mailed only once."""
    with transaction.atomic():
        notification, _created = Notification.objects.get_or_create(
            recipient=recipient, task_id=task_id, defaults={"claim": claim, "message": message}
        )
        notification = Notification.objects.select_for_update().get(pk=notification.pk)
        if notification.emailed_at is None and recipient.email:
            send_mail(message, message, None, [recipient.email])
            notification.emailed_at = timezone.now()
            notification.save(update_fields=["emailed_at"])
    return notification
