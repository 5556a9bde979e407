"""Who had set the account a transfer pays (PayeeAccount.updated_by, copied when the batch is
built): that person may not release the batch (payments/access.py: require_not_account_setter).

Batches built before and not yet released get it from the payee's account as it is now, where it
is still the very account the transfer pays (the same encrypted number, copied at the build)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

NOT_RELEASED = ("built", "releasing")


def fill(apps, schema_editor):
    transfer = apps.get_model("payments", "Transfer")
    account = apps.get_model("payments", "PayeeAccount")
    changed = []
    for item in transfer.objects.filter(batch__status__in=NOT_RELEASED).iterator(chunk_size=2000):
        owner = {
            "provider": {"provider_id": item.provider_id},
            "trainee": {"trainee_id": item.trainee_id},
            "enterprise": {"enterprise_credit_code": item.enterprise_credit_code},
        }[item.payee_kind]
        current = account.objects.filter(**owner).first()
        if current is not None and current.account_number_encrypted == item.account_number_encrypted:
            item.account_set_by_id = current.updated_by_id
            changed.append(item)
    transfer.objects.bulk_update(changed, ["account_set_by"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0007_one_receipt_per_voucher"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="transfer",
            name="account_set_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
