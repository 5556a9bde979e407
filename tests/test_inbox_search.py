"""The reviewer's inbox (issue 15): search, filters and sort through one filter set shared by the
page and GET /api/v1/tasks/; tabs with bounded counts; the class name and submission date in the
rows; the mark on a resubmitted claim with what changed; bulk approval of the clean claims with a
confirmation, each claim decided and recorded on its own (STORIES 5, the department reviewer's
morning)."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals.templatetags.approvals_tags import day
from audit.models import AuditEvent
from claims.models import ClaimStatus
from claims.personal_data import id_number_digest
from claims.services import create_claim, update_claim
from workflow import selectors as inbox
from workflow.bulk import BULK_MAX
from workflow.models import InboxItem
from workflow.services import decide_task, submit_claim

from .api_support import error, login, ok
from .conftest import claim_data, line, resident_id

CERTIFICATE = "T-2026-7777"


def submitted(demo, serial: int, *, class_name: str, flagged: bool = False, department: str = "WL-YJJ"):
    """A claim of 温岭's first provider, submitted. ``flagged``: its two lines name one certificate
    (CERT_DUP on the second line)."""
    clerk = demo["provider_clerk"]
    if flagged:
        lines = [
            line(resident_id(500 + serial), "王芳", certificate_number=f"F-{serial}"),
            line(resident_id(600 + serial), "李娜", certificate_number=f"F-{serial}"),
        ]
    else:
        lines = [line(resident_id(500 + serial), f"学员{serial}", certificate_number=f"K-{serial}")]
    claim = create_claim(user=clerk, data=claim_data(lines=lines, class_name=class_name, department=department))
    submit_claim(user=clerk, claim=claim)
    claim.refresh_from_db()
    return claim


def reviewer_page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows_of(html: str) -> int:
    return html.count('<tr data-task="')


def ledger_of(claim, action: str) -> list:
    return list(AuditEvent.objects.filter(claim_id=claim.pk, action=action).order_by("seq"))


@pytest.fixture
def morning(demo):
    """The queue of 市应急管理局's reviewer: three clean claims, two with a flagged line."""
    clean = [submitted(demo, n, class_name=f"低压电工作业 第{n}期") for n in (1, 2, 3)]
    flagged = [submitted(demo, n, class_name=f"焊接与热切割 第{n}期", flagged=True) for n in (4, 5)]
    return {"clean": clean, "flagged": flagged}


# --------------------------------------------------------------------------- search and filters


def test_the_reviewer_filters_to_clean_claims_and_finds_one_by_number_class_provider_and_trainee(demo, morning):
    page = reviewer_page(demo["dept_reviewer"])
    everything = page.get("/inbox/").content.decode()
    assert rows_of(everything) == 5
    # The class name and the submission date are in the rows.
    assert "低压电工作业 第1期" in everything and "焊接与热切割 第4期" in everything
    submitted_on = morning["clean"][0].submitted_at.astimezone(datetime.timezone(datetime.timedelta(hours=8))).date()
    assert day(submitted_on) in everything  # 2026年…月…日 in <time datetime="ISO">

    clean = page.get("/inbox/?flags=clean").content.decode()
    assert rows_of(clean) == 3 and all(claim.number in clean for claim in morning["clean"])
    assert rows_of(page.get("/inbox/?flags=flagged").content.decode()) == 2

    wanted = morning["clean"][1]
    by_number = page.get(f"/inbox/?q={wanted.number[-4:]}").content.decode()
    assert rows_of(by_number) == 1 and wanted.number in by_number
    assert rows_of(page.get("/inbox/?q=焊接与热切割").content.decode()) == 2
    provider = wanted.provider
    assert rows_of(page.get(f"/inbox/?q={provider.name}").content.decode()) == 5
    assert rows_of(page.get(f"/inbox/?q={provider.code.lower()}").content.decode()) == 5
    assert rows_of(page.get("/inbox/?q=no such thing").content.decode()) == 0


def test_a_trainee_is_found_by_the_keyed_digest_of_the_id_number_which_no_address_carries(demo, morning):
    page = reviewer_page(demo["dept_reviewer"])
    id_number = resident_id(502)  # 学员2's, on the second clean claim
    response = page.post("/inbox/", {"q": id_number, "flags": "clean"})
    assert response.status_code == 302
    address = response["Location"]
    assert id_number not in address and id_number[-6:] not in address
    assert f"trainee={id_number_digest(id_number)}" in address and "flags=clean" in address
    found = page.get(address).content.decode()
    assert rows_of(found) == 1 and morning["clean"][1].number in found
    assert id_number not in found  # the page does not echo it back either
    # Another jurisdiction's reviewer searching for the same person finds nothing of ours.
    other = reviewer_page(demo["dept2_reviewer"])
    assert rows_of(other.get(address).content.decode()) == 0
    # Typed into the address bar, the number leaves it at once: the same address as the form's.
    typed = page.get("/inbox/", {"q": id_number, "flags": "clean", "tab": "team"})
    assert typed.status_code == 302 and id_number not in typed["Location"]
    assert f"trainee={id_number_digest(id_number)}" in typed["Location"] and "tab=team" in typed["Location"]


def test_the_api_takes_an_id_number_in_a_posted_search_never_in_an_address(demo, morning, monkeypatch):
    """The API's GET refuses an ID number in ``q`` (an address is logged and kept in histories),
    naming the field and where to send it; POST /api/v1/tasks/search/ takes it in the body and
    answers the list's page, whose ``next`` carries the digest."""
    import api.views

    id_number = resident_id(502)
    reviewer = login("dept_reviewer")
    refused = error(reviewer.get("/api/v1/tasks/", {"q": id_number}), 400)
    assert "/api/v1/tasks/search/" in refused["fields"]["q"][0]
    found = ok(reviewer.post("/api/v1/tasks/search/", {"q": id_number, "flags": "clean"}, format="json"))
    assert [task["claim"] for task in found["results"]] == [morning["clean"][1].pk]
    assert found["count"] == 1 and found["next"] is None and id_number not in str(found)
    everyone = ok(reviewer.post("/api/v1/tasks/search/", {}, format="json"))
    assert everyone["count"] == len(morning["clean"]) + len(morning["flagged"])
    # A page at a time: the next page is a GET address with the filters, the number never in it.
    monkeypatch.setattr(api.views, "TASKS_PAGE_SIZE", 2)
    first = ok(reviewer.post("/api/v1/tasks/search/", {"flags": "clean", "sort": "-amount"}, format="json"))
    assert len(first["results"]) == 2 and "flags=clean" in first["next"] and "sort=-amount" in first["next"]
    second = ok(reviewer.get(first["next"]))
    seen = [task["id"] for task in first["results"] + second["results"]]
    assert len(seen) == len(set(seen)) == len(morning["clean"])
    # The person's second claim (another occupation): a page of one names the next by the digest.
    clerk = demo["provider_clerk"]
    again = create_claim(
        user=clerk,
        data=claim_data(lines=[line(id_number, "学员2", occupation="焊工", certificate_number="W-2")], class_name="焊工"),
    )
    submit_claim(user=clerk, claim=again)
    monkeypatch.setattr(api.views, "TASKS_PAGE_SIZE", 1)
    person = ok(reviewer.post("/api/v1/tasks/search/", {"q": id_number}, format="json"))
    assert person["count"] == 2 and f"trainee={id_number_digest(id_number)}" in person["next"]
    assert id_number not in person["next"]
    claims = {person["results"][0]["claim"], ok(reviewer.get(person["next"]))["results"][0]["claim"]}
    assert claims == {morning["clean"][1].pk, again.pk}
    assert error(reviewer.post("/api/v1/tasks/search/", ["q"], format="json"), 400)["fields"]
    # Another jurisdiction's reviewer searching for the same person finds nothing of ours.
    other = login("dept2_reviewer")
    assert ok(other.post("/api/v1/tasks/search/", {"q": id_number}, format="json"))["count"] == 0


def test_filters_by_amount_due_date_resubmission_department_and_provider(demo, morning):
    page = reviewer_page(demo["dept_reviewer"])
    assert rows_of(page.get("/inbox/?amount_min=800").content.decode()) == 2  # the two-line claims: 900
    assert rows_of(page.get("/inbox/?amount_max=450").content.decode()) == 3
    late = morning["clean"][0]
    InboxItem.objects.filter(claim=late).update(due=datetime.date.today() - datetime.timedelta(days=3))
    overdue = page.get("/inbox/?due=overdue").content.decode()
    assert rows_of(overdue) == 1 and late.number in overdue
    assert rows_of(page.get("/inbox/?resubmitted=true").content.decode()) == 0
    assert rows_of(page.get("/inbox/?department=WL-YJJ&provider=" + late.provider.code).content.decode()) == 5
    # A provider outside the reviewer's jurisdiction is not a choice: said, and nothing is listed.
    refused = page.get("/inbox/?provider=ZZ-NOPE&amount_min=abc").content.decode()
    assert 'id="filter-errors"' in refused and rows_of(refused) == 0


def test_the_sorts_and_their_keyset_pages(demo, morning, monkeypatch):
    import approvals.inbox_views

    monkeypatch.setattr(approvals.inbox_views, "PAGE_SIZE", 2)
    page = reviewer_page(demo["dept_reviewer"])
    seen, address = [], "/inbox/?sort=-amount"
    while address:
        html = page.get(address).content.decode()
        seen += [InboxItem.objects.get(task_id=int(part.split('"')[0])).claim_id for part in html.split('<tr data-task="')[1:]]
        following = html.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&") if 'rel="next"' in html else None
        address = f"/inbox/{following}" if following else None
        assert len(seen) <= 5
    amounts = [InboxItem.objects.get(claim_id=claim_id).amount for claim_id in seen]
    assert len(seen) == 5 and amounts == sorted(amounts, reverse=True)
    numbers = ok(login("dept_reviewer").get("/api/v1/tasks/?sort=-number"))["results"]
    assert [task["claim_number"] for task in numbers] == sorted((task["claim_number"] for task in numbers), reverse=True)


def test_a_cursor_of_another_sort_is_refused_by_name_and_the_inbox_starts_again(demo, morning, monkeypatch):
    """``?sort=amount``'s cursor holds an amount where the default order's holds a time, and
    ``?sort=number``'s a claim number: sent with another sort (or none), or made up, it is a 400
    naming ``cursor``, never a query comparing a time with an amount; the inbox page starts again."""
    import api.views
    import approvals.inbox_views

    monkeypatch.setattr(api.views, "TASKS_PAGE_SIZE", 2)
    monkeypatch.setattr(approvals.inbox_views, "PAGE_SIZE", 2)
    reviewer = login("dept_reviewer")
    cursors = {}
    for sort in ("amount", "number", ""):
        following = ok(reviewer.get("/api/v1/tasks/", {"sort": sort} if sort else {}))["next"]
        cursors[sort] = following.split("cursor=")[1].split("&")[0]
        assert ok(reviewer.get(following))["results"], sort
    made_up = "W1siYWJjIiwgImRlZiJdXQ"  # ["abc", "def"] in base64, unsigned
    page = reviewer_page(demo["dept_reviewer"])
    for sort, cursor in (
        ("", cursors["amount"]),
        ("", cursors["number"]),
        ("due", cursors["amount"]),
        ("amount", cursors[""]),
        ("", made_up),
    ):
        params = {"cursor": cursor, **({"sort": sort} if sort else {})}
        assert error(reviewer.get("/api/v1/tasks/", params), 400)["fields"]["cursor"], (sort, cursor)
        html = page.get("/inbox/", {"mine_after": cursor, **({"sort": sort} if sort else {})})
        assert html.status_code == 200 and rows_of(html.content.decode()) == 2, (sort, cursor)


def test_the_tabs_count_what_the_filters_leave(demo, morning):
    page = reviewer_page(demo["dept_reviewer"])
    html = page.get("/inbox/?flags=clean").content.decode()
    assert '我的任务 <span class="count">3</span>' in html and '团队队列 <span class="count">3</span>' in html
    team = page.get("/inbox/?flags=clean&tab=team").content.decode()
    assert 'id="team-queue"' in team and rows_of(team) == 3


def test_the_api_takes_the_same_filters_and_refuses_bad_ones_by_name(demo, morning):
    client = login("dept_reviewer")
    clean = ok(client.get("/api/v1/tasks/?flags=clean"))
    assert clean["count"] == 3 and {task["flagged_lines"] for task in clean["results"]} == {0}
    assert {task["class_name"] for task in clean["results"]} == {f"低压电工作业 第{n}期" for n in (1, 2, 3)}
    assert all(task["submitted"] for task in clean["results"])
    by_trainee = ok(client.get(f"/api/v1/tasks/?trainee={id_number_digest(resident_id(503))}"))
    assert [task["claim_number"] for task in by_trainee["results"]] == [morning["clean"][2].number]
    refused = error(client.get("/api/v1/tasks/?amount_min=abc&flags=dirty&provider=ZZ-NOPE"), 400)
    assert {"amount_min", "flags", "provider"} <= set(refused["fields"])


# --------------------------------------------------------------------------- resubmitted claims


def test_a_resubmitted_claim_is_marked_with_what_changed_since_the_review(demo):
    """STORIES 2: returned for two certificate numbers, the clerk fixes line 2, resubmits; the
    reviewer's row says so and names what changed."""
    clerk, reviewer = demo["provider_clerk"], demo["dept_reviewer"]
    two = [line(resident_id(11), "张三"), line(resident_id(12), "李四", certificate_number="T-2026-0002")]
    claim = create_claim(user=clerk, data=claim_data(lines=two, class_name="低压电工作业 第9期"))
    submit_claim(user=clerk, claim=claim)
    claim.refresh_from_db()
    task = inbox.open_task_of_claim(claim)
    decide_task(user=reviewer, task_id=task.pk, decision="return", comment="第2行证书编号与扫描件不符")
    fixed = [two[0], {**two[1], "certificate_number": "T-2026-0099"}]
    update_claim(user=clerk, claim=claim, data={"lines": fixed})
    submit_claim(user=clerk, claim=claim)

    html = reviewer_page(reviewer).get("/inbox/?resubmitted=true").content.decode()
    assert rows_of(html) == 1 and claim.number in html
    assert "重新提交" in html and "自上次审核以来的改动" in html and "第 2 行证书编号" in html
    task = ok(login("dept_reviewer").get("/api/v1/tasks/?resubmitted=true"))["results"][0]
    assert task["resubmitted"] is True
    assert task["changes"]["changes"] == [{"line": 2, "field": "certificate_number"}]
    assert task["changes"]["total_before"] == task["changes"]["total"] == "900.00"


# --------------------------------------------------------------------------- bulk approval


def test_the_reviewer_bulk_approves_the_clean_claims_with_one_confirmation(demo, morning):
    """STORIES 5: she filters to clean, ticks them, reads what will happen, confirms; each claim is
    approved and recorded on its own; the flagged ones stay for one-by-one review."""
    page = reviewer_page(demo["dept_reviewer"])
    clean_rows = page.get("/inbox/?flags=clean").content.decode()
    assert clean_rows.count('name="tasks"') == 3
    # The flagged rows offer no box.
    assert page.get("/inbox/?flags=flagged").content.decode().count('name="tasks"') == 0
    tasks = [str(inbox.open_task_of_claim(claim).pk) for claim in morning["clean"]]
    flagged_task = str(inbox.open_task_of_claim(morning["flagged"][0]).pk)

    confirm = page.post(reverse("approvals:inbox_bulk_confirm"), {"tasks": tasks + [flagged_task], "back": "flags=clean"})
    html = confirm.content.decode()
    assert confirm.status_code == 200
    assert all(claim.number in html for claim in morning["clean"]) and morning["flagged"][0].number not in html
    assert 'id="bulk-total">1,350.00<' in html and 'id="bulk-left-out"' in html
    assert not ledger_of(morning["clean"][0], "claim.approved_step")  # nothing done yet
    token = html.split('name="token" value="')[1].split('"')[0]

    done = page.post(reverse("approvals:inbox_bulk_approve"), {"token": token}, follow=True)
    shown = done.content.decode()
    assert "已批量同意 3 件，合计 1,350.00 元" in shown
    for claim in morning["clean"]:
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.HR_REVIEW
        (entry,) = ledger_of(claim, "claim.approved_step")
        assert entry.actor.username == "dept_reviewer" and entry.detail["step"] == "department_review"
        assert "批量审批" in entry.reason
    for claim in morning["flagged"]:
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.DEPARTMENT_REVIEW

    # Sent again (the back button, a double click): every task is found decided, nothing twice.
    again = page.post(reverse("approvals:inbox_bulk_approve"), {"token": token}, follow=True).content.decode()
    assert "已批量同意" not in again and again.count("未同意：该步骤已处理。") == 3
    assert all(len(ledger_of(claim, "claim.approved_step")) == 1 for claim in morning["clean"])


def test_one_failing_claim_is_named_with_its_reason_and_the_others_are_approved(demo, morning):
    page = reviewer_page(demo["dept_reviewer"])
    tasks = [str(inbox.open_task_of_claim(claim).pk) for claim in morning["clean"]]
    html = page.post(reverse("approvals:inbox_bulk_confirm"), {"tasks": tasks}).content.decode()
    token = html.split('name="token" value="')[1].split('"')[0]
    # Between the confirmation and the approval she returns the second claim from another tab.
    gone = morning["clean"][1]
    decide_task(
        user=demo["dept_reviewer"],
        task_id=inbox.open_task_of_claim(gone).pk,
        decision="return",
        comment="第1行证书扫描件不清晰",
    )

    shown = page.post(reverse("approvals:inbox_bulk_approve"), {"token": token}, follow=True).content.decode()
    assert "已批量同意 2 件" in shown and f"{gone.number} 未同意：该步骤已处理。" in shown
    assert [claim.refresh_from_db() or claim.status for claim in morning["clean"]] == [
        ClaimStatus.HR_REVIEW,
        ClaimStatus.RETURNED,
        ClaimStatus.HR_REVIEW,
    ]
    assert not ledger_of(gone, "claim.approved_step")


def test_bulk_approval_stays_in_scope_and_is_for_reviewers_only(demo, morning):
    from workflow.bulk import bulk_approve

    other_task = InboxItem.objects.exclude(department__code="WL-YJJ").values_list("task_id", flat=True).first()
    zj = submitted(demo, 40, class_name="他部门的班", department="WL-MZJ") if other_task is None else None
    other_task = other_task or inbox.open_task_of_claim(zj).pk
    outcome = bulk_approve(user=demo["dept_reviewer"], task_ids=[other_task])
    assert outcome.approved == [] and outcome.failed == [{"number": f"任务 #{other_task}", "reason": "不存在或不在您的范围内。"}]
    assert not AuditEvent.objects.filter(action="claim.approved_step").exists()

    clerk = reviewer_page(demo["provider_clerk"])
    task = str(inbox.open_task_of_claim(morning["clean"][0]).pk)
    assert clerk.post(reverse("approvals:inbox_bulk_confirm"), {"tasks": [task]}).status_code == 403
    assert clerk.post(reverse("approvals:inbox_bulk_approve"), {"token": "x"}).status_code == 403
    # A forged or foreign token does nothing.
    reviewer = reviewer_page(demo["dept_reviewer"])
    reviewer.post(reverse("approvals:inbox_bulk_approve"), {"token": "forged"})
    too_many = reviewer.post(reverse("approvals:inbox_bulk_confirm"), {"tasks": [str(n) for n in range(1, BULK_MAX + 2)]})
    assert too_many.status_code == 302
    assert not AuditEvent.objects.filter(action="claim.approved_step").exists()


# --------------------------------------------------------------------------- what the database does


def test_the_inbox_page_takes_a_fixed_number_of_queries_whatever_the_claims(demo):
    for n in (1, 2):
        submitted(demo, n, class_name=f"班{n}")
    page = reviewer_page(demo["dept_reviewer"])
    addresses = ("/inbox/", "/inbox/?flags=clean&sort=-amount&q=班&due=overdue", "/inbox/?tab=team&resubmitted=false")
    for address in addresses:
        page.get(address)  # the process's caches warm, as a server's are
    few = {}
    for address in addresses:
        with CaptureQueriesContext(connection) as captured:
            assert page.get(address).status_code == 200
        few[address] = len(captured.captured_queries)
    for n in range(3, 12):
        submitted(demo, n, class_name=f"班{n}", flagged=n % 3 == 0)
    for address in addresses:
        with CaptureQueriesContext(connection) as captured:
            assert page.get(address).status_code == 200
        assert len(captured.captured_queries) == few[address], address


@pytest.mark.postgres
def test_a_search_reads_the_scopes_index_range_or_the_trainees_digest_never_the_claims(demo, morning):
    """A search narrows the person's index range of open tasks (or finds the trainee's claims by
    the digest's unique index): no scan of the claims, the lines or the tasks, which the years
    lengthen."""
    from django.http import QueryDict

    from workflow.inbox_filters import InboxFilter

    user = demo["dept_reviewer"]
    for query in ("q=WL-2026&flags=clean&sort=-amount", f"q={resident_id(501)}", "due=overdue&sort=due"):
        filters = InboxFilter(QueryDict(query), user=user)
        assert filters.is_valid(), filters.errors
        items = filters.filter_queryset(inbox.actionable_items(user)).order_by(*filters.order)
        with connection.cursor() as cursor:
            sql, params = items[:51].query.sql_with_params()
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "viewflow_task" not in plan and "claims_claim " not in plan, plan
        assert "Seq Scan on claim_workflow_inboxitem" not in plan and "Seq Scan on claims_claimline" not in plan, plan
        # One of the read model's indexes (on a table of a few rows the planner may take any of them).
        assert "inbox_step_" in plan or "claim_workflow_inboxitem_claim_id" in plan, plan


def test_amounts_in_the_filters_are_bounded(demo):
    page = reviewer_page(demo["dept_reviewer"])
    html = page.get(f"/inbox/?amount_min={Decimal(10) ** 13}").content.decode()
    assert 'id="filter-errors"' in html


def test_the_provider_filter_is_typed_so_the_page_does_not_grow_with_the_citys_providers(demo, morning):
    """A city has hundreds of providers: the page lists none of them as choices (a select of them
    all was most of its rendering at a million claims); a code typed filters as before."""
    from claims.organisation import ensure_provider
    from demo.load import _credit_code

    jurisdiction = morning["clean"][0].jurisdiction
    for n in range(1, 41):
        ensure_provider(
            jurisdiction=jurisdiction, code=f"WL-X{n:03d}", name=f"新开第{n}培训学校", credit_code=_credit_code("WL", 900 + n)
        )
    page = reviewer_page(demo["dept_reviewer"])
    html = page.get("/inbox/").content.decode()
    assert "WL-X001" not in html and "新开第1培训学校" not in html
    assert re.search(r'<input type="text" name="provider"[^>]*placeholder="机构代码"', html)
    late = morning["clean"][0]
    assert rows_of(page.get("/inbox/?provider=" + late.provider.code).content.decode()) == 5
    assert rows_of(page.get("/inbox/?provider=WL-X001").content.decode()) == 0


def next_steps_of(html: str) -> dict[str, str]:
    """The confirmation's rows: task id → the step it says the approval sends the claim to."""
    return dict(re.findall(r'<tr data-task="(\d+)">.*?data-next-step="(\w+)"', html, flags=re.S))


def test_the_confirmation_says_where_each_claim_goes_and_the_approval_sends_it_there(demo, morning):
    """At the department each clean claim goes on to the HR bureau's review. At the HR bureau's
    review (its head's line lowered to 1,000 yuan) a claim of 1,350 goes to the HR head, with the
    line said, and one of 450 is approved: to public notice where the jurisdiction publishes, else
    to finance. What the confirmation said is where each claim then is."""
    from claims.models import Jurisdiction

    department = reviewer_page(demo["dept_reviewer"])
    tasks = [str(inbox.open_task_of_claim(claim).pk) for claim in morning["clean"]]
    html = department.post(reverse("approvals:inbox_bulk_confirm"), {"tasks": tasks}).content.decode()
    assert next_steps_of(html) == dict.fromkeys(tasks, "hr_review") and html.count("转“人社局审核”") == 3

    Jurisdiction.objects.filter(code="WL").update(hr_head_threshold=Decimal("1000.00"))
    clerk = demo["provider_clerk"]
    three = [line(resident_id(700 + n), f"学员{n}", certificate_number=f"B-{n}") for n in range(3)]
    big = create_claim(user=clerk, data=claim_data(lines=three, class_name="低压电工作业 第7期"))
    submit_claim(user=clerk, claim=big)
    big.refresh_from_db()
    small, published = morning["clean"][:2]
    for claim in (big, small, published):
        decide_task(user=demo["dept_reviewer"], task_id=inbox.open_task_of_claim(claim).pk, decision="approve")
    hr = reviewer_page(demo["hr_reviewer"])
    task_of = {claim.pk: str(inbox.open_task_of_claim(claim).pk) for claim in (big, small, published)}

    html = hr.post(reverse("approvals:inbox_bulk_confirm"), {"tasks": [task_of[big.pk], task_of[small.pk]]}).content.decode()
    assert next_steps_of(html) == {task_of[big.pk]: "hr_head_approval", task_of[small.pk]: "disbursement"}
    assert "转“人社局负责人审批”：金额超过审批线 1,000.00 元" in html and "审批完成，转“财政拨付”" in html
    token = html.split('name="token" value="')[1].split('"')[0]
    hr.post(reverse("approvals:inbox_bulk_approve"), {"token": token})
    big.refresh_from_db()
    small.refresh_from_db()
    assert (big.status, small.status) == (ClaimStatus.HR_HEAD_APPROVAL, ClaimStatus.APPROVED)

    Jurisdiction.objects.filter(code="WL").update(public_notice_from=datetime.date.today())
    html = hr.post(reverse("approvals:inbox_bulk_confirm"), {"tasks": [task_of[published.pk]]}).content.decode()
    assert next_steps_of(html) == {task_of[published.pk]: "public_notice"} and "审批完成，进入“公示”" in html
    token = html.split('name="token" value="')[1].split('"')[0]
    hr.post(reverse("approvals:inbox_bulk_approve"), {"token": token})
    published.refresh_from_db()
    assert published.status == ClaimStatus.PUBLIC_NOTICE
