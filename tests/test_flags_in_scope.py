"""A flag names the other claims its rule found (``related``: the certificate claimed already,
the earlier trainings of the year, the subsidy recovered for fraud). Those claims are often
another provider's: a reader sees the numbers of the claims they may see, and of the others
only that there are some, in the API, on the claim and task pages and in the ledger's
history of the claim. Otherwise a provider's clerk, typing any ID number or certificate into a
draft, would learn which claims of other providers hold the person, and that one was
recovered for fraud.

The story: 温岭市某技工学校 (provider2) claims 学员1's certificate T-SHARED; then
温岭市某职业技能培训学校's clerk drafts a claim with the same certificate."""

import pytest
from django.test import Client

from claims.models import ClaimLine
from claims.services import create_claim
from workflow.services import override_flag, submit_claim

from .api_support import login, ok
from .conftest import claim_data, line, resident_id
from .payments_support import open_task_id
from .test_eligibility import codes

SHARED = "T-SHARED"


@pytest.fixture
def two_claims(demo):
    theirs = create_claim(
        user=demo["provider2_clerk"],
        data=claim_data(lines=[line(resident_id(1), "学员1", certificate_number=SHARED)], class_name="技工学校 第1期"),
    )
    submit_claim(user=demo["provider2_clerk"], claim=theirs)
    ours = create_claim(
        user=demo["provider_clerk"],
        data=claim_data(lines=[line(resident_id(1), "学员1", certificate_number=SHARED)], class_name="培训学校 第1期"),
    )
    # The same person and certificate: a repeat of the training (E3), its period overlapping
    # the other class's (N9), the certificate claimed already (CERT_DUP); each names their claim.
    assert codes(ours) == ["E3", "N9", "CERT_DUP"]
    assert all(flag["related"] == [theirs.number] for flag in ClaimLine.objects.get(claim=ours).flags)
    theirs.refresh_from_db()
    return theirs, ours


def test_the_clerk_reads_that_the_certificate_was_claimed_but_not_in_which_claim_of_another_provider(two_claims):
    theirs, ours = two_claims
    flags = ok(login("provider_clerk").get(f"/api/v1/claims/{ours.pk}/"))["lines"][0]["flags"]
    assert [flag["code"] for flag in flags] == ["E3", "N9", "CERT_DUP"]
    for flag in flags:
        assert flag["related"] == []
        assert theirs.number not in flag["message"]
        assert "另 1 份您无权查看的申领" in flag["message"]


def test_the_claim_page_names_no_claim_the_clerk_may_not_see(demo, two_claims):
    theirs, ours = two_claims
    client = Client()
    client.force_login(demo["provider_clerk"])
    page = client.get(f"/claims/{ours.pk}/")
    assert page.status_code == 200
    assert "CERT_DUP" in page.content.decode()
    assert theirs.number not in page.content.decode()


def test_the_hr_reviewer_who_sees_both_claims_reads_the_number(demo, two_claims):
    theirs, ours = two_claims
    submit_claim(user=demo["provider_clerk"], claim=ours)
    for flag in ok(login("hr_reviewer").get(f"/api/v1/claims/{ours.pk}/"))["lines"][0]["flags"]:
        assert flag["related"] == [theirs.number]
        assert theirs.number in flag["message"]


def test_the_override_in_the_claims_history_names_no_claim_the_clerk_may_not_see(demo, two_claims):
    from workflow.services import decide_task

    theirs, ours = two_claims
    submit_claim(user=demo["provider_clerk"], claim=ours)
    decide_task(user=demo["dept_reviewer"], task_id=open_task_id(ours), decision="approve")
    line_id = ClaimLine.objects.get(claim=ours).pk
    override_flag(user=demo["hr_reviewer"], line_id=line_id, code="CERT_DUP", reason="同一证书两次培训，经核实为补考")

    history = ok(login("provider_clerk").get(f"/api/v1/claims/{ours.pk}/history/"))
    entries = history["results"] if isinstance(history, dict) else history
    overridden = [entry for entry in entries if entry["action"] == "flag.overridden"]
    assert len(overridden) == 1
    assert theirs.number not in str(overridden[0])
    # HR, who may see the other claim, reads it named.
    history = ok(login("hr_reviewer").get(f"/api/v1/claims/{ours.pk}/history/"))
    entries = history["results"] if isinstance(history, dict) else history
    assert theirs.number in str([entry for entry in entries if entry["action"] == "flag.overridden"])


def test_in_english_the_clerk_reads_how_many_other_claims_there_are(two_claims):
    theirs, ours = two_claims
    flags = ok(login("provider_clerk").get(f"/api/v1/claims/{ours.pk}/", HTTP_ACCEPT_LANGUAGE="en"))["lines"][0]["flags"]
    cert_dup = next(flag for flag in flags if flag["code"] == "CERT_DUP")
    assert (
        cert_dup["message"]
        == f"Certificate {SHARED} was claimed already (a certificate is subsidised once): 1 other claim(s) you may not see."
    )
