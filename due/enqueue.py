"""Handing work to a Celery worker, the one way the project does it.

The work is always findable from the data (an upload "received", a batch "releasing", an e-mail
"pending"), and a due job of the registry, the task's ``sweep``, finds what was left and hands it
over again. So a message that cannot be sent (Redis down) is logged, never raised: after a commit
the decision stands and the request must answer as it would have; the sweep does the work later.

``enqueue_after_commit`` is for services (the message goes once the transaction commits, not for
a rolled-back one); ``enqueue`` for the sweeps themselves. tests/test_lost_tasks.py checks that no
module sends a task any other way, and that every ``sweep`` named here is a registered due job."""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(task, *args, sweep: str) -> bool:
    """Send ``task(*args)`` to the workers now. False (logged) if it could not be sent: the due
    job named ``sweep`` does the work later. (Eager Celery, ``make run``: the task runs here, and
    its failure is left to the sweep the same way.)"""
    try:
        task.delay(*args)
    except Exception as error:  # noqa: BLE001 - the broker is unreachable: the sweep will do it
        logger.warning("%s%r not enqueued (%s); the due job %s will do it", task.name, args, error, sweep)
        return False
    return True


def enqueue_after_commit(task, *args, sweep: str) -> None:
    """Send ``task(*args)`` once the current transaction commits (at once outside one)."""

    def send() -> None:  # a named function: Django's robust on_commit logs callbacks by __qualname__
        enqueue(task, *args, sweep=sweep)

    transaction.on_commit(send, robust=True)
