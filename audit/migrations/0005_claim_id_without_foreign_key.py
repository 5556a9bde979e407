"""AuditEvent.claim, a foreign key to claims.Claim, becomes claim_id, a plain indexed integer.

The ledger is the ground floor: it must not depend on the claims app. The column keeps its
name (``claim_id``), its values, its single-column index and the (claim_id, seq) index; only
the foreign-key constraint goes. No row is updated, so the append-only triggers of
0004_append_only_triggers are not involved and every entry keeps its bytes: the hash chain
and the signed checkpoints still verify.

- The migration state swaps the field (RemoveField ``claim`` / AddField ``claim_id``, and the
  composite index is re-declared on the new field under the same name).
- The database: on PostgreSQL (and any backend that can drop a constraint in place) only
  ``ALTER TABLE … DROP CONSTRAINT`` of the foreign key, found by introspection. SQLite cannot
  drop a constraint: its schema editor rebuilds the table (CREATE TABLE new, INSERT … SELECT
  of every column unchanged, DROP, RENAME, the same indexes again); SQLite, the embedded
  development database, has no append-only triggers to refuse it.

Backwards, the foreign key is added again (PostgreSQL validates the rows, rewrites none).
"""

from django.db import migrations, models

TABLE = "audit_auditevent"
COLUMN = "claim_id"
INDEX = "audit_audit_claim_i_b26f7d_idx"


def _plain_claim_field(model) -> models.Field:
    """The column as an integer field: what the state declares after this migration."""
    field = models.PositiveBigIntegerField(null=True, blank=True, db_index=True, db_column=COLUMN)
    # Named "claim" like the field it replaces, so the rebuilt SQLite table keeps the
    # composite index, which the state before this migration declares on "claim".
    field.set_attributes_from_name("claim")
    field.model = model
    return field


def _claim_foreign_keys(schema_editor) -> list[str]:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return sorted(name for name, info in constraints.items() if info["foreign_key"] and info["columns"] == [COLUMN])


def drop_claim_foreign_key(apps, schema_editor):
    model = apps.get_model("audit", "AuditEvent")
    foreign_key = model._meta.get_field("claim")
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.alter_field(model, foreign_key, _plain_claim_field(model))
        return
    for name in _claim_foreign_keys(schema_editor):
        schema_editor.execute(schema_editor._delete_fk_sql(model, name))


def restore_claim_foreign_key(apps, schema_editor):
    model = apps.get_model("audit", "AuditEvent")
    foreign_key = model._meta.get_field("claim")
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.alter_field(model, _plain_claim_field(model), foreign_key)
        return
    if not _claim_foreign_keys(schema_editor):
        schema_editor.execute(schema_editor._create_fk_sql(model, foreign_key, "_fk_%(to_table)s_%(to_column)s"))


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_append_only_triggers"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(drop_claim_foreign_key, restore_claim_foreign_key, elidable=False),
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="auditevent", name=INDEX),
                migrations.RemoveField(model_name="auditevent", name="claim"),
                migrations.AddField(
                    model_name="auditevent",
                    name="claim_id",
                    field=models.PositiveBigIntegerField(blank=True, db_index=True, null=True),
                ),
                migrations.AddIndex(
                    model_name="auditevent",
                    index=models.Index(fields=["claim_id", "seq"], name=INDEX),
                ),
            ],
        ),
    ]
