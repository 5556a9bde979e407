"""Fund accounts, the departments' annual plans, the allocations they become (RULES.md M1, M2),
and the reservation of approved amounts against those allocations.

An allocation's ``committed`` amount changes only through conditional UPDATEs (``committed +
x <= amount``), checked again by a CHECK constraint: two approvals at once cannot over-commit."""

import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import actions
from audit.services import record_event
from claims.amounts import amount_text
from claims.bounds import reason_refusal, whole_number
from claims.errors import FundsExceeded, InvalidInput, NotInScope, StepAlreadyTaken
from claims.models import Claim, ClaimLine, Department, Jurisdiction, LineDecision, PaymentStatus, PolicyCategory
from claims.spreadsheets import xlsx_row
from claims.validators import checked_account_name

from .. import access
from ..models import Allocation, FundAccount, FundingPlan, PlanItem, PlanStatus

MONEY_PLACES = Decimal("0.01")
# Every money column holds 14 digits, two after the point: amounts stay below 10**12.
MAX_MONEY = Decimal(10) ** 12
YEAR_RANGE = (2000, 2100)


def parse_money(value, *, field: str, errors: dict, positive: bool = False, max_value: Decimal | None = None) -> Decimal | None:
    """A money amount from input, or an error under ``field``: two decimals at most, never
    negative, below ``max_value`` (10**12 by default, what the money columns hold)."""
    limit = MAX_MONEY if max_value is None else Decimal(max_value)
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.setdefault(field, []).append(_("须为金额，如 3500.00。"))
        return None
    try:
        valid = amount.is_finite() and amount == amount.quantize(MONEY_PLACES) and amount >= 0 and not (positive and amount == 0)
    except InvalidOperation:  # too many digits to quantize ("1e30")
        valid = False
    if not valid:
        errors.setdefault(field, []).append(
            _("须为大于零、最多两位小数的金额。") if positive else _("须为不小于零、最多两位小数的金额。")
        )
        return None
    if amount >= limit:
        errors.setdefault(field, []).append(_("金额须小于 %(limit)s 元。") % {"limit": f"{limit:f}"})
        return None
    return amount.quantize(MONEY_PLACES)


def parse_year(value, *, field: str = "year") -> int:
    """A budget year from input (an int or its digits, never a bool), or InvalidInput naming ``field``."""
    low, high = YEAR_RANGE
    year = whole_number(value, maximum=high)
    if year is None or not low <= year:
        raise InvalidInput(_("年度有误。"), fields={field: [_("年度须为 2000–2100 之间的整数。")]})
    return year


# --------------------------------------------------------------------------- fund accounts


@transaction.atomic
def create_fund_account(
    *, actor, jurisdiction: Jurisdiction, year: int, name: str, bank_name: str, account_number: str, budget
) -> FundAccount:
    """Finance opens the year's segregated account (专账) with the money placed in it."""
    access.require_in(actor, access.OPEN_FUND_ACCOUNTS, jurisdiction)
    errors: dict[str, list[str]] = {}
    amount = parse_money(budget, field="budget", errors=errors)
    for field, value in (("name", name), ("bank_name", bank_name), ("account_number", account_number)):
        if not (value or "").strip():
            errors.setdefault(field, []).append(_("必填。"))
        elif field == "account_number":
            if len(value.strip()) > FundAccount._meta.get_field(field).max_length:
                errors.setdefault(field, []).append(
                    _("不能超过 %(n)d 个字符。") % {"n": FundAccount._meta.get_field(field).max_length}
                )
        else:
            try:
                checked_account_name(value, max_length=FundAccount._meta.get_field(field).max_length)
            except ValidationError as error:
                errors.setdefault(field, []).extend(error.messages)
    try:
        year = parse_year(year)
    except InvalidInput as error:
        errors.update(error.fields)
    else:
        if FundAccount.objects.filter(jurisdiction=jurisdiction, year=year).exists():
            errors.setdefault("year", []).append(_("%(year)s 年度的专账已存在。") % {"year": year})
    if errors:
        raise InvalidInput(_("专账信息有误。"), fields=errors)
    try:
        with transaction.atomic():  # a savepoint: a concurrent request may have opened the year's account meanwhile
            account = FundAccount.objects.create(
                jurisdiction=jurisdiction,
                year=year,
                name=name.strip(),
                bank_name=bank_name.strip(),
                account_number=account_number.strip(),
                budget=amount,
                created_by=actor,
            )
    except IntegrityError:
        raise InvalidInput(_("专账信息有误。"), fields={"year": [_("%(year)s 年度的专账已存在。") % {"year": year}]}) from None
    record_event(
        actor=actor,
        action=actions.FUND_ACCOUNT_CREATED,
        obj=account,
        detail={"jurisdiction": jurisdiction.code, "year": year, "name": account.name, "budget": amount},
    )
    return account


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class PlanItemInput:
    category: str
    headcount: object
    amount: object


def _parse_items(items) -> list[PlanItem]:
    errors: dict[str, list[str]] = {}
    parsed, seen = [], set()
    for index, item in enumerate(items or []):
        path = f"items[{index}]"
        if item.category not in PolicyCategory.values:
            errors.setdefault(f"{path}.category", []).append(_("未知的补贴类别：%(value)s。") % {"value": item.category})
        elif item.category in seen:
            errors.setdefault(f"{path}.category", []).append(_("同一类别只能填一行。"))
        seen.add(item.category)
        try:
            headcount = int(item.headcount)
            if headcount < 0 or str(headcount) != str(item.headcount).strip():
                raise ValueError
        except (TypeError, ValueError):
            errors.setdefault(f"{path}.headcount", []).append(_("须为不小于零的整数。"))
            headcount = 0
        amount = parse_money(item.amount, field=f"{path}.amount", errors=errors)
        parsed.append(PlanItem(category=item.category, headcount=headcount, amount=amount or Decimal("0.00")))
    if not parsed:
        errors.setdefault("items", []).append(_("至少填写一个类别。"))
    elif sum((item.amount for item in parsed), Decimal("0.00")) >= MAX_MONEY:
        errors.setdefault("items", []).append(_("计划合计金额须小于 %(limit)s 元。") % {"limit": f"{MAX_MONEY:f}"})
    if errors:
        raise InvalidInput(_("年度计划有误。"), fields=errors)
    return parsed


def _plan_state(plan: FundingPlan) -> dict:
    return {
        "status": plan.status,
        "total": plan.total,
        "headcount": plan.headcount,
        "items": [{"category": item.category, "headcount": item.headcount, "amount": item.amount} for item in plan.items.all()],
    }


@transaction.atomic
def save_plan(*, actor, fund_account: FundAccount, department: Department, items, with_created: bool = False):
    """The department drafts (or redrafts, while draft or refused) its plan for the year.
    Returns the plan, or ``(plan, created)`` when ``with_created``."""
    access.require_for_department(actor, access.DRAFT_PLANS, department)
    if department.jurisdiction_id != fund_account.jurisdiction_id:
        raise InvalidInput(_("专账与部门不属于同一行政区。"), fields={"fund_account": [_("行政区不符。")]})
    parsed = _parse_items(items)
    plan, created = FundingPlan.objects.select_for_update().get_or_create(
        fund_account=fund_account, department=department, defaults={"created_by": actor}
    )
    if plan.status not in (PlanStatus.DRAFT, PlanStatus.REFUSED):
        raise StepAlreadyTaken(_("计划已报备，不能再修改。"))
    before = None if created else _plan_state(plan)
    plan.items.all().delete()
    for item in parsed:
        item.plan = plan
    PlanItem.objects.bulk_create(parsed)
    plan.total = sum((item.amount for item in parsed), Decimal("0.00"))
    plan.headcount = sum(item.headcount for item in parsed)
    plan.status = PlanStatus.DRAFT
    plan.save(update_fields=["total", "headcount", "status"])
    record_event(
        actor=actor,
        action=actions.PLAN_SAVED,
        obj=plan,
        detail={"department": department.code, "year": fund_account.year, "before": before, "after": _plan_state(plan)},
    )
    return (plan, created) if with_created else plan


def _move_plan(*, plan: FundingPlan, allowed: tuple, to: str, **fields) -> FundingPlan:
    """Conditional UPDATE: of two people acting on the plan at once, one moves it, the other gets 409."""
    if not FundingPlan.objects.filter(pk=plan.pk, status__in=allowed).update(status=to, **fields):
        raise StepAlreadyTaken(_("计划状态已变化，请刷新后重试。"))
    plan.refresh_from_db()
    return plan


@transaction.atomic
def file_plan(*, actor, plan: FundingPlan) -> FundingPlan:
    access.require_for_department(actor, access.FILE_PLANS, plan.department)
    plan = _move_plan(plan=plan, allowed=(PlanStatus.DRAFT,), to=PlanStatus.FILED, filed_by=actor, filed_at=timezone.now())
    record_event(
        actor=actor,
        action=actions.PLAN_FILED,
        obj=plan,
        from_state=PlanStatus.DRAFT,
        to_state=plan.status,
        detail={"department": plan.department.code, "year": plan.fund_account.year, "total": plan.total},
    )
    return plan


@transaction.atomic
def accept_plan_hr(*, actor, plan: FundingPlan) -> FundingPlan:
    access.require_in(actor, access.HR_ACCEPT_PLANS, plan.fund_account.jurisdiction)
    access.require_not_earlier_hand(actor, plan)
    plan = _move_plan(
        plan=plan, allowed=(PlanStatus.FILED,), to=PlanStatus.HR_ACCEPTED, hr_accepted_by=actor, hr_accepted_at=timezone.now()
    )
    record_event(
        actor=actor,
        action=actions.PLAN_HR_ACCEPTED,
        obj=plan,
        from_state=PlanStatus.FILED,
        to_state=plan.status,
        detail={"department": plan.department.code, "year": plan.fund_account.year, "total": plan.total},
    )
    return plan


@transaction.atomic
def accept_plan_finance(*, actor, plan: FundingPlan) -> Allocation:
    """Finance accepts the plan HR accepted: its total becomes the department's allocation,
    provided the year's accepted allocations stay within the account's budget."""
    access.require_in(actor, access.FINANCE_ACCEPT_PLANS, plan.fund_account.jurisdiction)
    account = FundAccount.objects.select_for_update().get(pk=plan.fund_account_id)
    plan.refresh_from_db()  # HR's acceptor as it stands under the account's lock
    access.require_not_earlier_hand(actor, plan)
    plan = _move_plan(
        plan=plan,
        allowed=(PlanStatus.HR_ACCEPTED,),
        to=PlanStatus.ACCEPTED,
        finance_accepted_by=actor,
        finance_accepted_at=timezone.now(),
    )
    allocated = (account.allocations.aggregate(total=Sum("amount"))["total"] or Decimal("0")).quantize(MONEY_PLACES)
    if allocated + plan.total > account.budget:
        raise FundsExceeded(
            _("专账年度资金 %(budget)s 元，已分配 %(allocated)s 元，不足以分配本计划 %(total)s 元。")
            % {"budget": amount_text(account.budget), "allocated": amount_text(allocated), "total": amount_text(plan.total)},
            fields={"total": [_("超出专账可分配余额 %(left)s 元。") % {"left": amount_text(account.budget - allocated)}]},
        )
    allocation = Allocation.objects.create(fund_account=account, department=plan.department, plan=plan, amount=plan.total)
    record_event(
        actor=actor,
        action=actions.PLAN_ACCEPTED,
        obj=plan,
        from_state=PlanStatus.HR_ACCEPTED,
        to_state=plan.status,
        detail={"department": plan.department.code, "year": account.year, "total": plan.total},
    )
    record_event(
        actor=actor,
        action=actions.ALLOCATION_CREATED,
        obj=allocation,
        detail={
            "department": plan.department.code,
            "year": account.year,
            "amount": allocation.amount,
            "allocated_before": allocated,
            "budget": account.budget,
        },
    )
    return allocation


def accept_plan(*, actor, plan: FundingPlan) -> FundingPlan:
    """The next acceptance the plan's state calls for: HR's of a filed plan, finance's of an
    HR-accepted one (each service checks the actor's role); any other state is 409."""
    if plan.status == PlanStatus.FILED:
        return accept_plan_hr(actor=actor, plan=plan)
    if plan.status == PlanStatus.HR_ACCEPTED:
        return accept_plan_finance(actor=actor, plan=plan).plan
    raise StepAlreadyTaken(_("计划状态已变化，请刷新后重试。"))


@transaction.atomic
def refuse_plan(*, actor, plan: FundingPlan, reason: str) -> FundingPlan:
    """HR (a filed plan) or finance (an HR-accepted plan) sends it back with a reason."""
    reason = (reason or "").strip()
    if (problem := reason_refusal(reason)) is not None:
        raise InvalidInput(_("退回须写明理由。"), fields={"reason": [problem]})
    # Refused by whoever would accept it next (a plan in any other state: HR's check, then 409).
    access.require_in(actor, access.acceptance_of(plan) or access.HR_ACCEPT_PLANS, plan.fund_account.jurisdiction)
    access.require_not_earlier_hand(actor, plan)
    before = plan.status
    plan = _move_plan(
        plan=plan,
        allowed=(before,) if before in (PlanStatus.FILED, PlanStatus.HR_ACCEPTED) else (),
        to=PlanStatus.REFUSED,
        refusal_reason=reason,
    )
    record_event(
        actor=actor,
        action=actions.PLAN_REFUSED,
        obj=plan,
        from_state=before,
        to_state=plan.status,
        reason=reason,
        detail={"department": plan.department.code, "year": plan.fund_account.year},
    )
    return plan


# --------------------------------------------------------------------------- reservations


def allocation_for(claim: Claim, *, year: int | None = None) -> Allocation | None:
    """The claim's department's allocation in the budget year of today (when it is approved)."""
    year = year or timezone.localdate().year
    return (
        Allocation.objects.filter(
            fund_account__jurisdiction_id=claim.jurisdiction_id, fund_account__year=year, department_id=claim.department_id
        )
        .select_related("fund_account")
        .first()
    )


def reserve_approved_lines(*, actor, claim: Claim) -> Decimal:
    """At final approval: reserve the approved, not yet reserved lines against the department's
    allocation, or refuse (409) when the allocation cannot hold them. Runs in the approval's
    transaction, so a refusal leaves the claim undecided."""
    lines = claim.lines.filter(decision=LineDecision.APPROVE, payment_status=PaymentStatus.UNPAID)
    # Read once: the claim is locked by the approval, so its lines stand still until it commits.
    amounts = dict(lines.order_by("line_no").values_list("line_no", "amount"))
    if not amounts:
        return Decimal("0.00")  # nothing approved is waiting to be reserved: no allocation needed
    amount = sum(amounts.values(), Decimal("0")).quantize(MONEY_PLACES)
    year = timezone.localdate().year
    allocation = allocation_for(claim, year=year)
    if allocation is None:
        raise FundsExceeded(
            _("%(department)s 没有 %(year)s 年度已备案的资金分配（年度培训计划须经人社、财政确认），不能核准。")
            % {"department": claim.department.name, "year": year},
            fields={"allocation": [_("无已备案的年度分配。")]},
        )
    reserved = Allocation.objects.filter(pk=allocation.pk, committed__lte=F("amount") - amount).update(
        committed=F("committed") + amount
    )
    if not reserved:
        allocation.refresh_from_db()
        left = allocation.amount - allocation.committed
        raise FundsExceeded(
            _(
                "%(department)s %(year)s 年度分配 %(amount)s 元，已占用 %(committed)s 元，余额 %(left)s 元，不足以核准本申领 %(total)s 元。"
            )
            % {
                "department": claim.department.name,
                "year": year,
                "amount": amount_text(allocation.amount),
                "committed": amount_text(allocation.committed),
                "left": amount_text(left),
                "total": amount_text(amount),
            },
            fields={
                "allocation": [
                    _("余额 %(left)s 元，本申领需 %(total)s 元。") % {"left": amount_text(left), "total": amount_text(amount)}
                ]
            },
        )
    lines.update(payment_status=PaymentStatus.RESERVED, allocation=allocation)
    allocation.refresh_from_db()
    record_event(
        actor=actor,
        action=actions.ALLOCATION_RESERVED,
        obj=allocation,
        claim=claim,
        detail={
            "department": claim.department.code,
            "year": year,
            "amount": amount,
            "lines": list(amounts),
            "committed_after": allocation.committed,
            "allocation": allocation.amount,
        },
    )
    return amount


def give_back_to_allocation(
    *, actor, line: ClaimLine, amount: Decimal, action: str, reason: str = "", detail: dict | None = None
) -> None:
    """Lower the line's allocation's committed amount by ``amount`` (a conditional UPDATE, so it
    never goes below zero) and record it. Runs in the caller's transaction."""
    if line.allocation_id is None or not amount:
        return
    if not Allocation.objects.filter(pk=line.allocation_id, committed__gte=amount).update(committed=F("committed") - amount):
        raise StepAlreadyTaken(_("分配占用额不足以释放，请刷新后重试。"))
    allocation = Allocation.objects.get(pk=line.allocation_id)
    record_event(
        actor=actor,
        action=action,
        obj=allocation,
        claim=line.claim,
        reason=reason,
        detail={
            "line": line.line_no,
            "amount": amount,
            "committed_after": allocation.committed,
            "allocation": allocation.amount,
            **(detail or {}),
        },
    )


def release_reservation(
    *, actor, line: ClaimLine, to_status: str, action: str, amount: Decimal | None = None, reason: str = ""
) -> None:
    """A line finally not paid after approval (an objection upheld, a payee who cannot be paid):
    its money goes back to the allocation and the line takes ``to_status``."""
    amount = line.amount if amount is None else amount
    give_back_to_allocation(
        actor=actor,
        line=line,
        amount=amount,
        action=action,
        reason=reason,
        detail={"payment_status_before": line.payment_status, "payment_status": to_status},
    )
    ClaimLine.objects.filter(pk=line.pk).update(payment_status=to_status)
    line.payment_status = to_status


# --------------------------------------------------------------------------- report export

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT_COLUMNS = ("allocated", "reserved", "paid", "returned", "recovered", "committed", "remaining")


def _report_headers() -> list[str]:
    return [
        _("专账"),
        _("年度"),
        _("部门代码"),
        _("行业主管部门"),
        _("分配金额"),
        _("已核准待拨付"),
        _("已拨付"),
        _("退票"),
        _("已追回"),
        _("已占用"),
        _("可用余额"),
    ]


@transaction.atomic
def export_funds_report(*, actor, year: int) -> tuple[bytes, str]:
    """The year's funds report as a spreadsheet (amounts as numbers, two decimals, a totals row
    per account); the export is recorded in the ledger, one entry per account exported."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from ..selectors.funds import funds_report_for

    report = funds_report_for(user=actor, year=year)
    if not report["accounts"]:
        raise NotInScope()
    book = Workbook()
    sheet = book.active
    sheet.title = f"funds-{year}"
    sheet.append(xlsx_row(sheet, _report_headers()))
    for cell in sheet[1]:
        cell.font = Font(bold=True)

    def put(values: list, *, bold: bool = False):
        sheet.append(xlsx_row(sheet, values))
        if bold:
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)

    for account in report["accounts"]:
        for row in account["rows"]:
            put(
                [
                    account["name"],
                    account["year"],
                    row["department"],
                    row["department_name"],
                    *(row[name] for name in REPORT_COLUMNS),
                ]
            )
        put([account["name"], account["year"], "", _("合计"), *(account["totals"][name] for name in REPORT_COLUMNS)], bold=True)
        if account["budget"] is not None:
            put([account["name"], account["year"], "", _("年度资金"), account["budget"]])
            put([account["name"], account["year"], "", _("未分配"), account["unallocated"]])
            put([account["name"], account["year"], "", _("专账余额"), account["balance"]])
        for anomaly in account["anomalies"]:
            put([account["name"], account["year"], anomaly["department"], _("异常：") + anomaly["message"]])
        sheet.append([])
    for column, width in zip("ABCDEFGHIJK", (34, 8, 12, 28, 16, 16, 16, 16, 16, 16, 16)):
        sheet.column_dimensions[column].width = width
    for account in report["accounts"]:
        record_event(
            actor=actor,
            action=actions.REPORT_EXPORTED,
            obj=FundAccount.objects.get(pk=account["id"]),
            detail={
                "format": "xlsx",
                "report": "funds",
                "year": year,
                "rows": len(account["rows"]),
                "totals": account["totals"],
                "anomalies": len(account["anomalies"]),
            },
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue(), f"funds-report-{year}.xlsx"
