"""When the account a transfer pays was set (PayeeAccount.updated_at, copied when the batch is
built, with who set it): the releaser is shown it when the payee was last paid into another
account (payments/selectors/batches.py: changed_accounts).

Batches built before and not yet released get it from the payee's account as it is now, where it
is still the very account the transfer pays (as 0008 did for who set it)."""

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
            item.account_set_at = current.updated_at
            changed.append(item)
    transfer.objects.bulk_update(changed, ["account_set_at"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [("payments", "0008_transfer_account_set_by")]

    operations = [
        migrations.AddField(model_name="transfer", name="account_set_at", field=models.DateTimeField(blank=True, null=True)),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
