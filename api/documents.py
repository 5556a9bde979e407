"""API v1: a claim's documents (list, upload, download) and its thread (read, write).

Thin, like api/views.py: claims.attachments and workflow.conversation check, scope and record
everything; a claim out of the caller's scope is a 404 here as everywhere."""

from django.conf import settings
from django.urls import path, reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from claims import access, attachments
from claims.http import download_response
from claims.models import Attachment, AttachmentKind, Comment
from claims.selectors import get_claim_for_user
from workflow import conversation

from .parsers import FormParser, JSONParser, MultiPartParser
from .schema import errors
from .validation import BoundedSerializer, bounded_body
from .views import text


class AttachmentSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    line = serializers.IntegerField(source="line_no", allow_null=True, read_only=True)
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True)
    download = serializers.SerializerMethodField(help_text="where to download it (GET, as a file)")

    class Meta:
        model = Attachment
        fields = [
            "id",
            "kind",
            "kind_label",
            "line",
            "filename",
            "content_type",
            "size",
            "sha256",
            "uploaded_by",
            "uploaded_at",
            "download",
        ]
        read_only_fields = fields

    def get_download(self, document) -> str:
        return reverse("v1:claim-attachment-download", args=[document.claim_id, document.pk])


class AttachmentInputSerializer(serializers.Serializer):
    """Documents the multipart body; the service checks every field (the type by the file's bytes)."""

    file = serializers.FileField(help_text="PDF, PNG or JPEG (recognised by content, not by name), at most ATTACHMENT_MAX_BYTES")
    kind = serializers.ChoiceField(choices=AttachmentKind.values)
    line = serializers.IntegerField(required=False, help_text="the line's line_no, for a document of one line")


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)
    mentions = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True, help_text="the people told")

    class Meta:
        model = Comment
        fields = ["id", "author", "body", "internal", "mentions", "created_at"]
        read_only_fields = fields


class CommentInputSerializer(BoundedSerializer):
    body = serializers.CharField(help_text="the message; @username mentions tell those who see the claim")
    internal = serializers.BooleanField(required=False, help_text="an internal note: reviewers only, never the provider")


@extend_schema(tags=["claims"])
class AttachmentListView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="The claim's documents, oldest first", responses={200: AttachmentSerializer(many=True), **errors(401, 404)}
    )
    def get(self, request, pk):
        claim = get_claim_for_user(user=request.user, claim_id=pk)
        return Response(AttachmentSerializer(attachments.attachments_of(user=request.user, claim=claim), many=True).data)

    @extend_schema(
        summary="Attach a document to the claim or one of its lines (its provider's clerk, while a draft or returned)",
        description="The type is recognised from the file's bytes: a .pdf that is HTML or a ZIP is refused (400 `file`); "
        "a file over the size limit is 400 `file` (or 413 when the body is far larger).",
        request={"multipart/form-data": AttachmentInputSerializer},
        responses={201: AttachmentSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request, pk):
        claim = get_claim_for_user(user=request.user, claim_id=pk)
        access.require_may_add_attachments(request.user, claim)  # who may, and how much, before the body is read
        if attachments.request_too_large(request.META.get("CONTENT_LENGTH")):
            raise attachments.too_large_error()
        upload = request.FILES.get("file")
        document = attachments.add_attachment(
            user=request.user,
            claim=claim,
            kind=text(request.data.get("kind")),
            line_no=request.data.get("line") or None,
            content=upload.read(settings.ATTACHMENT_MAX_BYTES + 1) if upload is not None else b"",
            filename=upload.name if upload is not None else "",
        )
        return Response(AttachmentSerializer(document).data, status=201)


@extend_schema(
    tags=["claims"],
    summary="Download one document of the claim (recorded in the ledger)",
    responses={
        (200, "application/octet-stream"): OpenApiResponse(description="the file, as an attachment"),
        **errors(401, 404),
    },
)
class AttachmentDownloadView(APIView):
    def get(self, request, pk, attachment_id):
        return download_response(attachments.download_attachment(user=request.user, claim_id=pk, attachment_id=attachment_id))


@extend_schema(tags=["claims"])
class CommentListView(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        summary="The claim's thread, oldest first (internal notes only for reviewers, never for the provider)",
        responses={200: CommentSerializer(many=True), **errors(401, 404)},
    )
    def get(self, request, pk):
        claim = get_claim_for_user(user=request.user, claim_id=pk)
        return Response(CommentSerializer(conversation.thread_of(user=request.user, claim=claim), many=True).data)

    @extend_schema(
        summary="Write in the claim's thread, or (internal) a note for the reviewers",
        request=CommentInputSerializer,
        responses={201: CommentSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request, pk):
        claim = get_claim_for_user(user=request.user, claim_id=pk)
        data = bounded_body(request, CommentInputSerializer)
        # One of DRF's spellings of a boolean by now (bounded_body refused any other), read as DRF
        # reads it: "True", "yes" and "on" are true, or the note meant for reviewers would reach the provider.
        raw = data.get("internal")
        internal = False if raw is None else serializers.BooleanField().to_internal_value(raw)
        comment = conversation.post_comment(user=request.user, claim=claim, body=text(data.get("body")), internal=internal)
        return Response(CommentSerializer(comment).data, status=201)


urlpatterns = [
    path("claims/<id:pk>/attachments/", AttachmentListView.as_view(), name="claim-attachments"),
    path(
        "claims/<id:pk>/attachments/<id:attachment_id>/download/",
        AttachmentDownloadView.as_view(),
        name="claim-attachment-download",
    ),
    path("claims/<id:pk>/comments/", CommentListView.as_view(), name="claim-comments"),
]
