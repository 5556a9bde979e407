"""Every API error has one shape: {"error": {"code", "message", "fields"}}.

Domain errors carry their own status (400/403/404/409); DRF's exceptions keep theirs;
a flow lock that could not be had means someone else is acting on the step (409).
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
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
