"""The plausible bounds of what anyone may type, defined once.

Every channel checks its input against these before anything reaches the database: the API
(api/parsers.py refuses NUL bytes and deep nesting in any body; api/validation.py's
BoundedSerializer gives every input field these bounds), the line field table
(claims/line_fields.py, hence the claim form, the roster file and the API's claim input) and
the pages' filters (auditor/views.py). A value past them is a 400 naming the field, never a
database error (a NUL byte, a text longer than its column, a number past its column, a date
whose day after does not exist).
"""

import datetime

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .dates import date_text

# No claim, receipt or ledger entry of this product is dated before 2000 or after 2099.
DATE_MIN = datetime.date(2000, 1, 1)
DATE_MAX = datetime.date(2099, 12, 31)

# Free text without a column limit of its own (reasons, comments): kept in TextFields and in the
# ledger, so bounded here.
TEXT_MAX_LENGTH = 2000

# A count of people (a plan's headcount): positive integer columns hold 2**31 - 1.
COUNT_MAX = 1_000_000

# An amount of money written as text ("8000000.00"); what it may be is the services' to check.
MONEY_TEXT_LENGTH = 32

# An object's id or a number in a list of them (BigAutoField ids, line numbers).
ID_MAX = 2**63 - 1

# How deep a JSON body may nest: the deepest shape the API takes is four levels
# (a decision's fix.lines[0]); the margin is for clients that wrap values.
JSON_MAX_DEPTH = 16

NUL_REFUSED = _("不能包含空字符（NUL）。")
DATE_OUT_OF_RANGE = _("日期须在 %(min)s 至 %(max)s 之间。")
NESTED_TOO_DEEP = _("嵌套超过 %(depth)d 层。")
NUMBER_TOO_LARGE = _("数值过大。")

reject_nul = ProhibitNullCharactersValidator(message=NUL_REFUSED, code="null_characters_not_allowed")


def has_nul(text: str) -> bool:
    return "\x00" in text


def validate_plausible_date(value: datetime.date) -> None:
    """DATE_MIN to DATE_MAX: no training in year 1 or 9999, no receipt in year 1."""
    if isinstance(value, datetime.datetime):
        value = value.date()
    if not DATE_MIN <= value <= DATE_MAX:
        raise ValidationError(
            DATE_OUT_OF_RANGE, code="date_range", params={"min": date_text(DATE_MIN), "max": date_text(DATE_MAX)}
        )


def date_out_of_range(value: datetime.date) -> str | None:
    """What validate_plausible_date says of ``value``, or None when it is within the bounds."""
    try:
        validate_plausible_date(value)
    except ValidationError as error:
        return error.messages[0]
    return None


def column_length(model: type[models.Model], name: str) -> int:
    """The max_length of a model's text column: the input bound of the field that fills it."""
    return model._meta.get_field(name).max_length
