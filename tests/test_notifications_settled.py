"""A notification that asked someone to act stops asking once it no longer concerns them.

The 应急管理局 has two reviewers, 张敏 (dept_reviewer) and 刘洋. A claim submitted tells both;
when 张敏 takes it, 刘洋's bell stops counting it, his daily digest leaves it out, and his list
says it is no longer his to do. 张敏's own request is settled when she decides. A team lead told
of an overdue task after it was taken is still asked until the task is done. A filed class is
settled for every reviewer of the department once one of them answers it."""

import datetime

from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from claims import roles
from claims.models import Department
from claims.services import create_claim
from notifications import services as outbox
from notifications.models import Channel, Kind, Notification
from notifications.selectors import unread_count
from workflow import assignment, notify
from workflow.classes import accept_class
from workflow.models import InboxItem
from workflow.services import decide_task, submit_claim, take_task
from workflow.staffing import ensure_staff_user

from .conftest import DEMO_PASSWORD, claim_data
from .test_class_filing import filed


def second_reviewer(username="dept_reviewer_liu"):
    """刘洋, a second reviewer of the 应急管理局 (WL-YJJ, claim_data's department)."""
    return ensure_staff_user(
        username=username,
        password=DEMO_PASSWORD,
        role=roles.DEPARTMENT_REVIEWER,
        scope_group=Department.objects.get(code="WL-YJJ").staff_group,
        email=f"{username}@wl-yjj.example.cn",
    )


def submitted(demo, serial=1):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data(class_name=f"第{serial}期"))
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    return claim


def asked(user, claim) -> Notification:
    return Notification.objects.get(recipient=user, claim=claim, kind=Kind.TASK)


def test_a_task_taken_by_a_colleague_no_longer_asks_the_other_reviewer(demo, django_capture_on_commit_callbacks, celery_eager):
    zhang, liu = demo["dept_reviewer"], second_reviewer()
    outbox.set_preferences(user=liu, channels={Kind.TASK: Channel.DIGEST})
    first, second = submitted(demo, 1), submitted(demo, 3)
    assert unread_count(zhang) == 2 and unread_count(liu) == 2

    task = InboxItem.objects.get(claim=first).task_id
    with django_capture_on_commit_callbacks(execute=True):
        take_task(user=zhang, task_id=task)
    # 刘洋 is no longer asked about the claim 张敏 took; she still is, and both still are about the other.
    assert asked(liu, first).settled_at is not None and asked(liu, second).settled_at is None
    assert asked(zhang, first).settled_at is None
    assert unread_count(liu) == 1 and unread_count(zhang) == 2

    # His list still shows it, marked, without a "mark read" button; the bell and "unread only" leave it out.
    page = Client()
    page.force_login(liu)
    listing = page.get("/notifications/", secure=True).content.decode()
    row = listing[listing.index(f'data-notification="{asked(liu, first).pk}"') :].split("</tr>")[0]
    assert "data-settled" in row and "已无需您办理" in row and "已由他人办理或已办结" in row and "标为已读" not in row
    assert f'data-notification="{asked(liu, first).pk}"' not in page.get("/notifications/?unread=1", secure=True).content.decode()
    api = APIClient()
    api.force_authenticate(liu)
    body = api.get("/api/v1/notifications/", secure=True).json()
    assert body["unread"] == 1
    settled = {item["claim_number"]: item["settled_at"] for item in body["results"]}
    assert settled[first.number] is not None and settled[second.number] is None
    assert [item["claim_number"] for item in api.get("/api/v1/notifications/?unread=1", secure=True).json()["results"]] == [
        second.number
    ]

    # His daily digest lists only what still asks him.
    assert outbox.send_digests() == 1
    [digest] = [message for message in mail.outbox if message.to == [liu.email]]
    assert second.number in digest.body and first.number not in digest.body

    # 张敏 decides: her own request is settled; the HR reviewer is asked now.
    decide_task(user=zhang, task_id=task, decision="approve", comment="材料齐全")
    assert asked(zhang, first).settled_at is not None and unread_count(zhang) == 1
    assert asked(demo["hr_reviewer"], first).settled_at is None


def test_a_team_lead_told_of_an_overdue_task_after_it_was_taken_is_asked_until_it_is_done(demo):
    claim = submitted(demo)
    zhang = demo["dept_reviewer"]
    task = InboxItem.objects.get(claim=claim).task_id
    take_task(user=zhang, task_id=task)
    lead = second_reviewer("dept_lead")
    lead.groups.add(Group.objects.get_or_create(name=roles.TEAM_LEAD)[0])
    InboxItem.objects.filter(claim=claim).update(due=timezone.localdate() - datetime.timedelta(days=1))
    assert notify.notify_deadlines() == {"near": 0, "passed": 2}
    overdue = Notification.objects.filter(claim=claim, kind=Kind.DEADLINE_PASSED)
    assert set(overdue.values_list("recipient__username", "settled_at")) == {("dept_reviewer", None), ("dept_lead", None)}
    # Another change to the claim's tasks (its holder takes it over again after a comment, say) leaves them asked.
    from workflow.inbox import refresh_inbox

    refresh_inbox(claim)
    assert not overdue.filter(settled_at__isnull=False).exists()
    decide_task(user=zhang, task_id=task, decision="approve", comment="ok")
    assert not overdue.filter(settled_at__isnull=True).exists()
    assert unread_count(lead) == 0


def test_a_filing_answered_by_one_reviewer_no_longer_asks_the_others(demo):
    liu = second_reviewer()
    one = filed(demo, accept=False)
    asking = Notification.objects.filter(training_class=one, kind=Kind.CLASS_FILED)
    assert set(asking.values_list("recipient__username", flat=True)) >= {"dept_reviewer", "dept_reviewer_liu"}
    assert unread_count(liu) == 1
    accept_class(user=demo["dept_reviewer"], class_id=one.pk)
    assert not asking.filter(settled_at__isnull=True).exists() and unread_count(liu) == 0
    answer = Notification.objects.get(training_class=one, kind=Kind.CLASS_DECIDED, recipient=demo["provider_clerk"])
    assert answer.settled_at is None and unread_count(demo["provider_clerk"]) >= 1


def test_a_task_the_team_lead_puts_back_in_the_queue_asks_the_team_again(demo):
    zhang, liu = demo["dept_reviewer"], second_reviewer()
    lead = second_reviewer("dept_lead")
    lead.groups.add(Group.objects.get_or_create(name=roles.TEAM_LEAD)[0])
    claim = submitted(demo)
    task = InboxItem.objects.get(claim=claim).task_id
    take_task(user=zhang, task_id=task)
    assert unread_count(liu) == 0

    assignment.release_task(user=lead, task_id=task, reason="张敏休假")
    again = Notification.objects.filter(task_id=task, kind=Kind.TASK, settled_at__isnull=True).exclude(
        key=f"task:{task}:{zhang.pk}"
    )
    assert set(again.values_list("recipient__username", flat=True)) == {"dept_reviewer", "dept_reviewer_liu"}
    assert "退回队列，待您处理：张敏休假" in again.get(recipient=liu).message
    assert unread_count(liu) == 1
    # Taken again, by 刘洋 this time: 张敏 is no longer asked.
    take_task(user=liu, task_id=task)
    assert unread_count(liu) == 1 and not again.filter(recipient=zhang).exists()


def test_an_email_held_back_by_the_mail_server_is_not_sent_once_the_task_is_taken(demo, settings):
    """The mail server refused 刘洋's e-mail about the new claim; before its next attempt 张敏
    took the task. The sweep does not send him an e-mail asking him to act: it is withdrawn."""
    zhang, liu = demo["dept_reviewer"], second_reviewer()
    settings.EMAIL_BACKEND = "tests.mail_backends.RefusingBackend"
    claim = submitted(demo)
    email = asked(liu, claim).email
    assert outbox.deliver(email.pk) == "pending"  # refused: a later attempt
    email.refresh_from_db()
    assert email.attempts == 1

    take_task(user=zhang, task_id=InboxItem.objects.get(claim=claim).task_id)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    counts = outbox.sweep_outbox(now=email.next_attempt_at + datetime.timedelta(seconds=1))
    email.refresh_from_db()
    assert email.state == "withdrawn" and counts.get("withdrawn") == 1
    assert [message.to for message in mail.outbox] == [[zhang.email]]  # hers still asks her: sent
    assert outbox.deliver(email.pk) == "withdrawn"  # a redelivered task sends nothing either
    assert mail.outbox[-1].to == [zhang.email]
