"""What the claim page shows of a line's payment: who may act on it (cancel its payment, recover it)."""

from django import template

from payments import access

register = template.Library()


@register.filter
def payments_may(user, capability: str) -> bool:
    """``user|payments_may:"open_recoveries"``: a capability of payments.access. What the user
    holds is read once per request (cached on the user): the claim page asks once per line."""
    held = getattr(user, "_payments_capabilities", None)
    if held is None:
        held = access.capabilities_of(user)
        user._payments_capabilities = held
    if capability not in access.CAPABILITIES:
        raise template.TemplateSyntaxError(f"payments_may: no capability {capability!r} in payments.access")
    return capability in held
