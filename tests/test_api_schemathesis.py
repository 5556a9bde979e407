"""schemathesis against /api/schema/, as a provider clerk and as an HR reviewer (token logins):
for every operation, a bounded number of requests generated from the schema; no answer is a
5xx, and every answer is one the schema describes (status and body)."""

import os
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from config.wsgi import application

from .api_support import create_claim, login
from .conftest import claim_data, line, resident_id
from .payments_support import approved_claim

pytestmark = pytest.mark.usefixtures("celery_eager")

# Requests per operation and role: enough to send each operation its shapes (with and without
# the optional fields) while the whole test stays well under a minute on two cores.
# SCHEMATHESIS_EXAMPLES=50 searches deeper, by hand.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))
ROLES = ("provider_clerk", "hr_reviewer")
CHECKS = [not_a_server_error, response_schema_conformance]


def token_of(username: str) -> str:
    return login(username)._credentials["HTTP_AUTHORIZATION"]


def run_operation(operation, headers: dict) -> None:
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
        response = case.call(headers=headers)
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


@pytest.mark.parametrize("role", ROLES)
def test_every_api_answer_matches_the_schema_and_none_is_a_5xx(claims_to_read, role):
    headers = {"Authorization": token_of(role)}
    failures = []
    operations = 0
    with connection_kept():
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            try:
                run_operation(operation, headers)
            except Exception as failure:  # every operation's failure, reported together
                failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    assert operations > 40
    assert not failures, "\n\n".join(failures)
