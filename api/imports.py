"""API v1: roster imports (an .xlsx roster → one draft claim), their status, and the template.

Thin, like api/views.py: claims.imports checks and does everything."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from claims import imports
from claims.errors import InvalidInput
from claims.http import file_response
from claims.models import RosterUpload
from claims.roster import MAX_FILE_BYTES, TEMPLATE_FILENAME, XLSX_CONTENT_TYPE

from . import serializers as s
from .parsers import FormParser, MultiPartParser
from .schema import errors
from .views import claim_response


class RosterImportInputSerializer(serializers.Serializer):
    """Documents the multipart body; the services check every field."""

    file = serializers.FileField(help_text="the filled roster template (.xlsx)")
    department = serializers.CharField()
    policy = serializers.CharField()
    class_name = serializers.CharField()
    training_start = serializers.DateField()
    training_end = serializers.DateField()
    provider = serializers.CharField(required=False, help_text="needed only by a clerk of several providers")


class RosterRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="row number in the sheet (the header is row 1)")
    column = serializers.CharField(help_text="column title, Chinese")
    column_en = serializers.CharField()
    column_letter = serializers.CharField()
    field = serializers.CharField()
    message = serializers.CharField()
    message_en = serializers.CharField()


class RosterUploadSerializer(serializers.ModelSerializer):
    claim = serializers.PrimaryKeyRelatedField(read_only=True)
    claim_number = serializers.CharField(source="claim.number", default=None, read_only=True)
    errors = RosterRowErrorSerializer(many=True, read_only=True)

    class Meta:
        model = RosterUpload
        fields = [
            "id", "status", "filename", "row_count", "processed_rows", "errors", "claim", "claim_number",
            "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


@extend_schema(
    tags=["claims"],
    summary="Import a roster: an .xlsx (the template's columns) plus the claim's header fields",
    description=(
        "All rows valid or nothing is saved. Fewer than 1000 rows: imported at once, 201 with the claim. "
        "1000 rows or more: 202 with the upload's status; a worker imports it, follow "
        "`GET /api/v1/claims/import/{id}/`. A bad file or bad rows: 400, `fields` keyed `file` or "
        "`rows[5].id_number` (sheet row number), each with the message in Chinese and in English. "
        "The same file uploaded again by the provider while the first is pending or imported: 409."
    ),
    request={"multipart/form-data": RosterImportInputSerializer},
    responses={
        201: s.ClaimSerializer,
        202: RosterUploadSerializer,
        **errors(400, 401, 403),
        409: OpenApiResponse(s.ErrorSerializer, description="the same roster was already uploaded"),
    },
)
class RosterImportView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    def post(self, request):
        upload_file = request.FILES.get("file")
        if upload_file is None:
            raise InvalidInput(_("请选择要上传的花名册文件（.xlsx）。"), fields={"file": [_("必填。")]})
        if upload_file.size > MAX_FILE_BYTES:
            message = _("文件过大（超过 %(mb)d MB）。") % {"mb": MAX_FILE_BYTES // (1024 * 1024)}
            raise InvalidInput(message, fields={"file": [message]})
        header = {name: request.data.get(name) for name in imports.HEADER_FIELDS}
        upload = imports.receive_roster(user=request.user, header=header, filename=upload_file.name, content=upload_file.read())
        if upload.claim_id is not None:
            return claim_response(upload.claim, reader=request.user, status=201)
        upload.refresh_from_db()  # eager Celery (no Redis) may have imported it already
        return Response(RosterUploadSerializer(upload).data, status=202)


@extend_schema(
    tags=["claims"],
    summary="A roster import's status and progress (the uploading provider's clerks only)",
    responses={200: RosterUploadSerializer, **errors(401, 404)},
)
class RosterUploadView(APIView):
    def get(self, request, pk):
        upload = imports.get_upload_for_user(user=request.user, upload_id=pk)
        return Response(RosterUploadSerializer(upload).data)


@extend_schema(
    tags=["claims"],
    summary="Download the roster template (.xlsx): headers, an example row, drop-down lists of allowed values",
    responses={(200, XLSX_CONTENT_TYPE): OpenApiResponse(description="the template workbook")},
)
class RosterTemplateView(APIView):
    def get(self, request):
        return file_response(imports.roster_template(), filename=TEMPLATE_FILENAME, content_type=XLSX_CONTENT_TYPE)
