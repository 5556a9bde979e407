"""Reads of a person's notifications: only ever their own."""

from django.db.models import QuerySet

from .models import UNREAD, Channel, Kind, Notification, Preference


def notifications_of(user, *, unread_only: bool = False) -> QuerySet:
    """The user's notifications, newest first (nobody reads another's); ``unread_only``: those
    the bell counts (unread and not settled)."""
    if not user.is_authenticated:
        return Notification.objects.none()
    items = Notification.objects.filter(recipient=user)
    if unread_only:
        items = items.filter(UNREAD)
    return items.select_related("claim", "training_class").order_by("-created_at", "-pk")


def unread_count(user) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user).filter(UNREAD).count()


def preferences_of(user) -> dict[str, str]:
    """Every kind with the user's channel (immediate e-mail unless they chose otherwise)."""
    chosen = dict(Preference.objects.filter(user=user).values_list("kind", "channel"))
    return {kind: chosen.get(kind, Channel.EMAIL) for kind in Kind.values}
