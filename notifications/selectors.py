"""Reads of a person's notifications: only ever their own, and only about what they still see."""

from collections.abc import Callable

from django.db.models import Q, QuerySet

from claims.classes import classes_visible_to
from claims.selectors import claims_visible_to

from .models import UNREAD, Channel, Kind, Notification, Preference

# What else a person reads beyond their own scope, as conditions on their notifications: the
# workflow (above this app) registers a substitute's delegated tasks (workflow/apps.py).
_ALSO_READ: list[Callable[[object], Q | None]] = []


def also_read(condition: Callable[[object], Q | None]) -> None:
    """Register ``condition(user)``: a Q on Notification of what else the user reads, or None."""
    _ALSO_READ.append(condition)


def _readable(user) -> Q:
    """Notifications about claims or classes the user sees now (claims_visible_to,
    classes_visible_to, their scope as constants in the statement): someone moved out of a
    department or jurisdiction no longer reads what it told them, as its claims are 404 to them.
    A condition on the rows of one query, never a check per row."""
    condition = Q(claim__in=claims_visible_to(user)) | Q(claim__isnull=True, training_class__in=classes_visible_to(user))
    for also in _ALSO_READ:
        extra = also(user)
        if extra is not None:
            condition |= extra
    return condition


def readable_notifications(user) -> QuerySet:
    """The user's own notifications that they may still read (unordered): what every list, count
    and mark as read starts from. The rows of the others stay, and come back with the scope."""
    if not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(_readable(user), recipient=user)


def notifications_of(user, *, unread_only: bool = False) -> QuerySet:
    """The user's notifications they may still read, newest first (nobody reads another's);
    ``unread_only``: those the bell counts (unread and not settled)."""
    items = readable_notifications(user)
    if unread_only:
        items = items.filter(UNREAD)
    return items.select_related("claim", "training_class").order_by("-created_at", "-pk")


def unread_count(user) -> int:
    return readable_notifications(user).filter(UNREAD).count()


def preferences_of(user) -> dict[str, str]:
    """Every kind with the user's channel (immediate e-mail unless they chose otherwise)."""
    chosen = dict(Preference.objects.filter(user=user).values_list("kind", "channel"))
    return {kind: chosen.get(kind, Channel.EMAIL) for kind in Kind.values}
