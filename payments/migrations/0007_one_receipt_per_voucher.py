"""Every receipt has its jurisdiction (0006), and a bank voucher is recorded once in it."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("payments", "0006_receipt_voucher_keys")]

    operations = [
        migrations.AlterField(
            model_name="recoveryreceipt",
            name="jurisdiction",
            field=models.ForeignKey(
                editable=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="claims.jurisdiction"
            ),
        ),
        migrations.AddConstraint(
            model_name="recoveryreceipt",
            constraint=models.UniqueConstraint(fields=("jurisdiction", "reference_key"), name="one_receipt_per_voucher"),
        ),
    ]
