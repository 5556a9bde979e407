"""Claims/0006's data: each line's occupation text resolved to the table (an inactive
UNCLASSIFIED-… placeholder for a text no occupation is known by), and the certificate keys."""

import unicodedata

from django.db import migrations


def _key(text):
    return "".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


def occupations_from_text(apps, schema_editor):
    """Each line's text names the occupation whose key it is, else a new inactive placeholder."""
    ClaimLine = apps.get_model("claims", "ClaimLine")
    Occupation = apps.get_model("claims", "Occupation")
    OccupationKey = apps.get_model("claims", "OccupationKey")
    texts = ClaimLine.objects.order_by("occupation_text").values_list("occupation_text", flat=True).distinct()
    for text in texts:
        key = _key(text) or "?"
        found = OccupationKey.objects.filter(key=key).select_related("occupation").first()
        if found is not None:
            occupation = found.occupation
        else:
            serial = Occupation.objects.filter(code__startswith="UNCLASSIFIED-").count() + 1
            occupation = Occupation.objects.create(
                code=f"UNCLASSIFIED-{serial:04d}", name=text.strip() or "?", aliases=[], active=False
            )
            OccupationKey.objects.create(key=key, occupation=occupation)
        ClaimLine.objects.filter(occupation_text=text).update(occupation=occupation)


def occupation_names_to_text(apps, schema_editor):
    """Back: each line's occupation written as its name."""
    ClaimLine = apps.get_model("claims", "ClaimLine")
    Occupation = apps.get_model("claims", "Occupation")
    for occupation in Occupation.objects.all():
        ClaimLine.objects.filter(occupation=occupation).update(occupation_text=occupation.name)


def certificate_keys(apps, schema_editor):
    ClaimLine = apps.get_model("claims", "ClaimLine")
    for line in ClaimLine.objects.only("pk", "certificate_number").iterator():
        key = "".join(unicodedata.normalize("NFKC", line.certificate_number or "").split()).upper()
        ClaimLine.objects.filter(pk=line.pk).update(certificate_key=key)


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0006_occupation_table_and_certificate_issuer"),
    ]

    operations = [
        migrations.RunPython(certificate_keys, migrations.RunPython.noop),
        migrations.RunPython(occupations_from_text, occupation_names_to_text),
    ]
