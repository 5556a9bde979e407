"""公示 pages (RULES N5; workflow/notice.py): the public list of what is on notice and its XLSX,
an objection and its receipt's status, all without signing in; the HR head's list of objections
and the decision on one. Public pages show only masked personal data (notice.notice_rows)."""

import io

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from audit.access import client_ip
from claims.bounds import character_refusal, whole_number
from claims.errors import DomainError, InvalidInput, NotInScope
from claims.http import file_response, scoped
from claims.models import Provider
from claims.spreadsheets import xlsx_row
from workflow import notice, policy
from workflow.models import ObjectionStatus

PAGE_SIZE = 100
# The XLSX holds at most this many lines (a jurisdiction's notice is far smaller).
XLSX_MAX_ROWS = 20_000
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filter_value(request, name: str) -> str:
    value = request.GET.get(name, "").strip()
    return "" if character_refusal(value) or len(value) > 100 else value


def _filters(request) -> dict:
    return {"provider": _filter_value(request, "provider"), "occupation": _filter_value(request, "occupation")}


@require_GET
def public_notice(request):
    filters = _filters(request)
    lines = notice.lines_on_notice(**filters)
    page = Paginator(lines, PAGE_SIZE).get_page(request.GET.get("page"))
    on_notice = notice.lines_on_notice()
    providers = Provider.objects.filter(pk__in=on_notice.values("claim__provider_id")).order_by("code")
    # The names, not a row per line on notice (a year's notice holds tens of thousands of lines).
    occupations = list(on_notice.order_by("occupation__name").values_list("occupation__name", flat=True).distinct())
    return render(
        request,
        "public/notice.html",
        {
            "rows": notice.notice_rows(list(page.object_list)),
            "page": page,
            "filters": filters,
            "providers": providers,
            "occupations": occupations,
        },
    )


@require_GET
def public_notice_xlsx(request):
    from openpyxl import Workbook

    rows = notice.notice_rows(list(notice.lines_on_notice(**_filters(request))[:XLSX_MAX_ROWS]))
    book = Workbook()
    sheet = book.active
    sheet.title = "公示"
    sheet.append(
        xlsx_row(
            sheet,
            [
                _("培训机构"),
                _("职业（工种）"),
                _("等级"),
                _("补贴标准"),
                _("姓名"),
                _("身份证号码"),
                _("补贴金额"),
                _("公示开始"),
                _("公示截止"),
            ],
        )
    )
    for row in rows:
        sheet.append(
            xlsx_row(
                sheet,
                [
                    row.provider,
                    row.occupation,
                    row.level,
                    row.standard,
                    row.name_masked,
                    row.id_masked,
                    row.amount,
                    row.start.isoformat(),
                    row.end.isoformat(),
                ],
            )
        )
    out = io.BytesIO()
    book.save(out)
    return file_response(out.getvalue(), filename=f"notice-{timezone.localdate():%Y%m%d}.xlsx", content_type=XLSX_CONTENT_TYPE)


def public_objection(request):
    """GET: the form for one line on notice; POST: file it, then the receipt."""
    line_id = request.POST.get("line") if request.method == "POST" else request.GET.get("line")
    row = None
    if (line_pk := whole_number(line_id)) is not None:
        line = notice.lines_on_notice().filter(pk=line_pk).first()
        row = notice.notice_rows([line])[0] if line else None
    context = {"row": row, "line_id": line_id or "", "errors": {}, "values": {}}
    if request.method == "POST":
        values = {"contact": request.POST.get("contact", ""), "reason": request.POST.get("reason", "")}
        try:
            objection = notice.file_objection(line_id=line_id, client_address=client_ip(request), **values)
        except InvalidInput as error:
            context.update(errors=error.fields, values=values, message=str(error))
            return render(request, "public/objection.html", context, status=400)
        except notice.TooManyObjections as error:
            context.update(values=values, message=str(error))
            return render(request, "public/objection.html", context, status=429)
        return render(request, "public/receipt.html", {"objection": objection, "new": True})
    if request.method != "GET":
        return HttpResponse(status=405)
    return render(request, "public/objection.html", context, status=200 if row else 404)


@require_GET
def public_objection_status(request):
    receipt = _filter_value(request, "receipt")
    if not receipt:
        return render(request, "public/receipt.html", {"objection": None})
    try:
        objection = notice.objection_by_receipt(receipt)
    except NotInScope as error:
        return render(request, "public/receipt.html", {"objection": None, "message": str(error)}, status=404)
    return render(request, "public/receipt.html", {"objection": objection})


@require_GET
@scoped
def objections(request):
    """The HR head's list: objections to its jurisdiction's lines on notice, open ones first."""
    if not policy.may_decide_objections(request.user):
        raise PermissionDenied
    found = notice.objections_for(request.user)
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    page.object_list = notice.with_due_states(page.object_list)
    return render(request, "approvals/objections.html", {"page": page, "statuses": ObjectionStatus, "open": ObjectionStatus.OPEN})


@require_POST
@scoped
def objection_decide(request, objection_id: int):
    if not policy.may_decide_objections(request.user):
        raise PermissionDenied
    try:
        objection = notice.decide_objection(
            user=request.user,
            objection_id=objection_id,
            decision=request.POST.get("decision", ""),
            reason=request.POST.get("reason", ""),
        )
    except NotInScope:
        raise
    except DomainError as error:
        detail = "; ".join(f"{name}: {' '.join(map(str, msgs))}" for name, msgs in getattr(error, "fields", {}).items())
        messages.error(request, f"{error} {detail}".strip())
        return redirect("approvals:objections")
    messages.success(request, _("异议 %(receipt)s 已处理。") % {"receipt": objection.receipt})
    return redirect("approvals:objections")
