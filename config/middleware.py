from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.translation import gettext as _
from django.views import defaults

from api import errors
from claims.bounds import character_refusal, visible


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
    parsers (api/parsers.py), Django's form fields and the services."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        field, refusal = None, character_refusal(request.path_info)
        if refusal:
            field = "path"
        else:
            for key, values in request.GET.lists():
                refusal = next(filter(None, map(character_refusal, (key, *values))), None)
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
