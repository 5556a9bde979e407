"""Funds pages: the year's fund accounts, the departments' annual plans and their acceptance,
and the funds report with its XLSX download. Thin: reads from payments/selectors/funds.py,
every write through payments/services/funds.py; out of scope is 404, a wrong role 403."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from claims.errors import ActionForbidden, DomainError, InvalidInput, NotInScope
from claims.http import file_response, scoped
from claims.selectors import departments_of_reviewer, jurisdictions_overseen_by

from . import access
from .forms_funds import FundAccountForm, PlanItemsForm, RefuseForm
from .models import FundingPlan, PlanStatus
from .selectors import funds as selectors
from .services import funds as services


class BadYear(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _year(request) -> int:
    """?year= (this year when left out), or BadYear with the service's message (a 400 page)."""
    raw = request.GET.get("year")
    if raw in (None, ""):
        return timezone.localdate().year
    try:
        return services.parse_year(raw)
    except InvalidInput as error:
        raise BadYear(" ".join([error.message, *error.fields.get("year", [])])) from None


def _bad_year(request, error: BadYear) -> HttpResponse:
    return render(request, "payments/funds/bad_year.html", {"message": error.message}, status=400)


def _require_funds_reader(user) -> None:
    if not access.may(user, access.READ_FUND_REPORTS):
        raise PermissionDenied


@scoped
def funds(request):
    _require_funds_reader(request.user)
    try:
        year = _year(request)
    except BadYear as error:
        return _bad_year(request, error)
    overseen = selectors.overseen_jurisdiction_ids(request.user)
    accounts = list(selectors.fund_accounts_visible_to(request.user).order_by("jurisdiction__code", "-year"))
    for account in accounts:
        # The whole account's figures (budget, account number) for those who oversee it, as in the report.
        account.shows_whole = account.jurisdiction_id in overseen
    plans = selectors.plans_visible_to(request.user).filter(fund_account__year=year).order_by("department__code")
    allocations = {a.plan_id: a for a in selectors.allocations_visible_to(request.user).filter(fund_account__year=year)}
    plans = list(plans)
    for plan in plans:
        plan.allocation_shown = allocations.get(plan.pk)
    own = list(departments_of_reviewer(request.user)) if access.may(request.user, access.DRAFT_PLANS) else []
    planned = {plan.department_id for plan in plans}
    year_accounts = [account for account in accounts if account.year == year]
    return render(
        request,
        "payments/funds/index.html",
        {
            "year": year,
            "accounts": accounts,
            "plans": plans,
            "may_open_account": access.may(request.user, access.OPEN_FUND_ACCOUNTS),
            # A reviewer may draft a plan for each of its departments without one this year.
            "may_draft": bool(own and year_accounts and any(d.pk not in planned for d in own)),
            "year_accounts": year_accounts,
        },
    )


@scoped
def fund_account_new(request):
    if not access.may(request.user, access.OPEN_FUND_ACCOUNTS):
        raise PermissionDenied
    jurisdictions = list(jurisdictions_overseen_by(request.user).order_by("code"))
    status = 200
    if request.method == "POST":
        form = FundAccountForm(request.POST, jurisdictions=jurisdictions)
        if form.is_valid():
            data = form.cleaned_data
            try:
                account = services.create_fund_account(
                    actor=request.user,
                    jurisdiction=form.jurisdiction_object(),
                    year=data["year"],
                    name=data["name"],
                    bank_name=data["bank_name"],
                    account_number=data["account_number"],
                    budget=data["budget"],
                )
            except InvalidInput as error:
                form.add_service_errors(error.fields)
                messages.error(request, error.message)
                status = 400
            except ActionForbidden as error:
                messages.error(request, error.message)
                status = 403
            else:
                messages.success(
                    request, _("已开设专账：%(name)s（%(year)s 年度）") % {"name": account.name, "year": account.year}
                )
                return redirect(f"{_funds_url()}?year={account.year}")
        else:
            status = 400
    else:
        form = FundAccountForm(jurisdictions=jurisdictions)
    return render(request, "payments/funds/account_form.html", {"form": form}, status=status)


def _funds_url() -> str:
    return reverse("payments:funds")


def _plan_form(request, *, account, plan=None):
    """Draft a new plan (``plan`` None) or redraft one (draft or refused)."""
    if not access.may(request.user, access.DRAFT_PLANS):
        raise PermissionDenied
    if plan is not None and plan.status not in (PlanStatus.DRAFT, PlanStatus.REFUSED):
        messages.error(request, _("计划已报备，不能再修改。"))
        return redirect("payments:plan", plan.pk)
    departments = None
    if plan is None:
        taken = FundingPlan.objects.filter(fund_account=account).values("department")
        departments = list(departments_of_reviewer(request.user).filter(jurisdiction=account.jurisdiction).exclude(pk__in=taken))
        if not departments:
            raise PermissionDenied
    status = 200
    if request.method == "POST":
        form = PlanItemsForm(request.POST, departments=departments, plan=plan)
        if form.is_valid():
            department = (
                plan.department if plan is not None else next(d for d in departments if d.code == form.cleaned_data["department"])
            )
            try:
                plan = services.save_plan(actor=request.user, fund_account=account, department=department, items=form.items())
            except InvalidInput as error:
                form.add_service_errors(error.fields)
                messages.error(request, error.message)
                status = 400
            except DomainError as error:
                messages.error(request, error.message)
                status = error.status
            else:
                messages.success(
                    request,
                    _("已保存计划草稿：%(department)s %(year)s 年度")
                    % {"department": plan.department.name, "year": account.year},
                )
                return redirect("payments:plan", plan.pk)
        else:
            status = 400
    else:
        form = PlanItemsForm(departments=departments, plan=plan)
    return render(request, "payments/funds/plan_form.html", {"form": form, "plan": plan, "account": account}, status=status)


@scoped
def plan_new(request):
    account = selectors.get_fund_account_for_user(
        user=request.user, account_id=request.GET.get("account") or request.POST.get("account")
    )
    return _plan_form(request, account=account)


@scoped
def plan_edit(request, plan_id):
    plan = selectors.get_plan_for_user(user=request.user, plan_id=plan_id)
    return _plan_form(request, account=plan.fund_account, plan=plan)


def _render_plan(request, plan, *, refuse_form=None, status=200):
    plan = selectors.get_plan_for_user(user=request.user, plan_id=plan.pk)
    user = request.user
    may_edit = access.may_edit_plan(user, plan)
    may_file = access.may_file_plan(user, plan)
    may_accept = access.may_accept_plan(user, plan)
    allocation = getattr(plan, "allocation", None) if plan.status == PlanStatus.ACCEPTED else None
    return render(
        request,
        "payments/funds/plan.html",
        {
            "plan": plan,
            "items": list(plan.items.all()),
            "allocation": allocation,
            "may_edit": may_edit,
            "may_file": may_file,
            "may_accept": may_accept,
            "refuse_form": refuse_form or (RefuseForm() if may_accept else None),
        },
        status=status,
    )


@scoped
def plan_detail(request, plan_id):
    plan = selectors.get_plan_for_user(user=request.user, plan_id=plan_id)
    return _render_plan(request, plan)


def _act(request, plan, action, success: str):
    try:
        action()
    except DomainError as error:
        problems = [problem for problems in error.fields.values() for problem in problems]
        messages.error(request, " ".join([error.message, *problems]))
        return _render_plan(request, plan, status=error.status)
    messages.success(request, success)
    return redirect("payments:plan", plan.pk)


@require_POST
@scoped
def plan_file(request, plan_id):
    plan = selectors.get_plan_for_user(user=request.user, plan_id=plan_id)
    return _act(request, plan, lambda: services.file_plan(actor=request.user, plan=plan), _("计划已报备，待人社局确认。"))


@require_POST
@scoped
def plan_accept(request, plan_id):
    plan = selectors.get_plan_for_user(user=request.user, plan_id=plan_id)
    # The plan's state says whose acceptance is next; the service checks the role.
    success = (
        _("人社局已确认计划，待财政确认。") if plan.status == PlanStatus.FILED else _("财政已确认计划，已形成年度资金分配。")
    )
    return _act(request, plan, lambda: services.accept_plan(actor=request.user, plan=plan), success)


@require_POST
@scoped
def plan_refuse(request, plan_id):
    plan = selectors.get_plan_for_user(user=request.user, plan_id=plan_id)
    if not access.may_decide_plans(request.user):
        raise PermissionDenied
    form = RefuseForm(request.POST)
    form.is_valid()
    try:
        services.refuse_plan(actor=request.user, plan=plan, reason=form.cleaned_data.get("reason", ""))
    except InvalidInput as error:
        for name, problems in error.fields.items():
            for problem in problems:
                form.add_error(name if name in form.fields else None, problem)
        messages.error(request, error.message)
        return _render_plan(request, plan, refuse_form=form, status=400)
    except DomainError as error:
        messages.error(request, error.message)
        return _render_plan(request, plan, status=error.status)
    messages.success(request, _("计划已退回。"))
    return redirect("payments:plan", plan.pk)


@scoped
def report(request):
    try:
        year = _year(request)
        data = selectors.funds_report_for(user=request.user, year=year)
    except ActionForbidden:
        raise PermissionDenied from None
    except BadYear as error:
        return _bad_year(request, error)
    return render(request, "payments/funds/report.html", {"report": data, "year": year})


@require_POST
@scoped
def report_xlsx(request):
    try:
        year = _year(request)
        content, filename = services.export_funds_report(actor=request.user, year=year)
    except BadYear as error:
        return _bad_year(request, error)
    except ActionForbidden:
        raise PermissionDenied from None
    except NotInScope:
        raise Http404 from None
    return file_response(content, filename=filename, content_type=services.XLSX_CONTENT_TYPE)
