"""On PostgreSQL, triggers refuse UPDATE and DELETE of ledger entries and checkpoints.

Row-level BEFORE triggers: every UPDATE or DELETE statement that touches a row fails,
whoever runs it (the table owner included, unless they first ALTER TABLE … DISABLE
TRIGGER, which is itself a visible DDL act). What is done then: a changed payload breaks the
chain and the signed checkpoints' roots; a changed copied column (actor, reason, claim_id,
jurisdiction_id…) leaves both intact, and the verification's check of the columns against the
payload names it (audit/copies.py).

TRUNCATE is not refused: Django's test runner empties tables between transactional
tests with ``TRUNCATE … CASCADE``, and a statement-level TRUNCATE trigger would break
it. Only the table owner (or a role granted TRUNCATE) can truncate; production runs
the application as a role that does not own the tables, and a truncated ledger no
longer matches any signed checkpoint.

SQLite has no such protection (it is the embedded development database).
"""

from django.db import migrations

PROTECTED_TABLES = ("audit_auditevent", "audit_checkpoint")

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = 'ledger entries and checkpoints are never changed or deleted; record a new entry instead';
END
$$;
"""

CREATE_TRIGGER = """
CREATE TRIGGER {table}_append_only
BEFORE UPDATE OR DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
"""

DROP_TRIGGER = "DROP TRIGGER IF EXISTS {table}_append_only ON {table};"
DROP_FUNCTION = "DROP FUNCTION IF EXISTS audit_refuse_change();"


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE_FUNCTION, None)  # None: psycopg must not read RAISE's % as parameters
    for table in PROTECTED_TABLES:
        schema_editor.execute(CREATE_TRIGGER.format(table=table))


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in PROTECTED_TABLES:
        schema_editor.execute(DROP_TRIGGER.format(table=table))
    schema_editor.execute(DROP_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_checkpoints")]

    operations = [migrations.RunPython(create_triggers, drop_triggers, elidable=False)]
