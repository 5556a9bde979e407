from django.db import connection
from viewflow.workflow import lock


class ClaimFlowLock:
    """Row lock on the process (SELECT … FOR UPDATE) on PostgreSQL.

    The lock waits (no NOWAIT): the services take it inside their own transaction, where
    viewflow's default ``select_for_update_lock`` (NOWAIT, retried in a savepoint) cannot
    retry: the failed NOWAIT aborts the outer transaction, so whoever came second got a
    database error instead of a clean "step already taken" (tests/test_concurrency.py).

    SQLite has no row locks: there the services' conditional UPDATE of the task
    row (status NEW/ASSIGNED → STARTED) is what lets only one actor win.
    """

    postgres_lock = lock.SelectForUpdateLock(nowait=False, attempts=1)

    def __call__(self, flow_class, process_pk):
        if connection.vendor == "postgresql":
            return self.postgres_lock(flow_class, process_pk)
        return lock.no_lock(flow_class, process_pk)
