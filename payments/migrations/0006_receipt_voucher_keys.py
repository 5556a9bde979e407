"""A recovery receipt's voucher number, as compared, and its jurisdiction: one bank voucher is
one receipt of the jurisdiction (the constraint follows in 0007, once every row has a key).

A receipt recorded again before (the same voucher in its jurisdiction) keeps no key: it stays
as it was counted, and the migration never fails on it."""

import django.db.models.deletion
from django.db import migrations, models

BATCH = 2000


def fill(apps, schema_editor):
    from claims.validators import number_key

    receipt = apps.get_model("payments", "RecoveryReceipt")
    taken = set()
    changed = []
    rows = receipt.objects.order_by("pk").values_list("pk", "reference", "order__claim_line__claim__jurisdiction_id")
    for pk, reference, jurisdiction_id in rows.iterator(chunk_size=BATCH):
        voucher = (jurisdiction_id, number_key(reference))
        changed.append(receipt(pk=pk, jurisdiction_id=jurisdiction_id, reference_key=None if voucher in taken else voucher[1]))
        taken.add(voucher)
    receipt.objects.bulk_update(changed, ["jurisdiction", "reference_key"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0005_transfer_result_file"),
        ("claims", "0019_drop_trainee_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="recoveryreceipt",
            name="jurisdiction",
            field=models.ForeignKey(
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="claims.jurisdiction",
            ),
        ),
        migrations.AddField(
            model_name="recoveryreceipt",
            name="reference_key",
            field=models.CharField(editable=False, max_length=120, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
