"""Results pages: the bank's result file uploaded on a batch, the batch's reconciliation, the
returned transfers and their correction, a line finally not paid, and recovery orders (追回).
Thin: reads from payments/selectors/results.py, every write through the services; out of scope
is 404, a wrong role 403."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from claims.errors import ActionForbidden, InvalidInput, StepAlreadyTaken
from claims.http import scoped
from workflow import disbursement

from . import access
from .forms_results import CancelPaymentForm, CorrectionForm, ReceiptForm, RecoveryForm, ResultUploadForm
from .models import BankFile, BankFileKind, BatchLine, BatchStatus, RecoveryStatus, TransferStatus
from .selectors import results as selectors
from .services import recoveries as recovery_services
from .services import results as services

PAGE_SIZE = 50


def _require(user, capability: str) -> None:
    if not access.may(user, capability):
        raise PermissionDenied


# --------------------------------------------------------------------------- results and reconciliation


def _render_upload(request, batch, form, *, status=200, problems=None):
    files = (
        BankFile.objects.filter(batch=batch, kind=BankFileKind.RESULT)
        .select_related("created_by")
        .defer("content")
        .order_by("-pk")
    )
    return render(
        request,
        "payments/results/upload.html",
        {
            "batch": batch,
            "form": form,
            "files": files,
            "problems": problems or [],
            "may_upload": batch.status in (BatchStatus.RELEASED, BatchStatus.RECONCILED),
        },
        status=status,
    )


@scoped
def result_upload(request, batch_id):
    batch = selectors.get_batch_for_user(user=request.user, batch_id=batch_id)
    _require(request.user, access.UPLOAD_BANK_RESULTS)
    if request.method != "POST":
        return _render_upload(request, batch, ResultUploadForm())
    form = ResultUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_upload(request, batch, form, status=400)
    upload = form.cleaned_data["file"]
    try:
        services.check_result_size(upload.size)  # before reading it into memory
        summary = disbursement.apply_bank_result(actor=request.user, batch=batch, filename=upload.name, content=upload.read())
    except InvalidInput as error:
        messages.error(request, error.message)
        return _render_upload(request, batch, form, status=400, problems=sorted(error.fields.items(), key=_row_order))
    except StepAlreadyTaken as error:
        messages.error(request, error.message)
        return _render_upload(request, batch, form, status=409, problems=sorted(error.fields.items(), key=_row_order))
    except ActionForbidden as error:
        raise PermissionDenied(error.message) from None
    if summary.changed:
        messages.success(
            request,
            _("已登记银行结果：入账 %(paid)s 笔，退票 %(returned)s 笔；涉及 %(claims)s 笔申领，由后台逐笔办结。")
            % {"paid": summary.paid, "returned": summary.returned, "claims": summary.claims},
        )
    else:
        messages.info(request, _("该回单的结果均已登记，未作改动。"))
    return redirect("payments:reconciliation", batch.pk)


def _row_order(item):
    name = item[0]
    if name.startswith("rows[") and "]" in name:
        try:
            return (int(name[5 : name.index("]")]), name)
        except ValueError:
            pass
    return (0, name)


@scoped
def reconciliation(request, batch_id):
    batch = selectors.get_batch_for_user(user=request.user, batch_id=batch_id)
    report = selectors.reconciliation(batch)
    returned = (
        batch.transfers.filter(status=TransferStatus.RETURNED)
        .order_by("seq")
        .prefetch_related(Prefetch("lines", queryset=BatchLine.objects.select_related("claim_line__claim").order_by("pk")))
    )
    return render(
        request,
        "payments/results/reconciliation.html",
        {
            "batch": batch,
            "report": report,
            "returned": returned,
            "may_upload": access.may(request.user, access.UPLOAD_BANK_RESULTS),
            "files": BankFile.objects.filter(batch=batch, kind=BankFileKind.RESULT).defer("content").order_by("-pk"),
        },
    )


# --------------------------------------------------------------------------- returns (退票)


@scoped
def returns(request):
    transfers = selectors.returned_transfers_visible_to(request.user).prefetch_related(
        Prefetch(
            "lines",
            queryset=selectors.open_returned_batch_lines()
            .select_related("claim_line__claim", "claim_line__trainee")
            .order_by("pk"),
            to_attr="open_batch_lines",
        )
    )
    page = Paginator(transfers, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "payments/results/returns.html",
        {"page": page, "may_correct": access.may(request.user, access.CORRECT_RETURNED_PAYEES), "form": CorrectionForm()},
    )


@require_POST
@scoped
def return_correct(request, transfer_id):
    transfer = selectors.get_transfer_for_user(user=request.user, transfer_id=transfer_id)
    _require(request.user, access.CORRECT_RETURNED_PAYEES)
    form = CorrectionForm(request.POST)
    if not form.is_valid():
        return render(request, "payments/results/correct.html", {"transfer": transfer, "form": form}, status=400)
    data = form.cleaned_data
    try:
        lines = services.correct_payee_after_return(
            actor=request.user,
            transfer=transfer,
            account_name=data.get("account_name", ""),
            bank_name=data.get("bank_name", ""),
            account_number=data.get("account_number", ""),
            reason=data.get("reason", ""),
        )
    except (InvalidInput, StepAlreadyTaken) as error:
        form.add_service_errors(error.fields)
        messages.error(request, error.message)
        return render(
            request,
            "payments/results/correct.html",
            {"transfer": transfer, "form": form},
            status=400 if isinstance(error, InvalidInput) else 409,
        )
    except ActionForbidden as error:
        raise PermissionDenied(error.message) from None
    messages.success(request, _("已更正收款账户，%(n)s 行退票明细待编入下一批次。") % {"n": len(lines)})
    return redirect("payments:returns")


# --------------------------------------------------------------------------- a line finally not paid


@scoped
def line_cancel(request, claim_id, line_no):
    line = selectors.get_line_for_overseer(user=request.user, claim_id=claim_id, line_no=line_no)
    _require(request.user, access.CANCEL_LINE_PAYMENTS)
    form = CancelPaymentForm(request.POST or None)
    status = 200
    if request.method == "POST" and not form.is_valid():
        status = 400
    elif request.method == "POST":
        try:
            disbursement.cancel_line_payment(
                actor=request.user, line=line, reason_code=form.cleaned_data["reason_code"], reason=form.cleaned_data["reason"]
            )
        except (InvalidInput, StepAlreadyTaken) as error:
            form.add_service_errors(error.fields)
            messages.error(request, error.message)
            status = 400 if isinstance(error, InvalidInput) else 409
        except ActionForbidden as error:
            raise PermissionDenied(error.message) from None
        else:
            messages.success(request, _("第 %(line)s 行不予拨付，预留资金已释放。") % {"line": line.line_no})
            return redirect("approvals:claim", line.claim_id)
    return render(request, "payments/results/cancel.html", {"line": line, "claim": line.claim, "form": form}, status=status)


# --------------------------------------------------------------------------- recoveries (追回)


@scoped
def recovery_open(request, claim_id, line_no):
    line = selectors.get_line_for_overseer(user=request.user, claim_id=claim_id, line_no=line_no)
    _require(request.user, access.OPEN_RECOVERIES)
    figures = selectors.recovery_figures(line)
    initial = {"amount_due": f"{figures['available']:.2f}", "payer_kind": "provider", "payer_name": line.claim.provider.name}
    form = RecoveryForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST" and not form.is_valid():
        status = 400
    elif request.method == "POST":
        data = form.cleaned_data
        try:
            order = recovery_services.open_recovery(
                actor=request.user,
                line=line,
                amount_due=data["amount_due"],
                payer_kind=data["payer_kind"],
                payer_name=data["payer_name"],
                reason_code=data["reason_code"],
                reason=data["reason"],
            )
        except (InvalidInput, StepAlreadyTaken) as error:
            form.add_service_errors(error.fields)
            messages.error(request, error.message)
            status = 400 if isinstance(error, InvalidInput) else 409
        except ActionForbidden as error:
            raise PermissionDenied(error.message) from None
        else:
            messages.success(request, _("已开具追回单。"))
            return redirect("payments:recovery", order.pk)
    return render(
        request,
        "payments/results/recovery_form.html",
        {"line": line, "claim": line.claim, "form": form, "figures": figures},
        status=status,
    )


@scoped
def recoveries(request):
    orders = selectors.recoveries_visible_to(request.user).order_by("-pk")
    state = request.GET.get("status")
    if state in RecoveryStatus.values:
        orders = orders.filter(status=state)
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "payments/results/recoveries.html", {"page": page, "state": state, "statuses": RecoveryStatus.choices})


def _render_recovery(request, order, form=None, status=200):
    return render(
        request,
        "payments/results/recovery.html",
        {
            "order": order,
            "line": order.claim_line,
            "claim": order.claim_line.claim,
            "receipts": order.receipts.select_related("recorded_by").order_by("pk"),
            "outstanding": order.amount_due - order.amount_recovered,
            "form": form or ReceiptForm(),
            "may_record": access.may_record_receipt(request.user, order),
        },
        status=status,
    )


@scoped
def recovery_detail(request, order_id):
    return _render_recovery(request, selectors.get_recovery_for_user(user=request.user, order_id=order_id))


@require_POST
@scoped
def recovery_receipt(request, order_id):
    order = selectors.get_recovery_for_user(user=request.user, order_id=order_id)
    _require(request.user, access.RECORD_RECOVERY_RECEIPTS)
    form = ReceiptForm(request.POST)
    if not form.is_valid():
        return _render_recovery(request, order, form, status=400)
    data = form.cleaned_data
    try:
        recovery_services.record_recovery_receipt(
            actor=request.user,
            order=order,
            amount=data.get("amount", ""),
            received_on=data.get("received_on", ""),
            reference=data.get("reference", ""),
        )
    except (InvalidInput, StepAlreadyTaken) as error:
        form.add_service_errors(error.fields)
        messages.error(request, error.message)
        return _render_recovery(request, order, form, status=400 if isinstance(error, InvalidInput) else 409)
    except ActionForbidden as error:
        raise PermissionDenied(error.message) from None
    messages.success(request, _("已登记追回到账。"))
    return redirect("payments:recovery", order.pk)
