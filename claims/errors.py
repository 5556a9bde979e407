"""Domain errors raised by services; the API and the pages turn them into responses."""

from django.utils.translation import gettext as _


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, fields: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = str(message)
        self.fields = fields or {}
        if code:
            self.code = code


class InvalidInput(DomainError):
    """Bad input: 400, with the failing fields named (``lines[3].id_number``)."""

    code = "invalid"
    status = 400


class ActionForbidden(DomainError):
    """The user's role may not take this action, or segregation of duties forbids it: 403."""

    code = "forbidden"
    status = 403


class NotInScope(DomainError):
    """The object is outside the user's scope; answered as if it did not exist: 404. Its message,
    unless one is given, is the one every "not found" says, in the user's language."""

    code = "not_found"
    status = 404

    def __init__(self, message: str | None = None, **kwargs):
        super().__init__(message if message is not None else _("未找到。"), **kwargs)


class StepAlreadyTaken(DomainError):
    """The step was decided (or taken) by someone else meanwhile: 409."""

    code = "conflict"
    status = 409


class FundsExceeded(DomainError):
    """The action would commit more money than the department's allocation holds: 409."""

    code = "allocation_exceeded"
    status = 409
