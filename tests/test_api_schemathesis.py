"""schemathesis against /api/schema/, as a provider clerk and as an HR reviewer (token logins):
for every operation, a bounded number of requests generated from the schema; no answer is a
5xx, every answer is one the schema describes (status and body), and none of an operation that
needs a login is a 401: each request carries a live token, issued for it (one operation, the
token's revoke, ends the token it is called with; with one token per role, every operation
after it answered a documented 401 and nothing behind the login was checked)."""

import os
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from config.wsgi import application

from .api_support import create_claim, login, token_of
from .conftest import claim_data, line, resident_id
from .payments_support import approved_claim

pytestmark = pytest.mark.usefixtures("celery_eager")

# Requests per operation and role: enough to send each operation its shapes (with and without
# the optional fields) while the whole test stays near a minute on two cores.
# SCHEMATHESIS_EXAMPLES=50 searches deeper, by hand.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))
ROLES = ("provider_clerk", "hr_reviewer")
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def run_operation(operation, username: str, statuses: set) -> None:
    """Every answer checked; ``statuses``: what the operation answered."""

    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: a failure is reproducible
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        # Uncompressed: schemathesis' WSGI transport does not undo a Content-Encoding (a client over
        # HTTP does; tests/test_large_claims.py reads a compressed answer).
        response = case.call(headers={"Authorization": token_of(username), "Accept-Encoding": "identity"})
        statuses.add(response.status_code)
        case.validate_response(response, checks=CHECKS)

    check()


@contextmanager
def connection_kept():
    """The WSGI app closes the database connection after each request (Django's signal handlers);
    the test's transaction lives on it, so they are off meanwhile, as Django's test client turns
    them off around each of its requests (and on again after: no test client inside)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@pytest.fixture
def claims_to_read(demo):
    """Claims both roles see, so that answers carry lines (a line of no hardship group among them)."""
    approved_claim(demo, serials=(41,))
    create_claim(login("provider_clerk"), claim_data(lines=[line(resident_id(42), "赵六")]))


def needs_login(operation) -> bool:
    security = operation.definition.raw.get("security", [])
    return bool(security) and {} not in security


@pytest.mark.parametrize("role", ROLES)
def test_every_api_answer_matches_the_schema_and_none_is_a_5xx(claims_to_read, role):
    failures = []
    answered = {}
    with connection_kept():
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
        for result in schema.get_all_operations():
            operation = result.ok()
            name = f"{operation.method.upper()} {operation.path}"
            statuses = answered[name] = set()
            try:
                run_operation(operation, role, statuses)
            except (Exception, BaseExceptionGroup) as failure:  # schemathesis' FailureGroup is no Exception
                failures.append(f"{name}: {failure}")
            if needs_login(operation) and 401 in statuses:
                failures.append(f"{name}: 401 with a live token {role}'s")
    assert len(answered) > 40
    # Behind the login, many operations answered the role's request, not only refusals (each role: 20 or more).
    assert sum(any(200 <= status < 300 for status in statuses) for statuses in answered.values()) >= 15, answered
    assert not failures, "\n\n".join(failures)
