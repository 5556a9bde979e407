"""Handing work to a Celery worker, the one way the project does it.

The work is always findable from the data (an upload "received", a batch "releasing", an e-mail
"pending"), and a due job of the registry, the task's ``sweep``, finds what was left and hands it
over again. So a message that cannot be sent (Redis down) is logged, never raised: after a commit
the decision stands and the request must answer as it would have; the sweep does the work later.
A silent broker (no answer at all) is given up on after the socket timeouts of the settings, and
then not tried again for ``BROKER_REST``: a request never waits on it more than once.

``enqueue_after_commit`` is for services (the message goes once the transaction commits, not for
a rolled-back one); ``enqueue`` for the sweeps themselves. tests/test_lost_tasks.py checks that no
module sends a task any other way, and that every ``sweep`` named here is a registered due job."""

import logging
import time

from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# After the broker failed to take a message (refused, or silent until the socket timeouts of
# config/settings.py), this process does not try again for this long: a request that commits
# many changes (a bulk approval) waits on a silent broker once, not once per message.
BROKER_REST = 30.0  # seconds
_broker_failed_until = 0.0  # monotonic; shared by the process's threads


def broker_back() -> None:
    """Forget a failure of the broker: the next message is tried at once (tests, after Redis is back)."""
    global _broker_failed_until
    _broker_failed_until = 0.0


def enqueue(task, *args, sweep: str) -> bool:
    """Send ``task(*args)`` to the workers now. False (logged) if it could not be sent: the due
    job named ``sweep`` does the work later. (Eager Celery, ``make run``: the task runs here, and
    its failure is left to the sweep the same way.)"""
    global _broker_failed_until
    eager = task.app.conf.task_always_eager
    if not eager and time.monotonic() < _broker_failed_until:
        logger.warning("%s%r not enqueued (the broker failed just before); the due job %s will do it", task.name, args, sweep)
        return False
    try:
        task.delay(*args)
    except Exception as error:  # noqa: BLE001 - the broker is unreachable: the sweep will do it
        if isinstance(error, OperationalError) and not eager:
            _broker_failed_until = time.monotonic() + BROKER_REST
        logger.warning("%s%r not enqueued (%s); the due job %s will do it", task.name, args, error, sweep)
        return False
    return True


def enqueue_after_commit(task, *args, sweep: str) -> None:
    """Send ``task(*args)`` once the current transaction commits (at once outside one)."""

    def send() -> None:  # a named function: Django's robust on_commit logs callbacks by __qualname__
        enqueue(task, *args, sweep=sweep)

    transaction.on_commit(send, robust=True)
