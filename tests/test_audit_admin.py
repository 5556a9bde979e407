"""Changes made in the Django admin (users, groups, their permissions, passwords) land in the
ledger too, with the administrator's reason; what the admin cannot record, it does not offer."""

import datetime
import io
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.http import HttpRequest  # django-axes: a login names its request
from django.test import Client
from django.urls import NoReverseMatch, URLResolver, reverse
from django.utils import timezone

from audit.admin import CHANGE_REASON, AuditedAdminMixin, ReasonedAdminMixin
from audit.models import AuditEvent
from audit.selectors import verify_chain
from claims.bounds import TEXT_MAX_LENGTH
from claims.services import create_claim

from .conftest import DEMO_PASSWORD, claim_data, line


def admin_client(client, demo):
    assert client.login(request=HttpRequest(), username="admin", password=DEMO_PASSWORD)
    return client


def test_creating_a_group_with_permissions_in_the_admin_is_recorded(client, demo):
    admin = admin_client(client, demo)
    view_claim = Permission.objects.get(codename="view_claim")
    reason = "市局稽查组成立（温人社〔2026〕12号），只读申领"
    response = admin.post(
        reverse("admin:auth_group_add"), {"name": "inspectors", "permissions": [view_claim.pk], CHANGE_REASON: reason}
    )
    assert response.status_code == 302, response.content[:500]
    group = Group.objects.get(name="inspectors")
    created = AuditEvent.objects.get(action="group.created", object_id=str(group.pk))
    assert created.actor_username == "admin" and created.detail["via"] == "admin"
    relations = AuditEvent.objects.get(action="group.relations_changed", object_id=str(group.pk))
    assert relations.detail["before"] == {"permissions": []}
    assert relations.detail["after"]["permissions"] == [str(view_claim)]
    assert created.reason == relations.reason == reason
    assert verify_chain()["ok"]


def test_changing_a_users_groups_in_the_admin_is_recorded_with_before_and_after(client, demo):
    admin = admin_client(client, demo)
    auditor = demo["auditor"]
    before_groups = sorted(group.name for group in auditor.groups.all())
    finance = Group.objects.get(name="finance_officer")
    joined = timezone.localtime(auditor.date_joined)
    response = admin.post(
        reverse("admin:auth_user_change", args=[auditor.pk]),
        {
            "username": auditor.username,
            "first_name": auditor.first_name,
            "last_name": "changed",
            "email": auditor.email,
            "is_active": "on",
            "groups": [group.pk for group in auditor.groups.all()] + [finance.pk],
            "date_joined_0": joined.date().isoformat(),
            "date_joined_1": joined.time().strftime("%H:%M:%S"),
            "initial-date_joined_0": joined.date().isoformat(),
            "initial-date_joined_1": joined.time().strftime("%H:%M:%S"),
            CHANGE_REASON: "兼任财务复核（局务会决定）；更正姓氏",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    updated = AuditEvent.objects.get(action="user.updated", object_id=str(auditor.pk), detail__via="admin")
    assert updated.detail["changed"]["last_name"] == {"before": "", "after": "changed"}
    relations = AuditEvent.objects.get(action="user.relations_changed", object_id=str(auditor.pk))
    assert relations.detail["before"]["groups"] == before_groups
    assert relations.detail["after"]["groups"] == sorted(before_groups + ["finance_officer"])
    assert updated.reason == relations.reason == "兼任财务复核（局务会决定）；更正姓氏"
    # No password or its hash in the ledger.
    assert "pbkdf2" not in updated.payload and "md5$" not in updated.payload


def test_a_change_in_the_admin_asks_why_and_without_a_valid_reason_saves_and_records_nothing(client, demo):
    """The add and change forms end with a required reason, in a fieldset of its own (the add-user
    form too, which has fieldsets of its own). Without one, or with one too long or holding a
    character no text may hold, the form comes back with the error on that field alone, nothing
    saved, nothing recorded. With one, the change is saved and its entries keep it."""
    from claims.models import Jurisdiction
    from workflow.models import StepDeadline, WorkingDayOverride

    admin = admin_client(client, demo)
    group = Group.objects.create(name="inspectors")
    wl = Jurisdiction.objects.get(code="WL")
    password = "An0ther-Secret-2026!"
    pages = {
        reverse("admin:auth_user_add"): {
            "username": "newcomer",
            "password1": password,
            "password2": password,
            "usable_password": "true",
        },
        reverse("admin:auth_group_change", args=[group.pk]): {"name": "renamed"},
        reverse("admin:claim_workflow_workingdayoverride_add"): {"date": "2031-05-03", "is_working": "on", "reason": "调休上班"},
        reverse("admin:claim_workflow_stepdeadline_add"): {"kind": "department_review", "working_days": "7"},
        reverse("admin:claims_jurisdiction_change", args=[wl.pk]): {
            "hr_head_threshold": str(wl.hr_head_threshold),
            "certificate_check_mode": wl.certificate_check_mode,
            "class_filing_days_ahead": wl.class_filing_days_ahead,
            "attendance_minimum_percent": 85,
        },
    }
    start = ledger_head()
    for url, form in pages.items():
        fieldsets = admin.get(url).context["adminform"].fieldsets
        assert fieldsets[-1][1]["fields"] == [CHANGE_REASON], url
        assert all(CHANGE_REASON not in options["fields"] for _name, options in fieldsets[:-1]), url
        for reason in (None, "  ", "x" * (TEXT_MAX_LENGTH + 1), "退回‮重审"):
            refused = admin.post(url, form if reason is None else {**form, CHANGE_REASON: reason})
            assert refused.status_code == 200, (url, reason)
            assert list(refused.context["adminform"].form.errors) == [CHANGE_REASON], (url, reason)
    assert ledger_head() == start
    assert not get_user_model().objects.filter(username="newcomer").exists()
    assert Group.objects.get(pk=group.pk).name == "inspectors"
    assert not WorkingDayOverride.objects.exists() and not StepDeadline.objects.exists()
    assert Jurisdiction.objects.get(pk=wl.pk).attendance_minimum_percent == 80

    reasons = {url: f"理由 {n}" for n, url in enumerate(pages)}
    for url, form in pages.items():
        assert admin.post(url, {**form, CHANGE_REASON: reasons[url]}).status_code == 302, url
    newcomer = get_user_model().objects.get(username="newcomer")
    recorded = {(entry.action, entry.reason) for entry in AuditEvent.objects.filter(seq__gt=start)}
    assert recorded == {
        ("user.created", reasons[reverse("admin:auth_user_add")]),
        ("group.updated", reasons[reverse("admin:auth_group_change", args=[group.pk])]),
        ("working_day.created", reasons[reverse("admin:claim_workflow_workingdayoverride_add")]),
        ("deadline.created", reasons[reverse("admin:claim_workflow_stepdeadline_add")]),
        ("jurisdiction.updated", reasons[reverse("admin:claims_jurisdiction_change", args=[wl.pk])]),
    }
    assert newcomer.check_password(password)
    english = Client()
    english.force_login(demo["admin"])
    english.cookies["django_language"] = "en"
    assert "Reason for the change" in english.get(reverse("admin:auth_group_add")).content.decode()


def test_deleting_a_group_in_the_admin_asks_why_and_is_recorded_with_it(client, demo):
    """The confirmation page asks the reason; confirmed without one, it is asked again with the
    error, nothing deleted, nothing recorded."""
    admin = admin_client(client, demo)
    group = Group.objects.create(name="temporary")
    page = reverse("admin:auth_group_delete", args=[group.pk])
    assert f'name="{CHANGE_REASON}"' in admin.get(page).content.decode()
    start = ledger_head()
    for missing in ({}, {CHANGE_REASON: "   "}):
        refused = admin.post(page, {"post": "yes", **missing})
        assert refused.status_code == 200 and refused.context["change_reason"].errors
        assert f'name="{CHANGE_REASON}"' in refused.content.decode()
        assert Group.objects.filter(pk=group.pk).exists() and ledger_head() == start

    response = admin.post(page, {"post": "yes", CHANGE_REASON: "临时组，用毕撤销"})
    assert response.status_code == 302
    assert not Group.objects.filter(pk=group.pk).exists()
    entry = AuditEvent.objects.get(action="group.deleted", object_id=str(group.pk))
    assert entry.detail["fields"]["name"] == "temporary" and entry.reason == "临时组，用毕撤销"


def test_the_ledger_in_the_admin_is_read_only_and_filtered_by_action_label(client, demo):
    admin = admin_client(client, demo)
    body = admin.get(reverse("admin:audit_auditevent_changelist")).content.decode()
    assert '<a href="?action=user.created">新建用户 (user.created)</a>' in body
    filtered = admin.get(reverse("admin:audit_auditevent_changelist"), {"action": "user.created"})
    assert filtered.status_code == 200
    assert filtered.context["cl"].result_count == AuditEvent.objects.filter(action="user.created").count() > 0
    event = AuditEvent.objects.order_by("seq").first()
    assert admin.post(reverse("admin:audit_auditevent_change", args=[event.pk]), {"reason": "changed"}).status_code == 403


def test_the_administrator_sets_a_jurisdictions_settings_in_the_admin_and_the_ledger_keeps_before_and_after(client, demo):
    """温岭 starts publishing its approved claims (公示) from 1 January 2027 and raises its attendance
    minimum to 85%: the administrator sets both on the jurisdiction's admin page. A minimum of 150%
    is refused, nothing saved. Its code and name are not changed there; no one adds or deletes one."""
    from claims.models import Jurisdiction

    admin = admin_client(client, demo)
    wl = Jurisdiction.objects.get(code="WL")
    url = reverse("admin:claims_jurisdiction_change", args=[wl.pk])
    page = admin.get(url).content.decode()
    assert 'name="public_notice_from"' in page and 'name="attendance_minimum_percent"' in page and 'name="code"' not in page
    form = {
        "hr_head_threshold": str(wl.hr_head_threshold),
        "certificate_check_mode": wl.certificate_check_mode,
        "class_filing_days_ahead": wl.class_filing_days_ahead,
        "class_filing_from": wl.class_filing_from.isoformat() if wl.class_filing_from else "",
        "attendance_minimum_percent": 150,
        "public_notice_from": "2027-01-01",
        "name": "改名",
        CHANGE_REASON: "市政府令：2027 年起公示核准的申领",
    }
    refused = admin.post(url, form)
    assert refused.status_code == 200 and "须在 1 到 100 之间" in refused.content.decode()
    wl.refresh_from_db()
    assert wl.public_notice_from is None and wl.attendance_minimum_percent == 80
    assert admin.post(url, {**form, "attendance_minimum_percent": 85}).status_code == 302
    wl.refresh_from_db()
    assert wl.public_notice_from == datetime.date(2027, 1, 1) and wl.attendance_minimum_percent == 85
    assert wl.name == "温岭市"
    entry = AuditEvent.objects.filter(action="jurisdiction.updated", object_id=str(wl.pk)).latest("seq")
    assert entry.actor_username == "admin"
    assert entry.detail["before"] == {"attendance_minimum_percent": 80, "public_notice_from": None}
    assert entry.detail["after"] == {"attendance_minimum_percent": 85, "public_notice_from": "2027-01-01"}
    assert entry.reason == "市政府令：2027 年起公示核准的申领"
    assert admin.get(reverse("admin:claims_jurisdiction_add")).status_code == 403
    assert verify_chain()["ok"]


# --------------------------------------------------------------------------- every writing page of the admin


def ledger_head() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def test_an_administrator_setting_someones_password_in_the_admin_is_recorded_in_its_transaction(transactional_db, demo):
    """The administrator sets hr_head's password on her password page: whoever knows it now signs
    in, and decides claims, as the HR head. The ledger says who set it, whose and why, never the
    password or its hash; a weak one, or one set without a reason, is refused and nothing is
    recorded. The administrator's own password page is recorded the same way (no reason asked:
    it is one's own). (Committed transactions: the admin's password pages run in none of their own.)"""
    admin = admin_client(Client(), demo)
    hr_head = demo["hr_head"]
    page = reverse("admin:auth_user_password_change", args=[hr_head.pk])
    assert f'name="{CHANGE_REASON}"' in admin.get(page).content.decode()
    start = ledger_head()
    reason = "本人忘记密码，电话核实身份后重置"
    refused = admin.post(page, {"password1": "1234", "password2": "1234", "usable_password": "true", CHANGE_REASON: reason})
    assert refused.status_code == 200 and not AuditEvent.objects.filter(seq__gt=start).exists()

    new_password = "An0ther-Secret-2026!"
    form = {"password1": new_password, "password2": new_password, "usable_password": "true"}
    unexplained = admin.post(page, form)
    assert unexplained.status_code == 200 and unexplained.context["change_reason"].errors
    hr_head.refresh_from_db()
    assert not hr_head.check_password(new_password) and not AuditEvent.objects.filter(seq__gt=start).exists()

    response = admin.post(page, {**form, CHANGE_REASON: reason})
    assert response.status_code == 302, response.content[:1500]
    hr_head.refresh_from_db()
    assert hr_head.check_password(new_password)
    entry = AuditEvent.objects.get(seq__gt=start, action="user.password_set")
    assert (entry.actor_username, entry.object_id, entry.reason) == ("admin", str(hr_head.pk), reason)
    assert entry.detail["username"] == "hr_head" and entry.detail["usable"] is True
    assert hr_head.password not in entry.payload and new_password not in entry.payload

    own = admin.post(
        reverse("admin:password_change"),
        {"old_password": DEMO_PASSWORD, "new_password1": new_password, "new_password2": new_password},
    )
    assert own.status_code == 302, own.content[:1500]
    entry = AuditEvent.objects.filter(action="user.password_set").latest("seq")
    assert (entry.actor_username, entry.object_id) == ("admin", str(demo["admin"].pk))
    assert verify_chain()["ok"]


def test_a_password_set_at_the_console_is_recorded(demo):
    """The operator runs ``manage.py changepassword hr_head`` on the server: the ledger says it
    was set at the console, by which system account, and whose; a password refused (three weak
    tries) changes nothing and records nothing."""
    from django.core.management import CommandError, call_command

    hr_head = demo["hr_head"]
    start = ledger_head()
    with mock.patch("getpass.getpass", return_value="1234"), pytest.raises(CommandError):
        call_command("changepassword", "hr_head", stdout=io.StringIO(), stderr=io.StringIO())
    assert not AuditEvent.objects.filter(seq__gt=start).exists()

    new_password = "Console-Secret-2026!"
    with mock.patch("getpass.getpass", return_value=new_password):
        call_command("changepassword", "hr_head", stdout=io.StringIO())
    hr_head.refresh_from_db()
    assert hr_head.check_password(new_password)
    entry = AuditEvent.objects.get(seq__gt=start)
    assert (entry.action, entry.actor_id, entry.object_id) == ("user.password_set", None, str(hr_head.pk))
    assert entry.detail["via"] == "console" and entry.detail["username"] == "hr_head" and entry.detail["os_user"]
    assert hr_head.password not in entry.payload and new_password not in entry.payload
    assert verify_chain()["ok"]


def test_a_superuser_created_at_the_console_is_recorded(db):
    from django.core.management import call_command

    start = ledger_head()
    with mock.patch.dict("os.environ", {"DJANGO_SUPERUSER_PASSWORD": "Console-Secret-2026!"}):
        call_command("createsuperuser", "--noinput", "--username", "ops_root", "--email", "ops@example.org", stdout=io.StringIO())
    entry = AuditEvent.objects.get(seq__gt=start)
    assert (entry.action, entry.actor_id, entry.detail["username"]) == ("user.created", None, "ops_root")
    assert entry.detail["via"] == "console" and entry.detail["is_superuser"] is True and entry.detail["os_user"]
    assert "Console-Secret-2026!" not in entry.payload


@pytest.mark.parametrize("kind", ["user", "group", "working_day", "deadline"])
def test_the_admins_bulk_delete_is_recorded_for_each_row(transactional_db, demo, kind):
    """The changelist's "delete selected" runs outside a transaction (Django wraps only the change
    and delete pages in one): each deleted row gets its entry, the deletions and entries in one
    transaction, instead of a server error. Its confirmation asks the reason: confirmed without
    one, it is asked again, nothing deleted; with one, each row's entry keeps it."""
    from claims.models import Jurisdiction
    from workflow.models import StepDeadline, WorkingDayOverride

    wl = Jurisdiction.objects.get(code="WL")
    rows = {
        "user": lambda: get_user_model().objects.create_user("leaver", password=None),
        "group": lambda: Group.objects.create(name="temporary-bulk"),
        "working_day": lambda: WorkingDayOverride.objects.create(
            date=datetime.date(2031, 5, 3), is_working=True, jurisdiction=wl, reason="调休上班"
        ),
        "deadline": lambda: StepDeadline.objects.create(kind="department_review", working_days=7, jurisdiction=wl),
    }
    row, other = rows[kind](), None
    if kind == "working_day":
        other = WorkingDayOverride.objects.create(
            date=datetime.date(2031, 5, 4), is_working=True, jurisdiction=wl, reason="调休上班"
        )
    selected = [row.pk] + ([other.pk] if other else [])
    admin = admin_client(Client(raise_request_exception=False), demo)
    changelist = reverse(f"admin:{row._meta.app_label}_{row._meta.model_name}_changelist")
    asked = admin.post(changelist, {"action": "delete_selected", "_selected_action": selected})
    assert asked.status_code == 200 and f'name="{CHANGE_REASON}"' in asked.content.decode()
    start = ledger_head()
    confirmed = {"action": "delete_selected", "_selected_action": selected, "post": "yes"}
    refused = admin.post(changelist, confirmed)
    assert refused.status_code == 200 and refused.context["change_reason"].errors
    assert f'name="{CHANGE_REASON}"' in refused.content.decode()
    assert type(row).objects.filter(pk__in=selected).count() == len(selected) and ledger_head() == start

    response = admin.post(changelist, {**confirmed, CHANGE_REASON: "误建，撤销"})
    assert response.status_code == 302, f"bulk delete answered {response.status_code}"
    assert not type(row).objects.filter(pk__in=selected).exists()
    entries = AuditEvent.objects.filter(
        action=f"{kind}.deleted", object_id__in=[str(pk) for pk in selected], actor_username="admin"
    )
    assert sorted(entries.values_list("reason", flat=True)) == ["误建，撤销"] * len(selected)


@pytest.mark.parametrize(
    "page", ["admin:authtoken_tokenproxy_add", "admin:accounts_apitoken_add", "admin:accounts_apitoken_changelist"]
)
def test_the_admin_mints_no_api_tokens(demo, page):
    """DRF's token admin would mint a token for anyone, its key in the list, with no entry: it is
    gone, and API tokens have no admin. Tokens come from the API's login (auth.token_issued)."""
    admin = admin_client(Client(), demo)
    with pytest.raises(NoReverseMatch):
        reverse(page)
    index = admin.get(reverse("admin:index")).content.decode()
    assert "authtoken" not in index and "apitoken" not in index


def test_a_claims_process_and_tasks_are_shown_but_never_changed_in_the_admin(demo):
    """The process's data holds the switches the flow routes on; a claim whose open task is
    deleted is stranded at its step. The administrator reads both in the admin, and neither a
    change nor a deletion is accepted."""
    from viewflow.workflow.models import Process, Task

    from workflow import selectors
    from workflow.services import submit_claim

    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=[line(stated_cost=None)]))
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    process, task = claim.process, selectors.open_task_of_claim(claim)
    admin = admin_client(Client(), demo)
    process_page = reverse("admin:viewflow_process_change", args=[process.pk])
    task_page = reverse("admin:viewflow_task_change", args=[task.pk])
    assert admin.get(process_page).status_code == 200 and admin.get(task_page).status_code == 200
    routing = Process.objects.get(pk=process.pk).data
    assert admin.post(process_page, {"data": '{"needs_hr_head": false}'}).status_code == 403
    assert admin.post(reverse("admin:viewflow_task_delete", args=[task.pk]), {"post": "yes"}).status_code == 403
    assert admin.post(reverse("admin:viewflow_process_delete", args=[process.pk]), {"post": "yes"}).status_code == 403
    assert Process.objects.get(pk=process.pk).data == routing and Task.objects.filter(pk=task.pk).exists()


# Admins whose writes reach the ledger other than through AuditedAdminMixin, each reviewed.
RECORDED_OTHERWISE = {
    "claims.Jurisdiction": "saved through claims.organisation.ensure_jurisdiction (jurisdiction.updated)",
    "axes.AccessAttempt": "a deletion lifts a lockout: audit.access.record_lockout_lifted (auth.lockout_lifted, with its reason)",
}
# Changelist actions besides "delete selected" (allowed only where deleting is: checked below).
ACTIONS_RECORDED = {
    "recheck_certificates": "workflow.certificates.recheck_claim_certificates (claim.certificates_checked)",
}
# The admin's pages besides each model's changelist, add, change, delete and history.
SITE_PAGES = {
    "index": "read only",
    "app_list": "read only",
    "autocomplete": "read only",
    "jsi18n": "read only",
    "view_on_site": "a redirect",
    "login": "recorded: auth.login",
    "logout": "recorded: auth.logout",
    "password_change": "recorded: user.password_set (config/admin_site.py); one's own, so no reason asked",
    "password_change_done": "read only",
    "auth_user_password_change": "recorded with its reason: user.password_set (workflow/admin.py)",
}


def admin_page_names(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from admin_page_names(pattern.url_patterns)
        elif pattern.name:
            yield pattern.name


def test_every_write_the_admin_offers_is_recorded_or_refused(rf):
    """A model registered in the admin (ours, Django's, a library's) may be added, changed or
    deleted there only through an audited admin, whose changes the ledger records; any other is
    read only. A changelist action or an extra page that writes must be one reviewed here. A new
    registration, action or page fails until it is recorded or made read only."""
    request = rf.get("/")
    request.user = get_user_model()(is_superuser=True, is_staff=True, is_active=True)
    writable_unrecorded, unexplained, unreviewed_actions = [], [], []
    standard_pages = {"index", "app_list"}
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        name = f"{label} ({type(model_admin).__module__}.{type(model_admin).__name__})"
        writes = [verb for verb in ("add", "change", "delete") if getattr(model_admin, f"has_{verb}_permission")(request)]
        if writes and not isinstance(model_admin, AuditedAdminMixin) and label not in RECORDED_OTHERWISE:
            writable_unrecorded.append(f"{name}: {writes}")
        # Whatever writes asks why: its forms end with the reason, its delete pages ask it.
        if writes and not isinstance(model_admin, ReasonedAdminMixin):
            unexplained.append(f"{name}: {writes}")
        for verb, obj in (("add", None), ("change", model())):
            if verb in writes and CHANGE_REASON not in model_admin.get_form(request, obj, change=obj is not None).base_fields:
                unexplained.append(f"{name}: its {verb} form")
        actions = set(model_admin.get_actions(request)) - {"delete_selected"}
        unreviewed_actions += [f"{label}: {name}" for name in actions - set(ACTIONS_RECORDED)]
        opts = model._meta
        standard_pages |= {
            f"{opts.app_label}_{opts.model_name}_{page}" for page in ("changelist", "add", "change", "delete", "history")
        }
    unreviewed_pages = sorted(set(admin_page_names(admin.site.get_urls())) - standard_pages - set(SITE_PAGES))
    assert not writable_unrecorded, "admins that write without a ledger entry:\n" + "\n".join(writable_unrecorded)
    assert not unexplained, "admins that write without asking the reason:\n" + "\n".join(unexplained)
    assert not unreviewed_actions, "changelist actions not reviewed for the ledger:\n" + "\n".join(unreviewed_actions)
    assert not unreviewed_pages, "admin pages not reviewed for the ledger:\n" + "\n".join(unreviewed_pages)
