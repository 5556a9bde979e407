"""Fewer indexes on the ledger, each of which every append maintains while it holds the ledger's
lock: claim_id alone (the (claim_id, seq) index serves every lookup by claim), and the
pattern-matching copies PostgreSQL gets of the hash and action indexes (nothing matches a hash
or an action by LIKE)."""

from django.db import migrations, models

LIKE_INDEXES = (
    ("audit_auditevent_hash_d0c402da_like", "hash"),
    ("audit_auditevent_action_2131bb77_like", "action"),
)


def drop_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, _column in LIKE_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def create_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, column in LIKE_INDEXES:
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON audit_auditevent ({column} varchar_pattern_ops)")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_entry_jurisdiction"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="claim_id",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(drop_like_indexes, create_like_indexes),
    ]
