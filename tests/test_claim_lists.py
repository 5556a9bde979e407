"""The claim lists at scale (issue 12): the claim list (API and page) and the auditor's search read
an index range of the claims in the reader's scope, page by keyset and count up to a bound.
Scope is the claims' own columns (claims.selectors._claims_of), which say what the per-claim
object permissions say: checked here for every demo person and every state a claim can be in."""

import base64
import json

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm, get_objects_for_user

from auditor import selectors as auditor_selectors
from claims import keyset
from claims.models import Claim, ClaimStatus, Department, Jurisdiction, Provider
from claims.selectors import claim_scope, claims_in_scope, claims_visible_to, scope_ids
from claims.services import create_claim
from workflow.services import submit_claim, withdraw_claim

from .api_support import error, login, ok
from .conftest import claim_data, line, resident_id


def drafted(demo, n: int, *, submit: bool = True) -> Claim:
    clerk = demo["provider_clerk"]
    data = claim_data(lines=[line(resident_id(500 + n), f"学员{n}", certificate_number=f"L-{n}")], class_name=f"列表班 {n}")
    claim = create_claim(user=clerk, data=data)
    if submit:
        submit_claim(user=clerk, claim=claim)
    return claim


def claims_granted_to(user):
    """The rule as the per-claim object permissions state it (claims_visible_to before issue 12)."""
    granted_claims = get_objects_for_user(user, "claims.view_claim", klass=Claim, accept_global_perms=False, with_superuser=False)
    overseen = get_objects_for_user(
        user, "claims.oversee_jurisdiction", klass=Jurisdiction, accept_global_perms=False, with_superuser=False
    )
    return Claim.objects.filter(
        Q(pk__in=granted_claims.values("pk")) | (Q(jurisdiction__in=overseen.values("pk")) & ~Q(status=ClaimStatus.DRAFT))
    )


def test_the_columns_say_what_the_grants_say_for_every_person_and_state(demo):
    """Drafts, a draft withdrawn before submission (its jurisdiction's overseers see it, its
    department does not), submitted claims, and seed_demo's claims in every state."""
    drafted(demo, 1, submit=False)
    withdraw_claim(user=demo["provider_clerk"], claim=drafted(demo, 2, submit=False), reason="重复申报")
    drafted(demo, 3)
    for user in demo.values():
        expected = set(claims_granted_to(user).values_list("pk", flat=True))
        assert set(claims_visible_to(user).values_list("pk", flat=True)) == expected, user.username
        assert set(claims_in_scope(claim_scope(user)).values_list("pk", flat=True)) == expected, user.username


def _pages(client, url: str) -> list[dict]:
    pages = []
    while url:
        pages.append(ok(client.get(url)))
        url = pages[-1]["next"]
    return pages


def test_the_scope_read_in_one_statement_says_what_guardian_says(demo, django_user_model):
    """scope_ids reads the six grant tables in one statement; guardian's own query is the rule:
    a grant to one of the user's groups or to the user directly, and nothing from a global
    permission, another user's grant or another permission on the same object."""
    outsider = django_user_model.objects.create_user("scope_outsider", password="x")
    department = Department.objects.order_by("pk").last()
    jurisdiction = Jurisdiction.objects.order_by("pk").first()
    assign_perm("claims.review_department_claims", outsider, department)
    assign_perm("claims.view_jurisdiction", outsider, jurisdiction)  # another permission: no scope
    assign_perm("claims.oversee_jurisdiction", django_user_model.objects.create_user("someone_else"), jurisdiction)
    outsider.user_permissions.add(Permission.objects.get(codename="submit_provider_claims"))  # global: no scope
    kinds = {"provider": ("submit_provider_claims", Provider), "department": ("review_department_claims", Department)}
    kinds["jurisdiction"] = ("oversee_jurisdiction", Jurisdiction)
    for user in [*demo.values(), django_user_model.objects.get(pk=outsider.pk)]:
        expected = {
            kind: sorted(
                get_objects_for_user(
                    user, f"claims.{codename}", klass=model, accept_global_perms=False, with_superuser=False
                ).values_list("pk", flat=True)
            )
            for kind, (codename, model) in kinds.items()
        }
        with CaptureQueriesContext(connection) as queries:
            assert scope_ids(user) == expected, user.username
            scope_ids(user)
        assert len(queries) == 1
    assert scope_ids(django_user_model.objects.get(pk=outsider.pk)) == {
        "provider": [],
        "department": [department.pk],
        "jurisdiction": [],
    }
    assert any(scope_ids(user)["provider"] for user in demo.values())  # the demo's grants to groups are read


def test_the_claims_api_pages_newest_first_by_keyset_stable_across_new_claims(demo, monkeypatch):
    import api.views

    for n in range(5):
        drafted(demo, n)
    monkeypatch.setattr(api.views, "CLAIMS_PAGE_SIZE", 2)
    client = login("dept_reviewer")
    expected = list(claims_visible_to(demo["dept_reviewer"]).order_by("-id").values_list("number", flat=True))
    first = ok(client.get("/api/v1/claims/"))
    assert first["count"] == len(expected) and first["count_capped"] is False and first["previous"] is None
    assert "cursor=" in first["next"]
    drafted(demo, 9)  # submitted between two pages: it is newer than the cursor, so no page repeats or skips a row
    seen = [claim["number"] for claim in first["results"]]
    for page in _pages(client, first["next"]):
        seen += [claim["number"] for claim in page["results"]]
    assert seen == expected

    assert "cursor" in error(client.get("/api/v1/claims/?cursor=not-a-cursor"), 400)["fields"]


def test_the_claims_api_keeps_v1_page_numbers_with_a_bounded_count(demo, monkeypatch):
    import api.views

    for n in range(3):
        drafted(demo, n)
    monkeypatch.setattr(api.views, "CLAIMS_PAGE_SIZE", 2)
    client = login("dept_reviewer")
    expected = list(claims_visible_to(demo["dept_reviewer"]).order_by("-id").values_list("number", flat=True))
    second = ok(client.get("/api/v1/claims/?page=2"))
    assert [claim["number"] for claim in second["results"]] == expected[2:4]
    assert "page=1" in second["previous"] and second["count"] == len(expected)
    # A page that is no page is bad input naming `page` (404 is for an object outside one's scope):
    # past the last page, not a number, below 1, or so large that its OFFSET would pass bigint.
    for bad in ("999", "x", "0", "-1", "99999999999999999999"):
        assert error(client.get("/api/v1/claims/", {"page": bad}), 400)["fields"]["page"], bad


def unsigned(values: list) -> str:
    """A cursor as one would make it up: the keys' JSON in base64, without the list's signature."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_a_cursor_the_list_did_not_write_is_a_400_naming_cursor_and_a_page_starts_again(demo, monkeypatch):
    """A cursor is signed for the list and order that wrote it: one made up (a word or a time where
    the claim's id goes), one altered, or one of another list (the auditor's search, ordered by
    submission) is refused before it reaches the query; the pages start from the first page."""
    import api.views
    import auditor.views

    for n in range(3):
        drafted(demo, n)
    monkeypatch.setattr(api.views, "CLAIMS_PAGE_SIZE", 2)
    monkeypatch.setattr(auditor.views, "PAGE_SIZE", 2)
    client = login("hr_reviewer")
    genuine = ok(client.get("/api/v1/claims/"))["next"].split("cursor=")[1]
    assert ok(client.get("/api/v1/claims/", {"cursor": genuine}))["results"]
    keys, _dot, signature = genuine.rpartition(".")
    auditors = Client()
    auditors.force_login(demo["auditor"])
    searched = auditors.get("/audit/").content.decode().split("after=")[1].split('"')[0]
    for cursor in (
        unsigned(["abc"]),
        unsigned([{"t": "2020-01-01T00:00:00+00:00"}]),
        f"{unsigned(['abc'])}.{signature}",  # another key under the genuine cursor's signature
        f"{keys}.{signature[:-2]}",
        searched,
    ):
        assert error(client.get("/api/v1/claims/", {"cursor": cursor}), 400)["fields"]["cursor"], cursor
        page = Client()
        page.force_login(demo["hr_reviewer"])
        assert page.get("/claims/", {"after": cursor}).status_code == 200, cursor


def test_a_count_is_exact_up_to_its_bound_then_says_more(demo, monkeypatch):
    for n in range(3):
        drafted(demo, n)
    monkeypatch.setattr(keyset, "COUNT_BOUND", 2)
    body = ok(login("dept_reviewer").get("/api/v1/claims/"))
    assert (body["count"], body["count_capped"]) == (2, True)
    client = Client()
    client.force_login(demo["hr_reviewer"])
    assert '<span class="count">2+</span>' in client.get("/claims/").content.decode()


def test_the_claim_page_and_the_auditors_search_link_the_next_page_by_keyset(demo, monkeypatch):
    import approvals.views
    import auditor.views

    for n in range(3):
        drafted(demo, n)
    monkeypatch.setattr(approvals.views, "PAGE_SIZE", 2)
    monkeypatch.setattr(auditor.views, "PAGE_SIZE", 2)
    for username, url, order in (
        ("hr_reviewer", "/claims/", ("-id",)),
        ("auditor", "/audit/", auditor_selectors.SEARCH_ORDER),
    ):
        client = Client()
        client.force_login(demo[username])
        expected = list(claims_visible_to(demo[username]).order_by(*order).values_list("number", flat=True))
        assert len(expected) > 2, username
        seen, page_url = [], url
        while page_url:
            page = client.get(page_url).content.decode()
            seen += [number for number in expected if f">{number}</a>" in page]
            page_url = url + "?after=" + page.split("after=")[1].split('"')[0] if 'rel="next"' in page else None
        assert sorted(seen) == sorted(expected) and len(seen) == len(expected), username
        assert client.get(url + "?after=%%%").status_code == 200  # a cursor that does not parse starts again


def test_keyset_pages_oldest_or_newest_first_with_nulls_where_postgresql_puts_them(demo):
    """The auditor's order has a nullable key (a draft withdrawn before submission has no
    submission time): pages in either direction give every row once, in the database's order."""
    withdraw_claim(user=demo["provider_clerk"], claim=drafted(demo, 1, submit=False), reason="重复申报")
    drafted(demo, 2)
    claims = claims_visible_to(demo["auditor"])
    for order in (("-submitted_at", "-id"), ("submitted_at", "id"), ("-id",), ("id",)):
        expected = list(claims.order_by(*order).values_list("pk", flat=True))
        assert None in claims.values_list("submitted_at", flat=True)
        seen, cursor = [], None
        while True:
            page = keyset.keyset_page(claims, order=order, nullable={"submitted_at"}, cursor=cursor, size=2)
            seen += [claim.pk for claim in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == expected, order


def test_listing_claims_takes_a_fixed_number_of_queries(demo):
    drafted(demo, 1)
    api_client = login("dept_reviewer")
    page_client = Client()
    page_client.force_login(demo["auditor"])
    urls = ((api_client, "/api/v1/claims/"), (page_client, "/audit/"), (page_client, "/claims/"))
    few = {}
    for client, url in urls:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        few[url] = len(captured.captured_queries)
    for n in range(2, 6):
        drafted(demo, n)
    for client, url in urls:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        assert len(captured.captured_queries) == few[url], url


# --------------------------------------------------------------------------- what the database does


def plan_of(queryset) -> str:
    with connection.cursor() as cursor:
        sql, params = queryset.query.sql_with_params()
        cursor.execute("SET LOCAL enable_seqscan = off")
        # On a table of a few rows a sort costs nothing and the planner may take any index: what
        # is checked is that an index gives the list's order, as it must at a million rows.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
def test_each_list_reads_an_index_range_of_its_scope_in_its_order(demo):
    """Each list's page is a range of one index in the list's order (no sort of the scope, no
    scan of the claims or of guardian's grants), and its count reads at most the bound."""
    drafted(demo, 1)
    dept, hr, clerk, auditor = (demo[name] for name in ("dept_reviewer", "hr_reviewer", "provider_clerk", "auditor"))
    search = auditor_selectors.search_claims
    cases = (
        (claims_in_scope(claim_scope(dept)).order_by("-id"), "claim_department_id"),
        (claims_in_scope(claim_scope(clerk)).order_by("-id"), "claim_provider_id"),
        (claims_in_scope(claim_scope(hr)).order_by("-id"), "claim_jurisdiction_id"),
        # With a status: the (…, status, …) index, or on a table this small the planner may walk
        # the scope's range in order and filter: either way an index range, nothing sorted.
        (
            claims_in_scope(claim_scope(hr)).filter(status=ClaimStatus.PAID).order_by("-id"),
            "claim_jurisdiction_status_id|claim_jurisdiction_id",
        ),
        (search(user=auditor, filters={}), "claim_jurisdiction_submitted"),
        (search(user=auditor, filters={"status": ClaimStatus.PAID}), "claim_jur_status_submitted|claim_jurisdiction_submitted"),
    )
    for queryset, indexes in cases:
        plan = plan_of(queryset[:51])
        index = next((name for name in indexes.split("|") if f" {name} " in plan), None)
        assert index is not None, plan
        assert "Sort" not in plan.split(index)[0], plan  # the index gives the order: nothing read is sorted
        assert "Seq Scan on claims_claim" not in plan and "objectpermission" not in plan, plan
        count = plan_of(queryset.order_by().values("pk")[: keyset.COUNT_BOUND + 1])
        assert "Seq Scan on claims_claim" not in count and "objectpermission" not in count, count


@pytest.mark.usefixtures("celery_eager")
def test_finances_desk_pages_what_awaits_payment_by_keyset(demo, monkeypatch):
    """Three claims await a batch; two to a page: the desk's next link carries the last claim's
    key, and the pages give each claim once, in claim order, with the count of claims."""
    import approvals.views

    from .payments_support import approved_claim

    claims = [approved_claim(demo, serials=(n,)) for n in (1, 2, 3)]
    monkeypatch.setattr(approvals.views, "PAGE_SIZE", 2)
    client = Client()
    client.force_login(demo["finance_officer"])
    seen, url = [], "/finance/"
    while url:
        page = client.get(url).content.decode()
        seen += [claim.number for claim in claims if f">{claim.number}</a>" in page]
        url = "/finance/?after=" + page.split("after=")[1].split('"')[0] if 'rel="next"' in page else None
    assert seen == [claim.number for claim in sorted(claims, key=lambda claim: claim.pk)]
    monkeypatch.setattr(keyset, "COUNT_BOUND", 2)
    from payments.selectors.batches import awaiting_page

    page = awaiting_page(demo["finance_officer"], None, 2)["claims"]
    assert (page.count, page.count_capped, len(page.items)) == (2, True, 2)


def test_a_page_of_the_claims_api_ends_once_its_claims_hold_the_lines_a_page_may(demo, monkeypatch):
    """A claim may hold 20,000 lines: a page of fifty such was a response of ~760 MB. A page ends
    once its claims hold LINES_PER_PAGE lines (a claim of more comes alone); following ``next``
    still reads every claim once, by cursor and by v1's page numbers alike."""
    import api.views

    clerk = demo["provider_clerk"]
    sizes = (3, 3, 2, 7, 1)  # read newest first: 1, 7, 2, 3, 3
    for n, size in enumerate(sizes):
        people = [line(resident_id(600 + 10 * n + i), f"学员{n}{i}", certificate_number=f"B-{n}-{i}") for i in range(size)]
        create_claim(user=clerk, data=claim_data(lines=people, class_name=f"大班 {n}"))
    monkeypatch.setattr(api.views, "LINES_PER_PAGE", 5)
    client = login("provider_clerk")
    expected = list(claims_visible_to(clerk).order_by("-id").values_list("number", flat=True))
    for first_page in ("/api/v1/claims/", "/api/v1/claims/?page=1"):
        pages = [ok(client.get(first_page))]
        pages += list(_pages(client, pages[0]["next"]))
        lines_of_pages = [[len(claim["lines"]) for claim in page["results"]] for page in pages]
        assert lines_of_pages[:3] == [[1], [7], [2, 3]], lines_of_pages
        assert all(sum(sizes) <= 5 or len(sizes) == 1 for sizes in lines_of_pages), lines_of_pages
        assert [claim["number"] for page in pages for claim in page["results"]] == expected
