"""Payment batches through the JSON API: the contract's shapes, scope, the four-eyes rule, the bank
file download (finance only, recorded), pagination of a batch's lines, payee accounts."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from audit.models import AuditEvent
from claims.models import Claim, ClaimLine, Provider
from payments.models import BatchStatus, PayeeAccount, PaymentBatch
from payments.services.payees import account_number_of

from .api_support import error, login, ok
from .conftest import DEMO_PASSWORD
from .payments_support import approved_claim, living_allowance_claim
from .test_audit_completeness import Ledger

pytestmark = pytest.mark.usefixtures("celery_eager")


def build(client, **body):
    return client.post("/api/v1/payment-batches/", body, format="json")


def release(client, batch_id):
    return client.post(f"/api/v1/payment-batches/{batch_id}/release/", format="json")


@pytest.fixture
def eager_commit(django_capture_on_commit_callbacks):
    """Run the release task queued on commit (the test's transaction never commits)."""

    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


def test_build_list_detail_and_release_through_the_api(demo, eager_commit):
    first = approved_claim(demo, serials=(1, 2))
    second = approved_claim(demo, serials=(3,))
    finance, finance2 = login("finance_officer"), login("finance_officer2")

    awaiting = ok(finance.get("/api/v1/payment-batches/awaiting/"))
    assert awaiting["summary"]["lines"] == 3 and awaiting["summary"]["claims"] == 2
    assert awaiting["summary"]["payees"] == 1 and awaiting["summary"]["missing_lines"] == 0
    assert Decimal(awaiting["summary"]["amount"]) == first.total + second.total

    batch = ok(build(finance, claims=[first.pk]), 201)
    assert set(batch) >= {
        "id",
        "number",
        "status",
        "built_by",
        "released_by",
        "total",
        "line_count",
        "payee_count",
        "skipped",
        "files",
        "lines",
        "lines_next",
    }
    assert (batch["status"], batch["built_by"], batch["released_by"]) == ("built", "finance_officer", None)
    assert batch["total"] == f"{first.total:.2f}" and (batch["line_count"], batch["payee_count"]) == (2, 1)
    assert batch["files"] == [] and batch["skipped"] == [] and batch["problems"] == []
    assert [(l["claim"], l["claim_number"], l["line"], l["status"]) for l in batch["lines"]] == [
        (first.pk, first.number, 1, "in_batch"),
        (first.pk, first.number, 2, "in_batch"),
    ]
    payee = batch["lines"][0]["payee"]
    assert payee["kind"] == "provider" and "*" in payee["account"]
    full = PayeeAccount.objects.get(provider__code="WL-P001")
    assert payee["account"] == full.account_number_masked
    assert isinstance(batch["lines"][0]["amount"], str)

    listed = ok(finance.get("/api/v1/payment-batches/"))
    assert set(listed) == {"count", "next", "previous", "results"}
    assert [b["id"] for b in listed["results"]] == [batch["id"]]
    assert ok(login("auditor").get(f"/api/v1/payment-batches/{batch['id']}/"))["number"] == batch["number"]

    # Four eyes: the builder may not release it.
    refused = error(release(finance, batch["id"]), 403)
    assert refused["code"] == "four_eyes"
    assert PaymentBatch.objects.get(pk=batch["id"]).status == BatchStatus.BUILT

    response = eager_commit(lambda: release(finance2, batch["id"]))
    assert response.status_code == 202, response.content  # the files are written on commit, after the answer
    released = ok(finance2.get(f"/api/v1/payment-batches/{batch['id']}/"))
    assert (released["status"], released["released_by"]) == ("released", "finance_officer2")
    assert {l["status"] for l in released["lines"]} == {"in_payment"}
    assert {l["payment_status"] for l in released["lines"]} == {"in_payment"}
    assert sorted(f["kind"] for f in released["files"]) == ["payment_csv", "payment_xlsx"]
    assert all(len(f["sha256"]) == 64 and f["download"].startswith("http") for f in released["files"])
    assert Claim.objects.get(pk=first.pk).status == "in_payment"
    assert Claim.objects.get(pk=second.pk).status == "approved"

    # Released twice: 409.
    assert error(release(finance2, batch["id"]), 409)["code"] == "conflict"
    assert (
        error(finance2.post(f"/api/v1/payment-batches/{batch['id']}/cancel/", {"reason": "x"}, format="json"), 409)["code"]
        == "conflict"
    )

    # The CSV: header, one row per payee with the full account, trailer with count, total and checksum.
    download = finance2.get(f"/api/v1/payment-batches/{batch['id']}/files/csv/")
    assert download.status_code == 200 and download["Content-Disposition"].endswith(f'{batch["number"]}.csv"')
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[1][4] == account_number_of(full) and rows[1][6] == batch["total"]
    assert rows[-1][:2] == ["合计", "1"] and rows[-1][6] == batch["total"] and rows[-1][7].startswith("SHA256:")
    event = AuditEvent.objects.filter(action="payment_file.downloaded").latest("seq")
    assert event.actor_id == demo["finance_officer2"].pk and event.detail["kind"] == "payment_csv"
    assert finance.get(f"/api/v1/payment-batches/{batch['id']}/files/payment_xlsx/").status_code == 200

    # The auditor reads, but does not take the file with full account numbers.
    assert error(login("auditor").get(f"/api/v1/payment-batches/{batch['id']}/files/csv/"), 403)["code"] == "role"
    assert error(finance.get(f"/api/v1/payment-batches/{batch['id']}/files/nonsense/"), 404)


def test_build_without_claims_takes_every_awaiting_line_and_lists_the_skipped(demo):
    approved_claim(demo, serials=(1, 2))
    person = living_allowance_claim(demo, serials=(50,))
    finance = login("finance_officer")
    awaiting = ok(finance.get("/api/v1/payment-batches/awaiting/"))
    assert awaiting["summary"]["missing_lines"] == 1
    [missing] = awaiting["missing_accounts"]
    assert (missing["claim"], missing["line"], missing["payee_kind"]) == (person.pk, 1, "trainee")
    assert "*" in missing["trainee_id_number"]

    batch = ok(build(finance), 201)
    assert batch["line_count"] == 2
    assert [(s["claim"], s["line"]) for s in batch["skipped"]] == [(person.number, 1)]

    # Finance enters the person's social security card account; the line can go in the next batch.
    trainee_id = missing["trainee"]
    assert ok(finance.get(f"/api/v1/payee-accounts/trainees/{trainee_id}/"))["account_number"] is None
    bad = error(
        finance.put(
            f"/api/v1/payee-accounts/trainees/{trainee_id}/",
            {"account_name": "", "bank_name": "x", "account_number": "12"},
            format="json",
        ),
        400,
    )
    assert set(bad["fields"]) == {"account_name", "account_number"}
    saved = ok(
        finance.put(
            f"/api/v1/payee-accounts/trainees/{trainee_id}/",
            {"account_name": "学员50", "bank_name": "社保卡银行", "account_number": "6217000012345678"},
            format="json",
        )
    )
    assert saved["account_number"] == "6217********5678" and saved["kind"] == "trainee"
    assert AuditEvent.objects.filter(action="payee_account.set").exists()
    second = ok(build(finance, claims=[person.pk]), 201)
    assert second["lines"][0]["payee"] == {
        "kind": "trainee",
        "name": "学员50",
        "bank": "社保卡银行",
        "account": "6217********5678",
    }


def test_roles_and_scope(demo):
    claim = approved_claim(demo, serials=(1,))
    clerk, dept, hr = login("provider_clerk"), login("dept_reviewer"), login("hr_reviewer")
    assert error(build(clerk), 403)["code"] == "role"
    assert error(build(hr, claims=[claim.pk]), 403)["code"] == "role"
    assert error(clerk.get("/api/v1/payment-batches/"), 403)
    batch = ok(build(login("finance_officer")), 201)
    for client in (clerk, dept, hr):
        assert error(client.get(f"/api/v1/payment-batches/{batch['id']}/"), (403))["code"] == "role"
    assert error(login("finance_officer").get("/api/v1/payment-batches/999999/"), 404)
    # Bad input: 400 naming the field; nothing to build: 400.
    assert "claims" in error(build(login("finance_officer"), claims="all"), 400)["fields"]
    assert "claims[0]" in error(build(login("finance_officer"), claims=[999999]), 400)["fields"]
    assert error(build(login("finance_officer2")), 400)["fields"]["claims"]
    # Another jurisdiction's finance officer: the batch does not exist for them.
    other = get_user_model().objects.create_user("finance_elsewhere", password="x-Pass-12345")
    other.groups.add(Group.objects.get(name="finance_officer"))
    client = login("finance_elsewhere", "x-Pass-12345")
    assert error(client.get(f"/api/v1/payment-batches/{batch['id']}/"), 404)
    assert error(client.post(f"/api/v1/payment-batches/{batch['id']}/release/"), 404)
    assert ok(client.get("/api/v1/payment-batches/"))["count"] == 0
    assert error(client.get("/api/v1/payee-accounts/providers/WL-P001/"), 404)


def test_cancel_puts_the_lines_back(demo):
    claim = approved_claim(demo, serials=(1, 2))
    finance = login("finance_officer")
    batch = ok(build(finance), 201)
    assert "reason" in error(finance.post(f"/api/v1/payment-batches/{batch['id']}/cancel/", {}, format="json"), 400)["fields"]
    with Ledger().expect("payment_batch.cancelled", "claim.payment_unbatched"):
        cancelled = ok(finance.post(f"/api/v1/payment-batches/{batch['id']}/cancel/", {"reason": "金额核对有误"}, format="json"))
    assert cancelled["status"] == "cancelled" and {l["status"] for l in cancelled["lines"]} == {"cancelled"}
    assert set(ClaimLine.objects.filter(claim=claim).values_list("payment_status", flat=True)) == {"reserved"}
    assert Claim.objects.get(pk=claim.pk).status == "approved"
    assert ok(build(finance), 201)["line_count"] == 2


def test_lines_of_a_batch_are_paginated(demo):
    approved_claim(demo, serials=tuple(range(1, 8)))
    finance = login("finance_officer")
    batch = ok(build(finance), 201)
    first = ok(finance.get(f"/api/v1/payment-batches/{batch['id']}/?lines_page_size=3"))
    assert [l["line"] for l in first["lines"]] == [1, 2, 3] and first["lines_previous"] is None
    second = ok(finance.get(first["lines_next"]))
    assert [l["line"] for l in second["lines"]] == [4, 5, 6]
    third = ok(finance.get(second["lines_next"]))
    assert [l["line"] for l in third["lines"]] == [7] and third["lines_next"] is None
    lines = ok(finance.get(f"/api/v1/payment-batches/{batch['id']}/lines/?page_size=5"))
    assert lines["count"] == 7 and len(lines["results"]) == 5 and lines["next"]
    assert error(finance.get(f"/api/v1/payment-batches/{batch['id']}/?lines_page=0"), 400)["fields"]["lines_page"]
    for bad in ("99999999999999999999", "4", "x", "9" * 5000):  # too big for any page, past the last page, not a number
        assert error(finance.get(f"/api/v1/payment-batches/{batch['id']}/?lines_page={bad}&lines_page_size=3"), 400)["fields"][
            "lines_page"
        ]
    assert error(finance.get(f"/api/v1/payment-batches/{batch['id']}/?lines_page_size=99999999999999999999"), 400)["fields"][
        "lines_page_size"
    ]
    payees = ok(finance.get(f"/api/v1/payment-batches/{batch['id']}/payees/"))
    assert payees["count"] == 1 and payees["results"][0]["line_count"] == 7


def test_detail_reads_a_fixed_number_of_queries(demo, django_assert_max_num_queries):
    approved_claim(demo, serials=tuple(range(1, 4)))
    approved_claim(demo, serials=tuple(range(10, 20)))
    finance = login("finance_officer")
    batch = ok(build(finance), 201)
    with django_assert_max_num_queries(25):
        ok(finance.get(f"/api/v1/payment-batches/{batch['id']}/"))


def test_provider_account_via_api(demo):
    finance = login("finance_officer")
    current = ok(finance.get("/api/v1/payee-accounts/providers/WL-P001/"))
    assert current["kind"] == "provider" and "*" in current["account_number"]
    saved = ok(
        finance.put(
            "/api/v1/payee-accounts/providers/WL-P001/",
            {
                "account_name": "温岭市某职业技能培训学校",
                "bank_name": "工商银行",
                "account_number": "6222 0000 1111 2222",
                "reason": "退票更正",
            },
            format="json",
        )
    )
    assert saved["account_number"] == "6222********2222"
    assert PayeeAccount.objects.get(provider=Provider.objects.get(code="WL-P001")).account_number_masked == "6222********2222"
    assert error(login("auditor").put("/api/v1/payee-accounts/providers/WL-P001/", {}, format="json"), 404)


def test_every_batch_call_through_the_api_is_in_the_ledger(demo, eager_commit):
    claim = approved_claim(demo, serials=(1, 2))
    person = living_allowance_claim(demo, serials=(60,))
    finance, finance2 = login("finance_officer"), login("finance_officer2")
    ledger = Ledger()
    trainee = ClaimLine.objects.get(claim=person).trainee_id
    with ledger.expect("payee_account.set"):
        ok(
            finance.put(
                f"/api/v1/payee-accounts/trainees/{trainee}/",
                {"account_name": "学员60", "bank_name": "社保卡银行", "account_number": "6217000099998888"},
                format="json",
            )
        )
    with ledger.nothing():
        error(build(finance, claims=[999999]), 400)
    with ledger.expect("payment_batch.built", "claim.payment_batched"):
        batch = ok(build(finance), 201)
    with ledger.expect("access.denied"):  # a refusal changes nothing; denied accesses are recorded
        error(release(finance, batch["id"]), 403)
    with ledger.expect("payment_batch.release_requested", "payment_batch.released", "claim.in_payment"):
        eager_commit(lambda: release(finance2, batch["id"]))
    with ledger.expect("payment_file.downloaded") as call:
        assert finance.get(f"/api/v1/payment-batches/{batch['id']}/files/csv/").status_code == 200
    assert call["changed"] == []
    auditor = login("auditor")
    with ledger.expect("access.denied") as call:
        error(auditor.get(f"/api/v1/payment-batches/{batch['id']}/files/csv/"), 403)
    assert "payment_file.downloaded" not in [entry.action for entry in call["entries"]]
    assert Claim.objects.get(pk=claim.pk).status == Claim.objects.get(pk=person.pk).status == "in_payment"


def test_page_links_of_a_batch_answered_by_a_post_point_at_the_batch(demo):
    approved_claim(demo, serials=tuple(range(1, 4)))
    finance = login("finance_officer")
    batch = ok(finance.post("/api/v1/payment-batches/?lines_page_size=2", {}, format="json"), 201)
    assert batch["lines_next"] == f"http://testserver/api/v1/payment-batches/{batch['id']}/?lines_page=2&lines_page_size=2"
    assert "lines_url" not in batch
    assert [l["line"] for l in ok(finance.get(batch["lines_next"]))["lines"]] == [3]
    cancelled = ok(
        finance.post(
            f"/api/v1/payment-batches/{batch['id']}/cancel/?lines_page=2&lines_page_size=2", {"reason": "核对"}, format="json"
        )
    )
    assert (
        cancelled["lines_previous"] == f"http://testserver/api/v1/payment-batches/{batch['id']}/?lines_page=1&lines_page_size=2"
    )


@pytest.mark.parametrize("bad", [2**64, 2**70, True, "1", 1.5, None, 0, -3])
def test_build_refuses_a_bad_claim_id_and_builds_nothing(demo, bad):
    claim = approved_claim(demo, serials=(1,))
    finance = login("finance_officer")
    with Ledger().nothing():
        assert set(error(build(finance, claims=[claim.pk, bad]), 400)["fields"]) == {"claims[1]"}
    assert not PaymentBatch.objects.exists()


def moments_in(answer) -> list[str]:
    """Every ISO 8601 moment (a date and a time) anywhere in a JSON answer."""
    found = []
    if isinstance(answer, dict):
        answer = list(answer.values())
    if isinstance(answer, list):
        for item in answer:
            found += moments_in(item)
    elif isinstance(answer, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", answer):
        found.append(answer)
    return found


def test_every_moment_the_api_writes_is_in_local_time(demo, eager_commit):
    """One way of writing a time: +08:00, whether a serializer's field or the view put it there
    (the token's expiry, a batch's built and released times were written in UTC, "Z")."""
    from rest_framework.test import APIClient

    approved_claim(demo, serials=(1,))
    signed_in = APIClient().post("/api/v1/auth/token/", {"username": "finance_officer", "password": DEMO_PASSWORD}, format="json")
    finance, finance2 = login("finance_officer"), login("finance_officer2")
    batch = ok(build(finance), 201)
    ok(eager_commit(lambda: release(finance2, batch["id"])), 202)
    answers = [
        signed_in.json(),
        ok(finance.get(f"/api/v1/payment-batches/{batch['id']}/")),
        ok(finance.get("/api/v1/payment-batches/")),
    ]
    moments = [moment for answer in answers for moment in moments_in(answer)]
    assert len(moments) >= 3 and all(moment.endswith("+08:00") for moment in moments), moments
