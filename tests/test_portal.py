"""钱老师's dashboard (provider_clerk of 温岭某职业技能培训学校): her claims by status, what
needs her action first (a returned claim, its reason and its deadline), and what was paid."""

import re

from django.test import Client

from approvals.templatetags.approvals_tags import day, money
from claims.models import Claim, ClaimLine, ClaimStatus
from workflow import selectors as inbox
from workflow.portal import provider_dashboard
from workflow.services import decide_task, submit_claim

from .api_support import create_claim, login
from .conftest import claim_data, line, resident_id
from .test_payment_results import csv_file, result_rows, seq_of, two_payees  # noqa: F401 (a fixture)


def test_the_dashboard_puts_returned_claims_first_and_shows_what_was_paid(demo, two_payees, apply_result):
    claim_a, claim_b, batch = two_payees
    apply_result(
        actor=demo["finance_officer"],
        batch=batch,
        filename="回单.csv",
        content=csv_file(result_rows(batch, {seq_of(batch, claim_a): "成功", seq_of(batch, claim_b): "成功"})),
    )
    clerk = demo["provider_clerk"]
    returned = Claim.objects.get(
        pk=create_claim(login("provider_clerk"), claim_data(lines=[line(resident_id(40), "陈一", certificate_number="T-40")]))[
            "id"
        ]
    )
    task = inbox.open_task_of_claim(submit_claim(user=clerk, claim=returned))
    decide_task(user=demo["dept_reviewer"], task_id=task.pk, decision="return", comment="请补充签字花名册")

    dashboard = provider_dashboard(clerk)
    counts = {status: count for status, _label, count in dashboard.by_status}
    own = Claim.objects.filter(provider__code="WL-P001")
    assert counts[ClaimStatus.RETURNED] == 1 and counts[ClaimStatus.PAID] == own.filter(status="paid").count() == 1
    assert sum(counts.values()) == own.count()
    (item,) = dashboard.returned
    assert (item.claim_id, item.reason) == (returned.pk, "请补充签字花名册")
    paid_a = sum(line.amount for line in ClaimLine.objects.filter(claim=claim_a))
    assert dashboard.paid_total == paid_a  # claim B was paid to the other school: not hers
    assert [(row["claim"].pk, row["amount"]) for row in dashboard.payments] == [(claim_a.pk, paid_a)]
    assert dashboard.payments[0]["at"] is not None

    client = Client()
    client.force_login(clerk)
    page = client.get("/portal/").content.decode()
    to_do = page.split('id="returned-claims"')[1].split("</table>")[0]
    assert returned.number in to_do and "请补充签字花名册" in to_do and day(item.due) in to_do
    assert f'href="/claims/{returned.pk}/edit/"' in to_do and f'href="/claims/{returned.pk}/#withdraw"' in to_do
    assert claim_a.number in page.split('id="paid-claims"')[1] and claim_b.number not in page
    assert re.search(r'id="paid-total">\s*' + re.escape(money(paid_a)), page)
    assert 'href="/catalogue/"' in page
    # The claim's own page still holds the withdrawal; the edit page repeats the reason.
    assert "请补充签字花名册" in client.get(f"/claims/{returned.pk}/edit/").content.decode()

    # A reviewer has an inbox, not a provider's dashboard.
    reviewer = Client()
    reviewer.force_login(demo["dept_reviewer"])
    assert reviewer.get("/portal/").status_code == 403
