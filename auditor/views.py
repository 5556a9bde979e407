"""The auditor workspace: read-only pages for the auditor role, scoped to the jurisdictions the
auditor oversees. The only writes are the ledger entries that record a sample draw or an export."""

import datetime
import io
import secrets
import tempfile
from decimal import Decimal
from functools import wraps
from pathlib import Path
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import reauth
from audit import actions
from audit.export import ExportError, export_period
from audit.selectors import verify_ledger
from audit.services import record_event
from claims.bounds import validate_plausible_date
from claims.catalogue import version_label
from claims.errors import NotInScope
from claims.http import file_response
from claims.keyset import BadCursor, keyset_page
from claims.models import ClaimLine, ClaimStatus
from claims.personal_data import id_number_digest
from claims.selectors import (
    departments_visible_to,
    get_claim_for_user,
    jurisdictions_overseen_by,
    ledger_entries_visible_to,
    providers_visible_to,
)
from claims.spreadsheets import CELL_MAX_CHARACTERS, xlsx_row
from claims.validators import validate_resident_id
from claims.widgets import DATE_INPUT
from workflow import labels
from workflow.notice import notice_file, notice_files

from . import access, selectors

PAGE_SIZE = 50
MAX_SAMPLE = 500


def auditor_only(view):
    """Login required, the auditor role required (403 otherwise); out of scope is 404."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not access.may(request.user, access.USE_AUDIT_WORKSPACE):
            raise PermissionDenied
        try:
            return view(request, *args, **kwargs)
        except NotInScope:
            raise Http404 from None

    return wrapper


# --- search ------------------------------------------------------------------------------


class SearchForm(forms.Form):
    """The filters as they travel in the URL: the trainee only as the keyed digest."""

    number = forms.CharField(label=gettext_lazy("申领编号"), required=False, max_length=30)
    provider = forms.ModelChoiceField(label=gettext_lazy("培训机构"), queryset=None, required=False)
    department = forms.ModelChoiceField(label=gettext_lazy("行业主管部门"), queryset=None, required=False)
    status = forms.ChoiceField(label=gettext_lazy("状态"), required=False)
    amount_min = forms.DecimalField(label=gettext_lazy("金额不低于"), required=False, min_value=0, decimal_places=2)
    amount_max = forms.DecimalField(label=gettext_lazy("金额不高于"), required=False, min_value=0, decimal_places=2)
    submitted_from = forms.DateField(
        label=gettext_lazy("提交日期自"),
        required=False,
        widget=DATE_INPUT,
        validators=[validate_plausible_date],
    )
    submitted_to = forms.DateField(
        label=gettext_lazy("提交日期至"),
        required=False,
        widget=DATE_INPUT,
        validators=[validate_plausible_date],
    )
    trainee_digest = forms.RegexField(regex=r"^[0-9a-f]{64}$", required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = providers_visible_to(user).order_by("code")
        self.fields["department"].queryset = departments_visible_to(user).order_by("code")
        self.fields["status"].choices = [("", _("全部"))] + [
            choice for choice in ClaimStatus.choices if choice[0] != ClaimStatus.DRAFT
        ]


class TraineeForm(forms.Form):
    """The resident ID number, typed in full, posted (never in a URL) and turned into its digest."""

    id_number = forms.CharField(label=gettext_lazy("学员身份证号码"), max_length=18, validators=[validate_resident_id])


FILTER_KEYS = (
    "number",
    "provider",
    "department",
    "status",
    "amount_min",
    "amount_max",
    "submitted_from",
    "submitted_to",
    "trainee_digest",
)


def _filters_from(data, user) -> tuple[SearchForm, dict]:
    form = SearchForm({key: value for key, value in data.items() if key in FILTER_KEYS}, user=user)
    return form, (form.cleaned_data if form.is_valid() else {})


def _filters_for_record(filters: dict) -> dict:
    """The filters as the ledger keeps them: codes and strings; the trainee only as a digest."""
    recorded = {}
    for key, value in filters.items():
        if value in (None, ""):
            continue
        recorded[key] = getattr(value, "code", None) or str(value)
    return recorded


def _jurisdiction_of(user):
    jurisdiction = jurisdictions_overseen_by(user).order_by("pk").first()
    if jurisdiction is None:
        raise PermissionDenied
    return jurisdiction


@auditor_only
@require_http_methods(["GET", "POST"])
def search(request):
    if request.method == "POST":
        trainee_form = TraineeForm(request.POST)
        if trainee_form.is_valid():
            query = {key: value for key, value in request.POST.items() if key in FILTER_KEYS and value}
            query["trainee_digest"] = id_number_digest(trainee_form.cleaned_data["id_number"])
            return redirect(f"{reverse('audit:search')}?{urlencode(query)}")
    else:
        trainee_form = TraineeForm()
    form, filters = _filters_from(request.GET, request.user)
    claims = selectors.search_claims(user=request.user, filters=filters)
    try:
        page = keyset_page(
            claims, order=selectors.SEARCH_ORDER, nullable={"submitted_at"}, cursor=request.GET.get("after"), size=PAGE_SIZE
        )
    except BadCursor:
        page = keyset_page(claims, order=selectors.SEARCH_ORDER, nullable={"submitted_at"}, cursor=None, size=PAGE_SIZE)
    return render(
        request,
        "auditor/search.html",
        {
            "form": form,
            "trainee_form": trainee_form,
            "page": page,
            "param": "after",
            "trainee_filtered": bool(filters.get("trainee_digest")),
            "query": request.GET.urlencode(),
            "sample_form": SampleForm(initial={"year": timezone.localdate().year, "size": 20}),
            "package_form": PackageForm(
                initial={"date_from": timezone.localdate().replace(day=1), "date_to": timezone.localdate()}
            ),
            "password_needed": not reauth.is_recent(request),
        },
    )


def reauthenticated(view):
    """An export needs the password entered within the last REAUTH_MINUTES (the login, or the
    form's ``password``): otherwise back to the search page, saying so."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not reauth.confirm(request, purpose=actions.AUDIT_EXPORTED, password=request.POST.get("password")):
            messages.error(request, _("导出前须再次输入您的密码（密码不正确或未输入）。"))
            return redirect(f"{reverse('audit:search')}?{request.POST.get('query', '')}")
        return view(request, *args, **kwargs)

    return wrapper


# --- the random sample -------------------------------------------------------------------


class SampleForm(forms.Form):
    year = forms.IntegerField(label=gettext_lazy("年度"), min_value=2000, max_value=2100)
    size = forms.IntegerField(label=gettext_lazy("抽取件数"), min_value=1, max_value=MAX_SAMPLE)
    seed = forms.CharField(
        label=gettext_lazy("随机种子"),
        required=False,
        max_length=64,
        help_text=gettext_lazy("留空则随机生成；同一种子抽取结果相同。"),
    )


@auditor_only
@require_POST
def sample(request):
    form = SampleForm(request.POST)
    if not form.is_valid():
        return render(request, "auditor/sample.html", {"form": form}, status=400)
    year, size = form.cleaned_data["year"], form.cleaned_data["size"]
    seed = form.cleaned_data["seed"].strip() or secrets.token_hex(8)
    jurisdiction = _jurisdiction_of(request.user)
    with transaction.atomic():
        numbers, population = selectors.draw_sample(user=request.user, year=year, size=size, seed=seed)
        event = record_event(
            actor=request.user,
            action=actions.AUDIT_SAMPLE_DRAWN,
            obj=jurisdiction,
            detail={"year": year, "size": size, "seed": seed, "population": population, "claims": numbers},
        )
    claims = {
        claim.number: claim
        for claim in selectors.sample_population(user=request.user, year=year)
        .filter(number__in=numbers)
        .select_related("provider", "department")
    }
    return render(
        request,
        "auditor/sample.html",
        {
            "form": form,
            "event": event,
            "year": year,
            "seed": seed,
            "population": population,
            "drawn": [claims[number] for number in numbers],
        },
    )


# --- one claim ---------------------------------------------------------------------------


@auditor_only
@require_GET
def claim_timeline(request, claim_id):
    claim = get_claim_for_user(user=request.user, claim_id=claim_id)
    rows = selectors.timeline(user=request.user, claim=claim)
    return render(
        request,
        "auditor/timeline.html",
        {
            "claim": claim,
            "rows": rows,
            "rule_versions": selectors.rule_versions(claim=claim, rows=rows),
            "before_money": selectors.before_the_money(claim=claim),
            "notice": notice_file(claim),
        },
    )


@auditor_only
@require_GET
def claim_as_of(request, claim_id):
    claim = get_claim_for_user(user=request.user, claim_id=claim_id)
    error = ""
    state = None
    raw = request.GET.get("date", "")
    if raw:
        try:
            day = datetime.date.fromisoformat(raw)
            validate_plausible_date(day)
        except ValueError:
            error = _("日期格式应为 YYYY-MM-DD。")
        except ValidationError as refused:
            error = refused.messages[0]
        else:
            state = selectors.claim_as_of(user=request.user, claim=claim, day=day)
    return render(
        request,
        "auditor/as_of.html",
        {
            "claim": claim,
            "state": state,
            "date": raw,
            "error": error,
            "status_label": labels.status_label(state["status"]) if state else "",
        },
    )


# --- the ledger --------------------------------------------------------------------------


@auditor_only
@require_GET
def verify(request):
    return render(request, "auditor/verify.html", {"result": verify_ledger()})


# --- exports -----------------------------------------------------------------------------

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What one export may hold, in claim lines (the registry's export bound; a year of a city's claims
# is several times more, read in one request): past it, the search is to be narrowed.
EXPORT_MAX_LINES = 50_000


@auditor_only
@require_POST
@reauthenticated
def export_xlsx(request):
    """The search result (the filters posted as the query string) as a spreadsheet; masked IDs only."""
    from openpyxl import Workbook

    form, filters = _filters_from(QueryDict(request.POST.get("query", "")), request.user)
    if not form.is_valid():
        raise Http404
    found = selectors.search_claims(user=request.user, filters=filters)
    # Read in this request, in memory: a year of a city's claims is bounded by its lines first.
    lines_found = ClaimLine.objects.filter(claim__in=found.values("pk")).count()
    if lines_found > EXPORT_MAX_LINES:
        messages.error(
            request,
            _("查询结果共有 %(lines)s 行学员明细，超过导出上限 %(most)s 行；请缩小查询范围（如提交日期）后再导出。")
            % {"lines": f"{lines_found:,}", "most": f"{EXPORT_MAX_LINES:,}"},
        )
        return redirect(f"{reverse('audit:search')}?{request.POST.get('query', '')}")
    claims = list(found.prefetch_related("lines__trainee", "lines__policy_version__policy"))
    statuses = dict(ClaimStatus.choices)
    book = Workbook()
    sheet = book.active
    sheet.title = "claims"
    sheet.append(
        xlsx_row(
            sheet,
            [
                _("申领编号"),
                _("培训机构"),
                _("行业主管部门"),
                _("补贴标准"),
                _("状态"),
                _("金额合计"),
                _("提交时间"),
                _("行数"),
                _("学员（脱敏）"),
                _("规则版本"),
            ],
        )
    )
    for claim in claims:
        lines = list(claim.lines.all())
        submitted = timezone.localtime(claim.submitted_at).strftime("%Y-%m-%d %H:%M") if claim.submitted_at else ""
        sheet.append(xlsx_row(sheet, [
            claim.number,
            claim.provider.name,
            claim.department.name,
            claim.policy.code,
            str(statuses.get(claim.status, claim.status)),
            claim.total,
            submitted,
            len(lines),
            masked_ids_cell(lines),
            "; ".join(sorted({version_label(line.policy_version) for line in lines if line.policy_version})),
        ]))  # fmt: skip
    _notice_sheet(book, claims)
    with transaction.atomic():
        record_event(
            actor=request.user,
            action=actions.AUDIT_EXPORTED,
            obj=_jurisdiction_of(request.user),
            detail={"format": "xlsx", "filters": _filters_for_record(filters), "rows": len(claims)},
        )
    buffer = io.BytesIO()
    book.save(buffer)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    return file_response(buffer.getvalue(), filename=f"audit-claims-{stamp}.xlsx", content_type=XLSX_TYPE)


def masked_ids_cell(lines) -> str:
    """The claim's people (masked), as many as a spreadsheet cell holds (CELL_MAX_CHARACTERS),
    then how many there are in all: a cell past the bound makes Excel drop the file's contents."""
    text = "; ".join(line.trainee.id_number_masked for line in lines)
    if len(text) <= CELL_MAX_CHARACTERS:
        return text
    rest = "; " + _("… 共 %(n)d 人，余见申领明细") % {"n": len(lines)}
    return text[: CELL_MAX_CHARACTERS - len(rest)].rpartition("; ")[0] + rest


def _notice_sheet(book, claims) -> None:
    """The notice file of each exported claim (RULES N10): its period, what was published, and
    every objection with its outcome; one row per published line and per objection (masked)."""
    files = notice_files([claim.pk for claim in claims])
    statuses = dict(ClaimStatus.choices)
    sheet = book.create_sheet("notice")
    sheet.append(
        xlsx_row(
            sheet,
            [
                _("申领编号"),
                _("公示开始"),
                _("公示截止"),
                _("进入公示"),
                _("公示结束"),
                _("结果"),
                _("记录"),
                _("行号"),
                _("学员（脱敏）"),
                _("补贴金额"),
                _("回执号"),
                _("异议理由"),
                _("处理结果"),
                _("处理意见"),
                _("处理人"),
                _("处理时间"),
            ],
        )
    )

    def moment(value) -> str:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""

    for claim in claims:
        found = files.get(claim.pk)
        if found is None:
            continue
        head = [
            claim.number,
            found["start"],
            found["end"],
            moment(found["published_at"]),
            moment(found["closed_at"]),
            str(statuses.get(found["closed_to"], found["closed_to"])),
        ]
        for line in found["lines"]:
            # The notice file keeps the amount as text ("900.00"); the sheet shows it as money.
            row = [*head, _("公示"), line["line"], f"{line['trainee']} {line['id_number']}", Decimal(line["amount"])]
            sheet.append(xlsx_row(sheet, row))
        for objection in found["objections"]:
            sheet.append(
                xlsx_row(
                    sheet,
                    [
                        *head,
                        _("异议"),
                        objection.line.line_no,
                        "",
                        "",
                        objection.receipt,
                        objection.reason,
                        str(objection.get_status_display()),
                        objection.decision_reason,
                        objection.decided_by.username if objection.decided_by else "",
                        moment(objection.decided_at),
                    ],
                )
            )


class PackageForm(forms.Form):
    date_from = forms.DateField(label=gettext_lazy("期间自"), widget=DATE_INPUT, validators=[validate_plausible_date])
    date_to = forms.DateField(label=gettext_lazy("期间至"), widget=DATE_INPUT, validators=[validate_plausible_date])

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise forms.ValidationError(_("期间的结束日期早于开始日期。"))
        return data


@auditor_only
@require_POST
@reauthenticated
def export_package(request):
    """The signed ledger package of audit/export.py for a period, as a zip: the bytes of the entries
    the auditor may read (claims.selectors.ledger_entries_visible_to), the others as hashes only."""
    form = PackageForm(request.POST)
    if not form.is_valid():
        return render(request, "auditor/package_error.html", {"errors": form.errors}, status=400)
    date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    with transaction.atomic():
        record_event(
            actor=request.user,
            action=actions.AUDIT_EXPORTED,
            obj=_jurisdiction_of(request.user),
            detail={"format": "package", "from": date_from.isoformat(), "to": date_to.isoformat()},
        )
    workdir = Path(tempfile.mkdtemp(prefix="audit-export-"))
    target = workdir / f"audit-ledger-{date_from.isoformat()}-{date_to.isoformat()}.zip"
    try:
        export_period(
            date_from=date_from,
            date_to=date_to,
            out=target,
            readable=ledger_entries_visible_to(request.user),
            scope=", ".join(jurisdictions_overseen_by(request.user).order_by("code").values_list("code", flat=True)),
        )
    except ExportError as error:
        return render(request, "auditor/package_error.html", {"message": str(error)}, status=400)
    handle = open(target, "rb")
    target.unlink()  # the open handle keeps the file until the response is sent
    workdir.rmdir()
    return file_response(handle, filename=target.name, content_type="application/zip")
