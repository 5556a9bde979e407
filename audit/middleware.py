"""Denied accesses in the ledger: every 403, and every 404 an authenticated user gets
(the answer for an object outside the user's scope, which must not reveal that it exists),
from the pages and from the API.

A 404 for a path that does not exist is recorded too: from outside, an out-of-scope object
and a missing one look the same, and the ledger cannot tell them apart either without
revealing more than the response did."""

from .access import record_denied

DENIED_STATUSES = (403, 404)


def _error_code(response) -> str:
    """The domain error code of an API error ({"error": {"code": ...}}), if the response has one."""
    data = getattr(response, "data", None)
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return str(data["error"].get("code") or "")
    return ""


class DeniedAccessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code in DENIED_STATUSES:
            # DRF sets the user it authenticated (session or token) on the Django request too.
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                record_denied(request=request, status=response.status_code, code=_error_code(response))
        return response
