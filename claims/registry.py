"""Certificate registries (联网核查, 004 §五(四)): where a line's certificate is checked at its source.

An adapter answers one question, ``find(lines)``: what the source says about the certificate each
line names (a ``RegistryAnswer`` by line id; a line it does not know is left out), in a fixed
number of queries whatever the number of lines. Two adapters:

- ``SignedCertificates``: certificates as their assessment body published them, each signed by
  the body (Ed25519 over the RFC 8785 canonical JSON of ``signed_fields``). The answer says
  whether the signature holds under the body's public key: a record changed after signing
  (a forged date, another holder) fails. A revocation is published re-signed.
- ``ImportedExport``: the latest export (CSV or XLSX) of a registry imported for the
  jurisdiction (``import_registry_export``), for places without an online registry.

``registries_for(jurisdiction)`` lists them in the order they are asked; the first that knows
the certificate answers. What the answer means for the line is claims/certificate_checks.py.
"""

import datetime
import hashlib
from dataclasses import dataclass
from typing import Protocol

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import actions
from audit.services import record_event

from .bounds import character_refusal
from .certificates import certificate_key
from .dates import date_text
from .errors import InvalidInput
from .models import (
    AssessmentBody,
    CertificateStatus,
    CertificateType,
    ClaimLine,
    IssuedCertificate,
    Jurisdiction,
    Level,
    RegistryEntry,
    RegistryImport,
)
from .personal_data import decrypt_id_number, encrypt_id_number, id_number_digest
from .validators import normalize_resident_id, validate_resident_id


@dataclass(frozen=True)
class RegistryAnswer:
    """What a registry says about one certificate."""

    source: str  # which source answered: "signed:<body code>", "export:<import id>"
    source_label: str  # the same for people: the body's name, the export's source and date
    holder_id_number_digest: str
    holder_name: str
    occupation_code: str
    level: str
    certificate_date: datetime.date
    revoked: bool
    revoked_on: datetime.date | None = None
    signature_valid: bool | None = None  # None: the source signs nothing (an export)


class CertificateRegistry(Protocol):
    def find(self, lines: list[ClaimLine]) -> dict[int, RegistryAnswer]: ...


# --------------------------------------------------------------------------- signed by the assessment body


def signed_fields(
    *,
    body_code: str,
    number: str,
    holder_name: str,
    holder_id_number: str,
    occupation_code: str,
    level: str,
    certificate_type: str,
    certificate_date: datetime.date,
    status: str,
    revoked_on: datetime.date | None,
) -> bytes:
    """The bytes the body signs: RFC 8785 canonical JSON of the certificate's fields."""
    return rfc8785.dumps(
        {
            "body": body_code,
            "number": number,
            "holder_name": holder_name,
            "holder_id_number": holder_id_number.strip().upper(),
            "occupation": occupation_code,
            "level": level,
            "certificate_type": certificate_type,
            "date": certificate_date.isoformat(),
            "status": status,
            "revoked_on": revoked_on.isoformat() if revoked_on else None,
        }
    )


def certificate_fields(record: IssuedCertificate) -> dict:
    """A published certificate's signed fields but its body, as signed_fields and
    publish_signed_certificate take them (a re-publication, e.g. a revocation, starts from them)."""
    return {
        "number": record.number,
        "holder_name": record.holder_name,
        "holder_id_number": decrypt_id_number(record.holder_id_number_encrypted),
        "occupation_code": record.occupation_code,
        "level": record.level,
        "certificate_type": record.certificate_type,
        "certificate_date": record.certificate_date,
        "status": record.status,
        "revoked_on": record.revoked_on,
    }


def _fields_of(record: IssuedCertificate) -> bytes:
    return signed_fields(body_code=record.body.code, **certificate_fields(record))


def public_key_hex(private_key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def signature_holds(record: IssuedCertificate) -> bool:
    """Whether the record is, byte for byte, what its body signed."""
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(record.body.public_key))
        key.verify(bytes.fromhex(record.signature), _fields_of(record))
    except (InvalidSignature, ValueError):
        return False
    return True


@transaction.atomic
def publish_signed_certificate(
    *,
    body: AssessmentBody,
    signing_key: Ed25519PrivateKey,
    number: str,
    holder_name: str,
    holder_id_number: str,
    occupation_code: str,
    level: str,
    certificate_type: str,
    certificate_date: datetime.date,
    status: str = CertificateStatus.VALID,
    revoked_on: datetime.date | None = None,
) -> IssuedCertificate:
    """The body publishes (or re-publishes, e.g. revoked) a certificate, signed with its key.
    In production the body signs on its side and the record arrives signed; the demo's body
    signs here (demo/assessment.py)."""
    if public_key_hex(signing_key) != body.public_key:
        raise ValueError("the signing key is not the body's")
    if level not in Level.values or certificate_type not in CertificateType.values:
        raise ValueError("unknown level or certificate type")
    fields = dict(
        body_code=body.code,
        number=number,
        holder_name=holder_name,
        holder_id_number=holder_id_number,
        occupation_code=occupation_code,
        level=level,
        certificate_type=certificate_type,
        certificate_date=certificate_date,
        status=status,
        revoked_on=revoked_on,
    )
    signature = signing_key.sign(signed_fields(**fields)).hex()
    record, _created = IssuedCertificate.objects.update_or_create(
        body=body,
        number_key=certificate_key(number),
        defaults={
            "number": number,
            "holder_name": holder_name,
            "holder_id_number_digest": id_number_digest(holder_id_number),
            "holder_id_number_encrypted": encrypt_id_number(holder_id_number),
            "occupation_code": occupation_code,
            "level": level,
            "certificate_type": certificate_type,
            "certificate_date": certificate_date,
            "status": status,
            "revoked_on": revoked_on,
            "signature": signature,
        },
    )
    return record


class SignedCertificates:
    """The certificates published, signed, by the assessment bodies."""

    def find(self, lines: list[ClaimLine]) -> dict[int, RegistryAnswer]:
        by_number: dict[str, list[IssuedCertificate]] = {}
        records = IssuedCertificate.objects.filter(number_key__in={line.certificate_key for line in lines})
        for record in records.select_related("body").order_by("pk"):
            by_number.setdefault(record.number_key, []).append(record)
        answers = {}
        for line in lines:
            records = by_number.get(line.certificate_key)
            if records:
                answers[line.pk] = self._answer(self._record_for(line, records))
        return answers

    @staticmethod
    def _record_for(line: ClaimLine, records: list[IssuedCertificate]) -> IssuedCertificate:
        issuer = certificate_key(line.certificate_issuer)
        if issuer:
            # The line names its issuer: that body's certificate with this number, if it published one.
            named = [r for r in records if issuer in (certificate_key(r.body.code), certificate_key(r.body.name))]
            records = named or records
        # The holder's own first (two bodies may use one number).
        return sorted(records, key=lambda r: r.holder_id_number_digest != line.trainee.id_number_digest)[0]

    @staticmethod
    def _answer(record: IssuedCertificate) -> RegistryAnswer:
        return RegistryAnswer(
            source=f"signed:{record.body.code}",
            source_label=record.body.name,
            holder_id_number_digest=record.holder_id_number_digest,
            holder_name=record.holder_name,
            occupation_code=record.occupation_code,
            level=record.level,
            certificate_date=record.certificate_date,
            revoked=record.status == CertificateStatus.REVOKED,
            revoked_on=record.revoked_on,
            signature_valid=signature_holds(record),
        )


# --------------------------------------------------------------------------- a registry's export


class ImportedExport:
    """The latest imported export of a registry, for the jurisdiction, that lists the number."""

    def __init__(self, jurisdiction_id: int):
        self.jurisdiction_id = jurisdiction_id

    def find(self, lines: list[ClaimLine]) -> dict[int, RegistryAnswer]:
        latest: dict[str, RegistryEntry] = {}
        entries = (
            RegistryEntry.objects.filter(
                number_key__in={line.certificate_key for line in lines}, registry_import__jurisdiction_id=self.jurisdiction_id
            )
            .select_related("registry_import")
            .order_by("-registry_import__imported_at", "-registry_import_id", "pk")
        )
        for entry in entries:
            latest.setdefault(entry.number_key, entry)  # the latest export that lists the number
        return {line.pk: self._answer(latest[line.certificate_key]) for line in lines if line.certificate_key in latest}

    @staticmethod
    def _answer(entry: RegistryEntry) -> RegistryAnswer:
        source = entry.registry_import
        return RegistryAnswer(
            source=f"export:{source.pk}",
            source_label=f"{source.source}（{source.filename}，{date_text(timezone.localdate(source.imported_at))}）",
            holder_id_number_digest=entry.holder_id_number_digest,
            holder_name=entry.holder_name,
            occupation_code=entry.occupation_code,
            level=entry.level,
            certificate_date=entry.certificate_date,
            revoked=entry.status == CertificateStatus.REVOKED,
            revoked_on=entry.revoked_on,
        )


def registries_for(jurisdiction: Jurisdiction) -> list[CertificateRegistry]:
    """The sources asked for a jurisdiction's certificates, in order."""
    return [SignedCertificates(), ImportedExport(jurisdiction.pk)]


# --------------------------------------------------------------------------- importing an export

# The export's columns: its header row names them (Chinese or the field name).
EXPORT_COLUMNS = {
    "number": ("证书编号", "number"),
    "name": ("姓名", "name"),
    "id_number": ("身份证号码", "id_number"),
    "occupation_code": ("职业编码", "occupation_code"),
    "level": ("等级", "level"),
    "certificate_date": ("发证日期", "certificate_date"),
    "status": ("状态", "status"),
    "revoked_on": ("撤销日期", "revoked_on"),
}
REQUIRED_EXPORT_COLUMNS = ("number", "name", "id_number", "occupation_code", "level", "certificate_date")
MAX_EXPORT_ROWS = 50_000
REVOKED_TEXTS = ("revoked", "已撤销", "撤销", "注销")


def _level_of(text: str) -> str | None:
    text = (text or "").strip()
    if text in Level.values:
        return text
    for value, label in Level.choices:
        if text == str(label):
            return value
    return None


def _date_of(value) -> datetime.date | None:
    from .bounds import date_out_of_range

    if isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return None if date_out_of_range(value) else value
    try:
        parsed = datetime.date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None
    return None if date_out_of_range(parsed) else parsed


def _export_rows(filename: str, content: bytes):
    """The export's rows. An .xlsx is read without computed values: a formula comes as its text
    (refused by the row checks), never as a cached number that might be stale."""
    from .spreadsheets import csv_rows, open_xlsx, sheet_rows

    if filename.lower().endswith(".csv"):
        return list(csv_rows(content, max_rows=MAX_EXPORT_ROWS + 1))
    with open_xlsx(content, data_only=False, max_rows=MAX_EXPORT_ROWS + 1) as workbook:
        return list(sheet_rows(workbook.worksheets[0], max_rows=MAX_EXPORT_ROWS + 1))


VALID_TEXTS = ("", "valid", "有效", "正常")
TEXT_LIMITS = {"number": 60, "name": 50, "occupation_code": 30}
PLAIN_CELLS = (str, int, float, bool, datetime.date, datetime.datetime)


class ExportRejected(InvalidInput):
    """An export with errors: ``rows`` are [{"row", "field", "column", "message"}] (row None: the
    file as a whole); ``fields`` names each as ``rows[5].id_number`` (the roster's paths)."""

    def __init__(self, message: str, *, rows: list[dict], fields: dict | None = None):
        located = dict(fields or {})
        for problem in rows:
            path = "file" if problem["row"] is None else f"rows[{problem['row']}].{problem['field']}"
            located.setdefault(path, []).append(problem["message"])
        super().__init__(message, fields=located)
        self.rows = rows


def _problem(row: int | None, field: str | None, message: str) -> dict:
    return {"row": row, "field": field, "column": EXPORT_COLUMNS[field][0] if field else "", "message": message}


def _export_row_problems(row_number: int, cells: dict, text: dict) -> list[dict]:
    """What is wrong with one row, each naming its column (a formula, a NUL, an empty or too
    long text, an ID number, level or date that is not one, a status not known)."""

    def problem(field, message):
        column = EXPORT_COLUMNS[field][0]
        return _problem(
            row_number,
            field,
            _("第 %(row)d 行“%(column)s”：%(problem)s") % {"row": row_number, "column": column, "problem": message},
        )

    found = []
    for name, value in cells.items():
        if (isinstance(value, str) and value.lstrip().startswith("=")) or (
            value is not None and not isinstance(value, PLAIN_CELLS)
        ):
            found.append(problem(name, _("不接受公式，请导出为数值。")))
        elif refusal := character_refusal(text[name]):
            found.append(problem(name, refusal))
    if found:
        return found
    for name, limit in TEXT_LIMITS.items():
        if not text[name] or len(text[name]) > limit:
            found.append(problem(name, _("为空或超过 %(n)d 个字符。") % {"n": limit}))
    try:
        validate_resident_id(normalize_resident_id(text["id_number"]))
    except ValidationError:
        found.append(
            _problem(row_number, "id_number", _("第 %(row)d 行“身份证号码”：不是有效的身份证号码。") % {"row": row_number})
        )
    if _level_of(text["level"]) is None:
        found.append(problem("level", _("无法识别“%(value)s”。") % {"value": text["level"][:30]}))
    if _date_of(cells["certificate_date"]) is None:
        found.append(problem("certificate_date", _("不是有效日期。")))
    status = text.get("status", "").lower()
    if status not in VALID_TEXTS and text.get("status", "") not in REVOKED_TEXTS:
        found.append(problem("status", _("无法识别“%(value)s”（有效 或 已撤销）。") % {"value": text["status"][:30]}))
    if text.get("revoked_on") and _date_of(cells.get("revoked_on")) is None:
        found.append(problem("revoked_on", _("不是有效日期。")))
    return found


@transaction.atomic
def import_registry_export(*, actor, jurisdiction: Jurisdiction, source: str, filename: str, content: bytes) -> RegistryImport:
    """Import a registry's export for the jurisdiction (the one path: the HR bureau's page and
    ``manage.py import_registry_export``); every row is checked, and on any error nothing is saved
    (``ExportRejected``: each problem names its row and column)."""
    from .spreadsheets import SpreadsheetRefused

    source = (source or "").strip()
    errors: dict[str, list[str]] = {}
    if not source or len(source) > 200:
        errors["source"] = [_("请写明导出的证书库（最长 200 个字符）。")]
    if not filename.lower().endswith((".csv", ".xlsx")):
        message = _("请上传 .csv 或 .xlsx 文件。")
        raise ExportRejected(message, rows=[_problem(None, None, message)], fields=errors)
    try:
        rows = _export_rows(filename, content)
    except SpreadsheetRefused as refused:
        raise ExportRejected(refused.message, rows=[_problem(None, None, refused.message)], fields=errors) from None
    if not rows:
        raise ExportRejected(_("文件是空的。"), rows=[_problem(None, None, _("文件是空的。"))], fields=errors)
    header = [str(cell or "").strip() for cell in rows[0]]
    where = {}
    for name, titles in EXPORT_COLUMNS.items():
        for index, title in enumerate(header):
            if title in titles:
                where[name] = index
    missing = [EXPORT_COLUMNS[name][0] for name in REQUIRED_EXPORT_COLUMNS if name not in where]
    if missing:
        message = _("缺少列：%(columns)s。") % {"columns": "、".join(missing)}
        raise ExportRejected(_("证书库导出文件有误，未导入。"), rows=[_problem(1, None, message)], fields=errors)
    entries = []
    problems = []
    first_row_of: dict[str, int] = {}
    if len(rows) - 1 > MAX_EXPORT_ROWS:
        problems.append(_problem(None, None, _("最多 %(n)d 行。") % {"n": MAX_EXPORT_ROWS}))
    for row_number, row in enumerate(rows[1:], start=2):
        cells = {name: (row[index] if index < len(row) else None) for name, index in where.items()}
        if all(cell in (None, "") for cell in cells.values()):
            continue
        text = {name: str(value if value is not None else "").strip() for name, value in cells.items()}
        found = _export_row_problems(row_number, cells, text)
        key = certificate_key(text["number"]) if text["number"] else ""
        if not found and key in first_row_of:
            found.append(
                _problem(
                    row_number,
                    "number",
                    _("第 %(row)d 行“证书编号”：与第 %(first)d 行重复。") % {"row": row_number, "first": first_row_of[key]},
                )
            )
        if found:
            problems.extend(found)
            continue
        first_row_of[key] = row_number
        if problems:
            continue  # nothing will be saved: only the problems are gathered
        revoked = text.get("status", "") in REVOKED_TEXTS
        entries.append(
            RegistryEntry(
                number=text["number"],
                number_key=key,
                holder_name=text["name"],
                holder_id_number_digest=id_number_digest(normalize_resident_id(text["id_number"])),
                occupation_code=text["occupation_code"],
                level=_level_of(text["level"]),
                certificate_date=_date_of(cells["certificate_date"]),
                status=CertificateStatus.REVOKED if revoked else CertificateStatus.VALID,
                revoked_on=_date_of(cells.get("revoked_on")) if text.get("revoked_on") else None,
            )
        )
    if problems or errors:
        raise ExportRejected(_("证书库导出文件有误，未导入。"), rows=problems[:200], fields=errors)
    registry_import = RegistryImport.objects.create(
        jurisdiction=jurisdiction,
        source=source,
        filename=filename[:255],
        sha256=hashlib.sha256(content).hexdigest(),
        row_count=len(entries),
        imported_by=actor,
    )
    for entry in entries:
        entry.registry_import = registry_import
    RegistryEntry.objects.bulk_create(entries, batch_size=1000)
    record_event(
        actor=actor,
        action=actions.REGISTRY_IMPORTED,
        obj=registry_import,
        jurisdiction=jurisdiction,
        detail={"source": source, "filename": registry_import.filename, "sha256": registry_import.sha256, "rows": len(entries)},
    )
    return registry_import
