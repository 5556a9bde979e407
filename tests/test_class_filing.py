"""开班备案 and attendance (RULES.md N1, N9), as stories. 温岭市某职业技能培训学校 (provider_clerk) files
its 低压电工作业 class (S3, 电工 高级工) with 市应急管理局 (dept_reviewer): ten days, 08:30–17:00,
学员1, 学员2 and 学员3 on the roster. 温岭 files classes 5 working days ahead, and requires filing
for classes starting from the day seed_demo first ran (today, in the tests)."""

import datetime
import io
import re

import pytest
from openpyxl import Workbook
from rest_framework.test import APIClient

from claims.classes import _overlapping_classes
from claims.dates import date_text
from claims.errors import InvalidInput, NotInScope, StepAlreadyTaken
from claims.models import ClaimLine, Jurisdiction, TrainingClass
from claims.roster import read_attendance, read_class_roster
from claims.services import create_claim
from notifications.models import Notification
from workflow.calendar import WorkingCalendar
from workflow.classes import accept_class, earliest_start, file_class, record_attendance, refuse_class
from workflow.services import decide_task, override_flag, submit_claim

from .conftest import claim_data, line, resident_id
from .payments_support import open_task_id
from .test_audit_completeness import Ledger

TODAY = datetime.date.today()
START = TODAY - datetime.timedelta(days=50)  # a class that has run: attendance can be recorded
END = START + datetime.timedelta(days=9)  # ten days


def class_data(*serials, start=START, end=END, **overrides) -> dict:
    data = {
        "department": "WL-YJJ",
        "policy": "S3",
        "occupation": "电工",
        "level": "senior",
        "name": "低压电工作业 第1期",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "daily_start": "08:30",
        "daily_end": "17:00",
        "place": "温岭市太平街道 实训楼 201",
        "teacher": "林老师",
        "trainees": [{"id_number": resident_id(n), "name": f"学员{n}"} for n in serials or (1, 2, 3)],
    }
    data.update(overrides)
    return data


def filed(demo, *serials, clerk="provider_clerk", accept=True, **overrides) -> TrainingClass:
    """A class filed in time (ten days before it started) and accepted by 市应急管理局."""
    data = class_data(*serials, **overrides)
    training_class = file_class(
        user=demo[clerk], data=data, today=datetime.date.fromisoformat(data["start"]) - datetime.timedelta(days=10)
    )
    if accept:
        training_class = accept_class(user=demo["dept_reviewer"], class_id=training_class.pk)
    return training_class


def attendance_file(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["身份证号码", "日期", "出勤"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def attend(demo, training_class, present: dict[int, int]):
    """present: {serial: days present}, the first n days of the class; the rest absent."""
    rows = []
    for serial, days in present.items():
        for offset in range(training_class.calendar_days):
            day = training_class.start + datetime.timedelta(days=offset)
            rows.append([resident_id(serial), day, "是" if offset < days else "否"])
    return record(demo, training_class, rows)


def record(demo, training_class, rows):
    """The clerk uploads these attendance rows (身份证号码, 日期, 出勤)."""
    content = attendance_file(rows)
    parsed, errors = read_attendance(content)
    return record_attendance(
        user=demo["provider_clerk"], class_id=training_class.pk, rows=parsed, errors=errors, filename="考勤.xlsx", content=content
    )


def working_days_of(training_class) -> list[datetime.date]:
    """The class's days that are working days on its jurisdiction's calendar."""
    calendar = WorkingCalendar(training_class.jurisdiction_id)
    days = (training_class.start + datetime.timedelta(days=n) for n in range(training_class.calendar_days))
    return [day for day in days if calendar.is_working(day)]


def claim_for(demo, training_class, *serials, start=None, **line_fields):
    lines = [line(resident_id(n), f"学员{n}", certificate_number=f"T-{n:05d}", **line_fields) for n in serials]
    data = claim_data(
        lines=lines,
        training_start=(start or training_class.start).isoformat(),
        training_end=training_class.end.isoformat(),
    )
    data["class"] = training_class.pk
    return create_claim(user=demo["provider_clerk"], data=data)


def flags(claim, line_no=1) -> list[str]:
    return [flag["code"] for flag in ClaimLine.objects.get(claim=claim, line_no=line_no).flags]


def test_a_class_filed_too_late_is_refused_with_a_clear_message_and_nothing_saved(demo):
    ledger = Ledger()
    wl = Jurisdiction.objects.get(code="WL")
    monday = datetime.date(2026, 9, 21)  # Friday 25 September 2026 is a public holiday (中秋)
    earliest = earliest_start(jurisdiction=wl, filed_on=monday)
    # 22, 23, 24, 28, 29 September on China's working days (Monday to Friday would say the 28th).
    assert earliest == datetime.date(2026, 9, 29)
    assert earliest == WorkingCalendar(wl.pk).add_working_days(monday, 5)
    late = earliest - datetime.timedelta(days=1)
    with ledger.nothing(), pytest.raises(InvalidInput) as refused:
        file_class(user=demo["provider_clerk"], data=class_data(start=late, end=late + datetime.timedelta(days=4)), today=monday)
    message = refused.value.fields["start"][0]
    assert "逾期备案" in message and "5 个工作日" in message and date_text(earliest) in message
    with ledger.expect("class.filed"):
        training_class = file_class(
            user=demo["provider_clerk"],
            data=class_data(start=earliest, end=earliest + datetime.timedelta(days=4)),
            today=monday,
        )
    assert training_class.status == "filed" and training_class.trainees.count() == 3


def test_the_department_accepts_or_refuses_and_nobody_else_sees_the_class(demo):
    ledger = Ledger()
    one = filed(demo, accept=False)
    with pytest.raises(NotInScope):  # another provider's clerk, another department's reviewer: no such class
        accept_class(user=demo["dept2_reviewer"], class_id=one.pk)
    for other in ("provider_clerk", "hr_reviewer", "auditor"):  # API v1: "the class's department reviewer; others 404"
        with pytest.raises(NotInScope):  # the provider cannot accept its own filing, nor HR, who sees it
            accept_class(user=demo[other], class_id=one.pk)
    with ledger.expect("class.accepted"):
        accept_class(user=demo["dept_reviewer"], class_id=one.pk, comment="材料齐全")
    with pytest.raises(StepAlreadyTaken):
        refuse_class(user=demo["dept_reviewer"], class_id=one.pk, reason="x")
    two = filed(demo, accept=False, name="低压电工作业 第2期")
    with pytest.raises(InvalidInput):
        refuse_class(user=demo["dept_reviewer"], class_id=two.pk, reason="")
    with ledger.expect("class.refused"):
        refuse_class(user=demo["dept_reviewer"], class_id=two.pk, reason="教师无资质")
    api = APIClient()
    api.force_authenticate(demo["provider2_clerk"])
    assert api.get(f"/api/v1/classes/{one.pk}/").status_code == 404
    assert api.get("/api/v1/classes/").json()["results"] == []
    api.force_authenticate(demo["hr_reviewer"])  # HR oversees the jurisdiction's classes
    assert {c["number"] for c in api.get("/api/v1/classes/").json()["results"]} == {one.number, two.number}
    # A refused class cannot be claimed for.
    data = claim_data(lines=[line(resident_id(1), "学员1")])
    data["class"] = two.pk
    with pytest.raises(InvalidInput) as refused:
        create_claim(user=demo["provider_clerk"], data=data)
    assert "尚未经行业主管部门确认备案" in refused.value.fields["class"][0]


def test_a_trainee_not_on_the_filed_roster_and_days_beyond_the_class_are_flagged(demo):
    training_class = filed(demo, 1, 2)
    attend(demo, training_class, {1: 10, 2: 10})
    claim = claim_for(demo, training_class, 1, 9)  # 学员9 was never filed
    assert flags(claim, 1) == [] and flags(claim, 2) == ["CLASS_ROSTER"]
    # The claim says its training began five days earlier, and claims 12 days: the class had 10.
    claim = claim_for(demo, training_class, 2, start=training_class.start - datetime.timedelta(days=5), training_days=12)
    assert flags(claim) == ["CLASS_DAYS"]


def test_sixty_percent_attendance_is_flagged_and_not_paid(demo):
    training_class = filed(demo, 1, 2)
    attend(demo, training_class, {1: 6, 2: 10})  # 学员1 came 6 days of 10
    claim = claim_for(demo, training_class, 1, 2)
    assert flags(claim, 1) == ["ATTENDANCE"] and flags(claim, 2) == []
    message = ClaimLine.objects.get(claim=claim, line_no=1).flags[0]["message"]
    assert "出勤 6 天 / 共 10 天（60%）" in message and "80%" in message
    submit_claim(user=demo["provider_clerk"], claim=claim)
    decide_task(user=demo["dept_reviewer"], task_id=open_task_id(claim), decision="approve")
    with pytest.raises(InvalidInput):  # no override lifts it
        override_flag(
            user=demo["hr_reviewer"], line_id=ClaimLine.objects.get(claim=claim, line_no=1).pk, code="ATTENDANCE", reason="x"
        )
    with pytest.raises(InvalidInput):
        decide_task(user=demo["hr_reviewer"], task_id=open_task_id(claim), decision="approve")


def test_attendance_is_a_share_of_the_days_the_class_taught_not_of_the_calendar(demo, client):
    """A weekday class, Monday 2 to Friday 20 November 2026, teaches on its 15 working days, not
    on the 19 days from its first to its last. 学员1 came on all 15: 100%, paid (the calendar's
    15 of 19 was 78%, under N9's 80%: never paid). 学员2 came on 12, exactly 80%: paid. 学员3 came
    on 11 and the clerk left out his absent days instead of recording them: on a day the class
    taught, a trainee not recorded was not there — 73%, not paid."""
    training_class = filed(demo, 1, 2, 3, start=datetime.date(2026, 11, 2), end=datetime.date(2026, 11, 20))
    taught = working_days_of(training_class)
    assert (len(taught), training_class.calendar_days) == (15, 19)
    rows = [[resident_id(1), day, "是"] for day in taught]
    rows += [[resident_id(2), day, "是" if n < 12 else "否"] for n, day in enumerate(taught)]
    rows += [[resident_id(3), day, "是"] for day in taught[:11]]
    record(demo, training_class, rows)

    claim = claim_for(demo, training_class, 1, 2, 3, training_days=15)
    assert [flags(claim, n) for n in (1, 2, 3)] == [[], [], ["ATTENDANCE"]]
    assert "出勤 11 天 / 共 15 天（73%）" in ClaimLine.objects.get(claim=claim, line_no=3).flags[0]["message"]
    # The days claimed are the days taught too: a 16th day is beyond the class.
    longer = claim_for(demo, training_class, 1, training_days=16)
    assert flags(longer) == ["CLASS_DAYS"]
    assert "已登记考勤的上课日 15 天" in ClaimLine.objects.get(claim=longer, line_no=1).flags[0]["message"]

    client.force_login(demo["dept_reviewer"])
    page = client.get(f"/classes/{training_class.pk}/").content.decode()
    assert re.findall(r'data-percent="(\d+)"', page) == ["100", "80", "73"]
    assert "15 / 15" in page and "共 15 天" in page
    api = APIClient()
    api.force_authenticate(demo["dept_reviewer"])
    shown = api.get(f"/api/v1/classes/{training_class.pk}/").json()
    assert (shown["days"], shown["days_taught"]) == (19, 15)
    assert [trainee["days_present"] for trainee in shown["trainees"]] == [15, 12, 11]


def test_a_weekend_class_for_working_adults_is_measured_on_its_weekends(demo):
    """A class for people who work in the week: Saturdays and Sundays, 7 to 29 November 2026, 8
    days taught in a span of 23, none of them a working day. 学员1 missed one Sunday: 7 of 8
    (87%), paid; 学员2 missed two: 6 of 8 (75%), not paid."""
    training_class = filed(demo, 1, 2, start=datetime.date(2026, 11, 7), end=datetime.date(2026, 11, 29))
    weekends = [day for n in range(23) if (day := training_class.start + datetime.timedelta(days=n)).weekday() >= 5]
    assert len(weekends) == 8 and not set(weekends) & set(working_days_of(training_class))
    record(
        demo,
        training_class,
        [[resident_id(1), day, "否" if n == 1 else "是"] for n, day in enumerate(weekends)]
        + [[resident_id(2), day, "否" if n in (1, 3) else "是"] for n, day in enumerate(weekends)],
    )
    claim = claim_for(demo, training_class, 1, 2, training_days=8)
    assert flags(claim, 1) == [] and flags(claim, 2) == ["ATTENDANCE"]
    assert "出勤 6 天 / 共 8 天（75%）" in ClaimLine.objects.get(claim=claim, line_no=2).flags[0]["message"]


def test_a_three_month_veterans_class_pays_those_who_came_every_day_it_taught(demo):
    """S5 (002 §二(五)): a veterans' class of at least 3 months, 1 September to 30 November 2026,
    taught on China's working days (中秋 and 国庆 off, Sunday 20 September and Saturday 10 October
    worked, 调休): 61 days of 91. 学员1 came on every one of them. Counted over the calendar he was
    at 67%, and so was every trainee of every such class: none of them paid."""
    training_class = filed(demo, 1, policy="S5", start=datetime.date(2026, 9, 1), end=datetime.date(2026, 11, 30))
    taught = working_days_of(training_class)
    assert (len(taught), training_class.calendar_days) == (61, 91)
    record(demo, training_class, [[resident_id(1), day, "是"] for day in taught])
    veteran = line(
        resident_id(1),
        "学员1",
        certificate_number="T-00001",
        certificate_type="training",
        target_group="veteran",
        discharge_year=2026,
        training_days=len(taught),
        certificate_date=(TODAY - datetime.timedelta(days=1)).isoformat(),
    )
    data = claim_data(lines=[veteran], policy="S5", training_start="2026-09-01", training_end="2026-11-30")
    data["class"] = training_class.pk
    claim = create_claim(user=demo["provider_clerk"], data=data)
    assert flags(claim) == []


def test_one_person_in_two_filed_classes_at_the_same_hours_is_flagged(demo):
    first = filed(demo, 1, 2)
    # 温岭市某技工学校 files an evening class for 学员2 the same days: no overlap of hours.
    filed(demo, 2, clerk="provider2_clerk", name="电工夜校", daily_start="18:30", daily_end="21:00")
    # …and a day class for 学员1 the same days: the same hours.
    same = filed(demo, 1, clerk="provider2_clerk", name="电工日班", daily_start="09:00", daily_end="12:00")
    attend(demo, first, {1: 10, 2: 10})
    claim = claim_for(demo, first, 1, 2)
    assert flags(claim, 1) == ["CLASS_OVERLAP"] and flags(claim, 2) == []
    assert ClaimLine.objects.get(claim=claim, line_no=1).flags[0]["related"] == [same.number]


def test_a_class_filed_through_the_api_with_only_the_contracts_fields_is_filed_for_the_whole_day(demo):
    # API v1's body: department, policy, occupation, level, start, end, place, teacher, trainees.
    # No name and no daily hours: the class is named after what it teaches, and, its hours
    # unknown, it takes the whole day, so that it overlaps any class of its trainees those days.
    api = APIClient()
    api.force_authenticate(demo["provider_clerk"])
    start = TODAY + datetime.timedelta(days=14)
    body = {
        key: value
        for key, value in class_data(1, 2, start=start, end=start + datetime.timedelta(days=4)).items()
        if key not in ("name", "daily_start", "daily_end")
    }
    response = api.post("/api/v1/classes/", body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "filed" and created["id"]
    assert created["name"] == f"电工 高级工 {start.isoformat()}"
    assert (created["daily_start"], created["daily_end"]) == ("00:00:00", "23:59:59")
    # An evening class of 学员2 the same days overlaps it (the hours of the first are not known).
    api.force_authenticate(demo["provider2_clerk"])
    evening = {**class_data(2, start=start, end=start + datetime.timedelta(days=4)), "daily_start": "18:30", "daily_end": "21:00"}
    evening = api.post("/api/v1/classes/", evening, format="json").json()
    first = TrainingClass.objects.get(pk=created["id"])
    student2 = first.trainees.get(row=2).trainee_id
    assert _overlapping_classes(first, [student2]) == {student2: [evening["number"]]}


def test_a_claim_for_a_class_that_had_to_be_filed_without_one_is_flagged(demo):
    # Starting from today (温岭's filing start date) under S3, which pays for a class.
    data = claim_data(
        lines=[line(resident_id(1), "学员1", training_days=1, certificate_date=TODAY.isoformat())],
        training_start=TODAY.isoformat(),
        training_end=TODAY.isoformat(),
    )
    claim = create_claim(user=demo["provider_clerk"], data=data)
    assert flags(claim) == ["CLASS_NOT_FILED"]
    # A class before the filing start date needs none (the demo's older claims).
    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=[line(resident_id(1), "学员1")]))
    assert flags(claim) == []


def test_the_roster_and_attendance_files_are_checked_by_row(demo):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["身份证号码", "姓名"])
    sheet.append([resident_id(1), "学员1"])
    sheet.append(["110105194912310021", "错号"])  # a wrong check digit
    sheet.append([resident_id(1), "学员1"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    people, errors = read_class_roster(buffer.getvalue())
    assert [person.name for person in people] == ["学员1"]
    assert [error["row"] for error in errors] == [3, 4]
    training_class = filed(demo, 1)
    content = attendance_file([[resident_id(7), START, "是"], [resident_id(1), END + datetime.timedelta(days=1), "是"]])
    rows, row_errors = read_attendance(content)
    ledger = Ledger()
    with ledger.nothing(), pytest.raises(InvalidInput) as refused:
        record_attendance(
            user=demo["provider_clerk"],
            class_id=training_class.pk,
            rows=rows,
            errors=row_errors,
            filename="x.xlsx",
            content=content,
        )
    assert set(refused.value.fields) == {"rows[2].id_number", "rows[3]"}


def test_the_api_files_a_class_the_department_accepts_and_a_claim_names_it(demo):
    api = APIClient()
    api.force_authenticate(demo["provider_clerk"])
    start = TODAY + datetime.timedelta(days=14)
    body = class_data(1, 2, start=start, end=start + datetime.timedelta(days=4))
    response = api.post("/api/v1/classes/", body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["status"], created["days"], len(created["trainees"])) == ("filed", 5, 2)
    late = api.post("/api/v1/classes/", {**body, "start": TODAY.isoformat()}, format="json")
    assert late.status_code == 400 and "start" in late.json()["error"]["fields"]
    assert api.post(f"/api/v1/classes/{created['id']}/accept/", {}, format="json").status_code == 404
    assert api.post(f"/api/v1/classes/{created['id']}/refuse/", {"reason": "x"}, format="json").status_code == 404
    api.force_authenticate(demo["dept_reviewer"])
    accepted = api.post(f"/api/v1/classes/{created['id']}/accept/", {"comment": "同意"}, format="json")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    # A claim names a class that has run (filed and accepted in time) by its id.
    ran = filed(demo, 1)
    api.force_authenticate(demo["provider_clerk"])
    claim = claim_data(lines=[line(resident_id(1), "学员1")], training_start=START.isoformat(), training_end=END.isoformat())
    response = api.post("/api/v1/claims/", {**claim, "class": ran.pk}, format="json")
    assert response.status_code == 201, response.content
    made = response.json()
    assert made["class"] == ran.pk
    # No attendance recorded yet: unproven, not paid, and no day on record to claim.
    assert [flag["code"] for flag in made["lines"][0]["flags"]] == ["ATTENDANCE", "CLASS_DAYS"]
    assert "尚未登记考勤" in made["lines"][0]["flags"][0]["message"]
    other = api.post("/api/v1/claims/", {**claim, "class": created["id"] + 1000}, format="json")
    assert other.status_code == 400 and "class" in other.json()["error"]["fields"]


def roster_file(*serials) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["身份证号码 id_number", "姓名 name"])
    for serial in serials:
        sheet.append([resident_id(serial), f"学员{serial}"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_the_pages_file_accept_and_record_attendance(demo, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    start = TODAY + datetime.timedelta(days=21)
    form = {
        key: value for key, value in class_data(start=start, end=start + datetime.timedelta(days=4)).items() if key != "trainees"
    }
    client.force_login(demo["provider_clerk"])
    assert client.get("/classes/new/").status_code == 200
    response = client.post("/classes/new/", {**form, "file": SimpleUploadedFile("名单.xlsx", roster_file(1, 2))})
    assert response.status_code == 302, response.content.decode()[:2000]
    training_class = TrainingClass.objects.get()
    late = client.post(
        "/classes/new/", {**form, "start": TODAY.isoformat(), "file": SimpleUploadedFile("名单.xlsx", roster_file(1))}
    )
    assert late.status_code == 400 and "逾期备案" in late.content.decode()
    client.force_login(demo["dept_reviewer"])
    page = client.get(f"/classes/{training_class.pk}/").content.decode()
    assert "确认备案" in page and "学员1" in page
    assert client.post(f"/classes/{training_class.pk}/decide/", {"decision": "accept"}).status_code == 302
    training_class.refresh_from_db()
    assert training_class.status == "accepted"
    # The class has run (moved into the past here): the clerk uploads its attendance.
    TrainingClass.objects.filter(pk=training_class.pk).update(start=START, end=START + datetime.timedelta(days=4))
    client.force_login(demo["provider_clerk"])
    rows = [[resident_id(1), START + datetime.timedelta(days=n), "是" if n < 3 else "否"] for n in range(5)]
    upload = SimpleUploadedFile("考勤.xlsx", attendance_file(rows))
    assert client.post(f"/classes/{training_class.pk}/attendance/", {"file": upload}).status_code == 302
    page = client.get(f"/classes/{training_class.pk}/").content.decode()
    assert 'data-percent="60"' in page and 'data-percent="0"' in page


def test_the_clerk_records_attendance_day_by_day_on_a_page_and_sixty_percent_is_not_paid(demo, client):
    """温岭市某职业技能培训学校's clerk ticks who came, day by day, on the class's attendance page:
    学员1 came 6 of the 10 days, 学员2 every day. The claim's line for 学员1 is flagged ATTENDANCE; HR
    cannot approve it, rejects it with that reason and approves 学员2: only 学员2 goes on to be paid."""
    from audit.models import AuditEvent
    from claims.models import Attendance
    from workflow.services import LineDecisionInput

    training_class = filed(demo, 1, 2)
    places = dict(training_class.trainees.values_list("name", "pk"))
    client.force_login(demo["provider_clerk"])
    detail = client.get(f"/classes/{training_class.pk}/").content.decode()
    assert f"/classes/{training_class.pk}/attendance/{START.isoformat()}/" in detail
    for offset in range(training_class.calendar_days):
        day = (START + datetime.timedelta(days=offset)).isoformat()
        present = [places["学员2"]] + ([places["学员1"]] if offset < 6 else [])
        response = client.post(f"/classes/{training_class.pk}/attendance/{day}/", {"present": present})
        assert response.status_code == 302, response.content.decode()[:2000]
    # A day saved again replaces its record (not a second one).
    client.post(f"/classes/{training_class.pk}/attendance/{START.isoformat()}/", {"present": list(places.values())})
    assert Attendance.objects.filter(class_trainee__training_class=training_class).count() == 20
    page = client.get(f"/classes/{training_class.pk}/attendance/{START.isoformat()}/").content.decode()
    assert page.count('data-present="yes"') == 2 and "学员1" in page
    assert 'data-percent="60"' in client.get(f"/classes/{training_class.pk}/").content.decode()
    # Someone not on this class's roster, a day outside the class, or the department: refused, nothing saved.
    other = filed(demo, 3)
    stranger = other.trainees.get().pk
    refused = client.post(f"/classes/{training_class.pk}/attendance/{START.isoformat()}/", {"present": [stranger]})
    assert refused.status_code == 400
    assert Attendance.objects.filter(class_trainee__training_class=training_class, day=START, present=True).count() == 2
    assert (
        client.get(f"/classes/{training_class.pk}/attendance/{(END + datetime.timedelta(days=1)).isoformat()}/").status_code
        == 404
    )
    client.force_login(demo["dept_reviewer"])
    assert client.get(f"/classes/{training_class.pk}/attendance/{START.isoformat()}/").status_code == 200
    assert client.post(f"/classes/{training_class.pk}/attendance/{START.isoformat()}/", {"present": []}).status_code == 403
    assert Attendance.objects.filter(class_trainee__training_class=training_class, day=START, present=True).count() == 2
    entry = AuditEvent.objects.filter(action="attendance.recorded").order_by("-seq").first()
    assert entry.detail["source"] == "page" and entry.detail["rows"] == 2 and entry.actor == demo["provider_clerk"]

    claim = claim_for(demo, training_class, 1, 2)
    assert flags(claim, 1) == ["ATTENDANCE"] and flags(claim, 2) == []
    submit_claim(user=demo["provider_clerk"], claim=claim)
    decide_task(user=demo["dept_reviewer"], task_id=open_task_id(claim), decision="approve")
    with pytest.raises(InvalidInput):
        decide_task(user=demo["hr_reviewer"], task_id=open_task_id(claim), decision="approve")
    decide_task(
        user=demo["hr_reviewer"],
        task_id=open_task_id(claim),
        decision="approve",
        line_decisions=[LineDecisionInput(line=1, decision="reject", reason="ATTENDANCE")],
    )
    lines = {line.line_no: line for line in ClaimLine.objects.filter(claim=claim)}
    assert lines[1].decision == "reject" and lines[2].decision == "approve"
    claim.refresh_from_db()
    assert claim.total == lines[2].amount


def test_a_filing_tells_its_departments_reviewers_and_the_answer_tells_the_provider(demo, client, settings):
    """The department has days, not weeks, to answer a filing (it is filed a few working days
    before the class starts): its reviewers hear of it at once, in the app and by e-mail, and the
    provider's clerks hear the answer, a refusal with its reason."""
    settings.NOTIFICATION_SITE_URL = "https://claims.example.gov.cn"
    one = filed(demo, accept=False)
    told = Notification.objects.filter(training_class=one).select_related("recipient", "email")
    reviewers = {note.recipient.username for note in told}
    assert "dept_reviewer" in reviewers
    assert not reviewers & {"dept2_reviewer", "provider_clerk", "provider2_clerk", "hr_reviewer", "admin"}
    note = told.get(recipient=demo["dept_reviewer"])
    assert (note.kind, note.claim_id) == ("class_filed", None)
    assert one.number in note.message and date_text(one.start) in note.message
    assert one.number in note.email.subject and note.email.body.endswith(f"https://claims.example.gov.cn/classes/{one.pk}/")
    client.force_login(demo["dept_reviewer"])
    assert f'href="/classes/{one.pk}/"' in client.get("/notifications/").content.decode()
    assert client.get(f"/classes/{one.pk}/").status_code == 200
    api = APIClient()
    api.force_authenticate(demo["dept_reviewer"])
    listed = next(item for item in api.get("/api/v1/notifications/").json()["results"] if item["kind"] == "class_filed")
    assert (listed["training_class"], listed["class_number"], listed["claim"], listed["claim_number"]) == (
        one.pk,
        one.number,
        None,
        None,
    )

    refuse_class(user=demo["dept_reviewer"], class_id=one.pk, reason="教师无资质")
    answer = Notification.objects.filter(training_class=one, kind="class_decided").select_related("recipient")
    clerks = {note.recipient.username for note in answer}
    assert "provider_clerk" in clerks and not clerks & {"provider2_clerk", "dept_reviewer"}
    assert "不予备案：教师无资质" in answer.get(recipient=demo["provider_clerk"]).message
    two = filed(demo, name="低压电工作业 第2期")  # accepted
    accepted = Notification.objects.get(training_class=two, kind="class_decided", recipient=demo["provider_clerk"])
    assert accepted.message == f"班级 {two.number}（低压电工作业 第2期）已备案"
    client.force_login(demo["provider_clerk"])
    page = client.get("/notifications/").content.decode()
    assert f'href="/classes/{one.pk}/"' in page and f'href="/classes/{two.pk}/"' in page
