#!/usr/bin/env python3
"""Verify an exported audit ledger offline, trusting nothing but the public key.

Needs only Python 3.9+ and the `cryptography` package (pip install cryptography).

    python3 verify_export.py EXPORT_DIR_OR_ZIP [--public-key KEY] [--trusted-checkpoint FILE]

It checks:
  1. every file against the manifest's SHA-256;
  2. every entry (hashes.txt, one line per entry; entries.jsonl, the exact bytes of the
     entries exported with their bytes, one per line): its seq follows the previous one,
     SHA-256 of its bytes is its recorded hash, and its prev_hash is the previous entry's
     hash: the hash chain. An entry of another jurisdiction than the reader's comes as its
     hash and its leaf hash only ("<seq> <hash> <leaf hash>"): its leaf hash goes into the
     Merkle tree, its hash is the prev_hash the next entry must name, its bytes stay home;
  3. every checkpoint (checkpoints/*.txt, C2SP tlog-checkpoint signed notes): its Ed25519
     signature with the public key, and its RFC 6962 Merkle root, recomputed here from
     the entries at its tree size; and that the last one covers every entry;
  4. with --trusted-checkpoint (a checkpoint you kept from earlier): its signature, and
     that the root recomputed from the first entries of this export at its tree size is
     its root, i.e. this export extends, unchanged, the ledger you saw then.

--public-key is the verifier key ("<name>+<key id hex>+<base64>", or a file holding it)
that you obtained independently; without it the key in the export is used, which proves
only that the export is self-consistent.

Prints a verdict; exits 0 when everything checks out, 1 naming the first bad sequence
number and the failing checkpoint otherwise, 2 when the export cannot be read.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
import zipfile
from pathlib import Path

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # pragma: no cover - depends on the auditor's machine
    sys.exit("verify_export.py needs the `cryptography` package: pip install cryptography")

SIGNATURE_PREFIX = "\u2014 "
EMPTY_ROOT = hashlib.sha256(b"").digest()


# ------------------------------------------------------------------ RFC 6962 Merkle tree hash


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class CompactRange:
    """Leaves appended one at a time; root() is the RFC 6962 root of those so far."""

    def __init__(self):
        self.size = 0
        self.nodes: list[bytes] = []

    def append_data(self, data: bytes) -> None:
        self.append_leaf(hashlib.sha256(b"\x00" + data).digest())

    def append_leaf(self, leaf: bytes) -> None:
        self.nodes.append(leaf)
        self.size += 1
        size = self.size
        while not size & 1:
            right = self.nodes.pop()
            self.nodes[-1] = node_hash(self.nodes[-1], right)
            size >>= 1

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        result = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            result = node_hash(node, result)
        return result


# ------------------------------------------------------------------ C2SP signed notes


class NoteError(ValueError):
    pass


class VerifierKey:
    def __init__(self, text: str):
        try:
            name, hex_id, encoded = text.strip().split("+", 2)  # base64 may hold "+"
            raw = base64.b64decode(encoded, validate=True)
            claimed = bytes.fromhex(hex_id)
        except (ValueError, binascii.Error) as error:
            raise NoteError(f"not a verifier key: {error}") from error
        if len(raw) != 33 or raw[0] != 0x01:
            raise NoteError("not an Ed25519 verifier key")
        self.name, self.public = name, raw[1:]
        self.key_id = hashlib.sha256(name.encode() + b"\n\x01" + self.public).digest()[:4]
        if self.key_id != claimed:
            raise NoteError("the verifier key's id does not match its name and key")
        self.text = text.strip()

    def open(self, note: str) -> str:
        """The note's text if this key signed it, NoteError otherwise."""
        if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
            raise NoteError("control characters in the note")
        split = note.rfind("\n\n")
        if split < 0 or not note.endswith("\n"):
            raise NoteError("no signature block")
        text, block = note[: split + 1], note[split + 2 : -1]
        signed = False
        for line in block.split("\n"):
            if not line.startswith(SIGNATURE_PREFIX):
                raise NoteError(f"malformed signature line {line!r}")
            try:
                name, encoded = line[len(SIGNATURE_PREFIX) :].split(" ")
                raw = base64.b64decode(encoded, validate=True)
            except (ValueError, binascii.Error) as error:
                raise NoteError(f"malformed signature line {line!r}") from error
            if name != self.name or raw[:4] != self.key_id:
                continue
            try:
                if len(raw) != 68:
                    raise InvalidSignature()
                Ed25519PublicKey.from_public_bytes(self.public).verify(raw[4:], text.encode("utf-8"))
            except InvalidSignature:
                raise NoteError(f"the signature of {self.name} does not verify") from None
            signed = True
        if not signed:
            raise NoteError(f"not signed by {self.name} (key id {self.key_id.hex()})")
        return text


def parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not all(lines[:-1]):
        raise NoteError("not a checkpoint (origin, tree size, root hash)")
    origin, size, root_text = lines[:3]
    if not (size.isascii() and size.isdigit()) or (size != "0" and size.startswith("0")):
        raise NoteError(f"bad tree size {size!r}")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as error:
        raise NoteError("bad root hash") from error
    if len(root) != 32:
        raise NoteError("bad root hash")
    return origin, int(size), root


# ------------------------------------------------------------------ the export


class Export:
    """An export directory or zip file."""

    def __init__(self, path: Path):
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None
        if self.zip is None and not path.is_dir():
            raise FileNotFoundError(f"{path} is neither an export directory nor a zip file")

    def open(self, name: str):
        if self.zip is not None:
            return self.zip.open(name)
        return open(self.path / name, "rb")

    def read(self, name: str) -> bytes:
        with self.open(name) as handle:
            return handle.read()

    def sha256(self, name: str) -> str:
        digest = hashlib.sha256()
        with self.open(name) as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()


def read_key_argument(value: str) -> str:
    path = Path(value)
    return path.read_text(encoding="utf-8") if path.is_file() else value


def verify(export: Export, *, public_key: str | None, trusted_checkpoint: str | None, out=sys.stdout) -> bool:
    problems: list[str] = []
    first_bad_seq: int | None = None
    first_bad_checkpoint: str | None = None

    def say(line: str) -> None:
        print(line, file=out)

    manifest = json.loads(export.read("manifest.json"))
    say(f"export: {export.path}")
    say(f"log: {manifest['origin']}")
    period = manifest.get("period", {})
    if period:
        say(f"period: {period['from']} .. {period['to']} ({period.get('time_zone', '')}), "
            f"entries seq {period['first_seq']}..{period['last_seq']}")  # fmt: skip

    # 1. files against the manifest
    for name, expected in sorted(manifest["files"].items()):
        try:
            actual = export.sha256(name)
        except (KeyError, FileNotFoundError):
            actual = None
        if actual != expected:
            problems.append(f"file {name} does not match the manifest's SHA-256" if actual else f"file {name} is missing")
    say(
        f"files: {len(manifest['files'])} listed in the manifest, {len([p for p in problems if p.startswith('file')])} do not match"
    )

    # the key
    if public_key:
        key = VerifierKey(read_key_argument(public_key))
        say(f"public key (given): {key.text}")
    else:
        key = VerifierKey(export.read("public_key.txt").decode("utf-8"))
        say(f"public key (from the export; pass --public-key with the one you hold to trust it): {key.text}")

    # checkpoints to check, and the trusted one
    checkpoints = []
    for item in manifest["checkpoints"]:
        name = item["file"]
        try:
            note = export.read(name).decode("utf-8")
            origin, size, root = parse_checkpoint(key.open(note))
            if origin != manifest["origin"]:
                raise NoteError(f"signed for origin {origin!r}, not {manifest['origin']!r}")
            checkpoints.append((name, size, root, None))
        except (NoteError, KeyError, FileNotFoundError, UnicodeDecodeError) as error:
            checkpoints.append((name, item.get("tree_size"), None, f"signature check failed: {error}"))
    trusted = None
    if trusted_checkpoint:
        try:
            origin, size, root = parse_checkpoint(key.open(Path(trusted_checkpoint).read_text(encoding="utf-8")))
            if origin != manifest["origin"]:
                raise NoteError(f"signed for origin {origin!r}, not {manifest['origin']!r}")
            trusted = (size, root, None)
        except (NoteError, UnicodeDecodeError) as error:
            trusted = (None, None, f"signature check failed: {error}")
    wanted = {size for _name, size, root, _error in checkpoints if root is not None}
    if trusted and trusted[0] is not None:
        wanted.add(trusted[0])
    roots = {0: EMPTY_ROOT}

    # 2. the entries: the chain, and the roots at the checkpoints' sizes
    tree = CompactRange()
    prev_hash = "0" * 64
    withheld = 0
    with export.open(manifest["entries"]["hashes_file"]) as recorded_hashes, export.open(manifest["entries"]["file"]) as entries:
        for hash_line in recorded_hashes:
            seq = tree.size + 1
            recorded = hash_line.decode("ascii", "replace").split()
            if len(recorded) == 3:  # withheld: its hash and its leaf hash, not its bytes
                try:
                    leaf = bytes.fromhex(recorded[2])
                except ValueError:
                    leaf = b""
                if recorded[0] != str(seq) or len(leaf) != 32 or len(recorded[1]) != 64:
                    problems.append(f"seq {seq}: a withheld entry's line is not '<seq> <hash> <leaf hash>'")
                    if first_bad_seq is None:
                        first_bad_seq = seq
                prev_hash = recorded[1]
                tree.append_leaf(leaf)
                withheld += 1
                if tree.size in wanted:
                    roots[tree.size] = tree.root()
                continue
            line = entries.readline()
            if not line:
                problems.append(f"seq {seq}: hashes.txt lists its bytes, entries.jsonl has no more lines")
                if first_bad_seq is None:
                    first_bad_seq = seq
                break
            if not line.endswith(b"\n"):
                problems.append(f"seq {seq}: the last line has no newline")
            data = line[:-1] if line.endswith(b"\n") else line
            digest = hashlib.sha256(data).hexdigest()
            try:
                body = json.loads(data)
                body_seq, body_prev = body.get("seq"), body.get("prev_hash")
            except (ValueError, AttributeError):
                body_seq = body_prev = None
            reasons = []
            if body_seq != seq:
                reasons.append(f"says seq {body_seq}")
            if recorded != [str(seq), digest]:
                reasons.append("its bytes do not hash to its recorded hash")
            if body_prev != prev_hash:
                reasons.append("its prev_hash is not the previous entry's hash")
            if reasons:
                problems.append(f"seq {seq}: " + "; ".join(reasons))
                if first_bad_seq is None:
                    first_bad_seq = seq
            prev_hash = digest
            tree.append_data(data)
            if tree.size in wanted:
                roots[tree.size] = tree.root()
        if entries.readline():
            problems.append("entries.jsonl has more entries than hashes.txt lists with their bytes")
    count = tree.size
    say(f"entries: {count}, hash chain {'ok' if first_bad_seq is None else f'BROKEN, first bad seq {first_bad_seq}'}"
        f"{'' if first_bad_seq is not None else f', head {prev_hash}'}")  # fmt: skip
    if withheld:
        say(f"entries of other jurisdictions: {withheld}, given as hashes only (checked through the signed roots)")
    if count != manifest["entries"]["count"]:
        problems.append(f"the manifest lists {manifest['entries']['count']} entries, the export has {count}")

    # 3. checkpoints
    largest = 0
    for name, size, root, error in checkpoints:
        if error is None and size > count:
            error = f"tree size {size} is beyond the {count} entries exported"
        elif error is None and roots.get(size) != root:
            error = f"the root recomputed from entries 1..{size} is not the signed root"
        if error is None:
            largest = max(largest, size)
            say(f"checkpoint {size}: signature ok, root ok ({root.hex()})")
        else:
            say(f"checkpoint {size} ({name}): FAILED: {error}")
            problems.append(f"checkpoint {size} ({name}): {error}")
            if first_bad_checkpoint is None:
                first_bad_checkpoint = f"checkpoint {size} ({name})"
    if largest < count:
        problems.append(f"entries {largest + 1}..{count} are not covered by a valid checkpoint")
        say(f"entries {largest + 1}..{count}: NOT covered by a valid signed checkpoint")

    # 4. the checkpoint the auditor kept
    if trusted is not None:
        size, root, error = trusted
        if error is None and size > count:
            error = f"its tree size {size} is beyond the {count} entries exported: cannot prove consistency"
        elif error is None and roots.get(size) != root:
            error = f"the root recomputed from entries 1..{size} of this export is not its root: history was rewritten"
        if error is None:
            say(
                f"trusted checkpoint {size}: consistent: the export's entries 1..{size} are exactly the ones it signed, and the export extends them"
            )
        else:
            say(f"trusted checkpoint: FAILED: {error}")
            problems.append(f"trusted checkpoint ({trusted_checkpoint}): {error}")
            if first_bad_checkpoint is None:
                first_bad_checkpoint = f"trusted checkpoint ({trusted_checkpoint})"

    if not problems:
        say("VERDICT: OK: the chain, every checkpoint's signature and Merkle root check out")
        return True
    for problem in problems:
        say(f"problem: {problem}")
    named = []
    if first_bad_seq is not None:
        named.append(f"first bad seq {first_bad_seq}")
    if first_bad_checkpoint is not None:
        named.append(f"first failing {first_bad_checkpoint}")
    say("VERDICT: FAILED" + (": " + "; ".join(named) if named else f": {problems[0]}"))
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path, help="the export directory or zip file")
    parser.add_argument("--public-key", help="the verifier key you hold (text or a file holding it)")
    parser.add_argument("--trusted-checkpoint", help="a signed checkpoint you kept from earlier (file)")
    args = parser.parse_args(argv)
    try:
        export = Export(args.export)
        ok = verify(export, public_key=args.public_key, trusted_checkpoint=args.trusted_checkpoint)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        print(f"VERDICT: FAILED: the export cannot be read: {error!r}")
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
