"""The stored certificate keys again, now that dashes and invisible characters are ignored too
(claims.certificates.certificate_key): lines, issued certificates and registry entries are found
by one key per number whatever was typed."""

from django.db import migrations

BATCH = 2000


def _rekey(model, source: str, target: str, key) -> None:
    changed = []
    for row in model.objects.only("pk", source, target).iterator(chunk_size=BATCH):
        new = key(getattr(row, source))
        if new != getattr(row, target):
            setattr(row, target, new)
            changed.append(row)
    model.objects.bulk_update(changed, [target], batch_size=BATCH)


def rekey(apps, schema_editor):
    from claims.certificates import certificate_key

    _rekey(apps.get_model("claims", "ClaimLine"), "certificate_number", "certificate_key", certificate_key)
    _rekey(apps.get_model("claims", "RegistryEntry"), "number", "number_key", certificate_key)
    # One body's certificate per key (a unique constraint): a second row whose number now has the
    # key of another of that body's keeps its old key, so the migration never fails on it.
    issued = apps.get_model("claims", "IssuedCertificate")
    taken = set(issued.objects.values_list("body_id", "number_key"))
    changed = []
    for row in issued.objects.only("pk", "body_id", "number", "number_key").order_by("pk").iterator(chunk_size=BATCH):
        new = certificate_key(row.number)
        if new != row.number_key and (row.body_id, new) not in taken:
            taken.discard((row.body_id, row.number_key))
            taken.add((row.body_id, new))
            row.number_key = new
            changed.append(row)
    issued.objects.bulk_update(changed, ["number_key"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [("claims", "0015_public_notice")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop, elidable=True)]
