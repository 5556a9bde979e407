"""An id in a path is a whole number a database column holds (config/converters.py): a longer one
matches no URL, on every page and API path, and is a 404, never a server error. (A foreign key's
lookup once took it to the database as it was: SQLite refused it, a 500, found by schemathesis on
POST /api/v1/claims/{id}/lines/{line_no}/cancel-payment/.) And every "not found" says the same,
in the user's language."""

import pytest
from django.test import Client
from django.urls import reverse

from claims.bounds import ID_MAX

from .api_support import error, login

PAST = ID_MAX + 1


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/claims/{PAST}/lines/1/cancel-payment/",
        f"/api/v1/claims/1/lines/{PAST}/cancel-payment/",
        f"/api/v1/claims/{10**30}/lines/2013/cancel-payment/",
    ],
)
def test_an_id_past_what_a_column_holds_is_not_found(demo, path):
    body = error(login("hr_reviewer").post(path, {"reason_code": "E2", "reason": "重复"}, format="json"), 404)
    assert body["code"] == "not_found" and body["message"] == "未找到。"


def test_a_page_with_such_an_id_is_not_found_and_the_largest_id_is_looked_up(demo):
    client = Client()
    client.force_login(demo["hr_reviewer"])
    assert client.get(f"/claims/{PAST}/").status_code == 404
    # The largest id a column holds is a path, looked up like any other (no such claim).
    assert client.get(reverse("approvals:claim", args=[ID_MAX])).status_code == 404
    body = error(login("hr_reviewer").post(f"/api/v1/claims/{ID_MAX}/lines/1/cancel-payment/", {}, format="json"), 404)
    assert body["message"] == "未找到。"


def test_not_found_is_said_in_the_users_language(demo):
    path = f"/api/v1/claims/{ID_MAX}/lines/1/cancel-payment/"
    body = error(login("hr_reviewer").post(path, {}, format="json", HTTP_ACCEPT_LANGUAGE="en"), 404)
    assert body["message"] == "Not found."


def test_the_schema_says_path_ids_are_64_bit_whole_numbers(demo):
    schema = login("hr_reviewer").get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/claims/{id}/lines/{line_no}/cancel-payment/"]["post"]
    types = {parameter["name"]: parameter["schema"] for parameter in operation["parameters"] if parameter["in"] == "path"}
    assert types == {name: {"type": "integer", "format": "int64", "minimum": 0} for name in ("id", "line_no")}, types
