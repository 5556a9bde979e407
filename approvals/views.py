"""The server-rendered pages. Thin: reads come from the selectors, every write goes through
a service, and the services' errors are shown on the page (404 for anything out of scope)."""

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from audit import actions
from claims import access as claims_access
from claims.attachments import attachments_of, max_bytes_text
from claims.certificate_checks import latest_checks_first
from claims.eligibility import flags_for_display, related_numbers
from claims.errors import ActionForbidden, DomainError, InvalidInput, StepAlreadyTaken
from claims.http import scoped
from claims.keyset import BadCursor, keyset_page
from claims.models import AttachmentKind, ClaimStatus
from claims.selectors import (
    claim_numbers_visible_to,
    claim_scope,
    claims_in_scope,
    get_claim_for_user,
    ledger_history_of_claim,
)
from claims.services import create_claim, update_claim
from payments import access as payments_access
from payments.selectors import batches as batch_selectors
from payments.selectors.results import line_payment_info, recoveries_of_lines
from workflow import assignment, conversation, labels, selectors
from workflow.services import decide_task, may_override_flags, override_flag, submit_claim, take_task, withdraw_claim
from workflow.steps import REVIEW_STEPS, STEPS

from .forms import (
    FORM_LINES_MAX,
    ClaimHeaderForm,
    DecisionForm,
    ReassignForm,
    ReleaseForm,
    SubmitConfirmForm,
    add_line_errors,
    line_formset,
    lines_for_service,
    with_added_row,
)

PAGE_SIZE = 50


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


# --- presentation of tasks --------------------------------------------------------------------


def _decorate(task):
    """What a task page shows beside the task itself: its step, and its due date as the inbox row
    holds it (the one the API answers; workflow.deadlines computed it), due soon or overdue."""
    task.step = STEPS[task.flow_task.name]
    task.claim = task.process.claim
    item = selectors.mark_due([selectors.task_item(task)])[0]
    task.due, task.due_state, task.escalated = item.due, item.due_state, item.escalated
    return task


# --- the task page ------------------------------------------------------------------------


def _lines_of(claim, *, reader) -> list:
    """The claim's lines as the pages show them to ``reader``, each with its flags in the active
    language and their overrides (``line.shown_flags``), naming the claims the reader may see."""
    lines = list(
        claim.lines.select_related("trainee", "occupation", "policy_version__policy").prefetch_related(
            "overrides__overridden_by", Prefetch("certificate_checks", queryset=latest_checks_first())
        )
    )
    payments = line_payment_info([line.pk for line in lines])  # batch and return reason, one query
    recovery = recoveries_of_lines([line.pk for line in lines])
    in_sight = claim_numbers_visible_to(reader, related_numbers(flag for line in lines for flag in line.flags))
    for line in lines:
        line.shown_flags = flags_for_display(line, visible_claims=in_sight)
        line.payment = payments.get(line.pk)
        line.recoveries = recovery.get(line.pk, [])
        line.certificate_check = next(iter(line.certificate_checks.all()), None)  # the latest
    return lines


# A claim of more lines than this shows each standard and level's clean lines collapsed (the
# flagged ones stay open, first), so the decision is not below hundreds of rows.
OPEN_LINES = 30


@dataclass
class LineGroup:
    key: str
    title: str
    rows: list  # (line, its decision field, its reason field): the fields are None without a form
    open: bool
    flagged: bool = False
    summary: object = None  # the standard and level's figures (selectors.LineSummary)


def _line_groups(figures, form=None) -> list[LineGroup]:
    """The lines as the page shows them: the flagged ones first and open, then the others of each
    standard and level, collapsed on a large claim unless a field of theirs has an error."""
    fields = {line.line_no: (decision, reason) for line, decision, reason in form.rows()} if form is not None else {}

    def rows(lines):
        return [(line, *fields.get(line.line_no, (None, None))) for line in sorted(lines, key=lambda line: line.line_no)]

    def has_error(group_rows):
        return any(field is not None and field.errors for _line, *pair in group_rows for field in pair)

    large = figures.count > OPEN_LINES
    flagged = rows(line for summary in figures.summary for line in summary.lines if line.flags)
    groups = [LineGroup("flagged", _("有预警的行"), flagged, open=True, flagged=True)] if flagged else []
    for summary in figures.summary:
        clean = rows(line for line in summary.lines if not line.flags)
        if clean:
            title = f"{summary.policy.code} {summary.policy.name} · {summary.level_label}"
            groups.append(LineGroup(summary.key, title, clean, open=not large or has_error(clean), summary=summary))
    return groups


def _batches_of(lines) -> list[dict]:
    """The payment batches the claim's lines are in (each line's latest), with how many lines each."""
    batches: dict[int, dict] = {}
    for line in lines:
        if line.payment and line.payment["batch_id"]:
            batch = batches.setdefault(
                line.payment["batch_id"], {"id": line.payment["batch_id"], "number": line.payment["batch"], "lines": 0}
            )
            batch["lines"] += 1
    return sorted(batches.values(), key=lambda batch: batch["id"])


def _pointed_at(return_event, documents) -> list:
    """The claim's documents the return points at (its ``fix.attachments``)."""
    wanted = set((return_event.detail.get("fix") or {}).get("attachments") or ()) if return_event else set()
    return [document for document in documents if document.pk in wanted]


def _claim_context(claim, *, user) -> dict:
    history = list(ledger_history_of_claim(user=user, claim=claim))
    returned = [event for event in history if event.action == actions.CLAIM_RETURNED]
    resubmitted = [event for event in history if event.action == actions.CLAIM_RESUBMITTED]
    open_task = selectors.open_task_of_claim(claim)
    if open_task is not None:
        _decorate(open_task)
    lines = _lines_of(claim, reader=user)
    # Back at the department because the provider changed more than HR asked to fix: say what.
    sent_to_department = (
        resubmitted[-1]
        if resubmitted
        and open_task is not None
        and open_task.step.name == "department_review"
        and resubmitted[-1].detail.get("outside_fix")
        else None
    )
    return_event = returned[-1] if returned and claim.status == ClaimStatus.RETURNED else None
    documents = list(attachments_of(user=user, claim=claim))
    figures = selectors.claim_figures(claim, lines)
    return {
        "claim": claim,
        "lines": lines,
        "figures": figures,
        "line_groups": _line_groups(figures),
        "batches": _batches_of(lines),
        "has_flags": any(line.shown_flags for line in lines),
        "history": history,
        "return_event": return_event,
        "return_documents": _pointed_at(return_event, documents),
        "sent_to_department": sent_to_department,
        "open_task": open_task,
        "step_times": selectors.step_times(claim),
        # The documents and the thread (approvals/documents_views.py).
        "attachments": documents,
        "may_attach": claims_access.may_add_attachments(user, claim),
        "attachment_kinds": AttachmentKind.choices,
        "max_attachment_size": max_bytes_text(),
        "thread": list(conversation.thread_of(user=user, claim=claim)),
        "may_comment": conversation.may_comment(user),
        "may_write_internal": conversation.may_write_internal_notes(user),
    }


def _render_task(request, task, *, decision_form=None, status=200):
    _decorate(task)
    claim = task.claim
    # A substitute of another department reads the claim as the reviewer they act for (404 if not one).
    reader = assignment.reader_of_task_claim(user=request.user, task=task)
    context = _claim_context(claim, user=reader)
    if reader.pk != request.user.pk:
        # Reading, not writing, in the principal's name: documents and messages are added by those who see the claim.
        context.update(may_attach=False, may_comment=False, may_write_internal=False, read_as=reader)
    may_act = selectors.actionable_tasks(request.user).filter(pk=task.pk).exists()
    is_review = task.step.name in REVIEW_STEPS
    if may_act and is_review and decision_form is None:
        decision_form = DecisionForm(lines=context["lines"], attachments=context["attachments"])
    if may_act and is_review:
        context["line_groups"] = _line_groups(context["figures"], decision_form)
    context.update(
        task=task,
        may_act=may_act,
        is_open=task.status in selectors.OPEN_STATUSES,
        decision_form=decision_form if may_act and is_review else None,
        may_edit=claims_access.may_edit_claim(request.user, claim),
        may_override=task.status in selectors.OPEN_STATUSES and may_override_flags(user=request.user, claim=claim),
        acting_for=assignment.acting_for(user=request.user, task=task) if may_act else None,
        # The holder is away: whom they named to act for them today.
        owner_substitutes=assignment.substitutes_today(task.owner)
        if task.owner_id and task.status in selectors.OPEN_STATUSES
        else [],
        # Who held the task, from the ledger: taken, reassigned or released by a team lead.
        assignment_events=[
            event
            for event in context["history"]
            if event.action in ASSIGNMENT_ACTIONS and (event.detail or {}).get("task") == task.pk
        ],
    )
    if task.status in selectors.OPEN_STATUSES and assignment.may_lead(user=request.user, task=task):
        context.update(
            reassign_form=ReassignForm(people=assignment.people_to_reassign_to(task)),
            release_form=ReleaseForm() if task.owner_id else None,
        )
    return render(request, "approvals/task.html", context, status=status)


ASSIGNMENT_ACTIONS = (actions.TASK_ASSIGNED, actions.TASK_REASSIGNED, actions.TASK_RELEASED)


@scoped
def task_detail(request, task_id):
    task = selectors.get_task_for_user(user=request.user, task_id=task_id)
    return _render_task(request, task)


@require_POST
@scoped
def task_take(request, task_id):
    task = selectors.get_task_for_user(user=request.user, task_id=task_id)
    try:
        take_task(user=request.user, task_id=task.pk)
    except (ActionForbidden, StepAlreadyTaken) as error:
        messages.error(request, error.message)
        return redirect(_safe_next(request, reverse("approvals:inbox")))
    messages.success(request, _("已领取任务：%(number)s") % {"number": task.process.claim.number})
    return redirect("approvals:task", task.pk)


@require_POST
@scoped
def task_decide(request, task_id):
    task = selectors.get_task_for_user(user=request.user, task_id=task_id)
    claim = task.process.claim
    form = DecisionForm(
        request.POST, lines=_lines_of(claim, reader=request.user), attachments=attachments_of(user=request.user, claim=claim)
    )
    if not form.is_valid():
        return _render_task(request, task, decision_form=form, status=400)
    try:
        claim = decide_task(
            user=request.user,
            task_id=task.pk,
            decision=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
            reason=form.cleaned_data["reason"],
            line_decisions=form.line_decisions(),
            fix=form.fix(),
        )
    except InvalidInput as error:
        form.add_service_errors(error.fields)
        form.lines = _lines_of(claim, reader=request.user)  # the flags as the refused decision re-checked them
        messages.error(request, error.message)
        return _render_task(request, task, decision_form=form, status=400)
    except StepAlreadyTaken as error:
        messages.error(request, _("该步骤已有决定，无需重复处理。") + " " + error.message)
        return _render_task(request, task, status=409)
    except ActionForbidden as error:
        messages.error(request, error.message)
        return _render_task(request, task, status=403)
    messages.success(
        request,
        _("已提交决定：%(number)s，当前状态：%(status)s") % {"number": claim.number, "status": claim.get_status_display()},
    )
    return redirect("approvals:inbox")


@require_POST
@scoped
def line_override(request, task_id, line_no):
    """An HR reviewer overrides one flag of one line, with a written reason."""
    task = selectors.get_task_for_user(user=request.user, task_id=task_id)
    line = task.process.claim.lines.filter(line_no=line_no).first()
    if line is None:
        raise Http404
    code = request.POST.get("code", "")
    try:
        override_flag(user=request.user, line_id=line.pk, code=code, reason=request.POST.get("reason", ""))
    except DomainError as error:
        problems = [message for messages_ in error.fields.values() for message in messages_]
        messages.error(request, " ".join([error.message, *problems]))
        return _render_task(request, task, status=error.status)
    messages.success(request, _("已豁免第 %(n)d 行的预警：%(flag)s。") % {"n": line.line_no, "flag": labels.reason_label(code)})
    return redirect(reverse("approvals:task", args=[task.pk]) + f"#line-{line.line_no}")


# --- claims -------------------------------------------------------------------------------


@scoped
def claim_list(request):
    claims = claims_in_scope(claim_scope(request.user)).select_related("provider", "department", "policy")
    status = request.GET.get("status", "")
    if status in ClaimStatus.values:
        claims = claims.filter(status=status)
    else:
        status = ""
    query = request.GET.get("q", "").strip()
    if query:
        claims = claims.filter(Q(number__icontains=query) | Q(class_name__icontains=query))
    try:
        page = keyset_page(claims, order=("-id",), cursor=request.GET.get("after"), size=PAGE_SIZE)
    except BadCursor:
        page = keyset_page(claims, order=("-id",), cursor=None, size=PAGE_SIZE)
    return render(
        request,
        "approvals/claim_list.html",
        {"page": page, "status": status, "q": query, "statuses": ClaimStatus.choices},
    )


def render_claim(request, claim, *, status: int = 200, **extra):
    """The claim page; ``extra``: what a refused form sends back (its errors, the text typed)."""
    context = _claim_context(claim, user=request.user)
    open_task = context["open_task"]
    context.update(
        may_edit=claims_access.may_edit_claim(request.user, claim),
        task_for_me=(
            open_task
            if open_task is not None and selectors.actionable_tasks(request.user).filter(pk=open_task.pk).exists()
            else None
        ),
        **extra,
    )
    return render(request, "approvals/claim_detail.html", context, status=status)


@scoped
def claim_detail(request, claim_id):
    return render_claim(request, get_claim_for_user(user=request.user, claim_id=claim_id))


@require_POST
@scoped
def claim_submit(request, claim_id):
    claim = get_claim_for_user(user=request.user, claim_id=claim_id)
    confirmation = SubmitConfirmForm(request.POST)
    if not confirmation.is_valid():  # submitting cannot be undone (only withdrawn): ticked, on the server too
        return render_claim(request, claim, status=400, confirm_error=confirmation.errors["confirm"][0])
    try:
        claim = submit_claim(user=request.user, claim=claim)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("已提交：%(number)s，当前状态：%(status)s") % {"number": claim.number, "status": claim.get_status_display()},
        )
    return redirect("approvals:claim", claim.pk)


@require_POST
@scoped
def claim_withdraw(request, claim_id):
    claim = get_claim_for_user(user=request.user, claim_id=claim_id)
    try:
        claim = withdraw_claim(user=request.user, claim=claim, reason=request.POST.get("reason", ""))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已撤回：%(number)s") % {"number": claim.number})
    return redirect("approvals:claim", claim.pk)


def _claim_form(request, claim=None):
    if claim is None and not claims_access.may(request.user, claims_access.DRAFT_CLAIM):
        raise PermissionDenied
    if claim is not None and not claims_access.may_edit_claim(request.user, claim):
        raise PermissionDenied
    if claim is not None and (count := claim.lines.count()) > FORM_LINES_MAX:
        messages.error(
            request,
            _("本申领有 %(count)d 行，网页表单最多修改 %(max)d 行：请撤回后按花名册重新导入，或通过接口修改。")
            % {"count": count, "max": FORM_LINES_MAX},
        )
        return redirect("approvals:claim", claim.pk)
    status = 200
    general_errors: list[str] = []
    if request.method == "POST":
        data = with_added_row(request.POST) if "add_row" in request.POST else request.POST
        header = ClaimHeaderForm(data, user=request.user, claim=claim)
        formset = line_formset(data=data, claim=claim)
        if "add_row" not in request.POST and header.is_valid() and formset.is_valid():
            rows, form_index = lines_for_service(formset, claim)
            payload = {**header.data_for_service(), "lines": rows}
            try:
                if claim is None:
                    claim = create_claim(user=request.user, data=payload)
                    messages.success(request, _("已保存草稿：%(number)s") % {"number": claim.number})
                else:
                    claim = update_claim(user=request.user, claim=claim, data=payload)
                    messages.success(request, _("已保存修改：%(number)s") % {"number": claim.number})
                return redirect("approvals:claim", claim.pk)
            except InvalidInput as error:
                header.add_service_errors(error.fields)
                general_errors = add_line_errors(formset, form_index, error.fields)
                messages.error(request, error.message)
                status = 400
            except ActionForbidden as error:
                messages.error(request, error.message)
                status = 403
        elif "add_row" not in request.POST:
            status = 400
    else:
        initial = None
        if claim is not None:
            initial = {
                "department": claim.department.code,
                "policy": claim.policy.code,
                "class_name": claim.class_name,
                "training_start": claim.training_start,
                "training_end": claim.training_end,
                "enterprise_name": claim.enterprise_name,
                "enterprise_credit_code": claim.enterprise_credit_code,
                "class": str(claim.training_class_id or ""),
            }
        header = ClaimHeaderForm(initial=initial, user=request.user, claim=claim)
        formset = line_formset(claim=claim)
    context = {"claim": claim, "header": header, "formset": formset, "line_errors": general_errors}
    if claim is not None and claim.status == ClaimStatus.RETURNED:
        # The return's reason, what to fix and the documents it points at, repeated while editing.
        return_event = ledger_history_of_claim(user=request.user, claim=claim).filter(action=actions.CLAIM_RETURNED).last()
        open_task = selectors.open_task_of_claim(claim)
        context.update(
            return_event=return_event,
            return_documents=_pointed_at(return_event, attachments_of(user=request.user, claim=claim)),
            open_task=_decorate(open_task) if open_task is not None else None,
        )
    return render(request, "approvals/claim_form.html", context, status=status)


@scoped
def claim_new(request):
    return _claim_form(request)


@scoped
def claim_edit(request, claim_id):
    claim = get_claim_for_user(user=request.user, claim_id=claim_id)
    return _claim_form(request, claim)


# --- finance ------------------------------------------------------------------------------


@scoped
def finance(request):
    """Finance's desk: what awaits a payment batch (claims, lines, payees, missing payee accounts) and the latest batches."""
    if not payments_access.may(request.user, payments_access.READ_BATCHES):
        raise PermissionDenied
    return render(
        request,
        "approvals/finance.html",
        {
            **batch_selectors.awaiting_page(request.user, request.GET.get("after"), PAGE_SIZE),
            "awaiting_release": batch_selectors.batches_awaiting_release(request.user),
            "batches": batch_selectors.batches_visible_to(request.user).order_by("-id")[:10],
            "may_build": payments_access.may(request.user, payments_access.BUILD_BATCHES),
        },
    )
