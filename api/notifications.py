"""API v1: the caller's own notifications (list, mark read), their e-mail choices, their
substitutes (delegations), and a team lead's reassign and release of a task. Thin: reads from
notifications.selectors, writes through notifications.services and workflow.assignment."""

import datetime

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from claims.bounds import whole_number
from claims.errors import ActionForbidden, InvalidInput, NotInScope
from notifications import selectors, services
from notifications.models import Channel, Kind
from workflow import assignment
from workflow import selectors as task_selectors
from workflow.models import Delegation

from . import serializers as s
from .schema import errors
from .validation import BoundedSerializer, bounded_body
from .views import text

PAGE_SIZE = 50


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=Kind.choices, read_only=True)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    message = serializers.CharField(read_only=True)
    # What it is about: a claim (and maybe its task), or a filed class.
    claim = serializers.IntegerField(source="claim_id", read_only=True, allow_null=True)
    claim_number = serializers.CharField(source="claim.number", read_only=True, allow_null=True)
    task = serializers.IntegerField(source="task_id", read_only=True, allow_null=True)
    training_class = serializers.IntegerField(source="training_class_id", read_only=True, allow_null=True)
    class_number = serializers.CharField(source="training_class.number", read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    read_at = serializers.DateTimeField(read_only=True, allow_null=True)
    settled_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="when it stopped asking anything of the caller: someone else took the task or the filing, or it was done",
    )


class NotificationPageSerializer(serializers.Serializer):
    unread = serializers.IntegerField(help_text="the caller's unread notifications (the bell's count)")
    next = serializers.URLField(allow_null=True, help_text="the page of older notifications")
    results = NotificationSerializer(many=True)


class ReadAllSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="notifications marked read now")


class PreferencesSerializer(BoundedSerializer):
    """The caller's channel per kind: email (at once), digest (daily), none (in-app only)."""

    def get_fields(self):
        self._declared_fields = {
            kind.value: serializers.ChoiceField(choices=Channel.choices, required=False, help_text=str(kind.label))
            for kind in Kind
        }
        return super().get_fields()


NOTIFICATION_ID = OpenApiParameter("pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="the notification's id")


def _positive_int(value, field: str) -> int | None:
    if value in (None, ""):
        return None
    number = whole_number(value)
    if number is None:
        raise InvalidInput(_("分页参数有误。"), fields={field: [_("须为正整数。")]})
    return number


@extend_schema(tags=["notifications"])
class NotificationList(APIView):
    @extend_schema(
        summary="The caller's notifications, newest first (never another person's)",
        parameters=[
            OpenApiParameter("before", int, description="`next`'s position: notifications older than this id"),
            OpenApiParameter("unread", bool, description="true: the ones the bell counts (unread, not settled)"),
        ],
        responses={200: NotificationPageSerializer, **errors(400, 401)},
    )
    def get(self, request):
        items = selectors.notifications_of(request.user, unread_only=request.query_params.get("unread") in ("1", "true"))
        before = _positive_int(request.query_params.get("before"), "before")
        if before is not None:
            items = items.filter(pk__lt=before)
        rows = list(items.order_by("-pk")[: PAGE_SIZE + 1])
        next_url = None
        if len(rows) > PAGE_SIZE:
            next_url = replace_query_param(request.build_absolute_uri(), "before", rows[PAGE_SIZE - 1].pk)
        return Response(
            {
                "unread": selectors.unread_count(request.user),
                "next": next_url,
                "results": NotificationSerializer(rows[:PAGE_SIZE], many=True).data,
            }
        )


@extend_schema(tags=["notifications"])
class NotificationRead(APIView):
    @extend_schema(
        summary="Mark one of the caller's notifications read",
        parameters=[NOTIFICATION_ID],
        request=None,
        responses={200: NotificationSerializer, **errors(401, 404)},
    )
    def post(self, request, pk):
        if not services.mark_read(user=request.user, notification_id=pk):
            raise NotInScope()
        return Response(NotificationSerializer(selectors.notifications_of(request.user).get(pk=pk)).data)


@extend_schema(tags=["notifications"])
class NotificationReadAll(APIView):
    @extend_schema(
        summary="Mark all the caller's notifications read", request=None, responses={200: ReadAllSerializer, **errors(401)}
    )
    def post(self, request):
        return Response({"marked": services.mark_all_read(user=request.user)})


@extend_schema(tags=["notifications"])
class NotificationPreferences(APIView):
    @extend_schema(summary="The caller's e-mail choice per kind", responses={200: PreferencesSerializer, **errors(401)})
    def get(self, request):
        return Response(selectors.preferences_of(request.user))

    @extend_schema(
        summary="Change the caller's e-mail choice of some kinds (others keep theirs)",
        request=PreferencesSerializer,
        responses={200: PreferencesSerializer, **errors(400, 401)},
    )
    def put(self, request):
        data = bounded_body(request, PreferencesSerializer)
        problems = {}
        for key, value in data.items():
            if key not in Kind.values:
                problems[key] = [_("没有这类通知：可选 %(kinds)s。") % {"kinds": ", ".join(Kind.values)}]
            elif value not in Channel.values:
                problems[key] = [_("须为 %(channels)s 之一。") % {"channels": ", ".join(Channel.values)}]
        if problems:
            raise InvalidInput(_("通知方式有误。"), fields=problems)
        services.set_preferences(user=request.user, channels=data)
        return Response(selectors.preferences_of(request.user))


# --------------------------------------------------------------------------- delegation


class DelegationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    delegator = serializers.CharField(source="delegator.username", read_only=True)
    substitute = serializers.CharField(source="substitute.username", read_only=True)
    starts_on = serializers.DateField(read_only=True)
    ends_on = serializers.DateField(read_only=True)
    reason = serializers.CharField(read_only=True)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)


class DelegationInputSerializer(BoundedSerializer):
    substitute = serializers.CharField(max_length=150, help_text="the colleague's username (same review role)")
    starts_on = serializers.DateField(help_text="first day (local), today or later")
    ends_on = serializers.DateField(help_text="last day (local), at most 92 days after the first")
    reason = serializers.CharField(max_length=200, help_text="why (a leave, a training); kept in the ledger")


class DelegationRevokeInputSerializer(BoundedSerializer):
    reason = serializers.CharField(max_length=200, help_text="why the delegation ends; kept in the ledger")


def _date(data: dict, field: str) -> datetime.date:
    value = data.get(field)
    try:
        return datetime.date.fromisoformat(text(value))
    except ValueError:
        raise InvalidInput(_("代理期限有误。"), fields={field: [_("须为日期（YYYY-MM-DD）。")]}) from None


@extend_schema(tags=["delegations"])
class DelegationList(APIView):
    @extend_schema(
        summary="The delegations the caller made or was named in",
        responses={200: DelegationSerializer(many=True), **errors(401)},
    )
    def get(self, request):
        return Response(DelegationSerializer(assignment.delegations_of(request.user)[:200], many=True).data)

    @extend_schema(
        summary="Name a substitute for a date range (a reviewer, for their own work)",
        request=DelegationInputSerializer,
        responses={201: DelegationSerializer, **errors(400, 401, 403)},
    )
    def post(self, request):
        if not assignment.may_name_substitute(request.user):  # who asks, before what they sent
            raise ActionForbidden(_("只有审核人员可以指定代理人。"), code="role")
        data = bounded_body(request, DelegationInputSerializer)
        delegation = assignment.name_substitute(
            user=request.user,
            substitute_username=text(data.get("substitute")),
            starts_on=_date(data, "starts_on"),
            ends_on=_date(data, "ends_on"),
            reason=text(data.get("reason")),
        )
        return Response(DelegationSerializer(delegation).data, status=201)


@extend_schema(tags=["delegations"])
class DelegationRevoke(APIView):
    @extend_schema(
        summary="End a delegation the caller made, saying why",
        parameters=[OpenApiParameter("pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="the delegation's id")],
        request=DelegationRevokeInputSerializer,
        responses={200: DelegationSerializer, **errors(400, 401, 404, 409)},
    )
    def post(self, request, pk):
        data = bounded_body(request, DelegationRevokeInputSerializer)
        delegation = assignment.revoke_substitute(user=request.user, delegation_id=pk, reason=text(data.get("reason")))
        return Response(
            DelegationSerializer(Delegation.objects.select_related("delegator", "substitute").get(pk=delegation.pk)).data
        )


# --------------------------------------------------------------------------- a team lead's reassign and release


class ReassignInputSerializer(BoundedSerializer):
    to = serializers.CharField(max_length=150, help_text="username of a person who may act on the step")
    reason = serializers.CharField(max_length=200)


class ReleaseInputSerializer(BoundedSerializer):
    reason = serializers.CharField(max_length=200)


TASK_ID = OpenApiParameter("pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="the task's id")


@extend_schema(tags=["tasks"])
class TaskReassign(APIView):
    @extend_schema(
        summary="Give an open task to a person who may act on it (the team lead of its step)",
        parameters=[TASK_ID],
        request=ReassignInputSerializer,
        responses={200: s.TaskSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk):
        data = bounded_body(request, ReassignInputSerializer)
        task = assignment.reassign_task(
            user=request.user, task_id=pk, to_username=text(data.get("to")), reason=text(data.get("reason"))
        )
        return Response(s.TaskSerializer(task_selectors.task_item(task)).data)


@extend_schema(tags=["tasks"])
class TaskRelease(APIView):
    @extend_schema(
        summary="Put a taken task back in the team's queue (the team lead of its step)",
        parameters=[TASK_ID],
        request=ReleaseInputSerializer,
        responses={200: s.TaskSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk):
        data = bounded_body(request, ReleaseInputSerializer)
        task = assignment.release_task(user=request.user, task_id=pk, reason=text(data.get("reason")))
        return Response(s.TaskSerializer(task_selectors.task_item(task)).data)


urlpatterns = [
    path("notifications/", NotificationList.as_view(), name="notifications"),
    path("notifications/<id:pk>/read/", NotificationRead.as_view(), name="notification-read"),
    path("notifications/read-all/", NotificationReadAll.as_view(), name="notifications-read-all"),
    path("notifications/preferences/", NotificationPreferences.as_view(), name="notification-preferences"),
    path("delegations/", DelegationList.as_view(), name="delegations"),
    path("delegations/<id:pk>/revoke/", DelegationRevoke.as_view(), name="delegation-revoke"),
    path("tasks/<id:pk>/reassign/", TaskReassign.as_view(), name="task-reassign"),
    path("tasks/<id:pk>/release/", TaskRelease.as_view(), name="task-release"),
]
