"""Keyset pages with a bounded count, for the lists that grow with the years (issue 12).

A page is read from where the last one ended (an index range: ``WHERE key < last key ORDER BY key
LIMIT n+1``), never with an OFFSET, which reads and throws away every row before it. The list's
count is exact up to ``COUNT_BOUND`` and then says "more than" it: counting further would read the
whole range for a figure nobody acts on. The inbox pages the same way (workflow.selectors.inbox_page).

A cursor is signed (HMAC with SECRET_KEY) for the list it was written by: its model and order. Its
keys then have the types that order's fields hold, so they can go into the WHERE as they are; a
cursor altered, made up, or written by another list or sort (``?sort=amount``'s cursor in the
default order) is refused as BadCursor, never a filter comparing an id with a word.
"""

import base64
import binascii
import datetime
import json
from dataclasses import dataclass
from decimal import Decimal

from django.core import signing
from django.db.models import Q, QuerySet

# Every list's count (the inbox's tabs, the claim lists, the auditor's search): exact up to this,
# then "1,000+". At a million claims an HR reviewer's queue holds tens of thousands of open
# tasks; counting to 10,000 took 17 ms of each inbox page, counting to 1,000 under 2.
COUNT_BOUND = 1_000


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class KeysetPage:
    items: list
    next_cursor: str | None  # the keyset of the page after this one, or None at the end
    count: int  # rows in the list, exact up to COUNT_BOUND
    count_capped: bool  # True: there are more than ``count``

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


def bounded_count(queryset: QuerySet) -> tuple[int, bool]:
    """(the count up to COUNT_BOUND, whether there are more): reads at most COUNT_BOUND + 1 index entries."""
    if queryset.query.values_select or queryset.query.group_by:
        rows = queryset.order_by()  # already one value per row (e.g. distinct claim ids)
    else:
        rows = queryset.order_by().values("pk")
    counted = rows[: COUNT_BOUND + 1].count()
    return min(counted, COUNT_BOUND), counted > COUNT_BOUND


def _plain(value):
    if isinstance(value, datetime.datetime):
        return {"t": value.isoformat()}
    if isinstance(value, datetime.date):  # a day (after datetime: a datetime is a date too)
        return {"day": value.isoformat()}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    return value


def _typed(value):
    if isinstance(value, dict) and set(value) == {"t"}:
        moment = datetime.datetime.fromisoformat(value["t"])
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment
    if isinstance(value, dict) and set(value) == {"day"}:
        return datetime.date.fromisoformat(value["day"])
    if isinstance(value, dict) and set(value) == {"d"}:
        return Decimal(value["d"])
    if value is None or isinstance(value, int | str) and not isinstance(value, bool):
        return value
    raise ValueError("not a key")


def _signer(queryset: QuerySet, order: tuple[str, ...]) -> signing.Signer:
    # "." joins the keys and their signature: it is in no base64url text, and needs no escaping in an address.
    return signing.Signer(salt=f"claims.keyset:{queryset.model._meta.label}:{','.join(order)}", sep=".")


def encode_cursor(values: list, *, queryset: QuerySet, order: tuple[str, ...]) -> str:
    """The keys of a list's last row read, signed for that list: its model and ``order``."""
    text = json.dumps([_plain(value) for value in values], separators=(",", ":"))
    return _signer(queryset, order).sign(base64.urlsafe_b64encode(text.encode()).decode().rstrip("="))


def decode_cursor(cursor: str, *, queryset: QuerySet, order: tuple[str, ...]) -> list:
    """The keys ``encode_cursor`` signed for this list and order; BadCursor for any other text."""
    try:
        keys = _signer(queryset, order).unsign(cursor)
        values = json.loads(base64.urlsafe_b64decode(keys + "=" * (-len(keys) % 4)).decode())
        if not isinstance(values, list) or len(values) != len(order):
            raise ValueError("width")
        return [_typed(value) for value in values]
    except (signing.BadSignature, ValueError, TypeError, UnicodeDecodeError, binascii.Error):
        raise BadCursor(cursor) from None


def _after_key(name: str, descending: bool, value, rest: Q | None, nullable: bool) -> Q:
    """Rows after ``value`` of one key, ties broken by ``rest`` (the keys after it). PostgreSQL's
    order: ascending puts NULLs last, descending first. ``name <= value`` (or ``>=``) is the range the
    index scan starts from; the OR only drops the ties."""
    before, beyond = ("lt", "lte") if descending else ("gt", "gte")
    if value is None:
        # Among the NULLs (first when descending, last when ascending).
        tied = Q(**{f"{name}__isnull": True}) & (rest if rest is not None else Q(pk__in=[]))
        return tied | Q(**{f"{name}__isnull": False}) if descending else tied
    strictly = Q(**{f"{name}__{before}": value})
    if nullable and not descending:
        strictly |= Q(**{f"{name}__isnull": True})
    if rest is None:
        return strictly
    return (Q(**{f"{name}__{beyond}": value}) | strictly) & (strictly | rest)


def after(order: tuple[str, ...], values: list, *, nullable: frozenset = frozenset()) -> Q:
    """The rows after the row whose keys are ``values`` in ``order`` (Django order names, e.g. ("-submitted_at", "-id"))."""
    condition = None
    for name, value in reversed(list(zip(order, values, strict=True))):
        field = name.lstrip("-")
        condition = _after_key(field, name.startswith("-"), value, condition, field in nullable)
    return condition


def keyset_page(
    queryset: QuerySet,
    *,
    order: tuple[str, ...],
    cursor: str | None,
    size: int,
    nullable=frozenset(),
    counted=None,
    budget: tuple[str, int] | None = None,
) -> KeysetPage:
    """One page of ``queryset`` in ``order`` (its last key unique, e.g. the id), after ``cursor``,
    with the list's bounded count. ``nullable``: the keys that may be NULL (PostgreSQL's NULL order).
    ``counted``: what to count when the rows are groups (a queryset of one row per group), else the rows.
    ``budget`` (an attribute of the rows, the most a page holds of it): the page ends early once
    its rows hold that much (within_budget)."""
    page_rows = queryset.order_by(*order)
    if cursor:
        keys = decode_cursor(cursor, queryset=queryset, order=order)
        page_rows = page_rows.filter(after(order, keys, nullable=frozenset(nullable)))
    rows = list(page_rows[: size + 1])
    count, capped = bounded_count(queryset if counted is None else counted)
    items = within_budget(rows[:size], budget)
    next_cursor = cursor_after(items[-1], queryset=queryset, order=order) if len(rows) > len(items) else None
    return KeysetPage(items=items, next_cursor=next_cursor, count=count, count_capped=capped)


def within_budget(rows: list, budget: tuple[str, int] | None) -> list:
    """The first rows whose ``budget`` attribute adds up to at most its bound; the first row always
    (a page is never empty): e.g. claims up to 2,000 lines, a claim of more alone on its page."""
    if budget is None:
        return rows
    name, most = budget
    held = 0
    for index, row in enumerate(rows):
        held += _value(row, name)
        if held > most and index > 0:
            return rows[:index]
    return rows


def cursor_after(row, *, queryset: QuerySet, order: tuple[str, ...]) -> str:
    """The cursor of the page that follows ``row`` (a row of ``queryset`` read in ``order``)."""
    return encode_cursor([_value(row, name.lstrip("-")) for name in order], queryset=queryset, order=order)


def _value(row, name: str):
    if isinstance(row, dict):
        return row[name]
    return getattr(row, "pk" if name == "pk" else name)
