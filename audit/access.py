"""Access events in the ledger: logins, lockouts, logouts, issued and revoked API tokens,
re-authentications, denied accesses.

They are not changes of a claim, so each is written in a transaction of its own (a login
has no transaction of its change to join; a denied request's transaction, if any, is over
or rolled back). Only the username attempted and the client's address are kept: never a
password or any other credential."""

from contextlib import contextmanager

from django.conf import settings
from django.db import transaction

from . import actions
from .services import record_event


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address in
    X-Forwarded-For that the outermost proxy received the request from (those to its left are
    the client's to write, so never trusted)."""
    if request is None:
        return ""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or ""


def _record(*, actor, action: str, obj, detail: dict) -> None:
    with transaction.atomic():
        record_event(actor=actor, action=action, obj=obj, detail=detail)


def on_login(sender, request, user, **kwargs) -> None:
    _record(actor=user, action=actions.AUTH_LOGIN, obj=user, detail={"username": user.get_username(), "ip": client_ip(request)})


def on_logout(sender, request, user, **kwargs) -> None:
    if user is None:  # logging out of no session
        return
    _record(actor=user, action=actions.AUTH_LOGOUT, obj=user, detail={"username": user.get_username(), "ip": client_ip(request)})


def record_lockout(*, request, username: str, failures: int) -> None:
    """Once per lockout (accounts/signals.py decides when): who was attempted, from where, after
    how many failures. A failed login alone writes nothing here: django-axes counts it."""
    from django.contrib.auth import get_user_model

    username = str(username or "")[:150]
    user_model = get_user_model()
    # The entry's object: the account attempted if it exists, else the user model itself (id "").
    target = user_model.objects.filter(username=username).first() or _NoAccount(user_model)
    _record(
        actor=None,
        action=actions.AUTH_LOCKED_OUT,
        obj=target,
        detail={"username": username, "ip": client_ip(request), "failures": failures},
    )


def record_lockout_lifted(*, request, username: str, address: str, reason: str) -> None:
    """An administrator deleted counted failures (a lockout, or the way to one) in the admin, for ``reason``."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    target = user_model.objects.filter(username=username).first() or _NoAccount(user_model)
    record_event(
        actor=request.user,
        action=actions.AUTH_LOCKOUT_LIFTED,
        obj=target,
        reason=reason,
        detail={"username": username, "address": address, "ip": client_ip(request)},
    )


def record_token_issued(*, request, user, replaced: int) -> None:
    """Called in the transaction that issued the token (never the token itself); ``replaced``:
    how many earlier tokens of the user the new one revoked."""
    record_event(
        actor=user,
        action=actions.AUTH_TOKEN_ISSUED,
        obj=user,
        detail={"username": user.get_username(), "ip": client_ip(request), "new_token": True, "replaced": replaced},
    )


def record_token_revoked(*, request, user) -> None:
    """The owner revoked the token (a password change or a deactivation revokes without an entry:
    the user's change is recorded)."""
    record_event(
        actor=user,
        action=actions.AUTH_TOKEN_REVOKED,
        obj=user,
        detail={"username": user.get_username(), "ip": client_ip(request)},
    )


@contextmanager
def password_set_recorded(*, request, user, reason: str = ""):
    """Around a page that may set ``user``'s password (the admin's password pages, a user's and
    one's own): one transaction, and in it an entry when the stored password changed (see
    record_password_set), with the administrator's ``reason`` (a user's page asks it). ``user``
    None (no such account): the page answers without a change."""
    with transaction.atomic():
        before = stored_password(user)
        yield
        if user is not None:
            record_password_set(
                actor=request.user, user=user, before=before, via="admin", where={"ip": client_ip(request)}, reason=reason
            )


def record_password_set(*, actor, user, before: str | None, via: str, where: dict, reason: str = "") -> None:
    """An entry when ``user``'s stored password is no longer ``before``: who set it (None: the
    console), whose, whether it can still be used to sign in, how and from where, and why when
    told. Never the password or its hash."""
    user.refresh_from_db(fields=["password"])
    if user.password != before:
        record_event(
            actor=actor,
            action=actions.USER_PASSWORD_SET,
            obj=user,
            reason=reason,
            detail={"via": via, "username": user.get_username(), "usable": user.has_usable_password(), **where},
        )


def stored_password(user) -> str | None:
    if user is None:
        return None
    from django.contrib.auth import get_user_model

    return get_user_model()._default_manager.filter(pk=user.pk).values_list("password", flat=True).first()


def record_reauthenticated(*, request, user, purpose: str) -> None:
    """The password given again before ``purpose`` (an action identifier of this registry)."""
    _record(
        actor=user,
        action=actions.AUTH_REAUTHENTICATED,
        obj=user,
        detail={"username": user.get_username(), "ip": client_ip(request), "purpose": purpose},
    )


def record_denied(*, request, status: int, code: str = "") -> None:
    user = request.user
    _record(
        actor=user,
        action=actions.ACCESS_DENIED,
        obj=user,
        detail={"path": request.path[:500], "method": request.method, "status": status, "code": code, "ip": client_ip(request)},
    )


class _NoAccount:
    """Stands in as the object of a failed login for a username no account has."""

    pk = ""

    def __init__(self, model):
        self._meta = model._meta
