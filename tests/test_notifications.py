"""Who is told what (issue 14), through the services, without a worker: the notification and its
e-mail are written with the change (the outbox), sent after commit (here in-process: eager
Celery), retried by the sweep, gathered in a daily digest for those who chose one.

People (STORIES.md): 王磊 the provider clerk (provider_clerk), the 应急管理局 reviewer
(dept_reviewer), the HR bureau's reviewer (hr_reviewer) and head (hr_head), finance."""

import datetime
import io
import re

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from claims import roles
from claims.models import Department
from claims.services import create_claim
from notifications import services as outbox
from notifications.models import Channel, EmailState, Kind, Notification, OutboxEmail
from notifications.selectors import unread_count
from workflow import assignment, notify
from workflow.models import InboxItem
from workflow.selectors import actionable_tasks, open_task_of_claim
from workflow.services import decide_task, submit_claim
from workflow.staffing import ensure_staff_user

from .conftest import DEMO_PASSWORD, claim_data
from .payments_support import approved_claim
from .test_payment_results import csv_file, released_batch, result_rows, seq_of


class Rollback(Exception):
    pass


def kinds_of(claim) -> list[tuple[str, str]]:
    return sorted(Notification.objects.filter(claim=claim).values_list("kind", "recipient__username"))


def test_the_notification_and_its_email_are_written_with_the_change_and_sent_after_commit(
    demo, celery_eager, django_capture_on_commit_callbacks
):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            submit_claim(user=demo["provider_clerk"], claim=claim)
            # In the submission's own transaction: the notification and the e-mail to send.
            [note] = Notification.objects.filter(claim=claim)
            assert (note.kind, note.recipient.username, note.email.state) == (Kind.TASK, "dept_reviewer", EmailState.PENDING)
            assert mail.outbox == []
    note.email.refresh_from_db()
    assert note.email.state == EmailState.SENT
    [sent] = mail.outbox
    assert sent.to == [demo["dept_reviewer"].email]
    assert sent.extra_headers["Message-ID"] == note.email.message_id
    assert claim.number in sent.subject and claim.number in sent.body


@pytest.mark.parametrize(
    ("site", "link_line"), [("", None), ("https://claims.example.gov.cn", "https://claims.example.gov.cn/tasks/")]
)
def test_the_email_links_to_the_task_only_by_the_sites_full_address(
    demo, celery_eager, django_capture_on_commit_callbacks, settings, site, link_line
):
    """A mail client opens an address, not a path: with NOTIFICATION_SITE_URL unset the e-mail
    carries no link at all (the in-app notification still does)."""
    settings.NOTIFICATION_SITE_URL = site
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    with django_capture_on_commit_callbacks(execute=True):
        submit_claim(user=demo["provider_clerk"], claim=claim)
    [sent] = mail.outbox
    last_line = sent.body.rstrip().splitlines()[-1]
    if link_line is None:
        assert "/tasks/" not in sent.body and not last_line.startswith("/")
    else:
        assert last_line.startswith(link_line) and last_line.endswith("/")


def test_a_rolled_back_change_leaves_no_notification_and_no_email(demo, celery_eager, django_capture_on_commit_callbacks):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Rollback):
            with transaction.atomic():
                submit_claim(user=demo["provider_clerk"], claim=claim)
                raise Rollback
    assert callbacks == []
    assert not Notification.objects.exists() and not OutboxEmail.objects.exists()
    assert mail.outbox == []


def test_the_same_event_written_twice_tells_each_person_once(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    task = open_task_of_claim(claim)
    assert notify.notify_open_tasks(claim=claim, task=task) == 0  # the submission told them already
    assert Notification.objects.filter(claim=claim).count() == OutboxEmail.objects.count() == 1


def test_a_refused_email_is_retried_by_the_sweep_after_its_backoff(demo, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.mail_backends.RefusingBackend"
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    email = OutboxEmail.objects.get()
    assert outbox.deliver(email.pk) == EmailState.PENDING
    email.refresh_from_db()
    assert (email.attempts, "went away" in email.last_error, email.next_attempt_at > timezone.now()) == (1, True, True)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the server is back
    assert outbox.sweep_outbox() == {"uncertain": 0}  # not due yet
    assert outbox.sweep_outbox(now=email.next_attempt_at) == {"uncertain": 0, "sent": 1}
    assert len(mail.outbox) == 1
    assert outbox.sweep_outbox(now=email.next_attempt_at + datetime.timedelta(days=1)) == {"uncertain": 0}
    assert len(mail.outbox) == 1


def test_an_email_refused_every_time_ends_failed(demo, settings):
    settings.EMAIL_BACKEND = "tests.mail_backends.RefusingBackend"
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    email = OutboxEmail.objects.get()
    for _ in range(outbox.MAX_ATTEMPTS):
        email.refresh_from_db()
        outbox.sweep_outbox(now=email.next_attempt_at)
    email.refresh_from_db()
    assert (email.state, email.attempts) == (EmailState.FAILED, outbox.MAX_ATTEMPTS)
    assert Notification.objects.get(claim=claim).read_at is None  # still in the bell


def test_a_daily_digest_instead_of_immediate_email(demo, django_capture_on_commit_callbacks, celery_eager):
    reviewer = demo["dept_reviewer"]
    outbox.set_preferences(user=reviewer, channels={Kind.TASK: Channel.DIGEST})
    outbox.set_preferences(user=demo["provider_clerk"], channels={Kind.RETURNED: Channel.NONE})
    numbers = []
    with django_capture_on_commit_callbacks(execute=True):
        for serial in (1, 3):
            claim = create_claim(user=demo["provider_clerk"], data=claim_data(class_name=f"第{serial}期"))
            submit_claim(user=demo["provider_clerk"], claim=claim)
            numbers.append(claim.number)
        task = actionable_tasks(reviewer).first()
        decided = InboxItem.objects.get(task_id=task.pk).claim_number
        decide_task(user=reviewer, task_id=task.pk, decision="return", comment="补充材料")
    assert mail.outbox == []  # the reviewer's wait for the digest; the clerk wants none
    # The claim the reviewer returned no longer asks anything of her (test_notifications_settled.py).
    assert unread_count(reviewer) == 1 and unread_count(demo["provider_clerk"]) == 1

    assert outbox.send_digests() == 1
    [digest] = mail.outbox
    [waiting] = [number for number in numbers if number != decided]
    assert digest.to == [reviewer.email] and waiting in digest.body and decided not in digest.body
    # Dates as the reader writes them: 【补贴审核】2026年12月6日 通知汇总（1 条）, "- 2026年12月6日 08:30 …".
    today = timezone.localdate()
    assert f"【补贴审核】{today.year}年{today.month}月{today.day}日 通知汇总（1 条）" == digest.subject
    assert re.match(r"- \d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2} ", digest.body)
    assert outbox.send_digests() == 0  # once a day
    tomorrow = timezone.now() + datetime.timedelta(days=1)
    assert outbox.send_digests(now=tomorrow) == 0  # nothing new since
    assert len(mail.outbox) == 1


def test_final_approval_and_payment_and_a_bank_return_tell_the_providers_clerks(
    demo, django_capture_on_commit_callbacks, celery_eager, apply_result
):
    paid = approved_claim(demo, serials=(1, 2))
    returned = approved_claim(demo, serials=(3,), clerk="provider2_clerk")
    assert kinds_of(paid) == [
        ("approved", "provider_clerk"),
        ("task", "dept_reviewer"),
        ("task", "finance_officer"),  # the payment is the finance team's task now
        ("task", "finance_officer2"),
        ("task", "hr_reviewer"),
    ]
    batch = released_batch(demo, django_capture_on_commit_callbacks)
    content = csv_file(result_rows(batch, {seq_of(batch, paid): "成功", seq_of(batch, returned): ("失败", "户名与账号不符")}))
    apply_result(actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=content)

    [paid_note] = Notification.objects.filter(claim=paid, kind=Kind.PAID)
    assert paid_note.recipient == demo["provider_clerk"] and "900.00" in paid_note.message
    [bank_note] = Notification.objects.filter(claim=returned, kind=Kind.PAYMENT_RETURNED)
    assert bank_note.recipient == demo["provider2_clerk"] and batch.number in bank_note.message
    assert not Notification.objects.filter(claim=paid, kind=Kind.PAYMENT_RETURNED).exists()


def test_an_objection_tells_the_hr_heads_once(demo):
    claim = approved_claim(demo, serials=(1,))
    assert notify.notify_objection_filed(claim=claim, objection_id=7, summary="学员称未参加培训") == 1
    assert notify.notify_objection_filed(claim=claim, objection_id=7, summary="学员称未参加培训") == 0
    [note] = Notification.objects.filter(kind=Kind.OBJECTION)
    assert (note.recipient, note.claim) == (demo["hr_head"], claim)


def test_deadlines_near_and_passed_tell_the_people_on_the_task_and_then_the_team_lead(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    item = InboxItem.objects.get(claim=claim)
    today = timezone.localdate()

    InboxItem.objects.filter(pk=item.pk).update(due=today + datetime.timedelta(days=30))
    assert notify.notify_deadlines() == {"near": 0, "passed": 0}
    InboxItem.objects.filter(pk=item.pk).update(due=today)
    assert notify.notify_deadlines() == {"near": 1, "passed": 0}
    assert notify.notify_deadlines() == {"near": 0, "passed": 0}  # once

    # The department's team lead: a reviewer of its team marked team lead (roles.TEAM_LEAD).
    lead = ensure_staff_user(
        username="dept_lead", password=DEMO_PASSWORD, role=roles.DEPARTMENT_REVIEWER, scope_group=claim.department.staff_group
    )
    lead.groups.add(Group.objects.get_or_create(name=roles.TEAM_LEAD)[0])
    InboxItem.objects.filter(pk=item.pk).update(due=today - datetime.timedelta(days=1))
    assert notify.notify_deadlines() == {"near": 0, "passed": 2}
    assert sorted(Notification.objects.filter(kind=Kind.DEADLINE_PASSED).values_list("recipient__username", flat=True)) == [
        "dept_lead",
        "dept_reviewer",
    ]
    assert notify.notify_deadlines(now=timezone.now() + datetime.timedelta(days=3)) == {"near": 0, "passed": 0}


def test_reading_marks_one_or_all_and_never_another_persons(demo):
    for serial in (1, 3):
        claim = create_claim(user=demo["provider_clerk"], data=claim_data(class_name=f"第{serial}期"))
        submit_claim(user=demo["provider_clerk"], claim=claim)
    reviewer = demo["dept_reviewer"]
    first, second = Notification.objects.filter(recipient=reviewer).order_by("pk")
    assert not outbox.mark_read(user=demo["dept2_reviewer"], notification_id=first.pk)
    assert unread_count(reviewer) == 2
    assert outbox.mark_read(user=reviewer, notification_id=first.pk)
    assert unread_count(reviewer) == 1
    assert outbox.mark_all_read(user=reviewer) == 1
    assert unread_count(reviewer) == 0


def test_a_reviewer_moved_out_of_the_department_no_longer_reads_what_it_told_her(demo):
    """Two claims told the 应急管理局 reviewer; she leaves the department's staff group: as its
    claims are 404 to her, the list (page and API) and the bell leave their notifications out,
    and she cannot mark them read. The rows stay: back in the group, she reads them again."""
    claims = []
    for serial in (1, 3):
        claims.append(create_claim(user=demo["provider_clerk"], data=claim_data(class_name=f"第{serial}期")))
        submit_claim(user=demo["provider_clerk"], claim=claims[-1])
    reviewer = demo["dept_reviewer"]
    group = Department.objects.get(code="WL-YJJ").staff_group
    assert unread_count(reviewer) == 2
    reviewer.groups.remove(group)

    page = Client()
    page.force_login(reviewer)
    assert page.get(f"/claims/{claims[0].pk}/", secure=True).status_code == 404
    listing = page.get("/notifications/", secure=True).content.decode()
    assert "data-notification=" not in listing and not [claim.number for claim in claims if claim.number in listing]
    assert '<span class="count" data-unread>0</span>' in listing
    api = APIClient()
    api.force_authenticate(reviewer)
    assert api.get("/api/v1/notifications/", secure=True).json() == {"unread": 0, "next": None, "results": []}
    hidden = Notification.objects.filter(recipient=reviewer).first()
    assert api.post(f"/api/v1/notifications/{hidden.pk}/read/", secure=True).status_code == 404
    assert api.post("/api/v1/notifications/read-all/", secure=True).json() == {"marked": 0}
    assert unread_count(reviewer) == 0

    reviewer.groups.add(group)
    assert unread_count(reviewer) == 2


def test_a_daily_digest_lists_only_what_its_reader_may_still_read(demo, celery_eager):
    """Her daily digest leaves out what the department she left told her, as her list does;
    back in the department, the next digest has it."""
    reviewer = demo["dept_reviewer"]
    outbox.set_preferences(user=reviewer, channels={"task": "digest"})
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    group = Department.objects.get(code="WL-YJJ").staff_group
    reviewer.groups.remove(group)
    mail.outbox.clear()
    assert outbox.send_digests() == 0 and mail.outbox == []
    reviewer.groups.add(group)
    assert outbox.send_digests(now=timezone.now() + datetime.timedelta(days=1)) == 1
    assert claim.number in mail.outbox[0].body


def test_a_substitute_of_another_department_reads_the_tasks_notification_while_the_delegation_lasts(demo):
    """The 民政局 reviewer stands in for the 应急管理局 reviewer today: told of the task, he reads
    it in his list (he does not see the claim, only the task); revoked, it leaves his list."""
    today = timezone.localdate()
    delegation = assignment.name_substitute(
        user=demo["dept_reviewer"], substitute_username="dept2_reviewer", starts_on=today, ends_on=today, reason="休假"
    )
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    colleague = demo["dept2_reviewer"]
    api = APIClient()
    api.force_authenticate(colleague)
    body = api.get("/api/v1/notifications/", secure=True).json()
    assert body["unread"] == 1 and [item["claim_number"] for item in body["results"]] == [claim.number]
    assignment.revoke_substitute(user=demo["dept_reviewer"], delegation_id=delegation.pk, reason="提前返岗")
    assert api.get("/api/v1/notifications/", secure=True).json() == {"unread": 0, "next": None, "results": []}


def test_run_due_sends_what_the_outbox_holds_and_the_reminders(demo, settings):
    """`manage.py run_due --now`: the outbox's sweep and the deadline reminders are due jobs."""
    settings.EMAIL_BACKEND = "tests.mail_backends.RefusingBackend"
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    email = OutboxEmail.objects.get()
    outbox.deliver(email.pk)  # refused: pending, a minute later
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    InboxItem.objects.filter(claim=claim).update(due=timezone.localdate())  # due today: soon
    out = io.StringIO()
    later = timezone.localtime() + datetime.timedelta(minutes=5)
    call_command("run_due", "--now", later.isoformat(), "--only", "workflow.deadline_reminders", stdout=out)
    call_command("run_due", "--now", later.isoformat(), "--only", "notifications.sweep_outbox", stdout=out)
    assert "workflow.deadline_reminders: 1" in out.getvalue()
    assert "notifications.sweep_outbox: 2" in out.getvalue()  # the refused e-mail and the reminder's
    assert sorted(message.subject for message in mail.outbox) == sorted(OutboxEmail.objects.values_list("subject", flat=True))
    assert [n.kind for n in Notification.objects.filter(claim=claim).order_by("pk")] == [Kind.TASK, Kind.DEADLINE_NEAR]


def test_the_bell_the_list_and_the_choices_as_pages_and_api(demo):
    """The reviewer sees the bell's count on every page, opens the list, marks one read, then
    chooses the daily digest for tasks; the API says the same. Nobody reads another's."""
    for serial in (1, 3):
        claim = create_claim(user=demo["provider_clerk"], data=claim_data(class_name=f"第{serial}期"))
        submit_claim(user=demo["provider_clerk"], claim=claim)
    reviewer = demo["dept_reviewer"]
    page = Client()
    page.force_login(reviewer)
    inbox = page.get("/inbox/", secure=True).content.decode()
    assert 'id="bell"' in inbox and '<span class="count unread" data-unread>2</span>' in inbox
    listing = page.get("/notifications/", secure=True).content.decode()
    first = Notification.objects.filter(recipient=reviewer).order_by("pk").first()
    assert listing.count("data-notification=") == 2 and first.message in listing
    assert page.post(f"/notifications/{first.pk}/read/", secure=True).status_code == 302
    assert unread_count(reviewer) == 1
    assert (
        page.post(
            "/notifications/preferences/", {**{kind: "email" for kind in Kind.values}, "task": "digest"}, secure=True
        ).status_code
        == 302
    )

    api = APIClient()
    api.force_authenticate(reviewer)
    body = api.get("/api/v1/notifications/?unread=1", secure=True).json()
    assert body["unread"] == 1 and [item["kind"] for item in body["results"]] == ["task"]
    assert api.get("/api/v1/notifications/preferences/", secure=True).json()["task"] == "digest"
    refused = api.put("/api/v1/notifications/preferences/", {"task": "pigeon"}, format="json", secure=True)
    assert refused.status_code == 400 and "task" in refused.json()["error"]["fields"]
    other = APIClient()
    other.force_authenticate(demo["dept2_reviewer"])
    assert other.post(f"/api/v1/notifications/{first.pk}/read/", secure=True).status_code == 404
    assert other.get("/api/v1/notifications/", secure=True).json()["results"] == []
    assert api.post("/api/v1/notifications/read-all/", secure=True).json() == {"marked": 1}


def test_e_mail_waits_on_its_own_queue_so_a_storm_of_notifications_never_holds_a_release_back():
    from config.celery import app

    def queue_of(task_name):
        return app.amqp.router.route({}, task_name)["queue"].name

    default = app.conf.task_default_queue
    assert queue_of("notifications.tasks.deliver_emails") == f"{default}.mail"
    assert queue_of("payments.tasks.release_batch_task") == default
    assert queue_of("claims.tasks.import_roster") == default
