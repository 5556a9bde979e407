"""Helpers shared by the API tests (tests/test_api_*.py): real token logins, no forced authentication."""

import datetime

from rest_framework.test import APIClient

from .conftest import DEMO_PASSWORD


def login(username: str, password: str = DEMO_PASSWORD) -> APIClient:
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def token_of(username: str) -> str:
    """A new token of the user as an Authorization header ("Token <key>"), replacing any earlier one
    as a login does, but without a test client: its requests turn Django's connection-closing
    signals back on, which the schemathesis test keeps off (tests/test_api_schemathesis.py)."""
    from django.contrib.auth import get_user_model

    from accounts.tokens import issue_token

    issued, _revoked = issue_token(get_user_model().objects.get(username=username))
    return f"Token {issued.key}"


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.content.decode())
    return response.json()


def error(response, status: int) -> dict:
    """The body of an error response, checked for the one error shape of the API."""
    assert response.status_code == status, (response.status_code, response.content.decode())
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert body["error"]["message"], body
    return body["error"]


def create_claim(client: APIClient, data: dict) -> dict:
    return ok(client.post("/api/v1/claims/", data, format="json"), 201)


def submit(client: APIClient, claim_id: int) -> dict:
    return ok(client.post(f"/api/v1/claims/{claim_id}/submit/"))


def tasks(client: APIClient) -> list[dict]:
    return ok(client.get("/api/v1/tasks/"))["results"]


def only_task(client: APIClient) -> dict:
    found = tasks(client)
    assert len(found) == 1, found
    return found[0]


def decide(client: APIClient, task_id: int, **body):
    return client.post(f"/api/v1/tasks/{task_id}/decide/", body, format="json")


def working_days_between(start: datetime.date, end: datetime.date) -> int:
    """Monday-to-Friday days after ``start`` up to and including ``end``."""
    return sum(1 for n in range(1, (end - start).days + 1) if (start + datetime.timedelta(days=n)).weekday() < 5)
