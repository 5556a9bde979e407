from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import SuspiciousOperation
from django.http import JsonResponse
from django.middleware.gzip import GZipMiddleware
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views import defaults

from api import errors
from claims.bounds import character_refusal, visible


class GZipTextMiddleware(GZipMiddleware):
    """Pages, JSON and text files compressed for browsers that ask; a file already compressed (an
    .xlsx or .zip is a zip, a PDF or image packs its own) goes out as it is: gzip would spend the
    CPU of a large download for nothing, and a streamed one would lose its Content-Length."""

    COMPRESSED_TYPES = ("text/", "application/json", "application/javascript", "application/xml", "image/svg+xml")

    def process_response(self, request, response):
        if not response.get("Content-Type", "").startswith(self.COMPRESSED_TYPES):
            return response
        return super().process_response(request, response)


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    """Pages open in Simplified Chinese until the user picks another language (the
    set_language cookie), whatever the browser's Accept-Language says: bureau PCs are
    often set up in English. The API still honours Accept-Language for integrators."""

    def process_request(self, request):
        if request.path_info.startswith("/api/"):
            return super().process_request(request)
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen and translation.check_for_language(chosen) else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class RefuseBadCharactersInUrlMiddleware:
    """A character no text of ours may hold (claims.bounds.REFUSED_CHARACTER: NUL, a control
    character) in the path or the query string is a 400 before any view runs: no filter, lookup
    or form would hold it (PostgreSQL refuses NUL in text). Under /api/ the answer is the error
    shape naming the parameter; a page gets Django's 400 page. Bodies are checked by the API's
    parsers (api/parsers.py), Django's form fields and the services.

    Under /api/ a query parameter given twice is refused the same way: none takes two values, and
    the view would silently read the last (``?status=nope&status=draft``), while a proxy's log, a
    cache or the link someone was sent reads the first. Pages keep their multi-value filters."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        field, refusal = None, character_refusal(request.path_info)
        if refusal:
            field = "path"
        else:
            for key, values in request.GET.lists():
                refusal = next(filter(None, map(character_refusal, (key, *values))), None)
                if refusal is None and len(values) > 1 and errors.is_api(request):
                    refusal = _("只能给一个值（此处给了 %(count)d 个）。") % {"count": len(values)}
                if refusal:
                    field = visible(key)
                    break
        if field is None:
            return self.get_response(request)
        if errors.is_api(request):
            return JsonResponse(
                errors.error_body("invalid", _("输入有误。"), {field: [refusal]}),
                status=400,
                json_dumps_params={"ensure_ascii": False},
            )
        return defaults.bad_request(request, SuspiciousOperation("A refused character in the URL"))


class NoStoreWhenSignedInMiddleware:
    """Whatever is answered to a signed-in user (a session's, or one an API token or a login
    authenticated) is kept by no cache,
    the browser's or a shared one (Cache-Control: private, no-store): pages, exports and files
    show personal data, and on a shared bureau PC the back button or the disk cache would show
    them after logout. What is answered to someone not signed in (公示, the health probe) is left
    as it is; static files never get here (WhiteNoise answers them first).

    After AuthenticationMiddleware: it asks who is signed in, and DRF sets the user a token
    authenticated on the request too (a public API view sets an anonymous one: the session
    still says who it answers). On the way out it sees every response of the views and of the
    middleware after it (a denied access, the lockout page)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if (user is not None and user.is_authenticated) or (session is not None and SESSION_KEY in session):
            patch_cache_control(response, private=True, no_store=True)
        return response
