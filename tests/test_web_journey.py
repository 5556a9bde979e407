"""The web pages, driven the way people use them: a claim goes from the provider's form
through both reviews to payment; every page is scoped; English is one click away."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from claims.models import Claim
from claims.services import create_claim
from workflow import selectors as inbox
from workflow.services import submit_claim

from .conftest import claim_data, line, resident_id
from .page_support import form_as_sent

BAD_ID = "110105194912310021"  # right shape, wrong check character (the right one is X)
CONFIRM = {"confirm": "1"}  # the box a clerk ticks to submit (irreversible)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def claim_form_post(data: dict, rows_total: int | None = None) -> dict:
    """The POST body of the claim form for a claim_data() dict."""
    rows = data["lines"]
    post = {key: data[key] for key in ("department", "policy", "class_name", "training_start", "training_end")}
    post.update(
        {
            "lines-TOTAL_FORMS": str(rows_total or len(rows)),
            "lines-INITIAL_FORMS": "0",
            "lines-MIN_NUM_FORMS": "0",
            "lines-MAX_NUM_FORMS": "1000",
        }
    )
    for index, row in enumerate(rows):
        for key, value in row.items():
            post[f"lines-{index}-{key}"] = "" if value is None else value
    return post


def row_html(html: str, row: int) -> str:
    match = re.search(rf'<tr id="row-{row}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"row {row} not on the page"
    return match.group(1)


def cell_html(html: str, row: int, field: str) -> str:
    match = re.search(rf'<td[^>]*data-field="{field}"[^>]*>(.*?)</td>', row_html(html, row), re.S)
    assert match, f"no {field} cell in row {row}"
    return match.group(1)


def open_task_id(claim) -> int:
    claim.refresh_from_db()
    return inbox.open_task_of_claim(claim).pk


@pytest.fixture
def clients(demo):
    return {name: client_for(user) for name, user in demo.items()}


def test_claim_journey_through_the_pages(demo, clients):
    provider = clients["provider_clerk"]

    # The form: the second row's ID number is wrong; the error is on that row, nothing is saved.
    assert provider.get(reverse("approvals:claim_new")).status_code == 200
    rows = [line(resident_id(1), "张三"), line(BAD_ID, "李四", certificate_number="T-2026-0002")]
    response = provider.post(reverse("approvals:claim_new"), claim_form_post(claim_data(lines=rows)))
    assert response.status_code == 400
    html = response.content.decode()
    assert "身份证号码校验码错误" in cell_html(html, 2, "id_number")
    assert "field-error" not in row_html(html, 1)
    assert 'value="李四"' in row_html(html, 2)  # what was typed stays on the form
    assert Claim.objects.count() == 0

    # Fixed (a blank third row is ignored): a draft of two lines.
    rows[1] = line(resident_id(2), "李四", certificate_number="T-2026-0002")
    response = provider.post(reverse("approvals:claim_new"), claim_form_post(claim_data(lines=rows), rows_total=3))
    claim = Claim.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("approvals:claim", args=[claim.pk])
    assert (claim.status, claim.lines.count(), claim.total) == ("draft", 2, Decimal("900.00"))
    page = provider.get(reverse("approvals:claim", args=[claim.pk])).content.decode()
    assert resident_id(1)[:6] + "********" + resident_id(1)[-4:] in page
    assert resident_id(1) not in page  # ID numbers are only ever shown masked
    assert reverse("approvals:claim_edit", args=[claim.pk]) in page

    # Submitting cannot be undone: without the box ticked nothing is submitted.
    response = provider.post(reverse("approvals:claim_submit", args=[claim.pk]))
    assert response.status_code == 400 and "请勾选" in response.content.decode()
    claim.refresh_from_db()
    assert claim.status == "draft"
    response = provider.post(reverse("approvals:claim_submit", args=[claim.pk]), CONFIRM, follow=True)
    claim.refresh_from_db()
    assert claim.status == "department_review"
    assert "已提交" in response.content.decode()

    # Another provider cannot see it; another department cannot open its task.
    assert clients["provider2_clerk"].get(reverse("approvals:claim", args=[claim.pk])).status_code == 404
    task_id = open_task_id(claim)
    assert clients["dept2_reviewer"].get(reverse("approvals:task", args=[task_id])).status_code == 404
    assert clients["dept2_reviewer"].post(reverse("approvals:task_take", args=[task_id])).status_code == 404
    assert claim.number not in clients["dept2_reviewer"].get(reverse("approvals:inbox")).content.decode()

    # The department reviewer: inbox, take, approve.
    reviewer = clients["dept_reviewer"]
    page = reviewer.get(reverse("approvals:inbox")).content.decode()
    assert claim.number in page and reverse("approvals:task_take", args=[task_id]) in page
    response = reviewer.post(reverse("approvals:task_take", args=[task_id]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("approvals:task", args=[task_id])
    page = response.content.decode()
    assert "张三" in page and resident_id(1) not in page and 'id="decision-form"' in page
    response = reviewer.post(reverse("approvals:task_decide", args=[task_id]), {"decision": "approve", "comment": "材料齐全"})
    assert response.status_code == 302 and response["Location"] == reverse("approvals:inbox")
    claim.refresh_from_db()
    assert claim.status == "hr_review"
    page = reviewer.get(reverse("approvals:inbox")).content.decode()
    assert "已提交决定" in page and f'data-task="{task_id}"' not in page

    # Deciding the same step again: 409, said plainly.
    response = reviewer.post(reverse("approvals:task_decide", args=[task_id]), {"decision": "approve"})
    assert response.status_code == 409
    assert "该步骤已有决定" in response.content.decode()

    # HR: a rejection of a line without a reason code is refused on the form; with one, a partial approval.
    hr = clients["hr_reviewer"]
    hr_task = open_task_id(claim)
    assert str(hr_task) in hr.get(reverse("approvals:inbox")).content.decode()
    response = hr.post(reverse("approvals:task_decide", args=[hr_task]), {"decision": "approve", "line_2_decision": "reject"})
    assert response.status_code == 400
    assert "驳回某行须选择理由代码" in response.content.decode()
    claim.refresh_from_db()
    assert claim.status == "hr_review"
    response = hr.post(
        reverse("approvals:task_decide", args=[hr_task]),
        {"decision": "approve", "comment": "第2行证书无法核验", "line_2_decision": "reject", "line_2_reason": "CERT_INVALID"},
    )
    assert response.status_code == 302
    claim.refresh_from_db()
    assert (claim.status, claim.total) == ("approved", Decimal("450.00"))

    # Finance: the claim waits on the finance page, its amount reserved (paying it: tests/test_payment_*).
    page = clients["finance_officer"].get(reverse("approvals:finance")).content.decode()
    assert claim.number in page
    assert set(claim.lines.values_list("payment_status", flat=True)) == {"reserved", "unpaid"}

    # The provider sees it approved, with its history.
    page = provider.get(reverse("approvals:claim", args=[claim.pk])).content.decode()
    assert '<span class="status status-approved">' in page
    history = page[page.index('id="claim-history"') :]
    for label in ("创建申领", "提交申领", "领取任务", "审核通过", "材料齐全", "证书无法核验或无效"):
        assert label in history, label
    assert history.index("提交申领") < history.index("审核通过")
    assert "dept_reviewer" in history and "hr_reviewer" in history
    assert reverse("approvals:claim_edit", args=[claim.pk]) not in page


def test_returned_claim_is_corrected_through_the_edit_form(demo, clients):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    reviewer = clients["dept_reviewer"]
    response = reviewer.post(reverse("approvals:task_decide", args=[open_task_id(claim)]), {"decision": "return"})
    assert response.status_code == 400 and "退回或不予补贴时须填写意见" in response.content.decode()
    reviewer.post(
        reverse("approvals:task_decide", args=[open_task_id(claim)]),
        {"decision": "return", "comment": "第2行证书编号与扫描件不符"},
    )
    claim.refresh_from_db()
    assert claim.status == "returned"

    provider = clients["provider_clerk"]
    page = provider.get(reverse("approvals:claim", args=[claim.pk])).content.decode()
    assert "第2行证书编号与扫描件不符" in page and "退回修改意见" in page
    # The correction task is in the provider's inbox.
    assert claim.number in provider.get(reverse("approvals:inbox")).content.decode()

    form = provider.get(reverse("approvals:claim_edit", args=[claim.pk])).content.decode()
    assert resident_id(2) not in form  # the stored number is not sent back, only its mask as placeholder
    post = {
        "department": "WL-YJJ",
        "policy": "S3",
        "class_name": claim.class_name,
        "training_start": claim.training_start.isoformat(),
        "training_end": claim.training_end.isoformat(),
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "2",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    for index, stored in enumerate(claim.lines.all()):
        row = line("", stored.name, certificate_number=stored.certificate_number)
        row["existing"] = stored.line_no
        if stored.line_no == 2:
            row["certificate_number"] = "T-2026-0002-FIXED"
        post.update({f"lines-{index}-{key}": value for key, value in row.items()})
    response = provider.post(reverse("approvals:claim_edit", args=[claim.pk]), post)
    assert response.status_code == 302, response.content.decode()[:3000]
    lines = list(claim.lines.select_related("trainee").order_by("line_no"))
    assert [l.certificate_number for l in lines] == ["T-2026-0001", "T-2026-0002-FIXED"]
    assert [l.trainee.id_number_masked for l in lines] == [
        resident_id(1)[:6] + "********" + resident_id(1)[-4:],
        resident_id(2)[:6] + "********" + resident_id(2)[-4:],
    ]

    provider.post(reverse("approvals:claim_submit", args=[claim.pk]), CONFIRM)
    claim.refresh_from_db()
    assert claim.status == "department_review"


def test_inbox_filters_to_clean_claims(demo, clients):
    clean = create_claim(user=demo["provider_clerk"], data=claim_data(class_name="clean class"))
    flagged = create_claim(
        user=demo["provider_clerk"],
        data=claim_data(lines=[line(resident_id(3), "王五", level="technician")], class_name="flagged class"),
    )
    for claim in (clean, flagged):
        submit_claim(user=demo["provider_clerk"], claim=claim)
    reviewer = clients["dept_reviewer"]
    everything = reviewer.get(reverse("approvals:inbox")).content.decode()
    assert clean.number in everything and flagged.number in everything
    only_clean = reviewer.get(reverse("approvals:inbox"), {"flags": "clean"}).content.decode()
    assert clean.number in only_clean and flagged.number not in only_clean

    # The reviewer sees why the line was flagged.
    page = reviewer.get(reverse("approvals:task", args=[open_task_id(flagged)])).content.decode()
    assert "LEVEL" in page and "S3 v2 不适用于该等级（技师）" in page


def test_pages_need_login_and_scope(demo, clients):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    anonymous = Client()
    for url in (reverse("approvals:inbox"), reverse("approvals:claims"), reverse("approvals:claim", args=[claim.pk])):
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    # A draft is the provider's own: a department reviewer cannot see it, nor list it.
    assert clients["dept_reviewer"].get(reverse("approvals:claim", args=[claim.pk])).status_code == 404
    assert claim.number not in clients["dept_reviewer"].get(reverse("approvals:claims")).content.decode()
    assert claim.number in clients["provider_clerk"].get(reverse("approvals:claims"), {"status": "draft"}).content.decode()
    assert claim.number not in clients["provider_clerk"].get(reverse("approvals:claims"), {"status": "paid"}).content.decode()
    # Only provider clerks draft claims; nobody edits another provider's claim.
    assert clients["dept_reviewer"].get(reverse("approvals:claim_new")).status_code == 403
    assert clients["provider2_clerk"].get(reverse("approvals:claim_edit", args=[claim.pk])).status_code == 404
    assert clients["provider2_clerk"].post(reverse("approvals:claim_submit", args=[claim.pk]), CONFIRM).status_code == 404
    claim.refresh_from_db()
    assert claim.status == "draft"


def test_english_switch_renders_english(demo, clients):
    client = clients["dept_reviewer"]
    # Chinese by default, even for a browser that asks for English.
    page = client.get(reverse("approvals:inbox"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "我的任务" in page and "My tasks" not in page

    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("approvals:inbox")}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("approvals:inbox")
    assert "My tasks" in page and "Team queue" in page and "Inbox" in page
    assert "我的任务" not in page and "团队队列" not in page
    assert '<html lang="en">' in page

    # Service messages and model choices are translated too.
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    response = client.post(reverse("approvals:task_decide", args=[open_task_id(claim)]), {"decision": "reject", "comment": "x"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "A reason code is required to reject" in page
    assert "Department review" in page

    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "我的任务" in client.get(reverse("approvals:inbox")).content.decode()


def test_add_row_keeps_what_was_typed_and_saves_nothing(demo, clients):
    provider = clients["provider_clerk"]
    post = claim_form_post(claim_data(lines=[line(resident_id(1), "张三")]))
    post["add_row"] = "1"
    response = provider.post(reverse("approvals:claim_new"), post)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="张三"' in row_html(html, 1)
    assert 'name="lines-1-id_number"' in row_html(html, 2)
    assert 'name="lines-TOTAL_FORMS" value="2"' in html
    assert Claim.objects.count() == 0

    # A row ticked for deletion is left out.
    post = claim_form_post(claim_data(lines=[line(resident_id(1), "张三"), line(BAD_ID, "李四")]))
    post["lines-1-DELETE"] = "on"
    assert provider.post(reverse("approvals:claim_new"), post).status_code == 302
    assert [l.name for l in Claim.objects.get().lines.all()] == ["张三"]


def test_a_renewal_line_edited_on_the_form_keeps_its_variant_and_its_amount(demo, clients):
    """S3 pays 100 for a renewal (variant "renewal") whatever the cost; the form once lacked the
    variant, so saving any edit made the line a new certificate paid at its cost, 450."""
    renewal = line(resident_id(1), "张三", variant="renewal", stated_cost="450.00")
    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=[renewal]))
    stored = claim.lines.get()
    assert (stored.variant, stored.amount) == ("renewal", Decimal("100.00"))

    provider = clients["provider_clerk"]
    page = provider.get(reverse("approvals:claim_edit", args=[claim.pk])).content.decode()
    post = form_as_sent(page)
    assert post["lines-0-name"] == "张三"
    post["lines-0-name"] = "张三丰"  # the only change the clerk makes
    response = provider.post(reverse("approvals:claim_edit", args=[claim.pk]), post)
    assert response.status_code == 302, response.content.decode()[:3000]

    edited = claim.lines.get()  # (the person is found by ID number: their record keeps its name)
    assert (edited.variant, edited.stated_cost, edited.amount) == ("renewal", Decimal("450.00"), Decimal("100.00"))
    claim.refresh_from_db()
    assert claim.total == Decimal("100.00")
