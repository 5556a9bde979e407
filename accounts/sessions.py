"""Sessions as ASVS level 2 asks: an idle timeout, an absolute lifetime, and revocation of every
session of a user (on deactivation and password change: accounts/signals.py)."""

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session

from .models import UserSession

LOGIN_AT = "_login_at"  # when the session's login happened (epoch seconds)
SEEN_AT = "_seen_at"  # the session's last request, to within SEEN_RESOLUTION
PASSWORD_AT = "_password_at"  # when the password was last entered: the login, or a re-authentication
SEEN_RESOLUTION = 60  # seconds: a session is written at most once a minute for its activity alone


def started(request, user) -> None:
    """At login (user_logged_in): the clocks of the new session (Django has rotated its key)."""
    session = getattr(request, "session", None)
    if session is None:
        return
    now = int(time.time())
    session[LOGIN_AT] = session[SEEN_AT] = session[PASSWORD_AT] = now
    session.save()  # the key exists from here on, to be remembered as the user's
    UserSession.objects.get_or_create(session_key=session.session_key, defaults={"user": user})


def ended(request) -> None:
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        UserSession.objects.filter(session_key=session.session_key).delete()


def revoke_sessions(user) -> int:
    """End every session of the user (their next request is anonymous); the number ended."""
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    if not keys:
        return 0
    ended_count, _ = Session.objects.filter(session_key__in=keys).delete()
    UserSession.objects.filter(session_key__in=keys).delete()
    return ended_count


class SessionStore(DatabaseSessionStore):
    """Django's database sessions (SESSION_ENGINE), a signed-in session's new key kept as the
    user's: Django gives one without a login when a user changes their own password
    (update_session_auth_hash), and revoke_sessions must find it to end it."""

    def cycle_key(self):
        before = self.session_key
        super().cycle_key()
        user_id = self.get(SESSION_KEY)
        if user_id is None:  # not signed in yet (a login's own cycle: started() keeps its key)
            return
        UserSession.objects.filter(session_key=before).delete()
        UserSession.objects.get_or_create(
            session_key=self.session_key, defaults={"user_id": get_user_model()._meta.pk.to_python(user_id)}
        )


def expired(session, now: float) -> bool:
    login_at = session.get(LOGIN_AT)
    seen_at = session.get(SEEN_AT, login_at)
    if login_at is None:  # a session older than this policy: treat its first request as its login
        return False
    return now - seen_at > settings.SESSION_IDLE_MINUTES * 60 or now - login_at > settings.SESSION_ABSOLUTE_HOURS * 3600


class SessionPolicyMiddleware:
    """Signs a session out after SESSION_IDLE_MINUTES without a request, and SESSION_ABSOLUTE_HOURS
    after its login. Placed after AuthenticationMiddleware: the request then goes on anonymous
    (a page redirects to the login, the API answers 401/403)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_KEY):
            now = time.time()
            if expired(session, now):
                ended(request)
                session.flush()
                request.user = AnonymousUser()
            else:
                if LOGIN_AT not in session:
                    session[LOGIN_AT] = session[PASSWORD_AT] = int(now)
                if now - session.get(SEEN_AT, 0) >= SEEN_RESOLUTION:
                    session[SEEN_AT] = int(now)
        return self.get_response(request)
