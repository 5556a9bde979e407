"""Every deadline of the product, computed here and nowhere else: a task's due date (the inbox
read model stores it, the task and claim pages and the API read it from there), whether it is
due soon or overdue, the moment a deadline passes (the timers, timers.py), and how long a step took.

A time limit is a number of working days (steps.DEADLINE_KINDS, or the jurisdiction's
StepDeadline row) counted on the jurisdiction's working-day calendar (calendar.py) from the
local date the task was created: created on Friday 2026-09-25 in Beijing with 3 working days,
due on Tuesday 2026-09-29 (the days in between are not counted twice, the start day not at all).
A task is overdue from the first moment of the day after its due date, local time."""

import datetime

from django.db.models import Q
from django.utils import timezone

from claims.dates import local_date, local_zone

from .calendar import WorkingCalendar
from .steps import DEADLINE_KINDS, DUE_SOON_WORKING_DAYS


class DueState:
    """How the inbox marks a task against its due date."""

    ON_TIME = ""
    DUE_SOON = "due_soon"  # due within DUE_SOON_WORKING_DAYS working days
    OVERDUE = "overdue"  # the due date has passed


class Deadlines:
    """The calendars and time limits read for a batch of computations (a request, a rebuild of
    the inbox, a run of the timers): each jurisdiction's overrides and limits are read once."""

    def __init__(self):
        self._calendars: dict[int | None, WorkingCalendar] = {}
        self._limits: dict[int | None, dict[str, int]] | None = None

    def calendar(self, jurisdiction_id: int | None) -> WorkingCalendar:
        if jurisdiction_id not in self._calendars:
            self._calendars[jurisdiction_id] = WorkingCalendar(jurisdiction_id)
        return self._calendars[jurisdiction_id]

    def working_days(self, kind: str, jurisdiction_id: int | None) -> int:
        """The time limit of this kind in this jurisdiction: its own row, else the row for every
        jurisdiction, else the policy's default (steps.DEADLINE_KINDS)."""
        if self._limits is None:
            from .models import StepDeadline

            self._limits = {}
            for jurisdiction, name, days in StepDeadline.objects.values_list("jurisdiction_id", "kind", "working_days"):
                self._limits.setdefault(jurisdiction, {})[name] = days
        for scope in (jurisdiction_id, None):
            if kind in self._limits.get(scope, {}):
                return self._limits[scope][kind]
        return DEADLINE_KINDS[kind].working_days

    def due(self, created: datetime.datetime, kind: str, jurisdiction_id: int | None) -> datetime.date:
        """The last day of the time limit for work that started at ``created``."""
        start = local_date(created, jurisdiction_id)
        return self.calendar(jurisdiction_id).add_working_days(start, self.working_days(kind, jurisdiction_id))

    def state(self, due: datetime.date, jurisdiction_id: int | None, *, now: datetime.datetime | None = None) -> str:
        today = local_date(now or timezone.now(), jurisdiction_id)
        if today > due:
            return DueState.OVERDUE
        if self.calendar(jurisdiction_id).add_working_days(today, DUE_SOON_WORKING_DAYS) >= due:
            return DueState.DUE_SOON
        return DueState.ON_TIME

    def took(self, start: datetime.datetime, end: datetime.datetime, jurisdiction_id: int | None) -> int:
        """Working days from ``start`` to ``end`` (local dates; 0: the same working day)."""
        return self.calendar(jurisdiction_id).working_days_between(
            local_date(start, jurisdiction_id), local_date(end, jurisdiction_id)
        )


def due_date(
    created: datetime.datetime, kind: str, jurisdiction_id: int | None, *, deadlines: Deadlines | None = None
) -> datetime.date:
    """The one function every due date comes from (see the module's docstring)."""
    return (deadlines or Deadlines()).due(created, kind, jurisdiction_id)


def passed_at(due: datetime.date, jurisdiction_id: int | None = None) -> datetime.datetime:
    """The moment a deadline has passed: the first instant of the day after ``due``, local time."""
    return datetime.datetime.combine(due + datetime.timedelta(days=1), datetime.time(0), local_zone(jurisdiction_id))


def last_due_not_passed(now: datetime.datetime, jurisdiction_id: int | None = None) -> datetime.date:
    """The latest due date that has not passed at ``now``: work due before it is overdue."""
    return local_date(now, jurisdiction_id)


def due_state_condition(state: str, jurisdiction_ids, *, now: datetime.datetime | None = None):
    """The rows (of a model with ``due`` and ``jurisdiction_id``: the inbox's) in this due state
    at ``now``, as ``Deadlines.state`` says for each row: a range of due dates per jurisdiction
    (its calendar read once), so that a filter on it reads what the page marks."""
    now = now or timezone.now()
    deadlines, condition = Deadlines(), Q(pk__in=[])
    for jurisdiction_id in jurisdiction_ids:
        today = local_date(now, jurisdiction_id)
        if state == DueState.OVERDUE:
            condition |= Q(jurisdiction_id=jurisdiction_id, due__lt=today)
        elif state == DueState.DUE_SOON:
            last = deadlines.calendar(jurisdiction_id).add_working_days(today, DUE_SOON_WORKING_DAYS)
            condition |= Q(jurisdiction_id=jurisdiction_id, due__gte=today, due__lte=last)
    return condition
