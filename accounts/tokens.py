"""API tokens, one per user, that expire API_TOKEN_HOURS after issue. A login issues a new one
(the old one stops working); a password change, a deactivation and the owner revoke it.

The key is 32 random bytes (URL-safe base64), handed out once; only its SHA-256 is stored
(accounts.models.ApiToken) and a request's key is looked up by its digest, an indexed equality
that compares no secret byte by byte. A plain hash, not an HMAC with a settings key: a key of
256 random bits cannot be guessed from its digest, and an HMAC would tie every live token to
that setting (rotating it would sign everyone out of the API)."""

import datetime
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from .models import ApiToken

KEY_BYTES = 32


def digest(key: str) -> str:
    """What is stored of a key (also by accounts/migrations/0002, hashing DRF's keys)."""
    return hashlib.sha256(key.encode()).hexdigest()


def expires_at(token: ApiToken) -> datetime.datetime:
    return token.created + datetime.timedelta(hours=settings.API_TOKEN_HOURS)


@dataclass(frozen=True)
class IssuedToken:
    key: str  # the only copy: for the login's answer
    expires: datetime.datetime


def issue_token(user) -> tuple[IssuedToken, int]:
    """A new token for the user, replacing any earlier one: (the key and its expiry, how many were revoked)."""
    key = secrets.token_urlsafe(KEY_BYTES)
    with transaction.atomic():
        # Two logins of one user at once take turns here: the later replaces the earlier's token
        # rather than both inserting one (a 500 on the one-per-user rule).
        type(user).objects.select_for_update().filter(pk=user.pk).exists()
        revoked = revoke_tokens(user)
        token = ApiToken.objects.create(user=user, digest=digest(key))
    return IssuedToken(key=key, expires=expires_at(token)), revoked


def revoke_tokens(user) -> int:
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted


class TokenExpired(exceptions.AuthenticationFailed):
    default_detail = _("令牌已过期，请重新获取。")
    default_code = "token_expired"


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>` header, the key looked up by its digest; a token older
    than API_TOKEN_HOURS is refused (and deleted)."""

    def authenticate_credentials(self, key):
        token = ApiToken.objects.select_related("user").filter(digest=digest(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed(_("认证令牌无效。"))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("用户未激活或者已删除。"))
        if timezone.now() >= expires_at(token):
            token.delete()
            raise TokenExpired()
        return token.user, token
