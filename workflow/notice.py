"""Public notice (公示, RULES N5, docs/rules.md "N5 — Public notice"): a finally approved claim's
approved lines are published for the jurisdiction's "public_notice" time limit (5 working days by
default, on its working-day calendar: deadlines.py) before finance may batch them. Anyone may
object to a line meanwhile; the HR head upholds (the line is rejected, its reservation released,
the provider told) or dismisses (it proceeds). When the period has passed with no objection open,
the due job ``close_due_notices`` hands the claim to finance (the flow's ``public_notice`` step is
completed, the claim goes to disbursement).

The period is the notice task's: it starts when the step opens, and ends on the inbox row's stored
due date (the one every reader takes; an administrator's calendar change moves it)."""

import datetime
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from audit import actions
from audit.services import record_event
from claims.advisory_locks import hold_advisory_locks
from claims.bounds import reason_refusal, whole_number
from claims.dates import chinese_date_text, local_date
from claims.errors import DomainError, InvalidInput, NotInScope, StepAlreadyTaken
from claims.models import Claim, ClaimLine, ClaimStatus, LineDecision, PaymentStatus
from claims.personal_data import id_number_digest
from claims.services import recompute_total
from payments.services.funds import release_reservation

from . import policy
from .deadlines import Deadlines, DueState, last_due_not_passed, passed_at
from .flows import ClaimFlow
from .models import InboxItem, Objection, ObjectionStatus
from .notify import notify_objection_filed, notify_objection_overdue, notify_objection_upheld, notify_open_tasks
from .selectors import open_task_of_claim
from .steps import Decision

STEP = "public_notice"
# The time limit (steps.DEADLINE_KINDS, or the jurisdiction's StepDeadline row) for deciding an objection.
OBJECTION_DEADLINE = "objection"
CONTACT_MAX = 100
REASON_MAX = 2000
# The reason code a line rejected on an upheld objection carries (claims/reasons.py).
OBJECTION_REASON = "OBJECTION"
OBJECTION_LOCK_CLASS = 0x4F424A43  # "OBJC": one client address's objections take turns (the rate limit)


class TooManyObjections(DomainError):
    """One address filed its allowance of objections in the last hour: 429."""

    code = "rate_limited"
    status = 429


# --- reads ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeRow:
    """One line as the public sees it: nothing but what RULES N5 publishes, masked."""

    line_id: int
    provider: str
    occupation: str
    level: str
    standard: str
    name_masked: str
    id_masked: str
    amount: object
    start: datetime.date
    end: datetime.date


def mask_name(name: str) -> str:
    """张*三; a two-character name 张*; one character *."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def lines_on_notice(*, provider: str = "", occupation: str = "", now: datetime.datetime | None = None) -> QuerySet:
    """The approved lines of claims on notice whose period has not passed, in the period's order.
    ``provider``/``occupation``: a provider's code or an occupation's name (exact)."""
    today = last_due_not_passed(now or timezone.now())
    lines = (
        ClaimLine.objects.filter(
            claim__status=ClaimStatus.PUBLIC_NOTICE,
            claim__inbox_items__step=STEP,
            claim__inbox_items__due__gte=today,
            decision=LineDecision.APPROVE,
            amount__gt=0,
        )
        .select_related("claim__provider", "claim__policy", "occupation", "trainee")
        .order_by("claim__inbox_items__created", "claim_id", "line_no")
    )
    if provider:
        lines = lines.filter(claim__provider__code=provider)
    if occupation:
        lines = lines.filter(occupation__name=occupation)
    return lines


def notice_rows(lines) -> list[NoticeRow]:
    items = {
        item.claim_id: item
        for item in InboxItem.objects.filter(step=STEP, claim_id__in={line.claim_id for line in lines}).only(
            "claim_id", "created", "due"
        )
    }
    rows = []
    for line in lines:
        item = items[line.claim_id]
        rows.append(
            NoticeRow(
                line_id=line.pk,
                provider=line.claim.provider.name,
                occupation=line.occupation.name,
                level=line.get_level_display(),
                standard=f"{line.claim.policy.code} {line.claim.policy.name}",
                name_masked=mask_name(line.name),
                id_masked=line.trainee.id_number_masked,
                amount=line.amount,
                start=local_date(item.created),
                end=item.due,
            )
        )
    return rows


def published_rows(claim: Claim) -> list[NoticeRow]:
    """The claim's lines as its notice publishes them (the approved lines with an amount), masked
    by notice_rows: the one masking definition, for the page, its XLSX, the API and the ledger."""
    lines = (
        ClaimLine.objects.filter(claim=claim, decision=LineDecision.APPROVE, amount__gt=0)
        .select_related("claim__provider", "claim__policy", "occupation", "trainee")
        .order_by("line_no")
    )
    return notice_rows(list(lines))


def row_record(row: NoticeRow, line_no: int) -> dict:
    """A published line as the ledger and the auditor's file keep it (masked; money as a string)."""
    return {
        "line": line_no,
        "provider": row.provider,
        "occupation": row.occupation,
        "level": row.level,
        "standard": row.standard,
        "trainee": row.name_masked,
        "id_number": row.id_masked,
        "amount": f"{row.amount:.2f}",
    }


def record_published(*, actor, claim: Claim) -> None:
    """The claim went on notice (workflow/services.py, in the final approval's transaction): the
    ledger keeps what was published, from when, until when (the period as computed then)."""
    item = _notice_item(claim)
    if item is None:
        return
    rows = published_rows(claim)
    line_nos = dict(ClaimLine.objects.filter(claim=claim).values_list("pk", "line_no"))
    record_event(
        actor=actor,
        action=actions.CLAIM_NOTICE_PUBLISHED,
        obj=claim,
        claim=claim,
        from_state=claim.status,
        to_state=claim.status,
        detail={
            "task": item.task_id,
            "start": local_date(item.created).isoformat(),
            "end": item.due.isoformat(),
            "lines": [row_record(row, line_nos[row.line_id]) for row in rows],
            "total": f"{sum((row.amount for row in rows), start=0):.2f}",
        },
    )


def notice_files(claim_ids) -> dict[int, dict]:
    """What the auditor asks of each claim's notice (RULES N10), by claim id, for those ever on
    notice: what was published and when (the ledger's ``claim.notice_published``), the period,
    every objection with its outcome, and how the notice closed. A fixed number of queries."""
    from audit.models import AuditEvent

    claim_ids = list(claim_ids)
    events: dict[int, dict] = {}
    for event in AuditEvent.objects.filter(
        claim_id__in=claim_ids, action__in=(actions.CLAIM_NOTICE_PUBLISHED, actions.CLAIM_NOTICE_CLOSED)
    ).order_by("seq"):
        events.setdefault(event.claim_id, {})[event.action] = event
    items = {item.claim_id: item for item in InboxItem.objects.filter(step=STEP, claim_id__in=claim_ids)}
    objections: dict[int, list] = {}
    for objection in (
        Objection.objects.filter(claim_id__in=claim_ids).select_related("line", "decided_by").order_by("created", "pk")
    ):
        objections.setdefault(objection.claim_id, []).append(objection)
    files = {}
    for claim_id in claim_ids:
        published = events.get(claim_id, {}).get(actions.CLAIM_NOTICE_PUBLISHED)
        closed = events.get(claim_id, {}).get(actions.CLAIM_NOTICE_CLOSED)
        item = items.get(claim_id)
        if published is None and item is None and closed is None:
            continue
        if published is not None:
            start = published.detail.get("start", "")
        elif item is not None:
            start = local_date(item.created).isoformat()
        else:
            start = closed.detail.get("start", "")
        if closed is not None:
            end = closed.detail.get("end", "")
        elif item is not None:
            end = item.due.isoformat()  # the period as it stands (an administrator's calendar change moves it)
        else:
            end = published.detail.get("end", "")
        files[claim_id] = {
            "published_at": published.at if published else None,
            "published_by": published.actor_username if published else "",
            "start": start,
            "end": end,
            "lines": published.detail.get("lines", []) if published else [],
            "total": published.detail.get("total", "") if published else "",
            "objections": objections.get(claim_id, []),
            "closed_at": closed.at if closed else None,
            "closed_to": closed.to_state if closed else "",
        }
    return files


def notice_file(claim: Claim) -> dict | None:
    return notice_files([claim.pk]).get(claim.pk)


def objection_by_receipt(receipt: str) -> Objection:
    objection = Objection.objects.filter(receipt=(receipt or "").strip().upper()[:20]).select_related("claim", "line").first()
    if objection is None:
        raise NotInScope(_("没有该回执号的异议。"))
    return objection


def objections_for(user) -> QuerySet:
    """The objections of the claims in the HR head's jurisdictions, open ones first."""
    from claims.selectors import jurisdictions_overseen_by

    if not policy.may_decide_objections(user):
        return Objection.objects.none()
    return (
        Objection.objects.filter(claim__jurisdiction__in=jurisdictions_overseen_by(user))
        .select_related("claim__provider", "line__trainee", "line__occupation")
        .order_by("-status", "created")  # "open" sorts after "dismissed"/"upheld" reversed: open first
    )


def objection_due(objection: Objection, *, deadlines: Deadlines | None = None) -> datetime.date:
    """The last day to decide the objection: the jurisdiction's "objection" time limit in working
    days from the day it was filed (deadlines.py, the one place deadlines are computed)."""
    return (deadlines or Deadlines()).due(objection.created, OBJECTION_DEADLINE, objection.claim.jurisdiction_id)


def objection_due_state(
    objection: Objection, *, deadlines: Deadlines | None = None, now: datetime.datetime | None = None
) -> tuple[datetime.date, str]:
    """(its due date, DueState): a decided objection is never due soon nor overdue."""
    deadlines = deadlines or Deadlines()
    due = objection_due(objection, deadlines=deadlines)
    if objection.status != ObjectionStatus.OPEN:
        return due, DueState.ON_TIME
    return due, deadlines.state(due, objection.claim.jurisdiction_id, now=now)


def with_due_states(objections, *, now: datetime.datetime | None = None) -> list[Objection]:
    """The objections, each with ``due`` and ``due_state`` set (one calendar read per jurisdiction)."""
    deadlines = Deadlines()
    found = list(objections)
    for objection in found:
        objection.due, objection.due_state = objection_due_state(objection, deadlines=deadlines, now=now)
    return found


def get_objection_for(*, user, objection_id) -> Objection:
    """One objection for the HR head who decides it; another jurisdiction's is not found."""
    if not policy.may_decide_objections(user):
        raise policy.objection_refusal(user=user, claim=None)
    try:
        return objections_for(user).get(pk=int(objection_id))
    except (Objection.DoesNotExist, TypeError, ValueError):
        raise NotInScope() from None


def notify_overdue_objections(now: datetime.datetime) -> int:
    """The due job: an open objection not decided by its deadline tells the HR heads who decide it
    and the team leads (workflow/notify.py); once per objection, however often it runs."""
    candidates = (
        Objection.objects.filter(status=ObjectionStatus.OPEN, created__lt=now)
        .select_related("claim__jurisdiction", "claim__provider", "claim__department", "line")
        .order_by("created", "pk")
    )
    told = 0
    deadlines = Deadlines()
    for objection in candidates.iterator(chunk_size=500):
        due, state = objection_due_state(objection, deadlines=deadlines, now=now)
        if state == DueState.OVERDUE:
            told += notify_objection_overdue(claim=objection.claim, objection_id=objection.pk, receipt=objection.receipt, due=due)
    return told


# --- writes --------------------------------------------------------------------------------------


def _text(value, *, field: str, limit: int, errors: dict) -> str:
    """A required text a person writes (an objector's contact and reason, the HR head's reasoning):
    the one check of claims.bounds.reason_refusal."""
    value = (value or "").strip() if isinstance(value, str) else ""
    if (problem := reason_refusal(value, limit=limit)) is not None:
        errors[field] = [problem]
    return value


def _notice_item(claim: Claim) -> InboxItem | None:
    return InboxItem.objects.filter(claim_id=claim.pk, step=STEP).first()


def _new_receipt(now: datetime.datetime) -> str:
    # Unguessable (the status page answers anyone holding it): 40 random bits after the date.
    return f"YY{local_date(now):%Y%m%d}{secrets.token_hex(5).upper()}"


@transaction.atomic
def file_objection(*, line_id, contact, reason, client_address: str, now: datetime.datetime | None = None) -> Objection:
    """Anyone objects to a line on notice during its period; at most
    ``settings.OBJECTION_RATE_LIMIT`` objections per client address per hour (429 beyond)."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    contact = _text(contact, field="contact", limit=CONTACT_MAX, errors=errors)
    reason = _text(reason, field="reason", limit=REASON_MAX, errors=errors)
    line_pk = whole_number(line_id)
    claim_id = ClaimLine.objects.filter(pk=line_pk).values_list("claim_id", flat=True).first() if line_pk else None
    # The claim locked before anything is checked: the notice's closing (close_notice) takes the
    # same lock and counts the open objections, so it sees this one, or this one sees it closed.
    claim = Claim.objects.select_for_update().filter(pk=claim_id).first() if claim_id else None
    line = ClaimLine.objects.filter(pk=line_pk, claim=claim).first() if claim else None
    item = _notice_item(claim) if claim else None
    on_notice = (
        line is not None
        and claim.status == ClaimStatus.PUBLIC_NOTICE
        and line.decision == LineDecision.APPROVE
        and line.amount > 0
        and item is not None
        and now < passed_at(item.due, claim.jurisdiction_id)
    )
    if not on_notice:
        errors["line"] = [_("该行不在公示期内。")]
    if errors:
        raise InvalidInput(_("异议信息有误。"), fields=errors)
    digest = id_number_digest(f"client:{client_address or '-'}")
    hold_advisory_locks(OBJECTION_LOCK_CLASS, [digest])
    recent = Objection.objects.filter(client_digest=digest, created__gt=now - datetime.timedelta(hours=1)).count()
    if recent >= settings.OBJECTION_RATE_LIMIT:
        raise TooManyObjections(_("提交过于频繁，请一小时后再试。"))
    objection = Objection.objects.create(
        receipt=_new_receipt(now),
        line=line,
        claim=claim,
        contact=contact,
        reason=reason,
        client_digest=digest,
        created=now,
    )
    record_event(
        actor=None,
        action=actions.OBJECTION_FILED,
        obj=objection,
        claim=claim,
        from_state=claim.status,
        to_state=claim.status,
        reason=reason,
        # Not the contact: the objector's personal data stays in its row, out of the ledger.
        detail={"receipt": objection.receipt, "line": line.line_no, "period_end": item.due.isoformat()},
    )
    notify_objection_filed(claim=claim, objection_id=objection.pk, summary=reason, task_id=item.task_id)
    return objection


@transaction.atomic
def decide_objection(*, user, objection_id, decision: str, reason) -> Objection:
    """The HR head upholds an objection (the line is rejected with the reason, its reservation
    released, the provider told; other open objections to that line are closed with it) or
    dismisses it (the line proceeds). Both recorded in the ledger."""
    found = Objection.objects.filter(pk=objection_id).values_list("claim_id", flat=True).first()
    if found is None:
        raise NotInScope()
    claim = Claim.objects.select_for_update().select_related("provider").get(pk=found)
    refusal = policy.objection_refusal(user=user, claim=claim)
    if refusal is not None:
        if not policy.may_decide_objections(user):
            raise refusal
        raise NotInScope()  # another jurisdiction's objection: as if it did not exist
    objection = Objection.objects.select_for_update().get(pk=objection_id)
    errors: dict[str, list[str]] = {}
    if decision not in (ObjectionStatus.UPHELD, ObjectionStatus.DISMISSED):
        errors["decision"] = [_("请选择“异议成立”或“异议不成立”。")]
    reason = _text(reason, field="reason", limit=REASON_MAX, errors=errors)
    if errors:
        raise InvalidInput(_("异议处理信息有误。"), fields=errors)
    if objection.status != ObjectionStatus.OPEN:
        raise StepAlreadyTaken(_("该异议已处理。"))
    if claim.status != ClaimStatus.PUBLIC_NOTICE:
        # An objection is decided while its line is on notice, reserved and unpaid (the notice does
        # not close with one open); after that, a line is stopped by cancelling its payment or
        # recovering it, which finance records.
        raise StepAlreadyTaken(_("该申领已不在公示期，异议不能再处理；如须停止拨付，请按取消拨付或追回办理。"))
    now = timezone.now()
    line = ClaimLine.objects.select_for_update().get(pk=objection.line_id)
    same_line = [objection]
    if decision == ObjectionStatus.UPHELD:
        same_line += list(
            Objection.objects.select_for_update().filter(line=line, status=ObjectionStatus.OPEN).exclude(pk=objection.pk)
        )
    for each in same_line:
        each.status, each.decided_by, each.decided_at, each.decision_reason = decision, user, now, reason
        each.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    before = {"decision": line.decision, "payment_status": line.payment_status}
    if decision == ObjectionStatus.UPHELD and line.decision == LineDecision.APPROVE:
        line.decision, line.decision_reason = LineDecision.REJECT, OBJECTION_REASON
        line.save(update_fields=["decision", "decision_reason"])
        if line.payment_status == PaymentStatus.RESERVED:
            release_reservation(
                actor=user, line=line, to_status=PaymentStatus.CANCELLED, action=actions.ALLOCATION_RELEASED, reason=reason
            )
        recompute_total(claim=claim)
    record_event(
        actor=user,
        action=actions.OBJECTION_UPHELD if decision == ObjectionStatus.UPHELD else actions.OBJECTION_DISMISSED,
        obj=objection,
        claim=claim,
        from_state=claim.status,
        to_state=claim.status,
        reason=reason,
        detail={
            "receipts": [each.receipt for each in same_line],
            "line": line.line_no,
            "line_before": before,
            "line_after": {"decision": line.decision, "payment_status": line.payment_status},
            "total": claim.total,
        },
    )
    if decision == ObjectionStatus.UPHELD:
        # In this transaction, as every decision tells: the notification and its e-mail (the
        # outbox, which its sweep delivers) commit with the rejected line or not at all.
        notify_objection_upheld(claim=claim, objection_id=objection.pk, line_no=line.line_no)
    return objection


@transaction.atomic
def close_notice(*, claim_id: int, now: datetime.datetime) -> bool:
    """The period has passed and no objection is open: the notice step completes and the claim goes
    to finance (disbursement); with no approved amount left (every line upheld against), it ends
    as not paid. Checked again under the claim's and the process's locks. True: closed now."""
    from .services import _execute, _settle_claim, sync_claim_status

    claim = Claim.objects.select_for_update().select_related("jurisdiction").get(pk=claim_id)
    if claim.status != ClaimStatus.PUBLIC_NOTICE:
        return False
    with ClaimFlow.lock(claim.process_id):
        task = open_task_of_claim(claim)
        item = _notice_item(claim)
        if task is None or task.flow_task.name != STEP or item is None:
            return False
        if now < passed_at(item.due, claim.jurisdiction_id):
            return False
        if Objection.objects.filter(claim=claim, status=ObjectionStatus.OPEN).exists():
            return False  # the lines wait for the HR head's decision
        started = timezone.now()
        Task.objects.filter(pk=task.pk).update(status=STATUS.STARTED, started=started, assigned=task.assigned or started)
        task.refresh_from_db()
        _execute(task, decision=Decision.APPROVE)
        status, _open_task = sync_claim_status(claim)
        objections = dict.fromkeys(ObjectionStatus.values, 0)
        for value in Objection.objects.filter(claim=claim).values_list("status", flat=True):
            objections[value] += 1
        record_event(
            actor=None,
            action=actions.CLAIM_NOTICE_CLOSED,
            obj=claim,
            claim=claim,
            from_state=ClaimStatus.PUBLIC_NOTICE,
            to_state=status,
            reason=f"公示期满：{chinese_date_text(local_date(item.created))} 至 {chinese_date_text(item.due)}，无待处理异议",
            detail={
                "task": task.pk,
                "start": local_date(item.created).isoformat(),
                "end": item.due.isoformat(),
                "objections": objections,
                "timer": "public_notice",
            },
        )
    _settle_claim(actor=None, claim=claim, detail={})  # nothing approved left: ends as not paid
    notify_open_tasks(claim=claim, task=open_task_of_claim(claim))  # read after the settlement, which may end it
    return True


def close_due_notices(now: datetime.datetime) -> int:
    """The due job: claims whose notice period has passed at ``now`` go to finance (close_notice
    skips those with an open objection; a later run takes them once it is decided). Idempotent."""
    claim_ids = list(
        InboxItem.objects.filter(step=STEP, due__lt=last_due_not_passed(now))
        .order_by("due", "task_id")
        .values_list("claim_id", flat=True)
    )
    return sum(close_notice(claim_id=claim_id, now=now) for claim_id in claim_ids)
