"""Every error of the API is {"error": {"code", "message", "fields"}} with the status DESIGN.md names."""

import datetime
import re

import pytest
from django.core.management import call_command
from django.http import HttpRequest  # django-axes: a login names its request
from rest_framework.test import APIClient

from claims.models import Claim, ClaimLine, Trainee

from .api_support import create_claim, decide, error, login, ok, only_task, submit, token_of
from .audit_support import triggers_disabled
from .conftest import claim_data, line, resident_id


@pytest.fixture
def submitted(demo):
    """A claim of provider_clerk at department review, and its open task's id."""
    clerk = login("provider_clerk")
    claim = submit(clerk, create_claim(clerk, claim_data())["id"])
    return claim, claim["task"]


def test_invalid_lines_are_named_by_path_and_nothing_is_saved(demo):
    clerk = login("provider_clerk")
    good = resident_id(1)
    bad_check_digit = good[:17] + ("0" if good[17] != "0" else "1")
    claims, trainees, lines = Claim.objects.count(), Trainee.objects.count(), ClaimLine.objects.count()

    data = claim_data(lines=[line(good, "张三"), line(bad_check_digit, "李四", level="grandmaster")])
    body = error(clerk.post("/api/v1/claims/", data, format="json"), 400)

    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"lines[1].id_number", "lines[1].level"}
    assert all(body["fields"][path] for path in body["fields"])
    assert (Claim.objects.count(), Trainee.objects.count(), ClaimLine.objects.count()) == (claims, trainees, lines)


def test_header_errors_are_reported_with_line_errors(demo):
    clerk = login("provider_clerk")
    data = claim_data(lines=[line(resident_id(1), "", training_days="ten")], department="WL-NOPE", training_start="2026-13-01")
    body = error(clerk.post("/api/v1/claims/", data, format="json"), 400)
    assert set(body["fields"]) == {"department", "training_start", "lines[0].name", "lines[0].training_days"}
    assert Claim.objects.count() == 0


def test_patch_with_invalid_input_keeps_the_claim_as_it_was(demo):
    clerk = login("provider_clerk")
    claim = create_claim(clerk, claim_data())
    body = error(clerk.patch(f"/api/v1/claims/{claim['id']}/", {"class_name": "", "lines": []}, format="json"), 400)
    assert set(body["fields"]) == {"class_name", "lines"}
    assert ok(clerk.get(f"/api/v1/claims/{claim['id']}/")) == claim


def test_malformed_json_and_non_object_bodies_are_400(demo):
    clerk = login("provider_clerk")
    body = error(clerk.post("/api/v1/claims/", data="{not json", content_type="application/json"), 400)
    assert body["code"] == "parse_error"
    body = error(clerk.post("/api/v1/claims/", [claim_data()], format="json"), 400)
    assert body["code"] == "invalid" and "non_field_errors" in body["fields"]
    assert Claim.objects.count() == 0


def test_unknown_filter_value_is_400(demo):
    body = error(login("auditor").get("/api/v1/claims/?status=lost"), 400)
    assert set(body["fields"]) == {"status"}


def test_bad_decisions_are_400_and_leave_the_task_open(submitted):
    claim, task_id = submitted
    dept = login("dept_reviewer")
    body = error(decide(dept, task_id, decision="maybe"), 400)
    assert set(body["fields"]) == {"decision"}
    body = error(decide(dept, task_id, decision="reject", comment="未开班"), 400)
    assert set(body["fields"]) == {"reason"}
    body = error(
        decide(
            dept,
            task_id,
            decision="approve",
            lines=[
                {"line": 7, "decision": "approve"},
                {"line": "one", "decision": "reject", "reason": "LEVEL"},
                {"line": 2, "decision": "reject"},
            ],
        ),
        400,
    )
    assert set(body["fields"]) == {"lines[0].line", "lines[1].line", "lines[2].reason"}
    body = error(decide(dept, task_id, decision="approve", lines="all"), 400)
    assert set(body["fields"]) == {"lines"}
    task = only_task(dept)
    assert (task["id"], task["status"]) == (task_id, "new")
    assert ok(dept.get(f"/api/v1/claims/{claim['id']}/"))["status"] == "department_review"


def test_unauthenticated_requests_are_401(demo):
    anonymous = APIClient()
    for path in ("/api/v1/claims/", "/api/v1/tasks/", "/api/v1/departments/", "/api/v1/audit/verify/"):
        assert error(anonymous.get(path), 401)["code"] == "not_authenticated"
    assert error(anonymous.post("/api/v1/claims/", claim_data(), format="json"), 401)["code"] == "not_authenticated"
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert error(forged.get("/api/v1/claims/"), 401)["code"] == "authentication_failed"


def test_wrong_password_gets_no_token(demo):
    response = APIClient().post("/api/v1/auth/token/", {"username": "provider_clerk", "password": "wrong"}, format="json")
    assert "non_field_errors" in error(response, 400)["fields"]


def test_session_login_works_too(demo, client):
    from .conftest import DEMO_PASSWORD

    assert client.login(request=HttpRequest(), username="dept_reviewer", password=DEMO_PASSWORD)
    assert client.get("/api/v1/tasks/").status_code == 200


def test_deciding_the_same_task_twice_is_409(submitted):
    _claim, task_id = submitted
    dept = login("dept_reviewer")
    ok(decide(dept, task_id, decision="approve"))
    assert error(decide(dept, task_id, decision="approve"), 409)["code"] == "conflict"
    assert error(dept.post(f"/api/v1/tasks/{task_id}/take/"), 409)["code"] == "conflict"


def test_taking_a_task_taken_by_oneself_again_is_409(submitted):
    _claim, task_id = submitted
    dept = login("dept_reviewer")
    ok(dept.post(f"/api/v1/tasks/{task_id}/take/"))
    assert error(dept.post(f"/api/v1/tasks/{task_id}/take/"), 409)["code"] == "conflict"


def test_a_provider_may_not_decide_its_own_claim(submitted):
    claim, task_id = submitted
    clerk = login("provider_clerk")
    assert ok(clerk.get(f"/api/v1/tasks/{task_id}/"))["claim"] == claim["id"]  # visible, yet not theirs to decide
    assert error(decide(clerk, task_id, decision="approve"), 403)["code"] == "role"
    assert error(clerk.post(f"/api/v1/tasks/{task_id}/take/"), 403)["code"] == "role"
    assert ok(clerk.get(f"/api/v1/claims/{claim['id']}/"))["status"] == "department_review"


def test_hr_may_not_decide_the_department_step(submitted):
    _claim, task_id = submitted
    assert error(decide(login("hr_reviewer"), task_id, decision="approve"), 403)["code"] == "role"


def test_claims_under_review_cannot_be_edited_or_submitted_again(submitted):
    claim, _task_id = submitted
    clerk = login("provider_clerk")
    assert error(clerk.patch(f"/api/v1/claims/{claim['id']}/", {"class_name": "x"}, format="json"), 403)["code"] == "forbidden"
    # Submitting again is refused (a double click is a step already taken: 409); it never starts a second flow.
    again = clerk.post(f"/api/v1/claims/{claim['id']}/submit/")
    assert again.status_code in (403, 409) and again.json()["error"]["code"] in ("forbidden", "conflict")
    history = ok(clerk.get(f"/api/v1/claims/{claim['id']}/history/"))["results"]
    assert [e["action"] for e in history].count("claim.submitted") == 1


def test_only_provider_clerks_create_claims(demo):
    assert error(login("hr_reviewer").post("/api/v1/claims/", claim_data(), format="json"), 403)["code"] == "forbidden"
    assert Claim.objects.count() == 0


@pytest.mark.parametrize("username", ["provider_clerk", "dept_reviewer", "hr_reviewer", "finance_officer", "admin"])
def test_verify_is_forbidden_to_other_roles(demo, username):
    assert error(login(username).get("/api/v1/audit/verify/"), 403)["code"] == "permission_denied"


@pytest.mark.parametrize("username", ["auditor", "hr_head"])
def test_verify_is_open_to_auditor_and_hr_head(demo, username):
    assert ok(login(username).get("/api/v1/audit/verify/"))["ok"] is True


def test_verify_names_the_first_tampered_event(submitted):
    from audit.models import AuditEvent

    victim = AuditEvent.objects.order_by("seq")[3]
    with triggers_disabled():  # on PostgreSQL the ledger refuses UPDATE
        AuditEvent.objects.filter(pk=victim.pk).update(payload=victim.payload.replace('"action"', '"actio"'))
    result = ok(login("auditor").get("/api/v1/audit/verify/"))
    assert (result["ok"], result["first_bad_seq"], result["events"]) == (False, victim.seq, 3)


def test_missing_objects_are_404(demo):
    auditor = login("auditor")
    assert error(auditor.get("/api/v1/claims/999999/"), 404)["code"] == "not_found"
    assert error(auditor.get("/api/v1/claims/999999/history/"), 404)["code"] == "not_found"
    assert error(login("dept_reviewer").post("/api/v1/tasks/999999/decide/", {"decision": "approve"}, format="json"), 404)


def test_schema_and_docs_are_public(db):
    anonymous = APIClient()
    schema = anonymous.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/auth/token/",
        "/api/v1/claims/",
        "/api/v1/claims/{id}/",
        "/api/v1/claims/{id}/submit/",
        "/api/v1/claims/{id}/history/",
        "/api/v1/tasks/",
        "/api/v1/tasks/{id}/decide/",
        "/api/v1/tasks/{id}/take/",
        "/api/v1/departments/",
        "/api/v1/providers/",
        "/api/v1/policies/",
        "/api/v1/audit/verify/",
    ):
        assert path in paths, path
    docs = anonymous.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    # Every asset is ours (no CDN): no script, style or link points at another host. (Not a
    # search for "cdn": the page's random CSRF token spells it now and then.)
    assets = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', docs.content.decode())
    assert assets and not [url for url in assets if url.startswith(("http:", "https:", "//"))], assets


def test_the_public_schema_and_docs_are_read_with_a_stale_token_too(db):
    # "/api/schema/ is public": a provider's system whose token expired (or was revoked) still
    # reads it, as the public notice is read; its credentials are not even looked at.
    stale = APIClient()
    stale.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert stale.get("/api/schema/", HTTP_ACCEPT="application/json").status_code == 200
    assert stale.get("/api/docs/").status_code == 200
    assert stale.get("/api/v1/public/notice/").status_code == 200


def test_schema_generates_without_warnings(db, tmp_path):
    # --fail-on-warn turns every drf-spectacular warning (an unresolvable field, a clashing enum) into an error.
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


def test_policies_list_the_catalogue_with_versions(demo):
    policies = ok(login("provider_clerk").get("/api/v1/policies/"))["results"]
    s3 = next(p for p in policies if p["code"] == "S3")
    assert (s3["payee"], s3["jurisdiction"]) == ("provider", "WL")
    assert [(v["version"], v["valid_from"], v["valid_to"]) for v in s3["versions"]] == [
        (1, "2020-02-21", "2021-12-31"),
        (2, "2022-01-01", None),
    ]
    assert s3["versions"][1]["amount_rule"] == "cap"
    assert s3["versions"][1]["amount_by_level"]["senior"] == "500.00"
    assert s3["versions"][1]["certificate_types"] == ["special_operation"]
    assert datetime.date.fromisoformat(s3["versions"][1]["valid_from"]) <= datetime.date.today()


def test_an_unknown_method_is_405(demo):
    clerk = login("provider_clerk")
    claim = create_claim(clerk, claim_data())
    assert error(clerk.delete(f"/api/v1/claims/{claim['id']}/"), 405)["code"] == "method_not_allowed"
    assert error(clerk.put(f"/api/v1/claims/{claim['id']}/", claim_data(), format="json"), 405)["code"] == "method_not_allowed"


def the_schema() -> dict:
    return APIClient().get("/api/schema/", {"format": "json"}).json()


def resolved(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def takes_a_page_number(operation: dict) -> bool:
    return any(parameter["name"] == "page" for parameter in operation.get("parameters", []))


def test_a_page_that_is_no_page_is_a_400_naming_page_on_every_page_numbered_list(demo):
    """DRF's paginator answered 404 "Invalid page." for a page past the end, and the claim list's
    ?page=99999999999999999999 an OFFSET past bigint (a 500). Bad input is a 400 (DESIGN, API
    contract v1): past the last page, not a number, below 1 or past any page a list could have."""
    schema = the_schema()
    lists = [
        path for path, operations in schema["paths"].items() if "{" not in path and takes_a_page_number(operations.get("get", {}))
    ]
    assert {"/api/v1/claims/", "/api/v1/departments/", "/api/v1/audit/checkpoints/", "/api/v1/public/notice/"} <= set(lists)
    readers = [login(username) for username in ("hr_head", "finance_officer", "hr_reviewer", "provider_clerk")]
    for path in lists:
        reader = next(client for client in readers if client.get(path).status_code == 200)
        for bad in ("2000", "x", "0", "-1", "99999999999999999999"):
            assert error(reader.get(path, {"page": bad}), 400)["fields"]["page"], (path, bad)


def test_every_list_in_the_schema_is_a_page_of_its_resources(db):
    """The claim and task lists answer {count, count_capped, next, previous, results: [Claim]}; their
    schema said a page of such pages (drf-spectacular's pagination wrapped around the declared page),
    without count_capped, and gave the task list a `page` it does not read."""
    schema = the_schema()
    pages = {}
    for path, operations in schema["paths"].items():
        answer = operations.get("get", {}).get("responses", {}).get("200", {}).get("content", {}).get("application/json")
        body = resolved(schema, answer["schema"]) if answer else {}
        if "results" in body.get("properties", {}):
            item = body["properties"]["results"]["items"]
            assert body["type"] == "object" and "results" not in resolved(schema, item).get("properties", {}), path
            pages[path] = body
    assert len(pages) > 10
    for path, resource in (("/api/v1/claims/", "Claim"), ("/api/v1/tasks/", "Task")):
        assert pages[path]["properties"]["results"]["items"] == {"$ref": f"#/components/schemas/{resource}"}, path
        assert {"count", "count_capped", "next", "previous"} <= set(pages[path]["required"]), path
    assert not takes_a_page_number(schema["paths"]["/api/v1/tasks/"]["get"])  # keyset pages only


def test_every_status_an_operation_answers_is_one_its_schema_lists(demo):
    """Every operation, asked without a login and as a provider's clerk (a new token each time: one
    operation revokes it), plainly, with a control character in the query or the path (refused by
    config.middleware before any view) and for a page past the end: the status it answers is one its
    schema documents (what schemathesis' status_code_conformance checks). Undocumented were the 401
    and 403 of the checkpoints, the 401 of the roster template, the lists' 404 of a page past the
    end and the 400 of a refused character on most operations."""
    schema = the_schema()
    undocumented = []
    for path, operations in schema["paths"].items():
        addresses = [re.sub(r"\{[^}]+\}", "1", path)] + ([re.sub(r"\{[^}]+\}", "%01", path)] if "{" in path else [])
        for method, operation in operations.items():
            queries = ["", "?note=%01"] + (["?page=2000"] if takes_a_page_number(operation) else [])
            for who in ("anonymous", "provider_clerk"):
                for address in addresses:
                    for query in queries:
                        client = APIClient()
                        if who != "anonymous":
                            client.credentials(HTTP_AUTHORIZATION=token_of(who))
                        status = getattr(client, method)(address + query, format="json").status_code
                        if str(status) not in operation["responses"]:
                            undocumented.append(f"{who} {method.upper()} {address}{query}: {status}")
    assert not undocumented, "\n".join(undocumented)


def test_a_flow_lock_held_by_someone_else_is_409():
    # Raised by viewflow's select-for-update lock when another transaction holds the process row.
    from viewflow.workflow.exceptions import FlowLockFailed

    from api.errors import json_error_handler

    response = json_error_handler(FlowLockFailed("Lock failed"), {})
    assert response.status_code == 409
    assert response.data["error"]["code"] == "conflict" and response.data["error"]["fields"] == {}
