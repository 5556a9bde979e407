"""Two people clicking at once on what tests/test_api_races.py does not cover: the first setting
of a payee account (no row yet to lock). Each request runs on its own PostgreSQL connection,
held at a gate until both wait, as in tests/test_concurrency.py. Exactly one wins, the other is
a clean 409, never a 500, and the ledger records the account once."""

import pytest
from django.db import connection

from audit import actions
from audit.models import AuditEvent
from audit.services import LEDGER_LOCK_KEY
from claims.models import Provider
from payments.models import PayeeAccount

from .test_api_races import client_of, race

pytestmark = pytest.mark.postgres


def lock_ledger():
    """Hold the ledger's append lock: each request writes its row, then waits to record it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])


def test_a_providers_first_account_set_by_its_clerk_and_finance_at_once_is_set_once(transactional_db, demo):
    provider = Provider.objects.get(code="WL-P001")
    PayeeAccount.objects.filter(provider=provider).delete()
    recorded = AuditEvent.objects.filter(action=actions.PAYEE_ACCOUNT_SET, detail__provider="WL-P001")
    seeded = recorded.count()
    body = {"account_name": provider.name, "bank_name": "中国工商银行温岭支行", "account_number": "6222020000000000011"}
    put = lambda user: client_of(user).put("/api/v1/payee-accounts/providers/WL-P001/", body, format="json")  # noqa: E731
    waiting, codes, responses = race(lock_ledger, lambda: put(demo["provider_clerk"]), lambda: put(demo["finance_officer"]))
    assert codes == [200, 409], [(r.status_code, r.content[:300]) for r in responses]
    assert PayeeAccount.objects.filter(provider__code="WL-P001").count() == 1
    assert recorded.count() == seeded + 1
