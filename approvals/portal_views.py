"""The provider's dashboard: its claims by status, what needs action first, what it was paid.
Thin: workflow.portal reads everything, in the clerk's scope."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_GET

from claims import access
from claims.http import scoped
from workflow.portal import provider_dashboard


@require_GET
@scoped
def portal(request):
    if not access.may(request.user, access.DRAFT_CLAIM):
        raise PermissionDenied
    return render(request, "approvals/portal.html", {"dashboard": provider_dashboard(request.user)})
