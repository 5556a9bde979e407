"""Payment batches: finance builds a batch from approved lines, grouped by payee; another finance
officer checks and releases it; a Celery task writes the bank's payment file and marks the lines
"in payment".

Nothing is paid twice: a line enters a batch only by a conditional move out of ``reserved``
under a row lock, the database allows one live batch line per claim line, and the release runs
in one transaction that does nothing when the batch is already released (a retried task, a
second click, a worker killed midway and its message redelivered)."""

import csv
import datetime
import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from audit import actions
from audit.services import record_event, record_events
from claims.bounds import reason_refusal
from claims.errors import ActionForbidden, InvalidInput, StepAlreadyTaken
from claims.models import Claim, ClaimLine, ClaimStatus, Jurisdiction, LineDecision, Payee, PaymentStatus
from claims.payment_stage import lock_claims, refresh_payment_stage
from claims.spreadsheets import safe_row, xlsx_row
from due.enqueue import enqueue, enqueue_after_commit

from .. import access
from ..models import (
    BankFile,
    BankFileKind,
    BatchLine,
    BatchLineStatus,
    BatchStatus,
    FundAccount,
    PayeeAccount,
    PayeeKind,
    PaymentBatch,
    Transfer,
    TransferStatus,
)
from .payees import account_number_of

CHUNK = 5000
PAYMENT_FILE_HEADER = ["批次号", "序号", "收款人类型", "户名", "账号", "开户银行", "金额", "用途"]
PAYEE_KIND_IN_FILE = {PayeeKind.PROVIDER: "单位", PayeeKind.TRAINEE: "个人", PayeeKind.ENTERPRISE: "企业"}


def chunks(items: list, size: int = CHUNK):
    """Id lists cut to a size one UPDATE … WHERE id IN (…) takes comfortably."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _fund_account(jurisdiction: Jurisdiction, year: int | None) -> FundAccount:
    year = year or timezone.localdate().year
    account = FundAccount.objects.select_for_update().filter(jurisdiction=jurisdiction, year=year).first()
    if account is None:
        raise InvalidInput(_("%(year)s 年度没有专账。") % {"year": year}, fields={"year": [_("无此年度专账。")]})
    return account


def _claims_with_other_duties(*, other_duty_processes, claim_ids) -> set[int]:
    """Claims on which this person acted at another step: they may not pay them (N4, Art. 25).
    ``other_duty_processes``: the processes where they did (the workflow's policy gives them)."""
    return set(Claim.objects.filter(pk__in=claim_ids, process_id__in=other_duty_processes).values_list("pk", flat=True))


@dataclass
class _Payee:
    kind: str
    provider_id: int | None
    trainee_id: int | None
    enterprise_credit_code: str
    account: PayeeAccount
    lines: list


def _payee_of(row: dict, provider_accounts: dict, trainee_accounts: dict, enterprise_accounts: dict):
    """Who a line pays, as the standard says (its ``payee``): the provider, the person, or the
    enterprise the claim names (S10–S14). Returns (key, their account or None, the reason to
    give when they have none)."""
    payee = row["claim__policy__payee"]
    if payee == Payee.TRAINEE:
        key = (PayeeKind.TRAINEE, row["trainee_id"])
        return key, trainee_accounts.get(key[1]), _("收款人没有社会保障卡账户。")
    if payee == Payee.ENTERPRISE:
        key = (PayeeKind.ENTERPRISE, row["claim__enterprise_credit_code"])
        return key, enterprise_accounts.get(key[1]), _("企业没有登记银行账户。")
    key = (PayeeKind.PROVIDER, row["claim__provider_id"])
    return key, provider_accounts.get(key[1]), _("培训机构没有登记银行账户。")


@transaction.atomic
def build_batch(
    *, actor, jurisdiction: Jurisdiction, other_duty_processes, claim_ids: list[int] | None = None, year: int | None = None
) -> PaymentBatch:
    """Build a batch from the approved, reserved lines of the year's fund account (or of the given
    claims only), one transfer per payee. Without ``claim_ids``, lines that cannot be paid yet (no
    payee account; a claim this officer reviewed) are left out and listed on the batch; with
    ``claim_ids``, any such line is an error naming the claim."""
    access.require_in(actor, access.BUILD_BATCHES, jurisdiction)
    account = _fund_account(jurisdiction, year)  # locked: builds of one account take turns
    eligible = ClaimLine.objects.filter(
        allocation__fund_account=account,
        payment_status=PaymentStatus.RESERVED,
        decision=LineDecision.APPROVE,
        amount__gt=0,
        claim__status__in=(ClaimStatus.APPROVED, ClaimStatus.IN_PAYMENT),
    )
    errors: dict[str, list[str]] = {}
    if claim_ids is not None:
        wanted = list(dict.fromkeys(claim_ids))
        visible = set(Claim.objects.filter(pk__in=wanted, jurisdiction=jurisdiction).values_list("pk", flat=True))
        payable = set(eligible.filter(claim_id__in=wanted).values_list("claim_id", flat=True))
        for index, claim_id in enumerate(wanted):
            if claim_id not in visible:
                errors[f"claims[{index}]"] = [_("没有编号为 %(id)s 的申领。") % {"id": claim_id}]
            elif claim_id not in payable:
                errors[f"claims[{index}]"] = [_("该申领没有待拨付的已核准行。")]
        if errors:
            raise InvalidInput(_("所选申领不能编入批次。"), fields=errors)
        eligible = eligible.filter(claim_id__in=wanted)
    # The claims first, then their lines (lock_claims: the order of every payment service; a
    # line's cancellation locks its claim, then the line). A concurrent build waits on the lines,
    # then no longer sees them as reserved.
    lock_claims(eligible.values_list("claim_id", flat=True))
    locking = {"of": ("self",)} if connection.features.has_select_for_update_of else {}
    rows = list(
        eligible.select_for_update(**locking)
        .order_by("claim_id", "line_no")
        .values(
            "pk",
            "claim_id",
            "line_no",
            "amount",
            "trainee_id",
            "claim__provider_id",
            "claim__policy__payee",
            "claim__number",
            "claim__enterprise_credit_code",
        )
    )
    if not rows:
        raise InvalidInput(_("没有可编入批次的已核准待拨付行。"), fields={"claims": [_("没有待拨付的行。")]})
    claim_numbers = {row["claim_id"]: row["claim__number"] for row in rows}
    reviewed = _claims_with_other_duties(other_duty_processes=other_duty_processes, claim_ids=list(claim_numbers))
    provider_accounts = {
        acc.provider_id: acc for acc in PayeeAccount.objects.filter(provider_id__in={row["claim__provider_id"] for row in rows})
    }
    trainee_accounts = {acc.trainee_id: acc for acc in PayeeAccount.objects.filter(trainee_id__in=eligible.values("trainee_id"))}
    enterprise_accounts = {
        acc.enterprise_credit_code: acc
        for acc in PayeeAccount.objects.filter(
            enterprise_credit_code__in={row["claim__enterprise_credit_code"] for row in rows} - {""}
        )
    }
    payees: dict[tuple, _Payee] = {}
    skipped = []
    for row in rows:
        key, payee_account, no_account = _payee_of(row, provider_accounts, trainee_accounts, enterprise_accounts)
        reason = None
        if row["claim_id"] in reviewed:
            reason = _("职责分离：您审核过该申领，不能为其拨付。")
        elif payee_account is None:
            reason = no_account
        if reason:
            skipped.append({"claim": row["claim__number"], "line": row["line_no"], "amount": row["amount"], "reason": reason})
            continue
        payee = payees.setdefault(
            key,
            _Payee(
                kind=key[0],
                provider_id=key[1] if key[0] == PayeeKind.PROVIDER else None,
                trainee_id=key[1] if key[0] == PayeeKind.TRAINEE else None,
                enterprise_credit_code=key[1] if key[0] == PayeeKind.ENTERPRISE else "",
                account=payee_account,
                lines=[],
            ),
        )
        payee.lines.append(row)
    if claim_ids is not None and skipped:
        index_of = {claim_id: index for index, claim_id in enumerate(dict.fromkeys(claim_ids))}
        number_to_id = {number: claim_id for claim_id, number in claim_numbers.items()}
        for item in skipped:
            errors.setdefault(f"claims[{index_of[number_to_id[item['claim']]]}]", []).append(
                _("第 %(line)s 行：%(reason)s") % {"line": item["line"], "reason": item["reason"]}
            )
        raise InvalidInput(_("所选申领有不能拨付的行。"), fields=errors)
    if not payees:
        raise InvalidInput(
            _("没有可编入批次的行：%(reason)s") % {"reason": skipped[0]["reason"]},
            fields={"claims": sorted({item["reason"] for item in skipped})},
        )
    line_ids = [row["pk"] for payee in payees.values() for row in payee.lines]
    moved = sum(
        ClaimLine.objects.filter(pk__in=chunk, payment_status=PaymentStatus.RESERVED).update(
            payment_status=PaymentStatus.IN_BATCH
        )
        for chunk in chunks(line_ids)
    )
    if moved != len(line_ids):
        raise StepAlreadyTaken(_("部分行已被他人编入批次，请刷新后重试。"))

    sequence = account.batches.count() + 1
    batch = PaymentBatch.objects.create(
        number=f"PB-{jurisdiction.code}-{account.year}-{sequence:04d}",
        fund_account=account,
        built_by=actor,
        skipped=[{**item, "amount": f"{item['amount']:.2f}"} for item in skipped],
    )
    ordered = sorted(
        payees.values(),
        key=lambda payee: (
            payee.kind,
            payee.account.account_name,
            payee.provider_id or 0,
            payee.trainee_id or 0,
            payee.enterprise_credit_code,
        ),
    )
    transfers = Transfer.objects.bulk_create(
        [
            Transfer(
                batch=batch,
                seq=seq,
                payee_kind=payee.kind,
                provider_id=payee.provider_id,
                trainee_id=payee.trainee_id,
                enterprise_credit_code=payee.enterprise_credit_code,
                account_name=payee.account.account_name,
                bank_name=payee.account.bank_name,
                account_number_encrypted=payee.account.account_number_encrypted,
                account_number_masked=payee.account.account_number_masked,
                account_set_by_id=payee.account.updated_by_id,
                account_set_at=payee.account.updated_at,
                amount=sum((row["amount"] for row in payee.lines), Decimal("0.00")),
            )
            for seq, payee in enumerate(ordered, start=1)
        ],
        batch_size=CHUNK,
    )
    BatchLine.objects.bulk_create(
        [
            BatchLine(batch=batch, transfer=transfer, claim_line_id=row["pk"], amount=row["amount"])
            for transfer, payee in zip(transfers, ordered)
            for row in payee.lines
        ],
        batch_size=CHUNK,
    )
    batch.total = sum((transfer.amount for transfer in transfers), Decimal("0.00"))
    batch.line_count, batch.payee_count = len(line_ids), len(transfers)
    batch.save(update_fields=["total", "line_count", "payee_count"])

    claim_ids_in_batch = sorted({row["claim_id"] for payee in payees.values() for row in payee.lines})
    states_before = dict(Claim.objects.filter(pk__in=claim_ids_in_batch).values_list("pk", "status"))
    refresh_payment_stage(claim_ids=claim_ids_in_batch)
    record_event(
        actor=actor,
        action=actions.PAYMENT_BATCH_BUILT,
        obj=batch,
        to_state=batch.status,
        detail={
            "number": batch.number,
            "year": account.year,
            "total": batch.total,
            "lines": batch.line_count,
            "payees": batch.payee_count,
            "claims": len(claim_ids_in_batch),
            "skipped": batch.skipped,
        },
    )
    _record_claim_events(
        actor=actor,
        batch=batch,
        action=actions.CLAIM_PAYMENT_BATCHED,
        lines=[(row, seq) for seq, payee in enumerate(ordered, start=1) for row in payee.lines],
        line_from=PaymentStatus.RESERVED,
        line_to=PaymentStatus.IN_BATCH,
        states_before=states_before,
    )
    return batch


def _record_claim_events(
    *, actor, batch: PaymentBatch, action: str, lines, line_from: str, line_to: str, states_before: dict | None = None
) -> None:
    """One entry per claim of the batch (so each claim's timeline shows it), appended in bulk;
    ``states_before``: the claims' statuses before the change, when it changed them."""
    by_claim: dict[int, list] = defaultdict(list)
    for row, seq in lines:
        by_claim[row["claim_id"]].append(
            {
                "line": row["line_no"],
                "amount": row["amount"],
                "transfer": seq,
                "before": {"payment_status": line_from},
                "after": {"payment_status": line_to},
            }
        )
    claims = Claim.objects.in_bulk(list(by_claim))
    record_events(
        [
            {
                "actor": actor,
                "action": action,
                "obj": claims[claim_id],
                "claim": claims[claim_id],
                "from_state": (states_before or {}).get(claim_id, claims[claim_id].status),
                "to_state": claims[claim_id].status,
                "detail": {"batch": batch.number, "line_changes": changes},
            }
            for claim_id, changes in sorted(by_claim.items())
        ]
    )


def _batch_rows(batch: PaymentBatch) -> list:
    """(row, transfer seq) of each line of the batch, for the claim entries."""
    return [
        (
            {"claim_id": item["claim_line__claim_id"], "line_no": item["claim_line__line_no"], "amount": item["amount"]},
            item["transfer__seq"],
        )
        for item in batch.lines.order_by("claim_line__claim_id", "claim_line__line_no").values(
            "claim_line__claim_id", "claim_line__line_no", "amount", "transfer__seq"
        )
    ]


@transaction.atomic
def cancel_batch(*, actor, batch: PaymentBatch, reason: str) -> PaymentBatch:
    """A batch not yet released is withdrawn: its lines go back to await the next batch."""
    reason = (reason or "").strip()
    if (problem := reason_refusal(reason)) is not None:
        raise InvalidInput(_("作废批次须写明理由。"), fields={"reason": [problem]})
    batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
    access.require_in(actor, access.CANCEL_BATCHES, batch.fund_account.jurisdiction)
    if batch.status != BatchStatus.BUILT:
        raise StepAlreadyTaken(_("批次已发放或已作废，不能作废。"))
    rows = _batch_rows(batch)
    lock_claims(row["claim_id"] for row, _seq in rows)  # before their lines (lock_claims)
    states_before = dict(Claim.objects.filter(pk__in={row["claim_id"] for row, _seq in rows}).values_list("pk", "status"))
    line_ids = list(batch.lines.values_list("claim_line_id", flat=True))
    for chunk in chunks(line_ids):
        ClaimLine.objects.filter(pk__in=chunk, payment_status=PaymentStatus.IN_BATCH).update(
            payment_status=PaymentStatus.RESERVED
        )
    batch.lines.update(status=BatchLineStatus.CANCELLED)
    batch.transfers.update(status=TransferStatus.CANCELLED)
    batch.status, batch.cancelled_by, batch.cancelled_at = BatchStatus.CANCELLED, actor, timezone.now()
    batch.save(update_fields=["status", "cancelled_by", "cancelled_at"])
    refresh_payment_stage(claim_ids={row["claim_id"] for row, _seq in rows})
    record_event(
        actor=actor,
        action=actions.PAYMENT_BATCH_CANCELLED,
        obj=batch,
        from_state=BatchStatus.BUILT,
        to_state=batch.status,
        reason=reason,
        detail={"number": batch.number, "lines": batch.line_count, "total": batch.total},
    )
    _record_claim_events(
        actor=actor,
        batch=batch,
        action=actions.CLAIM_PAYMENT_UNBATCHED,
        lines=rows,
        line_from=PaymentStatus.IN_BATCH,
        line_to=PaymentStatus.RESERVED,
        states_before=states_before,
    )
    return batch


def check_batch(batch: PaymentBatch) -> list[str]:
    """What stops a release: totals that do not add up, a payee without an account, a line moved meanwhile."""
    problems = []
    transfers_total = batch.transfers.aggregate(total=Sum("amount"))["total"] or Decimal("0.00")
    lines_total = batch.lines.aggregate(total=Sum("amount"))["total"] or Decimal("0.00")
    if not batch.total == transfers_total == lines_total:
        problems.append(
            _("金额不符：批次 %(batch)s，收款人合计 %(transfers)s，明细合计 %(lines)s。")
            % {"batch": batch.total, "transfers": transfers_total, "lines": lines_total}
        )
    if batch.transfers.count() != batch.payee_count or batch.lines.count() != batch.line_count:
        problems.append(_("笔数不符。"))
    for seq in batch.transfers.filter(account_number_encrypted="").values_list("seq", flat=True):
        problems.append(_("第 %(seq)s 笔没有收款账号。") % {"seq": seq})
    moved = batch.lines.exclude(claim_line__payment_status=PaymentStatus.IN_BATCH).count()
    if moved:
        problems.append(_("%(n)s 行已不在“已编入批次”状态。") % {"n": moved})
    return problems


def _reviewed_claims_in_batch(*, other_duty_processes, batch: PaymentBatch) -> list[str]:
    claim_ids = batch.lines.values("claim_line__claim_id")
    reviewed = _claims_with_other_duties(other_duty_processes=other_duty_processes, claim_ids=claim_ids)
    return sorted(Claim.objects.filter(pk__in=reviewed).values_list("number", flat=True))


@transaction.atomic
def request_release(*, actor, batch: PaymentBatch, other_duty_processes) -> PaymentBatch:
    """The second finance officer checks and releases the batch (four eyes): the bank file is written
    by a Celery task after commit. Asking again while it is being released only re-queues that task."""
    from ..selectors.batches import changed_accounts
    from ..tasks import release_batch_task

    batch = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
    access.require_in(actor, access.RELEASE_BATCHES, batch.fund_account.jurisdiction)
    if batch.status == BatchStatus.RELEASING and batch.released_by_id == actor.pk:
        enqueue_after_commit(release_batch_task, batch.pk, sweep="payments.requeue_stuck_releases")
        return batch
    if batch.status != BatchStatus.BUILT:
        raise StepAlreadyTaken(_("批次 %(number)s 已发放或已作废。") % {"number": batch.number})
    access.require_not_builder(actor, batch)
    access.require_not_account_setter(actor, batch)
    reviewed = _reviewed_claims_in_batch(other_duty_processes=other_duty_processes, batch=batch)
    if reviewed:
        raise ActionForbidden(
            _("职责分离：您审核过本批次中的申领（%(claims)s），不能发放。") % {"claims": "、".join(reviewed[:10])},
            code="segregation_of_duties",
        )
    problems = check_batch(batch)
    if problems:
        raise InvalidInput(_("批次复核未通过。"), fields={"batch": problems})
    batch.status, batch.released_by, batch.release_requested_at = BatchStatus.RELEASING, actor, timezone.now()
    batch.save(update_fields=["status", "released_by", "release_requested_at"])
    record_event(
        actor=actor,
        action=actions.PAYMENT_BATCH_RELEASE_REQUESTED,
        obj=batch,
        from_state=BatchStatus.BUILT,
        to_state=batch.status,
        detail={
            "number": batch.number,
            "total": batch.total,
            "lines": batch.line_count,
            "payees": batch.payee_count,
            "built_by": batch.built_by.get_username(),
            # What the releaser was shown (selectors.batches.changed_accounts): the transfers paying
            # an account other than the one their payee was last paid into.
            "changed_accounts": [row["seq"] for row in changed_accounts(batch)],
        },
    )
    # Redis down: the release stands (answered as usual), requeue_stuck_releases sends it later.
    enqueue_after_commit(release_batch_task, batch.pk, sweep="payments.requeue_stuck_releases")
    return batch


def payment_file_rows(batch: PaymentBatch, transfers: list[Transfer]) -> tuple[list[list], str]:
    """The bank file's detail rows (full account numbers) and the SHA-256 over them, as the trailer states it."""
    purpose = f"职业技能培训补贴 {batch.number}"  # the bank's file is in Chinese whatever the officer's language
    # Neutralised before the checksum, so that the trailer states the digest of what the file holds.
    rows = [
        safe_row(
            [
                batch.number,
                transfer.seq,
                PAYEE_KIND_IN_FILE[transfer.payee_kind],
                transfer.account_name,
                account_number_of(transfer),
                transfer.bank_name,
                f"{transfer.amount:.2f}",
                purpose,
            ]
        )
        for transfer in transfers
    ]
    digest = hashlib.sha256("\n".join(",".join(str(value) for value in row) for row in rows).encode("utf-8")).hexdigest()
    return rows, digest


EXCEL_SHEET_TITLE_MAX = 31


def payment_files(batch: PaymentBatch) -> tuple[bytes, bytes, str]:
    """CSV (UTF-8 with BOM, so Excel opens it) and XLSX, each ending in a trailer: count, total, checksum."""
    transfers = list(batch.transfers.order_by("seq"))
    rows, digest = payment_file_rows(batch, transfers)
    total = f"{sum((transfer.amount for transfer in transfers), Decimal('0.00')):.2f}"
    trailer = ["合计", len(rows), "", "", "", "", total, f"SHA256:{digest}"]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(safe_row(PAYMENT_FILE_HEADER))
    writer.writerows(rows)
    writer.writerow(safe_row(trailer))
    csv_bytes = b"\xef\xbb\xbf" + text.getvalue().encode("utf-8")

    workbook = Workbook(write_only=True)
    # Excel refuses a sheet title over 31 characters (and "repairs" the file): a jurisdiction code
    # of 19 or 20 characters makes the batch number longer; the number is on every row anyway.
    sheet = workbook.create_sheet(batch.number if len(batch.number) <= EXCEL_SHEET_TITLE_MAX else "transfers")
    sheet.append(xlsx_row(sheet, PAYMENT_FILE_HEADER))
    for row in rows:  # already safe; the amount as a number, the account as text (no lost digits)
        sheet.append(xlsx_row(sheet, [*row[:4], str(row[4]), row[5], Decimal(row[6]), row[7]]))
    sheet.append(xlsx_row(sheet, [*trailer[:6], Decimal(total), trailer[7]]))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return csv_bytes, buffer.getvalue(), digest


def release_batch(*, batch_id: int) -> PaymentBatch | None:
    """The release task's work, in one transaction: write the bank files, mark transfers sent and
    lines in payment. A batch already released (or cancelled) is left as it is: safe to retry."""
    with transaction.atomic():
        batch = PaymentBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.status != BatchStatus.RELEASING:
            return batch
        csv_bytes, xlsx_bytes, digest = payment_files(batch)
        files = [
            BankFile.objects.create(
                batch=batch,
                kind=kind,
                filename=f"{batch.number}.{extension}",
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
                created_by=batch.released_by,
            )
            for kind, extension, content in (
                (BankFileKind.PAYMENT_CSV, "csv", csv_bytes),
                (BankFileKind.PAYMENT_XLSX, "xlsx", xlsx_bytes),
            )
        ]
        batch.transfers.filter(status=TransferStatus.PENDING).update(status=TransferStatus.SENT)
        batch.lines.filter(status=BatchLineStatus.IN_BATCH).update(status=BatchLineStatus.IN_PAYMENT)
        ClaimLine.objects.filter(batch_lines__batch=batch, payment_status=PaymentStatus.IN_BATCH).update(
            payment_status=PaymentStatus.IN_PAYMENT
        )
        batch.status, batch.released_at = BatchStatus.RELEASED, timezone.now()
        batch.save(update_fields=["status", "released_at"])
        record_event(
            actor=batch.released_by,
            action=actions.PAYMENT_BATCH_RELEASED,
            obj=batch,
            from_state=BatchStatus.RELEASING,
            to_state=batch.status,
            detail={
                "number": batch.number,
                "total": batch.total,
                "lines": batch.line_count,
                "payees": batch.payee_count,
                "checksum": digest,
                "files": {file.kind: file.sha256 for file in files},
            },
        )
        _record_claim_events(
            actor=batch.released_by,
            batch=batch,
            action=actions.CLAIM_IN_PAYMENT,
            lines=_batch_rows(batch),
            line_from=PaymentStatus.IN_BATCH,
            line_to=PaymentStatus.IN_PAYMENT,
        )
        return batch


RELEASE_SWEEP_AFTER = datetime.timedelta(minutes=2)  # a release still "releasing" this long after it was asked


def requeue_stuck_releases(now: datetime.datetime) -> int:
    """Due job: batches asked to be released whose task never ran or died (Redis down at commit,
    a message dropped, a worker killed past its retries) are handed to the release task again;
    a batch released meanwhile is left alone by it (release_batch). Returns how many."""
    from ..tasks import release_batch_task  # tasks.py imports this module

    cutoff = now - RELEASE_SWEEP_AFTER
    stuck = PaymentBatch.objects.filter(status=BatchStatus.RELEASING, release_requested_at__lt=cutoff)
    batch_ids = list(stuck.values_list("pk", flat=True))
    for batch_id in batch_ids:
        enqueue(release_batch_task, batch_id, sweep="payments.requeue_stuck_releases")
    return len(batch_ids)
