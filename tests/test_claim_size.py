"""A claim of many lines (a roster may hold 20,000) costs work in step with its lines: the rules
compare each line's certificate with those of its number only, and the lines' occupations are
read once per claim, not once per line."""

from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext

from claims.certificates import Certificate
from claims.services import create_claim
from workflow.services import submit_claim

from .api_support import login, ok
from .conftest import claim_data, line, resident_id


def lines(count: int, *, first: int = 1, occupations=("电工", "低压电工作业", "焊工")) -> list[dict]:
    """``count`` lines of distinct people and certificates, naming a few occupations (by name and by alias)."""
    return [
        line(
            resident_id(serial),
            f"学员{serial}",
            certificate_number=f"T-2026-{serial:05d}",
            occupation=occupations[serial % len(occupations)],
        )
        for serial in range(first, first + count)
    ]


def test_submitting_a_claim_compares_each_certificate_only_with_those_of_its_number(demo):
    """150 lines, two of which name one certificate: CERT_DUP flags the second, and the rules make
    a handful of certificate comparisons, not one for every pair of lines (11,175 before)."""
    clerk = demo["provider_clerk"]
    rows = lines(150)
    rows[149]["certificate_number"] = "t 2026 00001"  # line 1's certificate, spelled another way
    claim = create_claim(user=clerk, data=claim_data(lines=rows))
    with mock.patch.object(Certificate, "same_as", autospec=True, side_effect=Certificate.same_as) as compared:
        submit_claim(user=clerk, claim=claim)
    flags = {line.line_no: [flag["code"] for flag in line.flags] for line in claim.lines.all()}
    assert "CERT_DUP" in flags[150] and not [n for n in range(1, 150) if "CERT_DUP" in flags[n]]
    assert compared.call_count <= 10, compared.call_count


def test_drafting_a_claim_reads_its_occupations_once_not_once_a_line(demo):
    """Through the service and through the API (which checks the body's fields first): a claim
    of 40 lines takes as many statements as one of 20 (SQLite may split a bulk insert in two;
    a query a line was 20 more)."""
    clerk = demo["provider_clerk"]

    def service_statements(count: int, first: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            create_claim(user=clerk, data=claim_data(lines=lines(count, first=first)))
        return len(captured)

    api = login("provider_clerk")

    def api_statements(count: int, first: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            ok(api.post("/api/v1/claims/", claim_data(lines=lines(count, first=first)), format="json"), 201)
        return len(captured)

    service_statements(2, 900)  # what a process reads once
    twenty, forty = service_statements(20, 100), service_statements(40, 200)
    assert forty - twenty <= 1, (twenty, forty)
    api_statements(2, 902)
    twenty, forty = api_statements(20, 300), api_statements(40, 400)
    assert forty - twenty <= 1, (twenty, forty)
