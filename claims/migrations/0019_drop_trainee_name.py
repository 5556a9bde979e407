from django.db import migrations, models


class Migration(migrations.Migration):
    """A person keeps no name (each line and class place keeps its own, 0018). Reversible: the
    column comes back empty (the migration tests step back through it)."""

    dependencies = [
        ("claims", "0018_line_and_class_place_names"),
    ]

    operations = [
        # A default first, so that stepping back adds the column to existing rows.
        migrations.AlterField(model_name="trainee", name="name", field=models.CharField(max_length=50, default="", blank=True)),
        migrations.RemoveField(model_name="trainee", name="name"),
    ]
