from django.conf import settings
from django.db import models
from django.utils import timezone


class UserSession(models.Model):
    """A session a login opened, so that every session of a user can be ended at once (the
    session table itself does not say whose a session is without decoding every row)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=40, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user"])]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.session_key[:6]}…"


class ApiToken(models.Model):
    """A user's API token (one at a time): only the SHA-256 digest of its key is kept, so the
    database, or a backup of it, holds nothing that authenticates (accounts/tokens.py). The key
    itself is in the login's answer, once."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)  # hex SHA-256 of the key; looked up by equality
    # Not auto_now_add: the migration from DRF's tokens keeps each token's issue time (its expiry).
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user_id}@{self.created:%Y-%m-%d %H:%M}"
