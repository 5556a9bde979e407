"""The claims and jurisdictions an entry belongs to: by id in its columns (claim_id,
jurisdiction_id: who may read it), by name in its bytes (a claim's number, a jurisdiction's code).

The ledger imports no app of ours: the app that owns the claims says where their numbers and
jurisdictions are (claims' AppConfig.ready calls ``register``). record_event reads a
jurisdiction's code here for a new entry's bytes, and the verification (audit.copies) joins these
tables to check that the columns name what the bytes name. Numbers and codes are never changed
(read-only everywhere): an entry names its claim and jurisdiction by them for good."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db import connection


@dataclass(frozen=True)
class NamedTable:
    """A table whose rows the ledger names by a unique, unchanging column."""

    model: type
    name_field: str  # the claim's number, the jurisdiction's code
    jurisdiction_field: str = ""  # a claim's jurisdiction (a foreign key), when the rows have one

    @property
    def table(self) -> str:
        return connection.ops.quote_name(self.model._meta.db_table)

    def column(self, field: str) -> str:
        return connection.ops.quote_name(self.model._meta.get_field(field).column)

    def names_of(self, ids) -> dict[int, str]:
        """{id: name} of the rows with ``ids``."""
        return dict(self.model._base_manager.filter(pk__in=set(ids)).values_list("pk", self.name_field))

    def named(self, names) -> dict[str, tuple[int, int | None]]:
        """{name: (id, jurisdiction id or None)} of the rows named ``names``."""
        extra = [self.model._meta.get_field(self.jurisdiction_field).attname] if self.jurisdiction_field else []
        found = self.model._base_manager.filter(**{f"{self.name_field}__in": set(names)}).values_list(
            self.name_field, "pk", *extra
        )
        return {name: (pk, rest[0] if rest else None) for name, pk, *rest in found}


_registered: dict[str, NamedTable] = {}


def register(*, claims: NamedTable, jurisdictions: NamedTable) -> None:
    _registered.update(claims=claims, jurisdictions=jurisdictions)


def _table(kind: str) -> NamedTable:
    try:
        return _registered[kind]
    except KeyError:
        raise ImproperlyConfigured(
            f"the ledger does not know where the {kind} its entries name are: audit.references.register was not called"
        ) from None


def claims() -> NamedTable:
    return _table("claims")


def jurisdictions() -> NamedTable:
    return _table("jurisdictions")


def code_already_read(jurisdiction_id: int | None, *objects) -> str | None:
    """The code of the jurisdiction, when one of ``objects`` is it or was read with it (a claim
    read with its jurisdiction): no query; else None."""
    table = jurisdictions()
    for source in objects:
        if source is None or isinstance(source, int):
            continue
        state = getattr(source, "_state", None)  # a model instance (the ledger is also given stand-ins)
        found = source if isinstance(source, table.model) else state and state.fields_cache.get("jurisdiction")
        if found is not None and found.pk == jurisdiction_id:
            return getattr(found, table.name_field)
    return None


def jurisdiction_code(jurisdiction_id: int | None) -> str | None:
    """The code a new entry's bytes name its jurisdiction by (None: the bureau's own entry)."""
    if jurisdiction_id is None:
        return None
    code = jurisdictions().names_of([jurisdiction_id]).get(jurisdiction_id)
    if code is None:
        raise ValueError(f"no jurisdiction {jurisdiction_id}: an entry cannot belong to it")
    return code
