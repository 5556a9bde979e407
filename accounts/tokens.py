"""API tokens: DRF's authtoken, one per user, that expires API_TOKEN_HOURS after issue. A login
issues a new one (the old one stops working); a password change, a deactivation and the owner
revoke it."""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


def expires_at(token: Token) -> datetime.datetime:
    return token.created + datetime.timedelta(hours=settings.API_TOKEN_HOURS)


def issue_token(user) -> tuple[Token, int]:
    """A new token for the user, replacing any earlier one: (the token, how many were revoked)."""
    with transaction.atomic():
        revoked = revoke_tokens(user)
        return Token.objects.create(user=user), revoked


def revoke_tokens(user) -> int:
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted


class TokenExpired(exceptions.AuthenticationFailed):
    default_detail = _("令牌已过期，请重新获取。")
    default_code = "token_expired"


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing (and deleting) a token older than API_TOKEN_HOURS."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if timezone.now() >= expires_at(token):
            token.delete()
            raise TokenExpired()
        return user, token
