"""公示 in the API (RULES N5; workflow/notice.py does everything): what is on notice and an
objection to a line, without signing in, masked exactly as the public page is (one definition:
``notice.notice_rows``) and rate-limited per address as the page is (the same service); an
objection's status by its receipt; the HR head's objections of its jurisdiction, each with its
handling deadline, and the decision on one."""

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.access import client_ip
from claims.bounds import character_refusal
from claims.models import ClaimLine
from workflow import notice, policy
from workflow.models import Objection, ObjectionStatus

from . import serializers as s
from .parsers import JSONParser
from .schema import errors
from .serializers import money
from .validation import BoundedSerializer, bounded_body
from .views import text

RATE_LIMITED = {
    429: OpenApiResponse(s.ErrorSerializer, description="`rate_limited`: this address filed its objections for the hour")
}


class NoticeLineSerializer(serializers.Serializer):
    """One line as the public sees it: what RULES N5 publishes, masked as on /public/notice/."""

    line = serializers.IntegerField(source="line_id", help_text="the line's id: what an objection names")
    provider = serializers.CharField(help_text="the provider's name")
    occupation = serializers.CharField()
    level = serializers.CharField(help_text="the level's label")
    standard = serializers.CharField(help_text="the standard's code and name")
    trainee = serializers.CharField(source="name_masked", help_text="the trainee's name, masked (张*三)")
    id_number = serializers.CharField(source="id_masked", help_text="masked: the first 6 and the last 4 characters")
    amount = money()
    period_start = serializers.DateField(source="start")
    period_end = serializers.DateField(source="end", help_text="the last day objections are taken")


class ObjectionInputSerializer(BoundedSerializer):
    line = serializers.IntegerField(help_text="the id of a line on notice")
    contact = serializers.CharField(max_length=notice.CONTACT_MAX, help_text="how the bureau reaches the objector")
    reason = serializers.CharField(max_length=notice.REASON_MAX)


class ReceiptSerializer(serializers.Serializer):
    """What the objector is told, and may look up again by the receipt: never the line's details."""

    receipt = serializers.CharField()
    created = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=ObjectionStatus.choices)
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_reason = serializers.CharField(help_text="the bureau's answer, once decided")


class ObjectionSerializer(serializers.Serializer):
    """An objection as the HR head who decides it sees it."""

    id = serializers.IntegerField()
    receipt = serializers.CharField()
    claim = serializers.IntegerField(source="claim_id")
    claim_number = serializers.CharField(source="claim.number")
    line = serializers.IntegerField(source="line.line_no", help_text="the line's number in the claim")
    trainee = serializers.CharField(source="line.trainee.id_number_masked", help_text="masked resident ID number")
    contact = serializers.CharField()
    reason = serializers.CharField()
    created = serializers.DateTimeField()
    due = serializers.DateField(help_text="the last day to decide it (the jurisdiction's objection time limit)")
    due_state = serializers.ChoiceField(
        choices=["", "due_soon", "overdue"], help_text="open and due within 2 working days, or past its due date"
    )
    status = serializers.ChoiceField(choices=ObjectionStatus.choices)
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_reason = serializers.CharField()


class ObjectionDecisionInputSerializer(BoundedSerializer):
    decision = serializers.ChoiceField(choices=[ObjectionStatus.UPHELD, ObjectionStatus.DISMISSED])
    reason = serializers.CharField(max_length=notice.REASON_MAX)


def _filter(request, name: str) -> str:
    value = request.query_params.get(name, "").strip()
    return "" if character_refusal(value) or len(value) > 100 else value


class PublicNoticeList(GenericAPIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    serializer_class = NoticeLineSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ClaimLine.objects.none()
        request = self.request
        return notice.lines_on_notice(provider=_filter(request, "provider"), occupation=_filter(request, "occupation"))

    @extend_schema(
        tags=["public notice"],
        summary="What is on public notice (公示), masked as on the public page; no login",
        parameters=[
            OpenApiParameter("provider", str, description="a provider's code"),
            OpenApiParameter("occupation", str, description="an occupation's name, exactly"),
        ],
        responses={200: NoticeLineSerializer(many=True)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(NoticeLineSerializer(notice.notice_rows(list(page)), many=True).data)


class PublicObjectionCreate(APIView):
    """No login, so no CSRF check: JSON only, which a page of another site cannot make a visitor's
    browser send (a form posts form-encoded or text/plain; a script's JSON needs a CORS preflight,
    never granted). Otherwise any site could file objections through its visitors, each from its
    own address, past the per-address limit. The public page has its own form, with CSRF."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    parser_classes = (JSONParser,)

    @extend_schema(
        tags=["public notice"],
        summary="Object to a line on notice; no login; rate-limited per address as the page is",
        request=ObjectionInputSerializer,
        responses={201: ReceiptSerializer, **errors(400), **RATE_LIMITED},
    )
    def post(self, request):
        data = bounded_body(request, ObjectionInputSerializer)
        objection = notice.file_objection(
            line_id=data.get("line"),
            contact=text(data.get("contact")),
            reason=text(data.get("reason")),
            client_address=client_ip(request),
        )
        return Response(ReceiptSerializer(objection).data, status=201)


class PublicObjectionStatus(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        tags=["public notice"],
        summary="An objection's status by its receipt; no login",
        responses={200: ReceiptSerializer, **errors(404)},
    )
    def get(self, request, receipt):
        return Response(ReceiptSerializer(notice.objection_by_receipt(receipt)).data)


class ObjectionList(GenericAPIView):
    serializer_class = ObjectionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Objection.objects.none()
        found = notice.objections_for(self.request.user).select_related("claim__jurisdiction", "decided_by")
        status = _filter(self.request, "status")
        return found.filter(status=status) if status else found

    @extend_schema(
        tags=["public notice"],
        summary="Objections of the HR head's jurisdiction, open ones first, each with its handling deadline",
        parameters=[OpenApiParameter("status", str, enum=ObjectionStatus.values)],
        responses={200: ObjectionSerializer(many=True), **errors(401, 403)},
    )
    def get(self, request):
        if not policy.may_decide_objections(request.user):
            raise policy.objection_refusal(user=request.user, claim=None)
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ObjectionSerializer(notice.with_due_states(page), many=True).data)


def objection_response(*, user, objection_id) -> Response:
    objection = notice.get_objection_for(user=user, objection_id=objection_id)
    return Response(ObjectionSerializer(notice.with_due_states([objection])[0]).data)


class ObjectionDetail(APIView):
    @extend_schema(
        tags=["public notice"],
        summary="One objection (the HR head of its jurisdiction)",
        responses={200: ObjectionSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, pk):
        return objection_response(user=request.user, objection_id=pk)


class ObjectionDecide(APIView):
    @extend_schema(
        tags=["public notice"],
        summary="Uphold (the line is rejected, its reservation released, the provider told) or dismiss an objection",
        request=ObjectionDecisionInputSerializer,
        responses={200: ObjectionSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk):
        data = bounded_body(request, ObjectionDecisionInputSerializer)
        notice.decide_objection(
            user=request.user, objection_id=pk, decision=text(data.get("decision")), reason=text(data.get("reason"))
        )
        return objection_response(user=request.user, objection_id=pk)


urlpatterns = [
    path("public/notice/", PublicNoticeList.as_view(), name="public-notice"),
    path("public/objections/", PublicObjectionCreate.as_view(), name="public-objections"),
    path("public/objections/<str:receipt>/", PublicObjectionStatus.as_view(), name="public-objection"),
    path("objections/", ObjectionList.as_view(), name="objections"),
    path("objections/<id:pk>/", ObjectionDetail.as_view(), name="objection"),
    path("objections/<id:pk>/decide/", ObjectionDecide.as_view(), name="objection-decide"),
]
