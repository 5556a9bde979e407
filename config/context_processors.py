"""What every page's menu needs: the capabilities the signed-in user holds, as the apps'
access modules define them (the menu shows a link only to whom its page lets in)."""

from importlib import import_module

from django.conf import settings
from django.utils.functional import SimpleLazyObject


def capabilities(request):
    """``capabilities``: a set of capability names, computed only when a template reads it."""

    def held():
        modules = [import_module(path) for path in settings.ACCESS_MODULES]
        return frozenset().union(*(module.capabilities_of(request.user) for module in modules))

    return {"capabilities": SimpleLazyObject(held)}


def notifications(request):
    """``unread_notifications``: the bell's count, read only when a template shows it."""

    def unread():
        from notifications.selectors import unread_count

        return unread_count(request.user)

    return {"unread_notifications": SimpleLazyObject(unread)}
