"""API v1: the bank's results on a batch, its reconciliation, the correction of a returned
payee's account, the final cancellation of a line's payment, and recovery orders (追回).

Thin, like api/views.py: scope comes from payments.selectors.results (404 outside it), every
rule from the services (400 naming the row and field, 403 for a role, 409 for a state)."""

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from claims.bounds import column_length, whole_number
from claims.errors import InvalidInput
from payments.models import PayeeAccount
from payments.selectors import results as selectors
from payments.services import recoveries, results
from workflow import disbursement

from .parsers import FormParser, JSONParser, MultiPartParser
from .schema import errors
from .validation import BoundedSerializer, bounded_body
from .views import text


def money(**kwargs):
    return serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True, **kwargs)


# --------------------------------------------------------------------------- serializers


class ResultUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="the bank's result file: .csv (UTF-8) or .xlsx with the columns "
        "批次号, 序号, 账号, 金额, 结果 (成功/失败 or paid/returned), 银行流水号, 失败原因"
    )


class ResultTransferSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    before = serializers.CharField()
    after = serializers.CharField(help_text="paid or returned")
    amount = money()
    bank_reference = serializers.CharField()
    reason = serializers.CharField()


class ResultSummarySerializer(serializers.Serializer):
    batch = serializers.IntegerField(source="batch.pk")
    number = serializers.CharField(source="batch.number")
    status = serializers.CharField(source="batch.status", help_text="the batch's status: released or reconciled")
    sha256 = serializers.CharField()
    changed = serializers.BooleanField(help_text="false when the file repeats results already recorded")
    paid = serializers.IntegerField(help_text="transfers now paid")
    returned = serializers.IntegerField(help_text="transfers now returned (退票)")
    unchanged = serializers.IntegerField(help_text="rows repeating a result already recorded")
    lines_paid = serializers.IntegerField()
    lines_returned = serializers.IntegerField()
    claims = serializers.IntegerField(help_text="claims whose lines changed")
    claims_to_settle = serializers.SerializerMethodField(
        help_text="claims with a line now paid: the worker ends each that has nothing else left to pay, "
        "moments after the response (the reconciliation's `settling_since` is null once it is done)"
    )
    reconciled = serializers.BooleanField(help_text="every transfer of the batch now has a result")
    transfers = ResultTransferSerializer(many=True)

    def get_claims_to_settle(self, summary) -> int:
        return len(summary.claims_to_settle)


class FigureSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    amount = money()


class TransferFiguresSerializer(serializers.Serializer):
    sent = FigureSerializer(help_text="sent to the bank (awaiting a result, paid or returned)")
    paid = FigureSerializer()
    returned = FigureSerializer()
    pending = FigureSerializer(help_text="sent, no result yet")
    not_sent = FigureSerializer()
    cancelled = FigureSerializer()
    all = FigureSerializer()


class LineFiguresSerializer(serializers.Serializer):
    sent = FigureSerializer()
    paid = FigureSerializer()
    returned = FigureSerializer()
    pending = FigureSerializer()
    all = FigureSerializer()


class AnomalySerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="batch_total, transfer_total, line_vs_transfer, line_amount, paid_not_recorded, "
        "in_payment_not_recorded, in_payment_without_batch, paid_without_bank, "
        "returned_but_live, reserved_but_live, claim_paid_unsettled"
    )
    message = serializers.CharField()
    claim = serializers.CharField(allow_null=True, help_text="the claim's number")
    claim_id = serializers.IntegerField(allow_null=True)
    line = serializers.IntegerField(allow_null=True)
    transfer = serializers.IntegerField(allow_null=True, help_text="the transfer's seq in the batch")
    expected = serializers.CharField(required=False)
    actual = serializers.CharField(required=False)


class ReconciliationSerializer(serializers.Serializer):
    batch = serializers.IntegerField(source="batch.pk")
    number = serializers.CharField(source="batch.number")
    status = serializers.CharField(source="batch.status")
    total = money(source="batch.total")
    transfers = TransferFiguresSerializer()
    lines = LineFiguresSerializer()
    anomalies = AnomalySerializer(many=True)
    settling_since = serializers.DateTimeField(
        allow_null=True,
        help_text="since when the claims of a bank result applied to the batch are being ended by the worker; "
        "null when none await it",
    )
    claims_left_to_settle = serializers.IntegerField(
        help_text="while settling: the batch's claims with nothing left to pay that the worker has yet to end"
    )


class CorrectionInputSerializer(BoundedSerializer):
    account_name = serializers.CharField(max_length=column_length(PayeeAccount, "account_name"))
    bank_name = serializers.CharField(max_length=column_length(PayeeAccount, "bank_name"))
    account_number = serializers.CharField(
        max_length=column_length(PayeeAccount, "account_number_masked"), help_text="8–30 digits"
    )
    reason = serializers.CharField()


class RequeuedLineSerializer(serializers.Serializer):
    claim = serializers.IntegerField(source="claim_id")
    line = serializers.IntegerField(source="line_no")
    amount = money()
    payment_status = serializers.CharField()


class CorrectionSerializer(serializers.Serializer):
    transfer = serializers.IntegerField()
    lines = RequeuedLineSerializer(many=True, help_text="the payee's returned lines, now reserved for the next batch")


class CancelInputSerializer(BoundedSerializer):
    reason_code = serializers.CharField(help_text="a reason code of the line decisions (FRAUD, CERT_INVALID, NOT_TRAINED…)")
    reason = serializers.CharField()


class CancelledLineSerializer(serializers.Serializer):
    claim = serializers.IntegerField(source="claim_id")
    line = serializers.IntegerField(source="line_no")
    decision = serializers.CharField()
    decision_reason = serializers.CharField()
    payment_status = serializers.CharField()
    claim_status = serializers.CharField(source="claim.status")


class RecoveryReceiptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = money()
    received_on = serializers.DateField()
    reference = serializers.CharField()
    recorded_by = serializers.CharField(source="recorded_by.username")
    recorded_at = serializers.DateTimeField()


class RecoveryOrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    claim = serializers.IntegerField(source="claim_line.claim_id")
    claim_number = serializers.CharField(source="claim_line.claim.number")
    line = serializers.IntegerField(source="claim_line.line_no")
    line_amount = money(source="claim_line.amount")
    line_payment_status = serializers.CharField(source="claim_line.payment_status")
    amount_due = money()
    amount_recovered = money()
    outstanding = serializers.SerializerMethodField()
    payer_kind = serializers.CharField(help_text="provider or trainee")
    payer_name = serializers.CharField()
    reason_code = serializers.CharField(help_text="fraud, revoked, overpaid or other")
    reason = serializers.CharField()
    status = serializers.CharField(help_text="open or recovered")
    opened_by = serializers.CharField(source="opened_by.username")
    opened_at = serializers.DateTimeField()
    receipts = RecoveryReceiptSerializer(many=True)

    def get_outstanding(self, order) -> str:
        return f"{order.amount_due - order.amount_recovered:.2f}"


class RecoveryInputSerializer(BoundedSerializer):
    claim = serializers.IntegerField(help_text="the claim's id")
    line = serializers.IntegerField(help_text="the line's line_no")
    amount_due = serializers.CharField(help_text='"500.00"; at most the line\'s amount less what other orders claim')
    payer_kind = serializers.CharField(help_text="provider or trainee")
    payer_name = serializers.CharField()
    reason_code = serializers.CharField(help_text="fraud, revoked, overpaid or other")
    reason = serializers.CharField()


class ReceiptInputSerializer(BoundedSerializer):
    amount = serializers.CharField(help_text='"500.00"; at most what is outstanding')
    received_on = serializers.DateField()
    reference = serializers.CharField(help_text="缴款凭证号")


# --------------------------------------------------------------------------- views


def _whole_number(value, *, field: str, message: str, errors: dict) -> int | None:
    """An id from JSON or a form (claims.bounds.whole_number); else an error on ``field``."""
    number = whole_number(value)
    if number is None:
        errors[field] = [message]
    return number


@extend_schema(
    tags=["payments"],
    summary="Upload the bank's result file on a released batch (finance)",
    description=(
        "Every row is checked before anything is saved: a bad row is 400 with `fields` keyed "
        "`rows[3].金额` (the file's row number, the header being row 1) or `file`. The same results "
        "again change nothing (`changed: false`); a result contradicting a recorded one is 409."
    ),
    request={"multipart/form-data": ResultUploadSerializer},
    responses={200: ResultSummarySerializer, **errors(400, 401, 403, 404, 409)},
)
class BatchResultView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    def post(self, request, pk):
        batch = selectors.get_batch_for_user(user=request.user, batch_id=pk)
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput(_("请选择银行回单文件（.csv 或 .xlsx）。"), fields={"file": [_("必填。")]})
        results.check_result_size(upload.size)  # before reading it into memory
        summary = disbursement.apply_bank_result(actor=request.user, batch=batch, filename=upload.name, content=upload.read())
        return Response(ResultSummarySerializer(summary).data)


@extend_schema(
    tags=["payments"],
    summary="A batch's reconciliation: sent vs paid vs returned vs pending, and anomalies",
    responses={200: ReconciliationSerializer, **errors(401, 404)},
)
class BatchReconciliationView(APIView):
    def get(self, request, pk):
        batch = selectors.get_batch_for_user(user=request.user, batch_id=pk)
        return Response(ReconciliationSerializer(selectors.reconciliation(batch)).data)


@extend_schema(
    tags=["payments"],
    summary="Correct the account of a returned transfer's payee; its returned lines await the next batch (finance)",
    request=CorrectionInputSerializer,
    responses={200: CorrectionSerializer, **errors(400, 401, 403, 404, 409)},
)
class TransferCorrectView(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def post(self, request, pk):
        transfer = selectors.get_transfer_for_user(user=request.user, transfer_id=pk)
        data = bounded_body(request, CorrectionInputSerializer)
        lines = results.correct_payee_after_return(
            actor=request.user,
            transfer=transfer,
            account_name=text(data.get("account_name")),
            bank_name=text(data.get("bank_name")),
            account_number=text(data.get("account_number")),
            reason=text(data.get("reason")),
        )
        return Response(CorrectionSerializer({"transfer": transfer.pk, "lines": lines}).data)


@extend_schema(
    tags=["payments"],
    summary="Finally do not pay an approved line awaiting a batch or returned (HR): rejected, reservation released",
    request=CancelInputSerializer,
    responses={200: CancelledLineSerializer, **errors(400, 401, 403, 404, 409)},
)
class LineCancelPaymentView(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def post(self, request, pk, line_no):
        line = selectors.get_line_for_overseer(user=request.user, claim_id=pk, line_no=line_no)
        data = bounded_body(request, CancelInputSerializer)
        line = disbursement.cancel_line_payment(
            actor=request.user, line=line, reason_code=text(data.get("reason_code")), reason=text(data.get("reason"))
        )
        line.claim.refresh_from_db()
        return Response(CancelledLineSerializer(line).data)


@extend_schema(tags=["payments"])
class RecoveryListView(GenericAPIView):
    serializer_class = RecoveryOrderSerializer
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_queryset(self):
        return selectors.recoveries_visible_to(self.request.user).prefetch_related("receipts__recorded_by").order_by("-pk")

    @extend_schema(
        summary="Recovery orders of the jurisdictions the caller oversees (HR, finance, auditors)",
        responses={200: RecoveryOrderSerializer(many=True), **errors(401)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RecoveryOrderSerializer(page, many=True).data)

    @extend_schema(
        summary="Open a recovery order on a paid line (HR)",
        request=RecoveryInputSerializer,
        responses={201: RecoveryOrderSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request):
        data = bounded_body(request, RecoveryInputSerializer)
        problems = {}
        claim_id = _whole_number(data.get("claim"), field="claim", message=_("须为申领 id（整数）。"), errors=problems)
        line_no = _whole_number(data.get("line"), field="line", message=_("须为行号（整数）。"), errors=problems)
        if problems:
            raise InvalidInput(_("须指明申领和行号。"), fields=problems)
        line = selectors.get_line_for_overseer(user=request.user, claim_id=claim_id, line_no=line_no)
        order = recoveries.open_recovery(
            actor=request.user,
            line=line,
            amount_due=text(data.get("amount_due")),
            payer_kind=text(data.get("payer_kind")),
            payer_name=text(data.get("payer_name")),
            reason_code=text(data.get("reason_code")),
            reason=text(data.get("reason")),
        )
        return Response(RecoveryOrderSerializer(self.get_queryset().get(pk=order.pk)).data, status=201)


@extend_schema(
    tags=["payments"],
    summary="One recovery order with its receipts",
    responses={200: RecoveryOrderSerializer, **errors(401, 404)},
)
class RecoveryDetailView(APIView):
    def get(self, request, pk):
        order = selectors.get_recovery_for_user(user=request.user, order_id=pk)
        return Response(RecoveryOrderSerializer(order).data)


@extend_schema(
    tags=["payments"],
    summary="Record money recovered on an order (finance; not the one who opened it)",
    request=ReceiptInputSerializer,
    responses={201: RecoveryOrderSerializer, **errors(400, 401, 403, 404, 409)},
)
class RecoveryReceiptView(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def post(self, request, pk):
        order = selectors.get_recovery_for_user(user=request.user, order_id=pk)
        data = bounded_body(request, ReceiptInputSerializer)
        recoveries.record_recovery_receipt(
            actor=request.user,
            order=order,
            amount=text(data.get("amount")),
            received_on=text(data.get("received_on")),
            reference=text(data.get("reference")),
        )
        return Response(RecoveryOrderSerializer(selectors.get_recovery_for_user(user=request.user, order_id=pk)).data, status=201)


urlpatterns = [
    path("payment-batches/<id:pk>/results/", BatchResultView.as_view(), name="payment-batch-results"),
    path("payment-batches/<id:pk>/reconciliation/", BatchReconciliationView.as_view(), name="payment-batch-reconciliation"),
    path("payment-transfers/<id:pk>/correct/", TransferCorrectView.as_view(), name="payment-transfer-correct"),
    path("claims/<id:pk>/lines/<id:line_no>/cancel-payment/", LineCancelPaymentView.as_view(), name="claim-line-cancel-payment"),
    path("recoveries/", RecoveryListView.as_view(), name="recoveries"),
    path("recoveries/<id:pk>/", RecoveryDetailView.as_view(), name="recovery"),
    path("recoveries/<id:pk>/receipts/", RecoveryReceiptView.as_view(), name="recovery-receipts"),
]
