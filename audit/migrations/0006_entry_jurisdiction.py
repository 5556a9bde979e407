"""AuditEvent.jurisdiction_id: whose entry it is, so every read of the ledger can be scoped to the
reader's jurisdictions. New entries get it when recorded (audit.services._jurisdiction_reference);
the entries written before are filled by the apps that know their objects (the ledger knows no
claims): claims/migrations/0010 and payments/migrations/0003, through audit.backfill."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_claim_id_without_foreign_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="jurisdiction_id",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["jurisdiction_id", "seq"], name="audit_event_jurisdiction_seq"),
        ),
    ]
