"""Re-authentication before a sensitive action (releasing a payment batch, exporting the ledger):
the password must have been entered within the last REAUTH_MINUTES, at the login (the session's,
or the API token's issue) or given again with the request. A password given again goes through
authenticate(), so django-axes counts a wrong one and refuses while the account is locked out;
a right one is recorded in the ledger with the action it was given for."""

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY, authenticate
from django.utils import timezone

from audit.access import record_reauthenticated

from .models import ApiToken
from .sessions import PASSWORD_AT


def _password_age(request) -> float | None:
    """Seconds since the password was last entered for this request's credentials, if known."""
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        return (timezone.now() - token.created).total_seconds()
    session = getattr(request, "session", None)
    if session is not None and session.get(SESSION_KEY) and session.get(PASSWORD_AT) is not None:
        return time.time() - session[PASSWORD_AT]
    return None


def is_recent(request) -> bool:
    age = _password_age(request)
    return age is not None and age <= settings.REAUTH_MINUTES * 60


def confirm(request, *, purpose: str, password: str | None) -> bool:
    """True when the action may go ahead: the password given is the user's (recorded), or none
    was given and the last one entered is recent enough."""
    user = request.user
    if password:
        checked = authenticate(request, username=user.get_username(), password=password)
        if checked is None or checked.pk != user.pk:
            return False
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_KEY):
            session[PASSWORD_AT] = int(time.time())
        record_reauthenticated(request=request, user=user, purpose=purpose)
        return True
    return is_recent(request)
