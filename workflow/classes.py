"""Class filing (开班备案, RULES.md N1) and attendance (N9): the writes. A provider's clerk files a
class before it starts (at least the jurisdiction's ``class_filing_days_ahead`` working days,
5 by default: a later filing is refused, nothing saved), with its planned trainees; the
department's reviewer accepts or refuses it; once accepted the clerk records attendance. Each
is one transaction with its ledger entry. What a filed class means for a claim's lines is
claims/classes.py. In the workflow layer because the deadline counts working days on the
workflow's calendar (``working_days_after``)."""

import datetime
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from audit import actions
from audit.services import record_event
from claims import access
from claims.bounds import character_refusal, date_out_of_range, reason_refusal
from claims.classes import get_class_for_user
from claims.dates import date_text, local_date
from claims.errors import ActionForbidden, InvalidInput, NotInScope, StepAlreadyTaken
from claims.inputs import ErrorCollector
from claims.line_fields import LINE_FIELDS
from claims.models import Attendance, ClassStatus, ClassTrainee, Jurisdiction, Level, TrainingClass
from claims.personal_data import id_number_digest
from claims.roster import AttendanceRow, error_fields
from claims.selectors import departments_of_reviewer, providers_of_clerk
from claims.services import _resolve_department_and_policy, _resolve_provider, _trainee_ids_for

from .calendar import WorkingCalendar
from .notify import notify_class_decided, notify_class_filed

SPECS = {spec.name: spec for spec in LINE_FIELDS}


class FileRejected(InvalidInput):
    """A roster or attendance file with errors: ``rows`` are the row errors (claims.roster's shape)."""

    def __init__(self, message: str, *, rows: list[dict]):
        super().__init__(message, fields=error_fields(rows))
        self.rows = rows


MAX_TRAINEES = 1000


def working_days_after(*, jurisdiction: Jurisdiction, start: datetime.date, days: int) -> datetime.date:
    """The date ``days`` working days after ``start``, on the jurisdiction's working-day calendar
    (workflow/calendar.py: China's public holidays and 调休, the administrator's overrides): the
    one place the filing deadline asks it."""
    return WorkingCalendar(jurisdiction.pk).add_working_days(start, days)


def earliest_start(*, jurisdiction: Jurisdiction, filed_on: datetime.date) -> datetime.date:
    """The earliest start of a class filed on ``filed_on``."""
    return working_days_after(jurisdiction=jurisdiction, start=filed_on, days=jurisdiction.class_filing_days_ahead)


@dataclass(frozen=True)
class Person:
    id_number: str
    name: str


def _text(data: dict, name: str, limit: int, errors: ErrorCollector, *, required: bool = True) -> str:
    value = data.get(name)
    value = "" if value is None else str(value).strip()
    if not value and required:
        errors.add(name, _("必填。"))
    elif len(value) > limit:
        errors.add(name, _("不能超过 %(n)d 个字符。") % {"n": limit})
    elif refusal := character_refusal(value):
        errors.add(name, refusal)
    return value


# A class filed without its daily hours (API v1's body has none) takes the whole day: its hours
# unknown, it overlaps every class of its trainees on its days (CLASS_OVERLAP), never none.
WHOLE_DAY = (datetime.time(0, 0), datetime.time(23, 59, 59))


def _time(data: dict, name: str, errors: ErrorCollector, *, default: datetime.time) -> datetime.time | None:
    value = data.get(name)
    if isinstance(value, datetime.time):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        return datetime.time.fromisoformat(str(value or "").strip())
    except ValueError:
        errors.add(name, _("时间格式应为 HH:MM（例如 08:30）。"))
        return None


def _date(data: dict, name: str, errors: ErrorCollector) -> datetime.date | None:
    value = data.get(name)
    if isinstance(value, datetime.date):
        parsed = value
    else:
        try:
            parsed = datetime.date.fromisoformat(str(value or "").strip())
        except ValueError:
            errors.add(name, _("必填，日期格式应为 YYYY-MM-DD。"))
            return None
    problem = date_out_of_range(parsed)
    if problem:
        errors.add(name, problem)
        return None
    return parsed


def _parsed(name: str, value, path: str, errors: ErrorCollector):
    try:
        return SPECS[name].parse(value)
    except ValidationError as error:
        for message in error.messages:
            errors.add(path, message)
        return None


def parse_trainees(raw, errors: ErrorCollector) -> list[Person]:
    """The planned trainees as the API sends them: [{"id_number", "name"}], checked as a claim
    line's fields are (the same parsing); errors by path, ``trainees[2].id_number``."""
    if not isinstance(raw, list) or not raw:
        errors.add("trainees", _("至少需要一名学员。"))
        return []
    if len(raw) > MAX_TRAINEES:
        errors.add("trainees", _("每班最多 %(n)d 名学员。") % {"n": MAX_TRAINEES})
        return []
    people, seen = [], {}
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            errors.add(f"trainees[{index}]", _("每行须为一个对象。"))
            continue
        id_number = _parsed("id_number", item.get("id_number"), f"trainees[{index}].id_number", errors)
        name = _parsed("name", item.get("name"), f"trainees[{index}].name", errors)
        if id_number and name:
            if id_number in seen:
                errors.add(f"trainees[{index}].id_number", _("与第 %(n)d 名学员是同一人。") % {"n": seen[id_number] + 1})
                continue
            seen[id_number] = index
            people.append(Person(id_number, name))
    return people


def _class_detail(training_class: TrainingClass) -> dict:
    return {
        "number": training_class.number,
        "provider": training_class.provider.code,
        "department": training_class.department.code,
        "policy": training_class.policy.code,
        "occupation": training_class.occupation.code,
        "level": training_class.level,
        "name": training_class.name,
        "start": training_class.start,
        "end": training_class.end,
        "hours": f"{training_class.daily_start:%H:%M}-{training_class.daily_end:%H:%M}",
        "place": training_class.place,
        "teacher": training_class.teacher,
    }


def _roster_detail(training_class: TrainingClass) -> list[str]:
    """The roster as the ledger keeps it: masked ID numbers only."""
    return list(training_class.trainees.order_by("row").values_list("trainee__id_number_masked", flat=True))


def _set_roster(training_class: TrainingClass, people: list[Person]) -> None:
    training_class.trainees.all().delete()
    ids = _trainee_ids_for(people)
    ClassTrainee.objects.bulk_create(
        [
            ClassTrainee(training_class=training_class, trainee_id=trainee_id, name=person.name, row=row)
            for row, (person, trainee_id) in enumerate(zip(people, ids, strict=True), 1)
        ]
    )


def default_class_name(*, occupation, level: str, start: datetime.date) -> str:
    """The name of a class filed without one (API v1's body has none): what it teaches and when,
    in the product's language whatever the caller's (it is stored)."""
    with translation.override(settings.LANGUAGE_CODE):
        return f"{occupation.name} {Level(level).label} {start.isoformat()}"


@transaction.atomic
def file_class(*, user, data: dict, today: datetime.date | None = None) -> TrainingClass:
    """A provider's clerk files a class before it starts. Every field is checked, the filing
    deadline too; on any error nothing is saved (the error names the field)."""
    access.require(user, access.FILE_CLASS)
    today = today or timezone.localdate()
    errors = ErrorCollector()
    provider = _resolve_provider(user=user, provider_code=data.get("provider"), errors=errors)
    department = policy = None
    if provider is not None:
        department, policy = _resolve_department_and_policy(data=data, jurisdiction=provider.jurisdiction, errors=errors)
    name = _text(data, "name", 200, errors, required=False)
    occupation = _parsed("occupation", data.get("occupation"), "occupation", errors)
    level = data.get("level")
    if level not in Level.values:
        errors.add(
            "level", _("无效的取值“%(value)s”，可选：%(allowed)s。") % {"value": level, "allowed": ", ".join(Level.values)}
        )
    start, end = _date(data, "start", errors), _date(data, "end", errors)
    daily_start = _time(data, "daily_start", errors, default=WHOLE_DAY[0])
    daily_end = _time(data, "daily_end", errors, default=WHOLE_DAY[1])
    if not name and occupation and level in Level.values and start:
        name = default_class_name(occupation=occupation, level=level, start=start)
    place = _text(data, "place", 200, errors)
    teacher = _text(data, "teacher", 100, errors)
    people = parse_trainees(data.get("trainees"), errors)
    if start and end and end < start:
        errors.add("end", _("结业日期不能早于开班日期。"))
    if daily_start and daily_end and daily_end <= daily_start:
        errors.add("daily_end", _("每日结束时间须晚于开始时间。"))
    if start and provider is not None:
        jurisdiction = provider.jurisdiction
        earliest = earliest_start(jurisdiction=jurisdiction, filed_on=today)
        if start < earliest:
            errors.add(
                "start",
                _(
                    "逾期备案，不予受理：开班前须至少提前 %(days)d 个工作日备案。今天（%(today)s）备案的班级最早 %(earliest)s 开班，"
                    "本班 %(start)s 开班。"
                )
                % {
                    "days": jurisdiction.class_filing_days_ahead,
                    "today": date_text(today),
                    "earliest": date_text(earliest),
                    "start": date_text(start),
                },
            )
    if errors:
        raise InvalidInput(_("开班备案信息有误，未保存。"), fields=errors.fields)
    training_class = TrainingClass.objects.create(
        number=f"new-{timezone.now().timestamp():.6f}"[:30],
        jurisdiction=provider.jurisdiction,
        provider=provider,
        department=department,
        policy=policy,
        occupation=occupation,
        level=level,
        name=name,
        start=start,
        end=end,
        daily_start=daily_start,
        daily_end=daily_end,
        place=place,
        teacher=teacher,
        filed_by=user,
    )
    filed_year = local_date(training_class.filed_at, training_class.jurisdiction_id).year
    training_class.number = f"{provider.jurisdiction.code}-BA-{filed_year}-{training_class.pk:06d}"
    training_class.save(update_fields=["number"])
    _set_roster(training_class, people)
    record_event(
        actor=user,
        action=actions.CLASS_FILED,
        obj=training_class,
        to_state=training_class.status,
        detail={**_class_detail(training_class), "trainees": _roster_detail(training_class)},
    )
    notify_class_filed(training_class=training_class)
    return training_class


def _require_clerk_of(user, training_class: TrainingClass) -> None:
    if not (access.may(user, access.FILE_CLASS) and providers_of_clerk(user).filter(pk=training_class.provider_id).exists()):
        raise ActionForbidden(_("只有本机构经办人可以修改该班级的备案材料。"))


def require_reviewer_of(user, training_class: TrainingClass) -> None:
    # API v1: "the class's department reviewer; others 404": to anyone else, the filing to decide
    # is not there, even to those who read the class (its provider, HR, finance, auditors).
    if not (
        access.may(user, access.DECIDE_CLASS) and departments_of_reviewer(user).filter(pk=training_class.department_id).exists()
    ):
        raise NotInScope()


def _decide(*, user, class_id, status: str, reason: str) -> TrainingClass:
    training_class = get_class_for_user(user=user, class_id=class_id)
    require_reviewer_of(user, training_class)
    now = timezone.now()
    # Of two decisions at once, one changes the row; the other is told it was decided.
    if not TrainingClass.objects.filter(pk=training_class.pk, status=ClassStatus.FILED).update(
        status=status, decided_by=user, decided_at=now, decision_reason=reason
    ):
        raise StepAlreadyTaken(_("该班级的备案已处理。"))
    training_class.refresh_from_db()
    record_event(
        actor=user,
        action=actions.CLASS_ACCEPTED if status == ClassStatus.ACCEPTED else actions.CLASS_REFUSED,
        obj=training_class,
        from_state=ClassStatus.FILED,
        to_state=status,
        reason=reason,
        detail={"number": training_class.number},
    )
    notify_class_decided(training_class=training_class)
    return training_class


@transaction.atomic
def accept_class(*, user, class_id, comment: str = "") -> TrainingClass:
    """The class's department accepts the filing (备案)."""
    comment = (comment or "").strip()
    if (problem := reason_refusal(comment, required=False)) is not None:
        raise InvalidInput(_("意见有误。"), fields={"comment": [problem]})
    return _decide(user=user, class_id=class_id, status=ClassStatus.ACCEPTED, reason=comment)


@transaction.atomic
def refuse_class(*, user, class_id, reason: str) -> TrainingClass:
    """The class's department refuses the filing, with its reason."""
    reason = (reason or "").strip()
    if (problem := reason_refusal(reason)) is not None:
        raise InvalidInput(_("不予备案须写明理由。"), fields={"reason": [problem]})
    return _decide(user=user, class_id=class_id, status=ClassStatus.REFUSED, reason=reason)


@transaction.atomic
def replace_class_roster(*, user, class_id, people: list[Person]) -> TrainingClass:
    """The clerk replaces the planned trainees while the filing awaits the department."""
    training_class = get_class_for_user(user=user, class_id=class_id)
    _require_clerk_of(user, training_class)
    training_class = TrainingClass.objects.select_for_update().get(pk=training_class.pk)
    if training_class.status != ClassStatus.FILED:
        raise StepAlreadyTaken(_("备案已处理，学员名单不能再修改。"))
    if not people:
        raise InvalidInput(_("至少需要一名学员。"), fields={"file": [_("至少需要一名学员。")]})
    before = _roster_detail(training_class)
    _set_roster(training_class, people)
    record_event(
        actor=user,
        action=actions.CLASS_ROSTER_CHANGED,
        obj=training_class,
        detail={"number": training_class.number, "before": before, "after": _roster_detail(training_class)},
    )
    return training_class


@transaction.atomic
def record_attendance(
    *, user, class_id, rows: list[AttendanceRow], errors: list[dict], filename: str, content: bytes
) -> TrainingClass:
    """The clerk records attendance (rows read by claims.roster.read_attendance): each person on
    the filed roster, each day within the class's dates and not after today; a row given again
    replaces the day's record. Any error refuses the whole file, nothing saved."""
    training_class = get_class_for_user(user=user, class_id=class_id)
    _require_clerk_of(user, training_class)
    training_class = TrainingClass.objects.select_for_update().get(pk=training_class.pk)
    if training_class.status != ClassStatus.ACCEPTED:
        raise StepAlreadyTaken(_("班级备案确认后才能登记考勤。"))
    from claims.roster import row_error

    problems = list(errors)
    places = {
        digest: place
        for place, digest in (
            (place, place.trainee.id_number_digest) for place in training_class.trainees.select_related("trainee")
        )
    }
    wanted = []
    for row in rows:
        place = places.get(id_number_digest(row.id_number))
        if place is None:
            problems.append(row_error(row.row, "id_number", lambda: _("不在该班级的备案学员名单中。")))
            continue
        if not attendance_day_allowed(training_class, row.day):
            problems.append(row_error(row.row, None, lambda: _day_refusal(training_class)))
            continue
        wanted.append((place, row))
    if problems:
        raise FileRejected(_("考勤表有误，未登记。"), rows=problems)
    _write_attendance(
        user=user,
        training_class=training_class,
        marks=[(place, row.day, row.present) for place, row in wanted],
        detail={"source": "file", "filename": filename[:255], "sha256": hashlib.sha256(content).hexdigest()},
    )
    return training_class


def attendance_day_allowed(training_class: TrainingClass, day: datetime.date) -> bool:
    """Attendance is recorded for a day of the class, never for a day still to come."""
    return training_class.start <= day <= training_class.end and day <= timezone.localdate()


def _day_refusal(training_class: TrainingClass) -> str:
    return _("日期须在开班日期与结业日期之间，且不晚于今天（%(start)s 至 %(end)s）。") % {
        "start": date_text(training_class.start),
        "end": date_text(training_class.end),
    }


def _write_attendance(*, user, training_class: TrainingClass, marks: list, detail: dict) -> None:
    """marks: (roster place, day, present); a day given again replaces its record. One ledger entry."""
    for place, day, present in marks:
        Attendance.objects.update_or_create(class_trainee=place, day=day, defaults={"present": present, "recorded_by": user})
    record_event(
        actor=user,
        action=actions.ATTENDANCE_RECORDED,
        obj=training_class,
        detail={
            "number": training_class.number,
            **detail,
            "rows": len(marks),
            "present": sum(1 for _place, _day, present in marks if present),
            "days": sorted({day for _place, day, _present in marks}),
        },
    )


@transaction.atomic
def record_day_attendance(*, user, class_id, day: datetime.date, present: set[int]) -> TrainingClass:
    """The clerk records one day of the class on the attendance page: every trainee on the filed
    roster, present when their roster place's id is in ``present``, absent otherwise (the day's
    earlier record replaced). An id not on this class's roster refuses the whole day, nothing saved."""
    training_class = get_class_for_user(user=user, class_id=class_id)
    _require_clerk_of(user, training_class)
    training_class = TrainingClass.objects.select_for_update().get(pk=training_class.pk)
    if training_class.status != ClassStatus.ACCEPTED:
        raise StepAlreadyTaken(_("班级备案确认后才能登记考勤。"))
    if not attendance_day_allowed(training_class, day):
        raise InvalidInput(_day_refusal(training_class), fields={"day": [_day_refusal(training_class)]})
    places = list(training_class.trainees.order_by("row"))
    unknown = set(present) - {place.pk for place in places}
    if unknown:
        message = _("不在该班级的备案学员名单中。")
        raise InvalidInput(message, fields={"present": [message]})
    _write_attendance(
        user=user,
        training_class=training_class,
        marks=[(place, day, place.pk in present) for place in places],
        detail={"source": "page"},
    )
    return training_class
