from django.conf import settings
from django.db import models


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
