"""Resident ID numbers are personal data: kept encrypted, found by keyed hash, shown masked."""

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet
from django.conf import settings


def id_number_digest(id_number: str) -> str:
    """Keyed hash used to find a person without storing the number in the clear."""
    key = settings.PII_HASH_KEY.encode()
    return hmac.new(key, id_number.strip().upper().encode(), hashlib.sha256).hexdigest()


def mask_id_number(id_number: str) -> str:
    """110105********002X: region and the last four only."""
    value = id_number.strip().upper()
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def _fernet() -> Fernet:
    key = hashlib.sha256(settings.PII_ENCRYPTION_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_id_number(id_number: str) -> str:
    return _fernet().encrypt(id_number.strip().upper().encode()).decode()


def decrypt_id_number(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
