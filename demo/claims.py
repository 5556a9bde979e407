"""A few claims and class filings for `make run` (seed_demo --with-claims), made through the real
services, so that every desk has something to do: one claim per step, approved ones awaiting
finance's batch, and a class filing awaiting the department's answer."""

import datetime

from django.contrib.auth import get_user_model
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from claims.models import Claim
from claims.services import create_claim
from claims.validators import resident_id_check_char
from workflow.classes import accept_class, earliest_start, file_class
from workflow.services import decide_task, submit_claim

from . import assessment


def _resident_id(serial: int) -> str:
    first17 = f"33108119900101{serial:03d}"
    return first17 + resident_id_check_char(first17)


def _open_task_id(claim: Claim) -> int:
    claim.refresh_from_db()
    return (
        Task.objects.filter(process_id=claim.process_id, status__in=(STATUS.NEW, STATUS.ASSIGNED))
        .values_list("pk", flat=True)
        .get()
    )


def _claim(user, *, class_no: int, serials, policy="S3", **line_fields) -> Claim:
    today = datetime.date.today()
    for serial, name in serials:
        # The demo's assessment body issued each certificate (signed): they verify at their source.
        assessment.issue(
            number=f"T-{today.year}-{serial:04d}",
            holder_name=name,
            holder_id_number=_resident_id(serial),
            certificate_date=today - datetime.timedelta(days=30),
        )
    lines = [
        {
            "id_number": _resident_id(serial),
            "name": name,
            "occupation": "电工",
            "level": "senior",
            "certificate_type": "special_operation",
            "certificate_number": f"T-{today.year}-{serial:04d}",
            "certificate_date": (today - datetime.timedelta(days=30)).isoformat(),
            "training_days": 10,
            "stated_cost": "450.00",
            **line_fields,
        }
        for serial, name in serials
    ]
    return create_claim(
        user=user,
        data={
            "department": "WL-YJJ",
            "policy": policy,
            "class_name": f"低压电工作业 {today.year} 第{class_no}期",
            "training_start": (today - datetime.timedelta(days=60)).isoformat(),
            "training_end": (today - datetime.timedelta(days=40)).isoformat(),
            "lines": lines,
        },
    )


def _class_data(*, name: str, start: datetime.date, serials) -> dict:
    return {
        "department": "WL-YJJ",
        "policy": "S3",
        "occupation": "电工",
        "level": "senior",
        "name": name,
        "start": start.isoformat(),
        "end": (start + datetime.timedelta(days=9)).isoformat(),
        "daily_start": "08:30",
        "daily_end": "17:00",
        "place": "温岭市太平街道 实训楼 201",
        "teacher": "林老师",
        "trainees": [{"id_number": _resident_id(serial), "name": person} for serial, person in serials],
    }


def seed_demo_classes(clerk, dept) -> int:
    """Two filings of the first provider with 市应急管理局 (STORIES 1), through the real services:
    one that has run, accepted when it was filed; one filed today for the weeks ahead, waiting for
    the department's answer (its reviewers are told). Returns how many were filed."""
    today = datetime.date.today()
    ran = datetime.date(today.year, today.month, 1) - datetime.timedelta(days=45)
    filed_then = file_class(
        user=clerk,
        data=_class_data(name=f"低压电工作业 {ran.year} 第1期", start=ran, serials=[(3, "王五"), (4, "赵六")]),
        today=ran - datetime.timedelta(days=14),
    )
    accept_class(user=dept, class_id=filed_then.pk, comment="材料齐全")
    upcoming = earliest_start(jurisdiction=filed_then.jurisdiction, filed_on=today) + datetime.timedelta(days=7)
    file_class(
        user=clerk,
        data=_class_data(name=f"低压电工作业 {upcoming.year} 第2期", start=upcoming, serials=[(12, "陈十四"), (13, "褚十五")]),
        today=today,
    )
    return 2


def seed_demo_claims() -> int:
    """Only into a database without claims; returns how many were made."""
    if Claim.objects.exists():
        return 0
    users = {
        user.username: user
        for user in get_user_model().objects.filter(
            username__in=("provider_clerk", "provider2_clerk", "dept_reviewer", "hr_reviewer")
        )
    }
    clerk, clerk2, dept, hr = (users[name] for name in ("provider_clerk", "provider2_clerk", "dept_reviewer", "hr_reviewer"))
    _claim(clerk, class_no=1, serials=[(1, "张三"), (2, "李四")])  # a draft
    at_department = _claim(clerk, class_no=2, serials=[(3, "王五"), (4, "赵六")])
    submit_claim(user=clerk, claim=at_department)
    at_hr = _claim(clerk2, class_no=3, serials=[(5, "钱七"), (6, "孙八")])
    submit_claim(user=clerk2, claim=at_hr)
    decide_task(user=dept, task_id=_open_task_id(at_hr), decision="approve", comment="材料齐全")
    for class_no, (owner, serials) in enumerate(
        [(clerk, [(7, "周九"), (8, "吴十"), (9, "郑十一")]), (clerk2, [(10, "王十二"), (11, "冯十三")])], start=4
    ):
        approved = _claim(owner, class_no=class_no, serials=serials)
        submit_claim(user=owner, claim=approved)
        decide_task(user=dept, task_id=_open_task_id(approved), decision="approve", comment="材料齐全")
        decide_task(user=hr, task_id=_open_task_id(approved), decision="approve", comment="同意")
    seed_demo_classes(clerk, dept)
    return 5
