"""Helpers shared by the audit ledger tests: a signing key of the test's own, actions of the
tests' own, and a way around the append-only triggers for the tests that tamper with the
ledger on purpose."""

import contextlib
import hashlib

import pytest
from django.db import connection, transaction
from django.utils import timezone

from audit import actions, services, signing
from audit.models import AuditEvent

# Entries that exist only to fill a test ledger; record_event refuses unregistered actions.
TEST_ACTIONS = ("test.event", "test.parallel", "test.after_hole")


@pytest.fixture
def audit_key(settings):
    """A fresh Ed25519 signing key in settings (no key file read or written)."""
    settings.AUDIT_SIGNING_KEY = signing.new_seed_text()
    settings.AUDIT_VERIFIER_KEY = ""
    return signing.signer()


@pytest.fixture
def ledger_test_actions(monkeypatch):
    """TEST_ACTIONS registered for the test (and unregistered after it)."""
    for action in TEST_ACTIONS:
        monkeypatch.setitem(actions.REGISTRY, action, action)
    return TEST_ACTIONS


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


def old_format_entry(*, claim, reason: str) -> AuditEvent:
    """An entry of ``claim`` as record_event wrote it before the bytes named a jurisdiction (no
    such key), with the jurisdiction the backfill gave it (audit/backfill.py: its claim's)."""
    with transaction.atomic():
        seq, prev_hash = services._head()
        draft = services._draft(
            actor=None, action="claim.edited", obj=claim, claim=claim, from_state="", to_state="", reason=reason, detail={}
        )
        at = timezone.now()
        body = services.body_of(draft, seq=seq + 1, at=services.to_canonical_value(at), prev_hash=prev_hash)
        del body["jurisdiction"]
        entry = services._chained(draft, seq=seq + 1, prev_hash=prev_hash, at=at)
        entry.payload = services.canonical_json(body).decode()
        entry.hash = hashlib.sha256(entry.payload.encode()).hexdigest()
        entry.save(force_insert=True)
    return entry
