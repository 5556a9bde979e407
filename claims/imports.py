"""Roster imports: an .xlsx roster becomes one draft claim, all rows or none.

``receive_roster`` checks who uploads, the claim's header and the file's shape up front, and
keeps the file. A roster of fewer than ``QUEUE_FROM_ROWS`` rows is then imported within the
request; a larger one is handed to Celery (claims.tasks.import_roster) once the upload is
committed, and ``process_roster`` does the work in the worker:

1. it claims the upload with a conditional UPDATE (received → processing, stamped with
   ``started_at``): a duplicated or retried task message finds nothing to claim and stops;
2. it checks the rows in chunks outside any transaction, committing ``processed_rows`` after
   each chunk so the status page and the API can show progress;
3. it writes the claim, its priced lines and the upload's ``done`` in ONE transaction, which
   first re-checks (under the upload's row lock) that this run still owns the upload: a claim
   is created exactly once, and a worker killed midway leaves no half-saved claim.

A run that fails on an error of its own (the database went away…) hands the upload back
(processing → received) so the task's retry can claim it again. A run killed outright leaves
the upload ``processing``; after ``STALE_AFTER`` it may be claimed again: by the redelivered
task message (acks_late), or by the due job ``requeue_stale_uploads``, which also sends again
the task of an upload left ``received`` (its message lost: Redis down at commit). The
``started_at`` stamp tells the old run, should it wake up, that it lost the upload.
"""

import datetime
import hashlib
import logging
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from audit import actions
from audit.services import record_event
from due.enqueue import enqueue, enqueue_after_commit

from . import access
from .errors import InvalidInput, NotInScope, StepAlreadyTaken
from .inputs import ErrorCollector, LineInput
from .models import PolicyVersion, Provider, RosterUpload, RosterUploadStatus
from .roster import RosterFileError, RosterRow, build_template, check_rows, error_fields, read_roster, row_error
from .selectors import providers_of_clerk
from .services import ClaimHeader, check_claim_header, create_claim_from_inputs
from .spreadsheets import limits as spreadsheet_limits
from .standard_checks import problems

logger = logging.getLogger(__name__)

QUEUE_FROM_ROWS = 1000  # rosters of this many rows or more are imported by a Celery worker
PROGRESS_EVERY = 500  # rows checked between two progress updates
STALE_AFTER = datetime.timedelta(minutes=30)  # a "processing" upload older than this may be claimed again
HEADER_FIELDS = (
    "provider",
    "department",
    "policy",
    "class_name",
    "training_start",
    "training_end",
    "enterprise_name",
    "enterprise_credit_code",
)
ACTIVE_STATUSES = (RosterUploadStatus.RECEIVED, RosterUploadStatus.PROCESSING, RosterUploadStatus.DONE)


class RosterRejected(InvalidInput):
    """The roster has errors: nothing was saved. ``rows``: every problem with its row and column,
    in Chinese and English; ``fields`` the same keyed ``rows[5].id_number`` for the API."""

    def __init__(self, message: str, rows: list[dict]):
        super().__init__(message, fields=error_fields(rows))
        self.rows = rows


def _header_data(header: dict) -> dict:
    """The header fields as kept on the upload (JSON: text only)."""
    data = {}
    for name in HEADER_FIELDS:
        value = header.get(name)
        if isinstance(value, (datetime.date, datetime.datetime)):
            value = value.isoformat()
        data[name] = "" if value is None else str(value).strip()
    return data


def _check_header(*, user, header: dict) -> ClaimHeader:
    errors = ErrorCollector()
    checked = check_claim_header(user=user, data=header, errors=errors)
    if errors:
        raise InvalidInput(_("申领信息有误，花名册未导入。"), fields=errors.fields)
    return checked


def _listed(errors: list[dict]) -> list[dict]:
    """Every error, or for a roster wrong in many rows the first SPREADSHEET_MAX_LISTED_ERRORS
    and how many more (the message of the refusal gives the total)."""
    listed = spreadsheet_limits().max_listed_errors
    if len(errors) <= listed:
        return errors
    more = len(errors) - listed
    rows = len({error["row"] for error in errors[listed:]})
    return errors[:listed] + [
        row_error(
            None,
            None,
            lambda: (
                _("还有 %(more)d 处错误（%(rows)d 行）未列出：同类错误请在 Excel 中整列检查。") % {"more": more, "rows": rows}
            ),
        )
    ]


def _rejected(rows: list[dict]) -> RosterRejected:
    failing = len({error["row"] for error in rows if error["row"] is not None})
    if failing:
        message = _("花名册有 %(rows)d 行有误（共 %(errors)d 处），未保存。请改正后重新上传。") % {
            "rows": failing,
            "errors": len(rows),
        }
    else:
        message = rows[0]["message"] if len(rows) == 1 else _("花名册无法导入，未保存。")
    return RosterRejected(message, _listed(rows))


def _read(content: bytes):
    try:
        return read_roster(content)
    except RosterFileError as error:
        raise _rejected(error.errors) from None


def _refuse_duplicate(*, provider: Provider, digest: str) -> None:
    existing = (
        RosterUpload.objects.filter(provider=provider, sha256=digest, status__in=ACTIVE_STATUSES)
        .select_related("claim")
        .order_by("-created_at")
        .first()
    )
    if existing is None:
        return
    if existing.claim is not None:
        message = _("同一份花名册已导入为申领 %(number)s（导入编号 %(id)d），不能重复导入。") % {
            "number": existing.claim.number,
            "id": existing.pk,
        }
    else:
        message = _("同一份花名册已上传（导入编号 %(id)d，%(status)s），请等待处理完成，不要重复上传。") % {
            "id": existing.pk,
            "status": existing.get_status_display(),
        }
    raise StepAlreadyTaken(message, fields={"file": [message]}, code="duplicate_upload")


def _source(upload: RosterUpload) -> dict:
    return {"roster_upload": upload.pk, "filename": upload.filename, "sha256": upload.sha256, "rows": upload.row_count}


def _check_all(rows: Sequence[RosterRow], on_progress=None) -> tuple[list[LineInput], list[dict]]:
    lines: list[LineInput] = []
    errors: list[dict] = []
    for start in range(0, len(rows), PROGRESS_EVERY):
        chunk_lines, chunk_errors = check_rows(rows[start : start + PROGRESS_EVERY], first_index=start)
        lines.extend(chunk_lines)
        errors.extend(chunk_errors)
        if on_progress is not None:
            on_progress(min(start + PROGRESS_EVERY, len(rows)))
    return lines, errors


def _standard_errors(checked: ClaimHeader, rows: Sequence[RosterRow], lines: list[LineInput]) -> list[dict]:
    """The standard's own conditions (claims/standard_checks.py) on the class and on every row,
    located by row and column; ``lines`` are the rows, all read without error."""
    fields = checked.fields
    found = problems(policy=checked.policy, training_start=fields.training_start, training_end=fields.training_end, lines=lines)
    return [row_error(None if p.index is None else rows[p.index].number, p.field, p.render) for p in found]


def roster_template() -> bytes:
    """The template, its variant drop-down filled from the catalogue (S3 renewal …)."""
    variants = set()
    for amounts in PolicyVersion.objects.exclude(variant_amounts={}).values_list("variant_amounts", flat=True):
        variants.update(amounts or {})
    return build_template(variants=sorted(variants))


def receive_roster(*, user, header: dict, filename: str, content: bytes) -> RosterUpload:
    """A provider clerk uploads a roster for a new claim. Small rosters are imported at once
    (the upload comes back ``done`` with its claim); from QUEUE_FROM_ROWS rows the upload comes
    back ``received`` and a worker imports it. Raises RosterRejected (nothing saved) for a bad
    file or any bad row, InvalidInput for bad header fields, StepAlreadyTaken for a file the
    provider already uploaded."""
    access.require(user, access.IMPORT_ROSTER)
    header = _header_data(header)
    checked = _check_header(user=user, header=header)
    header["provider"] = checked.provider.code
    sheet = _read(content)
    digest = hashlib.sha256(content).hexdigest()
    queued = len(sheet.rows) >= QUEUE_FROM_ROWS
    if not queued:  # checked before the provider's row lock: nothing is locked while a file is read
        lines, errors = _check_all(sheet.rows)
        errors = errors or _standard_errors(checked, sheet.rows, lines)
        if errors:
            raise _rejected(errors)  # nothing is saved
    with transaction.atomic():
        # One upload at a time per provider, so that the duplicate check holds (SQLite: the write lock).
        Provider.objects.select_for_update().get(pk=checked.provider.pk)
        _refuse_duplicate(provider=checked.provider, digest=digest)
        now = timezone.now()
        upload = RosterUpload.objects.create(
            provider=checked.provider,
            created_by=user,
            header=header,
            filename=(filename or "roster.xlsx")[:255],
            content=content,
            sha256=digest,
            row_count=len(sheet.rows),
            status=RosterUploadStatus.RECEIVED if queued else RosterUploadStatus.PROCESSING,
            started_at=None if queued else now,
        )
        if queued:
            from .tasks import import_roster

            # Until the worker has imported it, the upload is a change of its own: record it.
            record_event(
                actor=user,
                action=actions.ROSTER_RECEIVED,
                obj=upload,
                detail={
                    "provider": checked.provider.code,
                    "filename": upload.filename,
                    "sha256": digest,
                    "rows": upload.row_count,
                    "queued": True,
                },
            )
            # Redis down: the upload stands "received" (answered as usual), requeue_stale_uploads sends it later.
            enqueue_after_commit(import_roster, upload.pk, sweep="claims.requeue_stale_uploads")
            return upload
        claim = create_claim_from_inputs(user=user, header=checked, lines=lines, source=_source(upload))
        upload.claim = claim
        upload.status = RosterUploadStatus.DONE
        upload.processed_rows = upload.row_count
        upload.finished_at = timezone.now()
        upload.save(update_fields=["claim", "status", "processed_rows", "finished_at"])
    return upload


def _claimable(now: datetime.datetime) -> Q:
    return Q(status=RosterUploadStatus.RECEIVED) | Q(status=RosterUploadStatus.PROCESSING, started_at__lt=now - STALE_AFTER)


def process_roster(*, upload_id: int) -> RosterUpload | None:
    """Import a received roster (the Celery task calls this). Idempotent: an upload already
    taken by a live run, done or failed is left as it is. Must not run inside a transaction
    (progress is committed as it goes)."""
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("process_roster commits progress as it goes: call it outside a transaction")
    stamp = timezone.now()
    claimed = RosterUpload.objects.filter(_claimable(stamp), pk=upload_id).update(
        status=RosterUploadStatus.PROCESSING, started_at=stamp, processed_rows=0, errors=[], finished_at=None
    )
    if not claimed:
        logger.info("roster upload %s: nothing to do (missing, taken by another run, or finished)", upload_id)
        return RosterUpload.objects.filter(pk=upload_id).first()
    mine = RosterUpload.objects.filter(pk=upload_id, status=RosterUploadStatus.PROCESSING, started_at=stamp)
    try:
        return _import(upload_id=upload_id, mine=mine)
    except Exception:
        # Our own failure (not the roster's): hand the upload back so that a retry can claim it
        # at once. If even that fails (the database is away), the retry claims it after STALE_AFTER.
        try:
            mine.update(status=RosterUploadStatus.RECEIVED, started_at=None, processed_rows=0)
        except Exception:  # noqa: BLE001 - the original error is the one to report
            logger.exception("roster upload %s could not be handed back for a retry", upload_id)
        raise


def _header_problems(*, user, header: dict) -> list[dict]:
    """Why the upload's header no longer makes a claim (checked again when the worker runs:
    the clerk may have lost the role meanwhile), in Chinese and English."""
    found = {}
    for language in ("zh-hans", "en"):
        with translation.override(language):
            if not access.may(user, access.IMPORT_ROSTER):
                found[language] = [str(access.REFUSALS[access.IMPORT_ROSTER])]
                continue
            errors = ErrorCollector()
            check_claim_header(user=user, data=header, errors=errors)
            found[language] = [f"{name}: {message}" for name, messages in errors.fields.items() for message in messages]
    return [
        {**row_error(None, None, lambda: ""), "message": chinese, "message_en": english}
        for chinese, english in zip(found["zh-hans"], found["en"], strict=True)
    ]


def _import(*, upload_id: int, mine) -> RosterUpload | None:
    upload = RosterUpload.objects.select_related("created_by").get(pk=upload_id)
    user = upload.created_by
    problems = _header_problems(user=user, header=upload.header)
    if problems:
        return _finish_failed(mine, upload_id, problems)
    checked = _check_header(user=user, header=upload.header)
    try:
        sheet = read_roster(bytes(upload.content))
    except RosterFileError as error:
        return _finish_failed(mine, upload_id, error.errors)

    lost = False

    def progress(done: int) -> None:
        nonlocal lost
        if not mine.update(processed_rows=done):
            lost = True

    lines, errors = _check_all(sheet.rows, on_progress=progress)
    if lost:
        logger.warning("roster upload %s was claimed by another run meanwhile; this run stops", upload_id)
        return None
    errors = errors or _standard_errors(checked, sheet.rows, lines)
    if errors:
        return _finish_failed(mine, upload_id, errors)
    with transaction.atomic():
        # The upload's row lock: a run that lost the upload (STALE_AFTER passed, another run took
        # it) finds nothing here and writes nothing.
        owned = mine.select_for_update().first()
        if owned is None:
            logger.warning("roster upload %s was claimed by another run meanwhile; this run stops", upload_id)
            return None
        claim = create_claim_from_inputs(user=user, header=checked, lines=lines, source=_source(owned))
        owned.claim = claim
        owned.status = RosterUploadStatus.DONE
        owned.processed_rows = owned.row_count
        owned.finished_at = timezone.now()
        owned.save(update_fields=["claim", "status", "processed_rows", "finished_at"])
    return owned


def _finish_failed(mine, upload_id: int, errors: list[dict]) -> RosterUpload | None:
    with transaction.atomic():
        if mine.update(status=RosterUploadStatus.FAILED, errors=_listed(errors), finished_at=timezone.now()):
            upload = RosterUpload.objects.get(pk=upload_id)
            record_event(
                actor=None, action=actions.ROSTER_FAILED, obj=upload, detail={"rows": upload.row_count, "errors": len(errors)}
            )
    return RosterUpload.objects.filter(pk=upload_id).first()


def give_up(*, upload_id: int) -> None:
    """The task's retries are spent: the upload fails with a message the clerk can act on."""
    message = row_error(None, None, lambda: _("处理花名册时系统出错，已多次重试仍未成功。请稍后重新上传，或联系管理员。"))
    with transaction.atomic():
        if (
            RosterUpload.objects.filter(pk=upload_id)
            .exclude(status=RosterUploadStatus.DONE)
            .update(status=RosterUploadStatus.FAILED, errors=[message], finished_at=timezone.now())
        ):
            record_event(
                actor=None, action=actions.ROSTER_FAILED, obj=RosterUpload.objects.get(pk=upload_id), detail={"gave_up": True}
            )


def requeue_stale_uploads(now: datetime.datetime) -> int:
    """Due job: the uploads whose run died (processing for longer than STALE_AFTER) and the
    received ones whose task message was lost (Redis down at commit) are handed to the import
    task again. The task's claim makes a spare message harmless. Returns how many."""
    from .tasks import import_roster  # tasks.py imports this module

    upload_ids = list(
        RosterUpload.objects.filter(
            Q(status=RosterUploadStatus.PROCESSING, started_at__lt=now - STALE_AFTER)
            | Q(status=RosterUploadStatus.RECEIVED, created_at__lt=now - STALE_AFTER)
        ).values_list("pk", flat=True)
    )
    for upload_id in upload_ids:
        enqueue(import_roster, upload_id, sweep="claims.requeue_stale_uploads")
    return len(upload_ids)


def uploads_visible_to(user):
    """A provider's uploads are seen by its clerks only."""
    if not access.may(user, access.IMPORT_ROSTER):
        return RosterUpload.objects.none()
    return RosterUpload.objects.filter(provider__in=providers_of_clerk(user).values("pk"))


def get_upload_for_user(*, user, upload_id) -> RosterUpload:
    """One upload of the user's provider (without the file); anything else is NotInScope (404)."""
    try:
        return uploads_visible_to(user).select_related("claim").defer("content").get(pk=upload_id)
    except (RosterUpload.DoesNotExist, ValueError, TypeError):
        raise NotInScope() from None
