"""What every page of ours shares: a login, and 404 for whatever is outside the user's scope."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404

from .errors import NotInScope


def scoped(view):
    """Login required; an object outside the user's scope is answered as if it did not exist."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotInScope:
            raise Http404 from None

    return wrapper
