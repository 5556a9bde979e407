"""The claim page's documents and thread: upload and download a document, write a message or an
internal note. Thin: claims.attachments and workflow.conversation check and record everything;
their errors are shown on the claim page naming the field, anything out of scope is a 404."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from claims import access as claims_access
from claims import attachments
from claims.errors import ActionForbidden, InvalidInput
from claims.http import download_response, scoped
from claims.selectors import get_claim_for_user
from workflow import assignment, conversation

from .views import render_claim


@require_POST
@scoped
def attachment_upload(request, claim_id):
    claim = get_claim_for_user(user=request.user, claim_id=claim_id)
    try:
        # Who may, and how much, before the body is read.
        claims_access.require_may_add_attachments(request.user, claim)
        if attachments.request_too_large(request.META.get("CONTENT_LENGTH")):
            raise attachments.too_large_error()
        upload = request.FILES.get("file")
        document = attachments.add_attachment(
            user=request.user,
            claim=claim,
            kind=request.POST.get("kind", ""),
            line_no=request.POST.get("line") or None,
            content=upload.read(settings.ATTACHMENT_MAX_BYTES + 1) if upload is not None else b"",
            filename=upload.name if upload is not None else "",
        )
    except InvalidInput as error:
        messages.error(request, error.message)
        return render_claim(request, claim, status=400, attachment_errors=error.fields)
    except ActionForbidden as error:
        messages.error(request, error.message)
        return render_claim(request, claim, status=403)
    messages.success(request, _("已上传材料：%(name)s") % {"name": document.filename})
    return redirect(reverse("approvals:claim", args=[claim.pk]) + "#attachments")


@require_GET
@scoped
def attachment_download(request, claim_id, attachment_id):
    # A substitute acting on the claim's open task today reads its documents as the reviewer they act for.
    reader = assignment.reader_of_claim(user=request.user, claim_id=claim_id)
    return download_response(
        attachments.download_attachment(user=reader, claim_id=claim_id, attachment_id=attachment_id, by=request.user)
    )


@require_POST
@scoped
def comment_post(request, claim_id):
    claim = get_claim_for_user(user=request.user, claim_id=claim_id)
    try:
        comment = conversation.post_comment(
            user=request.user,
            claim=claim,
            body=request.POST.get("body", ""),
            internal=request.POST.get("internal") == "1",
        )
    except InvalidInput as error:
        messages.error(request, error.message)
        return render_claim(request, claim, status=400, comment_errors=error.fields, comment_body=request.POST.get("body", ""))
    except ActionForbidden as error:
        messages.error(request, error.message)
        return render_claim(request, claim, status=403)
    told = [person.get_username() for person in comment.mentions.all()]
    if told:
        messages.success(request, _("已发表，已通知：%(people)s") % {"people": "、".join(told)})
    else:
        messages.success(request, _("已发表。"))
    return redirect(reverse("approvals:claim", args=[claim.pk]) + "#thread")
