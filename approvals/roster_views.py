"""Pages of roster imports: upload a filled template, follow a queued import, download the template.

Thin like approvals/views.py: claims.imports checks and does everything; its errors are shown
on the page (every failing row and column), anything out of scope is a 404."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from claims import access, imports
from claims.errors import ActionForbidden, InvalidInput, StepAlreadyTaken
from claims.http import file_response, scoped
from claims.languages import in_active_language
from claims.models import RosterUploadStatus
from claims.roster import MAX_FILE_BYTES, MAX_ROWS, TEMPLATE_FILENAME, XLSX_CONTENT_TYPE

from .forms import ClaimHeaderForm


class RosterImportForm(ClaimHeaderForm):
    file = forms.FileField(
        label=gettext_lazy("花名册文件（.xlsx）"),
        required=False,  # the service names a missing file with the others
        widget=forms.ClearableFileInput(attrs={"accept": f".xlsx,{XLSX_CONTENT_TYPE}"}),
    )


def _localized(errors: list[dict]) -> list[dict]:
    """The errors with the message in the page's language."""
    return [
        {
            **error,
            "text": in_active_language(error["message"], error["message_en"]),
            "column": in_active_language(error["column"], error["column_en"]),
        }
        for error in errors
    ]


RECENT_UPLOADS = 10


def _import_context(request, form, *, row_errors=None) -> dict:
    return {
        "form": form,
        "recent": imports.uploads_visible_to(request.user).select_related("claim").defer("content")[:RECENT_UPLOADS],
        "row_errors": _localized(row_errors or []),
        "max_rows": MAX_ROWS,
        "queue_from_rows": imports.QUEUE_FROM_ROWS,
    }


@scoped
def roster_import(request):
    if not access.may(request.user, access.IMPORT_ROSTER):
        raise PermissionDenied
    if request.method != "POST":
        return render(request, "approvals/roster_import.html", _import_context(request, RosterImportForm(user=request.user)))
    form = RosterImportForm(request.POST, request.FILES, user=request.user)
    status = 400
    row_errors = None
    if form.is_valid():
        upload_file = form.cleaned_data.get("file")
        try:
            if upload_file is None:
                raise InvalidInput(_("请选择要上传的花名册文件（.xlsx）。"), fields={"file": [_("必填。")]})
            if upload_file.size > MAX_FILE_BYTES:
                message = _("文件过大（超过 %(mb)d MB）。") % {"mb": MAX_FILE_BYTES // (1024 * 1024)}
                raise InvalidInput(message, fields={"file": [message]})
            upload = imports.receive_roster(
                user=request.user,
                header=form.data_for_service(),
                filename=upload_file.name,
                content=upload_file.read(),
            )
        except imports.RosterRejected as error:
            row_errors = error.rows  # the page's own banner says it was refused, and lists them
        except StepAlreadyTaken as error:
            form.add_error("file", error.message)
            messages.error(request, error.message)
            status = 409
        except InvalidInput as error:
            form.add_service_errors(error.fields)
            messages.error(request, error.message)
        except ActionForbidden as error:
            messages.error(request, error.message)
            status = 403
        else:
            upload.refresh_from_db()
            if upload.status == RosterUploadStatus.DONE:
                messages.success(
                    request,
                    _("已导入 %(rows)d 名学员，生成申领草稿 %(number)s。")
                    % {"rows": upload.row_count, "number": upload.claim.number},
                )
                return redirect("approvals:claim", upload.claim_id)
            return redirect("approvals:roster_status", upload.pk)
    return render(request, "approvals/roster_import.html", _import_context(request, form, row_errors=row_errors), status=status)


@scoped
def roster_status(request, upload_id):
    upload = imports.get_upload_for_user(user=request.user, upload_id=upload_id)
    return render(
        request,
        "approvals/roster_status.html",
        {
            "upload": upload,
            "row_errors": _localized(upload.errors),
            "finished": upload.status in (RosterUploadStatus.DONE, RosterUploadStatus.FAILED),
            "percent": int(100 * upload.processed_rows / upload.row_count) if upload.row_count else 0,
            "statuses": RosterUploadStatus.choices,
        },
    )


@scoped
def roster_template(request):
    return file_response(imports.roster_template(), filename=TEMPLATE_FILENAME, content_type=XLSX_CONTENT_TYPE)
