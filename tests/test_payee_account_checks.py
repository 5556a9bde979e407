"""Where public money goes: a payee's account is held in the payee's own name (N7: the trainee's
own social security card, the provider's own basic account, the enterprise's own account);
whoever releases a batch sees which transfers pay an account changed since the payee was last
paid, by whom and when; finance of one jurisdiction does not redirect money another jurisdiction
has approved for a person or an enterprise."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from claims import roles
from claims.errors import ActionForbidden, InvalidInput
from claims.models import Jurisdiction, Provider
from claims.services import create_claim
from claims.validators import name_key
from payments.models import PayeeAccount
from payments.selectors.batches import changed_accounts
from payments.services.payees import set_payee_account
from payments.services.results import correct_payee_after_return
from workflow.disbursement import apply_bank_result, build_batch, request_release
from workflow.services import submit_claim as submit
from workflow.staffing import ensure_staff_user

from .api_support import error, login
from .conftest import DEMO_PASSWORD, claim_data, line, resident_id
from .payments_support import approved_claim, living_allowance_claim
from .test_api_scope import zhuji  # noqa: F401  (a fixture)
from .test_enterprise_payee import PUMP_WORKS, contest_claim
from .test_payment_results import csv_file, released_batch, result_rows

SCHOOL = "温岭市某职业技能培训学校"  # WL-P001, as the demo registers it


def school() -> Provider:
    return Provider.objects.get(code="WL-P001")


# --------------------------------------------------------------------------- the holder's name


@pytest.mark.parametrize(
    ("typed", "registered"),
    [
        ("温岭市某职业技能培训学校", "温岭市某职业技能培训学校"),
        (" 温岭市 某职业技能培训学校 ", "温岭市某职业技能培训学校"),
        ("温岭市某泵业有限公司（温岭）", "温岭市某泵业有限公司(温岭)"),
        ("温岭市某泵业有限公司【温岭】", "温岭市某泵业有限公司［温岭］"),
        ("ＡＢＣ Trading Co., Ltd.", "abc trading co.,ltd."),
        ("学员５０", "学员50"),
        ("阿依古丽・买买提", "阿依古丽·买买提"),
    ],
)
def test_one_name_typed_two_ways_is_one_name(typed, registered):
    assert name_key(typed) == name_key(registered)


@pytest.mark.parametrize(("typed", "registered"), [("张三", "李四"), ("温岭市某技工学校", SCHOOL), ("学员5", "学员50")])
def test_two_names_are_two_names(typed, registered):
    assert name_key(typed) != name_key(registered)


def test_a_provider_is_paid_only_into_an_account_in_its_own_name(demo):
    """The classic diversion: the school's clerk puts the school's subsidy into an account held by
    someone else. The account is refused, naming the field and the name it must be."""
    before = PayeeAccount.objects.get(provider=school()).account_number_masked
    with pytest.raises(InvalidInput) as refused:
        set_payee_account(
            actor=demo["provider_clerk"],
            provider=school(),
            account_name="张三",
            bank_name="温岭农商银行",
            account_number="6230910000000000777",
        )
    assert list(refused.value.fields) == ["account_name"]
    assert SCHOOL in refused.value.fields["account_name"][0]
    assert PayeeAccount.objects.get(provider=school()).account_number_masked == before

    # The school's own name, typed with a space and in full width, is the school's name.
    account = set_payee_account(
        actor=demo["provider_clerk"],
        provider=school(),
        account_name="温岭市 某职业技能培训学校",
        bank_name="温岭农商银行",
        account_number="6230910000000000777",
    )
    assert account.account_number_masked == "6230***********0777"


def test_a_persons_card_account_is_held_by_the_person(demo):
    """S6 pays the person's social security card: the card's holder is the person named on the line."""
    person = living_allowance_claim(demo, serials=(50,)).lines.get()
    assert person.name == "学员50"
    with pytest.raises(InvalidInput) as refused:
        set_payee_account(
            actor=demo["finance_officer"],
            trainee=person.trainee,
            account_name="李四",
            bank_name="温岭农商银行",
            account_number="6230910000000000050",
        )
    assert list(refused.value.fields) == ["account_name"]
    assert not PayeeAccount.objects.filter(trainee=person.trainee).exists()

    set_payee_account(
        actor=demo["finance_officer"],
        trainee=person.trainee,
        account_name="学员５０",
        bank_name="温岭农商银行",
        account_number="6230910000000000050",
    )
    assert PayeeAccount.objects.get(trainee=person.trainee).account_name == "学员５０"


def test_an_enterprise_is_paid_into_its_own_account_through_the_api(demo):
    contest_claim(demo)
    finance = login("finance_officer")
    url = f"/api/v1/payee-accounts/enterprises/{PUMP_WORKS['enterprise_credit_code']}/"
    body = {"account_name": "温岭市某贸易有限公司", "bank_name": "温岭农商银行", "account_number": "6228480000000000777"}
    refused = error(finance.put(url, body, format="json"), 400)
    assert list(refused["fields"]) == ["account_name"]
    assert not PayeeAccount.objects.filter(enterprise_credit_code=PUMP_WORKS["enterprise_credit_code"]).exists()

    assert finance.put(url, {**body, "account_name": "温岭市某泵业有限公司 "}, format="json").status_code == 200


def test_a_returned_payee_is_not_corrected_into_someone_elses_account(
    demo, django_capture_on_commit_callbacks, celery_eager, apply_result
):
    claim = approved_claim(demo, serials=(1,))
    batch = released_batch(demo, django_capture_on_commit_callbacks)
    transfer = batch.transfers.get()
    apply_result(
        actor=demo["finance_officer"],
        batch=batch,
        filename="回单.csv",
        content=csv_file(result_rows(batch, {transfer.seq: ("失败", "户名与账号不符")})),
    )
    with pytest.raises(InvalidInput) as refused:
        correct_payee_after_return(
            actor=demo["finance_officer"],
            transfer=transfer,
            account_name="新户名",
            bank_name="工商银行",
            account_number="6222000011112222",
            reason="退票更正",
        )
    assert list(refused.value.fields) == ["account_name"]
    claim.refresh_from_db()
    assert list(claim.lines.values_list("payment_status", flat=True)) == ["returned"]


# --------------------------------------------------------------------------- changed since last paid


def paid(demo, batch, django_capture_on_commit_callbacks):
    """The bank's result: every transfer of the batch paid."""
    with django_capture_on_commit_callbacks(execute=True):
        apply_bank_result(
            actor=demo["finance_officer"],
            batch=batch,
            filename="回单.csv",
            content=csv_file(result_rows(batch, {transfer.seq: "成功" for transfer in batch.transfers.all()})),
        )


def test_the_releaser_sees_which_payees_account_changed_since_it_was_last_paid(
    demo, django_capture_on_commit_callbacks, celery_eager
):
    """The school is paid into its account; later its clerk alone changes the account. The next
    batch pays the new account: whoever releases it sees so on the batch's page and in the API,
    with who changed it and when. The other school, paid into the account it was paid before, and
    the person paid for the first time, are not listed."""
    approved_claim(demo, serials=(1,))
    approved_claim(demo, serials=(3,), clerk="provider2_clerk")
    paid(demo, released_batch(demo, django_capture_on_commit_callbacks), django_capture_on_commit_callbacks)

    set_payee_account(
        actor=demo["provider_clerk"],
        provider=school(),
        account_name=SCHOOL,
        bank_name="温岭农商银行",
        account_number="6230910000000009999",
    )
    approved_claim(demo, serials=(4,))
    approved_claim(demo, serials=(5,), clerk="provider2_clerk")
    person = living_allowance_claim(demo, serials=(50,)).lines.get()
    set_payee_account(
        actor=demo["finance_officer"],
        trainee=person.trainee,
        account_name="学员50",
        bank_name="温岭农商银行",
        account_number="6230910000000000050",
    )
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=Jurisdiction.objects.get(code="WL"))
    to_school = batch.transfers.get(provider=school())

    changed = changed_accounts(batch)
    assert [(row["seq"], row["account_number"], row["previous_account_number"]) for row in changed] == [
        (to_school.seq, "6230***********9999", "6222***********0011")
    ]
    assert changed[0]["set_by"] == "provider_clerk"
    assert changed[0]["set_at"] is not None

    # The API's batch detail says it.
    detail = login("finance_officer2").get(f"/api/v1/payment-batches/{batch.pk}/").json()
    assert [(row["seq"], row["set_by"], row["account_number"]) for row in detail["changed_accounts"]] == [
        (to_school.seq, "provider_clerk", "6230***********9999")
    ]

    # So does the page the release is made on.
    releaser = Client()
    releaser.force_login(demo["finance_officer2"])
    page = releaser.get(reverse("payments:batch", args=[batch.pk]))
    text = page.content.decode()
    assert "收款账户自上次成功拨付后已变更" in text
    assert "6230***********9999" in text and "6222***********0011" in text and "provider_clerk" in text

    # The release's entry in the ledger names the transfers its releaser was shown.
    released = request_release(actor=demo["finance_officer2"], batch=batch)
    entry = AuditEvent.objects.filter(action="payment_batch.release_requested", object_id=str(released.pk)).get()
    assert entry.detail["changed_accounts"] == [to_school.seq]


def test_an_account_changed_and_changed_back_is_the_account_last_paid(demo, django_capture_on_commit_callbacks, celery_eager):
    approved_claim(demo, serials=(1,))
    paid(demo, released_batch(demo, django_capture_on_commit_callbacks), django_capture_on_commit_callbacks)
    for number in ("6230910000000009999", "6222020000000000011"):
        set_payee_account(
            actor=demo["provider_clerk"], provider=school(), account_name=SCHOOL, bank_name="工商银行", account_number=number
        )
    approved_claim(demo, serials=(4,))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=Jurisdiction.objects.get(code="WL"))
    assert changed_accounts(batch) == []
    detail = login("finance_officer2").get(f"/api/v1/payment-batches/{batch.pk}/").json()
    assert detail["changed_accounts"] == []


# --------------------------------------------------------------------------- one card, several jurisdictions


@pytest.fixture
def zhuji_finance(zhuji):
    """诸暨 (tests/test_api_scope.py: a provider, its clerk, S3 in force) and a finance officer there."""
    return ensure_staff_user(
        username="zj_finance", password=DEMO_PASSWORD, role=roles.FINANCE_OFFICER, scope_group=zhuji.staff_group
    )


def zhuji_line(serial: int, name: str, *, submitted: bool = True):
    clerk = get_user_model().objects.get(username="zj_clerk")
    claim = create_claim(user=clerk, data=claim_data(department="ZJ-YJJ", lines=[line(resident_id(serial), name)]))
    if submitted:
        submit(user=clerk, claim=claim)
    return claim.lines.get()


def test_finance_elsewhere_does_not_redirect_a_persons_money_approved_here(demo, zhuji_finance):
    """学员50's living allowance is approved in 温岭 and awaits a batch, to the card 温岭's finance
    entered. The person also trained in 诸暨: 诸暨's finance may not point the card elsewhere while
    温岭's money waits to go to it (one card per person, two jurisdictions' money); 温岭's may."""
    person = living_allowance_claim(demo, serials=(50,)).lines.get()
    set_payee_account(
        actor=demo["finance_officer"],
        trainee=person.trainee,
        account_name="学员50",
        bank_name="温岭农商银行",
        account_number="6230910000000000050",
    )
    zhuji_line(50, "学员50")

    with pytest.raises(ActionForbidden) as refused:
        set_payee_account(
            actor=zhuji_finance,
            trainee=person.trainee,
            account_name="学员50",
            bank_name="诸暨农商银行",
            account_number="6230910000000000666",
        )
    assert "温岭市" in str(refused.value)
    assert PayeeAccount.objects.get(trainee=person.trainee).account_number_masked == "6230***********0050"

    # Once 温岭's money has gone into a batch (which pays the card as it was), 诸暨 may correct it.
    build_batch(actor=demo["finance_officer"], jurisdiction=Jurisdiction.objects.get(code="WL"))
    set_payee_account(
        actor=zhuji_finance,
        trainee=person.trainee,
        account_name="学员50",
        bank_name="诸暨农商银行",
        account_number="6230910000000000666",
    )
    assert PayeeAccount.objects.get(trainee=person.trainee).account_number_masked == "6230***********0666"


def test_a_draft_elsewhere_gives_that_jurisdictions_finance_no_hold_on_a_persons_card(demo, zhuji_finance):
    """A clerk typing the person's ID number into a draft is not a claim: 诸暨's finance may not
    set the card of a person whose only line there is a draft."""
    person = living_allowance_claim(demo, serials=(51,)).lines.get()
    zhuji_line(51, "学员51", submitted=False)
    with pytest.raises(ActionForbidden):
        set_payee_account(
            actor=zhuji_finance,
            trainee=person.trainee,
            account_name="学员51",
            bank_name="诸暨农商银行",
            account_number="6230910000000000051",
        )
    assert not PayeeAccount.objects.filter(trainee=person.trainee).exists()
