"""Pages of class filing (开班备案): the list of one's classes, filing one (with its roster file),
a class with its roster and attendance, the department's acceptance or refusal, the clerk's
roster and attendance uploads. Thin: workflow/classes.py checks and does everything; anything
out of scope is a 404."""

import datetime

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from claims import access
from claims.classes import (
    attendance_day_sheet,
    attendance_days,
    classes_visible_to,
    get_class_for_user,
    roster_with_attendance,
)
from claims.errors import ActionForbidden, InvalidInput, StepAlreadyTaken
from claims.http import scoped
from claims.models import ClassStatus, Level, SubsidyPolicy
from claims.roster import MAX_FILE_BYTES, XLSX_CONTENT_TYPE, RosterFileError, read_attendance, read_class_roster
from claims.selectors import departments_of_reviewer, departments_visible_to, providers_of_clerk
from claims.widgets import DATE_INPUT
from workflow import classes as services

from .roster_views import _localized
from .templatetags.approvals_tags import day_text

BLANK = [("", "—")]
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
XLSX = forms.ClearableFileInput(attrs={"accept": f".xlsx,{XLSX_CONTENT_TYPE}"})


class ClassForm(forms.Form):
    """Every field as typed (required=False): the service parses and names what is wrong."""

    department = forms.ChoiceField(label=gettext_lazy("行业主管部门"), required=False)
    policy = forms.ChoiceField(label=gettext_lazy("补贴标准"), required=False)
    occupation = forms.CharField(label=gettext_lazy("职业（工种）"), required=False, max_length=100)
    level = forms.ChoiceField(label=gettext_lazy("等级"), required=False, choices=BLANK + list(Level.choices))
    name = forms.CharField(label=gettext_lazy("班级名称"), required=False, max_length=200)
    start = forms.CharField(label=gettext_lazy("开班日期"), required=False, widget=DATE_INPUT)
    end = forms.CharField(label=gettext_lazy("结业日期"), required=False, widget=DATE_INPUT)
    daily_start = forms.CharField(label=gettext_lazy("每日开始时间"), required=False, widget=TIME)
    daily_end = forms.CharField(label=gettext_lazy("每日结束时间"), required=False, widget=TIME)
    place = forms.CharField(label=gettext_lazy("培训地点"), required=False, max_length=200)
    teacher = forms.CharField(label=gettext_lazy("授课教师"), required=False, max_length=100)
    file = forms.FileField(label=gettext_lazy("学员名单（.xlsx，身份证号码、姓名两列）"), required=False, widget=XLSX)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        jurisdictions = {provider.jurisdiction_id for provider in providers_of_clerk(user)}
        departments = departments_visible_to(user).filter(jurisdiction__in=jurisdictions)
        self.fields["department"].choices = BLANK + [(d.code, d.name) for d in departments]
        policies = SubsidyPolicy.objects.filter(jurisdiction__in=jurisdictions, class_filing_required=True)
        self.fields["policy"].choices = BLANK + [(p.code, f"{p.code} {p.name}") for p in policies]

    def add_service_errors(self, fields: dict) -> None:
        for path, problems in fields.items():
            name = "file" if path.startswith("trainees") else path
            for problem in problems:
                self.add_error(name if name in self.fields else None, problem)


class FileForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("文件（.xlsx）"), widget=XLSX)


def _read_file(upload) -> bytes:
    if upload is None:
        raise InvalidInput(_("请选择文件（.xlsx）。"), fields={"file": [_("必填。")]})
    if upload.size > MAX_FILE_BYTES:
        message = _("文件过大（超过 %(mb)d MB）。") % {"mb": MAX_FILE_BYTES // (1024 * 1024)}
        raise InvalidInput(message, fields={"file": [message]})
    return upload.read()


@require_GET
@scoped
def class_list(request):
    classes = (
        classes_visible_to(request.user).select_related("provider", "department", "policy", "occupation").order_by("-id")[:200]
    )
    return render(
        request,
        "approvals/classes.html",
        {"classes": classes, "may_file": access.may(request.user, access.FILE_CLASS)},
    )


@scoped
def class_new(request):
    if not access.may(request.user, access.FILE_CLASS):
        raise PermissionDenied
    form = ClassForm(request.POST or None, request.FILES or None, user=request.user)
    status, row_errors = 200, []
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = {key: value for key, value in form.cleaned_data.items() if key != "file"}
            try:
                people, row_errors = read_class_roster(_read_file(form.cleaned_data.get("file")))
                if row_errors:
                    raise InvalidInput(_("学员名单有误，未保存。"), fields={})
                data["trainees"] = [{"id_number": person.id_number, "name": person.name} for person in people]
                training_class = services.file_class(user=request.user, data=data)
            except RosterFileError as error:
                row_errors = error.errors
                messages.error(request, _("学员名单有误，未保存。"))
            except InvalidInput as error:
                form.add_service_errors(error.fields)
                messages.error(request, error.message)
            except ActionForbidden as error:
                messages.error(request, error.message)
                status = 403
            else:
                messages.success(request, _("已报备：%(number)s，待行业主管部门确认。") % {"number": training_class.number})
                return redirect("approvals:class", training_class.pk)
    return render(request, "approvals/class_form.html", {"form": form, "row_errors": _localized(row_errors)}, status=status)


@require_GET
@scoped
def class_detail(request, class_id):
    return _detail(request, class_id)


def _detail(request, class_id, *, form_errors=None, status=200):
    training_class = get_class_for_user(user=request.user, class_id=class_id)
    may_decide = (
        training_class.status == ClassStatus.FILED
        and access.may(request.user, access.DECIDE_CLASS)
        and departments_of_reviewer(request.user).filter(pk=training_class.department_id).exists()
    )
    is_clerk = (
        access.may(request.user, access.FILE_CLASS)
        and providers_of_clerk(request.user).filter(pk=training_class.provider_id).exists()
    )
    minimum = training_class.jurisdiction.attendance_minimum_percent
    roster = roster_with_attendance(training_class, minimum)
    return render(
        request,
        "approvals/class_detail.html",
        {
            "training_class": training_class,
            "roster": roster,
            "days_taught": roster[0]["days"] if roster else 0,
            "minimum": minimum,
            "may_decide": may_decide,
            "may_change_roster": is_clerk and training_class.status == ClassStatus.FILED,
            "may_record_attendance": is_clerk and training_class.status == ClassStatus.ACCEPTED,
            "attendance_days": attendance_days(training_class, until=timezone.localdate()),
            "row_errors": _localized(form_errors or []),
        },
        status=status,
    )


@require_POST
@scoped
def class_decide(request, class_id):
    # 404 outside the user's scope, and to all but the class's department reviewers (API v1's rule).
    services.require_reviewer_of(request.user, get_class_for_user(user=request.user, class_id=class_id))
    decision = request.POST.get("decision")
    try:
        if decision == "accept":
            services.accept_class(user=request.user, class_id=class_id, comment=request.POST.get("comment", ""))
            messages.success(request, _("已确认备案。"))
        elif decision == "refuse":
            services.refuse_class(user=request.user, class_id=class_id, reason=request.POST.get("reason", ""))
            messages.success(request, _("已不予备案。"))
        else:
            messages.error(request, _("请选择确认备案或不予备案。"))
            return _detail(request, class_id, status=400)
    except ActionForbidden as error:
        messages.error(request, error.message)
        return _detail(request, class_id, status=403)
    except InvalidInput as error:
        messages.error(request, error.message)
        return _detail(request, class_id, status=400)
    except StepAlreadyTaken as error:
        messages.error(request, error.message)
        return _detail(request, class_id, status=409)
    return redirect("approvals:class", class_id)


def _upload(request, class_id, *, read, act, done: str):
    get_class_for_user(user=request.user, class_id=class_id)  # 404 outside the user's scope
    form = FileForm(request.POST, request.FILES)
    try:
        if not access.may(request.user, access.FILE_CLASS):
            raise ActionForbidden(str(access.REFUSALS[access.FILE_CLASS]))
        content = _read_file(request.FILES.get("file")) if form.is_valid() else _read_file(None)
        rows, row_errors = read(content)
        act(rows=rows, row_errors=row_errors, filename=request.FILES["file"].name, content=content)
    except RosterFileError as error:
        messages.error(request, _("文件有误，未保存。"))
        return _detail(request, class_id, form_errors=error.errors, status=400)
    except services.FileRejected as error:
        messages.error(request, error.message)
        return _detail(request, class_id, form_errors=error.rows, status=400)
    except InvalidInput as error:
        messages.error(request, error.message)
        return _detail(request, class_id, status=400)
    except ActionForbidden as error:
        messages.error(request, error.message)
        return _detail(request, class_id, status=403)
    except StepAlreadyTaken as error:
        messages.error(request, error.message)
        return _detail(request, class_id, status=409)
    messages.success(request, done)
    return redirect("approvals:class", class_id)


@require_POST
@scoped
def class_roster(request, class_id):
    def act(*, rows, row_errors, filename, content):
        if row_errors:
            raise RosterFileError(row_errors)
        people = [services.Person(person.id_number, person.name) for person in rows]
        services.replace_class_roster(user=request.user, class_id=class_id, people=people)

    return _upload(request, class_id, read=read_class_roster, act=act, done=_("已更新学员名单。"))


@require_POST
@scoped
def class_attendance(request, class_id):
    def act(*, rows, row_errors, filename, content):
        services.record_attendance(
            user=request.user, class_id=class_id, rows=rows, errors=row_errors, filename=filename, content=content
        )

    return _upload(request, class_id, read=read_attendance, act=act, done=_("已登记考勤。"))


def _is_clerk_of(user, training_class) -> bool:
    return access.may(user, access.FILE_CLASS) and providers_of_clerk(user).filter(pk=training_class.provider_id).exists()


@scoped
def class_attendance_day(request, class_id, day):
    """One day of the class's attendance on a page: every trainee on the filed roster with a
    box ticked when present. Everyone who sees the class reads it; the provider's clerk records
    it (the whole day at once; nothing saved on an error)."""
    training_class = get_class_for_user(user=request.user, class_id=class_id)  # 404 outside the user's scope
    try:
        day = datetime.date.fromisoformat(day)
    except ValueError:
        raise Http404 from None
    if not training_class.start <= day <= training_class.end:
        raise Http404
    status = 200
    if request.method == "POST":
        try:
            present = {int(value) for value in request.POST.getlist("present")}
        except ValueError:
            present = {-1}  # not a roster place: refused below as one
        try:
            services.record_day_attendance(user=request.user, class_id=class_id, day=day, present=present)
        except ActionForbidden as error:
            messages.error(request, error.message)
            status = 403
        except InvalidInput as error:
            messages.error(request, error.message)
            status = 400
        except StepAlreadyTaken as error:
            messages.error(request, error.message)
            status = 409
        else:
            messages.success(request, _("已登记 %(day)s 的考勤。") % {"day": day_text(day)})
            return redirect("approvals:class_attendance_day", class_id, day.isoformat())
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    may_record = (
        _is_clerk_of(request.user, training_class)
        and training_class.status == ClassStatus.ACCEPTED
        and services.attendance_day_allowed(training_class, day)
    )
    return render(
        request,
        "approvals/class_attendance_day.html",
        {
            "training_class": training_class,
            "day": day,
            "sheet": attendance_day_sheet(training_class, day),
            "may_record": may_record,
            "days": attendance_days(training_class, until=timezone.localdate()),
        },
        status=status,
    )
