from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery
from django.db.models.functions import TruncDate


def claimed_at_first_submission(apps, schema_editor):
    """Lines already submitted: claimed at their claim's (first) submission, local date, as N2 counted until now."""
    claim_model, line_model = apps.get_model("claims", "Claim"), apps.get_model("claims", "ClaimLine")
    submitted_on = (
        claim_model.objects.filter(pk=OuterRef("claim_id"))
        .annotate(on=TruncDate("submitted_at", tzinfo=ZoneInfo(settings.TIME_ZONE)))
        .values("on")[:1]
    )
    line_model.objects.filter(claim__submitted_at__isnull=False).update(claimed_on=Subquery(submitted_on))


class Migration(migrations.Migration):
    dependencies = [("claims", "0016_certificate_keys_ignore_dashes")]

    operations = [
        migrations.AddField(
            model_name="claimline",
            name="claimed_on",
            field=models.DateField(blank=True, editable=False, null=True, verbose_name="申领日期"),
        ),
        migrations.RunPython(claimed_at_first_submission, migrations.RunPython.noop, elidable=True),
    ]
