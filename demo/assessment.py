"""The demo's assessment body (评价机构) and its signing key: it issues, signed, the demo claims'
certificates (seed_demo --with-claims), so that the demo's own certificates verify at their
source (claims/registry.py). A real body keeps its private key; the demo derives one from
SECRET_KEY so that every run of seed_demo signs with the same key."""

import datetime
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from claims.models import AssessmentBody, CertificateStatus, IssuedCertificate
from claims.registry import certificate_fields, public_key_hex, publish_signed_certificate

BODY_CODE = "WL-JDZX"
BODY_NAME = "温岭市职业技能鉴定指导中心（演示）"


def signing_key() -> Ed25519PrivateKey:
    seed = hashlib.sha256(b"demo assessment body signing key\x00" + settings.SECRET_KEY.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def ensure_body() -> AssessmentBody:
    """The demo body, with the public key of the demo's signing key."""
    body, _created = AssessmentBody.objects.update_or_create(
        code=BODY_CODE, defaults={"name": BODY_NAME, "public_key": public_key_hex(signing_key())}
    )
    return body


def issue(
    *,
    number: str,
    holder_name: str,
    holder_id_number: str,
    occupation_code: str = "6-31-01-03",
    level: str = "senior",
    certificate_type: str = "special_operation",
    certificate_date: datetime.date,
) -> IssuedCertificate:
    """The demo body issues a certificate (signed)."""
    return publish_signed_certificate(
        body=ensure_body(),
        signing_key=signing_key(),
        number=number,
        holder_name=holder_name,
        holder_id_number=holder_id_number,
        occupation_code=occupation_code,
        level=level,
        certificate_type=certificate_type,
        certificate_date=certificate_date,
    )


def revoke(record: IssuedCertificate, *, on: datetime.date) -> IssuedCertificate:
    """The demo body revokes a certificate: it publishes it again, re-signed, as revoked."""
    return publish_signed_certificate(
        body=record.body,
        signing_key=signing_key(),
        **{**certificate_fields(record), "status": CertificateStatus.REVOKED, "revoked_on": on},
    )
