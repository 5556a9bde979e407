"""API v1: payment batches (build, check and release, cancel, bank files) and payee accounts.
Thin: scope from payments/selectors/batches.py, every write and its rules from the services."""

from django.urls import path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import actions
from claims.bounds import column_length
from claims.errors import InvalidInput, NotInScope
from claims.http import file_response
from claims.models import Jurisdiction, Payee
from payments import access
from payments.models import BatchStatus, PayeeAccount, PayeeKind
from payments.selectors import batches as selectors
from payments.services import batches as services
from payments.services.batch_files import FILE_KINDS, content_type_of, download_bank_file
from payments.services.payees import set_payee_account
from workflow import disbursement

from . import pagination
from .pagination import past_the_end, positive_int_param
from .payments_funds import as_year, jurisdiction_for
from .permissions import HasCapability
from .schema import errors
from .validation import BoundedSerializer, bounded_body
from .views import require_password, text

LINES_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def money(**kwargs):
    return serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True, **kwargs)


# --------------------------------------------------------------------------- shapes


class BatchPayeeSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="provider, trainee or enterprise")
    name = serializers.CharField()
    bank = serializers.CharField()
    account = serializers.CharField(help_text="masked: 6222********1234")


class BatchLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    claim = serializers.IntegerField(help_text="the claim's id")
    claim_number = serializers.CharField()
    line = serializers.IntegerField(help_text="the line's number in its claim")
    transfer = serializers.IntegerField(help_text="the transfer's sequence number in the bank file")
    payee = BatchPayeeSerializer()
    amount = money()
    status = serializers.CharField(help_text="in_batch, in_payment, paid, returned, cancelled")
    payment_status = serializers.CharField(help_text="the claim line's payment status")

    @staticmethod
    def row(item: dict) -> dict:
        return {
            "id": item["id"],
            "claim": item["claim_line__claim_id"],
            "claim_number": item["claim_line__claim__number"],
            "line": item["claim_line__line_no"],
            "transfer": item["transfer__seq"],
            "payee": {
                "kind": item["transfer__payee_kind"],
                "name": item["transfer__account_name"],
                "bank": item["transfer__bank_name"],
                "account": item["transfer__account_number_masked"],
            },
            "amount": f"{item['amount']:.2f}",
            "status": item["status"],
            "payment_status": item["claim_line__payment_status"],
        }


class BatchTransferSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    payee = BatchPayeeSerializer()
    amount = money()
    line_count = serializers.IntegerField()
    status = serializers.CharField(help_text="pending, sent, paid, returned, cancelled")
    bank_reference = serializers.CharField()
    return_reason = serializers.CharField()

    @staticmethod
    def row(item: dict) -> dict:
        return {
            "seq": item["seq"],
            "payee": {
                "kind": item["payee_kind"],
                "name": item["account_name"],
                "bank": item["bank_name"],
                "account": item["account_number_masked"],
            },
            "amount": f"{item['amount']:.2f}",
            "line_count": item["line_count"],
            "status": item["status"],
            "bank_reference": item["bank_reference"],
            "return_reason": item["return_reason"],
        }


class BatchFileSerializer(serializers.Serializer):
    kind = serializers.CharField()
    filename = serializers.CharField()
    sha256 = serializers.CharField()
    created_at = serializers.DateTimeField()
    download = serializers.CharField(help_text="URL of the file (finance only; every download is recorded in the ledger)")


class BatchSkippedLineSerializer(serializers.Serializer):
    claim = serializers.CharField(help_text="the claim's number")
    line = serializers.IntegerField()
    amount = serializers.CharField()
    reason = serializers.CharField()


class BatchSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    jurisdiction = serializers.CharField()
    year = serializers.IntegerField()
    status = serializers.CharField(help_text="built, releasing, released, reconciled, cancelled")
    status_display = serializers.CharField()
    built_by = serializers.CharField()
    built_at = serializers.DateTimeField()
    released_by = serializers.CharField(allow_null=True)
    release_requested_at = serializers.DateTimeField(allow_null=True)
    released_at = serializers.DateTimeField(allow_null=True)
    cancelled_by = serializers.CharField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    total = money()
    line_count = serializers.IntegerField()
    payee_count = serializers.IntegerField()


class ChangedAccountSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="the transfer's sequence number in the bank file")
    payee_kind = serializers.CharField(help_text="provider, trainee or enterprise")
    account_name = serializers.CharField()
    bank_name = serializers.CharField()
    account_number = serializers.CharField(help_text="masked: the account this batch pays")
    previous_account_name = serializers.CharField()
    previous_bank_name = serializers.CharField()
    previous_account_number = serializers.CharField(help_text="masked: the account the payee was last paid into")
    previous_batch = serializers.CharField(help_text="the batch that last paid the payee")
    previously_paid_at = serializers.DateTimeField(allow_null=True)
    set_by = serializers.CharField(allow_null=True, help_text="who set the account this batch pays (username)")
    set_at = serializers.DateTimeField(allow_null=True)


class BatchDetailSerializer(BatchSummarySerializer):
    skipped = BatchSkippedLineSerializer(many=True)
    files = BatchFileSerializer(many=True)
    payees = BatchTransferSerializer(many=True, help_text="the first page of payees; `payees_next` continues")
    payees_next = serializers.CharField(allow_null=True)
    lines = BatchLineSerializer(
        many=True, help_text="the first page of lines (?lines_page=, ?lines_page_size=); `lines_next` continues"
    )
    lines_page = serializers.IntegerField()
    lines_next = serializers.CharField(allow_null=True)
    lines_previous = serializers.CharField(allow_null=True)
    problems = serializers.ListField(child=serializers.CharField(), help_text="what stops a release (built batches only)")
    changed_accounts = ChangedAccountSerializer(
        many=True,
        help_text="transfers paying an account other than the one their payee was last paid into: "
        "for the releaser to check (four eyes)",
    )


class BatchBuildInputSerializer(BoundedSerializer):
    claims = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="claim ids; left out: every approved line awaiting payment"
    )
    jurisdiction = serializers.CharField(
        required=False,
        max_length=column_length(Jurisdiction, "code"),
        help_text="code; may be left out when the caller oversees one",
    )
    year = serializers.IntegerField(required=False, help_text="the fund account's year; this year when left out")


class BatchCancelInputSerializer(BoundedSerializer):
    reason = serializers.CharField()


class BatchReleaseInputSerializer(serializers.Serializer):
    password = serializers.CharField(
        required=False,
        style={"input_type": "password"},
        help_text="the releaser's password, needed unless the token was issued within the last REAUTH_MINUTES",
    )


class BatchPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class BatchLinePageSerializer(BatchPageSerializer):
    results = BatchLineSerializer(many=True)


class BatchTransferPageSerializer(BatchPageSerializer):
    results = BatchTransferSerializer(many=True)


# --------------------------------------------------------------------------- helpers


def summary(batch) -> dict:
    return {
        "id": batch.pk,
        "number": batch.number,
        "jurisdiction": batch.fund_account.jurisdiction.code,
        "year": batch.fund_account.year,
        "status": batch.status,
        "status_display": batch.get_status_display(),
        "built_by": batch.built_by.get_username(),
        "built_at": batch.built_at,
        "released_by": batch.released_by.get_username() if batch.released_by_id else None,
        "release_requested_at": batch.release_requested_at,
        "released_at": batch.released_at,
        "cancelled_by": batch.cancelled_by.get_username() if batch.cancelled_by_id else None,
        "cancelled_at": batch.cancelled_at,
        "total": f"{batch.total:.2f}",
        "line_count": batch.line_count,
        "payee_count": batch.payee_count,
    }


def _page_url(request, base: str, param: str, number: int, size_param: str, size: int) -> str:
    return request.build_absolute_uri(f"{base}?{param}={number}&{size_param}={size}")


def detail(request, batch, status: int = 200) -> Response:
    batch = selectors.get_batch_for_user(user=request.user, batch_id=batch.pk)  # fresh, with its people
    page_number = positive_int_param(request, "lines_page", 1)
    size = positive_int_param(request, "lines_page_size", LINES_PAGE_SIZE, MAX_PAGE_SIZE)
    start = (page_number - 1) * size
    if page_number > 1 and start >= batch.line_count:
        raise past_the_end("lines_page")
    lines = [BatchLineSerializer.row(item) for item in selectors.batch_lines(batch)[start : start + size]]
    # The batch's own URL, whatever call answered (a build, a release and a cancel answer with the batch too).
    detail_url = reverse("v1:payment-batch", args=[batch.pk])
    payees_url = reverse("v1:payment-batch-payees", args=[batch.pk])
    payees = [BatchTransferSerializer.row(item) for item in selectors.batch_transfers(batch)[:LINES_PAGE_SIZE]]
    return Response(
        {
            **summary(batch),
            "skipped": batch.skipped,
            "files": [
                {
                    "kind": file.kind,
                    "filename": file.filename,
                    "sha256": file.sha256,
                    "created_at": file.created_at,
                    "download": request.build_absolute_uri(reverse("v1:payment-batch-file", args=[batch.pk, file.kind])),
                }
                for file in selectors.batch_files(batch)
            ],
            "payees": payees,
            "payees_next": _page_url(request, payees_url, "page", 2, "page_size", LINES_PAGE_SIZE)
            if batch.payee_count > LINES_PAGE_SIZE
            else None,
            "lines": lines,
            "lines_page": page_number,
            "lines_next": _page_url(request, detail_url, "lines_page", page_number + 1, "lines_page_size", size)
            if start + size < batch.line_count
            else None,
            "lines_previous": _page_url(request, detail_url, "lines_page", page_number - 1, "lines_page_size", size)
            if page_number > 1
            else None,
            "problems": services.check_batch(batch) if batch.status == BatchStatus.BUILT else [],
            "changed_accounts": selectors.changed_accounts(batch),
        },
        status=status,
    )


def claim_ids_of(raw) -> list[int] | None:
    """The build's `claims`: left out (None), or a non-empty list of claim ids. Anything else is refused,
    naming the item (`claims[2]`); nothing is built from the others."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise InvalidInput(_("所选申领有误。"), fields={"claims": [_("须为申领编号（整数）的列表。")]})
    if not raw:
        raise InvalidInput(_("所选申领有误。"), fields={"claims": [_("至少选择一件申领。")]})
    problems = {
        f"claims[{index}]": [_("须为申领编号（整数）。")]
        for index, item in enumerate(raw)
        if isinstance(item, bool) or not isinstance(item, int) or not 0 < item <= selectors.MAX_ID
    }
    if problems:
        raise InvalidInput(_("所选申领有误。"), fields=problems)
    return raw


class Pagination(pagination.Pagination):
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


# --------------------------------------------------------------------------- views


@extend_schema(tags=["payment batches"])
class BatchList(GenericAPIView):
    serializer_class = BatchSummarySerializer
    permission_classes = [IsAuthenticated, HasCapability]
    # POST checks build_batches itself, after reading the body (a malformed body is 400 for anyone).
    capability = {"GET": access.READ_BATCHES}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.PaymentBatch.objects.none()
        batches = selectors.batches_visible_to(self.request.user).order_by("-id")
        status = self.request.query_params.get("status")
        if status:
            batches = batches.filter(status=status)
        return batches

    @extend_schema(
        summary="Payment batches of the caller's jurisdictions, newest first (finance officer, auditor)",
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=BatchStatus.values)],
        responses={200: BatchSummarySerializer(many=True), **errors(401, 403)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([summary(batch) for batch in page])

    @extend_schema(
        summary="Build a batch (finance officer): the given claims' approved lines awaiting payment, or without `claims` every "
        "such line of the jurisdiction's fund account (lines that cannot be paid yet are left out and listed in `skipped`)",
        request=BatchBuildInputSerializer,
        responses={201: BatchDetailSerializer, **errors(400, 401, 403, 409)},
    )
    def post(self, request):
        data = bounded_body(request, BatchBuildInputSerializer)
        access.require(request.user, access.BUILD_BATCHES)
        claim_ids = claim_ids_of(data.get("claims"))
        year = as_year(data["year"]) if data.get("year") not in (None, "") else None
        batch = disbursement.build_batch(
            actor=request.user,
            jurisdiction=jurisdiction_for(request.user, data.get("jurisdiction")),
            claim_ids=claim_ids,
            year=year,
        )
        return detail(request, batch, status=201)


class BatchView(APIView):
    """A batch's endpoints: read by finance and auditors (403 for any other role), 404 outside their
    jurisdictions; what each action needs beyond reading is the service's to check."""

    permission_classes = [IsAuthenticated, HasCapability]
    capability = access.READ_BATCHES

    def batch(self, request, pk):
        return selectors.get_batch_for_user(user=request.user, batch_id=pk)


LINE_PAGING = [OpenApiParameter("lines_page", OpenApiTypes.INT), OpenApiParameter("lines_page_size", OpenApiTypes.INT)]


@extend_schema(tags=["payment batches"])
class BatchDetail(BatchView):
    @extend_schema(
        summary="One batch: totals, payees, files, skipped lines and a page of its lines",
        parameters=LINE_PAGING,
        responses={200: BatchDetailSerializer, **errors(400, 401, 403, 404)},
    )
    def get(self, request, pk):
        return detail(request, self.batch(request, pk))


@extend_schema(tags=["payment batches"])
class BatchLines(BatchView):
    @extend_schema(
        summary="The batch's lines, paginated",
        parameters=[OpenApiParameter("page", OpenApiTypes.INT), OpenApiParameter("page_size", OpenApiTypes.INT)],
        responses={200: BatchLinePageSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, pk):
        batch = self.batch(request, pk)
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.batch_lines(batch), request, view=self)
        return paginator.get_paginated_response([BatchLineSerializer.row(item) for item in page])


@extend_schema(tags=["payment batches"])
class BatchPayees(BatchView):
    @extend_schema(
        summary="The batch's transfers (one per payee), paginated",
        parameters=[OpenApiParameter("page", OpenApiTypes.INT), OpenApiParameter("page_size", OpenApiTypes.INT)],
        responses={200: BatchTransferPageSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, pk):
        batch = self.batch(request, pk)
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.batch_transfers(batch), request, view=self)
        return paginator.get_paginated_response([BatchTransferSerializer.row(item) for item in page])


@extend_schema(tags=["payment batches"])
class BatchRelease(BatchView):
    @extend_schema(
        summary="Check and release the batch (a finance officer other than its builder and than whoever set the account of a "
        "payee it pays: 403 `four_eyes`). The bank files are "
        "written by a background task: 202 while it runs (`status` releasing), 200 once released; 409 when already "
        "released or cancelled. Needs the password entered within the last REAUTH_MINUTES: the token's login, or "
        "`password` given again (403 `reauthentication_required` otherwise)",
        request=BatchReleaseInputSerializer,
        responses={200: BatchDetailSerializer, 202: BatchDetailSerializer, **errors(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request, pk):
        batch = self.batch(request, pk)
        require_password(request, purpose=actions.PAYMENT_BATCH_RELEASE_REQUESTED)
        batch = disbursement.request_release(actor=request.user, batch=batch)
        batch.refresh_from_db(fields=["status"])
        return detail(request, batch, status=200 if batch.status == BatchStatus.RELEASED else 202)


@extend_schema(tags=["payment batches"])
class BatchCancel(BatchView):
    @extend_schema(
        summary="Withdraw a batch not yet released, with a reason: its lines await the next batch (finance officer)",
        request=BatchCancelInputSerializer,
        responses={200: BatchDetailSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk):
        batch = services.cancel_batch(
            actor=request.user,
            batch=self.batch(request, pk),
            reason=text(bounded_body(request, BatchCancelInputSerializer).get("reason")),
        )
        return detail(request, batch)


@extend_schema(tags=["payment batches"])
class BatchFile(BatchView):
    @extend_schema(
        summary="Download a bank file of the batch: `payment_csv` (or `csv`), `payment_xlsx` (or `xlsx`), `result`. Finance "
        "officers only (the payment file holds full account numbers); each download is recorded in the ledger",
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY), **errors(401, 403, 404)},
    )
    def get(self, request, pk, kind):
        batch = self.batch(request, pk)
        if kind not in FILE_KINDS:
            raise NotInScope()
        bank_file = download_bank_file(
            actor=request.user, batch=batch, bank_file=selectors.get_batch_file(batch=batch, kind=FILE_KINDS[kind])
        )
        response = file_response(bank_file.content, filename=bank_file.filename, content_type=content_type_of(bank_file))
        response["X-Content-SHA256"] = bank_file.sha256
        return response


# --------------------------------------------------------------------------- awaiting payment and payee accounts


class AwaitingSummarySerializer(serializers.Serializer):
    lines = serializers.IntegerField()
    claims = serializers.IntegerField()
    amount = money()
    payees = serializers.IntegerField()
    providers = serializers.IntegerField()
    persons = serializers.IntegerField()
    enterprises = serializers.IntegerField(help_text="enterprises paid under S10–S14")
    missing_lines = serializers.IntegerField(help_text="lines whose payee has no account: no batch can take them")
    missing_amount = money()


class MissingAccountLineSerializer(serializers.Serializer):
    claim = serializers.IntegerField()
    claim_number = serializers.CharField()
    line = serializers.IntegerField()
    amount = money()
    payee_kind = serializers.CharField(help_text="provider, trainee or enterprise")
    trainee = serializers.IntegerField(allow_null=True, help_text="the person's id, for PUT /payee-accounts/trainees/{id}/")
    trainee_name = serializers.CharField(allow_null=True)
    trainee_id_number = serializers.CharField(allow_null=True, help_text="masked")
    provider = serializers.CharField(allow_null=True, help_text="the provider's code, for PUT /payee-accounts/providers/{code}/")
    provider_name = serializers.CharField(allow_null=True)
    enterprise = serializers.CharField(
        allow_null=True, help_text="the enterprise's credit code, for PUT /payee-accounts/enterprises/{credit_code}/"
    )
    enterprise_name = serializers.CharField(allow_null=True)


class AwaitingSerializer(serializers.Serializer):
    summary = AwaitingSummarySerializer()
    missing_accounts = MissingAccountLineSerializer(many=True, help_text="up to 500 lines")


def missing_row(item: dict) -> dict:
    to_person = item["claim__policy__payee"] == Payee.TRAINEE
    to_enterprise = item["claim__policy__payee"] == Payee.ENTERPRISE
    kind = PayeeKind.TRAINEE if to_person else PayeeKind.ENTERPRISE if to_enterprise else PayeeKind.PROVIDER
    return {
        "claim": item["claim_id"],
        "claim_number": item["claim__number"],
        "line": item["line_no"],
        "amount": f"{item['amount']:.2f}",
        "payee_kind": kind,
        "trainee": item["trainee_id"] if to_person else None,
        "trainee_name": item["name"] if to_person else None,
        "trainee_id_number": item["trainee__id_number_masked"] if to_person else None,
        "provider": item["claim__provider__code"] if kind == PayeeKind.PROVIDER else None,
        "provider_name": item["claim__provider__name"] if kind == PayeeKind.PROVIDER else None,
        "enterprise": item["claim__enterprise_credit_code"] if to_enterprise else None,
        "enterprise_name": item["claim__enterprise_name"] if to_enterprise else None,
    }


@extend_schema(tags=["payment batches"])
class AwaitingPayment(APIView):
    permission_classes = [IsAuthenticated, HasCapability]
    capability = access.READ_BATCHES

    @extend_schema(
        summary="What awaits a batch in the caller's jurisdictions, and the lines that cannot be paid for want of a "
        "payee account (finance officer, auditor)",
        responses={200: AwaitingSerializer, **errors(401, 403)},
    )
    def get(self, request):
        figures = selectors.awaiting_summary(request.user)
        figures["amount"], figures["missing_amount"] = f"{figures['amount']:.2f}", f"{figures['missing_amount']:.2f}"
        missing = [missing_row(item) for item in selectors.lines_without_payee_account(request.user)[:500]]
        return Response({"summary": figures, "missing_accounts": missing})


class PayeeAccountSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="provider, trainee or enterprise")
    owner = serializers.CharField(help_text="the person's masked ID number, or the provider's code")
    owner_name = serializers.CharField()
    account_name = serializers.CharField(allow_null=True)
    bank_name = serializers.CharField(allow_null=True)
    account_number = serializers.CharField(allow_null=True, help_text="masked")
    updated_at = serializers.DateTimeField(allow_null=True)


class PayeeAccountInputSerializer(BoundedSerializer):
    account_name = serializers.CharField(max_length=column_length(PayeeAccount, "account_name"))
    bank_name = serializers.CharField(max_length=column_length(PayeeAccount, "bank_name"))
    account_number = serializers.CharField(
        max_length=column_length(PayeeAccount, "account_number_masked"),
        help_text="8–30 digits (a social security card's financial account, or a bank account)",
    )
    reason = serializers.CharField(required=False, help_text="why it is corrected (e.g. the bank returned the transfer)")


def account_data(*, kind, owner_label, owner_name, account) -> dict:
    return {
        "kind": kind,
        "owner": owner_label,
        "owner_name": owner_name,
        "account_name": account.account_name if account else None,
        "bank_name": account.bank_name if account else None,
        "account_number": account.account_number_masked if account else None,
        "updated_at": account.updated_at if account else None,
    }


def save_account(request, **owner):
    data = bounded_body(request, PayeeAccountInputSerializer)
    return set_payee_account(
        actor=request.user,
        **owner,
        account_name=text(data.get("account_name")),
        bank_name=text(data.get("bank_name")),
        account_number=text(data.get("account_number")),
        reason=text(data.get("reason")),
    )


@extend_schema(tags=["payee accounts"])
class TraineePayeeAccount(APIView):
    @extend_schema(
        summary="A person's social security card account, masked (finance officer)",
        responses={200: PayeeAccountSerializer, **errors(401, 404)},
    )
    def get(self, request, trainee_id):
        trainee = selectors.trainee_for_payee_account(user=request.user, trainee_id=trainee_id)
        return Response(
            account_data(
                kind=PayeeKind.TRAINEE,
                owner_label=trainee.id_number_masked,
                owner_name=trainee.line_name,
                account=selectors.payee_account_of(trainee),
            )
        )

    @extend_schema(
        summary="Enter or correct a person's social security card account (finance officer; recorded in the ledger)",
        request=PayeeAccountInputSerializer,
        responses={200: PayeeAccountSerializer, **errors(400, 401, 403, 404)},
    )
    def put(self, request, trainee_id):
        trainee = selectors.trainee_for_payee_account(user=request.user, trainee_id=trainee_id)
        account = save_account(request, trainee=trainee)
        return Response(
            account_data(
                kind=PayeeKind.TRAINEE, owner_label=trainee.id_number_masked, owner_name=trainee.line_name, account=account
            )
        )


@extend_schema(tags=["payee accounts"])
class ProviderPayeeAccount(APIView):
    @extend_schema(
        summary="A provider's bank account, masked (finance officer; the provider's clerk)",
        responses={200: PayeeAccountSerializer, **errors(401, 404)},
    )
    def get(self, request, code):
        provider = selectors.provider_for_payee_account(user=request.user, code=code)
        return Response(
            account_data(
                kind=PayeeKind.PROVIDER,
                owner_label=provider.code,
                owner_name=provider.name,
                account=selectors.payee_account_of(provider),
            )
        )

    @extend_schema(
        summary="Enter or correct a provider's bank account (finance officer; the provider's clerk; recorded in the ledger)",
        request=PayeeAccountInputSerializer,
        responses={200: PayeeAccountSerializer, **errors(400, 401, 403, 404)},
    )
    def put(self, request, code):
        provider = selectors.provider_for_payee_account(user=request.user, code=code)
        account = save_account(request, provider=provider)
        return Response(
            account_data(kind=PayeeKind.PROVIDER, owner_label=provider.code, owner_name=provider.name, account=account)
        )


@extend_schema(tags=["payee accounts"])
class EnterprisePayeeAccount(APIView):
    @extend_schema(
        summary="The bank account of an enterprise paid under S10–S14, masked (finance officer)",
        responses={200: PayeeAccountSerializer, **errors(401, 404)},
    )
    def get(self, request, credit_code):
        enterprise = selectors.enterprise_for_payee_account(user=request.user, credit_code=credit_code)
        return Response(
            account_data(
                kind=PayeeKind.ENTERPRISE,
                owner_label=enterprise.credit_code,
                owner_name=enterprise.name,
                account=enterprise.payee_account,
            )
        )

    @extend_schema(
        summary="Enter or correct the bank account of an enterprise paid under S10–S14 (finance officer; recorded in the ledger)",
        request=PayeeAccountInputSerializer,
        responses={200: PayeeAccountSerializer, **errors(400, 401, 403, 404)},
    )
    def put(self, request, credit_code):
        enterprise = selectors.enterprise_for_payee_account(user=request.user, credit_code=credit_code)
        account = save_account(request, enterprise_credit_code=enterprise.credit_code)
        return Response(
            account_data(
                kind=PayeeKind.ENTERPRISE, owner_label=enterprise.credit_code, owner_name=enterprise.name, account=account
            )
        )


urlpatterns = [
    path("payment-batches/", BatchList.as_view(), name="payment-batches"),
    path("payment-batches/awaiting/", AwaitingPayment.as_view(), name="payment-awaiting"),
    path("payment-batches/<id:pk>/", BatchDetail.as_view(), name="payment-batch"),
    path("payment-batches/<id:pk>/lines/", BatchLines.as_view(), name="payment-batch-lines"),
    path("payment-batches/<id:pk>/payees/", BatchPayees.as_view(), name="payment-batch-payees"),
    path("payment-batches/<id:pk>/release/", BatchRelease.as_view(), name="payment-batch-release"),
    path("payment-batches/<id:pk>/cancel/", BatchCancel.as_view(), name="payment-batch-cancel"),
    path("payment-batches/<id:pk>/files/<str:kind>/", BatchFile.as_view(), name="payment-batch-file"),
    path("payee-accounts/trainees/<id:trainee_id>/", TraineePayeeAccount.as_view(), name="payee-account-trainee"),
    path("payee-accounts/providers/<str:code>/", ProviderPayeeAccount.as_view(), name="payee-account-provider"),
    path("payee-accounts/enterprises/<str:credit_code>/", EnterprisePayeeAccount.as_view(), name="payee-account-enterprise"),
]
