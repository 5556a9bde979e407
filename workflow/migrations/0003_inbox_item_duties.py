from django.db import migrations, models


def fill_duties(apps, schema_editor):
    """The open rows' duties from ClaimDuty, as InboxItem.duty_tokens writes them."""
    InboxItem = apps.get_model("claim_workflow", "InboxItem")
    ClaimDuty = apps.get_model("claim_workflow", "ClaimDuty")
    open_claims = InboxItem.objects.values("claim_id")
    duties: dict[int, set] = {}
    for claim_id, user_id, duty in ClaimDuty.objects.filter(claim_id__in=open_claims).values_list("claim_id", "user_id", "duty"):
        duties.setdefault(claim_id, set()).add((user_id, duty))
    for claim_id, pairs in duties.items():
        tokens = "".join(f",{user_id}:{duty}," for user_id, duty in sorted(pairs))
        InboxItem.objects.filter(claim_id=claim_id).update(duties=tokens)


class Migration(migrations.Migration):
    dependencies = [
        ("claim_workflow", "0002_inbox_and_duties"),
    ]

    operations = [
        migrations.AddField(
            model_name="inboxitem",
            name="duties",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(fill_duties, migrations.RunPython.noop),
    ]
