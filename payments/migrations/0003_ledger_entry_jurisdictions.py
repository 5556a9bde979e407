"""The jurisdiction of the ledger entries written before entries carried one (audit 0006): those
of a fund account, a plan, an allocation, a payment batch (their fund account's) and a provider's
payee account (its provider's). A trainee's or an enterprise's payee account belongs to none."""

from django.db import migrations

from audit import backfill

THROUGH_FUND_ACCOUNT = (
    "SELECT f.jurisdiction_id FROM payments_{model} t JOIN payments_fundaccount f ON f.id = t.fund_account_id "
    "WHERE CAST(t.id AS TEXT) = {{object_id}}"
)


def fill(apps, schema_editor):
    backfill.fill(
        schema_editor,
        [
            backfill.by_object(
                "payments.fundaccount", "SELECT t.jurisdiction_id FROM payments_fundaccount t WHERE CAST(t.id AS TEXT) = {object_id}"
            ),
            *(
                backfill.by_object(f"payments.{model}", THROUGH_FUND_ACCOUNT.format(model=model))
                for model in ("fundingplan", "allocation", "paymentbatch")
            ),
            backfill.by_object(
                "payments.payeeaccount",
                "SELECT p.jurisdiction_id FROM payments_payeeaccount t JOIN claims_provider p ON p.id = t.provider_id "
                "WHERE CAST(t.id AS TEXT) = {object_id}",
            ),
        ],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0002_enterprise_payee_accounts"),
        ("claims", "0010_ledger_entry_jurisdictions"),
        ("audit", "0006_entry_jurisdiction"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop, elidable=True)]
