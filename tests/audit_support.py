"""Helpers shared by the audit ledger tests: a signing key of the test's own, and a way
around the append-only triggers for the tests that tamper with the ledger on purpose."""

import contextlib

import pytest
from django.db import connection

from audit import signing


@pytest.fixture
def audit_key(settings):
    """A fresh Ed25519 signing key in settings (no key file read or written)."""
    settings.AUDIT_SIGNING_KEY = signing.new_seed_text()
    settings.AUDIT_VERIFIER_KEY = ""
    return signing.signer()


@contextlib.contextmanager
def triggers_disabled(*tables: str):
    """On PostgreSQL, ALTER TABLE … DISABLE TRIGGER the append-only triggers of ``tables``
    (default: the entries) and enable them again after; SQLite has none."""
    tables = tables or ("audit_auditevent",)
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # Inside a test's transaction, deferred foreign-key checks of rows just inserted are
        # pending trigger events, and ALTER TABLE refuses to run with those: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in tables:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def tamper(model, pk, **changes):
    """Change a ledger row behind the application's back, as someone with the database could."""
    with triggers_disabled(model._meta.db_table):
        model.objects.filter(pk=pk).update(**changes)
