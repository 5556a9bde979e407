"""The application's database role (README, "Running in production"): after `grant_app_role`
it runs the claim process, appends to the ledger, and cannot change, delete or truncate a ledger
entry or a checkpoint, nor disable the append-only triggers, whatever SQL it sends.

The role is created inside the test's transaction (PostgreSQL's CREATE ROLE is transactional),
so it disappears with the rollback; the test acts as it with SET LOCAL ROLE."""

import uuid
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from audit.models import AuditEvent
from audit.selectors import verify_chain
from claims.models import Claim
from claims.services import create_claim
from workflow.services import submit_claim

from .conftest import claim_data

pytestmark = pytest.mark.postgres

INSUFFICIENT_PRIVILEGE = "42501"


@contextmanager
def acting_as(role: str):
    """Statements in the block run as ``role``; a failure rolls back to before the block."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(role)}")
        yield cursor
        cursor.execute("RESET ROLE")


def refused(role: str, sql: str) -> str:
    """The SQLSTATE of ``sql`` run as ``role`` (it must fail)."""
    with pytest.raises(ProgrammingError) as failure, acting_as(role) as cursor:
        cursor.execute(sql)
    return failure.value.__cause__.sqlstate


@pytest.fixture
def app_role(db):
    role = f"claims_app_test_{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
    call_command("grant_app_role", role, stdout=open("/dev/null", "w"))
    return role


def test_the_app_role_runs_the_claim_process_and_only_appends_to_the_ledger(app_role, demo):
    with acting_as(app_role) as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == app_role
        claim = create_claim(user=demo["provider_clerk"], data=claim_data())
        submit_claim(user=demo["provider_clerk"], claim=claim)
    assert Claim.objects.get(pk=claim.pk).status != "draft"
    entry = AuditEvent.objects.filter(claim_id=claim.pk).latest("seq")
    assert verify_chain()["ok"]

    for sql in (
        f"UPDATE audit_auditevent SET reason = 'rewritten' WHERE id = {entry.pk}",
        f"DELETE FROM audit_auditevent WHERE id = {entry.pk}",
        "TRUNCATE audit_auditevent CASCADE",
        "UPDATE audit_checkpoint SET root_hash = ''",
        "DELETE FROM audit_checkpoint",
        "DELETE FROM audit_subtreehash",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only",
        "DROP TRIGGER audit_auditevent_append_only ON audit_auditevent",
        "CREATE TABLE audit_shadow (id int)",
    ):
        assert refused(app_role, sql) == INSUFFICIENT_PRIVILEGE, sql
    assert AuditEvent.objects.get(pk=entry.pk).payload == entry.payload


def test_a_role_that_owns_tables_is_refused(db):
    # The connection's own role owns the test database's tables: it cannot be the app's role.
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
    with pytest.raises(CommandError, match="must own no table"):
        call_command("grant_app_role", owner)


def test_the_grants_can_be_printed_for_a_dba(db, capsys):
    call_command("grant_app_role", "claims_app", print_only=True)
    sql = capsys.readouterr().out
    assert 'GRANT SELECT, INSERT ON TABLE "audit_auditevent" TO "claims_app";' in sql
    assert 'GRANT SELECT, INSERT ON TABLE "audit_checkpoint" TO "claims_app";' in sql
    assert 'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "claims_claim" TO "claims_app";' in sql
