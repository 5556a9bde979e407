"""API v1: fund accounts, annual plans, allocations and the funds report. Thin: scope from
payments/selectors/funds.py, every write and its rules from payments/services/funds.py."""

from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from claims.bounds import COUNT_MAX, MONEY_TEXT_LENGTH, column_length
from claims.errors import InvalidInput
from claims.http import file_response
from claims.models import Department, Jurisdiction, PolicyCategory
from claims.selectors import departments_of_reviewer, jurisdictions_overseen_by
from payments.models import Allocation, FundAccount, FundingPlan, PlanStatus
from payments.selectors import funds as selectors
from payments.services import funds as services

from .schema import errors
from .validation import BoundedSerializer, bounded_body
from .views import text


def money(**kwargs):
    return serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True, **kwargs)


# --------------------------------------------------------------------------- shapes


class FundAccountSerializer(serializers.ModelSerializer):
    """A fund account. ``budget`` and ``account_number`` are the whole account's: shown to those who
    oversee its jurisdiction, null for a department reviewer (as in the funds report)."""

    # The context's ``overseen`` (jurisdiction ids) says whom to show them; without it, to no one.

    jurisdiction = serializers.CharField(source="jurisdiction.code", read_only=True)
    budget = money(allow_null=True)
    account_number = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = FundAccount
        fields = ["id", "jurisdiction", "year", "name", "bank_name", "account_number", "budget", "created_at"]

    def to_representation(self, account):
        data = super().to_representation(account)
        if account.jurisdiction_id not in self.context.get("overseen", ()):
            data["budget"] = None
            data["account_number"] = None
        return data


class FundAccountInputSerializer(BoundedSerializer):
    jurisdiction = serializers.CharField(
        required=False,
        max_length=column_length(Jurisdiction, "code"),
        help_text="code; may be left out when the caller oversees one jurisdiction",
    )
    year = serializers.IntegerField()
    name = serializers.CharField(max_length=column_length(FundAccount, "name"))
    bank_name = serializers.CharField(max_length=column_length(FundAccount, "bank_name"))
    account_number = serializers.CharField(max_length=column_length(FundAccount, "account_number"))
    budget = serializers.CharField(max_length=MONEY_TEXT_LENGTH, help_text='money as a string, "8000000.00"')


class PlanItemSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=PolicyCategory.choices, read_only=True)
    category_display = serializers.CharField(source="get_category_display", read_only=True)
    headcount = serializers.IntegerField(read_only=True)
    amount = money()


class PlanSerializer(serializers.ModelSerializer):
    fund_account = serializers.IntegerField(source="fund_account_id", read_only=True)
    year = serializers.IntegerField(source="fund_account.year", read_only=True)
    department = serializers.CharField(source="department.code", read_only=True)
    department_name = serializers.CharField(source="department.name", read_only=True)
    status = serializers.ChoiceField(choices=PlanStatus.choices, read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    total = money()
    items = PlanItemSerializer(many=True, read_only=True)
    allocation = serializers.SerializerMethodField()

    class Meta:
        model = FundingPlan
        fields = [
            "id",
            "fund_account",
            "year",
            "department",
            "department_name",
            "status",
            "status_display",
            "total",
            "headcount",
            "items",
            "filed_at",
            "hr_accepted_at",
            "finance_accepted_at",
            "refusal_reason",
            "allocation",
        ]

    def get_allocation(self, plan) -> int | None:
        allocation = getattr(plan, "allocation", None)  # select_related by plans_visible_to
        return allocation.pk if allocation is not None else None


class PlanItemInputSerializer(BoundedSerializer):
    category = serializers.ChoiceField(choices=PolicyCategory.choices)
    headcount = serializers.IntegerField(min_value=0, max_value=COUNT_MAX)
    amount = serializers.CharField(max_length=MONEY_TEXT_LENGTH, help_text='money as a string, "3500.00"')


class PlanInputSerializer(BoundedSerializer):
    fund_account = serializers.IntegerField()
    department = serializers.CharField(
        required=False,
        max_length=column_length(Department, "code"),
        help_text="code; may be left out when the reviewer has one department",
    )
    items = PlanItemInputSerializer(many=True)


class RefuseInputSerializer(BoundedSerializer):
    reason = serializers.CharField()


class AllocationSerializer(serializers.ModelSerializer):
    fund_account = serializers.IntegerField(source="fund_account_id", read_only=True)
    year = serializers.IntegerField(source="fund_account.year", read_only=True)
    department = serializers.CharField(source="department.code", read_only=True)
    department_name = serializers.CharField(source="department.name", read_only=True)
    plan = serializers.IntegerField(source="plan_id", read_only=True)
    amount = money()
    committed = money()
    remaining = serializers.SerializerMethodField()

    class Meta:
        model = Allocation
        fields = ["id", "fund_account", "year", "department", "department_name", "plan", "amount", "committed", "remaining"]

    @extend_schema_field(serializers.DecimalField(max_digits=16, decimal_places=2))
    def get_remaining(self, allocation):
        return f"{allocation.amount - allocation.committed:.2f}"


class ReportFiguresSerializer(serializers.Serializer):
    allocated = money()
    reserved = money(help_text="reserved, in a batch or at the bank: bound, not yet paid")
    paid = money(help_text="paid out (including lines later recovered)")
    returned = money(help_text="returned by the bank (退票), awaiting a corrected account")
    recovered = money()
    committed = money()
    remaining = money(help_text="allocated − committed")


class ReportRowSerializer(ReportFiguresSerializer):
    allocation = serializers.IntegerField()
    department = serializers.CharField()
    department_name = serializers.CharField()


class ReportAnomalySerializer(serializers.Serializer):
    kind = serializers.CharField()
    department = serializers.CharField()
    allocation = serializers.IntegerField()
    committed = money()
    from_lines = money()
    message = serializers.CharField()


class ReportAccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    jurisdiction = serializers.CharField()
    jurisdiction_name = serializers.CharField()
    name = serializers.CharField()
    year = serializers.IntegerField()
    budget = money(allow_null=True)
    unallocated = money(allow_null=True)
    balance = money(allow_null=True, help_text="budget − paid + recovered")
    rows = ReportRowSerializer(many=True)
    totals = ReportFiguresSerializer()
    anomalies = ReportAnomalySerializer(many=True)


class ReportSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    accounts = ReportAccountSerializer(many=True)


YEAR = OpenApiParameter("year", OpenApiTypes.INT, description="budget year; this year when left out")


def year_of(request) -> int:
    raw = request.query_params.get("year")
    if raw in (None, ""):
        return timezone.localdate().year
    return services.parse_year(raw)


# --------------------------------------------------------------------------- fund accounts


def jurisdiction_for(user, code) -> Jurisdiction:
    """The caller's jurisdiction by code, looked up among those it oversees only: a code of
    another jurisdiction is answered as an unknown one (no hint that it exists)."""
    overseen = jurisdictions_overseen_by(user)
    if code in (None, ""):
        if overseen.count() == 1:
            return overseen.get()
        raise InvalidInput(_("请指定行政区。"), fields={"jurisdiction": [_("必填。")]})
    found = overseen.filter(code=str(code)).first()
    if found is None:
        raise InvalidInput(_("行政区不存在。"), fields={"jurisdiction": [_("未知的行政区：%(code)s。") % {"code": code}]})
    return found


def as_year(value, field: str = "year") -> int:
    """Kept for the callers elsewhere: services.parse_year."""
    return services.parse_year(value, field=field)


def account_response(request, accounts, *, many: bool = False) -> dict:
    return FundAccountSerializer(
        accounts, many=many, context={"overseen": selectors.overseen_jurisdiction_ids(request.user)}
    ).data


@extend_schema(tags=["funds"])
class FundAccountList(GenericAPIView):
    serializer_class = FundAccountSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FundAccount.objects.none()
        return selectors.fund_accounts_visible_to(self.request.user).order_by("jurisdiction__code", "-year")

    @extend_schema(
        summary="Fund accounts (专账) the caller sees", responses={200: FundAccountSerializer(many=True), **errors(401)}
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(account_response(request, page, many=True))

    @extend_schema(
        summary="Open the year's fund account (finance officer)",
        request=FundAccountInputSerializer,
        responses={201: FundAccountSerializer, **errors(400, 401, 403)},
    )
    def post(self, request):
        data = bounded_body(request, FundAccountInputSerializer)
        account = services.create_fund_account(
            actor=request.user,
            jurisdiction=jurisdiction_for(request.user, data.get("jurisdiction")),
            year=services.parse_year(data.get("year")),
            name=text(data.get("name")),
            bank_name=text(data.get("bank_name")),
            account_number=text(data.get("account_number")),
            budget=text(data.get("budget")),
        )
        return Response(account_response(request, account), status=201)


# --------------------------------------------------------------------------- plans


def plan_items(raw) -> list[services.PlanItemInput]:
    if not isinstance(raw, list):
        raise InvalidInput(_("年度计划有误。"), fields={"items": [_("须为列表。")]})
    items = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidInput(_("年度计划有误。"), fields={f"items[{index}]": [_("每行须为一个对象。")]})
        items.append(
            services.PlanItemInput(
                category=text(item.get("category")), headcount=item.get("headcount"), amount=text(item.get("amount"))
            )
        )
    return items


def department_for(user, code) -> Department:
    """The reviewer's department by code, looked up among its own departments only."""
    if code in (None, ""):
        own = departments_of_reviewer(user)
        if own.count() == 1:
            return own.get()
        raise InvalidInput(_("请指定部门。"), fields={"department": [_("必填。")]})
    found = departments_of_reviewer(user).filter(code=str(code)).first()  # in scope only: another's is "unknown"
    if found is None:
        raise InvalidInput(_("部门不存在。"), fields={"department": [_("未知的部门：%(code)s。") % {"code": code}]})
    return found


def plan_response(plan: FundingPlan, status: int = 200) -> Response:
    plan = (
        FundingPlan.objects.select_related("fund_account", "department", "allocation").prefetch_related("items").get(pk=plan.pk)
    )
    return Response(PlanSerializer(plan).data, status=status)


@extend_schema(tags=["funds"])
class PlanList(GenericAPIView):
    serializer_class = PlanSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FundingPlan.objects.none()
        plans = (
            selectors.plans_visible_to(self.request.user)
            .prefetch_related("items")
            .order_by("-fund_account__year", "department__code")
        )
        year = self.request.query_params.get("year")
        if year:
            plans = plans.filter(fund_account__year=services.parse_year(year))
        return plans

    @extend_schema(
        summary="Annual plans the caller sees",
        parameters=[OpenApiParameter("year", OpenApiTypes.INT)],
        responses={200: PlanSerializer(many=True), **errors(400, 401)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(PlanSerializer(page, many=True).data)

    @extend_schema(
        summary="Draft (or redraft, while draft or refused) the department's plan for a fund account's year (department reviewer)",
        request=PlanInputSerializer,
        responses={201: PlanSerializer, 200: PlanSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request):
        data = bounded_body(request, PlanInputSerializer)
        account_id = data.get("fund_account")
        if not isinstance(account_id, int) or isinstance(account_id, bool):  # JSON true is not account 1
            raise InvalidInput(_("年度计划有误。"), fields={"fund_account": [_("须为专账编号。")]})
        account = selectors.get_fund_account_for_user(user=request.user, account_id=account_id)
        department = department_for(request.user, data.get("department"))
        plan, created = services.save_plan(
            actor=request.user,
            fund_account=account,
            department=department,
            items=plan_items(data.get("items")),
            with_created=True,
        )
        return plan_response(plan, status=201 if created else 200)


class PlanActionView(APIView):
    def plan(self, request, pk) -> FundingPlan:
        return selectors.get_plan_for_user(user=request.user, plan_id=pk)


@extend_schema(tags=["funds"])
class PlanDetail(PlanActionView):
    @extend_schema(summary="One plan with its items", responses={200: PlanSerializer, **errors(401, 404)})
    def get(self, request, pk):
        return plan_response(self.plan(request, pk))


@extend_schema(tags=["funds"])
class PlanFile(PlanActionView):
    @extend_schema(
        summary="File the draft plan with HR and finance (department reviewer)",
        request=None,
        responses={200: PlanSerializer, **errors(401, 403, 404, 409)},
    )
    def post(self, request, pk):
        return plan_response(services.file_plan(actor=request.user, plan=self.plan(request, pk)))


@extend_schema(tags=["funds"])
class PlanAccept(PlanActionView):
    @extend_schema(
        summary="Accept the plan: HR accepts a filed plan; finance accepts an HR-accepted plan, which becomes the allocation "
        "(409 allocation_exceeded when the account's budget cannot hold it)",
        request=None,
        responses={200: PlanSerializer, **errors(401, 403, 404, 409)},
    )
    def post(self, request, pk):
        return plan_response(services.accept_plan(actor=request.user, plan=self.plan(request, pk)))


@extend_schema(tags=["funds"])
class PlanRefuse(PlanActionView):
    @extend_schema(
        summary="Send the plan back with a reason: HR a filed plan, finance an HR-accepted plan",
        request=RefuseInputSerializer,
        responses={200: PlanSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk):
        plan = self.plan(request, pk)
        return plan_response(
            services.refuse_plan(
                actor=request.user, plan=plan, reason=text(bounded_body(request, RefuseInputSerializer).get("reason"))
            )
        )


# --------------------------------------------------------------------------- allocations and report


@extend_schema(tags=["funds"])
class AllocationList(GenericAPIView):
    serializer_class = AllocationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Allocation.objects.none()
        allocations = selectors.allocations_visible_to(self.request.user).order_by("-fund_account__year", "department__code")
        year = self.request.query_params.get("year")
        if year:
            allocations = allocations.filter(fund_account__year=services.parse_year(year))
        return allocations

    @extend_schema(
        summary="Department allocations the caller sees, with committed and remaining",
        parameters=[OpenApiParameter("year", OpenApiTypes.INT)],
        responses={200: AllocationSerializer(many=True), **errors(400, 401)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(AllocationSerializer(page, many=True).data)


@extend_schema(tags=["funds"])
class FundsReport(APIView):
    @extend_schema(
        summary="Per fund account and department: allocated, reserved, paid, returned, recovered, remaining; the account's "
        "balance and unallocated budget; anomalies (committed differing from the lines)",
        parameters=[YEAR],
        responses={200: ReportSerializer, **errors(400, 401, 403)},
    )
    def get(self, request):
        report = selectors.funds_report_for(user=request.user, year=year_of(request))
        return Response(ReportSerializer(report).data)


@extend_schema(tags=["funds"])
class FundsReportXlsx(APIView):
    @extend_schema(
        summary="The funds report as a spreadsheet (the export is recorded in the ledger)",
        parameters=[YEAR],
        responses={(200, services.XLSX_CONTENT_TYPE): OpenApiResponse(OpenApiTypes.BINARY), **errors(400, 401, 403, 404)},
    )
    def get(self, request):
        content, filename = services.export_funds_report(actor=request.user, year=year_of(request))
        return file_response(content, filename=filename, content_type=services.XLSX_CONTENT_TYPE)


urlpatterns = [
    path("fund-accounts/", FundAccountList.as_view(), name="fund-accounts"),
    path("plans/", PlanList.as_view(), name="plans"),
    path("plans/<id:pk>/", PlanDetail.as_view(), name="plan"),
    path("plans/<id:pk>/file/", PlanFile.as_view(), name="plan-file"),
    path("plans/<id:pk>/accept/", PlanAccept.as_view(), name="plan-accept"),
    path("plans/<id:pk>/refuse/", PlanRefuse.as_view(), name="plan-refuse"),
    path("allocations/", AllocationList.as_view(), name="allocations"),
    path("reports/funds/", FundsReport.as_view(), name="report-funds"),
    path("reports/funds.xlsx", FundsReportXlsx.as_view(), name="report-funds-xlsx"),
]
