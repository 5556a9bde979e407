"""What every page of ours shares: a login, and 404 for whatever is outside the user's scope."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse

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


def file_response(content, *, filename: str, content_type: str) -> HttpResponse:
    """A file as a download, never shown inline: every file we answer with goes out through here.
    The type is what its bytes are, the browser may not guess another (nosniff), and were it
    opened anyway it runs nothing (sandbox). ``content``: bytes, or an open binary file (streamed,
    closed once sent). That no cache keeps it is the rule of every response to a signed-in user
    (config.middleware.NoStoreWhenSignedInMiddleware); the public notice's file may be cached."""
    if isinstance(content, bytes | bytearray | memoryview):
        response = HttpResponse(bytes(content), content_type=content_type)
    else:
        response = FileResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition(filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


def download_response(download: Download) -> HttpResponse:
    """A claim's document (claims.attachments.download_attachment) as a download."""
    document = download.attachment
    return file_response(download.content, filename=document.filename, content_type=document.content_type)
