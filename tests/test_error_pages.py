"""The pages a browser is shown when a request is refused (400) or fails (500) are the product's
own, in the user's language, and say what became of the request; not the workflow library's
English pages (which told the user the error had been e-mailed to the administrators)."""

from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from api.errors import server_error


def assert_our_page(html: str, heading: str) -> None:
    assert f"<h1>{heading}</h1>" in html, html[:2000]
    assert "/static/css/app.css" in html and "Material" not in html


def test_a_request_of_too_many_fields_is_refused_on_our_own_page(demo, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    client = Client()
    client.force_login(demo["dept_reviewer"])
    response = client.post(reverse("approvals:inbox"), {f"field_{n}": "x" for n in range(20)})
    assert response.status_code == 400
    assert_our_page(response.content.decode(), "请求有误")
    assert "未保存任何内容" in response.content.decode()


def test_a_failure_is_shown_on_our_own_page_in_the_users_language():
    request = RequestFactory().get("/inbox/")
    assert_our_page(server_error(request).content.decode(), "服务器内部错误")
    with translation.override("en"):
        page = server_error(request).content.decode()
    assert_our_page(page, "Internal server error")
    assert "Reload the page to see whether the action was done" in page
