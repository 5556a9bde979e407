"""The occupation table (claims.models.Occupation): resolving what a line says its occupation is,
and writing the table.

A line names its occupation by the name or by an alias (低压电工作业, 电工作业 and 维修电工 are
电工, 6-31-01-03); what is written is compared after normalisation (``occupation_key``): full-width
and half-width forms are one (NFKC), spaces anywhere are ignored, Latin letters in any case.
An occupation the table does not know (or no longer accepts) is refused with the text as given.
"""

import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .models import Occupation, OccupationKey


def occupation_key(text: str) -> str:
    """养老护理员, "养老 护理员 " and "养老　护理员" (an ideographic space) are one key."""
    return "".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


# What occupations_read_once has looked up: key → the OccupationKey found, or None.
_read_once: ContextVar[dict[str, OccupationKey | None] | None] = ContextVar("occupations_read_once", default=None)


@contextmanager
def occupations_read_once() -> Iterator[None]:
    """Within it, each occupation text is looked up once: a claim's or a roster's thousands of
    lines name a few occupations, not one query a line. Scoped to one parse (a request, a roster),
    so a change of the table is seen by the next. Nested: the outer scope's lookups are kept."""
    if _read_once.get() is not None:
        yield
        return
    token = _read_once.set({})
    try:
        yield
    finally:
        _read_once.reset(token)


def resolve_occupation(text: str) -> Occupation:
    """The active occupation the text names (its name or an alias), or ValidationError."""
    key = occupation_key(text)
    read = _read_once.get()
    if read is not None and key in read:
        found = read[key]
    else:
        found = OccupationKey.objects.filter(key=key, occupation__active=True).select_related("occupation").first()
        if read is not None:
            read[key] = found
    if found is None:
        raise ValidationError(_("未知的职业（工种）：%(value)s；请使用国家职业分类大典中的职业（工种）名称。") % {"value": text})
    return found.occupation


@transaction.atomic
def ensure_occupation(*, code: str, name: str, aliases: Iterable[str] = (), active: bool = True) -> Occupation:
    """Create or update the occupation of this code, and the keys it is found by (its name and
    aliases). A name or alias already naming another occupation is refused (ValueError): one
    text names one occupation."""
    aliases = [alias for alias in dict.fromkeys(aliases) if occupation_key(alias) != occupation_key(name)]
    occupation, _created = Occupation.objects.update_or_create(
        code=code, defaults={"name": name, "aliases": aliases, "active": active}
    )
    keys = set(dict.fromkeys(occupation_key(text) for text in (name, *aliases)))
    taken = OccupationKey.objects.filter(key__in=keys).exclude(occupation=occupation).select_related("occupation")
    for other in taken:
        raise ValueError(f"{other.key!r} already names {other.occupation.code} {other.occupation.name}")
    OccupationKey.objects.filter(occupation=occupation).exclude(key__in=keys).delete()
    existing = set(OccupationKey.objects.filter(occupation=occupation).values_list("key", flat=True))
    OccupationKey.objects.bulk_create([OccupationKey(key=key, occupation=occupation) for key in sorted(keys - existing)])
    return occupation
