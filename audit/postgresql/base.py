"""Django's PostgreSQL backend, and the flush that lets ledger appends share the disk's syncs.

An append to the ledger holds the ledger's lock from reading the chain's head until its
transaction commits (audit/services.py, _lock_ledger_and_read_head), so that chain order is commit order. A
synchronous commit includes flushing the WAL to disk (about a millisecond here), so appends
queued one at a time and no two of them could share one flush, as plain inserts do.

So the appending transaction commits asynchronously (synchronous_commit off, for it alone: the
lock is free once its commit is in the WAL), and the connection at once runs a one-statement
synchronous transaction, which returns only when the WAL is on disk up to it, and so up to the
append. That happens inside ``commit()``: before Django runs the transaction's on_commit hooks
(the Celery tasks it enqueues) and before the caller is told it committed. The flushes of
concurrent appenders are one disk sync. A server crash in the moment between the two loses that
transaction and every one after it (the WAL ends there, so the chain stays whole); never one whose
caller was told it committed.
"""

from django.db.backends.postgresql import base

# A transactional WAL message gives the flush's transaction an id and a commit record to wait for.
FLUSH_STATEMENT = "SELECT pg_logical_emit_message(true, 'claims.ledger.flush', '')"


class DatabaseWrapper(base.DatabaseWrapper):
    flushes_after_async_commit = True  # what _lock_ledger_and_read_head checks before it turns synchronous_commit off
    wal_flush_owed = False

    def _commit(self):
        super()._commit()
        if self.wal_flush_owed:
            self.wal_flush_owed = False
            with self.wrap_database_errors:
                self.connection.execute(FLUSH_STATEMENT)
                self.connection.commit()

    def _rollback(self):
        self.wal_flush_owed = False
        super()._rollback()
