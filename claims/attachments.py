"""Documents attached to a claim or one of its lines: certificate scans, the signed roster, the
attendance sheet, invoices.

- **What is accepted**: PDF, PNG and JPEG, recognised by their first bytes (``sniff``); the
  file's name and the content type the browser declared are never believed. A ``.pdf`` that is
  an HTML page or a ZIP is refused naming the field ``file``; so is a file over
  settings.ATTACHMENT_MAX_BYTES, an empty one, and more than ATTACHMENTS_MAX_PER_CLAIM on a claim.
- **Where the bytes live**: a file under settings.ATTACHMENTS_DIR (outside the database and any
  served directory) named by 32 random hex digits; the name the provider gave is kept for
  display only. The file is written before the row and removed again if the transaction fails.
- **Who**: the claim's provider adds documents while the claim is in its hands
  (claims.access.may_add_attachments); everyone who sees the claim (claims_visible_to) lists and
  downloads them. Every upload and every download is a ledger entry of the claim.
"""

import hashlib
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from audit import actions
from audit.services import record_event

from . import access
from .bounds import character_refusal, whole_number
from .errors import InvalidInput, NotInScope
from .models import Attachment, AttachmentKind, Claim
from .selectors import get_claim_for_user

LINE_NO_MAX = 999_999_999  # nine digits: more is no line of any claim

PDF, PNG, JPEG = "application/pdf", "image/png", "image/jpeg"
EXTENSIONS = {PDF: ".pdf", PNG: ".png", JPEG: ".jpg"}
FILENAME_MAX = 200


def sniff(head: bytes) -> str | None:
    """The content type the bytes are, of those accepted; None for anything else (HTML, ZIP,
    an executable, a text renamed .pdf). Only the bytes count."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    return None


def max_bytes_text() -> str:
    return filesizeformat(settings.ATTACHMENT_MAX_BYTES)


def too_large_error() -> InvalidInput:
    message = _("文件过大：每个文件不超过 %(max)s。") % {"max": max_bytes_text()}
    return InvalidInput(message, fields={"file": [message]})


# What a multipart body may add around the file (the other fields, the part headers).
REQUEST_OVERHEAD = 64 * 1024


def request_too_large(content_length) -> bool:
    """A request body announcing more than a document and its form can be: refused before it is read."""
    try:
        return int(content_length or 0) > settings.ATTACHMENT_MAX_BYTES + REQUEST_OVERHEAD
    except ValueError:
        return False


# What a quoted-string filename could hold only escaped (or not at all).
NOT_FOR_QUOTING = re.compile(r'["\\\x00-\x1f\x7f]')


def content_disposition(filename: str) -> str:
    """Always a download (never shown inline), the name encoded for any browser (RFC 6266): every
    download of ours sets its header with this (through claims.http.file_response), never by hand (a name holding a quote would add
    parameters of its own, a Chinese one would make Django MIME-encode the whole header)."""
    if NOT_FOR_QUOTING.search(filename):
        # Django would write a quote as \" in filename="…", which some browsers do not unescape
        # (RFC 6266 appendix D); filename* (RFC 5987) percent-encodes it instead.
        return f"attachment; filename*=utf-8''{quote(filename, safe='')}"
    return content_disposition_header(True, filename)


def _clean_filename(name: str, content_type: str) -> str:
    """The name shown and offered on download: no directories, no control characters, at most
    FILENAME_MAX characters, ending in the extension of what the bytes are."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C").strip(" .")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    extension = EXTENSIONS[content_type]
    return (stem or _("材料"))[: FILENAME_MAX - len(extension)] + extension


def _path_of(storage_name: str) -> Path:
    return Path(settings.ATTACHMENTS_DIR) / storage_name[:2] / storage_name


def _write(content: bytes) -> str:
    """Store the bytes under a new random name (written whole, then renamed into place)."""
    storage_name = secrets.token_hex(16)
    path = _path_of(storage_name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_suffix(".part")
    with open(partial, "xb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(partial, 0o600)
    os.replace(partial, path)
    return storage_name


def _remove(storage_name: str) -> None:
    _path_of(storage_name).unlink(missing_ok=True)


def _detail(attachment: Attachment) -> dict:
    return {
        "attachment": attachment.pk,
        "kind": attachment.kind,
        "line": attachment.line_no,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
    }


def add_attachment(*, user, claim: Claim, kind: str, content: bytes, filename: str, line_no=None) -> Attachment:
    """Attach a document to the claim (or to its line ``line_no``): checked, stored, recorded.
    InvalidInput naming ``file``, ``kind`` or ``line`` on bad input; nothing kept then."""
    claim = get_claim_for_user(user=user, claim_id=claim.pk)
    access.require_may_add_attachments(user, claim)
    errors: dict[str, list[str]] = {}
    if kind not in AttachmentKind.values:
        errors["kind"] = [_("须为以下之一：%(kinds)s。") % {"kinds": "、".join(str(label) for label in AttachmentKind.labels)}]
    if line_no in ("", None):
        line_no = None
    elif (number := whole_number(line_no, maximum=LINE_NO_MAX)) is None:
        errors["line"] = [_("须为行号。")]
    elif not claim.lines.filter(line_no=number).exists():
        errors["line"] = [_("本申领没有第 %(n)s 行。") % {"n": number}]
    else:
        line_no = number
    content_type = None
    if not content:
        errors["file"] = [_("请选择要上传的文件（PDF、PNG 或 JPEG）。")]
    elif len(content) > settings.ATTACHMENT_MAX_BYTES:
        raise too_large_error()
    elif refusal := character_refusal(filename or ""):
        errors["file"] = [_("文件名：%(refusal)s") % {"refusal": refusal}]
    else:
        content_type = sniff(content[:64])
        if content_type is None:
            errors["file"] = [_("只接受 PDF、PNG 或 JPEG 文件：该文件的内容不是其中任何一种（与文件名无关）。")]
    if errors:
        raise InvalidInput(_("材料有误。"), fields=errors)
    storage_name = _write(content)
    try:
        with transaction.atomic():
            # The claim's row lock: two uploads at once do not both pass the per-claim limit.
            Claim.objects.select_for_update().filter(pk=claim.pk).first()
            if Attachment.objects.filter(claim=claim).count() >= settings.ATTACHMENTS_MAX_PER_CLAIM:
                message = _("每份申领最多 %(n)d 个材料。") % {"n": settings.ATTACHMENTS_MAX_PER_CLAIM}
                raise InvalidInput(message, fields={"file": [message]})
            attachment = Attachment.objects.create(
                claim=claim,
                line_no=line_no,
                kind=kind,
                filename=_clean_filename(filename, content_type),
                content_type=content_type,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                storage_name=storage_name,
                uploaded_by=user,
            )
            record_event(actor=user, action=actions.ATTACHMENT_UPLOADED, obj=attachment, claim=claim, detail=_detail(attachment))
    except BaseException:
        _remove(storage_name)
        raise
    return attachment


def attachments_of(*, user, claim: Claim):
    """The claim's documents, for whoever sees the claim (404 otherwise), oldest first."""
    claim = get_claim_for_user(user=user, claim_id=claim.pk)
    return Attachment.objects.filter(claim=claim).select_related("uploaded_by").order_by("id")


def get_attachment_for_user(*, user, claim_id, attachment_id) -> Attachment:
    """One document of a claim the user sees; 404 (NotInScope) for anything else, as if it did not exist."""
    claim = get_claim_for_user(user=user, claim_id=claim_id)
    try:
        return Attachment.objects.select_related("claim").get(claim=claim, pk=attachment_id)
    except (Attachment.DoesNotExist, ValueError, TypeError):
        raise NotInScope() from None


@dataclass(frozen=True)
class Download:
    attachment: Attachment
    content: bytes


def download_attachment(*, user, claim_id, attachment_id, by=None) -> Download:
    """The document's bytes for a user who sees its claim, the download recorded in the ledger.
    ``by``: who downloads, when not ``user`` (a substitute reading as the reviewer they act for:
    the ledger names the substitute, and whom they read as).
    A file whose bytes changed on disk since the upload is not handed out (NotInScope is not
    right for it: it is the operator's problem, so it raises)."""
    attachment = get_attachment_for_user(user=user, claim_id=claim_id, attachment_id=attachment_id)
    content = _path_of(attachment.storage_name).read_bytes()
    if hashlib.sha256(content).hexdigest() != attachment.sha256:
        raise RuntimeError(f"attachment {attachment.pk}: the stored file does not match its digest")
    with transaction.atomic():
        detail = {"attachment": attachment.pk, "filename": attachment.filename, "sha256": attachment.sha256}
        if by is not None and by.pk != user.pk:
            detail["on_behalf_of"] = user.get_username()
        record_event(
            actor=by or user,
            action=actions.ATTACHMENT_DOWNLOADED,
            obj=attachment,
            claim=attachment.claim,
            detail=detail,
        )
    return Download(attachment=attachment, content=content)


def attachment_ids_of(claim: Claim) -> set[int]:
    """The ids of the claim's documents: what a return may point at (workflow.policy)."""
    return set(Attachment.objects.filter(claim=claim).values_list("pk", flat=True))
