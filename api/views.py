"""API v1 views: thin. Scope comes from the selectors, every write and its rules from the services."""

from django.conf import settings
from django.db import transaction
from django.db.models import Count, OuterRef, Prefetch, Subquery, prefetch_related_objects
from django.db.models.functions import Coalesce, Length
from django.http import QueryDict
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from accounts import reauth, tokens
from audit.access import record_token_issued, record_token_revoked
from audit.checkpoints import verify_ledger
from claims import selectors as claim_selectors
from claims import services as claims
from claims.bounds import whole_number
from claims.certificate_checks import latest_checks_first
from claims.errors import ActionForbidden, DomainError, InvalidInput, NotInScope
from claims.keyset import BadCursor, bounded_count, cursor_after, keyset_page, within_budget
from claims.models import Claim, ClaimLine, Department, PolicyVersion, Provider, SubsidyPolicy
from payments.selectors.results import latest_batch_number
from workflow import selectors as task_selectors
from workflow import services as claim_process
from workflow.inbox_filters import address_query, looks_like_id_number
from workflow.models import InboxItem

from . import serializers as s
from .audit_views import LedgerVerifySerializer
from .errors import _flatten
from .filters import ClaimFilter, PolicyFilter, TaskFilter
from .pagination import MAX_PAGE_NUMBER, Pagination, past_the_end, positive_int_param
from .permissions import MayReadLedger
from .renderers import JSONRenderer
from .schema import errors
from .validation import BoundedSerializer, body, bounded_body


class ClaimHistoryEventSerializer(s.AuditEventSerializer):
    """An entry of a claim's history: the ledger's fields, ``action`` the identifier as recorded,
    and ``action_label`` what it means in the caller's language (audit/actions.py)."""

    action_label = serializers.CharField(read_only=True, help_text="the action's label in the active language")

    class Meta(s.AuditEventSerializer.Meta):
        fields = [*s.AuditEventSerializer.Meta.fields, "action_label"]
        read_only_fields = fields


CLAIMS_PAGE_SIZE = settings.REST_FRAMEWORK["PAGE_SIZE"]
# The claim list's order, and its keyset: newest first (an index range of claims_in_scope's).
CLAIM_LIST_ORDER = ("-id",)


def claim_input(request, *, partial: bool = False) -> tuple[dict, dict]:
    """The body checked by ClaimInputSerializer (the schema's shapes): the checked values for the
    service; or, when it refused some, the body as sent and what was refused, which the service
    reports together with its own findings (every problem at once, nothing saved)."""
    serializer = s.ClaimInputSerializer(data=body(request), partial=partial)
    if serializer.is_valid():
        return serializer.validated_data, {}
    refused: dict = {}
    _flatten(serializer.errors, "", refused)
    return serializer.initial_data, refused


def text(value) -> str:
    return "" if value is None else str(value)


def claim_rows(queryset):
    """A claim response's claim rows, without their lines (with_lines, CLAIM_LINES)."""
    return task_selectors.with_open_step(queryset).select_related("jurisdiction", "provider", "department", "policy")


# A claim response's lines, and what each shows.
CLAIM_LINES = Prefetch(
    "lines",
    queryset=ClaimLine.objects.select_related("trainee", "occupation", "policy_version__policy")
    .prefetch_related("overrides", Prefetch("certificate_checks", queryset=latest_checks_first()))
    .annotate(batch_number=latest_batch_number()),
)


def with_lines(queryset):
    """Everything a claim response reads, in a fixed number of queries."""
    return claim_rows(queryset).prefetch_related(CLAIM_LINES)


# A page of the claim list ends once its claims hold this many lines (a claim of more comes alone):
# a claim may hold 20,000 lines (a roster's bound), and fifty such made one response of ~760 MB.
LINES_PER_PAGE = 2_000


def claim_list_rows(queryset):
    """The claim list's rows, each with its number of lines (the page's budget); lines read after."""
    lines = ClaimLine.objects.filter(claim=OuterRef("pk")).order_by().values("claim").annotate(n=Count("pk")).values("n")
    return claim_rows(queryset).annotate(line_count=Coalesce(Subquery(lines), 0))


def claim_response(claim: Claim, *, reader, status: int = 200) -> Response:
    """The claim as ``reader`` sees it (its flags name only the claims the reader may see)."""
    claim = with_lines(Claim.objects.filter(pk=claim.pk)).get()
    return Response(s.ClaimSerializer(claim, context=s.reader_context(reader)).data, status=status)


class LockedOut(DomainError):
    """Too many failed logins for the account or the address (django-axes): 429 until the lockout ends."""

    code = "locked_out"
    status = 429


def locked_out_error() -> LockedOut:
    return LockedOut(
        _("登录失败次数过多，该账号或本机地址已被暂时锁定。请 %(minutes)s 分钟后再试，或联系系统管理员解锁。")
        % {"minutes": settings.LOGIN_LOCKOUT_MINUTES}
    )


def require_password(request, *, purpose: str) -> None:
    """Before a sensitive action: the body's ``password`` checked again, unless the caller's token
    (or session login) is younger than REAUTH_MINUTES (accounts/reauth.py). 403
    ``reauthentication_required`` naming ``password``; 429 while the account is locked out."""
    data = request.data if isinstance(request.data, dict) else {}
    password = data.get("password")
    if password is not None and not isinstance(password, str):
        raise InvalidInput(_("输入有误。"), fields={"password": [_("须为文本。")]})
    if reauth.confirm(request, purpose=purpose, password=password):
        return
    if getattr(request, "axes_locked_out", False):
        raise locked_out_error()
    message = _("此操作须再次输入您的密码（%(minutes)s 分钟内输入过的除外）。") % {"minutes": settings.REAUTH_MINUTES}
    raise ActionForbidden(message, fields={"password": [message]}, code="reauthentication_required")


@extend_schema(
    tags=["auth"],
    request=s.TokenRequestSerializer,
    responses={200: s.TokenSerializer, **errors(400, 429)},
    summary="Exchange username and password for a new token (any earlier one stops working); send it as "
    "`Authorization: Token <token>`. It expires after API_TOKEN_HOURS (12 by default)",
)
class TokenView(ObtainAuthToken):
    # DRF's login view for its parsers, renderer and no throttle; its post (DRF's plain-text token
    # model) is replaced: accounts/tokens.py issues the key. Logging in needs no prior authentication (a stale session or token must not get in the way).
    authentication_classes = ()
    renderer_classes = (JSONRenderer,)  # ours, not DRF's that ObtainAuthToken names
    serializer_class = s.TokenLoginSerializer

    def post(self, request, *args, **kwargs):
        # A wrong password goes through authenticate(), whose user_login_failed signal django-axes
        # counts; a lockout is recorded once (accounts/lockout.py), a token handed out here.
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            if getattr(request, "axes_locked_out", False):
                raise locked_out_error()
            raise serializers.ValidationError(serializer.errors)
        user = serializer.validated_data["user"]
        with transaction.atomic():
            issued, replaced = tokens.issue_token(user)
            record_token_issued(request=request, user=user, replaced=replaced)
        request.user = user  # the answer is the user's credential: an answer to them (kept by no cache)
        return Response({"token": issued.key, "expires": issued.expires})


@extend_schema(
    tags=["auth"],
    request=None,
    responses={204: None, **errors(401)},
    summary="Revoke the caller's token (it stops working at once); log in again for a new one",
)
class TokenRevokeView(APIView):
    def post(self, request):
        with transaction.atomic():
            tokens.revoke_tokens(request.user)
            record_token_revoked(request=request, user=request.user)
        return Response(status=204)


@extend_schema(tags=["organisation"], responses={200: s.DepartmentSerializer(many=True), **errors(401)})
class DepartmentList(ListAPIView):
    serializer_class = s.DepartmentSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Department.objects.none()
        return claim_selectors.departments_visible_to(self.request.user).order_by("code")


@extend_schema(tags=["organisation"], responses={200: s.ProviderSerializer(many=True), **errors(401)})
class ProviderList(ListAPIView):
    serializer_class = s.ProviderSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Provider.objects.none()
        return claim_selectors.providers_visible_to(self.request.user).order_by("code")


@extend_schema(tags=["catalogue"], responses={200: s.PolicySerializer(many=True), **errors(401)})
class PolicyList(ListAPIView):
    """The subsidy catalogue is published policy: every signed-in user may read all of it."""

    serializer_class = s.PolicySerializer
    filterset_class = PolicyFilter

    def get_queryset(self):
        return (
            SubsidyPolicy.objects.select_related("jurisdiction")
            .prefetch_related(
                Prefetch("versions", queryset=PolicyVersion.objects.select_related("base_policy").order_by("version"))
            )
            .order_by("jurisdiction__code", Length("code"), "code")  # S1, S2 … S10, not S1, S10, S2
        )


@extend_schema_view(
    retrieve=extend_schema(
        summary="One claim with its lines, status and open step", responses={200: s.ClaimSerializer, **errors(401, 404)}
    ),
    create=extend_schema(
        summary="Draft a claim (provider clerk); all input is checked, nothing is saved on any error",
        request=s.ClaimInputSerializer,
        responses={201: s.ClaimSerializer, **errors(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Edit a draft or returned claim; `lines`, when given, replaces every line",
        request=s.ClaimInputSerializer(partial=True),
        responses={200: s.ClaimSerializer, **errors(400, 401, 403, 404)},
    ),
)
@extend_schema(tags=["claims"])
class ClaimViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ClaimSerializer
    filterset_class = ClaimFilter
    # The list pages itself (by keyset, or v1's page numbers), answering ClaimPageSerializer: no DRF
    # paginator, which the schema would wrap around that page again. The history has DRF's.
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Claim.objects.none()
        # The list reads the caller's scope once and pages an index range of it (claims_in_scope).
        return claim_selectors.claims_in_scope(claim_selectors.claim_scope(self.request.user))

    @extend_schema(
        summary="Claims visible to the caller, newest first",
        parameters=[
            OpenApiParameter("cursor", str, description="`next`'s cursor: the page after it (newest first)"),
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_NUMBER},
                description="v1's page number (an OFFSET: prefer `next`'s cursor)",
            ),
        ],
        responses={200: s.ClaimPageSerializer, **errors(400, 401)},
    )
    def list(self, request):
        """Newest first. Without ``page``: keyset pages (``next`` carries a cursor). v1's ``?page=N``
        still answers its page. Either way the count is exact up to COUNT_BOUND (claims.keyset), then ``count_capped``."""
        claims = self.filter_queryset(self.get_queryset())
        if "page" in request.query_params and "cursor" not in request.query_params:
            return self._numbered_page(request, claims)
        try:
            page = keyset_page(
                claim_list_rows(claims),
                order=CLAIM_LIST_ORDER,
                cursor=request.query_params.get("cursor"),
                size=CLAIMS_PAGE_SIZE,
                budget=("line_count", LINES_PER_PAGE),
            )
        except BadCursor:
            raise InvalidInput(_("分页参数有误。"), fields={"cursor": [_("无效的分页位置：请从第一页开始。")]}) from None
        next_url = replace_query_param(request.build_absolute_uri(), "cursor", page.next_cursor) if page.next_cursor else None
        return self._page_response(request, page.items, page.count, page.count_capped, next_url, None)

    def _numbered_page(self, request, claims):
        number = positive_int_param(request, "page", 1)
        offset = (number - 1) * CLAIMS_PAGE_SIZE
        listed = claim_list_rows(claims)
        rows = list(listed.order_by(*CLAIM_LIST_ORDER)[offset : offset + CLAIMS_PAGE_SIZE + 1])
        if number > 1 and not rows:
            raise past_the_end()
        count, capped = bounded_count(claims)
        url = request.build_absolute_uri()
        items = within_budget(rows[:CLAIMS_PAGE_SIZE], ("line_count", LINES_PER_PAGE))
        if len(items) < min(len(rows), CLAIMS_PAGE_SIZE):
            # Ended early by its lines: the rest of this page and the pages after it follow by cursor.
            cursor = cursor_after(items[-1], queryset=listed, order=CLAIM_LIST_ORDER)
            next_url = replace_query_param(remove_query_param(url, "page"), "cursor", cursor)
        else:
            next_url = replace_query_param(url, "page", number + 1) if len(rows) > CLAIMS_PAGE_SIZE else None
        previous_url = replace_query_param(url, "page", number - 1) if number > 1 else None
        return self._page_response(request, items, count, capped, next_url, previous_url)

    @staticmethod
    def _page_response(request, claims, count, capped, next_url, previous_url) -> Response:
        prefetch_related_objects(claims, CLAIM_LINES)
        return Response(
            {
                "count": count,
                "count_capped": capped,
                "next": next_url,
                "previous": previous_url,
                "results": s.ClaimSerializer(claims, many=True, context=s.reader_context(request.user)).data,
            }
        )

    def get_object(self):
        # Out of scope and missing answer alike (404), never revealing that a claim exists.
        return claim_selectors.get_claim_for_user(user=self.request.user, claim_id=self.kwargs["pk"])

    def retrieve(self, request, pk=None):
        # One read: everything the response shows, of a claim in the caller's scope.
        claim = claim_selectors.get_claim_for_user(user=request.user, claim_id=pk, queryset=with_lines)
        return Response(s.ClaimSerializer(claim, context=s.reader_context(request.user)).data)

    def create(self, request):
        data, refused = claim_input(request)
        claim = claims.create_claim(user=request.user, data=data, refused=refused)
        return claim_response(claim, reader=request.user, status=201)

    def partial_update(self, request, pk=None):
        claim = self.get_object()
        data, refused = claim_input(request, partial=True)
        claim = claims.update_claim(user=request.user, claim=claim, data=data, refused=refused)
        return claim_response(claim, reader=request.user)

    @extend_schema(
        summary="Submit a draft (starts the flow), or resubmit a returned claim to the step that returned it",
        request=None,
        responses={200: s.ClaimSerializer, **errors(401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        claim = claim_process.submit_claim(user=request.user, claim=self.get_object())
        return claim_response(claim, reader=request.user)

    @extend_schema(
        summary="Withdraw a draft or returned claim (its provider's clerk), with a reason; returns the claim",
        request=s.WithdrawInputSerializer,
        responses={200: s.ClaimSerializer, **errors(400, 401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        claim = claim_process.withdraw_claim(
            user=request.user,
            claim=self.get_object(),
            reason=text(bounded_body(request, s.WithdrawInputSerializer).get("reason")),
        )
        return claim_response(claim, reader=request.user)

    @extend_schema(
        summary="Override a flag on a line (HR reviewer or HR head, at an HR step), with a written reason; returns the claim",
        request=s.OverrideInputSerializer,
        responses={200: s.ClaimSerializer, **errors(400, 401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"], url_path=r"lines/(?P<line_no>\d+)/override")
    def override(self, request, pk=None, line_no=None):
        claim = self.get_object()
        line = claim.lines.filter(line_no=int(line_no)).values_list("pk", flat=True).first()
        if line is None:
            raise NotInScope()
        data = bounded_body(request, s.OverrideInputSerializer)
        claim_process.override_flag(user=request.user, line_id=line, code=text(data.get("code")), reason=text(data.get("reason")))
        return claim_response(claim, reader=request.user)

    @extend_schema(
        summary="The claim's audit events, oldest first",
        responses={200: ClaimHistoryEventSerializer(many=True), **errors(401, 404)},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=Pagination)
    def history(self, request, pk=None):
        events = claim_selectors.ledger_history_of_claim(user=request.user, claim=self.get_object())
        page = self.paginate_queryset(events)
        return self.get_paginated_response(ClaimHistoryEventSerializer(page, many=True).data)


TASKS_PAGE_SIZE = 50
# A task's id in the path (InboxItem's key is its task).
TASK_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="the task's id")


class TaskSearchSerializer(BoundedSerializer):
    """The list's filters as a JSON object (strings, as in an address), each optional."""

    def get_fields(self):
        self._declared_fields = {
            name: serializers.CharField(required=False, allow_blank=True, help_text=str(item.extra.get("help_text", "")))
            for name, item in TaskFilter.base_filters.items()
        }
        return super().get_fields()


@extend_schema_view(
    retrieve=extend_schema(
        summary="One task of a claim the caller can see",
        parameters=[TASK_ID],
        responses={200: s.TaskSerializer, **errors(401, 404)},
    ),
)
@extend_schema(tags=["tasks"])
class TaskViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.TaskSerializer
    filterset_class = TaskFilter
    pagination_class = None  # the list pages by keyset itself, answering TaskPageSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return InboxItem.objects.none()
        return task_selectors.actionable_items(self.request.user)

    @extend_schema(
        summary="The caller's work: open tasks of their role and scope, unassigned or assigned to them",
        parameters=[OpenApiParameter("cursor", str, description="`next`'s cursor: the page after it")],
        responses={200: s.TaskPageSerializer, **errors(400, 401)},
    )
    def list(self, request):
        if looks_like_id_number(request.query_params.get("q", "")):
            # An address is logged and kept in histories: a person's ID number is posted (search).
            raise InvalidInput(
                _("身份证号码不能写在网址中。"),
                fields={"q": [_("请用 POST /api/v1/tasks/search/ 在请求正文中提交身份证号码。")]},
            )
        return self._page(request, request.query_params, request.build_absolute_uri())

    @extend_schema(
        summary="The caller's work, searched with the filters in the body (a JSON object of the list's "
        "parameters): a trainee's ID number in `q` is sent here, never in an address",
        description="The answer is the list's, and its `next` is a GET address in which the ID number has become "
        "its keyed digest (`trainee`).",
        request=TaskSearchSerializer,
        responses={200: s.TaskPageSerializer, **errors(400, 401)},
    )
    @action(detail=False, methods=["post"])
    def search(self, request):
        query = address_query(bounded_body(request, TaskSearchSerializer), TaskFilter)
        params = QueryDict(mutable=True)
        params.update(query)
        address = request.build_absolute_uri(reverse("v1:task-list")) + ("?" + urlencode(query) if query else "")
        return self._page(request, params, address)

    def _page(self, request, params, address: str) -> Response:
        """A page of the caller's work under these filters; ``address``: the list's, for ``next``."""
        filters = TaskFilter(params, self.get_queryset(), request=request)
        if not filters.is_valid():
            raise InvalidInput(_("筛选条件有误。"), fields=filters.errors_by_field())
        try:
            page = task_selectors.inbox_page(
                filters.qs,
                cursor=params.get("cursor"),
                size=TASKS_PAGE_SIZE,
                order=filters.order,
                nullable=filters.nullable,
            )
        except task_selectors.BadCursor:
            raise InvalidInput(_("分页参数有误。"), fields={"cursor": [_("无效的分页位置：请从第一页开始。")]}) from None
        next_url = None
        if page.next_cursor:
            next_url = replace_query_param(address, "cursor", page.next_cursor)
        return Response(
            {
                "count": page.count,
                "count_capped": page.count_capped,
                "next": next_url,
                "previous": None,
                "results": s.TaskSerializer(task_selectors.mark_due(page.items), many=True).data,
            }
        )

    @staticmethod
    def _task_response(task) -> Response:
        return Response(s.TaskSerializer(task_selectors.mark_due([task_selectors.task_item(task)])[0]).data)

    def retrieve(self, request, pk=None):
        return self._task_response(task_selectors.get_task_for_user(user=request.user, task_id=pk))

    @extend_schema(
        summary="Take the task (assign it to oneself)",
        parameters=[TASK_ID],
        request=None,
        responses={200: s.TaskSerializer, **errors(401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def take(self, request, pk=None):
        # The task as take_task left it, found in the caller's scope there: not looked up again.
        return self._task_response(claim_process.take_task(user=request.user, task_id=pk))

    @extend_schema(
        summary="Approve (wholly or by line), return for correction, or reject; returns the claim",
        parameters=[TASK_ID],
        request=s.DecisionInputSerializer,
        responses={200: s.ClaimSerializer, **errors(400, 401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        data = bounded_body(request, s.DecisionInputSerializer)
        claim = claim_process.decide_task(
            user=request.user,
            task_id=pk,
            decision=text(data.get("decision")),
            comment=text(data.get("comment")),
            reason=text(data.get("reason")),
            line_decisions=line_decisions(data.get("lines")),
            fix=data.get("fix"),  # shape and values checked by the decision policy (fix.lines[0], …)
        )
        return claim_response(claim, reader=request.user)


def line_decisions(raw) -> list[claim_process.LineDecisionInput]:
    """Shape only (a list of objects); what the values may be is the service's to check."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise InvalidInput(_("审核意见有误。"), fields={"lines": [_("须为列表。")]})
    items = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidInput(_("审核意见有误。"), fields={f"lines[{index}]": [_("每行须为一个对象。")]})
        line = item.get("line")
        if isinstance(line, str) and (number := whole_number(line)) is not None:
            line = number
        elif isinstance(line, bool) or not isinstance(line, int):
            line = text(line)  # not a line number: the service reports it under lines[i].line
        items.append(
            claim_process.LineDecisionInput(line=line, decision=text(item.get("decision")), reason=text(item.get("reason")))
        )
    return items


@extend_schema(
    tags=["audit"],
    summary="Verify the whole ledger: the hash chain and every signed checkpoint (auditor and HR head)",
    responses={200: LedgerVerifySerializer, **errors(401, 403)},
)
class AuditVerifyView(APIView):
    permission_classes = [IsAuthenticated, MayReadLedger]

    def get(self, request):
        return Response(LedgerVerifySerializer(verify_ledger()).data)
