"""Login throttling with django-axes: the client's address it counts by, the ledger entry of a
lockout, and the page a locked-out login gets (settings: AXES_CLIENT_IP_CALLABLE,
AXES_LOCKOUT_CALLABLE; the signal is connected in signals.py)."""

from axes.helpers import get_failure_limit
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render

from audit.access import client_ip, record_lockout


def client_address(request) -> str | None:
    """The address the ledger records (audit.access.client_ip), so that throttling and the
    ledger agree on who the client is; None when unknown (axes then counts by account only)."""
    return client_ip(request) or None


def on_locked_out(sender, request, username, ip_address, **kwargs) -> None:
    """django-axes signals every refused attempt of a locked-out client; the ledger records the
    lockout once: at the failure that reached the limit (the only one whose count axes sets
    to exactly the limit, since failures while locked out are not counted)."""
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is not None and failures == get_failure_limit(request, getattr(request, "axes_credentials", None)):
        record_lockout(request=request, username=username or "", failures=failures)


def locked_out_page(request, original_response=None, credentials=None):
    """The login page again, saying why and for how long, with 429 Too Many Requests. (The API's
    token endpoint answers in its own error shape: api/views.py.)"""
    form = AuthenticationForm(request, initial={"username": (credentials or {}).get("username", "")})
    return render(
        request,
        "registration/login.html",
        {"form": form, "locked_out": True, "lockout_minutes": settings.LOGIN_LOCKOUT_MINUTES},
        status=429,
    )
