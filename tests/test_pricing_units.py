"""Each standard priced in its own unit, with its conditions (issue 10), through the API, with the
figures of seed 002 (Zhuji plan): a clerk's claim is refused with the field and row to correct, or
priced per person, per day, per enterprise or per item, with a flag where HR must decide."""

import datetime

import pytest

from claims.dates import date_text
from claims.models import Claim, PolicyVersion, PricingUnit
from demo.occupations import OCCUPATIONS

from .api_support import create_claim, error, login
from .conftest import claim_data, line, resident_id
from .test_roster_import import fill_template, trainee_row, upload

# Items developed under S7 name occupations of the occupation table (demo/occupations.py): eleven of them.
OCCUPATION_NAMES = [name for _code, name, _aliases in OCCUPATIONS]

TODAY = datetime.date.today()


# S10–S14 pay the enterprise the claim names (002 §三(九)–(十三)).
ENTERPRISE = {"enterprise_name": "温岭市某泵业有限公司", "enterprise_credit_code": "91331081MA2K00001E"}


@pytest.fixture
def clerk(demo):
    return login("provider_clerk")


def days_ago(n: int) -> str:
    return (TODAY - datetime.timedelta(days=n)).isoformat()


def klass(start_days_ago: int, end_days_ago: int) -> dict:
    return {"training_start": days_ago(start_days_ago), "training_end": days_ago(end_days_ago)}


def person(n: int, **fields) -> dict:
    values = {"certificate_number": f"C-{n}", "certificate_date": days_ago(1), **fields}
    return line(resident_id(700 + n), f"学员{n}", **values)


def refused(clerk, data: dict) -> dict:
    before = Claim.objects.count()
    body = error(clerk.post("/api/v1/claims/", data, format="json"), 400)
    assert Claim.objects.count() == before  # nothing saved
    return body["fields"]


def amounts(claim: dict) -> list[str]:
    return [item["amount"] for item in claim["lines"]]


def codes(claim: dict, index: int = 0) -> list[str]:
    return [flag["code"] for flag in claim["lines"][index]["flags"]]


# --------------------------------------------------------------------------- 1. days of allowance


def test_the_living_allowance_pays_50_a_day_for_at_most_the_days_of_the_class(clerk):
    """S6 (002 §二(五)): 50 a day during the training. A 5-day class with 3,660 days claimed
    priced 183,000: the days of a line can never exceed the class's own days."""
    five_days = klass(10, 6)
    s6 = {"policy": "S6", **five_days}
    fields = refused(
        clerk,
        claim_data(
            lines=[person(1, certificate_type="training", training_days=3660, hardship_group="employment_difficulty")], **s6
        ),
    )
    assert list(fields) == ["lines[0].training_days"]
    assert "5 天" in fields["lines[0].training_days"][0]

    claim = create_claim(
        clerk,
        claim_data(lines=[person(1, certificate_type="training", training_days=5, hardship_group="employment_difficulty")], **s6),
    )
    assert amounts(claim) == ["250.00"]  # 50 × 5


def test_no_standard_pays_for_more_days_than_the_class_has(clerk):
    """The same for any standard: an S3 line of 22 days in a 21-day class."""
    fields = refused(clerk, claim_data(lines=[person(1), person(2, training_days=22)]))
    assert list(fields) == ["lines[1].training_days"]


def test_a_roster_with_more_days_than_the_class_names_the_row_and_the_column(clerk):
    rows = [trainee_row(1, training_days="10"), trainee_row(2, training_days="400")]
    body = error(upload(clerk, fill_template(rows)), 400)
    assert list(body["fields"]) == ["rows[3].training_days"]
    assert body["fields"]["rows[3].training_days"][0].startswith("第3行 培训天数：")


# --------------------------------------------------------------------------- 2. the actual cost


def test_a_standard_paying_the_actual_cost_up_to_a_limit_needs_the_cost(clerk):
    """S1 (002 §二(一)): 每人不超过 3500 元. Without the cost the line was paid its cap (4,000 for
    高级工 under the demo v3); now the cost is required, and the lesser of cost and cap is paid."""
    s1 = {"policy": "S1"}
    fields = refused(clerk, claim_data(lines=[person(1, certificate_type="skill_level", stated_cost=None)], **s1))
    assert list(fields) == ["lines[0].stated_cost"]

    claim = create_claim(clerk, claim_data(lines=[person(1, certificate_type="skill_level", stated_cost="2800.00")], **s1))
    assert amounts(claim) == ["2800.00"]


def test_a_safety_certificate_is_paid_its_standard_without_a_stated_cost(clerk):
    """S3 (002 §二(二)): 以主管部门核发证书为依据，新证培训每人最高 500 元: paid on the certificate,
    the cost only a ceiling when stated (as in the API journey)."""
    claim = create_claim(clerk, claim_data(lines=[person(1, stated_cost=None), person(2, stated_cost="450.00")]))
    assert amounts(claim) == ["500.00", "450.00"]


def test_the_catalogue_says_which_standards_need_the_cost(demo):
    required = set(
        PolicyVersion.objects.filter(policy__jurisdiction__code="WL", cost_required=True).values_list("policy__code", flat=True)
    )
    assert required == {"S1", "S2", "S9", "S10", "S11", "S16", "S17", "S18"}


# --------------------------------------------------------------------------- 3. certificate after training


def test_a_certificate_dated_before_the_training_started_is_refused(clerk):
    """取证 comes after the training: a certificate dated the day before the class began."""
    fields = refused(clerk, claim_data(lines=[person(1, certificate_date=days_ago(61))]))  # the class starts 60 days ago
    assert list(fields) == ["lines[0].certificate_date"]
    assert date_text(TODAY - datetime.timedelta(days=60)) in fields["lines[0].certificate_date"][0]


# --------------------------------------------------------------------------- 4. per enterprise, per item


def test_the_catalogue_gives_each_standard_its_unit(demo):
    units = dict(PolicyVersion.objects.filter(policy__jurisdiction__code="WL", version=1).values_list("policy__code", "unit"))
    assert units["S6"] == PricingUnit.PERSON_DAY
    assert units["S7"] == PricingUnit.ITEM
    assert units["S13"] == PricingUnit.ENTERPRISE
    assert {units[code] for code in ("S10", "S11", "S12", "S15")} == {PricingUnit.PERSON_PERIOD}
    assert units["S1"] == units["S3"] == PricingUnit.PERSON


def test_an_enterprise_contest_is_paid_at_most_20000_whatever_the_number_of_lines(clerk):
    """S13 (002 §三(十)): 对符合条件的企业给予最高 2 万元. Three lines came to 60,000."""
    lines = [person(n, stated_cost="15000.00") for n in (1, 2, 3)]
    claim = create_claim(clerk, claim_data(lines=lines, policy="S13", **ENTERPRISE))
    assert amounts(claim) == ["15000.00", "5000.00", "0.00"]
    assert claim["total"] == "20000.00"
    assert "合计不超过 20000" in claim["lines"][1]["explanation"]
    in_english = clerk.get(f"/api/v1/claims/{claim['id']}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert "this claim's lines together at most 20000 → 5000" in in_english["lines"][1]["explanation"]


def test_a_development_item_is_paid_once_per_item_not_per_person(clerk):
    """S7 (002 §二(六)): 每项精品培训包 5 万元, 每项考核规范 1 万元. An item is a line naming what was
    developed (occupation) and its kind (variant: blank for a package); the same item twice is refused."""
    same = [person(n, occupation="次坞打面") for n in (1, 2, 3)]
    fields = refused(clerk, claim_data(lines=same, policy="S7"))
    assert list(fields) == ["lines[1].occupation", "lines[2].occupation"]

    items = [
        person(1, occupation="次坞打面"),
        person(2, occupation="养老护理员"),
        person(3, occupation="次坞打面", variant="assessment_standard"),
    ]
    claim = create_claim(clerk, claim_data(lines=items, policy="S7"))
    assert amounts(claim) == ["50000.00", "50000.00", "10000.00"]


def test_one_contact_may_stand_for_several_items_and_uses_no_training_quota(clerk):
    """The person on an S7 line is the developer's contact, not a trainee: no DUP, no E2."""
    contact = resident_id(799)
    items = [
        line(contact, "李工", occupation=OCCUPATION_NAMES[n], certificate_number=f"K-{n}", certificate_date=days_ago(1))
        for n in range(4)
    ]
    claim = create_claim(clerk, claim_data(lines=items, policy="S7"))
    assert [codes(claim, i) for i in range(4)] == [[], [], [], []]
    assert claim["total"] == "200000.00"


def test_no_more_than_ten_packages(clerk):
    """十项精品培训包: the eleventh package of a claim is refused."""
    packages = [person(n, occupation=OCCUPATION_NAMES[n]) for n in range(11)]
    fields = refused(clerk, claim_data(lines=packages, policy="S7"))
    assert list(fields) == ["lines[10].variant"]
    claim = create_claim(clerk, claim_data(lines=packages[:10], policy="S7"))
    assert claim["total"] == "500000.00"


# --------------------------------------------------------------------------- 5. conditions


def test_veterans_training_lasts_at_least_three_months_and_is_for_veterans_of_the_year(clerk):
    """S5 (002 §二(五)): 当年退役军人, 不少于 3 个月, 最高 5000 元/人."""
    start = TODAY - datetime.timedelta(days=120)
    veteran = person(1, certificate_type="training", target_group="veteran", discharge_year=start.year - 1)
    short = {"policy": "S5", **klass(80, 30)}
    fields = refused(clerk, claim_data(lines=[veteran], **short))
    assert list(fields) == ["training_end"]

    three_months = {"policy": "S5", "training_start": start.isoformat(), "training_end": days_ago(2)}
    this_year = person(2, certificate_type="training", target_group="veteran", discharge_year=start.year)
    claim = create_claim(clerk, claim_data(lines=[veteran, this_year, person(3, certificate_type="training")], **three_months))
    assert [codes(claim, i) for i in range(3)] == [["VETERAN"], [], ["VETERAN"]]


def test_moving_the_class_to_another_year_checks_the_veterans_again(clerk):
    """The clerk edits only the class dates: the lines are checked against the new class."""
    start = TODAY - datetime.timedelta(days=120)
    veteran = person(1, certificate_type="training", target_group="veteran", discharge_year=start.year)
    claim = create_claim(
        clerk, claim_data(lines=[veteran], policy="S5", training_start=start.isoformat(), training_end=days_ago(2))
    )
    assert codes(claim) == []

    a_year_earlier = (start - datetime.timedelta(days=366)).isoformat()
    edited = clerk.patch(f"/api/v1/claims/{claim['id']}/", {"training_start": a_year_earlier}, format="json")
    assert edited.status_code == 200, edited.content
    assert codes(edited.json()) == ["VETERAN"]

    fields = error(clerk.patch(f"/api/v1/claims/{claim['id']}/", {"training_start": days_ago(2)}, format="json"), 400)["fields"]
    assert set(fields) == {"training_end", "lines[0].training_days"}  # a one-day class: not 3 months, not 10 days


def test_training_abroad_lasts_at_most_one_month(clerk):
    """S9 (002 §二(八)): 不超过 1 个月、每人最高不超过 5 万元."""
    technician = person(1, level="technician", certificate_type="training", training_days=20, stated_cost="30000.00")
    fields = refused(clerk, claim_data(lines=[technician], policy="S9", **klass(60, 20)))
    assert list(fields) == ["training_end"]
    claim = create_claim(clerk, claim_data(lines=[technician], policy="S9", **klass(40, 20)))
    assert amounts(claim) == ["30000.00"]


def test_the_chief_technician_allowance_is_for_a_filed_chief_technician(clerk):
    """S15 (002 §三(十一)): 对经过备案的企业首席技师，每人每月 1000 元."""
    lines = [person(1, periods=3, chief_technician_filed=True), person(2, periods=3)]
    claim = create_claim(clerk, claim_data(lines=lines, policy="S15"))
    assert amounts(claim) == ["3000.00", "3000.00"]
    assert [codes(claim, 0), codes(claim, 1)] == [[], ["CHIEF_TECHNICIAN"]]


def test_entrepreneurship_training_is_for_its_target_groups(clerk):
    """S4 (002 §二(四)): 1000 元/人, 农民工、建档立卡贫困人口、在校大学生和退役军人."""
    lines = [person(1, certificate_type="training", target_group="migrant_worker"), person(2, certificate_type="training")]
    claim = create_claim(clerk, claim_data(lines=lines, policy="S4"))
    assert amounts(claim) == ["1000.00", "1000.00"]
    assert [codes(claim, 0), codes(claim, 1)] == [[], ["TARGET_GROUP"]]


def test_a_condition_flag_is_a_reason_hr_can_reject_with():
    from claims.reasons import REASONS

    assert {"TARGET_GROUP", "VETERAN", "CHIEF_TECHNICIAN"} <= set(REASONS)
