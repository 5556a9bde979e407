"""Who sees what through the API: every demo role against claims of its own scope and of others'.

The world: four claims and a second jurisdiction (诸暨, ZJ) with its own clerk and reviewer.
  p1       provider_clerk (WL-P001) → 应急管理局 WL-YJJ, submitted
  p1_draft provider_clerk (WL-P001) → WL-YJJ, still a draft
  p2       provider2_clerk (WL-P002) → 民政局 WL-MZJ, submitted
  zj       zj_clerk (ZJ-P001) → ZJ-YJJ, submitted, in another jurisdiction
All submitted claims wait at department review.
"""

import datetime

import pytest

from claims import roles
from claims.models import AmountRule, CertificateType, Level, Payee, PolicyVersion, SubsidyPolicy
from claims.organisation import ensure_department, ensure_jurisdiction, ensure_provider, ensure_staff_user
from demo.management.commands.seed_demo import credit_code

from .api_support import create_claim, error, login, ok, submit
from .conftest import DEMO_PASSWORD, claim_data, line, resident_id

EVERYONE = ("p1", "p1_draft", "p2", "zj")

# username            claims listed and readable        tasks in their work list
SCOPE = [
    ("provider_clerk", {"p1", "p1_draft"}, set()),
    ("provider2_clerk", {"p2"}, set()),
    ("zj_clerk", {"zj"}, set()),
    ("dept_reviewer", {"p1"}, {"p1"}),
    ("dept2_reviewer", {"p2"}, {"p2"}),
    ("zj_reviewer", {"zj"}, {"zj"}),
    ("hr_reviewer", {"p1", "p2"}, set()),
    ("hr_head", {"p1", "p2"}, set()),
    ("finance_officer", {"p1", "p2"}, set()),
    ("finance_officer2", {"p1", "p2"}, set()),
    ("auditor", {"p1", "p2"}, set()),
    ("admin", set(), set()),
]


@pytest.fixture
def zhuji(demo):
    """A second jurisdiction with a department, a provider, a clerk, a reviewer and an S3 standard in force."""
    jurisdiction = ensure_jurisdiction(code="ZJ", name="诸暨市")
    department = ensure_department(jurisdiction=jurisdiction, code="ZJ-YJJ", name="诸暨市应急管理局")
    provider = ensure_provider(
        jurisdiction=jurisdiction, code="ZJ-P001", name="诸暨市某培训学校", credit_code=credit_code("91330681MA2BB0001")
    )
    ensure_staff_user(username="zj_clerk", password=DEMO_PASSWORD, role=roles.PROVIDER_CLERK, scope_group=provider.staff_group)
    ensure_staff_user(
        username="zj_reviewer", password=DEMO_PASSWORD, role=roles.DEPARTMENT_REVIEWER, scope_group=department.staff_group
    )
    policy = SubsidyPolicy.objects.create(jurisdiction=jurisdiction, code="S3", name="特种作业安全技能培训", payee=Payee.PROVIDER)
    PolicyVersion.objects.create(
        policy=policy,
        version=1,
        valid_from=datetime.date(2022, 1, 1),
        amount_rule=AmountRule.CAP,
        amount_by_level={Level.SENIOR.value: "500.00"},
        certificate_types=[CertificateType.SPECIAL_OPERATION.value],
    )
    return jurisdiction


@pytest.fixture
def world(zhuji):
    """The four claims, made through the API; name → claim as the API returned it."""
    p1_clerk, p2_clerk, zj_clerk = login("provider_clerk"), login("provider2_clerk"), login("zj_clerk")
    claims = {
        "p1": submit(p1_clerk, create_claim(p1_clerk, claim_data())["id"]),
        "p1_draft": create_claim(p1_clerk, claim_data(lines=[line(resident_id(5), "赵六")], class_name="草稿班")),
        "p2": submit(
            p2_clerk, create_claim(p2_clerk, claim_data(department="WL-MZJ", lines=[line(resident_id(3), "孙七")]))["id"]
        ),
        "zj": submit(
            zj_clerk, create_claim(zj_clerk, claim_data(department="ZJ-YJJ", lines=[line(resident_id(4), "周八")]))["id"]
        ),
    }
    assert [claims[name]["status"] for name in EVERYONE] == [
        "department_review",
        "draft",
        "department_review",
        "department_review",
    ]
    return claims


def names_of(world, ids) -> set[str]:
    by_id = {claim["id"]: name for name, claim in world.items()}
    return {by_id[claim_id] for claim_id in ids}


@pytest.mark.parametrize(("username", "sees", "works_on"), SCOPE, ids=[row[0] for row in SCOPE])
def test_each_role_lists_and_reads_only_its_scope(world, username, sees, works_on):
    client = login(username)

    listed = ok(client.get("/api/v1/claims/"))
    assert names_of(world, [claim["id"] for claim in listed["results"]]) == sees
    assert listed["count"] == len(sees)
    work = ok(client.get("/api/v1/tasks/"))["results"]
    assert names_of(world, [task["claim"] for task in work]) == works_on

    for name in sees:
        assert ok(client.get(f"/api/v1/claims/{world[name]['id']}/"))["number"] == world[name]["number"]
        assert ok(client.get(f"/api/v1/claims/{world[name]['id']}/history/"))["count"] > 0


@pytest.mark.parametrize(("username", "sees", "works_on"), SCOPE, ids=[row[0] for row in SCOPE])
def test_claims_and_tasks_out_of_scope_do_not_exist(world, username, sees, works_on):
    client = login(username)
    for name in set(EVERYONE) - sees:
        claim = world[name]
        base = f"/api/v1/claims/{claim['id']}/"
        assert error(client.get(base), 404)["code"] == "not_found"
        assert error(client.get(base + "history/"), 404)["code"] == "not_found"
        assert error(client.patch(base, {"class_name": "篡改"}, format="json"), 404)["code"] == "not_found"
        assert error(client.post(base + "submit/"), 404)["code"] == "not_found"
        assert ok(client.get("/api/v1/claims/", {"q": claim["number"]}))["count"] == 0
        if claim["task"] is None:
            continue  # a draft has no task yet
        task = f"/api/v1/tasks/{claim['task']}/"
        assert error(client.get(task), 404)["code"] == "not_found"
        assert error(client.post(task + "take/"), 404)["code"] == "not_found"
        assert error(client.post(task + "decide/", {"decision": "approve"}, format="json"), 404)["code"] == "not_found"
    # Nothing above changed anything.
    owner = {"p1": "provider_clerk", "p1_draft": "provider_clerk", "p2": "provider2_clerk", "zj": "zj_clerk"}
    for name in EVERYONE:
        assert ok(login(owner[name]).get(f"/api/v1/claims/{world[name]['id']}/")) == world[name]


# username          departments listed                     providers listed
ORGANISATION = [
    ("provider_clerk", "every WL department", {"WL-P001"}),
    ("zj_clerk", {"ZJ-YJJ"}, {"ZJ-P001"}),
    ("dept_reviewer", {"WL-YJJ"}, {"WL-P001", "WL-P002"}),
    ("dept2_reviewer", {"WL-MZJ"}, {"WL-P001", "WL-P002"}),
    ("hr_reviewer", "every WL department", {"WL-P001", "WL-P002"}),
    ("auditor", "every WL department", {"WL-P001", "WL-P002"}),
    ("admin", set(), set()),
]


@pytest.mark.parametrize(("username", "departments", "providers"), ORGANISATION, ids=[row[0] for row in ORGANISATION])
def test_departments_and_providers_in_scope(zhuji, username, departments, providers):
    from claims.models import Department

    if departments == "every WL department":
        departments = set(Department.objects.filter(jurisdiction__code="WL").values_list("code", flat=True))
        assert len(departments) == 15
    client = login(username)
    listed = ok(client.get("/api/v1/departments/"))["results"]
    assert {d["code"] for d in listed} == departments
    assert all(d["name"] for d in listed)
    listed = ok(client.get("/api/v1/providers/"))["results"]
    assert {p["code"] for p in listed} == providers
    assert all(p["name"] for p in listed)


def test_list_filters(world):
    auditor = login("auditor")

    def listed(**params):
        return names_of(world, [c["id"] for c in ok(auditor.get("/api/v1/claims/", params))["results"]])

    assert listed() == {"p1", "p2"}
    assert listed(department="WL-MZJ") == {"p2"}
    assert listed(provider="WL-P001") == {"p1"}
    assert listed(status="department_review") == {"p1", "p2"}
    assert listed(status="draft") == set()
    assert listed(q=world["p2"]["number"]) == {"p2"}
    assert listed(q="低压电工") == {"p1", "p2"}
    assert listed(q="草稿班") == set()  # the draft's class name: still invisible to the auditor
    clerk = login("provider_clerk")
    assert names_of(world, [c["id"] for c in ok(clerk.get("/api/v1/claims/", {"q": "草稿班"}))["results"]]) == {"p1_draft"}


def test_a_reviewer_cannot_decide_another_departments_claim_even_with_the_right_role(world):
    # dept2_reviewer holds the department reviewer role but not 应急管理局's scope.
    error(
        login("dept2_reviewer").post(f"/api/v1/tasks/{world['p1']['task']}/decide/", {"decision": "approve"}, format="json"), 404
    )
    assert ok(login("dept_reviewer").get(f"/api/v1/claims/{world['p1']['id']}/"))["status"] == "department_review"
