import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("claims")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# E-mail waits on a queue of its own beside the default one (CELERY_QUEUE, "claims"), and every
# worker takes both in turn: a storm of notifications (a bulk approval, a deadline sweep) must not
# keep a batch's release or a roster's import waiting behind hundreds of messages.
MAIL_TASKS = frozenset({"notifications.tasks.deliver_emails"})


def mail_queue_of(default_queue: str) -> str:
    return f"{default_queue}.mail"


def route_task(name, args, kwargs, options, task=None, **kw):
    """The mail queue of whatever the default queue is when the task is sent (tests move it)."""
    if name in MAIL_TASKS:
        return {"queue": mail_queue_of(app.conf.task_default_queue)}
    return None


app.conf.task_routes = (route_task,)
# A worker started without -Q consumes every declared queue: the default one and its mail queue.
app.conf.task_queues = (
    Queue(app.conf.task_default_queue),
    Queue(mail_queue_of(app.conf.task_default_queue)),
)
