"""The inbox's rows carry the claim's class name and first submission (shown, searched, sorted on)
and what the last resubmission changed; the rows already there get the first two from their claim
(one set-based UPDATE; what a past resubmission changed was not kept: from now on)."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_from_claims(apps, schema_editor):
    InboxItem, Claim = apps.get_model("claim_workflow", "InboxItem"), apps.get_model("claims", "Claim")
    claim = Claim.objects.filter(pk=OuterRef("claim_id"))
    InboxItem.objects.update(
        class_name=Subquery(claim.values("class_name")[:1]), submitted=Subquery(claim.values("submitted_at")[:1])
    )


class Migration(migrations.Migration):

    dependencies = [
        ('claim_workflow', '0008_public_notice_objections'),
    ]

    operations = [
        migrations.AddField(
            model_name='inboxitem',
            name='changes',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='inboxitem',
            name='class_name',
            field=models.CharField(blank=True, default='', max_length=200),
        ),
        migrations.AddField(
            model_name='inboxitem',
            name='submitted',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(fill_from_claims, migrations.RunPython.noop),
    ]
