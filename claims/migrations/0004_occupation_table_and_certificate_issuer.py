"""The occupation table (national occupational classification codes) and the certificate's issuer.

A claim line's occupation was free text; it becomes a reference to the table. Lines already in
the database keep what they said: each distinct text (compared as claims.occupations.occupation_key
compares) becomes an inactive placeholder occupation coded UNCLASSIFIED-0001…, for an administrator
to map to its real code; new lines can only name active occupations."""

import unicodedata

import django.db.models.deletion
from django.db import migrations, models


def _key(text):
    return "".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


def occupations_from_text(apps, schema_editor):
    ClaimLine = apps.get_model("claims", "ClaimLine")
    Occupation = apps.get_model("claims", "Occupation")
    OccupationKey = apps.get_model("claims", "OccupationKey")
    by_key = {}
    for text in ClaimLine.objects.order_by("occupation_text").values_list("occupation_text", flat=True).distinct():
        key = _key(text)
        if key not in by_key:
            occupation = Occupation.objects.create(
                code=f"UNCLASSIFIED-{len(by_key) + 1:04d}", name=text.strip() or "?", aliases=[], active=False
            )
            OccupationKey.objects.create(key=key or occupation.code, occupation=occupation)
            by_key[key] = occupation
        ClaimLine.objects.filter(occupation_text=text).update(occupation=by_key[key])


def certificate_keys(apps, schema_editor):
    ClaimLine = apps.get_model("claims", "ClaimLine")
    for line in ClaimLine.objects.only("pk", "certificate_number").iterator():
        key = "".join(unicodedata.normalize("NFKC", line.certificate_number or "").split()).upper()
        ClaimLine.objects.filter(pk=line.pk).update(certificate_key=key)


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0004_policy_version_demo_only"),
    ]

    operations = [
        migrations.CreateModel(
            name="Occupation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.CharField(max_length=30, unique=True, verbose_name="职业编码")),
                ("name", models.CharField(max_length=100, verbose_name="职业（工种）名称")),
                ("aliases", models.JSONField(blank=True, default=list, verbose_name="别名")),
                ("active", models.BooleanField(default=True, verbose_name="启用")),
            ],
            options={
                "verbose_name": "职业（工种）",
                "verbose_name_plural": "职业（工种）",
                "ordering": ["code"],
            },
        ),
        migrations.CreateModel(
            name="OccupationKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=100, unique=True)),
                (
                    "occupation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="keys", to="claims.occupation"
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="claimline",
            name="certificate_issuer",
            field=models.CharField(blank=True, max_length=100, verbose_name="发证机构"),
        ),
        migrations.AddField(
            model_name="claimline",
            name="certificate_key",
            field=models.CharField(blank=True, db_index=True, editable=False, max_length=120),
        ),
        migrations.RunPython(certificate_keys, migrations.RunPython.noop),
        migrations.RenameField(model_name="claimline", old_name="occupation", new_name="occupation_text"),
        migrations.AddField(
            model_name="claimline",
            name="occupation",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="claims.occupation",
                verbose_name="职业（工种）",
            ),
        ),
        migrations.RunPython(occupations_from_text, migrations.RunPython.noop),
        migrations.RemoveField(model_name="claimline", name="occupation_text"),
        migrations.AlterField(
            model_name="claimline",
            name="occupation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="claims.occupation",
                verbose_name="职业（工种）",
            ),
        ),
    ]
