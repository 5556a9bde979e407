"""The bank's results (回单): transfers paid or returned (退票), the correction of a returned
payee's account so its lines are paid in a later batch, and the final cancellation of a line's
payment (approved, but finally not paid).

A result file is checked whole before anything is saved: every bad row is named with its field
(``rows[3].金额``; a file wrong in many rows lists its first errors and counts them all). Applying
it moves transfers, their batch lines and the claim lines with set-based UPDATEs (by id lists, in
chunks), under the batch's row lock, taken once the file is read and checked (never while it is
parsed); the same file applied twice changes nothing, a result contradicting a recorded one is
refused (409)."""

import datetime
import functools
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from audit import actions
from audit.services import record_event, record_events
from claims.amounts import amount_text
from claims.bounds import character_refusal, reason_refusal
from claims.errors import InvalidInput, StepAlreadyTaken
from claims.models import Claim, ClaimLine, LineDecision, PaymentStatus
from claims.payment_stage import AWAITING_PAYMENT, lock_claims, refresh_payment_stage
from claims.reasons import REASONS
from claims.services import recompute_total
from claims.spreadsheets import ErrorList, SpreadsheetRefused, csv_rows, open_xlsx, sheet_rows
from claims.spreadsheets import limits as spreadsheet_limits

from .. import access
from ..models import (
    BankFile,
    BankFileKind,
    BatchLine,
    BatchLineStatus,
    BatchStatus,
    PayeeKind,
    PaymentBatch,
    Transfer,
    TransferStatus,
)
from .batches import CHUNK, chunks
from .funds import parse_money, release_reservation
from .payees import account_in_ledger, account_number_of, set_payee_account

MAX_RESULT_BYTES = 20 * 1024 * 1024

# Canonical column (as the bank file names it) ← accepted titles.
COLUMNS = {
    "批次号": ("批次号", "batch", "batch_number"),
    "序号": ("序号", "seq", "sequence"),
    "账号": ("账号", "account", "account_number"),
    "金额": ("金额", "amount"),
    "结果": ("结果", "result", "status"),
    "银行流水号": ("银行流水号", "bank_reference", "reference"),
    "失败原因": ("失败原因", "reason", "return_reason", "failure_reason"),
}
REQUIRED_COLUMNS = ("批次号", "序号", "账号", "金额", "结果")
RESULT_VALUES = {
    "成功": TransferStatus.PAID,
    "paid": TransferStatus.PAID,
    "success": TransferStatus.PAID,
    "失败": TransferStatus.RETURNED,
    "退票": TransferStatus.RETURNED,
    "returned": TransferStatus.RETURNED,
    "failed": TransferStatus.RETURNED,
    "fail": TransferStatus.RETURNED,
}
# Rows after the data that are not transfers (the payment file's trailer, a bank's totals).
TRAILER_MARKS = ("合计", "总计", "total", "trailer", "#")
RESULT_STATES = (TransferStatus.PAID, TransferStatus.RETURNED)


# --------------------------------------------------------------------------- reading the file


@dataclass
class ResultRow:
    row: int  # the row number in the file; the header is row 1
    seq: int
    result: str
    bank_reference: str
    reason: str


def check_result_size(size: int) -> None:
    """The one size check: the page and the API call it on the upload's size before reading it."""
    if size > MAX_RESULT_BYTES:
        raise InvalidInput(_("银行回单文件过大。"), fields={"file": [_("文件超过 20 MB。")]})


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _unreadable_xlsx() -> InvalidInput:
    return InvalidInput(
        _("无法读取 Excel 文件，请上传银行提供的 .xlsx 或 .csv 回单文件。"),
        fields={"file": [_("不是有效的 .xlsx 文件。")]},
    )


def _read_table(*, filename: str, content: bytes) -> list[list[str]]:
    """The file's rows as text cells: a CSV (UTF-8, with or without BOM) or an .xlsx, read by the
    bounded reader of claims/spreadsheets.py (zip sizes checked before parsing, at most
    SPREADSHEET_MAX_ROWS rows, blank ones counted)."""
    name = (filename or "").lower()
    if not content:
        raise InvalidInput(_("银行回单文件为空。"), fields={"file": [_("文件为空。")]})
    check_result_size(len(content))
    is_xlsx = name.endswith(".xlsx") or content[:4] == b"PK\x03\x04"
    if not is_xlsx and not name.endswith(".csv"):
        raise InvalidInput(_("银行回单文件须为 .csv（UTF-8）或 .xlsx。"), fields={"file": [_("文件类型须为 .csv 或 .xlsx。")]})
    bound = spreadsheet_limits().max_rows
    try:
        if not is_xlsx:
            return [[cell.strip() for cell in row] for row in csv_rows(content, max_rows=bound)]
        with open_xlsx(content, data_only=True, max_rows=bound) as workbook:
            return [[_cell(value) for value in row] for row in sheet_rows(workbook.worksheets[0], max_rows=bound)]
    except SpreadsheetRefused as refused:
        if refused.code == "damaged":
            raise _unreadable_xlsx() from None
        raise InvalidInput(refused.message, fields={"file": [refused.message]}) from None


def _header(rows: list[list[str]]) -> tuple[int, dict[str, int]]:
    """The header row's index and canonical column → index."""
    aliases = {alias.lower(): canonical for canonical, names in COLUMNS.items() for alias in names}
    for index, row in enumerate(rows[:20]):
        found = {}
        for position, title in enumerate(row):
            canonical = aliases.get(title.strip().lower())
            if canonical and canonical not in found:
                found[canonical] = position
        if "序号" in found and "结果" in found:
            missing = [name for name in REQUIRED_COLUMNS if name not in found]
            if missing:
                raise InvalidInput(
                    _("银行回单文件缺少列：%(columns)s。") % {"columns": "、".join(missing)},
                    fields={"file": [_("缺少列：%(columns)s。") % {"columns": "、".join(missing)}]},
                )
            return index, found
    raise InvalidInput(
        _("银行回单文件没有表头（须含 批次号、序号、账号、金额、结果 等列）。"), fields={"file": [_("找不到表头行。")]}
    )


def _column_value(cells: list[str], columns: dict[str, int], name: str) -> str:
    """The row's cell under the header ``name``; empty when the file has no such column or the row is short."""
    return cells[columns[name]].strip() if name in columns and columns[name] < len(cells) else ""


def _is_trailer(cells: list[str]) -> bool:
    first = next((cell for cell in cells if cell), "")
    return not first or first.lower().startswith(TRAILER_MARKS)


def parse_result_file(*, batch: PaymentBatch, filename: str, content: bytes, transfers: dict[int, Transfer]) -> list[ResultRow]:
    """Every row checked against the batch; InvalidInput naming each bad row and field, or the rows."""
    rows = _read_table(filename=filename, content=content)
    header_at, columns = _header(rows)
    errors = ErrorList()  # (field, message): the first SPREADSHEET_MAX_LISTED_ERRORS, and the count of all
    parsed: list[ResultRow] = []
    seen: dict[int, int] = {}

    def error(row_no: int, column: str, message, **params) -> None:
        """``message`` (lazy) is translated and filled in only if it is listed: a file wrong in
        every row spends no time on messages nobody reads."""
        errors.add(lambda: (f"rows[{row_no}].{column}", str(message) % params if params else str(message)))

    for offset, cells in enumerate(rows[header_at + 1 :]):
        row_no = header_at + 2 + offset
        value = functools.partial(_column_value, cells, columns)
        if _is_trailer(cells):
            continue
        bad = len(errors)
        for position, cell in enumerate(cells):
            if refusal := character_refusal(cell):
                title = next(
                    (name for name, index in columns.items() if index == position), _("第 %(n)s 列") % {"n": position + 1}
                )
                error(row_no, title, refusal)
        if len(errors) != bad:
            continue
        if value("批次号") != batch.number:
            error(
                row_no,
                "批次号",
                _lazy("批次号 %(value)s 与本批次 %(number)s 不符。"),
                value=value("批次号") or _lazy("（空）"),
                number=batch.number,
            )
        transfer = None
        try:
            seq = int(value("序号"))
        except ValueError:
            error(row_no, "序号", _lazy("序号须为整数。"))
            seq = None
        if seq is not None:
            transfer = transfers.get(seq)
            if transfer is None:
                error(row_no, "序号", _lazy("本批次没有序号为 %(seq)s 的转账。"), seq=seq)
            elif seq in seen:
                error(row_no, "序号", _lazy("序号 %(seq)s 在第 %(row)s 行已出现。"), seq=seq, row=seen[seq])
            else:
                seen[seq] = row_no
        amount_errors: dict[str, list[str]] = {}
        amount = parse_money(value("金额").replace(",", ""), field=f"rows[{row_no}].金额", errors=amount_errors, positive=True)
        errors.extend((name, problem) for name, problems in amount_errors.items() for problem in problems)
        if transfer is not None:
            if value("账号").replace(" ", "") != account_number_of(transfer):
                error(
                    row_no,
                    "账号",
                    _lazy("账号与第 %(seq)s 笔转账的收款账号（%(masked)s）不符。"),
                    seq=seq,
                    masked=transfer.account_number_masked,
                )
            if amount is not None and amount != transfer.amount:
                error(
                    row_no,
                    "金额",
                    _lazy("金额 %(value)s 与第 %(seq)s 笔转账金额 %(amount)s 不符。"),
                    value=amount_text(amount),
                    seq=seq,
                    amount=amount_text(transfer.amount),
                )
        result = RESULT_VALUES.get(value("结果").lower())
        if result is None:
            error(
                row_no,
                "结果",
                _lazy("结果须为“成功”或“失败”（或 paid / returned），不能是“%(value)s”。"),
                value=value("结果"),
            )
        reason = value("失败原因")
        if result == TransferStatus.RETURNED and not reason:
            error(row_no, "失败原因", _lazy("退票须写明失败原因。"))
        if len(value("银行流水号")) > 60:
            error(row_no, "银行流水号", _lazy("银行流水号最长 60 个字符。"))
        if len(reason) > 200:
            error(row_no, "失败原因", _lazy("失败原因最长 200 个字符。"))
        if len(errors) == bad:
            parsed.append(
                ResultRow(
                    row=row_no,
                    seq=seq,
                    result=result,
                    bank_reference=value("银行流水号"),
                    reason=reason if result == TransferStatus.RETURNED else "",
                )
            )
    if not errors and not parsed:
        errors.add(("file", _("文件中没有转账结果行。")))
    if errors:
        fields: dict[str, list[str]] = {}
        for name, message in errors.listed:
            fields.setdefault(name, []).append(message)
        if errors.unlisted:
            fields.setdefault("file", []).append(
                _("仅列出前 %(listed)d 处错误，另有 %(more)d 处未列出（共 %(total)d 处）。")
                % {"listed": len(errors.listed), "more": errors.unlisted, "total": errors.total}
            )
        raise InvalidInput(_("银行回单文件有 %(count)s 处错误，未作任何处理。") % {"count": errors.total}, fields=fields)
    return parsed


# --------------------------------------------------------------------------- applying a result


@dataclass
class ResultSummary:
    batch: PaymentBatch
    sha256: str
    paid: int = 0
    returned: int = 0
    unchanged: int = 0
    lines_paid: int = 0
    lines_returned: int = 0
    claims: int = 0
    # The claims with a line just paid: each ends (paid) once nothing else of it is left to pay,
    # by the worker (workflow.disbursement.settle_batch), moments after the file is applied.
    claims_to_settle: list = field(default_factory=list)
    reconciled: bool = False
    file: BankFile | None = None
    transfers: list = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.paid or self.returned)


def _claim_line_rows(batch_line_filter) -> list[dict]:
    return list(
        BatchLine.objects.filter(**batch_line_filter).values(
            "pk",
            "claim_line_id",
            "claim_line__claim_id",
            "claim_line__line_no",
            "claim_line__payment_status",
            "transfer__seq",
            "transfer__status",
            "amount",
        )
    )


def _require_released(batch: PaymentBatch) -> None:
    if batch.status not in (BatchStatus.RELEASED, BatchStatus.RECONCILED):
        raise StepAlreadyTaken(
            _("批次 %(number)s 尚未发送银行（当前：%(status)s），不能登记银行结果。")
            % {"number": batch.number, "status": batch.get_status_display()}
        )


@transaction.atomic
def apply_bank_result(*, actor, batch: PaymentBatch, filename: str, content: bytes) -> ResultSummary:
    """Finance applies the bank's result file to a released batch (see the module's docstring).
    The claims it may have settled are listed in ``claims_to_settle``; call it through
    workflow.disbursement, which has the worker end them once this transaction commits."""
    # The file is read and checked against the batch's transfers (their numbers, accounts and
    # amounts never change once the batch is released) before the batch's row lock is taken:
    # nothing is locked while a file is parsed. Under the lock, the batch's state again and the
    # transfers' statuses as they are now.
    batch = PaymentBatch.objects.select_related("fund_account__jurisdiction").get(pk=batch.pk)
    access.require_in(actor, access.UPLOAD_BANK_RESULTS, batch.fund_account.jurisdiction)
    _require_released(batch)
    sha256 = hashlib.sha256(content or b"").hexdigest()
    transfers = {transfer.seq: transfer for transfer in Transfer.objects.filter(batch=batch)}
    rows = parse_result_file(batch=batch, filename=filename, content=content, transfers=transfers)
    batch = PaymentBatch.objects.select_for_update().select_related("fund_account__jurisdiction").get(pk=batch.pk)
    _require_released(batch)
    transfers = {transfer.seq: transfer for transfer in Transfer.objects.filter(batch=batch)}

    summary = ResultSummary(batch=batch, sha256=sha256)
    conflicts: dict[str, list[str]] = {}
    changed: list[tuple[ResultRow, Transfer]] = []
    for row in rows:
        transfer = transfers[row.seq]
        if transfer.status == row.result:
            summary.unchanged += 1
        elif transfer.status in RESULT_STATES:
            conflicts[f"rows[{row.row}].结果"] = [
                _("第 %(seq)s 笔转账已登记为“%(recorded)s”，不能改为“%(new)s”。")
                % {"seq": row.seq, "recorded": transfer.get_status_display(), "new": TransferStatus(row.result).label}
            ]
        else:  # sent: a released (or reconciled) batch has no pending or cancelled transfer
            changed.append((row, transfer))
    if conflicts:
        raise StepAlreadyTaken(_("回单与已登记的银行结果矛盾，未作任何处理。"), fields=conflicts)
    if not changed:
        return summary  # the same result again: nothing to do, nothing recorded

    now = timezone.now()
    summary.file = BankFile.objects.create(
        batch=batch,
        kind=BankFileKind.RESULT,
        filename=(filename or "result")[:200],
        content=content,
        sha256=sha256,
        created_by=actor,
    )
    for row, transfer in changed:
        transfer.status, transfer.result_at, transfer.result_file = row.result, now, summary.file
        transfer.bank_reference, transfer.return_reason = row.bank_reference, row.reason
        summary.transfers.append(
            {
                "seq": transfer.seq,
                "before": TransferStatus.SENT,
                "after": row.result,
                "amount": transfer.amount,
                "bank_reference": row.bank_reference,
                "reason": row.reason,
            }
        )
        if row.result == TransferStatus.PAID:
            summary.paid += 1
        else:
            summary.returned += 1
    Transfer.objects.bulk_update(
        [transfer for _row, transfer in changed],
        ["status", "result_at", "result_file", "bank_reference", "return_reason"],
        batch_size=CHUNK,
    )

    # The batch lines of the transfers just answered, and their claim lines, as they were.
    lines = []
    for chunk in chunks([transfer.pk for _row, transfer in changed]):
        lines += _claim_line_rows({"transfer_id__in": chunk, "status": BatchLineStatus.IN_PAYMENT})
    lock_claims(item["claim_line__claim_id"] for item in lines)  # before any claim line or the ledger
    by_outcome = defaultdict(lambda: ([], []))  # outcome → (batch line ids, claim line ids)
    for item in lines:
        batch_ids, claim_ids = by_outcome[item["transfer__status"]]
        batch_ids.append(item["pk"])
        if item["claim_line__payment_status"] == PaymentStatus.IN_PAYMENT:
            claim_ids.append(item["claim_line_id"])
    for outcome, (batch_ids, claim_ids) in by_outcome.items():
        for chunk in chunks(batch_ids):
            BatchLine.objects.filter(pk__in=chunk, status=BatchLineStatus.IN_PAYMENT).update(status=outcome)
        for chunk in chunks(claim_ids):
            ClaimLine.objects.filter(pk__in=chunk, payment_status=PaymentStatus.IN_PAYMENT).update(payment_status=outcome)
    summary.lines_paid = len(by_outcome[TransferStatus.PAID][1])
    summary.lines_returned = len(by_outcome[TransferStatus.RETURNED][1])

    pending = Transfer.objects.filter(batch=batch).exclude(status__in=(*RESULT_STATES, TransferStatus.CANCELLED)).exists()
    from_state = batch.status
    if not pending and batch.status == BatchStatus.RELEASED:
        batch.status = BatchStatus.RECONCILED
        summary.reconciled = True
    # The claims' workflow follows in the worker: it ends those with nothing left to pay and tells
    # the providers of returned lines (workflow.disbursement.settle_batch).
    batch.settle_requested_at = now
    PaymentBatch.objects.filter(pk=batch.pk).update(status=batch.status, settle_requested_at=now)
    record_event(
        actor=actor,
        action=actions.PAYMENT_BATCH_RESULT_APPLIED,
        obj=batch,
        from_state=from_state,
        to_state=batch.status,
        detail={
            "number": batch.number,
            "file": summary.file.filename,
            "sha256": sha256,
            "bank_file": summary.file.pk,
            "rows": len(rows),
            "paid": summary.paid,
            "returned": summary.returned,
            "unchanged": summary.unchanged,
            "lines_paid": summary.lines_paid,
            "lines_returned": summary.lines_returned,
            "reconciled": summary.reconciled,
            "transfers": summary.transfers,
        },
    )

    # Each claim: its lines' before/after in the ledger, then settled when nothing is left to pay.
    returns = {row.seq: row.reason for row, _transfer in changed if row.result == TransferStatus.RETURNED}
    per_claim = defaultdict(list)
    for item in lines:
        if item["claim_line__payment_status"] == PaymentStatus.IN_PAYMENT:
            per_claim[item["claim_line__claim_id"]].append(item)
    summary.claims = len(per_claim)
    claims = Claim.objects.in_bulk(sorted(per_claim))
    record_events(
        [
            {
                "actor": actor,
                "action": actions.CLAIM_PAYMENT_RESULT,
                "obj": claims[claim_id],
                "claim": claims[claim_id],
                "from_state": claims[claim_id].status,
                "to_state": claims[claim_id].status,
                "detail": {
                    "batch": batch.number,
                    "line_changes": [
                        {
                            "line": item["claim_line__line_no"],
                            "amount": item["amount"],
                            "transfer": item["transfer__seq"],
                            "before": {"payment_status": PaymentStatus.IN_PAYMENT},
                            "after": {"payment_status": item["transfer__status"]},
                            **({"reason": returns[item["transfer__seq"]]} if item["transfer__seq"] in returns else {}),
                        }
                        for item in sorted(items, key=lambda item: item["claim_line__line_no"])
                    ],
                },
            }
            for claim_id, items in sorted(per_claim.items())
        ]
    )
    # The claims with a line just paid may now be settled: the workflow ends them (workflow.disbursement).
    summary.claims_to_settle = [
        claim_id
        for claim_id, items in sorted(per_claim.items())
        if any(item["transfer__status"] == TransferStatus.PAID for item in items)
    ]
    return summary


# --------------------------------------------------------------------------- settling the claims


# A worker settling a batch holds it this long past its last chunk of claims; then it is taken for dead.
SETTLE_LEASE = datetime.timedelta(minutes=2)


def take_settlement(batch_id: int, *, now: datetime.datetime) -> datetime.datetime | None:
    """The worker takes a batch whose claims await settling: the moment that was asked for, or
    None when nothing is asked or another worker holds it (its lease not yet passed)."""
    with transaction.atomic():
        requested_at = (
            PaymentBatch.objects.select_for_update()
            .filter(pk=batch_id, settle_requested_at__isnull=False)
            .filter(Q(settle_lease_until__isnull=True) | Q(settle_lease_until__lt=now))
            .values_list("settle_requested_at", flat=True)
            .first()
        )
        if requested_at is not None:
            PaymentBatch.objects.filter(pk=batch_id).update(settle_lease_until=now + SETTLE_LEASE)
    return requested_at


def renew_settlement(batch_id: int, *, now: datetime.datetime) -> None:
    PaymentBatch.objects.filter(pk=batch_id).update(settle_lease_until=now + SETTLE_LEASE)


def finish_settlement(batch_id: int, *, requested_at: datetime.datetime) -> datetime.datetime | None:
    """Done with what was asked at ``requested_at``: None. Or the moment a later result asked
    again meanwhile: the worker, still holding the batch, goes over its claims once more."""
    with transaction.atomic():
        done = PaymentBatch.objects.filter(pk=batch_id, settle_requested_at=requested_at).update(
            settle_requested_at=None, settle_lease_until=None
        )
        if done:
            return None
        return PaymentBatch.objects.values_list("settle_requested_at", flat=True).get(pk=batch_id)


def release_settlement(batch_id: int) -> None:
    """The worker failed: the batch is free for its retry (or the sweep) at once."""
    PaymentBatch.objects.filter(pk=batch_id).update(settle_lease_until=None)


def batches_to_settle(*, now: datetime.datetime, older_than: datetime.timedelta):
    """Batches whose claims have awaited settling for a while with no worker on them (the task
    enqueued on commit was lost: Redis down, the worker killed)."""
    return (
        PaymentBatch.objects.filter(settle_requested_at__lt=now - older_than)
        .filter(Q(settle_lease_until__isnull=True) | Q(settle_lease_until__lt=now))
        .order_by("settle_requested_at", "pk")  # the longest waiting first
    )


@dataclass
class AnsweredClaims:
    """What the bank's answers in a batch mean for its claims: those with a line paid that still
    await payment (each may now end) and, per claim, its lines whose payment was returned (the
    provider is told; again only if the lines differ from what it was told)."""

    number: str
    with_paid_line: list[int]
    returned_lines: dict[int, list[int]]
    # Per claim with a paid line, who uploaded the file that stated its latest paid transfer: the
    # claim's events are theirs. A transfer paid before files were kept on it: the batch's latest
    # result file's uploader.
    actors: dict[int, object]


def answered_claims(batch_id: int) -> AnsweredClaims:
    batch = PaymentBatch.objects.get(pk=batch_id)
    latest_file = (
        BankFile.objects.filter(batch_id=batch_id, kind=BankFileKind.RESULT).select_related("created_by").order_by("-pk").first()
    )
    paid_by_file: dict[int, int | None] = {}  # claim → its latest paid transfer's result file
    returned: dict[int, list[int]] = defaultdict(list)
    answered = BatchLine.objects.filter(
        batch_id=batch_id, status__in=(BatchLineStatus.PAID, BatchLineStatus.RETURNED)
    ).values_list("claim_line__claim_id", "claim_line__line_no", "status", "claim_line__claim__status", "transfer__result_file")
    for claim_id, line_no, status, claim_status, file_id in answered.iterator(chunk_size=CHUNK):
        if status == BatchLineStatus.RETURNED:
            returned[claim_id].append(line_no)
        elif claim_status in AWAITING_PAYMENT:  # a claim already ended (an earlier pass) is left alone
            paid_by_file[claim_id] = max(file_id or 0, paid_by_file.get(claim_id) or 0) or None
    uploaders = {
        file.pk: file.created_by
        for file in BankFile.objects.filter(pk__in={pk for pk in paid_by_file.values() if pk}).select_related("created_by")
    }
    fallback = latest_file.created_by if latest_file else batch.released_by
    return AnsweredClaims(
        number=batch.number,
        with_paid_line=sorted(paid_by_file),
        returned_lines={claim_id: sorted(lines) for claim_id, lines in returned.items()},
        actors={claim_id: uploaders.get(file_id, fallback) for claim_id, file_id in paid_by_file.items()},
    )


# --------------------------------------------------------------------------- returns (退票)


def _returned_lines_of_payee(transfer: Transfer):
    """The payee's claim lines still returned, whichever batch returned them, in the batch's jurisdiction."""
    payee = {
        PayeeKind.PROVIDER: {"transfer__provider_id": transfer.provider_id},
        PayeeKind.TRAINEE: {"transfer__trainee_id": transfer.trainee_id},
        PayeeKind.ENTERPRISE: {"transfer__enterprise_credit_code": transfer.enterprise_credit_code},
    }[transfer.payee_kind]
    batch_lines = BatchLine.objects.filter(
        status=BatchLineStatus.RETURNED,
        transfer__status=TransferStatus.RETURNED,
        batch__fund_account__jurisdiction_id=transfer.batch.fund_account.jurisdiction_id,
        transfer__payee_kind=transfer.payee_kind,
        **payee,
    )
    return ClaimLine.objects.filter(payment_status=PaymentStatus.RETURNED, pk__in=batch_lines.values("claim_line_id"))


def returned_transfer_of_line(line: ClaimLine) -> Transfer | None:
    batch_line = (
        BatchLine.objects.filter(claim_line=line, status=BatchLineStatus.RETURNED)
        .select_related("transfer__batch__fund_account")
        .order_by("-pk")
        .first()
    )
    return batch_line.transfer if batch_line else None


@transaction.atomic
def correct_payee_after_return(
    *,
    actor,
    transfer: Transfer | None = None,
    line: ClaimLine | None = None,
    account_name: str,
    bank_name: str,
    account_number: str,
    reason: str,
) -> list[ClaimLine]:
    """Finance corrects the account of a payee whose transfer the bank returned; the payee's
    returned lines go back to ``reserved``, so the next batch pays them (to the new account)."""
    if (transfer is None) == (line is None):
        raise ValueError("exactly one of transfer and line")
    if line is not None:
        transfer = returned_transfer_of_line(line)
        if transfer is None or line.payment_status != PaymentStatus.RETURNED:
            raise StepAlreadyTaken(_("该明细不是退票状态，无需更正收款账户。"))
    transfer = Transfer.objects.select_related("batch__fund_account__jurisdiction", "provider", "trainee").get(pk=transfer.pk)
    access.require_in(actor, access.CORRECT_RETURNED_PAYEES, transfer.batch.fund_account.jurisdiction)
    reason = (reason or "").strip()
    if (problem := reason_refusal(reason)) is not None:
        raise InvalidInput(_("更正收款账户须写明理由。"), fields={"reason": [problem]})
    if transfer.status != TransferStatus.RETURNED:
        raise StepAlreadyTaken(_("第 %(seq)s 笔转账不是退票，无需更正。") % {"seq": transfer.seq})
    # Claims first (in pk order), then their lines, then the payee's account and the ledger:
    # the order cancel_line_payment and apply_bank_result lock in.
    returned = _returned_lines_of_payee(transfer)
    claim_ids = sorted(set(returned.values_list("claim_id", flat=True)))
    lock_claims(claim_ids)
    lines = list(returned.filter(claim_id__in=claim_ids).select_for_update().order_by("claim_id", "line_no"))
    if not lines:
        raise StepAlreadyTaken(_("该收款人的退票明细已更正并重新安排拨付。"))
    owner = {
        PayeeKind.PROVIDER: {"provider": transfer.provider},
        PayeeKind.TRAINEE: {"trainee": transfer.trainee},
        PayeeKind.ENTERPRISE: {"enterprise_credit_code": transfer.enterprise_credit_code},
    }[transfer.payee_kind]
    corrected = set_payee_account(
        actor=actor, account_name=account_name, bank_name=bank_name, account_number=account_number, reason=reason, **owner
    )
    # Each claim's entry says where its money went and where it goes now (the digests tell two
    # accounts alike in their first and last four apart): the claim's timeline shows the change.
    accounts = {"before": account_in_ledger(transfer), "after": account_in_ledger(corrected)}
    ids = [item.pk for item in lines]
    for chunk in chunks(ids):
        ClaimLine.objects.filter(pk__in=chunk, payment_status=PaymentStatus.RETURNED).update(
            payment_status=PaymentStatus.RESERVED
        )
    # Each line's own returned transfer (its latest returned batch line): the payee's lines may
    # come from different batches.
    own_transfer = {}
    for chunk in chunks(ids):
        for row in (
            BatchLine.objects.filter(claim_line_id__in=chunk, status=BatchLineStatus.RETURNED)
            .order_by("claim_line_id", "pk")
            .values("claim_line_id", "transfer__seq", "transfer__batch__number", "transfer__return_reason")
        ):
            own_transfer[row["claim_line_id"]] = row
    per_claim = defaultdict(list)
    for item in lines:
        item.payment_status = PaymentStatus.RESERVED
        per_claim[item.claim_id].append(item)
    states_before = dict(Claim.objects.filter(pk__in=list(per_claim)).values_list("pk", "status"))
    refresh_payment_stage(claim_ids=list(per_claim))
    for claim in Claim.objects.filter(pk__in=list(per_claim)).order_by("pk"):
        before = states_before[claim.pk]
        record_event(
            actor=actor,
            action=actions.CLAIM_PAYMENT_REQUEUED,
            obj=claim,
            claim=claim,
            from_state=before,
            to_state=claim.status,
            reason=reason,
            detail={
                "batch": transfer.batch.number,
                "transfer": transfer.seq,
                "return_reason": transfer.return_reason,
                **accounts,
                "line_changes": [
                    {
                        "line": item.line_no,
                        "amount": item.amount,
                        "batch": own_transfer[item.pk]["transfer__batch__number"],
                        "transfer": own_transfer[item.pk]["transfer__seq"],
                        "return_reason": own_transfer[item.pk]["transfer__return_reason"],
                        "before": {"payment_status": PaymentStatus.RETURNED},
                        "after": {"payment_status": PaymentStatus.RESERVED},
                    }
                    for item in per_claim[claim.pk]
                ],
            },
        )
    return lines


# --------------------------------------------------------------------------- finally not paid


CANCELLABLE = (PaymentStatus.RESERVED, PaymentStatus.RETURNED)


@transaction.atomic
def cancel_line_payment(*, actor, line: ClaimLine, reason_code: str, reason: str) -> ClaimLine:
    """HR finally refuses to pay an approved line not paid yet (awaiting a batch, or returned):
    the line is rejected with a coded reason, its reservation goes back to the allocation, and
    the claim ends when nothing else is left to pay (workflow.disbursement settles it)."""
    claim = Claim.objects.select_for_update().select_related("jurisdiction").get(pk=line.claim_id)
    access.require_in(actor, access.CANCEL_LINE_PAYMENTS, claim.jurisdiction)
    errors = {}
    if reason_code not in REASONS:
        errors["reason_code"] = [_("请选择理由代码。")]
    reason = (reason or "").strip()
    if (problem := reason_refusal(reason)) is not None:
        errors["reason"] = [_("必填：写明不予拨付的情况。") if not reason else problem]
    if errors:
        raise InvalidInput(_("不予拨付须写明理由。"), fields=errors)
    line = ClaimLine.objects.select_for_update().get(pk=line.pk)
    if line.decision != LineDecision.APPROVE or line.payment_status not in CANCELLABLE:
        if line.payment_status in (PaymentStatus.IN_BATCH, PaymentStatus.IN_PAYMENT):
            raise StepAlreadyTaken(_("第 %(line)s 行已编入拨付批次，须先作废批次。") % {"line": line.line_no})
        if line.payment_status == PaymentStatus.PAID:
            raise StepAlreadyTaken(_("第 %(line)s 行已拨付，只能开具追回单。") % {"line": line.line_no})
        raise StepAlreadyTaken(
            _("第 %(line)s 行不是待拨付的核准明细（%(status)s）。")
            % {"line": line.line_no, "status": line.get_payment_status_display()}
        )
    before = {"decision": line.decision, "decision_reason": line.decision_reason, "payment_status": line.payment_status}
    ClaimLine.objects.filter(pk=line.pk).update(decision=LineDecision.REJECT, decision_reason=reason_code)
    line.decision, line.decision_reason = LineDecision.REJECT, reason_code
    release_reservation(
        actor=actor, line=line, to_status=PaymentStatus.CANCELLED, action=actions.ALLOCATION_RELEASED, reason=reason
    )
    if line.allocation_id is None:  # nothing was reserved: still not to be paid
        ClaimLine.objects.filter(pk=line.pk).update(payment_status=PaymentStatus.CANCELLED)
        line.payment_status = PaymentStatus.CANCELLED
    total_before, status_before = claim.total, claim.status
    recompute_total(claim=claim)
    record_event(
        actor=actor,
        action=actions.CLAIM_LINE_PAYMENT_CANCELLED,
        obj=claim,
        claim=claim,
        reason=reason,
        from_state=status_before,
        to_state=claim.status,
        detail={
            "line": line.line_no,
            "amount": line.amount,
            "reason_code": reason_code,
            "before": before,
            "after": {"decision": line.decision, "decision_reason": reason_code, "payment_status": line.payment_status},
            "total_before": total_before,
            "total": claim.total,
        },
    )
    # The claim may now be settled: the workflow ends it or syncs its status (workflow.disbursement).
    return line
