"""Rotating the ledger's signing key (README, "Running in production"): checkpoints are never
re-signed; those signed with the former key stay checkable once its verifier key is listed in
AUDIT_RETIRED_VERIFIER_KEYS, and fail without it."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth.models import Group
from django.db import transaction

from audit import signing
from audit.checkpoints import LedgerBroken, sign_checkpoint, verify_ledger
from audit.services import record_event

from .audit_support import audit_key, ledger_test_actions  # noqa: F401 - fixtures


def append_event(n: int) -> None:
    subject, _created = Group.objects.get_or_create(name="rotation-test")
    with transaction.atomic():
        record_event(actor=None, action="test.event", obj=subject, detail={"n": n})


def test_checkpoints_of_a_retired_key_are_checked_with_it(audit_key, ledger_test_actions, db, settings):  # noqa: F811
    append_event(1)
    before_rotation = sign_checkpoint()
    former = audit_key.verifier
    settings.AUDIT_SIGNING_KEY = signing.new_seed_text()  # the rotation: a new key signs from now on
    append_event(2)

    # The former key not listed: its checkpoint fails, and the new key signs nothing over it.
    unknown = verify_ledger()
    assert unknown["ok"] is False and unknown["first_bad_checkpoint"]["id"] == before_rotation.pk
    with pytest.raises(LedgerBroken, match="not signed by"):
        sign_checkpoint()

    settings.AUDIT_RETIRED_VERIFIER_KEYS = [former.text]
    after_rotation = sign_checkpoint()
    assert after_rotation.key_id != before_rotation.key_id
    assert verify_ledger()["ok"] is True

    # A retired key vouches only for what it signed: a stranger's key of the same name does not pass.
    stranger = signing.Signer(name=former.name, private_key=Ed25519PrivateKey.generate())
    settings.AUDIT_RETIRED_VERIFIER_KEYS = [stranger.verifier.text]
    assert [failure["id"] for failure in verify_ledger()["checkpoint_failures"]] == [before_rotation.pk]
