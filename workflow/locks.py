from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction
from viewflow.workflow import lock
from viewflow.workflow.exceptions import FlowLockFailed


class ClaimFlowLock:
    """Row lock on the process (SELECT … FOR UPDATE) on PostgreSQL.

    The lock waits (no NOWAIT): the services take it inside their own transaction, where
    viewflow's default ``select_for_update_lock`` (NOWAIT, retried in a savepoint) cannot
    retry: the failed NOWAIT aborts the outer transaction, so whoever came second got a
    database error instead of a clean "step already taken" (tests/test_concurrency.py).

    No savepoint of its own (viewflow's lock opens one): an error under the lock rolls back the
    whole enclosing transaction all the same (``atomic(savepoint=False)`` marks it for rollback,
    so nothing before the error can be committed without what came after), and the savepoint's
    two statements were paid on every step of every claim.

    SQLite has no row locks: there the services' conditional UPDATE of the task
    row (status NEW/ASSIGNED → STARTED) is what lets only one actor win.
    """

    def __call__(self, flow_class, process_pk):
        if connection.vendor == "postgresql":
            return _process_row_lock(flow_class, process_pk)
        return lock.no_lock(flow_class, process_pk)


@contextmanager
def _process_row_lock(flow_class, process_pk):
    with transaction.atomic(savepoint=False):
        try:
            flow_class.process_class._default_manager.filter(pk=process_pk).select_for_update().exists()
        except DatabaseError as error:  # as viewflow's lock: the API answers 409 (api/errors.py)
            raise FlowLockFailed(f"Lock failed for {flow_class}") from error
        yield
