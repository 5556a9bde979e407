"""The jurisdiction of the ledger entries written before entries carried one (audit 0006): those
of a claim, of a jurisdiction, provider, department, standard, standard version or roster upload."""

from django.db import migrations

from audit import backfill


def fill(apps, schema_editor):
    backfill.fill(
        schema_editor,
        [
            backfill.by_claim(),
            backfill.by_object("claims.jurisdiction", "SELECT t.id FROM claims_jurisdiction t WHERE CAST(t.id AS TEXT) = {object_id}"),
            *(
                backfill.by_object(
                    f"claims.{model}", f"SELECT t.jurisdiction_id FROM claims_{model} t WHERE CAST(t.id AS TEXT) = {{object_id}}"
                )
                for model in ("provider", "department", "subsidypolicy")
            ),
            backfill.by_object(
                "claims.policyversion",
                "SELECT p.jurisdiction_id FROM claims_policyversion t JOIN claims_subsidypolicy p ON p.id = t.policy_id "
                "WHERE CAST(t.id AS TEXT) = {object_id}",
            ),
            backfill.by_object(
                "claims.rosterupload",
                "SELECT p.jurisdiction_id FROM claims_rosterupload t JOIN claims_provider p ON p.id = t.provider_id "
                "WHERE CAST(t.id AS TEXT) = {object_id}",
            ),
        ],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0009_claim_enterprise_payee"),
        ("audit", "0006_entry_jurisdiction"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop, elidable=True)]
