"""What the claim page shows of a line's payment: who may act on it (HR: cancel, recover)."""

from django import template

from claims import roles

register = template.Library()


@register.filter
def is_hr(user) -> bool:
    """Cached on the user for the request: the claim page asks once per line."""
    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_payments_is_hr", None)
    if cached is None:
        cached = bool(roles.roles_of(user) & {roles.HR_REVIEWER, roles.HR_HEAD})
        user._payments_is_hr = cached
    return cached
