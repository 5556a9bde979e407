"""What identifies a certificate (the CERT_DUP rule, claims/eligibility.py): its issuer and number.

Numbers and issuers are compared normalised (``certificate_key``): full-width and half-width
forms are one (NFKC), spaces, dashes and invisible characters anywhere are ignored, letters in
any case. The issuer is optional
on a line (API contract v1 had none): a line without one has the "unknown issuer", and then its
certificate is identified by number and certificate type instead. So two lines name the same
certificate when their numbers are equal and either they are the same person's, or their issuers
are equal, or one of them has no issuer and their certificate types are equal (docs/rules.md,
CERT_DUP). A continuation of
the certificate (an S3 renewal keeps its number) is another payment: once per renewal date.

Two claims naming one certificate, submitted at the same moment, are checked one after the
other: ``lock_certificates`` takes a PostgreSQL advisory lock per certificate number for the
rest of the transaction (SQLite serialises writers already).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from .advisory_locks import hold_advisory_locks, lock_id
from .validators import number_key

UNKNOWN_ISSUER = ""  # a line that does not say who issued its certificate
# The first key of the two-key advisory locks taken here: no other lock of ours uses it (the
# ledger's locks take the one-key form).
CERTIFICATE_LOCK_CLASS = 0x43455254  # "CERT"


def certificate_key(text: str) -> str:
    """ "T-2026-0001", "ｔ－２０２６－０００１", " t 2026 0001 ", "T20260001" and "T–2026‐0001" are one key."""
    return number_key(text)


@dataclass(frozen=True)
class Certificate:
    number: str  # certificate_key of the number
    issuer: str  # certificate_key of the issuer; UNKNOWN_ISSUER when not given
    type: str  # CertificateType
    # What is paid for: "" the certificate itself; a continuation of it (an S3 renewal, 复审,
    # keeps the certificate's number) is paid once per continuation: "renewal 2026-05-01".
    occasion: str = ""
    # The person the line is for: one person's certificates with one number are one certificate,
    # however the issuer or the type is written (a second spelling must not pay it twice).
    holder: int | None = None

    @classmethod
    def of(cls, *, number: str, issuer: str, type: str, occasion: str = "", holder: int | None = None) -> "Certificate":
        return cls(certificate_key(number), certificate_key(issuer), type, occasion, holder)

    def same_as(self, other: "Certificate") -> bool:
        if self.number != other.number or self.occasion != other.occasion:
            return False
        if self.holder is not None and self.holder == other.holder:
            return True
        if self.issuer == UNKNOWN_ISSUER or other.issuer == UNKNOWN_ISSUER:
            return self.type == other.type
        return self.issuer == other.issuer


class CertificateIndex:
    """Certificates, each with what names where it was claimed (a line number, a claim number),
    by number and occasion: ``where_claimed`` compares a certificate with those of its number
    only, so checking every line of a claim against the others is linear in its lines, not
    quadratic (a claim may hold 20,000 lines)."""

    def __init__(self, entries: Iterable[tuple[Certificate, object]] = ()):
        self._by_number: dict[tuple[str, str], list[tuple[Certificate, object]]] = defaultdict(list)
        for certificate, where in entries:
            self.add(certificate, where)

    def add(self, certificate: Certificate, where) -> None:
        self._by_number[(certificate.number, certificate.occasion)].append((certificate, where))

    def where_claimed(self, certificate: Certificate) -> list:
        """Where the same certificate (Certificate.same_as) was claimed, in the order added."""
        candidates = self._by_number.get((certificate.number, certificate.occasion), ())
        return [where for other, where in candidates if other.same_as(certificate)]


def certificate_lock_id(number_key: str) -> int:
    """The second key of the advisory lock on a certificate number."""
    return lock_id(number_key)


def lock_certificates(number_keys: Iterable[str]) -> None:
    """Hold, until the transaction ends, a lock on each certificate number: whoever checks a
    certificate with one of these numbers next waits; after the claim's people
    (eligibility.lock_trainees)."""
    hold_advisory_locks(CERTIFICATE_LOCK_CLASS, number_keys)
