"""Login throttling with django-axes: the client's address and the account it counts by, the
ledger entry of a lockout, and the page a locked-out login gets (settings: AXES_CLIENT_IP_CALLABLE,
AXES_USERNAME_CALLABLE, AXES_LOCKOUT_CALLABLE; the signal is connected in signals.py)."""

from axes.conf import settings as axes_settings
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render

from audit.access import client_ip, record_lockout


def client_address(request) -> str | None:
    """The address the ledger records (audit.access.client_ip), so that throttling and the
    ledger agree on who the client is; None when unknown (axes then counts by account only)."""
    return client_ip(request) or None


# What the attempts table holds of a username (a longer one names no account: the user model's are shorter).
ATTEMPTED_USERNAME_MAX = AccessAttempt._meta.get_field("username").max_length


def login_username(value):
    """A username as typed, read as the user model reads one (Unicode NFKC: full-width letters
    typed with a Chinese input method are the ASCII ones), as Django's login form does; every
    door that signs in (the page, the admin's, the API's token) reads it so."""
    return get_user_model().normalize_username(value)


def attempted_username(request, credentials=None) -> str | None:
    """The account an attempt is counted against: the one the login would sign in to, whichever
    door (so failures through the API and on the page add up), cut to what the attempts table
    holds, so that a name too long for any account is counted like any other failure."""
    if credentials:
        value = credentials.get(axes_settings.AXES_USERNAME_FORM_FIELD)
    else:
        value = getattr(request, "data", request.POST).get(axes_settings.AXES_USERNAME_FORM_FIELD)
    if not isinstance(value, str):
        return value
    return login_username(value)[:ATTEMPTED_USERNAME_MAX]


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
