"""A provider withdraws a claim it no longer wants paid: from the API or from the claim page,
with a reason the ledger keeps; only while the claim is in its hands, and only its own."""

from django.test import Client

from claims.models import Claim
from workflow import selectors as inbox
from workflow.services import decide_task

from .api_support import create_claim, error, login, ok, submit
from .conftest import claim_data


def test_a_clerk_withdraws_a_returned_claim_through_the_api(demo):
    clerk = login("provider_clerk")
    claim = create_claim(clerk, claim_data())
    submit(clerk, claim["id"])
    # Under review: out of the provider's hands.
    refused = error(clerk.post(f"/api/v1/claims/{claim['id']}/withdraw/", {"reason": "x"}, format="json"), 403)
    assert refused["code"] == "forbidden"
    task = inbox.open_task_of_claim(Claim.objects.get(pk=claim["id"]))
    decide_task(user=demo["dept_reviewer"], task_id=task.pk, decision="return", comment="请补充证书扫描件")

    # Another provider's clerk does not even see it; a missing reason is named.
    error(login("provider2_clerk").post(f"/api/v1/claims/{claim['id']}/withdraw/", {"reason": "x"}, format="json"), 404)
    missing = error(clerk.post(f"/api/v1/claims/{claim['id']}/withdraw/", {"reason": " "}, format="json"), 400)
    assert list(missing["fields"]) == ["reason"]

    withdrawn = ok(clerk.post(f"/api/v1/claims/{claim['id']}/withdraw/", {"reason": "学员放弃"}, format="json"))
    assert (withdrawn["status"], withdrawn["step"], withdrawn["task"]) == ("withdrawn", None, None)
    again = error(clerk.post(f"/api/v1/claims/{claim['id']}/withdraw/", {"reason": "again"}, format="json"), 409)
    assert again["code"]
    history = ok(login("auditor").get(f"/api/v1/claims/{claim['id']}/history/"))["results"]
    last = history[-1]
    assert (last["action"], last["from_state"], last["to_state"], last["reason"]) == (
        "claim.withdrawn",
        "returned",
        "withdrawn",
        "学员放弃",
    )


def test_a_clerk_withdraws_a_draft_from_its_page_and_the_history_says_so_in_words(demo):
    client = Client()
    client.force_login(demo["provider_clerk"])
    claim = create_claim(login("provider_clerk"), claim_data())
    page = client.get(f"/claims/{claim['id']}/").content.decode()
    assert f'action="/claims/{claim["id"]}/withdraw/"' in page

    response = client.post(f"/claims/{claim['id']}/withdraw/", {"reason": "重复录入"}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "已撤回" in page
    assert "claim.withdrawn" not in page.replace('data-action="claim.withdrawn"', "")
    assert f'action="/claims/{claim["id"]}/withdraw/"' not in page  # nothing left to withdraw
    assert ok(login("provider_clerk").get(f"/api/v1/claims/{claim['id']}/"))["status"] == "withdrawn"
