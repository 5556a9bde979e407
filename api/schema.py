"""The OpenAPI schema's error answers: ``errors(...)`` for those an operation declares, and the
AutoSchema (settings DEFAULT_SCHEMA_CLASS) adding those any operation may answer before or
besides its view's own checks, so that every status the API answers is one its schema lists:

- 400: config.middleware refuses a control character in any path or query string (and a
  page-numbered list a page that is no page, api/pagination.py);
- 401: an operation that needs a login, asked without one;
- 403: a permission class besides the login (HasCapability, MayReadLedger) refusing the
  caller's role; or, signed in by the session cookie, a write without its CSRF token.
"""

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, AllowAny, IsAuthenticated

from .serializers import ErrorSerializer

ERROR_DESCRIPTIONS = {
    400: "bad input; `fields` names each failing field by path (lines[1].level)",
    401: "not authenticated",
    403: "the caller's role may not do this",
    404: "not found or outside the caller's scope",
    409: "the step was already taken or decided",
    429: "`locked_out`: too many failed logins for the account or the address; try again later",
}
REFUSED_IN_ADDRESS = (
    "bad input: a refused character (a control character) in the path or the query string, or a "
    "parameter out of its range; `fields` names it"
)
CSRF_REFUSED = "signed in by the session cookie, a write without its CSRF token (`X-CSRFToken`)"


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


def errors(*statuses: int) -> dict:
    """The error answers an operation declares, in the API's error shape."""
    return {code: error_response(ERROR_DESCRIPTIONS[code]) for code in statuses}


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for status, description in self.implied_errors(operation).items():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(error_response(description), str(status))
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def implied_errors(self, operation: dict) -> dict[int, str]:
        """The error statuses this operation may answer whatever its view declares."""
        implied = {400: REFUSED_IN_ADDRESS}
        security = operation.get("security", [])
        if security and {} not in security:  # no anonymous access (drf-spectacular's reading of AllowAny)
            implied[401] = ERROR_DESCRIPTIONS[401]
        if any(not isinstance(permission, (IsAuthenticated, AllowAny)) for permission in self.view.get_permissions()):
            implied[403] = ERROR_DESCRIPTIONS[403]
        elif self.method not in SAFE_METHODS and any(
            isinstance(authenticator, SessionAuthentication) for authenticator in self.view.get_authenticators()
        ):
            implied[403] = CSRF_REFUSED
        return implied
