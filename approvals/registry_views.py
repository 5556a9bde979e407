"""The HR bureau's page to import a certificate registry's export (CSV or XLSX) for its
jurisdiction, where there is no online registry (联网核查; claims/registry.py). Thin: the one
import path, ``claims.registry.import_registry_export`` (also ``manage.py import_registry_export``),
checks every row; on any error nothing is saved and the page lists each row and column."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from claims import access
from claims.http import scoped
from claims.models import RegistryImport
from claims.registry import ExportRejected, import_registry_export
from claims.selectors import jurisdictions_overseen_by

# An export is larger than a roster (a registry lists every certificate): 20 MB.
MAX_EXPORT_BYTES = 20 * 1024 * 1024


@scoped
def registry_imports(request):
    if not access.may(request.user, access.IMPORT_REGISTRY):
        raise PermissionDenied
    jurisdictions = list(jurisdictions_overseen_by(request.user).order_by("code"))
    status, problems, form = 200, [], {"source": "", "jurisdiction": ""}
    if request.method == "POST":
        status = 400
        form = {"source": request.POST.get("source", "")[:200], "jurisdiction": request.POST.get("jurisdiction", "")}
        chosen = [j for j in jurisdictions if j.code == form["jurisdiction"]] if len(jurisdictions) > 1 else jurisdictions
        upload = request.FILES.get("file")
        if not chosen:
            messages.error(request, _("请选择辖区。"))
        elif upload is None:
            messages.error(request, _("请选择文件（.csv 或 .xlsx）。"))
        elif upload.size > MAX_EXPORT_BYTES:
            messages.error(request, _("文件过大（超过 %(mb)d MB）。") % {"mb": MAX_EXPORT_BYTES // (1024 * 1024)})
        else:
            try:
                imported = import_registry_export(
                    actor=request.user,
                    jurisdiction=chosen[0],
                    source=form["source"],
                    filename=upload.name,
                    content=upload.read(),
                )
            except ExportRejected as error:
                messages.error(request, error.message)
                # In the shape of the roster's errors: one table (approvals/includes/row_errors.html).
                problems = [{**problem, "text": problem["message"]} for problem in error.rows] + [
                    {"row": None, "field": name, "column": "", "text": message}
                    for name, found in error.fields.items()
                    if not name.startswith("rows[") and name != "file"
                    for message in found
                ]
            else:
                messages.success(
                    request,
                    _("已导入 %(n)d 张证书（%(source)s，%(file)s）。")
                    % {"n": imported.row_count, "source": imported.source, "file": imported.filename},
                )
                return redirect("approvals:registry_imports")
    elif request.method != "GET":
        raise PermissionDenied
    imports = (
        RegistryImport.objects.filter(jurisdiction__in=[j.pk for j in jurisdictions])
        .select_related("jurisdiction", "imported_by")
        .order_by("-imported_at", "-id")[:100]
    )
    return render(
        request,
        "approvals/registry_imports.html",
        {"imports": imports, "jurisdictions": jurisdictions, "problems": problems, "form": form},
        status=status,
    )
