"""Re-encrypt every stored ciphertext of personal data with the current PII_ENCRYPTION_KEY and
recompute every trainee's ID-number digest with the current PII_HASH_KEY, in one transaction
(README, "Running in production": rotating keys).

Run with the new keys in PII_ENCRYPTION_KEY and PII_HASH_KEY and the former encryption key in
PII_ENCRYPTION_KEY_FALLBACKS, while no web or worker process runs: a process still on the former
hash key would not find people by their new digests. A ciphertext no configured key decrypts
stops it, and nothing is changed."""

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from claims.models import Trainee
from claims.personal_data import ENCRYPTED_SUFFIX, decrypt_id_number, id_number_digest, reencrypt


def encrypted_fields() -> dict:
    """Model → the names of its fields holding personal-data ciphertexts, in every app."""
    found = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        names = [field.name for field in model._meta.concrete_fields if field.name.endswith(ENCRYPTED_SUFFIX)]
        if names:
            found[model] = names
    return found


def rotate_model(model, names: list[str], batch: int) -> int:
    recompute_digest = model is Trainee
    written = [*names, "id_number_digest"] if recompute_digest else names
    pending, count = [], 0
    people: dict[str, int] = {}  # digest → the trainee it is now (one person, one row)
    for row in model.objects.select_for_update().only("pk", *written).order_by("pk").iterator(chunk_size=batch):
        for name in names:
            token = getattr(row, name)
            if not token:
                continue
            try:
                setattr(row, name, reencrypt(token))
            except InvalidToken as error:
                raise CommandError(
                    f"{model._meta.label}#{row.pk}.{name}: no configured key decrypts it "
                    "(set PII_ENCRYPTION_KEY_FALLBACKS to the former PII_ENCRYPTION_KEY); nothing was changed"
                ) from error
        if recompute_digest:
            row.id_number_digest = id_number_digest(decrypt_id_number(row.id_number_encrypted))
            twin = people.setdefault(row.id_number_digest, row.pk)
            if twin != row.pk:
                # Stored before an ID number had one spelling (validators.normalize_resident_id:
                # full-width digits): two rows of one person, for an administrator to merge.
                raise CommandError(
                    f"Trainee#{twin} and Trainee#{row.pk} hold one ID number written two ways; "
                    "merge their claims onto one of them first; nothing was changed"
                )
        pending.append(row)
        if len(pending) >= batch:
            model.objects.bulk_update(pending, written)
            count, pending = count + len(pending), []
    if pending:
        model.objects.bulk_update(pending, written)
    return count + len(pending)


class Command(BaseCommand):
    help = "Re-encrypt stored personal data with the current PII_ENCRYPTION_KEY and recompute digests with PII_HASH_KEY."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=1000, help="rows read and written at a time")

    def handle(self, *args, batch, **options):
        with transaction.atomic():
            counts = {model._meta.label: rotate_model(model, names, batch) for model, names in encrypted_fields().items()}
        for label, count in sorted(counts.items()):
            self.stdout.write(f"{label}: {count} rows re-encrypted")
        self.stdout.write("Trainee digests recomputed with the current PII_HASH_KEY.")
