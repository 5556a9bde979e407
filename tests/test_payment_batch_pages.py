"""The payment batch pages: finance's desk, building a batch, its release by the other officer (four
eyes), cancelling, the bank file download, payee accounts, and scope."""

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from claims.models import Claim, ClaimLine
from payments.models import PayeeAccount, PaymentBatch

from .payments_support import approved_claim, living_allowance_claim, open_task_id

CONFIRM = {"confirm": "1"}  # the box an officer ticks to release a batch (irreversible)

pytestmark = pytest.mark.usefixtures("celery_eager")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def clients(demo):
    return {name: client_for(user) for name, user in demo.items()}


def html(response, status: int = 200) -> str:
    assert response.status_code == status, (response.status_code, response.content.decode()[:2000])
    return response.content.decode()


def test_finance_builds_and_the_other_officer_releases(demo, clients, django_capture_on_commit_callbacks):
    first = approved_claim(demo, serials=(1, 2))
    second = approved_claim(demo, serials=(3,))
    finance, finance2 = clients["finance_officer"], clients["finance_officer2"]

    desk = html(finance.get(reverse("approvals:finance")))
    assert first.number in desk and second.number in desk
    assert reverse("payments:batch_build") in desk and reverse("payments:batches") in desk

    page = html(finance.get(reverse("payments:batch_build")))
    assert 'id="awaiting-claims"' in page and first.number in page

    # Nothing ticked with "selected claims": refused on the page, nothing built.
    assert "请至少勾选一件申领" in html(finance.post(reverse("payments:batch_build"), {"scope": "selected"}), 400)
    response = finance.post(reverse("payments:batch_build"), {"scope": "selected", "claims": [first.pk]})
    batch = PaymentBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("payments:batch", args=[batch.pk])
    assert batch.line_count == 2 and batch.built_by == demo["finance_officer"]

    page = html(finance.get(reverse("payments:batch", args=[batch.pk])))
    assert 'id="four-eyes"' in page and 'id="release-form"' not in page
    assert PayeeAccount.objects.get(provider=first.provider).account_number_masked in page
    # The builder posting a release anyway is refused with the four-eyes message.
    response = finance.post(reverse("payments:batch_release", args=[batch.pk]), CONFIRM, follow=True)
    assert "另一名财政经办人" in html(response)
    assert PaymentBatch.objects.get(pk=batch.pk).status == "built"

    page = html(finance2.get(reverse("payments:batch", args=[batch.pk])))
    assert 'id="release-form"' in page and 'id="four-eyes"' not in page
    # Releasing cannot be undone: without the box ticked (the browser's `required` aside) nothing moves.
    response = finance2.post(reverse("payments:batch_release", args=[batch.pk]))
    assert "请勾选" in html(response, 400)
    assert PaymentBatch.objects.get(pk=batch.pk).status == "built"
    with django_capture_on_commit_callbacks(execute=True):
        response = finance2.post(reverse("payments:batch_release", args=[batch.pk]), CONFIRM)
    assert response.status_code == 302
    batch.refresh_from_db()
    assert (batch.status, batch.released_by) == ("released", demo["finance_officer2"])
    page = html(finance2.get(reverse("payments:batch", args=[batch.pk])))
    assert 'id="batch-files"' in page and 'id="batch-checksum"' in page and 'id="release-form"' not in page
    assert 'id="cancel-form"' not in page
    assert set(ClaimLine.objects.filter(claim=first).values_list("payment_status", flat=True)) == {"in_payment"}

    download = finance2.get(reverse("payments:batch_file", args=[batch.pk, "payment_csv"]))
    assert download.status_code == 200 and download.content.startswith(b"\xef\xbb\xbf")
    assert AuditEvent.objects.filter(action="payment_file.downloaded", actor=demo["finance_officer2"]).count() == 1
    # The auditor sees the batch and the files, but may not take the file with the full accounts.
    page = html(clients["auditor"].get(reverse("payments:batch", args=[batch.pk])))
    assert batch.number in page and reverse("payments:batch_file", args=[batch.pk, "payment_csv"]) not in page
    assert clients["auditor"].get(reverse("payments:batch_file", args=[batch.pk, "payment_csv"])).status_code == 403

    listing = html(finance.get(reverse("payments:batches")))
    assert batch.number in listing and "finance_officer2" in listing


def test_a_releasing_batch_refreshes_itself(demo, clients):
    approved_claim(demo, serials=(1,))
    clients["finance_officer"].post(reverse("payments:batch_build"), {"scope": "all"})
    batch = PaymentBatch.objects.get()
    clients["finance_officer2"].post(reverse("payments:batch_release", args=[batch.pk]), CONFIRM)  # on_commit never runs here
    batch.refresh_from_db()
    assert batch.status == "releasing"
    page = html(clients["finance_officer2"].get(reverse("payments:batch", args=[batch.pk])))
    assert 'http-equiv="refresh"' in page and 'id="releasing"' in page


def test_cancel_with_a_reason(demo, clients):
    claim = approved_claim(demo, serials=(1,))
    finance = clients["finance_officer"]
    finance.post(reverse("payments:batch_build"), {"scope": "all"})
    batch = PaymentBatch.objects.get()
    assert "作废批次须写明理由" in html(finance.post(reverse("payments:batch_cancel", args=[batch.pk]), {"reason": ""}), 400)
    too_long = html(finance.post(reverse("payments:batch_cancel", args=[batch.pk]), {"reason": "长" * 501}), 400)
    assert 'id="cancel-form"' in too_long
    batch.refresh_from_db()
    assert batch.status == "built"
    finance.post(reverse("payments:batch_cancel", args=[batch.pk]), {"reason": "金额核对有误"})
    batch.refresh_from_db()
    assert batch.status == "cancelled"
    assert Claim.objects.get(pk=claim.pk).status == "approved"


def test_payee_accounts_page_lets_finance_enter_a_person_account(demo, clients):
    person = living_allowance_claim(demo, serials=(50,))
    finance = clients["finance_officer"]
    page = html(finance.get(reverse("payments:payee_accounts")))
    assert person.number in page and 'id="missing-accounts"' in page
    trainee = ClaimLine.objects.get(claim=person).trainee
    url = reverse("payments:payee_accounts") + f"?trainee={trainee.pk}"
    assert 'id="payee-account-form"' in html(finance.get(url))
    bad = html(
        finance.post(url, {"trainee": trainee.pk, "account_name": "学员50", "bank_name": "社保卡银行", "account_number": "12"}),
        400,
    )
    assert "8–30" in bad
    response = finance.post(
        url, {"trainee": trainee.pk, "account_name": "学员50", "bank_name": "社保卡银行", "account_number": "6217000012345678"}
    )
    assert response.status_code == 302
    assert PayeeAccount.objects.get(trainee=trainee).account_number_masked == "6217********5678"
    assert person.number not in html(finance.get(reverse("payments:payee_accounts")))
    # The build page shows no line missing an account any more; building takes the person's line.
    finance.post(reverse("payments:batch_build"), {"scope": "all"})
    assert PaymentBatch.objects.get().line_count == 1


def test_scope_and_roles(demo, clients):
    approved_claim(demo, serials=(1,))
    clients["finance_officer"].post(reverse("payments:batch_build"), {"scope": "all"})
    batch = PaymentBatch.objects.get()
    for name in ("provider_clerk", "dept_reviewer", "hr_reviewer"):
        assert clients[name].get(reverse("payments:batches")).status_code == 403
        assert clients[name].get(reverse("payments:batch", args=[batch.pk])).status_code == 403
        assert clients[name].post(reverse("payments:batch_release", args=[batch.pk])).status_code == 403
    assert clients["auditor"].get(reverse("payments:batch_build")).status_code == 403
    assert clients["auditor"].post(reverse("payments:batch_release", args=[batch.pk])).status_code == 403
    assert clients["finance_officer"].get(reverse("payments:batch", args=[batch.pk + 999])).status_code == 404
    # Finance's desk is finance's and the auditor's, like the batch pages.
    for name in ("provider_clerk", "dept_reviewer", "hr_reviewer"):
        assert clients[name].get(reverse("approvals:finance")).status_code == 403
    assert clients["auditor"].get(reverse("approvals:finance")).status_code == 200
    assert Client().get(reverse("payments:batches")).status_code == 302  # to the login page


@pytest.mark.parametrize("bad", ["abc", str(2**64), "9" * 5000, "-1", "0"])
def test_build_page_refuses_a_bad_claim_id_and_builds_nothing(demo, clients, bad):
    first = approved_claim(demo, serials=(1,))
    approved_claim(demo, serials=(2,))
    page = html(
        clients["finance_officer"].post(reverse("payments:batch_build"), {"scope": "selected", "claims": [str(first.pk), bad]}),
        400,
    )
    assert "所选申领有误" in page
    assert not PaymentBatch.objects.exists()


def test_awaiting_counts_only_what_a_build_takes_this_year(demo, clients):
    claim = approved_claim(demo, serials=(1, 2))
    line = ClaimLine.objects.filter(claim=claim).select_related("allocation__fund_account").first()
    account = line.allocation.fund_account
    type(account).objects.filter(pk=account.pk).update(year=account.year - 1)  # reserved against last year's account
    desk = html(clients["finance_officer"].get(reverse("approvals:finance")))
    assert claim.number not in desk
    assert clients["finance_officer"].post(reverse("payments:batch_build"), {"scope": "all"}).status_code == 400
    assert not PaymentBatch.objects.exists()


def test_finance_desk_lists_the_batches_awaiting_release_and_the_task_links_to_its_batch(demo, clients):
    """财政局's first officer builds a batch; on the desk it waits for release, marked as the
    second officer's to release (four eyes); the claim's disbursement task names the batch."""
    claim = approved_claim(demo, serials=(1, 2))
    finance, finance2 = clients["finance_officer"], clients["finance_officer2"]
    assert "没有待复核发放的批次" in html(finance.get(reverse("approvals:finance")))
    finance.post(reverse("payments:batch_build"), {"scope": "all"})
    batch = PaymentBatch.objects.get()

    desk = html(finance.get(reverse("approvals:finance")))
    row = desk[desk.index(f'<tr data-batch="{batch.pk}">') :].split("</tr>")[0]
    assert batch.number in row and reverse("payments:batch", args=[batch.pk]) in row
    assert "须另一名经办人复核发放" in row and "#release-form" not in row  # the builder does not release it
    row = html(finance2.get(reverse("approvals:finance")))
    assert f'href="{reverse("payments:batch", args=[batch.pk])}#release-form"' in row
    # The second officer's inbox lists it too, above their tasks; a reviewer's inbox has no such list.
    inbox = html(finance2.get(reverse("approvals:inbox")))
    assert f'href="{reverse("payments:batch", args=[batch.pk])}#release-form"' in inbox
    assert 'id="awaiting-release"' not in html(clients["dept_reviewer"].get(reverse("approvals:inbox")))

    task = open_task_id(claim)
    page = html(finance2.get(reverse("approvals:task", args=[task])))
    batches = page[page.index('id="claim-batches"') :].split("</section>")[0]
    assert f'href="{reverse("payments:batch", args=[batch.pk])}"' in batches and batch.number in batches
    assert "2 行" in batches

    # Released, it leaves the list.
    finance2.post(reverse("payments:batch_release", args=[batch.pk]), CONFIRM)
    assert f'<tr data-batch="{batch.pk}">' not in html(finance.get(reverse("approvals:finance")))
