"""Resident ID numbers are personal data: kept encrypted, found by keyed hash, shown masked.
Bank account numbers are kept encrypted too (payments); the ledger records their keyed hash.

Every field holding a ciphertext of this module is named ``…_encrypted`` (ENCRYPTED_SUFFIX):
rotate_personal_data_keys finds them by that name, in every app."""

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.core import checks

from .validators import normalize_resident_id

ENCRYPTED_SUFFIX = "_encrypted"


def id_number_digest(id_number: str) -> str:
    """Keyed hash used to find a person without storing the number in the clear, of the number's
    one spelling (validators.normalize_resident_id), whoever typed it how."""
    key = settings.PII_HASH_KEY.encode()
    return hmac.new(key, normalize_resident_id(id_number).encode(), hashlib.sha256).hexdigest()


def name_digest(name: str) -> str:
    """Keyed hash of a person's name as typed: whether it changed, without keeping it."""
    return hmac.new(settings.PII_HASH_KEY.encode(), name.encode(), hashlib.sha256).hexdigest()


# What a bank account number's digest is of: the purpose first, so that it never equals the
# digest of an ID number or a name with the same characters.
ACCOUNT_NUMBER_PURPOSE = "bank-account-number:"


def account_number_digest(number: str) -> str:
    """Keyed hash of a bank account number (its digits), for the ledger: the masked number keeps
    the first and last four only, so two accounts alike there read the same; their digests tell
    them apart without the number (PII_HASH_KEY: a digest recorded before a rotation of the key
    compares with those of its own time)."""
    message = (ACCOUNT_NUMBER_PURPOSE + number).encode()
    return hmac.new(settings.PII_HASH_KEY.encode(), message, hashlib.sha256).hexdigest()


def mask_id_number(id_number: str) -> str:
    """110105********002X: region and the last four only."""
    value = id_number.strip().upper()
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def _fernet_of(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


def _fernet() -> MultiFernet:
    """PII_ENCRYPTION_KEY encrypts; while keys are rotated, the former ones
    (PII_ENCRYPTION_KEY_FALLBACKS) still decrypt what they encrypted."""
    keys = [settings.PII_ENCRYPTION_KEY, *settings.PII_ENCRYPTION_KEY_FALLBACKS]
    return MultiFernet([_fernet_of(key) for key in keys])


def encrypt_id_number(id_number: str) -> str:
    return _fernet().encrypt(id_number.strip().upper().encode()).decode()


def decrypt_id_number(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def reencrypt(token: str) -> str:
    """The same secret, encrypted with the current key (whichever key encrypted it before)."""
    return _fernet().rotate(token.encode()).decode()


def check_keys_set(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """`check --deploy`: keys derived from SECRET_KEY would tie every stored ID number to it,
    so rotating SECRET_KEY would make them unreadable and people unfindable."""
    if not settings.PII_KEYS_FROM_SECRET_KEY:
        return []
    return [
        checks.Warning(
            "PII_HASH_KEY and PII_ENCRYPTION_KEY are derived from SECRET_KEY.",
            hint="Set both explicitly (README, 'Running in production'): rotating SECRET_KEY would orphan stored personal data.",
            id="claims.W001",
        )
    ]
