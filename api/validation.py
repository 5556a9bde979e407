"""Bounds on every request body, from the serializers that document it.

Every *Input serializer of the API derives from BoundedSerializer, which gives each of its
fields the plausible bounds of claims/bounds.py unless the field states its own: text at most
TEXT_MAX_LENGTH characters (a field filling a column says the column's length:
``column_length(Model, "name")``), whole numbers at most ID_MAX, dates within DATE_MIN–DATE_MAX.
The schema shows these bounds (maxLength, maximum).

``bounded_body`` checks a request body against its serializer's bounds and answers 400 naming
each field past one, or holding a type the field never takes (a list as a text, "maybe" as a
boolean); what the values mean (required, a known code, a valid amount) stays the services' to
check and to word, as before. NUL bytes and deep nesting never get this far
(api/parsers.py).
"""

from django.core.validators import MaxLengthValidator, MaxValueValidator
from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from claims.bounds import ID_MAX, TEXT_MAX_LENGTH, validate_plausible_date
from claims.errors import InvalidInput

# The error codes of DRF's fields and of claims.bounds that mean "past a bound".
BOUND_CODES = frozenset(
    {
        "max_length",
        "max_string_length",
        "max_value",
        "min_value",
        "max_digits",
        "max_whole_digits",
        "max_decimal_places",
        "null_characters_not_allowed",
        "date_range",
    }
)


def bound_field(field: serializers.Field) -> None:
    """Give ``field`` (and a list's child) the default bounds it does not state itself."""
    if isinstance(field, serializers.ListField):
        bound_field(field.child)
        return
    if field.read_only:
        return
    if isinstance(field, serializers.CharField) and field.max_length is None:
        field.max_length = TEXT_MAX_LENGTH
        message = field.error_messages["max_length"].format(max_length=TEXT_MAX_LENGTH)
        field.validators.append(MaxLengthValidator(TEXT_MAX_LENGTH, message=message))
    elif isinstance(field, serializers.IntegerField) and field.max_value is None:
        field.max_value = ID_MAX
        message = field.error_messages["max_value"].format(max_value=ID_MAX)
        field.validators.append(MaxValueValidator(ID_MAX, message=message))
    elif isinstance(field, serializers.DateField):
        field.validators.append(validate_plausible_date)


class BoundedSerializer(serializers.Serializer):
    """A request body's shape, every field bounded (see the module's docstring)."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            bound_field(field)
        return fields


# The fields whose "invalid" says the value is of a type the field never takes: a list or an object
# where text is expected (str() would make "['a']" of it, into the ledger), a word that is no
# boolean ("maybe"; DRF's other spellings, "yes", "on", stay true). Other fields' "invalid" (a
# number, a date) is the services' to word.
TYPE_CHECKED_FIELDS = (serializers.CharField, serializers.BooleanField)


def _refused(error, field) -> bool:
    if not isinstance(error, ErrorDetail):
        return False
    return error.code in BOUND_CODES or (error.code == "invalid" and isinstance(field, TYPE_CHECKED_FIELDS))


def _child(field, key):
    """The field that holds ``key`` (a name, or a list's index) of ``field``'s value."""
    if isinstance(field, (serializers.ListField, serializers.ListSerializer)):
        return field.child
    if isinstance(field, serializers.Serializer):
        return field.fields.get(key)
    return None


def bounds_only(detail, field=None):
    """DRF's error detail of ``field`` (a serializer), keeping only the errors that say a value is
    past a bound, or of a type its field never takes (TYPE_CHECKED_FIELDS); lists of per-item
    errors keep their positions, so the paths stay right. None when there are none."""
    if isinstance(detail, dict):
        kept = {key: found for key, value in detail.items() if (found := bounds_only(value, _child(field, key)))}
        return kept or None
    if isinstance(detail, list):
        if any(isinstance(item, (dict, list)) for item in detail):
            kept = [bounds_only(item, _child(field, index)) or {} for index, item in enumerate(detail)]
            return kept if any(kept) else None
        kept = [item for item in detail if _refused(item, field)]
        return kept or None
    return [detail] if _refused(detail, field) else None


def body(request) -> dict:
    """The request body as the services expect it: a JSON object."""
    if not isinstance(request.data, dict):
        raise InvalidInput(_("请求体须为 JSON 对象。"), fields={"non_field_errors": [_("请求体须为 JSON 对象。")]})
    return request.data


def bounded_body(request, serializer_class: type[serializers.Serializer]) -> dict:
    """The request's JSON object, once no field of it is past its bound (else a 400 naming them)."""
    data = body(request)
    serializer = serializer_class(data=data, partial=True)
    if not serializer.is_valid() and (refused := bounds_only(serializer.errors, serializer)):
        raise serializers.ValidationError(refused)
    return data
