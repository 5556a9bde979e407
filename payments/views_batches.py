"""Pages of payment batches: the list, building a batch from what awaits payment, a batch with its
payees, lines, checks, release (by another finance officer), cancellation and bank files, and
payee accounts. Thin: reads from payments/selectors/batches.py, writes through the services."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import reauth
from audit import actions
from claims.amounts import amount_text
from claims.errors import DomainError, NotInScope
from claims.http import file_response, scoped
from claims.selectors import jurisdictions_overseen_by
from workflow import disbursement

from . import access
from .forms_batches import CancelBatchForm, PayeeAccountForm, ReleaseConfirmForm, selected_claim_ids
from .models import BatchLineStatus, BatchStatus, PayeeKind, TransferStatus
from .selectors import batches as selectors
from .services import batches as services
from .services.batch_files import FILE_KINDS, content_type_of, download_bank_file
from .services.payees import set_payee_account

PAGE_SIZE = 50


def _require(user, capability: str) -> None:
    if not access.may(user, capability):
        raise PermissionDenied


def _error_text(error: DomainError) -> str:
    problems = [message for messages_ in error.fields.values() for message in messages_]
    return " ".join([error.message, *problems])


@scoped
def batch_list(request):
    _require(request.user, access.READ_BATCHES)
    page = Paginator(selectors.batches_visible_to(request.user).order_by("-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "payments/batches/list.html",
        {
            "page": page,
            "summary": selectors.awaiting_summary(request.user),
            "may_build": access.may_build_batches(request.user),
        },
    )


@scoped
def batch_build(request):
    _require(request.user, access.BUILD_BATCHES)
    if request.method == "POST":
        jurisdictions = list(jurisdictions_overseen_by(request.user))
        try:
            claim_ids = selected_claim_ids(request.POST)
            if claim_ids == []:
                messages.error(request, _("请至少勾选一件申领，或选择编入全部待拨付的行。"))
            elif len(jurisdictions) != 1:
                messages.error(request, _("您负责多个行政区，请通过接口指定行政区。"))
            else:
                batch = disbursement.build_batch(actor=request.user, jurisdiction=jurisdictions[0], claim_ids=claim_ids)
                messages.success(
                    request,
                    _(
                        "已生成拨付批次 %(number)s：%(lines)s 行，%(payees)s 个收款人，合计 %(total)s 元。请另一名财政经办人复核发放。"
                    )
                    % {
                        "number": batch.number,
                        "lines": batch.line_count,
                        "payees": batch.payee_count,
                        "total": amount_text(batch.total),
                    },
                )
                return redirect("payments:batch", batch.pk)
        except DomainError as error:
            messages.error(request, _error_text(error))
    return render(
        request,
        "payments/batches/build.html",
        {
            **selectors.awaiting_page(request.user, request.GET.get("after"), PAGE_SIZE),
            "selected": {str(value) for value in request.POST.getlist("claims")},
        },
        status=400 if request.method == "POST" else 200,
    )


@scoped
def batch_detail(request, batch_id):
    _require(request.user, access.READ_BATCHES)
    return _render_detail(request, selectors.get_batch_for_user(user=request.user, batch_id=batch_id))


def _render_detail(request, batch, *, cancel_form: CancelBatchForm | None = None, status: int = 200, confirm_error: bool = False):
    user = request.user
    lines = Paginator(selectors.batch_lines(batch), PAGE_SIZE).get_page(request.GET.get("page"))
    payees = Paginator(selectors.batch_transfers(batch), PAGE_SIZE).get_page(request.GET.get("payees_page"))
    for row in lines.object_list:
        row["status_display"] = BatchLineStatus(row["status"]).label
    for row in payees.object_list:
        row["status_display"] = TransferStatus(row["status"]).label
        row["kind_display"] = PayeeKind(row["payee_kind"]).label
    changed_accounts = selectors.changed_accounts(batch)
    for row in changed_accounts:
        row["kind_display"] = PayeeKind(row["payee_kind"]).label
    built = batch.status == BatchStatus.BUILT
    released = batch.status in (BatchStatus.RELEASED, BatchStatus.RECONCILED)
    return render(
        request,
        "payments/batches/detail.html",
        {
            "batch": batch,
            "lines": lines,
            "payees": payees,
            "files": selectors.batch_files(batch) if released else [],
            "checksum": selectors.payment_checksum(batch) if released else None,
            "problems": services.check_batch(batch) if built else [],
            "changed_accounts": changed_accounts,
            "may_release": access.may_release_batch(user, batch),
            "password_needed": not reauth.is_recent(request),
            "four_eyes": access.waits_for_another_releaser(user, batch),
            "may_cancel": access.may_cancel_batch(user, batch),
            "may_download": access.may_download_bank_files(user, batch),
            "releasing": batch.status == BatchStatus.RELEASING,
            "cancel_form": cancel_form or CancelBatchForm(),
            "confirm_error": confirm_error,
        },
        status=status,
    )


@require_POST
@scoped
def batch_release(request, batch_id):
    _require(request.user, access.RELEASE_BATCHES)
    batch = selectors.get_batch_for_user(user=request.user, batch_id=batch_id)
    confirmation = ReleaseConfirmForm(request.POST)
    if not confirmation.is_valid():  # irreversible: ticked, checked here (not only in the browser)
        messages.error(request, confirmation.errors["confirm"][0])
        return _render_detail(request, batch, status=400, confirm_error=True)
    if not reauth.confirm(request, purpose=actions.PAYMENT_BATCH_RELEASE_REQUESTED, password=request.POST.get("password")):
        messages.error(request, _("发放批次前须再次输入您的密码（密码不正确或未输入）。"))
        return redirect("payments:batch", batch_id)
    try:
        batch = disbursement.request_release(actor=request.user, batch=batch)
    except DomainError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, _("已复核并发放批次 %(number)s，正在生成银行支付文件。") % {"number": batch.number})
    return redirect("payments:batch", batch_id)


@require_POST
@scoped
def batch_cancel(request, batch_id):
    _require(request.user, access.CANCEL_BATCHES)
    batch = selectors.get_batch_for_user(user=request.user, batch_id=batch_id)
    form = CancelBatchForm(request.POST)
    if not form.is_valid():  # no reason, or too long: the page again, with the form's error
        messages.error(request, " ".join(str(problem) for problems in form.errors.values() for problem in problems))
        return _render_detail(request, batch, cancel_form=form, status=400)
    try:
        batch = services.cancel_batch(actor=request.user, batch=batch, reason=form.cleaned_data["reason"])
    except DomainError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, _("批次 %(number)s 已作废，其中的行已退回待拨付。") % {"number": batch.number})
    return redirect("payments:batch", batch_id)


@scoped
def batch_file(request, batch_id, kind):
    _require(request.user, access.READ_BATCHES)
    batch = selectors.get_batch_for_user(user=request.user, batch_id=batch_id)
    if kind not in FILE_KINDS:
        raise NotInScope()
    bank_file = selectors.get_batch_file(batch=batch, kind=FILE_KINDS[kind])
    try:
        download_bank_file(actor=request.user, batch=batch, bank_file=bank_file)
    except DomainError:
        raise PermissionDenied from None
    return file_response(bank_file.content, filename=bank_file.filename, content_type=content_type_of(bank_file))


@scoped
def payee_accounts(request):
    """Lines awaiting payment whose payee has no account, and the form to enter (or correct) one."""
    _require(request.user, access.SET_PAYEE_ACCOUNTS)
    trainee = provider = enterprise = None
    if request.GET.get("enterprise") or request.POST.get("enterprise"):
        enterprise = selectors.enterprise_for_payee_account(
            user=request.user, credit_code=request.POST.get("enterprise") or request.GET.get("enterprise")
        )
    elif request.GET.get("trainee") or request.POST.get("trainee"):
        trainee = selectors.trainee_for_payee_account(
            user=request.user, trainee_id=request.POST.get("trainee") or request.GET.get("trainee")
        )
    elif request.GET.get("provider") or request.POST.get("provider"):
        provider = selectors.provider_for_payee_account(
            user=request.user, code=request.POST.get("provider") or request.GET.get("provider")
        )
    owner = trainee or provider or enterprise
    owner_name = trainee.line_name if trainee is not None else owner.name if owner is not None else ""
    current = selectors.payee_account_of(owner) if owner is not None else None
    status = 200
    if request.method == "POST" and owner is not None:
        form = PayeeAccountForm(request.POST)
        if form.is_valid():
            try:
                set_payee_account(
                    actor=request.user,
                    trainee=trainee,
                    provider=provider,
                    enterprise_credit_code=enterprise.credit_code if enterprise else None,
                    **form.cleaned_data,
                )
            except DomainError as error:
                for field, problems in error.fields.items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
                if not error.fields:
                    form.add_error(None, error.message)
            else:
                messages.success(request, _("已保存 %(name)s 的收款账户。") % {"name": owner_name})
                return redirect("payments:payee_accounts")
        status = 400
    elif owner is not None:
        initial = (
            {"account_name": current.account_name, "bank_name": current.bank_name} if current else {"account_name": owner_name}
        )
        form = PayeeAccountForm(initial=initial)
    else:
        form = None
    missing = selectors.missing_accounts_page(request.user, request.GET.get("after"), PAGE_SIZE)
    return render(
        request,
        "payments/batches/payee_accounts.html",
        {
            "missing": missing,
            "form": form,
            "trainee": trainee,
            "provider": provider,
            "enterprise": enterprise,
            "current": current,
            "summary": selectors.awaiting_summary(request.user),
            "build_url": reverse("payments:batch_build"),
        },
        status=status,
    )
