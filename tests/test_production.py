"""Production mode: the settings the environment gives (proxy header, HSTS, the admin's path),
`check --deploy` clean with production settings, and the Procfile's web process (gunicorn,
started by honcho) serving pages from the test database with the security headers.

Settings are read once, when the process starts, so each case runs in a process of its own
with the environment production would give it."""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import global_settings
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from .conftest import PROJECT_DIR, database_url_of

VENV_BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery staple 42"

# Settings a production deployment sets (README, "Running in production").
PRODUCTION_ENV = {
    "DEBUG": "False",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "claims.example.org,127.0.0.1",
    "SECURE_SSL_REDIRECT": "True",
    "PII_HASH_KEY": secrets.token_urlsafe(32),
    "PII_ENCRYPTION_KEY": secrets.token_urlsafe(32),
}

SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
from django.urls import reverse
print(json.dumps({
    "proxy_header": settings.SECURE_PROXY_SSL_HEADER,
    "hsts_seconds": settings.SECURE_HSTS_SECONDS,
    "hsts_subdomains": settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_cookie_secure": settings.CSRF_COOKIE_SECURE,
    "admin": reverse("admin:index"),
    "notification_site_url": settings.NOTIFICATION_SITE_URL,
}))
"""


def environment(**overrides) -> dict:
    """The machine's environment (PATH, DATABASE_URL …) without this run's Django settings, plus production's."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECURE_SSL_REDIRECT", "ADMIN_URL", "BEHIND_TLS_PROXY")}
    env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="config.settings", **overrides)
    return env


def run_python(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120)


def settings_under(**overrides) -> dict:
    done = run_python(["-c", SHOW_SETTINGS], environment(**overrides))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_proxy_header_is_trusted_only_when_the_environment_says_a_proxy_is_in_front():
    # Without a proxy any client could send X-Forwarded-Proto: https and pass for a secure request.
    direct = settings_under()
    assert direct["proxy_header"] is None
    behind_proxy = settings_under(BEHIND_TLS_PROXY="True")
    assert behind_proxy["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    # HSTS for a year and secure cookies in production; the admin away from the well-known path.
    assert (direct["hsts_seconds"], direct["hsts_subdomains"]) == (365 * 24 * 3600, True)
    assert direct["session_cookie_secure"] and direct["csrf_cookie_secure"]
    assert direct["admin"] != "/admin/"


@override_settings(SECURE_SSL_REDIRECT=True)
def test_a_client_claiming_https_without_a_proxy_in_front_is_still_sent_to_https(client, settings):
    # This run's environment names no proxy (BEHIND_TLS_PROXY unset): the header is not believed.
    assert settings.SECURE_PROXY_SSL_HEADER is None
    response = client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")
    assert (response.status_code, response["Location"]) == (301, "https://testserver/accounts/login/")
    assert "Strict-Transport-Security" not in response


def test_the_admin_lives_at_the_path_the_environment_gives():
    assert settings_under(ADMIN_URL="office-7f3a/")["admin"] == "/office-7f3a/"
    refused = run_python(["-c", SHOW_SETTINGS], environment(ADMIN_URL="/admin"))
    assert refused.returncode != 0 and "ADMIN_URL must be a relative path ending in '/'" in refused.stderr


def test_the_notification_site_url_must_be_an_absolute_address():
    refused = run_python(["-c", SHOW_SETTINGS], environment(NOTIFICATION_SITE_URL="claims.example.gov.cn"))
    assert refused.returncode != 0 and "NOTIFICATION_SITE_URL must be the site's absolute address" in refused.stderr
    assert (
        settings_under(NOTIFICATION_SITE_URL="https://claims.example.gov.cn/")["notification_site_url"]
        == "https://claims.example.gov.cn"
    )


def test_check_deploy_reports_no_issue_with_production_settings():
    checked = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], environment())
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout
    # The same check fails a deployment left on plain http: it is not vacuous.
    plain_http = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], environment(SECURE_SSL_REDIRECT="False")
    )
    assert plain_http.returncode != 0 and "security.W008" in plain_http.stderr
    # Personal-data keys left to derive from SECRET_KEY: rotating it would orphan every ID number.
    derived = environment()
    del derived["PII_HASH_KEY"], derived["PII_ENCRYPTION_KEY"]
    derived_keys = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], derived)
    assert derived_keys.returncode != 0 and "claims.W001" in derived_keys.stderr


def test_the_procfile_lists_web_worker_and_beat():
    checked = subprocess.run(
        [str(VENV_BIN / "honcho"), "check"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert "web, worker, beat" in checked.stderr + checked.stdout


class HonchoWeb:
    """`honcho start web` (the Procfile's gunicorn line) on a free port; its output read line by line."""

    def __init__(self, env: dict):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**env, "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", "WEB_CONCURRENCY": "1"}
        self.process = subprocess.Popen(
            [str(VENV_BIN / "honcho"), "start", "--port", str(self.port), "web"],
            cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # its own process group: stopped whole at the end
        )  # fmt: skip
        self.lines: list[str] = []
        self.listening = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)
            if "Listening at:" in line:
                self.listening.set()
        self.listening.set()  # the output ended: it will not listen

    def get(self, path: str, **headers) -> tuple[int, dict, str]:
        return self.open(
            urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers={"Host": "claims.example.org", **headers})
        )

    def post_json(self, path: str, data: dict) -> tuple[int, dict, str]:
        headers = {"Host": "claims.example.org", "X-Forwarded-Proto": "https", "Content-Type": "application/json"}
        return self.open(urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", json.dumps(data).encode(), headers))

    def open(self, request) -> tuple[int, dict, str]:
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as answer:
            return answer.code, dict(answer.headers), answer.read().decode()

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.postgres
def test_gunicorn_from_the_procfile_serves_the_app_with_its_security_headers(transactional_db, demo):
    env = environment(
        DATABASE_URL=database_url_of(connection.settings_dict),
        BEHIND_TLS_PROXY="True",
        ADMIN_URL="office-7f3a/",
        BIND="127.0.0.1",
    )
    reviewer = demo["dept_reviewer"]
    with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):  # the tests' fast hasher is not production's
        reviewer.set_password(PASSWORD)
    reviewer.save(update_fields=["password"])
    web = HonchoWeb(env)
    try:
        assert web.listening.wait(timeout=60), "".join(web.lines)
        assert web.process.poll() is None, "".join(web.lines)
        # Through the TLS proxy (X-Forwarded-Proto: https): the login page, with HSTS and the CSP.
        status, headers, body = web.get("/accounts/login/", **{"X-Forwarded-Proto": "https"})
        assert status == 200, body
        assert 'name="username"' in body
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert (headers["X-Frame-Options"], headers["X-Content-Type-Options"]) == ("DENY", "nosniff")
        # Plain http is sent to https.
        status, headers, _ = web.get("/accounts/login/")
        assert (status, headers["Location"]) == (301, "https://claims.example.org/accounts/login/")
        # The admin answers at its configured path only.
        status, headers, _ = web.get("/office-7f3a/", **{"X-Forwarded-Proto": "https"})
        assert (status, headers["Location"]) == (302, "/office-7f3a/login/?next=/office-7f3a/")
        assert web.get("/admin/", **{"X-Forwarded-Proto": "https"})[0] == 404
        # The API reads and writes the test database through gunicorn's worker: a token login,
        # then the departments the reviewer may see.
        status, _, body = web.post_json("/api/v1/auth/token/", {"username": "dept_reviewer", "password": PASSWORD})
        assert status == 200, body
        token = json.loads(body)["token"]
        status, _, body = web.get("/api/v1/departments/", Authorization=f"Token {token}", **{"X-Forwarded-Proto": "https"})
        assert status == 200, body
        assert [department["code"] for department in json.loads(body)["results"]] == ["WL-YJJ"]
    finally:
        web.stop()
