"""The path converter of every id and number in our URLs (``<id:pk>``, ``<id:line_no>``).

Django's ``<int:…>`` takes digits of any length. An id past what a database column holds
(claims.bounds.ID_MAX, a bigint) reached the views' lookups: Django answers "no match" for an
integer field's own lookup, but a foreign key's (``claim_id=…``) went to the database as it was,
and SQLite refuses such a number (OverflowError: a 500). Here such a path matches nothing: 404."""

from claims.bounds import ID_MAX


class IdConverter:
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > ID_MAX:
            raise ValueError(value)  # Django: the path matches nothing
        return number

    def to_url(self, value) -> str:
        return str(value)
