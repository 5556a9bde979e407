from django.db import transaction

from workflow.selectors import open_task_of_claim


def notify_open_tasks(*, claim) -> None:
    """After commit, tell the people who can act on the claim's open step."""
    task = open_task_of_claim(claim)
    if task is None:
        return
    from .tasks import notify_task_opened

    task_id = task.pk
    transaction.on_commit(lambda: notify_task_opened.delay(task_id))
