from django.db import connection
from viewflow.workflow import lock


class ClaimFlowLock:
    """Row lock on the process (SELECT … FOR UPDATE) on PostgreSQL.

    SQLite has no row locks: there the services' conditional UPDATE of the task
    row (status NEW/ASSIGNED → STARTED) is what lets only one actor win.
    """

    def __call__(self, flow_class, process_pk):
        if connection.vendor == "postgresql":
            return lock.select_for_update_lock(flow_class, process_pk)
        return lock.no_lock(flow_class, process_pk)
