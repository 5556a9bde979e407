"""A claim line and a class's roster place keep the name typed on them. Until now both read the
person's (Trainee) name, which is one record per ID number across every provider: a clerk typing
an ID number was shown the name another provider had typed. Existing rows get the name they
showed until now, their person's."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_names(apps, schema_editor):
    trainee = apps.get_model("claims", "Trainee")
    name_of_trainee = Subquery(trainee.objects.filter(pk=OuterRef("trainee_id")).values("name")[:1])
    # One UPDATE per table, however many rows.
    for model_name in ("ClaimLine", "ClassTrainee"):
        apps.get_model("claims", model_name).objects.update(name=name_of_trainee)


class Migration(migrations.Migration):
    dependencies = [("claims", "0017_line_claimed_on")]

    operations = [
        migrations.AddField(
            model_name="claimline",
            name="name",
            field=models.CharField(default="", max_length=50, verbose_name="姓名"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="classtrainee",
            name="name",
            field=models.CharField(default="", max_length=50, verbose_name="姓名"),
            preserve_default=False,
        ),
        migrations.RunPython(fill_names, migrations.RunPython.noop),
    ]
