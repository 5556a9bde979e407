"""Access events in the ledger: logins, failed logins, logouts, issued API tokens, denied accesses.

They are not changes of a claim, so each is written in a transaction of its own (a login
has no transaction of its change to join; a denied request's transaction, if any, is over
or rolled back). Only the username attempted and the client's address are kept: never a
password or any other credential."""

from django.db import transaction

from . import actions
from .services import record_event


def client_ip(request) -> str:
    if request is None:
        return ""
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


def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    from django.contrib.auth import get_user_model

    username = str(credentials.get("username") or "")[:150]
    user_model = get_user_model()
    # The entry's object: the account attempted if it exists, else the user model itself (id "").
    target = user_model.objects.filter(username=username).first() or _NoAccount(user_model)
    _record(actor=None, action=actions.AUTH_LOGIN_FAILED, obj=target, detail={"username": username, "ip": client_ip(request)})


def record_token_issued(*, request, user, created: bool) -> None:
    """Called in the transaction that fetched or created the token (never the token itself)."""
    record_event(
        actor=user,
        action=actions.AUTH_TOKEN_ISSUED,
        obj=user,
        detail={"username": user.get_username(), "ip": client_ip(request), "new_token": created},
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
