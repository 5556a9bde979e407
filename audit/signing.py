"""Ed25519 keys and C2SP signed notes (https://c2sp.org/signed-note) for ledger checkpoints
(https://c2sp.org/tlog-checkpoint).

A signed note is a text ending in a newline, a blank line, and signature lines
"— <key name> <base64(key id || signature)>". The Ed25519 signature covers the text,
its final newline included. key id = SHA-256(key name || 0x0A || 0x01 || public key)[:4];
a verifier key is shared as "<key name>+<hex key id>+<base64(0x01 || public key)>".

The signing key comes from settings: AUDIT_SIGNING_KEY (base64 of the 32-byte Ed25519
seed) or the file AUDIT_SIGNING_KEY_FILE holding the same. Signatures are checked with
AUDIT_VERIFIER_KEY when set (a deployment that verifies without holding the private
key), otherwise with the public half of the signing key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash, space


class SigningKeyMissing(ImproperlyConfigured):
    pass


class NoteError(ValueError):
    """A note that does not parse, or whose signature does not verify: ``reason`` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def check_key_name(name: str) -> str:
    if not name or any(ch.isspace() for ch in name) or "+" in name:
        raise ImproperlyConfigured(f"a note key name must be non-empty, without spaces or '+': {name!r}")
    return name


def public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519]) + public).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    name: str
    public: bytes  # the raw 32-byte Ed25519 public key

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public)

    @property
    def text(self) -> str:
        """The note verifier key: <name>+<hex key id>+<base64(0x01 || public key)>."""
        return f"{self.name}+{self.key_id.hex()}+{b64(bytes([ED25519]) + self.public)}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        try:
            name, hex_id, encoded = text.strip().split("+", 2)  # base64 may hold "+"
            raw = unb64(encoded)
            claimed_id = bytes.fromhex(hex_id)
        except (ValueError, binascii.Error) as error:
            raise NoteError(f"not a verifier key ({error})") from error
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("not an Ed25519 verifier key")
        key = cls(name=check_key_name(name), public=raw[1:])
        if key.key_id != claimed_id:
            raise NoteError("the verifier key's id does not match its name and public key")
        return key

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey(name=self.name, public=public_bytes(self.private_key.public_key()))

    def sign_note(self, text: str) -> str:
        """The signed note: ``text``, a blank line, our signature line."""
        check_note_text(text)
        signature = self.private_key.sign(text.encode("utf-8"))
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {b64(self.verifier.key_id + signature)}\n"


# --------------------------------------------------------------------------- keys from settings


def seed_from_text(text: str) -> Ed25519PrivateKey:
    try:
        seed = unb64(text.strip())
    except (ValueError, binascii.Error) as error:
        raise ImproperlyConfigured("the audit signing key must be base64 of a 32-byte Ed25519 seed") from error
    if len(seed) != 32:
        raise ImproperlyConfigured("the audit signing key must be base64 of a 32-byte Ed25519 seed")
    return Ed25519PrivateKey.from_private_bytes(seed)


def key_name() -> str:
    return check_key_name(settings.AUDIT_SIGNING_KEY_NAME or settings.AUDIT_LOG_ORIGIN)


def signer() -> Signer:
    """The configured signing key; SigningKeyMissing when there is none."""
    if settings.AUDIT_SIGNING_KEY:
        private_key = seed_from_text(settings.AUDIT_SIGNING_KEY)
    else:
        path = Path(settings.AUDIT_SIGNING_KEY_FILE)
        if not path.is_file():
            raise SigningKeyMissing(
                f"no audit signing key: set AUDIT_SIGNING_KEY, or create {path} "
                "(`python manage.py seed_demo` makes a demo key there)"
            )
        private_key = seed_from_text(path.read_text(encoding="ascii"))
    return Signer(name=key_name(), private_key=private_key)


def verifier() -> VerifierKey:
    """The key checkpoints are checked with: AUDIT_VERIFIER_KEY, else the signing key's public half."""
    if settings.AUDIT_VERIFIER_KEY:
        return VerifierKey.parse(settings.AUDIT_VERIFIER_KEY)
    return signer().verifier


def retired_verifiers() -> dict[str, VerifierKey]:
    """Verifier keys of former signing keys (AUDIT_RETIRED_VERIFIER_KEYS), by hex key id: the
    checkpoints they signed stay checkable after the signing key is rotated."""
    keys = [VerifierKey.parse(text) for text in settings.AUDIT_RETIRED_VERIFIER_KEYS]
    return {key.key_id.hex(): key for key in keys}


def verifier_of(key_id_hex: str, current: VerifierKey) -> VerifierKey:
    """The key a checkpoint signed under ``key_id_hex`` is checked with: the current one, or the
    retired key of that id (none known: the current one, whose check then fails)."""
    if current.key_id.hex() == key_id_hex:
        return current
    return retired_verifiers().get(key_id_hex, current)


def new_seed_text() -> str:
    return b64(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    ))  # fmt: skip


def create_key_file(path: Path) -> bool:
    """Write a new key to ``path`` unless a file is there; True if this call created it.

    Written to a temporary file and linked into place, so two processes racing here
    end up with the same key (the first link wins) and never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(new_seed_text() + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)


# --------------------------------------------------------------------------- notes


def check_note_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("a note text ends in one newline and has no blank line")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise NoteError("a note text has no control characters other than newline")


def open_note(note: str, key: VerifierKey) -> str:
    """The text of ``note`` if ``key`` signed it; NoteError saying why not otherwise.

    Signature lines of other keys are ignored; a line of our key (name and key id) that
    does not verify rejects the note."""
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise NoteError("the note has control characters")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("the note has no signature block")
    text, signature_block = note[: split + 1], note[split + 2 :]
    verified = False
    for line in signature_block[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"malformed signature line: {line!r}")
        try:
            name, encoded = line[len(SIGNATURE_PREFIX) :].split(" ")
            raw = unb64(encoded)
        except (ValueError, binascii.Error) as error:
            raise NoteError(f"malformed signature line: {line!r}") from error
        if len(raw) < 5:
            raise NoteError(f"malformed signature line: {line!r}")
        if name != key.name or raw[:4] != key.key_id:
            continue  # another signer (a witness, a retired key): not ours to judge
        if len(raw) != 4 + 64 or not key.verify(text.encode("utf-8"), raw[4:]):
            raise NoteError(f"the signature of {key.name} (key id {key.key_id.hex()}) does not verify")
        verified = True
    if not verified:
        raise NoteError(f"not signed by {key.name} (key id {key.key_id.hex()})")
    return text


def checkpoint_text(origin: str, tree_size: int, root: bytes) -> str:
    """The C2SP tlog-checkpoint note text: origin, tree size, base64 root hash."""
    return f"{check_key_name(origin)}\n{tree_size}\n{b64(root)}\n"


def parse_checkpoint_text(text: str) -> tuple[str, int, bytes]:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise NoteError("a checkpoint has an origin, a tree size and a root hash line")
    origin, size_text, root_text = lines[:3]
    if not size_text.isdigit() or not size_text.isascii() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError(f"bad tree size {size_text!r}")
    try:
        root = unb64(root_text)
    except (ValueError, binascii.Error) as error:
        raise NoteError("bad root hash") from error
    if len(root) != 32:
        raise NoteError("bad root hash")
    return origin, int(size_text), root
