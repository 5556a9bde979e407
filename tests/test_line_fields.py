"""A claim line's fields are defined once (claims/line_fields.py); the service's typed input, the
API's schema and checks, the roster's columns and the claim form all come from that table, so a
line sent through any of them arrives whole. Once the form lacked four of the fields, and saving
an edit of an S3 renewal line cleared its variant: the line then paid 450.00 instead of 100.00."""

import dataclasses
import io

from django.http import HttpRequest  # django-axes: a login names its request
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from approvals.forms import LineForm, line_formset
from claims import roster
from claims.inputs import LineInput
from claims.line_fields import LINE_FIELDS, LINE_FIELDS_BY_NAME
from claims.models import Claim
from claims.services import create_claim as create_claim_service

from .api_support import create_claim, error, login, ok
from .conftest import DEMO_PASSWORD, claim_data, line, resident_id

TYPED_INPUT = [field.name for field in dataclasses.fields(LineInput)]
REQUIRED = {field.name for field in dataclasses.fields(LineInput) if field.default is dataclasses.MISSING}


def schema_component(schema: dict, ref: dict) -> dict:
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]]


def test_every_field_of_the_typed_input_is_in_the_api_schema_the_roster_and_the_form(demo, client):
    assert TYPED_INPUT == [spec.name for spec in LINE_FIELDS]

    # The API: the line component of the claim-create request body, as /api/schema/ publishes it.
    schema = APIClient().get("/api/schema/?format=json").json()
    create = schema["paths"]["/api/v1/claims/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    lines = schema_component(schema, create)["properties"]["lines"]
    line_component = schema_component(schema, lines["items"])
    assert list(line_component["properties"]) == TYPED_INPUT
    assert set(line_component["required"]) == REQUIRED
    patch = schema["paths"]["/api/v1/claims/{id}/"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema_component(schema, patch)["properties"]["lines"]["items"] == lines["items"]  # the same whole lines

    # The roster: its columns, and the template's headers ("身份证号码 id_number").
    assert [column.field for column in roster.COLUMNS] == TYPED_INPUT
    assert set(roster.REQUIRED_FIELDS) == REQUIRED
    sheet = load_workbook(io.BytesIO(roster.build_template()))[roster.SHEET_TITLE]
    assert [cell.value.rsplit(" ", 1)[-1] for cell in sheet[1]] == TYPED_INPUT

    # The web form: a field for each, and the rendered rows have them.
    assert [name for name in LineForm.base_fields if name != "existing"] == TYPED_INPUT
    assert client.login(request=HttpRequest(), username="provider_clerk", password=DEMO_PASSWORD)
    page = client.get(reverse("approvals:claim_new")).content.decode()
    for name in TYPED_INPUT:
        assert f'name="lines-0-{name}"' in page, name


def test_a_renewal_line_sent_through_the_api_is_priced_as_a_renewal_and_shown_back_whole(demo):
    clerk = login("provider_clerk")
    renewal = line(resident_id(1), "张三", variant="renewal", stated_cost="450.00", free_training=False, periods=None)
    claim = create_claim(clerk, claim_data(lines=[renewal]))
    (created,) = claim["lines"]
    assert (created["variant"], created["stated_cost"], created["amount"]) == ("renewal", "450.00", "100.00")

    # A PATCH replaces the lines; a line sent without its variant is a new certificate again.
    claim = ok(clerk.patch(f"/api/v1/claims/{claim['id']}/", {"lines": [line(resident_id(1), "张三")]}, format="json"))
    assert (claim["lines"][0]["variant"], claim["lines"][0]["amount"]) == ("", "450.00")


def test_the_api_checks_each_field_as_the_service_does_and_reports_every_problem_at_once(demo):
    clerk = login("provider_clerk")
    bad = line(resident_id(1), "张三", stated_cost="12345678901.00", free_training="maybe", periods=0, hardship_group="poor")
    del bad["training_days"]
    body = error(clerk.post("/api/v1/claims/", claim_data(lines=[bad, "not a line"], department="WL-NOPE"), format="json"), 400)
    assert body["fields"] == {
        "department": ["本地区没有代码为 WL-NOPE 的行业主管部门。"],  # the service's, with the serializer's
        "lines[0].training_days": ["必填。"],
        "lines[0].stated_cost": ["金额不能大于 9999999999.99。"],
        "lines[0].hardship_group": [
            "无效的取值“poor”，可选：low_income_rural, employment_difficulty, zero_employment_family, two_after_students。"
        ],
        "lines[0].free_training": ["须为 true 或 false。"],
        "lines[0].periods": ["申领期数须为 1 至 120 之间的整数。"],
        "lines[1]": ["每行须为一个对象。"],
    }
    assert not Claim.objects.exists()

    # In English on request, as the service's messages are.
    body = error(clerk.post("/api/v1/claims/", claim_data(lines=[bad]), format="json", HTTP_ACCEPT_LANGUAGE="en"), 400)
    assert body["fields"]["lines[0].free_training"] == ["Must be true or false."]

    # Someone who may not draft claims is told so first, whatever the body (403, not 400).
    assert error(login("hr_reviewer").post("/api/v1/claims/", claim_data(lines=[bad]), format="json"), 403)["code"] == "forbidden"


def test_a_patch_leaves_out_what_it_does_not_change_but_each_line_it_sends_is_whole(demo):
    clerk = login("provider_clerk")
    claim = create_claim(clerk, claim_data())
    partial_line = line(resident_id(1), "张三")
    del partial_line["certificate_date"]
    body = error(clerk.patch(f"/api/v1/claims/{claim['id']}/", {"lines": [partial_line]}, format="json"), 400)
    assert body["fields"] == {"lines[0].certificate_date": ["必填。"]}
    assert ok(clerk.get(f"/api/v1/claims/{claim['id']}/")) == claim

    renamed = ok(clerk.patch(f"/api/v1/claims/{claim['id']}/", {"class_name": "低压电工作业 2026 第2期"}, format="json"))
    assert renamed["class_name"] == "低压电工作业 2026 第2期"
    assert (renamed["training_start"], renamed["lines"]) == (claim["training_start"], claim["lines"])


def test_every_field_a_line_is_given_is_stored_and_shown_back_on_the_edit_form(demo):
    every = line(
        resident_id(1),
        "张三",
        variant="renewal",
        stated_cost="80.00",
        hardship_group="employment_difficulty",
        free_training=True,
        periods=2,
        target_group="veteran",
        discharge_year=2025,
        chief_technician_filed=True,
        occupation="低压电工作业",  # an alias: stored as the occupation it names, shown by its name
        certificate_issuer="浙江省应急管理厅",
    )
    claim = create_claim_service(user=demo["provider_clerk"], data=claim_data(lines=[every]))
    stored = claim.lines.select_related("trainee").get()
    parsed = {spec.name: spec.parse(every[spec.name]) for spec in LINE_FIELDS}
    shown = {spec.name: spec.stored_value(stored) for spec in LINE_FIELDS if spec.stored_as is not None}
    assert shown["occupation"] == "电工"
    # What the form shows back means what was given (the ID number is never shown).
    assert {name: LINE_FIELDS_BY_NAME[name].parse(value) for name, value in shown.items()} == {
        name: value for name, value in parsed.items() if name != "id_number"
    }

    (form,) = line_formset(claim=claim).forms
    assert {name: form.initial[name] for name in shown} == shown
    assert (
        "id_number" not in form.initial
        and form.fields["id_number"].widget.attrs["placeholder"] == stored.trainee.id_number_masked
    )
