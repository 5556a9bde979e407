"""Rotating the personal-data keys (README, "Running in production"): after
`rotate_personal_data_keys` every ID and account number reads back with the new keys alone,
people are found by ID number with the new digest key (a new claim for them reuses their
trainee), and the former key no longer reads anything. Without the former key the rotation
stops and changes nothing."""

import pytest
from cryptography.fernet import InvalidToken
from django.core.management import CommandError, call_command
from django.test import override_settings

from claims.models import Trainee
from claims.personal_data import decrypt_id_number, id_number_digest
from claims.services import create_claim
from payments.models import PayeeAccount
from payments.services.payees import account_number_of, set_payee_account
from workflow.services import submit_claim

from .conftest import claim_data, line, resident_id

NEW_KEYS = {"PII_ENCRYPTION_KEY": "pii-enc-2027", "PII_HASH_KEY": "pii-hash-2027"}


def readable() -> tuple[dict, dict]:
    """Every stored ID number and account number, decrypted with the configured keys."""
    trainees = {row.pk: decrypt_id_number(row.id_number_encrypted) for row in Trainee.objects.all()}
    accounts = {row.pk: account_number_of(row) for row in PayeeAccount.objects.all()}
    return trainees, accounts


def quiet(*args, **options):
    call_command(*args, stdout=open("/dev/null", "w"), **options)


def test_after_rotation_the_new_keys_alone_read_and_find_everything(demo, settings):
    clerk = demo["provider_clerk"]
    claim = create_claim(user=clerk, data=claim_data())
    submit_claim(user=clerk, claim=claim)  # a person's card account is held in the name their submitted lines carry
    trainee = claim.lines.first().trainee
    set_payee_account(
        actor=None, trainee=trainee, account_name="张三", bank_name="温岭农商银行", account_number="6222000011112222"
    )
    before = readable()
    former_key = settings.PII_ENCRYPTION_KEY

    with override_settings(**NEW_KEYS, PII_ENCRYPTION_KEY_FALLBACKS=[former_key]):
        quiet("rotate_personal_data_keys", batch=1)  # one row at a time: the batching is exercised too

    with override_settings(**NEW_KEYS, PII_ENCRYPTION_KEY_FALLBACKS=[]):
        assert readable() == before
        number = before[0][trainee.pk]
        assert Trainee.objects.get(id_number_digest=id_number_digest(number)) == trainee
        # The same person in a new claim is the same trainee, found by the new digest.
        again = create_claim(
            user=clerk, data=claim_data(lines=[line(number, "张三", certificate_number="T-2026-0099")], class_name="复训班")
        )
        assert again.lines.get().trainee == trainee
    with pytest.raises(InvalidToken):
        decrypt_id_number(Trainee.objects.get(pk=trainee.pk).id_number_encrypted)  # the former key reads nothing now


def test_without_the_former_key_the_rotation_stops_and_changes_nothing(demo):
    create_claim(user=demo["provider_clerk"], data=claim_data(lines=[line(resident_id(7), "王五")]))
    stored = list(Trainee.objects.order_by("pk").values_list("id_number_digest", "id_number_encrypted"))
    with override_settings(**NEW_KEYS, PII_ENCRYPTION_KEY_FALLBACKS=[]):
        with pytest.raises(CommandError, match="no configured key decrypts it"):
            quiet("rotate_personal_data_keys")
    assert list(Trainee.objects.order_by("pk").values_list("id_number_digest", "id_number_encrypted")) == stored


def test_two_rows_of_one_person_stored_before_id_numbers_had_one_spelling_stop_the_rotation(demo):
    """A person once stored from full-width digits is a second row whose number now digests like
    the first's: the rotation names both for an administrator to merge, and changes nothing."""
    from claims.personal_data import encrypt_id_number, mask_id_number

    number = resident_id(8)
    create_claim(user=demo["provider_clerk"], data=claim_data(lines=[line(number, "王五")]))
    first = Trainee.objects.get(id_number_digest=id_number_digest(number))
    full_width = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    second = Trainee.objects.create(  # as stored before: its digest taken of the full-width text
        id_number_digest="old-" + first.id_number_digest[4:],
        id_number_masked=mask_id_number(number),
        id_number_encrypted=encrypt_id_number(full_width),
    )
    stored = list(Trainee.objects.order_by("pk").values_list("id_number_digest", "id_number_encrypted"))
    with pytest.raises(CommandError, match=f"Trainee#{first.pk} and Trainee#{second.pk}"):
        quiet("rotate_personal_data_keys")
    assert list(Trainee.objects.order_by("pk").values_list("id_number_digest", "id_number_encrypted")) == stored
