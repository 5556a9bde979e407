"""Hostile text and numbers, as an attacker sends them: every one is a 400 in the API's error
shape naming the field, never a 500, and nothing is saved (the one validation layer:
api/parsers.py, api/validation.py, claims/bounds.py; docs/architecture.md "Input")."""

import datetime
import json

import pytest
from django.test import Client

from audit.models import AuditEvent
from claims.models import Claim, Comment
from payments.models import FundAccount, PayeeAccount

from .api_support import create_claim, error, login, ok, only_task, submit
from .conftest import claim_data, line, resident_id
from .payments_support import approved_claim
from .test_recoveries import paid_claim  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("celery_eager")

NUL = "name\x00with a NUL"
TOO_LONG = "户" * 201  # every name column here holds 200 characters
YEAR_NOW = datetime.date.today().year


@pytest.fixture
def world(demo):
    """One of each object the hostile requests aim at, and who may act on it."""
    clerk = login("provider_clerk")
    draft = create_claim(clerk, claim_data())
    submitted = submit(clerk, create_claim(clerk, claim_data(lines=[line(resident_id(7), "王五")]))["id"])
    paid_for = approved_claim(demo, serials=(21,))
    finance = login("finance_officer")
    account = FundAccount.objects.get(year=YEAR_NOW, jurisdiction__code="WL")
    return {
        "draft": draft["id"],
        "submitted": submitted["id"],
        "task": only_task(login("dept_reviewer"))["id"],
        "account": account.pk,
        "trainee": paid_for.lines.get().trainee_id,
        "finance": finance,
    }


def plan(**item):
    return lambda w: {"fund_account": w["account"], "items": [{"category": "safety", "headcount": 1, "amount": "100.00", **item}]}


def fund_account(**fields):
    body = {
        "year": YEAR_NOW + 1,
        "name": "温岭市专账",
        "bank_name": "工商银行",
        "account_number": "12070002",
        "budget": "1000.00",
    }
    return lambda w: {**body, **fields}


def payee(**fields):
    return lambda w: {"account_name": "张三", "bank_name": "工商银行", "account_number": "6222020200001234", **fields}


# (who, method, URL (from the world), body (from the world), the field the 400 names)
HOSTILE = {
    # A NUL byte in JSON text: PostgreSQL refuses it in any text column.
    "NUL in a claim's class name": (
        "provider_clerk",
        "post",
        lambda w: "/api/v1/claims/",
        lambda w: claim_data(class_name=NUL),
        "class_name",
    ),
    "NUL in a line's name": (
        "provider_clerk",
        "post",
        lambda w: "/api/v1/claims/",
        lambda w: claim_data(lines=[line(resident_id(1), NUL)]),
        "lines[0].name",
    ),
    "NUL in an edit": (
        "provider_clerk",
        "patch",
        lambda w: f"/api/v1/claims/{w['draft']}/",
        lambda w: {"class_name": NUL},
        "class_name",
    ),
    "NUL in a withdrawal's reason": (
        "provider_clerk",
        "post",
        lambda w: f"/api/v1/claims/{w['draft']}/withdraw/",
        lambda w: {"reason": NUL},
        "reason",
    ),
    "NUL in a decision's comment": (
        "dept_reviewer",
        "post",
        lambda w: f"/api/v1/tasks/{w['task']}/decide/",
        lambda w: {"decision": "return", "comment": NUL},
        "comment",
    ),
    "NUL in a key": (
        "dept_reviewer",
        "post",
        lambda w: f"/api/v1/tasks/{w['task']}/decide/",
        lambda w: {"decision": "approve", NUL: "x"},
        "name\\u0000with a NUL",
    ),
    "NUL in a fund account's name": (
        "finance_officer",
        "post",
        lambda w: "/api/v1/fund-accounts/",
        fund_account(name=NUL),
        "name",
    ),
    "NUL in a plan's department": (
        "dept_reviewer",
        "post",
        lambda w: "/api/v1/plans/",
        lambda w: {**plan()(w), "department": NUL},
        "department",
    ),
    "NUL in a batch's jurisdiction": (
        "finance_officer",
        "post",
        lambda w: "/api/v1/payment-batches/",
        lambda w: {"jurisdiction": NUL},
        "jurisdiction",
    ),
    "NUL in an account name": (
        "finance_officer",
        "put",
        lambda w: f"/api/v1/payee-accounts/trainees/{w['trainee']}/",
        payee(account_name=NUL),
        "account_name",
    ),
    "NUL in a provider's account name": (
        "provider_clerk",
        "put",
        lambda w: "/api/v1/payee-accounts/providers/WL-P001/",
        payee(account_name=NUL),
        "account_name",
    ),
    # Control characters (an invisible \x01 pasted into a name) and lone surrogates (valid JSON
    # escapes no UTF-8 text can hold): a spreadsheet cannot carry the first, PostgreSQL the second.
    "a control character in a line's name": (
        "provider_clerk",
        "post",
        lambda w: "/api/v1/claims/",
        lambda w: claim_data(lines=[line(resident_id(1), "张\x01三")]),
        "lines[0].name",
    ),
    "a vertical tab in a decision's comment": (
        "dept_reviewer",
        "post",
        lambda w: f"/api/v1/tasks/{w['task']}/decide/",
        lambda w: {"decision": "return", "comment": "见附件\x0b第二页"},
        "comment",
    ),
    "a C1 control in a withdrawal's reason": (
        "provider_clerk",
        "post",
        lambda w: f"/api/v1/claims/{w['draft']}/withdraw/",
        lambda w: {"reason": "重复\x9b申报"},
        "reason",
    ),
    "a lone surrogate in an edit": (
        "provider_clerk",
        "patch",
        lambda w: f"/api/v1/claims/{w['draft']}/",
        lambda w: {"class_name": "x\ud800"},  # json.dumps writes it as the escape \ud800
        "class_name",
    ),
    "a lone surrogate in a comment": (
        "provider_clerk",
        "post",
        lambda w: f"/api/v1/claims/{w['draft']}/comments/",
        lambda w: {"body": "a\ud800b"},
        "body",
    ),
    "a control character in a key": (
        "dept_reviewer",
        "post",
        lambda w: f"/api/v1/tasks/{w['task']}/decide/",
        lambda w: {"decision": "approve", "a\x0bb": "x"},
        "a\\u000bb",
    ),
    # Text longer than its column.
    "a fund account's name too long": (
        "finance_officer",
        "post",
        lambda w: "/api/v1/fund-accounts/",
        fund_account(name=TOO_LONG),
        "name",
    ),
    "a fund account's bank too long": (
        "finance_officer",
        "post",
        lambda w: "/api/v1/fund-accounts/",
        fund_account(bank_name=TOO_LONG),
        "bank_name",
    ),
    "an account name too long": (
        "finance_officer",
        "put",
        lambda w: f"/api/v1/payee-accounts/trainees/{w['trainee']}/",
        payee(account_name=TOO_LONG),
        "account_name",
    ),
    "a provider's account name too long": (
        "provider_clerk",
        "put",
        lambda w: "/api/v1/payee-accounts/providers/WL-P001/",
        payee(account_name=TOO_LONG),
        "account_name",
    ),
    "a withdrawal's reason of a megabyte": (
        "provider_clerk",
        "post",
        lambda w: f"/api/v1/claims/{w['draft']}/withdraw/",
        lambda w: {"reason": "x" * 1_000_000},
        "reason",
    ),
    # Numbers past what a column (or reason) holds.
    "a stated cost of 99,999,999,999,999.00": (
        "provider_clerk",
        "post",
        lambda w: "/api/v1/claims/",
        lambda w: claim_data(lines=[line(resident_id(1), stated_cost="99999999999999.00")]),
        "lines[0].stated_cost",
    ),
    "a stated cost of 1e15": (
        "provider_clerk",
        "post",
        lambda w: "/api/v1/claims/",
        lambda w: claim_data(lines=[line(resident_id(1), stated_cost=1e15)]),
        "lines[0].stated_cost",
    ),
    "a headcount of 3,000,000,000": (
        "dept_reviewer",
        "post",
        lambda w: "/api/v1/plans/",
        plan(headcount=3_000_000_000),
        "items[0].headcount",
    ),
    "a headcount of 1e400 (infinity to Python)": (
        "dept_reviewer",
        "post",
        lambda w: "/api/v1/plans/",
        # Raw JSON text: json.dumps would write the infinity as Infinity, which the parser refuses anyway.
        lambda w: json.dumps(plan()(w)).replace('"headcount": 1', '"headcount": 1e400'),
        "items[0].headcount",
    ),
    "a budget of 1e30": ("finance_officer", "post", lambda w: "/api/v1/fund-accounts/", fund_account(budget="1e30"), "budget"),
    "a claim id past any integer column": (
        "finance_officer",
        "post",
        lambda w: "/api/v1/payment-batches/",
        lambda w: {"claims": [2**63]},
        "claims[0]",
    ),
    "a fund account id past any integer column": (
        "dept_reviewer",
        "post",
        lambda w: "/api/v1/plans/",
        lambda w: {**plan()(w), "fund_account": 2**63},
        "fund_account",
    ),
    # A value of a type its field never takes: str() would write ['a'] or {'a': 1} into the
    # ledger, and a boolean's other spellings ("yes", "on") would be read as false.
    "a list as a withdrawal's reason": (
        "provider_clerk",
        "post",
        lambda w: f"/api/v1/claims/{w['draft']}/withdraw/",
        lambda w: {"reason": ["重复申报"]},
        "reason",
    ),
    "an object as a decision's comment": (
        "dept_reviewer",
        "post",
        lambda w: f"/api/v1/tasks/{w['task']}/decide/",
        lambda w: {"decision": "return", "comment": {"text": "请补充考勤表"}},
        "comment",
    ),
    "an object as a comment's body": (
        "provider_clerk",
        "post",
        lambda w: f"/api/v1/claims/{w['draft']}/comments/",
        lambda w: {"body": {"text": "你好"}},
        "body",
    ),
    "a word no boolean is as a comment's internal": (
        "dept_reviewer",
        "post",
        lambda w: f"/api/v1/claims/{w['submitted']}/comments/",
        lambda w: {"body": "内部意见", "internal": "maybe"},
        "internal",
    ),
    "a list as a task search's text": (
        "dept_reviewer",
        "post",
        lambda w: "/api/v1/tasks/search/",
        lambda w: {"q": ["张三"]},
        "q",
    ),
    # A reason is a code of the reason list, and says why something is refused (DESIGN.md's decide).
    "an unknown reason code on an approval": (
        "dept_reviewer",
        "post",
        lambda w: f"/api/v1/tasks/{w['task']}/decide/",
        lambda w: {"decision": "approve", "reason": "NOPE"},
        "reason",
    ),
    "an unknown reason code on a return": (
        "dept_reviewer",
        "post",
        lambda w: f"/api/v1/tasks/{w['task']}/decide/",
        lambda w: {"decision": "return", "comment": "请补充", "reason": "NOPE"},
        "reason",
    ),
    "a reason code on an approval": (
        "dept_reviewer",
        "post",
        lambda w: f"/api/v1/tasks/{w['task']}/decide/",
        lambda w: {"decision": "approve", "reason": "FRAUD"},
        "reason",
    ),
    "a reason code on an approved line": (
        "dept_reviewer",
        "post",
        lambda w: f"/api/v1/tasks/{w['task']}/decide/",
        lambda w: {"decision": "approve", "lines": [{"line": 1, "decision": "approve", "reason": "DOCS"}]},
        "lines[0].reason",
    ),
    "a line approved in a rejection": (
        "dept_reviewer",
        "post",
        lambda w: f"/api/v1/tasks/{w['task']}/decide/",
        lambda w: {"decision": "reject", "comment": "未开班", "reason": "DOCS", "lines": [{"line": 1, "decision": "approve"}]},
        "lines",
    ),
    # Digits of other scripts: str.isdigit() takes them, int() refuses "²" (a 500) and reads "١" as 1.
    "a superscript digit as a decision's line": (
        "dept_reviewer",
        "post",
        lambda w: f"/api/v1/tasks/{w['task']}/decide/",
        lambda w: {"decision": "approve", "lines": [{"line": "²", "decision": "approve"}]},
        "lines[0].line",
    ),
    "an Arabic-Indic digit as a decision's line": (
        "dept_reviewer",
        "post",
        lambda w: f"/api/v1/tasks/{w['task']}/decide/",
        lambda w: {"decision": "approve", "lines": [{"line": "١", "decision": "approve"}]},
        "lines[0].line",
    ),
    # Dates no claim can have.
    "training in year 9999": (
        "provider_clerk",
        "post",
        lambda w: "/api/v1/claims/",
        lambda w: claim_data(training_start="9999-12-01", training_end="9999-12-31"),
        "training_end",
    ),
    "training in year 1": (
        "provider_clerk",
        "post",
        lambda w: "/api/v1/claims/",
        lambda w: claim_data(training_start="0001-01-01"),
        "training_start",
    ),
    "a certificate of year 1": (
        "provider_clerk",
        "post",
        lambda w: "/api/v1/claims/",
        lambda w: claim_data(lines=[line(resident_id(1), certificate_date="0001-01-01")]),
        "lines[0].certificate_date",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_values_are_400_naming_the_field_and_save_nothing(world, case):
    who, method, url, body, field = HOSTILE[case]
    client = world["finance"] if who == "finance_officer" else login(who)
    counts = (Claim.objects, FundAccount.objects, PayeeAccount.objects, AuditEvent.objects, Comment.objects)
    before = [objects.count() for objects in counts]
    payload = body(world)
    payload = payload if isinstance(payload, str) else json.dumps(payload)
    response = getattr(client, method)(url(world), payload, content_type="application/json")
    found = error(response, 400)
    assert field in found["fields"], found
    assert [objects.count() for objects in counts] == before


# Query parameters: (who, URL, the parameter the 400 names).
HOSTILE_QUERIES = {
    "a ledger entry number of 5,000 digits": ("auditor", "/api/v1/audit/inclusion/?seq=" + "9" * 5000, "seq"),
    "a report year in superscript digits": ("finance_officer", "/api/v1/reports/funds/?year=²⁰²⁶", "year"),
    "a report year of 5,000 digits": ("finance_officer", "/api/v1/reports/funds/?year=" + "9" * 5000, "year"),
    "a plans year in superscript digits": ("dept_reviewer", "/api/v1/plans/?year=²⁰²⁶", "year"),
    "a task filter's claim of 1e999999999": ("dept_reviewer", "/api/v1/tasks/?claim=1e999999999", "claim"),
    "a claim search longer than any class name": ("auditor", "/api/v1/claims/?q=" + "班" * 201, "q"),
    "a provider filter longer than any code": ("auditor", "/api/v1/claims/?provider=" + "P" * 41, "provider"),
    "notifications before a superscript digit": ("dept_reviewer", "/api/v1/notifications/?before=²", "before"),
}


@pytest.mark.parametrize("case", list(HOSTILE_QUERIES), ids=list(HOSTILE_QUERIES))
def test_hostile_query_parameters_are_400_naming_the_parameter(demo, case):
    who, url, parameter = HOSTILE_QUERIES[case]
    found = error(login(who).get(url), 400)
    assert parameter in found["fields"], found


def test_json_nested_100000_deep_is_400_naming_the_top_level_field(demo):
    clerk = login("provider_clerk")
    deep = '{"class_name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    found = error(clerk.post("/api/v1/claims/", deep, content_type="application/json"), 400)
    assert "class_name" in found["fields"], found
    deep = "[" * 100 + "]" * 100
    found = error(clerk.post("/api/v1/claims/", deep, content_type="application/json"), 400)
    assert found["fields"], found
    assert Claim.objects.count() == 0


def test_a_nul_in_a_query_or_path_is_400_naming_the_parameter(demo):
    auditor = login("auditor")
    found = error(auditor.get("/api/v1/claims/?q=a%00b"), 400)
    assert "q" in found["fields"], found
    found = error(login("finance_officer").get("/api/v1/payee-accounts/providers/WL%00P001/"), 400)
    assert found["fields"], found


def test_a_body_over_the_upload_limit_is_json_not_html(demo, settings):
    clerk = login("provider_clerk")
    big = json.dumps(claim_data(class_name="x" * 3_000_000))
    response = clerk.post("/api/v1/claims/", big, content_type="application/json")
    assert response.status_code in (400, 413)
    found = error(response, response.status_code)
    assert found["code"] == "too_large"
    assert Claim.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    ["/api/v1/claims/abc/", "/api/v1/nothing-here/", "/api/v1/plans/1x/", "/api/v1/claims/1/lines/x/override/"],
)
def test_an_unknown_api_path_is_a_json_404(demo, url):
    assert error(login("auditor").get(url), 404)["code"] == "not_found"


def test_an_unknown_api_path_is_json_404_without_a_login_too(db):
    response = Client().get("/api/v1/plans/abc/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"


def test_pages_keep_their_html_404(demo, client):
    client.force_login(demo["auditor"])
    response = client.get("/audit/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_a_receipt_of_year_1_is_400_naming_the_date(demo, paid_claim):
    from payments.models import RecoveryReceipt

    hr, finance = login("hr_reviewer"), login("finance_officer")
    order = ok(
        hr.post(
            "/api/v1/recoveries/",
            {
                "claim": paid_claim.pk,
                "line": 1,
                "amount_due": "10.00",
                "payer_kind": "provider",
                "payer_name": "温岭市某职业技能培训学校",
                "reason_code": "fraud",
                "reason": "虚假培训",
            },
            format="json",
        ),
        201,
    )
    receipt = {"amount": "10.00", "received_on": "0001-01-01", "reference": "R1"}
    found = error(finance.post(f"/api/v1/recoveries/{order['id']}/receipts/", receipt, format="json"), 400)
    assert set(found["fields"]) == {"received_on"}
    receipt["reference"] = NUL
    found = error(finance.post(f"/api/v1/recoveries/{order['id']}/receipts/", receipt, format="json"), 400)
    assert set(found["fields"]) == {"reference"}
    assert not RecoveryReceipt.objects.exists()


@pytest.mark.parametrize(
    "query",
    ["submitted_to=9999-12-31", "submitted_from=0001-01-01&submitted_to=9999-12-31", "number=%00"],
)
def test_the_audit_search_filters_refuse_dates_no_claim_has(demo, client, query):
    client.force_login(demo["auditor"])
    response = client.get(f"/audit/?{query}")
    assert response.status_code in (200, 400), response.status_code


def test_the_ledger_export_and_as_of_refuse_year_9999(demo, client):
    client.force_login(demo["auditor"])
    response = client.post("/audit/export/package/", {"date_from": "2026-01-01", "date_to": "9999-12-31"})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="audit.exported").exists()
    claim = approved_claim(demo, serials=(31,))
    response = client.get(f"/audit/claims/{claim.pk}/as-of/?date=9999-12-31")
    assert response.status_code == 200 and "2099年12月31日" in response.content.decode()  # the refusal names the limit


def test_a_roster_with_a_cost_of_1e15_and_a_certificate_of_year_1_names_both_rows(demo):
    from .test_roster_import import fill_template, trainee_row, upload

    rows = [trainee_row(1, stated_cost=1e15), trainee_row(2, certificate_date=datetime.date(1, 1, 1))]
    found = error(upload(login("provider_clerk"), fill_template(rows)), 400)
    assert {"rows[2].stated_cost", "rows[3].certificate_date"} <= set(found["fields"]), found
    assert Claim.objects.count() == 0


def test_a_decision_comment_and_a_withdrawal_reason_are_checked_by_their_services_naming_the_field(demo):
    """The pages' forms reach the services without the API's parser: the services refuse a
    control character themselves (the API refuses it earlier, the same way)."""
    from claims.errors import InvalidInput
    from claims.services import create_claim as create
    from workflow.selectors import open_task_of_claim
    from workflow.services import decide_task, submit_claim, withdraw_claim

    clerk = demo["provider_clerk"]
    claim = create(user=clerk, data=claim_data(lines=[line(resident_id(61))]))
    with pytest.raises(InvalidInput) as withdrawal:
        withdraw_claim(user=clerk, claim=claim, reason="重复\x00提交")
    assert "U+0000" in withdrawal.value.fields["reason"][0]
    submit_claim(user=clerk, claim=claim)
    claim.refresh_from_db()
    task = open_task_of_claim(claim)
    with pytest.raises(InvalidInput) as decision:
        decide_task(user=demo["dept_reviewer"], task_id=task.pk, decision="return", comment="请补充\x0b考勤表")
    assert "U+000B" in decision.value.fields["comment"][0]
    claim.refresh_from_db()
    assert claim.status == "department_review"
    assert not AuditEvent.objects.filter(claim_id=claim.pk, action__in=["claim.returned", "claim.withdrawn"]).exists()


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("张\u202e三丰", "202E"),  # right-to-left override: shown reversed, stored as typed
        ("张\u2067三", "2067"),  # right-to-left isolate
        ("张\u200b三", "200B"),  # zero-width space: "张三" spelled a second way
        ("\ufeff张三", "FEFF"),  # a byte-order mark inside the text
    ],
)
def test_a_name_that_reads_otherwise_than_it_is_stored_is_refused_naming_the_line(demo, name, code):
    """A text whose invisible characters reorder it on screen, or spell it a second way that looks
    the same, is refused where it comes in, naming the field and the line; nothing is saved."""
    clerk = login("provider_clerk")
    before = Claim.objects.count()
    body = error(
        clerk.post("/api/v1/claims/", claim_data(lines=[line(resident_id(71)), line(resident_id(72), name)]), format="json"), 400
    )
    assert any(f"U+{code}" in message for message in body["fields"]["lines[1].name"]), body
    assert Claim.objects.count() == before


def test_joiners_that_scripts_and_emoji_need_are_kept():
    from claims.bounds import character_refusal

    assert character_refusal("阿依古丽\u200d·买买提") is None and character_refusal("👩\u200d💻") is None


@pytest.mark.parametrize("digit", ["²", "١"])
def test_a_digit_of_another_script_is_no_line_or_task_on_the_pages(demo, client, digit):
    """The public objection form (no login) and the bulk approval's confirmation answer a digit of
    another script as any other value that is no id: no such line (404, 400 when filed), a
    redirect with the message; never a 500 (str.isdigit() takes "²", which int() refuses)."""
    from workflow.models import Objection

    assert client.get(f"/public/notice/objection/?line={digit}").status_code == 404  # as for ?line=x: no such line on notice
    filed = client.post("/public/notice/objection/", {"line": digit, "contact": "13800000000", "reason": "未参加培训"})
    assert filed.status_code == 400 and not Objection.objects.exists()
    client.force_login(demo["dept_reviewer"])
    assert client.post("/inbox/bulk-approve/confirm/", {"tasks": [digit]}).status_code == 302


@pytest.mark.parametrize("spelling", ["True", "yes", "on", 1])
def test_a_note_marked_internal_in_any_spelling_of_true_stays_internal(demo, spelling):
    """The API takes DRF's spellings of a boolean; each true one keeps the note from the provider
    (read as false, a reviewer's internal note would be shown to the school)."""
    clerk = login("provider_clerk")
    claim = submit(clerk, create_claim(clerk, claim_data())["id"])
    note = {"body": "内部：核对考勤", "internal": spelling}
    posted = ok(login("dept_reviewer").post(f"/api/v1/claims/{claim['id']}/comments/", note, format="json"), 201)
    assert posted["internal"] is True
    assert Comment.objects.get(pk=posted["id"]).internal
    assert all(comment["body"] != note["body"] for comment in ok(clerk.get(f"/api/v1/claims/{claim['id']}/comments/")))


@pytest.mark.parametrize(
    ("who", "query", "parameter"),
    [
        ("auditor", "/api/v1/claims/?status=nope&status=draft", "status"),
        ("auditor", "/api/v1/claims/?department=WL-YJJ&department=WL-JYJ", "department"),
        ("finance_officer", "/api/v1/plans/?year=abc&year=2026", "year"),
        ("dept_reviewer", "/api/v1/tasks/?claim=1&claim=2", "claim"),
    ],
)
def test_a_query_parameter_given_twice_is_400_naming_it(demo, who, query, parameter):
    """No parameter of the API takes two values: the first was silently dropped (a proxy's log, a
    cache or a reviewer's link says one thing, the answer another), so which one counts is refused."""
    found = error(login(who).get(query), 400)
    assert parameter in found["fields"], found
