"""Deadlines on China's working days (issue 14): every due date counted on the jurisdiction's
calendar (weekends, public holidays, adjusted working days, the administrator's overrides), the
same on the pages and in the API; and the timers that act when a deadline passes, run by
``manage.py run_due --now``: an unanswered return is withdrawn, an overdue review escalates.

2026 around National Day (State Council): Sunday 20 September is worked; 25–27 September
(Mid-Autumn) and 1–7 October are holidays; Saturday 10 October is worked."""

import datetime
import logging
from io import StringIO
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from viewflow.workflow.models import Task

from approvals.templatetags.approvals_tags import day
from audit.admin import CHANGE_REASON
from audit.models import AuditEvent
from claims import roles
from claims.models import Claim, ClaimStatus
from claims.services import create_claim
from due import registry
from workflow import selectors
from workflow.calendar import WorkingCalendar, _warn_unknown, statutory_holidays, unknown_years
from workflow.deadlines import DueState, due_date
from workflow.inbox import rebuild_inbox, refresh_inbox
from workflow.models import ClaimDuty, InboxItem, StepDeadline, WorkingDayOverride
from workflow.policy import team_leads_for
from workflow.services import decide_task, submit_claim
from workflow.staffing import ensure_staff_user

from .api_support import login, ok
from .conftest import DEMO_PASSWORD, claim_data

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=BEIJING)


def submitted(demo) -> Claim:
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    return claim


def open_item(claim: Claim) -> InboxItem:
    return InboxItem.objects.get(claim=claim)


def started_at(claim: Claim, moment: datetime.datetime) -> InboxItem:
    """The claim's open task as if it had reached its step at ``moment``."""
    Task.objects.filter(pk=open_item(claim).task_id).update(created=moment)
    claim.refresh_from_db()
    refresh_inbox(claim)
    return open_item(claim)


def run_due(now: str) -> str:
    out = StringIO()
    call_command("run_due", "--now", now, stdout=out, stderr=StringIO())
    return out.getvalue()


# --------------------------------------------------------------------------- the calendar


def test_a_review_started_before_the_adjusted_sunday_is_due_after_national_day(demo):
    """The department's 10 working days from Friday 18 September 2026 count Sunday the 20th (worked)
    and skip Mid-Autumn and National Day: due Friday 9 October, not Friday 2 October (Mon–Fri)."""
    claim = submitted(demo)
    item = started_at(claim, beijing(2026, 9, 18, 10, 0))
    assert item.due == datetime.date(2026, 10, 9)


def test_the_adjusted_working_sunday_itself_is_a_due_date(db):
    calendar = WorkingCalendar(None)
    assert calendar.add_working_days(datetime.date(2026, 9, 18), 1) == datetime.date(2026, 9, 20)  # Sunday, worked
    assert calendar.add_working_days(datetime.date(2026, 9, 29), 5) == datetime.date(2026, 10, 12)  # Saturday 10th counted
    assert not calendar.is_working(datetime.date(2026, 10, 5)) and calendar.is_working(datetime.date(2026, 10, 10))


def test_an_override_of_the_jurisdiction_moves_its_due_dates_and_is_recorded(demo, client):
    """The administrator enters a local day off on Friday 9 October: the review due that day is
    due on the worked Saturday the 10th instead, at once on the open task; another jurisdiction
    is not touched, and the ledger keeps the change."""
    claim = submitted(demo)
    started_at(claim, beijing(2026, 9, 18, 10, 0))
    assert client.login(request=HttpRequest(), username="admin", password=DEMO_PASSWORD)
    response = client.post(
        reverse("admin:claim_workflow_workingdayoverride_add"),
        # unchecked: a day off
        {"jurisdiction": claim.jurisdiction_id, "date": "2026-10-09", "reason": "本地停工一天", CHANGE_REASON: "县政府通知停工"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert open_item(claim).due == datetime.date(2026, 10, 10)
    assert WorkingCalendar(None).is_working(datetime.date(2026, 10, 9))  # every other jurisdiction still works
    entry = AuditEvent.objects.filter(action="working_day.created").last()
    assert entry.actor_username == "admin" and entry.jurisdiction_id == claim.jurisdiction_id
    assert entry.reason == "县政府通知停工"


def test_a_time_limit_set_for_the_jurisdiction_replaces_the_policy_default(demo):
    claim = submitted(demo)
    created = beijing(2026, 9, 18, 10, 0)
    assert due_date(created, "department_review", claim.jurisdiction_id) == datetime.date(2026, 10, 9)
    StepDeadline.objects.create(jurisdiction=None, kind="department_review", working_days=5)
    assert due_date(created, "department_review", claim.jurisdiction_id) == datetime.date(2026, 9, 24)
    StepDeadline.objects.create(jurisdiction=claim.jurisdiction, kind="department_review", working_days=1)
    assert due_date(created, "department_review", claim.jurisdiction_id) == datetime.date(2026, 9, 20)
    assert due_date(created, "department_review", None) == datetime.date(2026, 9, 24)  # the rest: every jurisdiction's


def test_the_holidays_the_law_fixes_are_those_the_state_council_announced(demo):
    """For the years chinese-calendar knows under the 2024 revision of the law (2025, 2026), the
    computed statutory days are official holidays, one or more of every festival, 13 in all."""
    for year in (2025, 2026):
        days = statutory_holidays(year)
        assert len(days) == 13 and all(chinese_calendar.is_holiday(day) for day in days), year
        announced = {
            chinese_calendar.get_holiday_detail(day)[1]
            for day in chinese_calendar.get_holidays(datetime.date(year, 1, 1), datetime.date(year, 12, 31))
        }
        assert {chinese_calendar.get_holiday_detail(day)[1] for day in days} == announced - {None}, year


def test_a_year_nobody_knows_is_counted_monday_to_friday_without_the_statutory_holidays_and_said_so(demo, caplog, client):
    """chinese-calendar 1.11.0 knows 2004–2026. For 2027 the count falls back to Monday to
    Friday without the holidays the law fixes (New Year's Day is a Friday; the Spring Festival
    runs from Friday 5 to Monday 8 February), with a warning, until the administrator enters the
    State Council's arrangement for the year (the days given in lieu, the weekends worked)."""
    assert unknown_years(None, (2026, 2027)) == [2027]
    _warn_unknown.cache_clear()  # logged once per process and year: as if this process were new
    with caplog.at_level(logging.WARNING, logger="workflow.calendar"):
        due = WorkingCalendar(None).add_working_days(datetime.date(2027, 3, 5), 5)
    assert due == datetime.date(2027, 3, 12)
    assert [record.getMessage() for record in caplog.records if "2027" in record.getMessage()]
    calendar = WorkingCalendar(None)
    assert calendar.add_working_days(datetime.date(2026, 12, 31), 1) == datetime.date(2027, 1, 4)
    assert calendar.add_working_days(datetime.date(2027, 2, 4), 1) == datetime.date(2027, 2, 9)
    off = ["2027-01-01", "2027-02-05", "2027-02-08", "2027-04-05", "2027-06-09", "2027-09-15", "2027-10-01"]
    assert [day for day in off if calendar.is_working(datetime.date.fromisoformat(day))] == []
    # What only the yearly notice can say is not guessed: Monday 4 October is counted as worked.
    assert calendar.is_working(datetime.date(2027, 10, 4))
    # The administrator reads it where the days are entered.
    assert client.login(request=HttpRequest(), username="admin", password=DEMO_PASSWORD)
    listing = client.get(reverse("admin:claim_workflow_workingdayoverride_changelist")).content.decode()
    assert "2027 年的放假调休安排尚未录入" in listing and "扣除法定节假日" in listing
    WorkingDayOverride.objects.create(date=datetime.date(2027, 3, 8), is_working=False, reason="示例：全国假日")
    assert unknown_years(None, (2027,)) == []
    assert (
        "2027 年的放假调休安排尚未录入"
        not in client.get(reverse("admin:claim_workflow_workingdayoverride_changelist")).content.decode()
    )
    assert WorkingCalendar(None).add_working_days(datetime.date(2027, 3, 5), 5) == datetime.date(2027, 3, 15)


# --------------------------------------------------------------------------- one date everywhere


def test_the_page_the_inbox_and_the_api_show_one_due_date(demo):
    """A task reaching its step at 23:30 UTC on 29 September is Beijing's 30 September: ten working
    days from there is 20 October (from the UTC date it would be the 19th). The task page, the
    claim page, the inbox and the API all say the 20th; frozen on the 19th it is due soon."""
    claim = submitted(demo)
    item = started_at(claim, datetime.datetime(2026, 9, 29, 23, 30, tzinfo=datetime.UTC))
    assert item.due == datetime.date(2026, 10, 20)
    reviewer = Client()
    reviewer.force_login(demo["dept_reviewer"])
    with time_machine.travel(beijing(2026, 10, 19, 9, 0), tick=False):
        api_task = ok(login("dept_reviewer").get(f"/api/v1/tasks/{item.task_id}/"))
        listed = ok(login("dept_reviewer").get("/api/v1/tasks/"))["results"]
        task_page = reviewer.get(f"/tasks/{item.task_id}/").content.decode()
        claim_page = reviewer.get(f"/claims/{claim.pk}/").content.decode()
        inbox_page = reviewer.get("/inbox/").content.decode()
    assert (api_task["due"], api_task["due_state"]) == ("2026-10-20", "due_soon")
    assert [(task["due"], task["due_state"]) for task in listed if task["id"] == item.task_id] == [("2026-10-20", "due_soon")]
    # The pages write the API's date as people write it, and give it in ISO to machines.
    with translation.override("zh-hans"):
        shown = day(datetime.date.fromisoformat(api_task["due"]))
    assert shown == '<time datetime="2026-10-20">2026年10月20日</time>'
    for page in (task_page, claim_page, inbox_page):
        assert f'data-due-state="due_soon">{shown}' in page
    with time_machine.travel(beijing(2026, 10, 21, 0, 0), tick=False):
        assert ok(login("dept_reviewer").get(f"/api/v1/tasks/{item.task_id}/"))["due_state"] == DueState.OVERDUE
        assert f'data-due-state="overdue">{shown}' in reviewer.get("/inbox/").content.decode()


def test_the_claim_page_shows_how_many_working_days_each_step_took(demo):
    """Reviewed from Friday 18 September to Thursday 8 October: 9 working days (the worked Sunday
    counted, the holidays not), against the department's limit of 10."""
    claim = submitted(demo)
    item = started_at(claim, beijing(2026, 9, 18, 10, 0))
    decide_task(user=demo["dept_reviewer"], task_id=item.task_id, decision="approve", comment="材料齐全")
    Task.objects.filter(pk=item.task_id).update(finished=beijing(2026, 10, 8, 16, 0))
    times = selectors.step_times(claim)
    assert [(row.step, row.working_days, row.limit) for row in times][0] == ("department_review", 9, 10)
    assert times[1].step == "hr_review" and times[1].finished is None
    client = Client()
    client.force_login(demo["hr_reviewer"])
    page = client.get(f"/claims/{claim.pk}/").content.decode()
    assert "各环节用时" in page and '<td class="num took">9</td>' in page


# --------------------------------------------------------------------------- the timers


def returned(demo) -> tuple[Claim, InboxItem]:
    """Returned for correction on Tuesday 29 September 2026: ten working days, due Monday 19 October."""
    claim = submitted(demo)
    decide_task(user=demo["dept_reviewer"], task_id=open_item(claim).task_id, decision="return", comment="请补充证书扫描件")
    item = started_at(claim, beijing(2026, 9, 29, 15, 0))
    assert (item.step, item.due) == ("correction", datetime.date(2026, 10, 19))
    return claim, item


def test_an_unanswered_return_is_withdrawn_at_its_deadline_and_not_a_minute_before(demo):
    claim, item = returned(demo)
    assert "workflow.withdraw_unanswered_returns: 0" in run_due("2026-10-19T23:59:00+08:00")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.RETURNED

    assert "workflow.withdraw_unanswered_returns: 1" in run_due("2026-10-20T00:00:00+08:00")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.WITHDRAWN
    assert not InboxItem.objects.filter(claim=claim).exists()
    entry = AuditEvent.objects.filter(claim_id=claim.pk).last()
    assert (entry.action, entry.from_state, entry.to_state, entry.actor_username) == (
        "claim.withdrawn",
        "returned",
        "withdrawn",
        "",
    )
    assert entry.detail["deadline"] == "2026-10-19" and "2026年10月19日" in entry.reason


def test_a_resubmission_before_the_deadline_keeps_the_claim(demo):
    claim, _item = returned(demo)
    submit_claim(user=demo["provider_clerk"], claim=claim)
    run_due("2026-11-30T12:00:00+08:00")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW


def department_lead(demo, claim: Claim):
    """The department's team lead: a department reviewer of its team, marked team lead."""
    lead = ensure_staff_user(
        username="dept_lead", password=DEMO_PASSWORD, role=roles.DEPARTMENT_REVIEWER, scope_group=claim.department.staff_group
    )
    lead.groups.add(Group.objects.get_or_create(name=roles.TEAM_LEAD)[0])
    return lead


def test_an_overdue_review_escalates_to_the_team_lead_once(demo):
    """Due Friday 9 October; at midnight it is overdue: escalated to the department's team lead,
    shown in the inbox, recorded in the ledger with the lead named. Run again: nothing more."""
    claim = submitted(demo)
    lead_user = department_lead(demo, claim)
    item = started_at(claim, beijing(2026, 9, 18, 10, 0))
    assert "workflow.escalate_overdue_reviews: 0" in run_due("2026-10-09T23:59:00+08:00")
    assert "workflow.escalate_overdue_reviews: 1" in run_due("2026-10-10T00:00:00+08:00")
    item.refresh_from_db()
    assert item.escalated and item.step == "department_review" and item.status == "NEW"  # still open, for the team
    escalated = AuditEvent.objects.get(action="task.escalated", claim_id=claim.pk)
    assert escalated.detail == {
        "task": item.task_id,
        "step": "department_review",
        "deadline": "2026-10-09",
        "team_leads": ["dept_lead"],
    }
    lead = Client()
    lead.force_login(lead_user)
    with time_machine.travel(beijing(2026, 10, 10, 9, 0), tick=False):
        assert "已升级" in lead.get("/inbox/").content.decode()

    ledger_size = AuditEvent.objects.count()
    run_due("2026-10-10T00:00:00+08:00")
    run_due("2026-10-12T09:00:00+08:00")
    assert AuditEvent.objects.count() == ledger_size
    rebuild_inbox()  # the escalation lives on the task: a rebuild keeps it
    assert open_item(claim).escalated


def test_a_team_lead_who_did_another_duty_on_the_claim_is_not_given_it(demo):
    """Segregation of duties holds for escalation: a department lead who did another duty on this
    claim (HR's review, in an earlier role) is not whom its department review escalates to."""
    claim = submitted(demo)
    lead = department_lead(demo, claim)
    assert [user.username for user in team_leads_for(claim=claim, step_name="department_review")] == ["dept_lead"]
    ClaimDuty.objects.create(claim=claim, user=lead, duty="hr_review")
    assert team_leads_for(claim=claim, step_name="department_review") == []


def test_run_due_runs_every_registered_job_and_twice_does_nothing_twice(demo):
    claim, _item = returned(demo)
    other = submitted(demo)
    started_at(other, beijing(2026, 9, 18, 10, 0))
    calls = []
    registry.register("tests.probe", lambda now: calls.append(now) or 0)
    try:
        first = run_due("2026-10-20T08:00:00+08:00")
        ledger_size = AuditEvent.objects.count()
        second = run_due("2026-10-20T08:00:00+08:00")
    finally:
        del registry.JOBS["tests.probe"]
    assert "workflow.withdraw_unanswered_returns: 1" in first and "workflow.escalate_overdue_reviews: 1" in first
    assert "workflow.withdraw_unanswered_returns: 0" in second and "workflow.escalate_overdue_reviews: 0" in second
    assert AuditEvent.objects.count() == ledger_size
    assert calls == [beijing(2026, 10, 20, 8, 0)] * 2


def test_run_due_refuses_a_time_that_does_not_parse():
    with pytest.raises(CommandError, match="--now"):
        call_command("run_due", "--now", "next tuesday")


def test_a_time_limit_set_in_the_admin_moves_open_tasks_and_refuses_zero_days(demo, client):
    claim = submitted(demo)
    started_at(claim, beijing(2026, 9, 18, 10, 0))
    assert client.login(request=HttpRequest(), username="admin", password=DEMO_PASSWORD)
    url = reverse("admin:claim_workflow_stepdeadline_add")
    reason = {CHANGE_REASON: "局务会决定缩短部门审核时限"}
    refused = client.post(url, {"kind": "department_review", "working_days": "0", **reason})
    assert refused.status_code == 200 and not StepDeadline.objects.exists()
    assert "working_days" in refused.context["adminform"].form.errors
    assert client.post(url, {"kind": "department_review", "working_days": "1", **reason}).status_code == 302
    assert open_item(claim).due == datetime.date(2026, 9, 20)  # the worked Sunday
    assert AuditEvent.objects.filter(action="deadline.created", actor_username="admin").exists()


def test_beat_runs_the_same_registry_as_the_command(demo, settings):
    from workflow.tasks import run_due_jobs

    assert settings.CELERY_BEAT_SCHEDULE["due-jobs"]["task"] == run_due_jobs.name == "workflow.tasks.run_due_jobs"
    claim, _item = returned(demo)
    done = run_due_jobs()
    assert (done["workflow.withdraw_unanswered_returns"], done["workflow.escalate_overdue_reviews"]) == (1, 0)
    # The notifications' due jobs (issue 14) run with them.
    assert {"workflow.deadline_reminders", "notifications.sweep_outbox", "notifications.daily_digests"} <= set(done)
    assert done["workflow.close_due_notices"] == 0  # the public notice's end (issue 13) runs with them
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.WITHDRAWN  # the test clock is past 19 October 2026


# --------------------------------------------------------------------------- who the timers tell


def test_the_timers_tell_someone_the_provider_of_a_withdrawal_and_the_team_lead_of_an_escalation(demo):
    """温岭市某职业技能培训学校's clerk never answers a return: at the deadline the claim is
    withdrawn and she is told why. Another claim's review lies untouched past its deadline: it
    escalates, and 市应急管理局's team lead is told it is now hers to chase. Once each."""
    from notifications.models import Notification, OutboxEmail

    claim, _item = returned(demo)
    run_due("2026-10-20T00:00:00+08:00")
    told = Notification.objects.get(key=f"claim:{claim.pk}:withdrawn_by_deadline:{demo['provider_clerk'].pk}")
    assert told.kind == "deadline_passed" and "2026年10月19日" in told.message and "自动撤回" in told.message

    other = submitted(demo)
    lead = department_lead(demo, other)
    item = started_at(other, beijing(2026, 9, 18, 10, 0))
    run_due("2026-10-10T00:00:00+08:00")
    escalated = Notification.objects.get(key=f"task:{item.task_id}:escalated:{lead.pk}")
    assert escalated.kind == "task" and "督办" in escalated.message and escalated.task_id == item.task_id
    assert OutboxEmail.objects.filter(key=escalated.key, to=lead.email).exists() or not lead.email
    run_due("2026-10-12T09:00:00+08:00")
    assert Notification.objects.filter(key__startswith=f"task:{item.task_id}:escalated:").count() == 1
    assert Notification.objects.filter(key__startswith=f"claim:{claim.pk}:withdrawn_by_deadline:").count() == 1


def test_a_notification_is_written_in_the_recipients_language_not_the_actors(demo):
    """The department reviewer works with the pages in English; the provider's clerk reads
    Chinese (the product's default: no one has chosen otherwise). Her return reaches the clerk in
    Chinese, in the app and in the e-mail's subject."""
    from django.utils import translation

    from notifications.models import Notification, OutboxEmail

    claim = submitted(demo)
    with translation.override("en"):
        decide_task(user=demo["dept_reviewer"], task_id=open_item(claim).task_id, decision="return", comment="Scans missing")
    told = Notification.objects.get(claim=claim, recipient=demo["provider_clerk"], kind="returned")
    assert told.message.startswith(f"申领 {claim.number} 被退回修改") and "Scans missing" in told.message
    email = OutboxEmail.objects.get(key=told.key)
    assert email.subject.startswith("【补贴审核】申领被退回修改")


def test_make_runs_demo_has_a_team_lead_among_its_logins(demo):
    """`make run` (seed_demo --with-claims) prints dept_lead, 市应急管理局's team lead: a department
    reviewer of its team marked team lead, recorded so in the ledger; 应急管理局's overdue reviews
    escalate to her."""
    from claims.models import Claim

    out = StringIO()
    call_command("seed_demo", password=DEMO_PASSWORD, with_claims=True, stdout=out)
    assert "dept_lead" in out.getvalue() and "team_lead" in out.getvalue()
    lead = Group.objects.get(name=roles.TEAM_LEAD).user_set.get()
    assert lead.username == "dept_lead"
    created = AuditEvent.objects.filter(action="user.created", object_id=str(lead.pk)).get()
    assert roles.TEAM_LEAD in created.detail["groups"]
    waiting = Claim.objects.get(status=ClaimStatus.DEPARTMENT_REVIEW)
    assert [user.username for user in team_leads_for(claim=waiting, step_name="department_review")] == ["dept_lead"]
