"""Accounts and sign-in, attacked: login throttling and lockout (django-axes), API tokens that
expire and are revoked, password rules, session timeouts and revocation, and the password asked
again before releasing a payment batch or exporting the ledger."""

import datetime
import io
import secrets

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.admin import CHANGE_REASON
from audit.models import AuditEvent
from claims import roles
from claims.models import Jurisdiction
from claims.organisation import ensure_staff_user
from payments.models import BatchStatus
from workflow.disbursement import build_batch

from .api_support import error, login, ok
from .audit_support import audit_key  # noqa: F401 - fixture
from .conftest import DEMO_PASSWORD
from .payments_support import approved_claim

LOGIN = "/accounts/login/"
TOKEN = "/api/v1/auth/token/"


def entries(action: str):
    return AuditEvent.objects.filter(action=action)


def later(**delta):
    """The clock moved on by ``delta`` (standing still there)."""
    return time_machine.travel(timezone.now() + datetime.timedelta(**delta), tick=False)


def page_login(client: Client, username: str, password: str = DEMO_PASSWORD):
    return client.post(LOGIN, {"username": username, "password": password})


def token_login(client: APIClient, username: str, password: str = DEMO_PASSWORD):
    return client.post(TOKEN, {"username": username, "password": password}, format="json")


def token_table_values(user) -> list[str]:
    """Every text the token table keeps for the user."""
    return [value for row in ApiToken.objects.filter(user=user).values() for value in row.values() if isinstance(value, str)]


def api_of(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


# --------------------------------------------------------------------------- login throttling


def test_thirty_wrong_passwords_on_the_login_page_lock_the_account_and_the_right_one_is_then_refused(demo):
    browser = Client(REMOTE_ADDR="10.1.1.1")
    statuses = [page_login(browser, "dept_reviewer", f"wrong-{n}").status_code for n in range(30)]
    limit = settings.LOGIN_FAILURE_LIMIT
    assert statuses[: limit - 1] == [200] * (limit - 1)  # the login page again, "wrong username or password"
    assert set(statuses[limit - 1 :]) == {429}

    response = page_login(browser, "dept_reviewer")
    assert response.status_code == 429 and not signed_in(browser)
    page = response.content.decode()
    assert 'id="locked-out"' in page and "登录失败次数过多" in page and f"{settings.LOGIN_LOCKOUT_MINUTES} 分钟" in page

    # The lockout is one ledger entry, the failures none (anyone could grow the ledger with them).
    lockout = entries("auth.locked_out").get()
    assert lockout.detail == {"username": "dept_reviewer", "ip": "10.1.1.1", "failures": limit}
    assert (lockout.object_type, lockout.object_id) == ("auth.user", str(demo["dept_reviewer"].pk))
    assert not entries("auth.login_failed").exists() and not entries("auth.login").exists()


def test_the_lockout_page_speaks_english_to_who_chose_it(demo):
    browser = Client(REMOTE_ADDR="10.1.1.9")
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        page_login(browser, "dept_reviewer", f"wrong-{n}")
    page = page_login(browser, "dept_reviewer").content.decode()
    assert (
        f"Too many failed logins: this account or this address is locked for now. Try again in {settings.LOGIN_LOCKOUT_MINUTES} minutes"
        in page
    )


def test_thirty_wrong_passwords_on_the_token_endpoint_lock_out_with_a_json_429(demo):
    api = APIClient(REMOTE_ADDR="10.1.1.2")
    statuses = [token_login(api, "hr_reviewer", f"wrong-{n}").status_code for n in range(30)]
    limit = settings.LOGIN_FAILURE_LIMIT
    assert statuses[: limit - 1] == [400] * (limit - 1) and set(statuses[limit - 1 :]) == {429}

    refused = error(token_login(api, "hr_reviewer"), 429)
    assert refused["code"] == "locked_out" and "锁定" in refused["message"]
    assert not ApiToken.objects.filter(user=demo["hr_reviewer"]).exists()
    assert entries("auth.locked_out").count() == 1 and not entries("auth.token_issued").exists()


def test_the_address_is_locked_out_for_every_account_and_the_account_from_every_address(demo):
    attacker = Client(REMOTE_ADDR="10.6.6.6")
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        page_login(attacker, "finance_officer", f"guess-{n}")

    # Another account from the same address: refused, though its password is right.
    assert page_login(attacker, "auditor").status_code == 429 and not signed_in(attacker)
    assert error(token_login(APIClient(REMOTE_ADDR="10.6.6.6"), "auditor"), 429)["code"] == "locked_out"
    # The attacked account from another address: refused too.
    assert page_login(Client(REMOTE_ADDR="10.7.7.7"), "finance_officer").status_code == 429
    # Another account from another address is not concerned.
    elsewhere = Client(REMOTE_ADDR="10.8.8.8")
    assert page_login(elsewhere, "auditor").status_code == 302 and signed_in(elsewhere)
    # Still one lockout in the ledger: refused attempts are neither counted nor recorded.
    assert entries("auth.locked_out").count() == 1


def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(demo, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    attacker = Client(REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")  # the first is the client's to write
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        page_login(attacker, f"nobody{n}", "whatever-it-is")
    assert page_login(attacker, "auditor").status_code == 429
    neighbour = Client(REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="203.0.113.8")  # same proxy, another client
    assert page_login(neighbour, "auditor").status_code == 302
    assert entries("auth.locked_out").get().detail["ip"] == "203.0.113.7"


def test_an_unknown_username_counts_against_the_address(demo):
    api = APIClient(REMOTE_ADDR="10.2.2.2")
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        token_login(api, f"nobody{n}", "whatever-it-is")
    assert error(token_login(api, "provider_clerk"), 429)["code"] == "locked_out"
    lockout = entries("auth.locked_out").get()
    assert lockout.detail["ip"] == "10.2.2.2" and lockout.object_id == ""


@pytest.mark.parametrize("door", ["page", "token", "admin"])
def test_a_username_too_long_for_any_account_is_a_counted_failure_not_a_server_error(demo, door):
    """No account's name is longer than the user model allows; such a name must still fail like
    any other (counted against the address), not crash the counting of failures (a 500 that
    also left the attempt uncounted, so the address never locked out)."""
    address = "10.2.2.3"
    browser = Client(REMOTE_ADDR=address, raise_request_exception=False)
    api = APIClient(REMOTE_ADDR=address, raise_request_exception=False)
    admin_login = reverse("admin:login")
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        name = f"{n}-" + "x" * 300
        if door == "page":
            assert page_login(browser, name, "whatever-it-is").status_code in (200, 429)
        elif door == "token":
            assert token_login(api, name, "whatever-it-is").status_code in (400, 429)
        else:
            assert browser.post(admin_login, {"username": name, "password": "whatever-it-is"}).status_code in (200, 429)
    assert page_login(Client(REMOTE_ADDR=address), "auditor").status_code == 429
    assert entries("auth.locked_out").get().detail["ip"] == address


def test_a_username_typed_in_full_width_letters_is_the_same_account_on_the_page_and_through_the_api(demo):
    """A Chinese input method in full-width mode types ｄｅｐｔ＿ｒｅｖｉｅｗｅｒ: the login page reads it
    as dept_reviewer (Unicode NFKC, as the user model does), so the API reads it so too, and its
    failures count against that one account whichever door they knock at."""
    full_width = "ｈｒ＿ｒｅｖｉｅｗｅｒ"
    assert token_login(APIClient(), full_width).status_code == 200
    assert page_login(Client(), full_width).status_code == 302
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        address = f"10.5.{n}.1"  # every failure from another address: only the account can lock
        if n % 2:
            token_login(APIClient(REMOTE_ADDR=address), full_width, f"wrong-{n}")
        else:
            page_login(Client(REMOTE_ADDR=address), full_width, f"wrong-{n}")
    assert error(token_login(APIClient(REMOTE_ADDR="10.5.99.1"), "hr_reviewer"), 429)["code"] == "locked_out"
    assert entries("auth.locked_out").get().detail["username"] == "hr_reviewer"


def test_the_lockout_ends_after_its_time(demo):
    browser = Client(REMOTE_ADDR="10.3.3.3")
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        page_login(browser, "hr_head", f"wrong-{n}")
    with later(minutes=settings.LOGIN_LOCKOUT_MINUTES - 1):
        assert page_login(browser, "hr_head").status_code == 429
    with later(minutes=settings.LOGIN_LOCKOUT_MINUTES + 1):
        assert page_login(browser, "hr_head").status_code == 302


def test_an_administrator_lifts_a_lockout_with_axes_reset_or_in_the_admin(demo):
    browser = Client(REMOTE_ADDR="10.4.4.4")
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        page_login(browser, "provider_clerk", f"wrong-{n}")
    assert page_login(browser, "provider_clerk").status_code == 429
    call_command("axes_reset_username", "provider_clerk")
    assert page_login(browser, "provider_clerk").status_code == 302

    for n in range(settings.LOGIN_FAILURE_LIMIT):
        page_login(Client(REMOTE_ADDR="10.4.4.5"), "provider2_clerk", f"wrong-{n}")
    assert page_login(Client(REMOTE_ADDR="10.4.4.6"), "provider2_clerk").status_code == 429
    admin = Client()
    admin.force_login(demo["admin"])
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert "provider2_clerk" in admin.get(changelist).content.decode()
    attempts = list(AccessAttempt.objects.filter(username="provider2_clerk").values_list("pk", flat=True))
    confirmed = {"action": "delete_selected", "_selected_action": attempts, "post": "yes"}
    # Deleting asks why: without a reason the confirmation comes back, nothing lifted.
    refused = admin.post(changelist, confirmed)
    assert refused.status_code == 200 and refused.context["change_reason"].errors
    assert AccessAttempt.objects.filter(pk__in=attempts).count() == len(attempts)
    assert not entries("auth.lockout_lifted").exists()
    response = admin.post(changelist, {**confirmed, CHANGE_REASON: "本人来电，核实身份后解锁"})
    assert response.status_code == 302 and not AccessAttempt.objects.filter(username="provider2_clerk").exists()
    lifted = entries("auth.lockout_lifted").get()
    assert (lifted.actor, lifted.detail["username"], lifted.detail["address"]) == (demo["admin"], "provider2_clerk", "10.4.4.5")
    assert lifted.reason == "本人来电，核实身份后解锁"
    assert page_login(Client(REMOTE_ADDR="10.4.4.6"), "provider2_clerk").status_code == 302


# --------------------------------------------------------------------------- API tokens


def test_a_token_expires_after_its_hours(demo):
    api = login("provider_clerk")
    with later(hours=settings.API_TOKEN_HOURS - 1):
        ok(api.get("/api/v1/departments/"))
    with later(hours=settings.API_TOKEN_HOURS, minutes=1):
        assert error(api.get("/api/v1/departments/"), 401)["code"] == "token_expired"
    assert not ApiToken.objects.filter(user=demo["provider_clerk"]).exists()


def rows_holding(text: str) -> list[str]:
    """The tables with a row whose text holds ``text``: what a reader of the database (or of a
    backup) would find by searching it."""
    quote = connection.ops.quote_name
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(include_views=False):
            cursor.execute(f"SELECT 1 FROM {quote(table)} AS row WHERE strpos(row::text, %s) > 0 LIMIT 1", [text])
            if cursor.fetchone():
                found.append(table)
    return found


@pytest.mark.postgres  # reads every row as text, and DRF's table as PostgreSQL held it
def test_the_database_keeps_no_usable_api_key(demo):
    """Only a digest of the key is kept: the key is in the login's answer, once. Nothing stored
    authenticates; the key given out does."""
    key = ok(token_login(APIClient(), "provider_clerk"))["token"]
    assert len(key) >= 43  # 32 random bytes, URL-safe base64
    assert rows_holding(key) == []
    stored = token_table_values(demo["provider_clerk"])
    assert stored
    for value in stored:
        assert error(api_of(value).get("/api/v1/departments/"), 401)["code"] == "authentication_failed"
    ok(api_of(key).get("/api/v1/departments/"))


@pytest.mark.postgres  # reads every row as text, and DRF's table as PostgreSQL held it
def test_drf_tokens_issued_before_the_digests_keep_working_until_they_expire(transactional_db, demo):
    """accounts/0002 hashes the keys of DRF's token table (plain text) into ApiToken, each with
    its issue time, and drops DRF's table: a client signed in before it keeps its token, no key
    is left in the database, and an old token still expires on time."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("accounts", "0001_initial")])
    issued = {"dept_reviewer": timezone.now() - datetime.timedelta(hours=1), "hr_reviewer": timezone.now()}
    keys = {name: secrets.token_hex(20) for name in issued}  # DRF's: 20 random bytes in hex
    with connection.cursor() as cursor:
        # DRF's table as its app's migrations left it.
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp with time zone NOT NULL, "
            "user_id integer NOT NULL UNIQUE REFERENCES auth_user (id))"
        )
        for name, created in issued.items():
            cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, %s)", [keys[name], created, demo[name].pk])
    MigrationExecutor(connection).migrate(latest)

    assert "authtoken_token" not in connection.introspection.table_names()
    for name, key in keys.items():
        assert rows_holding(key) == []
        assert ApiToken.objects.get(user=demo[name]).created == issued[name]
        ok(api_of(key).get("/api/v1/departments/"))
    with later(hours=settings.API_TOKEN_HOURS - 1, minutes=1):
        assert error(api_of(keys["dept_reviewer"]).get("/api/v1/departments/"), 401)["code"] == "token_expired"
        ok(api_of(keys["hr_reviewer"]).get("/api/v1/departments/"))


def test_logging_in_again_issues_a_new_token_and_the_old_one_stops_working(demo):
    first = login("provider_clerk")
    second = login("provider_clerk")
    assert first._credentials != second._credentials
    assert error(first.get("/api/v1/departments/"), 401)["code"] == "authentication_failed"
    ok(second.get("/api/v1/departments/"))
    assert entries("auth.token_issued").order_by("seq").last().detail["replaced"] == 1


def test_the_owner_revokes_the_token(demo):
    api = login("provider_clerk")
    response = api.post("/api/v1/auth/token/revoke/")
    assert response.status_code == 204
    assert error(api.get("/api/v1/departments/"), 401)["code"] == "authentication_failed"
    revoked = entries("auth.token_revoked").get()
    assert revoked.actor == demo["provider_clerk"]


@pytest.mark.parametrize("change", ["password", "deactivation"])
def test_a_password_change_or_a_deactivation_revokes_the_token(demo, change):
    api = login("dept_reviewer")
    user = get_user_model().objects.get(username="dept_reviewer")
    if change == "password":
        user.set_password("A-new-Password-2026")
    else:
        user.is_active = False
    user.save()
    assert not ApiToken.objects.filter(user=user).exists()
    assert error(api.get("/api/v1/departments/"), 401)["code"] == "authentication_failed"


# --------------------------------------------------------------------------- passwords


@pytest.mark.parametrize("weak", ["1234", "password", "123456789012", "short-1A", "dept_reviewer1"])
def test_weak_passwords_are_refused_where_a_password_is_set(demo, weak):
    with pytest.raises(ValidationError):
        ensure_staff_user(username="dept_reviewer1", password=weak, role=roles.DEPARTMENT_REVIEWER, scope_group=None)
    assert not get_user_model().objects.filter(username="dept_reviewer1").exists()
    with pytest.raises(CommandError, match="too weak"):
        call_command("seed_demo", password=weak)


@pytest.mark.parametrize("weak", ["1234", "ops_root2026", "password123"])
def test_createsuperuser_without_prompts_refuses_a_weak_password(demo, monkeypatch, weak):
    """Django's createsuperuser --noinput takes DJANGO_SUPERUSER_PASSWORD as it is, unchecked:
    a deployment script would make the most powerful account with any password."""
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", weak)
    with pytest.raises(CommandError, match="too weak"):
        call_command("createsuperuser", "--noinput", "--username", "ops_root", "--email", "ops@example.org", stdout=io.StringIO())
    assert not get_user_model().objects.filter(username="ops_root").exists()
    assert not entries("user.created").filter(detail__username="ops_root").exists()


def test_the_admin_refuses_a_weak_password(demo):
    admin = Client()
    admin.force_login(demo["admin"])
    add = reverse("admin:auth_user_add")
    reason = {CHANGE_REASON: "新入职"}
    response = admin.post(
        add, {"username": "newcomer", "password1": "password", "password2": "password", "usable_password": "true", **reason}
    )
    assert response.status_code == 200 and not get_user_model().objects.filter(username="newcomer").exists()
    assert "password2" in response.context["adminform"].form.errors
    change = reverse("admin:auth_user_password_change", args=[demo["hr_head"].pk])
    response = admin.post(change, {"password1": "1234", "password2": "1234", "usable_password": "true", **reason})
    assert response.status_code == 200 and "password2" in response.context["form"].errors
    assert get_user_model().objects.get(pk=demo["hr_head"].pk).check_password(DEMO_PASSWORD)


# --------------------------------------------------------------------------- sessions


def test_a_session_ends_after_thirty_idle_minutes(demo):
    browser = Client()
    assert page_login(browser, "hr_reviewer").status_code == 302
    inbox = reverse("approvals:inbox")
    with later(minutes=settings.SESSION_IDLE_MINUTES - 2):
        assert browser.get(inbox).status_code == 200
    with later(minutes=2 * settings.SESSION_IDLE_MINUTES - 3):  # active 28 minutes before: still in
        assert browser.get(inbox).status_code == 200
    with later(minutes=3 * settings.SESSION_IDLE_MINUTES):  # 32 idle minutes
        response = browser.get(inbox)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert not signed_in(browser)


def test_a_session_ends_twelve_hours_after_its_login_however_active(demo):
    browser = Client()
    assert page_login(browser, "hr_reviewer").status_code == 302
    inbox = reverse("approvals:inbox")
    for minutes in range(20, settings.SESSION_ABSOLUTE_HOURS * 60, 20):
        with later(minutes=minutes):
            assert browser.get(inbox).status_code == 200, minutes
    with later(hours=settings.SESSION_ABSOLUTE_HOURS, minutes=1):
        assert browser.get(inbox).status_code == 302
    assert not signed_in(browser)


def test_the_session_key_changes_at_login(demo):
    browser = Client()
    browser.get(LOGIN)
    session = browser.session
    session["before_login"] = True
    session.save()
    before = session.session_key
    browser.cookies[settings.SESSION_COOKIE_NAME] = before
    assert page_login(browser, "hr_reviewer").status_code == 302
    assert browser.session.session_key != before and not Session.objects.filter(session_key=before).exists()


@pytest.mark.parametrize("change", ["password", "deactivation"])
def test_every_session_of_a_user_ends_when_disabled_or_the_password_changes(demo, change):
    office, home = Client(), Client()
    for browser in (office, home):
        assert page_login(browser, "hr_reviewer").status_code == 302
    keys = [browser.session.session_key for browser in (office, home)]
    user = get_user_model().objects.get(username="hr_reviewer")
    if change == "password":
        user.set_password("A-new-Password-2026")
    else:
        user.is_active = False
    user.save()
    assert not Session.objects.filter(session_key__in=keys).exists()
    for browser in (office, home):
        assert browser.get(reverse("approvals:inbox")).status_code == 302


def test_a_session_that_changed_its_own_password_still_ends_when_the_account_is_disabled(demo):
    """Changing one's own password keeps one signed in under a new session key (Django's
    update_session_auth_hash); that key must be the user's too, or disabling the account later
    leaves the session in place, to come back to life if the account is enabled again."""
    browser = Client()
    assert page_login(browser, "admin").status_code == 302
    new_password = "Another-Long-Secret-2026"
    changed = browser.post(
        reverse("admin:password_change"),
        {"old_password": DEMO_PASSWORD, "new_password1": new_password, "new_password2": new_password},
    )
    assert changed.status_code == 302 and signed_in(browser)
    user = get_user_model().objects.get(username="admin")
    user.is_active = False
    user.save()
    assert not Session.objects.filter(session_key=browser.session.session_key).exists()
    user.is_active = True
    user.save()
    assert browser.get(reverse("approvals:inbox")).status_code == 302 and not signed_in(browser)


# --------------------------------------------------------------------------- re-authentication


@pytest.fixture
def built_batch(demo, celery_eager):
    approved_claim(demo, serials=(1, 2))
    return build_batch(actor=demo["finance_officer"], jurisdiction=Jurisdiction.objects.get(code="WL"))


def test_releasing_a_batch_through_the_api_needs_the_password_again_after_a_while(
    demo, built_batch, django_capture_on_commit_callbacks
):
    finance2 = login("finance_officer2")
    url = f"/api/v1/payment-batches/{built_batch.pk}/release/"
    with later(minutes=settings.REAUTH_MINUTES + 1):
        refused = error(finance2.post(url, format="json"), 403)
        assert refused["code"] == "reauthentication_required" and "password" in refused["fields"]
        assert error(finance2.post(url, {"password": "not-my-password"}, format="json"), 403)["code"] == (
            "reauthentication_required"
        )
        built_batch.refresh_from_db()
        assert built_batch.status == BatchStatus.BUILT and not entries("auth.reauthenticated").exists()
        with django_capture_on_commit_callbacks(execute=True):
            response = finance2.post(url, {"password": DEMO_PASSWORD}, format="json")
    assert response.status_code in (200, 202), response.content
    built_batch.refresh_from_db()
    assert built_batch.status == BatchStatus.RELEASED
    reauth = entries("auth.reauthenticated").get()
    assert (reauth.actor, reauth.detail["purpose"]) == (demo["finance_officer2"], "payment_batch.release_requested")


def test_releasing_a_batch_on_its_page_needs_the_password_again_after_a_while(
    demo, built_batch, django_capture_on_commit_callbacks
):
    finance2 = Client()
    assert page_login(finance2, "finance_officer2").status_code == 302
    page_url = reverse("payments:batch", args=[built_batch.pk])
    release_url = reverse("payments:batch_release", args=[built_batch.pk])
    assert 'id="id_release_password"' not in finance2.get(page_url).content.decode()  # just logged in
    with later(minutes=settings.REAUTH_MINUTES + 1):
        assert 'id="id_release_password"' in finance2.get(page_url).content.decode()
        response = finance2.post(release_url, {"confirm": "1"}, follow=True)
        assert "须再次输入您的密码" in response.content.decode()
        built_batch.refresh_from_db()
        assert built_batch.status == BatchStatus.BUILT
        with django_capture_on_commit_callbacks(execute=True):
            assert finance2.post(release_url, {"password": DEMO_PASSWORD, "confirm": "1"}).status_code == 302
    built_batch.refresh_from_db()
    assert built_batch.status == BatchStatus.RELEASED
    assert entries("auth.reauthenticated").get().detail["purpose"] == "payment_batch.release_requested"


@pytest.mark.parametrize("url", ["/audit/export/xlsx/", "/audit/export/package/"])
def test_exporting_the_ledger_needs_the_password_again_after_a_while(demo, url, audit_key):
    today = timezone.localdate().isoformat()
    data = {"query": ""} if url.endswith("xlsx/") else {"date_from": today, "date_to": today}
    auditor = Client()
    assert page_login(auditor, "auditor").status_code == 302
    with later(minutes=settings.REAUTH_MINUTES + 1):
        assert 'name="password"' in auditor.get("/audit/").content.decode()
        refused = auditor.post(url, data)
        assert refused.status_code == 302 and refused["Location"].startswith("/audit/")
        assert not entries("audit.exported").exists()
        assert auditor.post(url, {**data, "password": "not-my-password"}).status_code == 302
        assert not entries("audit.exported").exists()
        response = auditor.post(url, {**data, "password": DEMO_PASSWORD})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert entries("auth.reauthenticated").get().detail["purpose"] == "audit.exported"
    assert entries("audit.exported").count() == 1
