"""The plausible bounds of what anyone may type, defined once.

Every channel checks its input against these before anything reaches the database: the API
(api/parsers.py refuses refused characters and deep nesting in any body; api/validation.py's
BoundedSerializer gives every input field these bounds), the line field table
(claims/line_fields.py, hence the claim form, the roster file and the API's claim input), the
services that take free text (comments, reasons, objections) and the pages' filters
(auditor/views.py). A value past them is a 400 naming the field, never a database error or a
file that cannot be written later (a NUL byte, a control character, a lone surrogate, a text
longer than its column, a number past its column, a date whose day after does not exist).
"""

import datetime
import re

from django import forms
from django.core.exceptions import ValidationError
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

# The characters no text of ours may hold, wherever it comes in. They look like nothing on screen
# (a reviewer cannot see them) and break what is made of the text later:
# - NUL and the other C0 controls but tab, newline and carriage return (which a textarea or a
#   pasted table brings): PostgreSQL refuses NUL, and no spreadsheet (XML) can hold the others;
# - DEL and the C1 controls (U+0080-U+009F): XML holds them, but nobody types them; they come
#   from mis-decoded text or on purpose, and make two names that look alike differ;
# - lone surrogates (a JSON escape such as \ud800): no UTF-8 text, so no column, can hold them;
# - U+FFFE and U+FFFF, not characters at all, which XML cannot hold either;
# - the bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): shown,
#   they reorder the text around them, so a reviewer reads what is not stored ("Trojan Source");
# - the zero-width space, the word joiner and the zero-width no-break space (U+200B, U+2060,
#   U+FEFF, a byte-order mark inside a text): a second spelling of a name, a class or a voucher
#   that looks the same. Joiners (U+200C, U+200D) stay: scripts and emoji need them.
REFUSED_CHARACTER = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u200b\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)

CHARACTER_REFUSED = _("不能包含控制字符或无效字符（此处有 U+%(code)s）。")
DATE_OUT_OF_RANGE = _("日期须在 %(min)s 至 %(max)s 之间。")
NESTED_TOO_DEEP = _("嵌套超过 %(depth)d 层。")
NUMBER_TOO_LARGE = _("数值过大。")
REASON_MISSING = _("必填。")
TOO_LONG = _("不能超过 %(n)d 个字符。")


def character_refusal(text: str) -> str | None:
    """What is wrong with ``text``'s characters (naming the first refused one, which the user
    cannot see), or None when it holds none of REFUSED_CHARACTER."""
    found = REFUSED_CHARACTER.search(text)
    if found is None:
        return None
    return CHARACTER_REFUSED % {"code": f"{ord(found.group()):04X}"}


def reject_refused_characters(value: str) -> None:
    """character_refusal as a validator."""
    message = character_refusal(value)
    if message is not None:
        raise ValidationError(message, code="refused_character")


def visible(text: str) -> str:
    """``text`` with each refused character written as its JSON escape (``\\u000b``): how an error
    names a key that holds one (the key itself could not be shown, nor a lone surrogate encoded)."""
    return REFUSED_CHARACTER.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


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


def whole_number(value, *, maximum: int = ID_MAX) -> int | None:
    """``value`` as an id or a line number, 0 to ``maximum``: a JSON whole number (not a boolean),
    or its text in ASCII digits (spaces around it allowed, as a form sends them); None when it is
    neither. str.isdigit() alone is not enough: it takes "²", which int() refuses (a 500), and
    "١", which int() reads as 1."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= maximum else None
    if not isinstance(value, str):
        return None
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(maximum)):
        return None
    number = int(digits)
    return number if number <= maximum else None


# --------------------------------------------------------------------------- the reason for a change


def reason_refusal(reason: str, *, limit: int = TEXT_MAX_LENGTH, required: bool = True) -> str | None:
    """What is wrong with a person's written reason for a change (already stripped): missing,
    a refused character, longer than ``limit``; None when it may go in the ledger
    (audit.actions.REASON_REQUIRED: the ledger refuses such an entry without it)."""
    if not reason:
        return str(REASON_MISSING) if required else None
    if (refusal := character_refusal(reason)) is not None:
        return refusal
    if len(reason) > limit:
        return TOO_LONG % {"n": limit}
    return None


class ChangeReasonField(forms.CharField):
    """Why a change is made: not a field of the object, so never listed as changed (the admin's history)."""

    def has_changed(self, initial, data) -> bool:
        return False


def change_reason_field() -> forms.Field:
    """The form field of a person's reason for a change, required, kept in its ledger entries
    (``reason``): the admin's pages (config/admin_site.py) and the catalogue's ask it alike."""
    return ChangeReasonField(
        label=_("变更理由"),
        help_text=_("写明为何作此变更；理由随变更记入审计台账。"),
        max_length=TEXT_MAX_LENGTH,
        validators=[reject_refused_characters],
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )
