"""开班备案 in the API: a provider's clerk files a class (POST /api/v1/classes/), the department
accepts or refuses it; everyone reads the classes in their scope (claims.classes.classes_visible_to).
Thin: workflow/classes.py checks and does everything."""

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from claims import access
from claims.bounds import column_length
from claims.classes import class_attendance, classes_visible_to, get_class_for_user
from claims.models import ClassStatus, Level, TrainingClass
from workflow import classes as services

from .schema import errors
from .validation import BoundedSerializer, body, bounded_body
from .views import text


class PlannedTraineeInputSerializer(BoundedSerializer):
    id_number = serializers.CharField(max_length=18, help_text="resident ID number (GB 11643)")
    name = serializers.CharField(max_length=50)


class ClassInputSerializer(BoundedSerializer):
    provider = serializers.CharField(required=False, max_length=40, help_text="code; only for a clerk of several providers")
    department = serializers.CharField(max_length=40, help_text="the department's code")
    policy = serializers.CharField(max_length=10, help_text="the standard's code, S1…S18")
    occupation = serializers.CharField(max_length=100, help_text="the occupation's name or alias (电工)")
    level = serializers.ChoiceField(choices=Level.choices)
    name = serializers.CharField(
        required=False,
        max_length=column_length(TrainingClass, "name"),
        help_text="optional: without it, the occupation, level and start (电工 高级工 2026-03-01)",
    )
    start = serializers.DateField(help_text="the first day; filed at least the jurisdiction's working days ahead (5)")
    end = serializers.DateField()
    daily_start = serializers.TimeField(
        required=False, help_text="HH:MM; optional: without the hours the class takes the whole day (00:00–23:59:59)"
    )
    daily_end = serializers.TimeField(required=False, help_text="HH:MM; optional, as daily_start")
    place = serializers.CharField(max_length=column_length(TrainingClass, "place"))
    teacher = serializers.CharField(max_length=column_length(TrainingClass, "teacher"))
    trainees = PlannedTraineeInputSerializer(many=True, help_text="the planned trainees (the class's roster)")


class ClassDecisionInputSerializer(BoundedSerializer):
    comment = serializers.CharField(required=False, allow_blank=True)


class ClassRefuseInputSerializer(BoundedSerializer):
    reason = serializers.CharField()


class PlannedTraineeSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    trainee = serializers.CharField(source="trainee.id_number_masked", help_text="masked resident ID number")
    name = serializers.CharField(help_text="the name as filed with this class")
    days_present = serializers.IntegerField()


class ClassSerializer(serializers.ModelSerializer):
    provider = serializers.CharField(source="provider.code", read_only=True)
    department = serializers.CharField(source="department.code", read_only=True)
    policy = serializers.CharField(source="policy.code", read_only=True)
    occupation = serializers.CharField(source="occupation.name", read_only=True)
    occupation_code = serializers.CharField(source="occupation.code", read_only=True)
    status = serializers.ChoiceField(choices=ClassStatus.choices, read_only=True)
    days = serializers.IntegerField(
        source="calendar_days", read_only=True, help_text="the calendar days from the class's first to its last, taught or not"
    )
    days_taught = serializers.SerializerMethodField(
        help_text="the days the class taught: those of its attendance record (anyone present or absent); "
        "each trainee's attendance share is days_present of these"
    )
    trainees = serializers.SerializerMethodField()

    class Meta:
        model = TrainingClass
        fields = [
            "id",
            "number",
            "status",
            "provider",
            "department",
            "policy",
            "occupation",
            "occupation_code",
            "level",
            "name",
            "start",
            "end",
            "days",
            "days_taught",
            "daily_start",
            "daily_end",
            "place",
            "teacher",
            "filed_at",
            "decided_at",
            "decision_reason",
            "trainees",
        ]
        read_only_fields = fields

    def get_days_taught(self, training_class) -> int:
        return class_attendance(training_class).days_taught

    @extend_schema_field(PlannedTraineeSerializer(many=True))
    def get_trainees(self, training_class) -> list[dict]:
        attendance = class_attendance(training_class)
        return [
            {
                "row": place.row,
                "trainee": place.trainee.id_number_masked,
                "name": place.name,
                "days_present": attendance.days_present(place.trainee_id),
            }
            for place in training_class.trainees.select_related("trainee").order_by("row")
        ]


def class_response(training_class: TrainingClass, status: int = 200) -> Response:
    training_class = TrainingClass.objects.select_related("provider", "department", "policy", "occupation").get(
        pk=training_class.pk
    )
    return Response(ClassSerializer(training_class).data, status=status)


class ClassList(GenericAPIView):
    serializer_class = ClassSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TrainingClass.objects.none()
        return (
            classes_visible_to(self.request.user).select_related("provider", "department", "policy", "occupation").order_by("-id")
        )

    @extend_schema(summary="Filed classes the caller sees", responses={200: ClassSerializer(many=True), **errors(401)})
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ClassSerializer(page, many=True).data)

    @extend_schema(
        summary="File a class before it starts (开班备案; provider clerk): refused, nothing saved, when filed later "
        "than the jurisdiction's working days ahead",
        request=ClassInputSerializer,
        responses={201: ClassSerializer, **errors(400, 401, 403)},
    )
    def post(self, request):
        # Every field's shape first (a code that is an object, a date that is not one: 400 naming
        # it); what the values mean (scope, the deadline, the roster's people) is the service's.
        access.require(request.user, access.FILE_CLASS)  # who asks, before what they sent
        serializer = ClassInputSerializer(data=body(request))
        serializer.is_valid(raise_exception=True)
        return class_response(services.file_class(user=request.user, data=serializer.validated_data), status=201)


class ClassDetail(APIView):
    @extend_schema(
        summary="One filed class with its roster and days present", responses={200: ClassSerializer, **errors(401, 404)}
    )
    def get(self, request, pk):
        return class_response(get_class_for_user(user=request.user, class_id=pk))


class ClassAccept(APIView):
    @extend_schema(
        summary="Accept the filing (the class's department reviewer)",
        request=ClassDecisionInputSerializer,
        responses={200: ClassSerializer, **errors(400, 401, 404, 409)},
    )
    def post(self, request, pk):
        data = bounded_body(request, ClassDecisionInputSerializer)
        return class_response(services.accept_class(user=request.user, class_id=pk, comment=text(data.get("comment"))))


class ClassRefuse(APIView):
    @extend_schema(
        summary="Refuse the filing, with the reason (the class's department reviewer)",
        request=ClassRefuseInputSerializer,
        responses={200: ClassSerializer, **errors(400, 401, 404, 409)},
    )
    def post(self, request, pk):
        data = bounded_body(request, ClassRefuseInputSerializer)
        return class_response(services.refuse_class(user=request.user, class_id=pk, reason=text(data.get("reason"))))


urlpatterns = [
    path("classes/", ClassList.as_view(), name="classes"),
    path("classes/<id:pk>/", ClassDetail.as_view(), name="class"),
    path("classes/<id:pk>/accept/", ClassAccept.as_view(), name="class-accept"),
    path("classes/<id:pk>/refuse/", ClassRefuse.as_view(), name="class-refuse"),
]
