"""Pages for who holds a task: a reviewer's substitutes (Delegation), and a team lead's
reassign and release on the task page. Every write goes through workflow.assignment."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from claims.errors import ActionForbidden, DomainError, InvalidInput
from claims.http import scoped
from workflow import assignment

from .forms import DelegationForm, ReassignForm, ReleaseForm, RevokeDelegationForm


def _show_errors(request, form, error: DomainError) -> None:
    for field, problems in (getattr(error, "fields", None) or {}).items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)
    messages.error(request, error.message)


@scoped
def delegations(request):
    may_delegate = assignment.may_name_substitute(request.user)
    if request.method == "POST" and not may_delegate:
        raise PermissionDenied(_("只有审核人员可以指定代理人。"))
    form = DelegationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                assignment.name_substitute(
                    user=request.user,
                    substitute_username=form.cleaned_data["substitute"],
                    starts_on=form.cleaned_data["starts_on"],
                    ends_on=form.cleaned_data["ends_on"],
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as error:
                _show_errors(request, form, error)
                status = 403 if not isinstance(error, InvalidInput) else 400
            else:
                messages.success(request, _("已指定代理人。"))
                return redirect("approvals:delegations")
        else:
            status = 400
    return render(
        request,
        "approvals/delegations.html",
        {
            "form": form,
            "revoke_form": RevokeDelegationForm(),
            "may_delegate": may_delegate,
            "delegations": assignment.delegations_of(request.user),
        },
        status=status,
    )


@require_POST
@scoped
def delegation_revoke(request, delegation_id):
    try:
        # The service checks whose delegation it is before the reason (a stranger's is a 404), then the reason.
        assignment.revoke_substitute(user=request.user, delegation_id=delegation_id, reason=request.POST.get("reason", ""))
    except DomainError as error:
        if error.code == "not_found":
            raise
        messages.error(request, "；".join([error.message, *(e for errs in (error.fields or {}).values() for e in errs)]))
    else:
        messages.success(request, _("已撤销代理。"))
    return redirect("approvals:delegations")


def _task_for_lead(request, task_id):
    """The task, for its team lead; 403 to whoever else sees it, 404 to the rest."""
    try:
        return assignment.task_for_lead(user=request.user, task_id=task_id)
    except ActionForbidden as error:
        raise PermissionDenied(error.message) from None


@require_POST
@scoped
def task_reassign(request, task_id):
    task = _task_for_lead(request, task_id)
    form = ReassignForm(request.POST, people=assignment.people_to_reassign_to(task))
    if not form.is_valid():
        messages.error(
            request, _("改派信息有误：%(errors)s") % {"errors": "；".join(e for errs in form.errors.values() for e in errs)}
        )
        return redirect("approvals:task", task.pk)
    try:
        assignment.reassign_task(
            user=request.user, task_id=task.pk, to_username=form.cleaned_data["to"], reason=form.cleaned_data["reason"]
        )
    except DomainError as error:
        messages.error(request, "；".join([error.message, *(e for errs in (error.fields or {}).values() for e in errs)]))
    else:
        messages.success(request, _("已改派给 %(user)s。") % {"user": form.cleaned_data["to"]})
    return redirect("approvals:task", task.pk)


@require_POST
@scoped
def task_release(request, task_id):
    task = _task_for_lead(request, task_id)
    form = ReleaseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("收回任务须写明理由。"))
        return redirect("approvals:task", task.pk)
    try:
        assignment.release_task(user=request.user, task_id=task.pk, reason=form.cleaned_data["reason"])
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已收回任务，放回团队队列。"))
    return redirect("approvals:task", task.pk)
