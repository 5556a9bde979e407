"""A line keeps its pricing explanation in English too (explanation_en), as a flag keeps its
message: until now only the Chinese was kept, and English pages and API answers showed it.

Existing lines get their English where it can be had exactly: a line priced at nothing has
the flag its pricing raised, whose message is the explanation and whose message_en is its
English; any other line is priced again from what it holds (its inputs, the catalogue
versions, its claim's other lines for a per-enterprise cap) by claims.pricing, and the English
is taken only when the Chinese rendered again is the one stored, word for word. The others
keep an empty English and are shown in Chinese (ClaimLine.localized_explanation)."""

from django.db import migrations, models, transaction

CLAIMS_AT_ONCE = 500


def _version_book(policy_version_model, policy_id):
    """The versions of the standard and of the standards it is based on (claims.pricing.versions_for, read here with
    this migration's models)."""
    from claims.pricing import VersionBook

    versions, loaded, wanted = [], set(), {policy_id}
    while wanted:
        batch = list(policy_version_model.objects.filter(policy_id__in=wanted).select_related("policy", "base_policy"))
        versions += batch
        loaded |= wanted
        wanted = {version.base_policy_id for version in batch if version.base_policy_id} - loaded
    return VersionBook(versions, policy_ids=loaded)


def _english_of(claim, lines, book) -> dict:
    from claims.pricing import EXPLANATION_MAX_LENGTH, price_lines

    english = {}
    for line in lines:
        for flag in line.flags or []:
            if flag.get("message") == line.explanation and flag.get("message_en"):
                english[line.pk] = flag["message_en"][:EXPLANATION_MAX_LENGTH]
    if all(line.pk in english for line in lines):
        return english
    try:
        with transaction.atomic():  # a savepoint: whatever fails here leaves the migration's transaction usable
            priced = price_lines(policy=claim.policy, lines=lines, versions=book)
    except Exception:  # noqa: BLE001 - the pricing of a later release may not read rows of this one: Chinese only
        return english
    for line, price in zip(lines, priced, strict=True):
        if line.pk not in english and price.explanation == line.explanation:
            english[line.pk] = price.explanation_en
    return english


def fill_english_explanations(apps, schema_editor):
    claim_model = apps.get_model("claims", "Claim")
    line_model = apps.get_model("claims", "ClaimLine")
    policy_version_model = apps.get_model("claims", "PolicyVersion")
    waiting = line_model.objects.filter(explanation_en="").exclude(explanation="")
    claims = claim_model.objects.filter(pk__in=waiting.values("claim_id")).select_related("policy").order_by("pk")
    books, filled = {}, []
    for claim in claims.iterator(chunk_size=CLAIMS_AT_ONCE):
        if claim.policy_id not in books:
            books[claim.policy_id] = _version_book(policy_version_model, claim.policy_id)
        lines = list(line_model.objects.filter(claim_id=claim.pk).order_by("line_no"))
        english = _english_of(claim, lines, books[claim.policy_id])
        for line in lines:
            if english.get(line.pk):
                line.explanation_en = english[line.pk]
                filled.append(line)
        if len(filled) >= CLAIMS_AT_ONCE:
            line_model.objects.bulk_update(filled, ["explanation_en"])
            filled = []
    line_model.objects.bulk_update(filled, ["explanation_en"])


class Migration(migrations.Migration):
    dependencies = [("claims", "0019_drop_trainee_name")]

    operations = [
        migrations.AddField(
            model_name="claimline",
            name="explanation_en",
            field=models.CharField(blank=True, max_length=300, verbose_name="计算说明（英文）"),
        ),
        migrations.RunPython(fill_english_explanations, migrations.RunPython.noop),
    ]
