"""What the claim page shows of a line's payment: who may act on it (HR: cancel, recover)."""

from django import template

from payments.selectors.results import is_hr as _is_hr

register = template.Library()


@register.filter
def is_hr(user) -> bool:
    """Cached on the user for the request: the claim page asks once per line."""
    cached = getattr(user, "_payments_is_hr", None)
    if cached is None:
        cached = _is_hr(user)
        user._payments_is_hr = cached
    return cached
