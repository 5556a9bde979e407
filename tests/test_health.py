"""/healthz: what a load balancer asks, and the benchmarks' baseline: an answer without the database."""

from django.db import connection
from django.test.utils import CaptureQueriesContext


def test_healthz_answers_ok_without_signing_in_or_reading_the_database(client, db):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok")
    assert len(queries) == 0
