"""What every page of ours shares: a login, and 404 for whatever is outside the user's scope."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse

from .attachments import Download, content_disposition
from .errors import NotInScope


def scoped(view):
    """Login required; an object outside the user's scope is answered as if it did not exist."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotInScope:
            raise Http404 from None

    return wrapper


def download_response(download: Download) -> HttpResponse:
    """The document as a download, never shown inline: the type is what its bytes are, the
    browser may not guess another (nosniff), and were it opened anyway it runs nothing (sandbox)."""
    document = download.attachment
    response = HttpResponse(download.content, content_type=document.content_type)
    response["Content-Disposition"] = content_disposition(document.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response
