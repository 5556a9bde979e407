"""The inbox read model (issue 12): one row per open human task, kept in the transaction of every
change, so that an inbox reads an index range whatever the year holds; segregation of duties by
(claim, person); keyset pages; a bounded count."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from claims import keyset, roles
from claims.models import Claim
from claims.services import create_claim, update_claim
from workflow import selectors as inbox
from workflow.inbox import ITEM_FIELDS, inbox_drift, rebuild_inbox
from workflow.models import ClaimDuty, InboxItem
from workflow.services import LineDecisionInput, decide_task, submit_claim, take_task, withdraw_claim

from .api_support import error, login, ok
from .conftest import claim_data, line, resident_id
from .test_segregation import person_with

# Every column the read model keeps (workflow.inbox.ITEM_FIELDS), by the task it stands for.
ROW_FIELDS = ("task_id", *(InboxItem._meta.get_field(name).attname for name in ITEM_FIELDS))


def rows() -> list[tuple]:
    return sorted(InboxItem.objects.values_list(*ROW_FIELDS))


def duties() -> list[tuple]:
    return sorted(ClaimDuty.objects.values_list("claim_id", "user_id", "duty"))


def assert_current():
    """What was kept step by step is what the tasks say: no drift, and a rebuild from scratch
    writes exactly the same rows and duties."""
    assert inbox_drift() == []
    kept_rows, kept_duties = rows(), duties()
    rebuild_inbox()
    assert rows() == kept_rows
    assert duties() == kept_duties


def open_item(claim: Claim) -> InboxItem:
    return InboxItem.objects.get(claim=claim)


def test_every_step_of_a_claim_keeps_its_row_current(demo):
    clerk, dept, hr = demo["provider_clerk"], demo["dept_reviewer"], demo["hr_reviewer"]
    claim = create_claim(user=clerk, data=claim_data())
    assert not InboxItem.objects.exists()  # a draft has no task

    submit_claim(user=clerk, claim=claim)
    item = open_item(claim)
    assert (item.step, item.status, item.owner_id, item.amount) == ("department_review", "NEW", None, claim.total)
    assert (item.department_id, item.provider_id, item.jurisdiction_id) == (
        claim.department_id,
        claim.provider_id,
        claim.jurisdiction_id,
    )
    assert item.due > item.created.date() and not item.resubmitted
    assert_current()

    take_task(user=dept, task_id=item.task_id)
    assert (open_item(claim).status, open_item(claim).owner_id) == ("ASSIGNED", dept.pk)
    assert_current()

    decide_task(user=dept, task_id=item.task_id, decision="approve", comment="ok")
    item = open_item(claim)
    assert item.step == "hr_review" and item.owner_id is None
    assert duties() == [(claim.pk, clerk.pk, "submission"), (claim.pk, dept.pk, "department_review")]
    assert_current()

    decide_task(user=hr, task_id=item.task_id, decision="return", comment="证书号有误", reason="DOCS")
    item = open_item(claim)
    assert item.step == "correction"
    assert_current()

    # The provider lowers a cost: the correction row shows the new total at once.
    claim.refresh_from_db()
    lines = [line(certificate_number="T-1", stated_cost="300.00"), line(resident_id(2), "李四", certificate_number="T-2")]
    update_claim(user=clerk, claim=claim, data={"lines": lines})
    claim.refresh_from_db()
    assert open_item(claim).amount == claim.total
    assert_current()

    submit_claim(user=clerk, claim=claim)
    item = open_item(claim)
    assert item.resubmitted and item.step in ("department_review", "hr_review")
    assert_current()

    while item.step != "disbursement":
        reviewer = {"department_review": dept, "hr_review": hr, "hr_head_approval": demo["hr_head"]}[item.step]
        decide_task(user=reviewer, task_id=item.task_id, decision="approve", comment="ok")
        item = open_item(claim)
        assert_current()


def test_a_withdrawn_claim_leaves_the_inbox(demo):
    clerk = demo["provider_clerk"]
    claim = create_claim(user=clerk, data=claim_data())
    submit_claim(user=clerk, claim=claim)
    decide_task(user=demo["dept_reviewer"], task_id=open_item(claim).task_id, decision="return", comment="补材料", reason="DOCS")
    assert open_item(claim).step == "correction"
    withdraw_claim(user=clerk, claim=Claim.objects.get(pk=claim.pk), reason="不再申领")
    assert not InboxItem.objects.filter(claim=claim).exists()
    assert_current()


def test_a_flag_rechecked_at_review_shows_in_the_row(demo):
    """HR's recheck finds a flag the submission did not have (another claim took the quota)."""
    clerk, dept = demo["provider_clerk"], demo["dept_reviewer"]
    claim = create_claim(user=clerk, data=claim_data())
    submit_claim(user=clerk, claim=claim)
    assert open_item(claim).flagged_lines == 0
    claim.lines.filter(line_no=1).update(flags=[{"code": "E2", "message": "x", "message_en": "x", "source": "t"}])
    decide_task(
        user=dept,
        task_id=open_item(claim).task_id,
        decision="approve",
        comment="ok",
        line_decisions=[LineDecisionInput(line=1, decision="approve")],
    )
    # The department's approval rechecked the flags (E2 is not really there: it is gone again).
    assert open_item(claim).flagged_lines == Claim.objects.get(pk=claim.pk).lines.exclude(flags=[]).count()
    assert_current()


# --------------------------------------------------------------------------- segregation of duties


def test_who_reviewed_for_the_department_does_not_get_the_hr_task_but_the_team_sees_it(demo):
    """N4 by (claim, person): Ms Zhou holds both reviewer roles; she reviewed the claim for the
    department, so its HR task is not hers to act on, but it is on her team's plate."""
    both = person_with("dept_and_hr", roles.DEPARTMENT_REVIEWER, "department:WL-YJJ", roles.HR_REVIEWER, "jurisdiction:WL")
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    decide_task(user=both, task_id=open_item(claim).task_id, decision="approve", comment="ok")
    hr_item = open_item(claim)
    assert hr_item.step == "hr_review"
    assert InboxItem.duty_token(both.pk, "department_review") in hr_item.duties
    assert not inbox.actionable_items(both).filter(pk=hr_item.pk).exists()
    assert inbox.team_items(both).filter(pk=hr_item.pk).exists()
    assert inbox.actionable_items(demo["hr_reviewer"]).filter(pk=hr_item.pk).exists()


# --------------------------------------------------------------------------- pages of the inbox


def submitted_claims(demo, count: int) -> list[Claim]:
    clerk = demo["provider_clerk"]
    claims = []
    for n in range(count):
        data = claim_data(lines=[line(resident_id(300 + n), f"学员{n}", certificate_number=f"K-{n}")], class_name=f"班 {n}")
        claim = create_claim(user=clerk, data=data)
        submit_claim(user=clerk, claim=claim)
        claims.append(claim)
    return claims


def test_the_api_pages_the_inbox_by_keyset_oldest_first(demo):
    claims = submitted_claims(demo, 7)
    client = login("dept_reviewer")
    import api.views

    original = api.views.TASKS_PAGE_SIZE
    api.views.TASKS_PAGE_SIZE = 3
    try:
        seen, url = [], "/api/v1/tasks/"
        while url:
            page = ok(client.get(url))
            assert page["count"] == 7 and page["count_capped"] is False and page["previous"] is None
            seen += [task["claim_number"] for task in page["results"]]
            url = page["next"]
    finally:
        api.views.TASKS_PAGE_SIZE = original
    assert seen == [claim.number for claim in claims]
    first = ok(client.get("/api/v1/tasks/"))["results"][0]
    assert set(first) >= {
        "id",
        "claim",
        "claim_number",
        "step",
        "status",
        "assigned_to",
        "created",
        "due",
        "amount",
        "flagged_lines",
    }
    assert first["step"] == "department_review" and first["status"] == "new"

    refused = error(client.get("/api/v1/tasks/?cursor=not-a-cursor"), 400)
    assert "cursor" in refused["fields"]


def test_the_count_is_exact_up_to_its_bound_then_says_more(demo, monkeypatch):
    submitted_claims(demo, 4)
    monkeypatch.setattr(keyset, "COUNT_BOUND", 3)
    page = inbox.inbox_page(inbox.actionable_items(demo["dept_reviewer"]), cursor=None, size=2)
    assert (page.count, page.count_capped, len(page.items)) == (3, True, 2)
    assert page.next_cursor is not None


def test_the_inbox_page_lists_with_keyset_links(demo):
    from django.test import Client

    submitted_claims(demo, 3)
    client = Client()
    client.force_login(demo["dept_reviewer"])
    import approvals.inbox_views

    original = approvals.inbox_views.PAGE_SIZE
    approvals.inbox_views.PAGE_SIZE = 2
    try:
        page = client.get("/inbox/").content.decode()
        assert 'rel="next"' in page and "mine_after=" in page
        cursor = page.split("mine_after=")[1].split('"')[0]
        second = client.get(f"/inbox/?mine_after={cursor}").content.decode()
        assert second.count('data-task="') >= 1 and "第一页" in second
        # A cursor that does not parse starts again instead of failing.
        assert client.get("/inbox/?mine_after=%%%").status_code == 200
    finally:
        approvals.inbox_views.PAGE_SIZE = original


# --------------------------------------------------------------------------- what the database does


@pytest.mark.postgres
def test_the_inbox_query_reads_an_index_of_the_read_model(demo):
    """The dept reviewer's inbox is an index range of InboxItem in the inbox's order: no scan of
    the task table and no sort of what it reads."""
    submitted_claims(demo, 3)
    items = inbox.actionable_items(demo["dept_reviewer"])
    with connection.cursor() as cursor:
        sql, params = items[:50].query.sql_with_params()
        cursor.execute("SET LOCAL enable_seqscan = off")
        # And no sort: on a table of a few rows (once autovacuum has analysed it) a sort costs
        # nothing and the planner may take any index; what matters is that one gives the order.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "viewflow_task" not in plan, plan
    assert "inbox_step_department" in plan, plan


@pytest.mark.postgres
def test_segregation_of_duties_is_a_filter_on_the_rows_read_not_a_join_with_the_history(demo):
    """The HR reviewer's list and its count read an index range of InboxItem and filter each row
    by its own duties: the duties table, which grows with every claim the reviewer ever decided,
    is not in the plan (at a million claims its anti-join was what made the count take minutes)."""
    submitted_claims(demo, 2)
    items = inbox.actionable_items(demo["hr_reviewer"])
    for query in (items[:50].query, items.order_by().values("pk")[: keyset.COUNT_BOUND + 1].query):
        with connection.cursor() as cursor:
            sql, params = query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert ClaimDuty._meta.db_table not in plan, plan
        assert "viewflow_task" not in plan, plan


def test_listing_the_inbox_takes_a_fixed_number_of_queries(demo):
    submitted_claims(demo, 2)
    client = login("dept_reviewer")
    ok(client.get("/api/v1/tasks/"))  # the process's caches (content types) warm, as a server's are
    with CaptureQueriesContext(connection) as few:
        ok(client.get("/api/v1/tasks/"))
    submitted_claims(demo, 6)
    with CaptureQueriesContext(connection) as more:
        ok(client.get("/api/v1/tasks/"))
    assert len(more.captured_queries) == len(few.captured_queries)


def test_due_dates_are_counted_in_local_time_on_the_page_and_in_the_api(demo):
    """A task created at 23:30 UTC is created the next day in Beijing: both say the same due date."""
    claim = submitted_claims(demo, 1)[0]
    item = open_item(claim)
    late = datetime.datetime(2026, 12, 3, 23, 30, tzinfo=datetime.UTC)  # Friday 07:30 in Beijing
    from viewflow.workflow.models import Task

    Task.objects.filter(pk=item.task_id).update(created=late)
    rebuild_inbox()
    api_due = ok(login("dept_reviewer").get(f"/api/v1/tasks/{item.task_id}/"))["due"]
    assert api_due == open_item(claim).due.isoformat() == "2026-12-18"  # Fri 4 Dec + 10 working days


def test_a_done_task_read_by_id_shows_its_claims_flagged_lines(demo):
    claim = submitted_claims(demo, 1)[0]
    task_id = open_item(claim).task_id
    decide_task(user=demo["dept_reviewer"], task_id=task_id, decision="reject", comment="不符", reason="DOCS")
    claim.lines.update(flags=[{"code": "E2", "message": "x", "message_en": "x", "source": "t"}])
    done = ok(login("dept_reviewer").get(f"/api/v1/tasks/{task_id}/"))
    assert done["status"] == "done" and done["flagged_lines"] == claim.lines.exclude(flags=[]).count() > 0


def approvals_counted(demo, *, step: str) -> tuple[list[int], list[Claim]]:
    """The statements of one approval at ``step`` ("department_review", or "hr_review" after the
    department approved) of claims of 2, 2 and 20 lines, with the claims. The first warms the
    process's caches, as a server's are."""
    clerk, role = demo["provider_clerk"], {"department_review": "dept_reviewer", "hr_review": "hr_reviewer"}[step]
    counts, claims = [], []
    for n, size in ((1, 2), (2, 2), (3, 20)):
        lines = [line(resident_id(100 * n + i), f"学员{i}", certificate_number=f"M-{n}-{i}") for i in range(size)]
        claim = create_claim(user=clerk, data=claim_data(lines=lines, class_name=f"班 {n}"))
        submit_claim(user=clerk, claim=claim)
        if step == "hr_review":
            decide_task(user=demo["dept_reviewer"], task_id=open_item(claim).task_id, decision="approve", comment="ok")
        reviewer = type(demo[role]).objects.get(pk=demo[role].pk)  # as a request reads it
        with CaptureQueriesContext(connection) as queries:
            decide_task(user=reviewer, task_id=open_item(claim).task_id, decision="approve", comment="ok")
        counts.append(len(queries.captured_queries))
        claims.append(claim)
    return counts, claims


def test_a_decision_takes_as_many_queries_for_twenty_lines_as_for_two(demo):
    """A decision's statements do not grow with the claim (issue 12: a bounded number)."""
    counts, _claims = approvals_counted(demo, step="department_review")
    assert counts[1] == counts[2], counts
    # With the decision's notifications and their e-mails in its transaction (issue 14: the next
    # step's task, who may act, substitutes, preferences, the outbox rows), 74 until the scope was
    # read in one statement and the task and the line numbers no longer read back: 67. Then: the
    # task read once, under the lock, with its process (not before it and again after); the
    # claim's jurisdiction and standard read with it; the line decisions written from the states
    # read already, for the lines they change; the ledger's line summary and changes from one
    # read; the inbox's figures not updated before its rows are rewritten; and one more to settle
    # the notifications the task no longer asks for: 60. Then the open task read once, with the
    # inbox's rows, for the claim's status and the next step's notifications: 58. The flow's
    # lock without a savepoint of its own (workflow/locks.py): 56.
    assert counts[2] <= 56, counts


def test_a_final_approval_takes_as_many_queries_for_twenty_lines_as_for_two(demo):
    """HR's approval also reserves the approved amount against the department's allocation and
    tells the provider: still a bounded number of statements (issue 12)."""
    counts, claims = approvals_counted(demo, step="hr_review")
    for claim in claims:  # the reservation ran
        assert claim.lines.filter(payment_status="reserved").count() == claim.lines.count() > 0
    assert counts[1] == counts[2], counts
    # The lines to reserve read once (not asked whether there are any, then summed, then
    # numbered), and the claim's department and provider read with the claim: 76 before, 72;
    # the flow's lock without its savepoint: 70.
    assert counts[2] <= 70, counts


@pytest.mark.postgres
def test_taking_a_task_takes_a_fixed_small_number_of_statements(demo):
    """Taking a task (issue 12: bounded statements): the task, its claim and the claim's
    jurisdiction read in one statement under the lock; the ledger's entry names the jurisdiction
    by its code without reading it again. PostgreSQL's count (production's database; SQLite's
    flow lock takes one more)."""
    clerk = demo["provider_clerk"]
    counts = []
    for n in (1, 2):
        claim = create_claim(user=clerk, data=claim_data(class_name=f"领取班 {n}"))
        submit_claim(user=clerk, claim=claim)
        reviewer = type(demo["dept_reviewer"]).objects.get(pk=demo["dept_reviewer"].pk)  # as a request reads it
        task_id = open_item(claim).task_id
        with CaptureQueriesContext(connection) as queries:
            take_task(user=reviewer, task_id=task_id)
        counts.append(len(queries.captured_queries))
    assert counts[1] <= 21, counts  # 22 while the entry read its jurisdiction's code again
