"""The occupation table (national occupational classification codes) and the certificate's issuer.

A claim line's occupation was free text; it becomes a reference to the table. Lines already in
the database keep what they said: each distinct text (compared as claims.occupations.occupation_key
compares) names the occupation of that key if the table has one, else becomes an inactive
placeholder occupation coded UNCLASSIFIED-0001…, for an administrator to map to its real code;
new lines can only name active occupations. Migrating back writes each line's occupation name.

Three migrations (schema, data in 0007, the old column dropped in 0008): PostgreSQL alters no
table in a transaction that has changed its rows."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0005_pricing_units_and_conditions"),
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
        migrations.RenameField(model_name="claimline", old_name="occupation", new_name="occupation_text"),
        # A default only so that migrating back (0008) can add the column again to a table with rows.
        migrations.AlterField(
            model_name="claimline",
            name="occupation_text",
            field=models.CharField(default="", max_length=100, verbose_name="职业（工种）"),
        ),
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
    ]
