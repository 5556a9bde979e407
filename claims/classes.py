"""Filed classes (开班备案, RULES.md N1) and their attendance (N9), as the domain sees them: who
sees which class, and what a filed class means for the lines of a claim made for it. The
writes (filing, acceptance, roster, attendance) are workflow/classes.py (the filing deadline
counts working days on the workflow's calendar).

A claim's class flags, recomputed with its other flags (``claims.services.refresh_flags``: at
every draft change, submission and review):

- CLASS_NOT_FILED: the standard requires filing (``SubsidyPolicy.class_filing_required``), the
  class starts on or after the jurisdiction's ``class_filing_from``, and the claim names no
  accepted class of its provider;
- CLASS_ROSTER: the line's trainee is not on the filed roster;
- CLASS_DAYS: the line claims more training days than the class taught (``ClassAttendance``:
  the days of its attendance record);
- CLASS_OVERLAP: the trainee is also on another filed (not refused) class whose dates and daily
  hours overlap this one's;
- ATTENDANCE: the trainee attended less than the jurisdiction's minimum share of the days the
  class taught (``attendance_minimum_percent``, 80 by default), or the class has no attendance
  recorded at all; the line is not paid (no override).
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from .eligibility import Finding, Rule, written_date
from .errors import NotInScope
from .models import Attendance, Claim, ClaimLine, ClassStatus, ClassTrainee, TrainingClass
from .selectors import departments_of_reviewer, jurisdictions_overseen_by, providers_of_clerk

# --------------------------------------------------------------------------- who sees which class


def classes_visible_to(user) -> QuerySet:
    """A provider's clerks see its classes; a department's reviewers the classes filed with it;
    HR, finance and auditors their jurisdictions' classes. Nobody else sees any."""
    if not user.is_authenticated:
        return TrainingClass.objects.none()
    return TrainingClass.objects.filter(
        Q(provider__in=providers_of_clerk(user).values("pk"))
        | Q(department__in=departments_of_reviewer(user).values("pk"))
        | Q(jurisdiction__in=jurisdictions_overseen_by(user).values("pk"))
    )


def get_class_for_user(*, user, class_id) -> TrainingClass:
    try:
        return (
            classes_visible_to(user)
            .select_related("provider", "department", "policy", "occupation", "jurisdiction")
            .get(pk=class_id)
        )
    except (TrainingClass.DoesNotExist, ValueError, TypeError):
        raise NotInScope() from None


def attendance_of(training_class: TrainingClass) -> QuerySet:
    return Attendance.objects.filter(class_trainee__training_class=training_class)


@dataclass(frozen=True)
class ClassAttendance:
    """A class's attendance record: the days it taught and each trainee's days present.

    The days taught are the days on which anyone on the roster was recorded, present or absent:
    the filing gives only the first and last day (a weekday class skips the weekends, a class for
    working adults teaches only on them), so the record is what says which days were taught.
    Counting them over the whole class, not per trainee, keeps an absentee's missing row from
    helping: on a day the class taught, a trainee not recorded was not there (docs/rules.md N9)."""

    days_taught: int
    present: dict[int, int]  # days present, by trainee id

    def days_present(self, trainee_id: int) -> int:
        return self.present.get(trainee_id, 0)

    def percent(self, trainee_id: int) -> int:
        return self.days_present(trainee_id) * 100 // self.days_taught if self.days_taught else 0

    def under(self, trainee_id: int, minimum_percent: int) -> bool:
        """Present on less than ``minimum_percent`` of the days taught; with no day on record the
        attendance is unproven, which is under too."""
        return not self.days_taught or self.days_present(trainee_id) * 100 < minimum_percent * self.days_taught


def class_attendance(training_class: TrainingClass) -> ClassAttendance:
    record = attendance_of(training_class)
    present = dict(
        record.filter(present=True)
        .values("class_trainee__trainee_id")
        .annotate(n=Count("id"))
        .values_list("class_trainee__trainee_id", "n")
    )
    return ClassAttendance(days_taught=record.values("day").distinct().count(), present=present)


def roster_with_attendance(training_class: TrainingClass, minimum_percent: int) -> list[dict]:
    """The roster in filed order, each with the days present, the share of the days taught and
    whether it is under the jurisdiction's minimum (a line of theirs would be flagged ATTENDANCE)."""
    attendance = class_attendance(training_class)
    return [
        {
            "row": place.row,
            "trainee": place.trainee,
            "name": place.name,
            "present": attendance.days_present(place.trainee_id),
            "days": attendance.days_taught,
            "percent": attendance.percent(place.trainee_id),
            "under": attendance.under(place.trainee_id, minimum_percent),
        }
        for place in training_class.trainees.select_related("trainee").order_by("row")
    ]


# --------------------------------------------------------------------------- a claim's class flags

SOURCE_FILING = "RULES.md §6 N1（开班备案）"
SOURCE_N9 = "RULES.md §6 N9（天津）"
CLASS_NOT_FILED = Rule(
    "CLASS_NOT_FILED",
    SOURCE_FILING,
    "该补贴标准的培训班须在开班前备案（%(from)s 起开班的班级）：本申领未关联已确认备案的班级。",
    "Classes under this standard starting from %(from)s are filed before they start: this claim names no accepted filed class.",
    lambda ctx: None,
)
CLASS_ROSTER = Rule(
    "CLASS_ROSTER",
    SOURCE_FILING,
    "该学员不在备案班级 %(number)s 的学员名单中。",
    "The trainee is not on the roster of filed class %(number)s.",
    lambda ctx: None,
)
CLASS_DAYS = Rule(
    "CLASS_DAYS",
    SOURCE_FILING,
    "申领培训天数 %(claimed)d 天，超过备案班级已登记考勤的上课日 %(days)d 天（%(start)s 至 %(end)s）。",
    "%(claimed)d training days claimed, more than the %(days)d days the filed class taught by its attendance record (%(start)s to %(end)s).",
    lambda ctx: None,
)
CLASS_OVERLAP = Rule(
    "CLASS_OVERLAP",
    SOURCE_N9,
    "该学员同时在另一备案班级（日期和时段重叠）：%(related)s。",
    "The trainee is also on another filed class at overlapping dates and hours: %(related)s.",
    lambda ctx: None,
)
ATTENDANCE = Rule(
    "ATTENDANCE",
    SOURCE_N9,
    "出勤 %(present)d 天 / 共 %(days)d 天（%(percent)d%%），低于最低出勤率 %(minimum)d%%，不予补贴。",
    "Present %(present)d of %(days)d days (%(percent)d%%), below the minimum of %(minimum)d%%: not paid.",
    lambda ctx: None,
)
ATTENDANCE_NOT_RECORDED = Rule(
    "ATTENDANCE",
    SOURCE_N9,
    "备案班级（%(start)s 至 %(end)s）尚未登记考勤：出勤无据，不予补贴。",
    "No attendance is recorded for the filed class (%(start)s to %(end)s): attendance unproven, not paid.",
    lambda ctx: None,
)
CLASS_CODES = frozenset(rule.code for rule in (CLASS_NOT_FILED, CLASS_ROSTER, CLASS_DAYS, CLASS_OVERLAP, ATTENDANCE))


def filing_required(claim: Claim) -> bool:
    """Whether the claim's class had to be filed: a standard that requires it, a class starting
    on or after the jurisdiction's filing start date."""
    start = claim.jurisdiction.class_filing_from
    return bool(claim.policy.class_filing_required and start is not None and claim.training_start >= start)


def _overlapping_classes(training_class: TrainingClass, trainee_ids) -> dict[int, list[str]]:
    """Other filed (not refused) classes of these trainees at overlapping dates and daily hours, by trainee."""
    others = (
        ClassTrainee.objects.filter(trainee_id__in=trainee_ids)
        .exclude(training_class=training_class)
        .exclude(training_class__status=ClassStatus.REFUSED)
        .filter(
            training_class__start__lte=training_class.end,
            training_class__end__gte=training_class.start,
            training_class__daily_start__lt=training_class.daily_end,
            training_class__daily_end__gt=training_class.daily_start,
        )
        .order_by("training_class__number")
        .values_list("trainee_id", "training_class__number")
    )
    found: dict[int, list[str]] = defaultdict(list)
    for trainee_id, number in others:
        found[trainee_id].append(number)
    return found


def class_flags(claim: Claim, lines: list[ClaimLine] | None = None) -> dict[int, list[dict]]:
    """The class flags of each line of the claim (or of ``lines``, its lines read already), by line id."""
    lines = list(claim.lines.all()) if lines is None else lines
    flags: dict[int, list[dict]] = {line.pk: [] for line in lines}
    training_class = claim.training_class
    usable = training_class is not None and training_class.status == ClassStatus.ACCEPTED
    if not usable:
        if filing_required(claim):
            flag = CLASS_NOT_FILED.flag(Finding({"from": written_date(claim.jurisdiction.class_filing_from)}))
            for line in lines:
                flags[line.pk].append(flag)
        return flags
    on_roster = set(training_class.trainees.values_list("trainee_id", flat=True))
    attendance = class_attendance(training_class)
    overlapping = _overlapping_classes(training_class, [line.trainee_id for line in lines])
    minimum = claim.jurisdiction.attendance_minimum_percent
    dates = {"start": written_date(training_class.start), "end": written_date(training_class.end)}
    for line in lines:
        found = flags[line.pk]
        if line.trainee_id not in on_roster:
            found.append(CLASS_ROSTER.flag(Finding({"number": training_class.number})))
        elif not attendance.days_taught:
            found.append(ATTENDANCE_NOT_RECORDED.flag(Finding(dates)))
        elif attendance.under(line.trainee_id, minimum):
            found.append(
                ATTENDANCE.flag(
                    Finding(
                        {
                            "present": attendance.days_present(line.trainee_id),
                            "days": attendance.days_taught,
                            "percent": attendance.percent(line.trainee_id),
                            "minimum": minimum,
                        }
                    )
                )
            )
        if line.training_days > attendance.days_taught:
            found.append(CLASS_DAYS.flag(Finding({"claimed": line.training_days, "days": attendance.days_taught, **dates})))
        if overlapping.get(line.trainee_id):
            found.append(CLASS_OVERLAP.flag(Finding({}, tuple(overlapping[line.trainee_id]))))
    return flags


def refresh_class_flags(claim: Claim, *, at_review: bool = False) -> list[ClaimLine]:
    """Set each line's class flags as they now are (other flags kept); the changed lines. The
    caller tells the inbox (``claims.services.recompute_total`` sends ``claim_lines_changed``).
    ``at_review``: a claim with no class that needs none has no class flag to set, nor one left
    from before (every change of its class, standard or dates refreshed them): nothing is read."""
    if at_review and claim.training_class_id is None and not filing_required(claim):
        return []
    lines = list(claim.lines.all())
    computed = class_flags(claim, lines)
    changed = []
    for line in lines:
        flags = [flag for flag in line.flags if flag.get("code") not in CLASS_CODES] + computed.get(line.pk, [])
        if flags != line.flags:
            line.flags = flags
            changed.append(line)
    if changed:
        ClaimLine.objects.bulk_update(changed, ["flags"])
    return changed


def attendance_day_sheet(training_class: TrainingClass, day) -> list[dict]:
    """One day of the class on the attendance page: each trainee on the roster, in filed order,
    with the day's record (True present, False absent, None not yet recorded)."""
    recorded = dict(attendance_of(training_class).filter(day=day).values_list("class_trainee_id", "present"))
    return [
        {"place": place.pk, "row": place.row, "trainee": place.trainee, "name": place.name, "present": recorded.get(place.pk)}
        for place in training_class.trainees.select_related("trainee").order_by("row")
    ]


def attendance_days(training_class: TrainingClass, *, until) -> list[dict]:
    """The class's days up to ``until`` (today), each with how many trainees are recorded present
    and recorded at all, for the links to each day's page."""
    counts = {
        row["day"]: row
        for row in attendance_of(training_class)
        .values("day")
        .annotate(recorded=Count("id"), present=Count("id", filter=Q(present=True)))
    }
    days = []
    day = training_class.start
    last = min(training_class.end, until)
    while day <= last:
        found = counts.get(day, {})
        days.append({"day": day, "recorded": found.get("recorded", 0), "present": found.get("present", 0)})
        day += datetime.timedelta(days=1)
    return days
