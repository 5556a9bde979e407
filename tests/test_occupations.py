"""Issue 10: occupations come from a table and are matched on their code.

A line names its occupation by the name in the national occupational classification or by
one of its aliases (the special-operation certificate's 低压电工作业 is 电工, 6-31-01-03), written
with any spacing and full-width or half-width forms. Every channel (API, roster, web form)
resolves it through the one line field table; an occupation the table does not know is
refused, naming the row and the field, and nothing is saved. The rules that compare
occupations (E3, N3) compare codes."""

import pytest
from django.urls import reverse

from claims.line_fields import LINE_FIELDS_BY_NAME
from claims.models import Claim, ClaimLine, Occupation
from claims.occupations import ensure_occupation, occupation_key, resolve_occupation
from claims.services import create_claim
from demo.occupations import OCCUPATIONS
from workflow.services import submit_claim

from .api_support import create_claim as api_create_claim
from .api_support import error, login, ok
from .conftest import claim_data, line, resident_id
from .test_certificates_once import period
from .test_roster_import import fill_template, trainee_row, upload
from .test_web_journey import cell_html, claim_form_post, client_for, row_html

ELECTRICIAN = "6-31-01-03"


def test_every_occupation_of_the_demo_is_found_by_its_name_and_each_alias(demo):
    for code, name, aliases in OCCUPATIONS:
        for text in (name, *aliases):
            assert resolve_occupation(text).code == code, text
    electrician = Occupation.objects.get(code=ELECTRICIAN)
    assert (electrician.name, electrician.active) == ("电工", True)
    assert {"低压电工作业", "电工作业", "维修电工"} <= set(electrician.aliases)


@pytest.mark.parametrize(
    "written",
    ["电工", " 电工 ", "低压电工作业", "低压 电工作业", "低压\u3000电工作业", "维修电工"],
)
def test_the_name_or_an_alias_with_any_spacing_resolves_to_the_occupation(demo, written):
    assert LINE_FIELDS_BY_NAME["occupation"].parse(written).code == ELECTRICIAN


def test_full_width_and_half_width_forms_are_one_occupation(demo):
    ensure_occupation(code="DEMO-9001", name="CAD绘图员", aliases=("CAD 制图员",))
    assert occupation_key("ＣＡＤ绘图员") == occupation_key("cad绘图员") == "cad绘图员"
    assert resolve_occupation("ｃａｄ 制图员").code == "DEMO-9001"


def test_a_name_is_one_occupation_only_and_an_inactive_occupation_is_refused(demo):
    with pytest.raises(ValueError, match="6-31-01-03"):
        ensure_occupation(code="DEMO-9002", name="维修电工")  # already an alias of 电工
    ensure_occupation(code="DEMO-9003", name="话务员", active=False)
    body = error(
        login("provider_clerk").post("/api/v1/claims/", claim_data(lines=[line(occupation="话务员")]), format="json"), 400
    )
    assert body["fields"] == {"lines[0].occupation": ["未知的职业（工种）：话务员；请使用国家职业分类大典中的职业（工种）名称。"]}


# --------------------------------------------------------------------------- API


def test_api_an_alias_is_stored_as_its_occupation_and_shown_by_name_and_code(demo):
    clerk = login("provider_clerk")
    claim = api_create_claim(clerk, claim_data(lines=[line(resident_id(1), "张三", occupation="低压电工作业")]))
    (created,) = claim["lines"]
    assert (created["occupation"], created["occupation_code"]) == ("电工", ELECTRICIAN)
    assert ClaimLine.objects.get(pk=created["id"]).occupation.code == ELECTRICIAN


def test_api_an_unknown_occupation_is_a_400_naming_the_line_and_nothing_is_saved(demo):
    clerk = login("provider_clerk")
    lines = [line(resident_id(1), "张三"), line(resident_id(2), "李四", occupation="电工师傅", certificate_number="T-2")]
    body = error(clerk.post("/api/v1/claims/", claim_data(lines=lines), format="json"), 400)
    assert body["fields"] == {
        "lines[1].occupation": ["未知的职业（工种）：电工师傅；请使用国家职业分类大典中的职业（工种）名称。"]
    }
    assert not Claim.objects.exists()
    english = error(clerk.post("/api/v1/claims/", claim_data(lines=lines), format="json", HTTP_ACCEPT_LANGUAGE="en"), 400)
    assert english["fields"]["lines[1].occupation"][0].startswith("Unknown occupation: 电工师傅")

    # A PATCH is checked the same way and changes nothing.
    claim = api_create_claim(clerk, claim_data())
    body = error(clerk.patch(f"/api/v1/claims/{claim['id']}/", {"lines": lines}, format="json"), 400)
    assert list(body["fields"]) == ["lines[1].occupation"]
    assert ok(clerk.get(f"/api/v1/claims/{claim['id']}/")) == claim


# --------------------------------------------------------------------------- roster


def test_roster_aliases_resolve_and_an_unknown_occupation_names_its_row(demo):
    clerk = login("provider_clerk")
    rows = [trainee_row(1), trainee_row(2, occupation="电焊工"), trainee_row(3, occupation="养老 护理员")]
    claim = ok(upload(clerk, fill_template(rows)), 201)
    assert [(line["occupation"], line["occupation_code"]) for line in claim["lines"]] == [
        ("电工", ELECTRICIAN),  # 低压电工, the roster's default
        ("焊工", "6-18-02-04"),
        ("养老护理员", "4-10-01-05"),
    ]

    before = Claim.objects.count()
    rows = [trainee_row(11), trainee_row(12, occupation="火箭工程师")]
    body = error(upload(clerk, fill_template(rows), class_name="另一期"), 400)
    assert set(body["fields"]) == {"rows[3].occupation"}  # the header is row 1
    zh, en = body["fields"]["rows[3].occupation"]
    assert zh == "第3行 职业（工种）：未知的职业（工种）：火箭工程师；请使用国家职业分类大典中的职业（工种）名称。"
    assert en.startswith("Row 3, Occupation: Unknown occupation: 火箭工程师")
    assert Claim.objects.count() == before


# --------------------------------------------------------------------------- web form


def test_web_form_an_unknown_occupation_is_shown_on_its_row_and_nothing_is_saved(demo):
    provider = client_for(demo["provider_clerk"])
    rows = [line(resident_id(1), "张三", occupation="低压电工作业"), line(resident_id(2), "李四", occupation="电工师傅")]
    response = provider.post(reverse("approvals:claim_new"), claim_form_post(claim_data(lines=rows)))
    assert response.status_code == 400
    html = response.content.decode()
    assert "未知的职业（工种）：电工师傅" in cell_html(html, 2, "occupation")
    assert "field-error" not in row_html(html, 1)
    assert not Claim.objects.exists()

    rows[1] = line(resident_id(2), "李四", occupation="电工", certificate_number="T-2")
    response = provider.post(reverse("approvals:claim_new"), claim_form_post(claim_data(lines=rows)))
    claim = Claim.objects.get()
    assert response.status_code == 302
    assert [line.occupation.code for line in claim.lines.select_related("occupation")] == [ELECTRICIAN, ELECTRICIAN]
    # The edit form shows the occupation by its name.
    page = provider.get(reverse("approvals:claim_edit", args=[claim.pk])).content.decode()
    assert 'value="电工"' in row_html(page, 1)


# --------------------------------------------------------------------------- rules compare codes


def test_e3_compares_codes_the_same_occupation_under_an_alias_is_the_same_occupation(demo):
    clerk = demo["provider_clerk"]
    first = create_claim(user=clerk, data=claim_data(lines=[line(resident_id(1), "张三", certificate_number="T-A")], **period(1)))
    submit_claim(user=clerk, claim=first)
    again = line(resident_id(1), "张三", occupation="电工作业", certificate_number="T-B")
    second = create_claim(user=clerk, data=claim_data(lines=[again], class_name="第2期", **period(2)))
    flags = second.lines.get().flags
    assert [flag["code"] for flag in flags] == ["E3"]  # another certificate: no CERT_DUP
    assert "“电工”" in flags[0]["message"]  # named as the table names it


def test_another_occupation_at_the_same_level_is_not_e3(demo):
    clerk = demo["provider_clerk"]
    first = create_claim(user=clerk, data=claim_data(lines=[line(resident_id(1), "张三", certificate_number="T-A")], **period(1)))
    submit_claim(user=clerk, claim=first)
    welder = line(resident_id(1), "张三", occupation="焊接与热切割作业", certificate_number="T-B")
    second = create_claim(user=clerk, data=claim_data(lines=[welder], class_name="第2期", **period(2)))
    assert second.lines.get().flags == []


# --------------------------------------------------------------------------- lines made before the table


def test_lines_made_before_the_table_keep_their_occupation_as_an_inactive_placeholder(transactional_db, demo):
    """claims/0006–0008 turned the line's occupation text into a reference to the table. Migrated
    back, a line says its occupation's name again; migrated forward onto a database whose
    occupations are new, each distinct text (spacing aside) becomes one inactive UNCLASSIFIED
    occupation, for an administrator to map to its code, and certificate keys are filled in."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    clerk = demo["provider_clerk"]
    lines = [
        line(resident_id(1), "张三", occupation="低压电工作业", certificate_number="ｔ-1"),
        line(resident_id(2), "李四", occupation="焊工", certificate_number="T-2"),
    ]
    claim = create_claim(user=clerk, data=claim_data(lines=lines))
    before = ("claims", "0005_pricing_units_and_conditions")
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([before])
    old_apps = executor.loader.project_state([before]).apps
    OldLine = old_apps.get_model("claims", "ClaimLine")
    assert list(OldLine.objects.filter(claim_id=claim.pk).order_by("line_no").values_list("occupation", flat=True)) == [
        "电工",
        "焊工",
    ]
    OldLine.objects.filter(claim_id=claim.pk, line_no=2).update(occupation=" 焊 工")  # as someone once typed it

    executor = MigrationExecutor(connection)
    executor.migrate(latest)
    migrated = {line.line_no: line for line in ClaimLine.objects.filter(claim=claim).select_related("occupation")}
    assert {n: (line.occupation.name, line.occupation.active) for n, line in migrated.items()} == {
        1: ("电工", False),
        2: ("焊 工", False),
    }
    assert {line.occupation.code for line in migrated.values()} == {"UNCLASSIFIED-0001", "UNCLASSIFIED-0002"}
    # Filled in by 0006, dashes left out since 0016 (claims.certificates.certificate_key).
    assert (migrated[1].certificate_key, migrated[2].certificate_key) == ("T1", "T2")
    with pytest.raises(Exception, match="未知的职业"):
        resolve_occupation("电工")  # a placeholder is not offered for new lines
