"""A claim's whole life driven through the JSON API only, as a provider's system and the bureaus would."""

import datetime

from django.utils import timezone

from audit.models import AuditEvent

from .api_support import create_claim, decide, error, login, ok, only_task, submit, tasks, working_days_between
from .conftest import claim_data, line, resident_id


def mask(id_number: str) -> str:
    return id_number[:6] + "********" + id_number[-4:]


def test_claim_travels_from_draft_to_paid_through_the_api(demo, celery_eager, django_capture_on_commit_callbacks):
    clerk = login("provider_clerk")
    id1, id2, id3 = resident_id(1), resident_id(2), resident_id(3)
    data = claim_data(lines=[
        line(id1, "张三", stated_cost="450.00"),
        line(id2, "李四", certificate_number="T-2026-0002", stated_cost=None),
        # S3 covers up to 高级工: a 技师 line prices at 0 with a LEVEL flag.
        line(id3, "王五", certificate_number="T-2026-0003", level="technician"),
    ])

    response = clerk.post("/api/v1/claims/", data, format="json")
    claim = ok(response, 201)
    for id_number in (id1, id2, id3):
        assert id_number not in response.content.decode()  # personal data never leaves unmasked
    assert claim["status"] == "draft" and claim["step"] is None and claim["task"] is None
    assert (claim["department"], claim["provider"], claim["policy"]) == ("WL-YJJ", "WL-P001", "S3")
    assert claim["total"] == "950.00"
    first, second, third = claim["lines"]
    assert [l["line_no"] for l in claim["lines"]] == [1, 2, 3]
    assert (first["trainee"], first["trainee_name"]) == (mask(id1), "张三")
    assert (first["amount"], first["stated_cost"], first["rule_version"], first["flags"]) == ("450.00", "450.00", "S3 v2", [])
    assert first["explanation"] == "S3 v2 高级工 ≤500，实际费用 450 → 450"  # the cap, the stated cost and the lesser
    assert (second["amount"], second["stated_cost"], second["rule_version"], second["flags"]) == ("500.00", None, "S3 v2", [])
    assert second["explanation"] == "S3 v2 高级工 ≤500，未填实际费用 → 按上限 500"
    assert (third["amount"], third["rule_version"]) == ("0.00", "S3 v2")
    assert [flag["code"] for flag in third["flags"]] == ["LEVEL"] and third["flags"][0]["message"]
    assert {l["decision"] for l in claim["lines"]} == {"pending"}
    assert {l["payment_status"] for l in claim["lines"]} == {"unpaid"}
    assert ok(clerk.get(f"/api/v1/claims/{claim['id']}/")) == claim

    claim = submit(clerk, claim["id"])
    assert (claim["status"], claim["step"]) == ("department_review", "department_review")

    # The department reviewer finds the work, takes it and approves.
    dept = login("dept_reviewer")
    task = only_task(dept)
    assert (task["claim"], task["claim_number"], task["step"]) == (claim["id"], claim["number"], "department_review")
    assert (task["status"], task["assigned_to"], task["id"]) == ("new", None, claim["task"])
    created = timezone.localtime(datetime.datetime.fromisoformat(task["created"])).date()
    due = datetime.date.fromisoformat(task["due"])
    assert due.weekday() < 5 and working_days_between(created, due) == 10
    taken = ok(dept.post(f"/api/v1/tasks/{task['id']}/take/"))
    assert (taken["id"], taken["status"], taken["assigned_to"]) == (task["id"], "assigned", "dept_reviewer")
    claim = ok(decide(dept, task["id"], decision="approve", comment="材料齐全"))
    assert (claim["status"], claim["step"]) == ("hr_review", "hr_review")
    assert tasks(dept) == []

    # HR approves in part: the 技师 line is refused with its rule code.
    hr = login("hr_reviewer")
    hr_task = only_task(hr)
    assert hr_task["step"] == "hr_review"
    claim = ok(decide(hr, hr_task["id"], decision="approve", comment="第3行等级不在标准范围",
                      lines=[{"line": 3, "decision": "reject", "reason": "LEVEL"}]))
    assert (claim["status"], claim["step"], claim["total"]) == ("approved", "disbursement", "950.00")
    assert [(l["line_no"], l["decision"], l["decision_reason"]) for l in claim["lines"]] == [
        (1, "approve", ""), (2, "approve", ""), (3, "reject", "LEVEL"),
    ]

    assert [l["payment_status"] for l in claim["lines"]] == ["reserved", "reserved", "unpaid"]
    finance = login("finance_officer")
    assert only_task(finance)["step"] == "disbursement"
    assert ok(clerk.get(f"/api/v1/claims/{claim['id']}/"))["status"] == "approved"

    # Finance builds a payment batch of the claim; another finance officer releases it (four eyes).
    batch = ok(finance.post("/api/v1/payment-batches/", {"claims": [claim["id"]]}, format="json"), 201)
    assert (batch["status"], batch["built_by"], batch["total"], batch["line_count"]) == ("built", "finance_officer", "950.00", 2)
    assert [(l["claim"], l["line"], l["amount"], l["status"]) for l in batch["lines"]] == [
        (claim["id"], 1, "450.00", "in_batch"), (claim["id"], 2, "500.00", "in_batch")]
    assert ok(clerk.get(f"/api/v1/claims/{claim['id']}/"))["status"] == "in_payment"
    assert error(finance.post(f"/api/v1/payment-batches/{batch['id']}/release/"), 403)["code"] == "four_eyes"
    finance2 = login("finance_officer2")
    with django_capture_on_commit_callbacks(execute=True):
        response = finance2.post(f"/api/v1/payment-batches/{batch['id']}/release/")
    assert response.status_code in (200, 202), response.content
    batch = ok(finance2.get(f"/api/v1/payment-batches/{batch['id']}/"))
    assert (batch["status"], batch["released_by"]) == ("released", "finance_officer2")
    assert {l["status"] for l in batch["lines"]} == {"in_payment"}
    assert sorted(f["kind"] for f in batch["files"]) == ["payment_csv", "payment_xlsx"]
    claim = ok(clerk.get(f"/api/v1/claims/{claim['id']}/"))
    assert claim["status"] == "in_payment"
    assert [l["payment_status"] for l in claim["lines"]] == ["in_payment", "in_payment", "unpaid"]

    # Every event, in order, chained by hash.
    history = ok(login("auditor").get(f"/api/v1/claims/{claim['id']}/history/"))
    events = history["results"]
    assert history["count"] == len(events) and history["next"] is None
    assert [(e["action"], e["actor"], e["from_state"], e["to_state"]) for e in events] == [
        ("claim.created", "provider_clerk", "", "draft"),
        ("permission.granted", "provider_clerk", "", ""),
        ("permission.granted", "provider_clerk", "", ""),
        ("claim.submitted", "provider_clerk", "draft", "department_review"),
        ("task.assigned", "dept_reviewer", "department_review", "department_review"),
        ("claim.approved_step", "dept_reviewer", "department_review", "hr_review"),
        ("claim.approved_step", "hr_reviewer", "hr_review", "approved"),
        ("allocation.reserved", "hr_reviewer", "", ""),
        ("claim.payment_batched", "finance_officer", "approved", "in_payment"),
        ("claim.in_payment", "finance_officer2", "in_payment", "in_payment"),
    ]
    assert events[5]["reason"] == "材料齐全" and events[7]["detail"]["amount"] == "950.00"
    assert events[-2]["detail"]["batch"] == events[-1]["detail"]["batch"] == batch["number"]
    assert [(c["line"], c["before"], c["after"]) for c in events[-1]["detail"]["line_changes"]] == [
        (1, {"payment_status": "in_batch"}, {"payment_status": "in_payment"}),
        (2, {"payment_status": "in_batch"}, {"payment_status": "in_payment"}),
    ]
    assert events[6]["detail"]["line_decisions"] == [{"line": 3, "decision": "reject", "reason": "LEVEL"}]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    # Nothing else happened meanwhile but the people's API logins (the ledger records them too).
    meanwhile = AuditEvent.objects.filter(seq__gt=seqs[0], seq__lt=seqs[-1]).exclude(seq__in=seqs)
    assert set(meanwhile.values_list("action", flat=True)) <= {
        "auth.token_issued", "access.denied", "payment_batch.built", "payment_batch.release_requested", "payment_batch.released"}
    for earlier, later in zip(events, events[1:]):
        assert len(later["hash"]) == 64
        if later["seq"] == earlier["seq"] + 1:
            assert later["prev_hash"] == earlier["hash"]
    assert [datetime.datetime.fromisoformat(e["at"]) for e in events] == sorted(datetime.datetime.fromisoformat(e["at"]) for e in events)

    verified = ok(login("auditor").get("/api/v1/audit/verify/"))
    chain = {key: verified[key] for key in ("ok", "events", "head_hash", "first_bad_seq")}  # checkpoint results besides
    head = AuditEvent.objects.order_by("-seq").first()  # the auditor's login, after the claim's last event
    assert chain == {"ok": True, "events": AuditEvent.objects.count(), "head_hash": head.hash, "first_bad_seq": None}


def test_returned_claim_is_corrected_with_patch_and_resubmitted_to_the_step_that_returned_it(demo):
    clerk = login("provider_clerk")
    claim = create_claim(clerk, claim_data())
    submit(clerk, claim["id"])
    dept = login("dept_reviewer")
    ok(decide(dept, only_task(dept)["id"], decision="approve"))
    hr = login("hr_reviewer")
    claim = ok(decide(hr, only_task(hr)["id"], decision="return", comment="第2行证书编号与扫描件不符"))
    assert (claim["status"], claim["step"]) == ("returned", "correction")
    assert tasks(hr) == []
    correction = only_task(clerk)
    assert (correction["claim"], correction["step"]) == (claim["id"], "correction")

    lines = [line(resident_id(1), "张三"), line(resident_id(2), "李四", certificate_number="T-2026-0099", stated_cost="300.00")]
    claim = ok(clerk.patch(f"/api/v1/claims/{claim['id']}/", {"class_name": "低压电工作业 2026 第1期（更正）", "lines": lines}, format="json"))
    assert claim["status"] == "returned"
    assert claim["class_name"] == "低压电工作业 2026 第1期（更正）"
    assert [(l["certificate_number"], l["amount"]) for l in claim["lines"]] == [("T-2026-0001", "450.00"), ("T-2026-0099", "300.00")]
    assert claim["total"] == "750.00"

    claim = submit(clerk, claim["id"])
    assert (claim["status"], claim["step"]) == ("hr_review", "hr_review")  # back to HR, not to the department
    assert tasks(dept) == []
    assert only_task(hr)["claim"] == claim["id"]

    actions = [e["action"] for e in ok(clerk.get(f"/api/v1/claims/{claim['id']}/history/"))["results"]]
    assert actions[-3:] == ["claim.returned", "claim.edited", "claim.resubmitted"]


def test_rejection_with_a_coded_reason_ends_the_claim(demo):
    clerk = login("provider_clerk")
    claim = create_claim(clerk, claim_data())
    submit(clerk, claim["id"])
    dept = login("dept_reviewer")
    claim = ok(decide(dept, only_task(dept)["id"], decision="reject", reason="NOT_TRAINED", comment="现场核查未开班"))
    assert (claim["status"], claim["step"], claim["total"]) == ("rejected", None, "0.00")
    assert {(l["decision"], l["decision_reason"]) for l in claim["lines"]} == {("reject", "NOT_TRAINED")}
    assert tasks(login("hr_reviewer")) == []
    last = ok(clerk.get(f"/api/v1/claims/{claim['id']}/history/"))["results"][-1]
    assert (last["action"], last["to_state"], last["reason"], last["detail"]["reason_code"]) == (
        "claim.rejected", "rejected", "现场核查未开班", "NOT_TRAINED",
    )
