"""Every API error has one shape: {"error": {"code", "message", "fields"}}.

Domain errors carry their own status (400/403/404/409); DRF's exceptions keep theirs;
a flow lock that could not be had means someone else is acting on the step (409); a body past
DATA_UPLOAD_MAX_MEMORY_SIZE is 413. What never reaches a view (an unknown path such as
/api/v1/claims/abc/, a crash) is answered in the same shape by the handlers at the end, which
config/urls.py installs for every path under /api/; pages keep Django's HTML ones.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback
from viewflow.workflow.exceptions import FlowLockFailed

from claims.errors import DomainError


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail, path: str, into: dict) -> None:
    """DRF's nested error detail → {"lines[1].level": ["..."]}, the paths the services use."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # a list's item (DRF's ListField and partial lists key errors by index)
                _flatten(value, f"{path}[{key}]", into)
            else:
                _flatten(value, f"{path}.{key}" if path else str(key), into)
    elif isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        for index, item in enumerate(detail):
            _flatten(item, f"{path}[{index}]", into)
    elif isinstance(detail, list):
        into.setdefault(path or "non_field_errors", []).extend(str(item) for item in detail)
    else:
        into.setdefault(path or "non_field_errors", []).append(str(detail))


def _api_exception_body(exc: exceptions.APIException) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        fields: dict = {}
        _flatten(exc.detail, "", fields)
        return error_body("invalid", _("输入有误。"), fields)
    detail = exc.detail
    code = getattr(detail, "code", None) or exc.default_code
    return error_body(str(code), str(detail))


def json_error_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        return Response(too_large_body(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, FlowLockFailed):
        set_rollback()
        return Response(error_body("conflict", _("该步骤正由他人处理，请稍后重试。")), status=status.HTTP_409_CONFLICT)
    # Same conversions as DRF's own handler, done here so the body can name the right code.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: a bug, let it surface as a 500
    response.data = _api_exception_body(exc)
    return response


def too_large_body() -> dict:
    return error_body("too_large", _("请求体过大。"))


# --------------------------------------------------------------------------- outside the views


def is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def _json(body: dict, status_code: int) -> JsonResponse:
    return JsonResponse(body, status=status_code, json_dumps_params={"ensure_ascii": False})


def not_found(request, exception=None):
    if is_api(request):
        return _json(error_body("not_found", str(exceptions.NotFound.default_detail)), 404)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    if is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return _json(too_large_body(), 413)
        return _json(error_body("bad_request", _("请求有误。")), 400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api(request):
        return _json(error_body("permission_denied", str(exceptions.PermissionDenied.default_detail)), 403)
    return defaults.permission_denied(request, exception)


def server_error(request):
    if is_api(request):
        return _json(error_body("server_error", _("服务器内部错误，已记录。")), 500)
    return defaults.server_error(request)
