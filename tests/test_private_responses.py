"""What a signed-in user is shown is kept by no cache: on a shared bureau PC the browser's back
button or its disk cache would otherwise show a claim, an export or the bank file (payee names,
full account numbers) to whoever sits down after logout. Files go out as downloads that run
nothing were they opened. Pages anyone may read without signing in (公示, the health probe) are
left cacheable. Every URL as every role: tests/test_scope_matrix.py (unsafe_to_keep)."""

import io
import zipfile

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from claims.services import create_claim
from payments.models import PaymentBatch
from workflow.services import submit_claim

from .api_support import login
from .audit_support import audit_key  # noqa: F401 - fixture
from .conftest import DEMO_PASSWORD, claim_data
from .payments_support import approved_claim

pytestmark = pytest.mark.usefixtures("celery_eager")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_kept_by_no_cache(response) -> None:
    assert response.status_code == 200, response.status_code
    assert {part.strip() for part in response["Cache-Control"].split(",")} >= {"private", "no-store"}


def assert_sandboxed_download(response, filename_start: str) -> None:
    assert response["Content-Disposition"].startswith(f'attachment; filename="{filename_start}')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_the_bank_file_with_full_accounts_is_kept_by_no_cache(demo, django_capture_on_commit_callbacks):
    claim = approved_claim(demo, serials=(1,))
    finance, finance2 = client_for(demo["finance_officer"]), client_for(demo["finance_officer2"])
    finance.post(reverse("payments:batch_build"), {"scope": "selected", "claims": [claim.pk]})
    batch = PaymentBatch.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        finance2.post(reverse("payments:batch_release", args=[batch.pk]), {"confirm": "1"})

    page_download = finance2.get(reverse("payments:batch_file", args=[batch.pk, "payment_csv"]))
    assert_kept_by_no_cache(page_download)
    assert_sandboxed_download(page_download, batch.number)

    # The same file through the API, to an integrator signed in with a token.
    api_download = login("finance_officer2").get(f"/api/v1/payment-batches/{batch.pk}/files/payment_csv/")
    assert_kept_by_no_cache(api_download)
    assert_sandboxed_download(api_download, batch.number)
    assert api_download.content == page_download.content


def test_a_claim_page_and_the_claim_in_the_api_are_kept_by_no_cache(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)

    page = client_for(demo["dept_reviewer"]).get(reverse("approvals:claim", args=[claim.pk]))
    assert "张三" in page.content.decode()
    assert_kept_by_no_cache(page)
    assert_kept_by_no_cache(login("dept_reviewer").get(f"/api/v1/claims/{claim.pk}/"))


def test_the_auditors_exports_are_kept_by_no_cache(demo, audit_key):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    auditor = client_for(demo["auditor"])

    spreadsheet = auditor.post(reverse("audit:export_xlsx"))
    assert_kept_by_no_cache(spreadsheet)
    assert_sandboxed_download(spreadsheet, "audit-claims-")

    today = timezone.localdate().isoformat()
    package = auditor.post(reverse("audit:export_package"), {"date_from": today, "date_to": today})
    assert_kept_by_no_cache(package)
    assert_sandboxed_download(package, f"audit-ledger-{today}-{today}.zip")
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(b"".join(package.streaming_content))).namelist()


@pytest.mark.parametrize("url", [reverse("approvals:public_notice"), reverse("approvals:public_notice_xlsx"), "/healthz"])
def test_pages_for_anyone_not_signed_in_stay_cacheable(demo, url):
    response = Client().get(url)
    assert response.status_code == 200
    assert "Cache-Control" not in response


def test_a_new_api_token_is_kept_by_no_cache(demo):
    """The login answers with the credential itself, to a caller not yet signed in."""
    response = Client().post(
        "/api/v1/auth/token/", {"username": "dept_reviewer", "password": DEMO_PASSWORD}, content_type="application/json"
    )
    assert "token" in response.json()
    assert_kept_by_no_cache(response)
