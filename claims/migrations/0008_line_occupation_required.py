"""The line's occupation is required; its old text column goes (claims/0007 moved it into the table).
A migration of its own: PostgreSQL alters no table in the transaction that rewrote its rows."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0007_occupations_from_line_text"),
    ]

    operations = [
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
