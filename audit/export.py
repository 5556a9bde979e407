"""The signed ledger export for a period, which an auditor verifies offline.

The package (a directory, or a zip file when the name ends in .zip):

- ``entries.jsonl``: the stored payload bytes of the entries 1..N the reader may read, one per
  line, exactly as they were hashed. Entries from seq 1 are there, not only the period's, so
  that the chain and the Merkle roots can be recomputed; the manifest names the period's range.
  N is the tree size of the first checkpoint that covers the period's last entry (one is
  signed now if none does), so every exported entry is under a signature.
- ``hashes.txt``: one line per entry 1..N: "<seq> <hash>" (the hash as recorded in the
  ledger, so the verifier can name the entry whose bytes changed) for an entry whose bytes
  are in entries.jsonl; "<seq> <hash> <leaf hash>" for an entry the reader may not read (of
  another jurisdiction, or of none): its bytes are withheld, and its RFC 6962 leaf hash,
  SHA-256(0x00 || bytes), lets the Merkle roots, and so the signed checkpoints, be
  recomputed without them.
- ``checkpoints/<tree size>.txt``: every checkpoint up to N, the signed note texts.
- ``public_key.txt``: the verifier key the checkpoints are signed with (C2SP note format).
- ``verify_export.py``: the standalone verifier (Python 3 and `cryptography` only).
- ``README.txt``: how to run it.
- ``manifest.json``: the period, the ranges, and the SHA-256 of every file above.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Max, Min
from django.utils import timezone

from . import checkpoints as checkpoint_services
from . import merkle, signing
from .models import AuditEvent, Checkpoint
from .tree import PAGE, iter_entries

FORMAT = "claims-audit-export/1"
VERIFIER_SOURCE = Path(__file__).resolve().parent / "offline_verifier" / "verify_export.py"

README = """Audit ledger export of {origin}
Period {date_from} .. {date_to} ({time_zone}): entries seq {first_seq}..{last_seq}.
The package holds entries 1..{count} so that everything can be recomputed:
{scope}

Verify it (Python 3 and the `cryptography` package, nothing else):

    pip install cryptography
    python3 verify_export.py . --public-key "{verifier_key}"

Pass --public-key with the key you obtained from the bureau independently (the one
above is also in public_key.txt, which proves only that the package is consistent with
itself). Add --trusted-checkpoint FILE with a checkpoint you kept from an earlier audit
to prove this export extends, unchanged, the ledger you saw then.
"""


class ExportError(Exception):
    pass


@dataclass
class ExportResult:
    path: Path
    first_seq: int
    last_seq: int
    count: int
    checkpoints: int
    included: int  # entries whose bytes are in the package; the others only as hashes


class _Writer:
    """Files written into a directory or a zip, with the SHA-256 of each."""

    def __init__(self, out: Path):
        self.out = out
        self.digests: dict[str, str] = {}
        if out.suffix.lower() == ".zip":
            out.parent.mkdir(parents=True, exist_ok=True)
            self.zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        else:
            if out.exists() and any(out.iterdir()):
                raise ExportError(f"{out} is not empty")
            out.mkdir(parents=True, exist_ok=True)
            self.zip = None

    def open(self, name: str):
        if self.zip is not None:
            return self.zip.open(name, "w", force_zip64=True)
        path = self.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "wb", buffering=1 << 20)

    def write_lines(self, name: str, lines) -> int:
        digest = hashlib.sha256()
        count = 0
        with self.open(name) as handle:
            for line in lines:
                digest.update(line)
                handle.write(line)
                count += 1
        self.digests[name] = digest.hexdigest()
        return count

    def write(self, name: str, data: bytes, *, listed: bool = True) -> None:
        with self.open(name) as handle:
            handle.write(data)
        if listed:
            self.digests[name] = hashlib.sha256(data).hexdigest()

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def period_bounds(date_from: datetime.date, date_to: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) of the period, whole days in settings.TIME_ZONE."""
    zone = ZoneInfo(settings.TIME_ZONE)
    start = datetime.datetime.combine(date_from, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(date_to + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)
    return start, end


def _readable_seqs(readable, last_seq: int):
    """The seqs of the ``readable`` entries up to last_seq, ascending, in keyset pages."""
    after = 0
    while True:
        page = list(readable.filter(seq__gt=after, seq__lte=last_seq).order_by("seq").values_list("seq", flat=True)[:PAGE])
        if not page:
            return
        yield from page
        after = page[-1]


def _entries_in_scope(count: int, readable, columns: str):
    """(readable?, row) for the entries 1..count: every entry when ``readable`` is None."""
    seqs = _readable_seqs(readable, count) if readable is not None else None
    next_readable = next(seqs, None) if seqs is not None else None
    for row in iter_entries(1, count, columns):
        if seqs is None:
            yield True, row
            continue
        while next_readable is not None and next_readable < row[0]:
            next_readable = next(seqs, None)
        yield next_readable == row[0], row


def _hash_line(in_scope: bool, seq: int, payload: str, digest: str) -> bytes:
    if in_scope:
        return f"{seq} {digest}\n".encode("ascii")
    return f"{seq} {digest} {merkle.leaf_hash(payload.encode('utf-8')).hex()}\n".encode("ascii")


def export_period(*, date_from: datetime.date, date_to: datetime.date, out: Path, readable=None, scope: str = "") -> ExportResult:
    """The package of the period. ``readable``: the entries the reader may read (a queryset of
    AuditEvent, claims.selectors.ledger_entries_visible_to); only theirs go in with their bytes,
    the others as hashes. None: every entry (the operator's export, audit_export). ``scope``
    names the reader's jurisdictions in the README and the manifest."""
    if date_to < date_from:
        raise ExportError("the period ends before it starts")
    start, end = period_bounds(date_from, date_to)
    in_period = (readable if readable is not None else AuditEvent.objects).filter(at__gte=start, at__lt=end)
    span = in_period.aggregate(first=Min("seq"), last=Max("seq"))
    if span["last"] is None:
        raise ExportError(f"no ledger entries between {date_from} and {date_to}")
    covering = Checkpoint.objects.filter(tree_size__gte=span["last"]).order_by("tree_size").first()
    if covering is None:
        checkpoint_services.sign_checkpoint()
        covering = Checkpoint.objects.filter(tree_size__gte=span["last"]).order_by("tree_size").first()
    if covering is None:
        raise ExportError("no checkpoint covers the period and none could be signed")
    count = covering.tree_size
    notes = list(Checkpoint.objects.filter(tree_size__lte=count).order_by("tree_size").values_list("tree_size", "note"))
    key = signing.verifier()

    out = Path(out)
    writer = _Writer(out)
    try:
        # Two passes: a zip is written one member at a time.
        included = writer.write_lines(
            "entries.jsonl",
            (
                payload.encode("utf-8") + b"\n"
                for in_scope, (_seq, payload) in _entries_in_scope(count, readable, "seq, payload")
                if in_scope
            ),
        )
        hashes = writer.write_lines(
            "hashes.txt",
            # The bytes are read again only to hash the withheld ones.
            (
                _hash_line(in_scope, *row)
                for in_scope, row in _entries_in_scope(
                    count, readable, "seq, payload, hash" if readable is not None else "seq, '', hash"
                )
            ),
        )
        if hashes != count:
            raise ExportError(f"the ledger has {hashes} entries up to seq {count}: it has gaps; run audit_verify")
        checkpoint_files = []
        for tree_size, note in notes:
            name = f"checkpoints/{tree_size:012d}.txt"
            writer.write(name, note.encode("utf-8"))
            checkpoint_files.append({"file": name, "tree_size": tree_size})
        writer.write("public_key.txt", (key.text + "\n").encode("utf-8"))
        writer.write("verify_export.py", VERIFIER_SOURCE.read_bytes())
        readme = README.format(
            origin=checkpoint_services.origin(),
            date_from=date_from,
            date_to=date_to,
            time_zone=settings.TIME_ZONE,
            first_seq=span["first"],
            last_seq=span["last"],
            count=count,
            verifier_key=key.text,
            scope=(
                f"the bytes of the {included} entries of {scope or 'the reader'}'s scope; of the {count - included} "
                "others, only their hashes (hashes.txt)."
                if readable is not None
                else "every entry's bytes."
            ),
        )
        writer.write("README.txt", readme.encode("utf-8"))
        manifest = {
            "format": FORMAT,
            "origin": checkpoint_services.origin(),
            "verifier_key": key.text,
            "created_at": timezone.now().astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
            "period": {
                "from": date_from.isoformat(),
                "to": date_to.isoformat(),
                "time_zone": settings.TIME_ZONE,
                "from_utc": start.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
                "until_utc": end.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
                "first_seq": span["first"],
                "last_seq": span["last"],
            },
            "entries": {
                "file": "entries.jsonl",
                "hashes_file": "hashes.txt",
                "first_seq": 1,
                "last_seq": count,
                "count": count,
                "included": included,
                "withheld": count - included,
                "why": "entries before the period let the chain and the Merkle roots be recomputed; "
                "entries after it, up to the covering checkpoint, put every exported entry under a signature",
            },
            "scope": {
                "readers_scope": scope if readable is not None else "",
                "whole_ledger": readable is None,
                "why": "entries outside the reader's jurisdictions are given by their hash and leaf hash only "
                "(hashes.txt): the signed roots still check out, their contents stay with their jurisdiction",
            },
            "checkpoints": checkpoint_files,
            "files": writer.digests,
        }
        writer.write("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8") + b"\n", listed=False)
    except BaseException:
        writer.close()
        if out.suffix.lower() == ".zip":
            out.unlink(missing_ok=True)
        else:
            shutil.rmtree(out, ignore_errors=True)
        raise
    writer.close()
    return ExportResult(
        path=out,
        first_seq=span["first"],
        last_seq=span["last"],
        count=count,
        checkpoints=len(checkpoint_files),
        included=included,
    )
