"""Filling AuditEvent.jurisdiction_id of entries written before the column existed (data migrations
of the apps that know the objects: the ledger knows no claims).

Only that column of rows where it is still null is set; no entry's bytes, hash or other column
changes, so the hash chain and the signed checkpoints verify as before. On PostgreSQL the
append-only trigger (audit/migrations/0004) is disabled for these statements and enabled again
in the same transaction: the migration runs as the tables' owner, a visible, one-off act."""

TABLE = "audit_auditevent"
TRIGGER = "audit_auditevent_append_only"


def by_claim() -> str:
    """Entries of a claim belong to the claim's jurisdiction."""
    return (
        f"UPDATE {TABLE} SET jurisdiction_id = (SELECT c.jurisdiction_id FROM claims_claim c WHERE c.id = {TABLE}.claim_id) "
        f"WHERE jurisdiction_id IS NULL AND claim_id IS NOT NULL"
    )


def by_object(object_type: str, jurisdiction_of_object: str) -> str:
    """Entries whose object is ``object_type`` (app_label.model): ``jurisdiction_of_object`` is a
    SELECT of the jurisdiction id with ``{object_id}`` where the object's id goes. Ids are compared
    as text (object_id is text, and the object of a failed sign-in has the id "")."""
    select = jurisdiction_of_object.format(object_id=f"{TABLE}.object_id")
    return f"UPDATE {TABLE} SET jurisdiction_id = ({select}) WHERE jurisdiction_id IS NULL AND object_type = '{object_type}'"


def fill(schema_editor, statements: list[str]) -> None:
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TRIGGER}")
    for statement in statements:
        schema_editor.execute(statement)
    if postgresql:
        schema_editor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {TRIGGER}")
