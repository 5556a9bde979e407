import datetime

from django.utils import timezone

from .steps import STEPS


def add_working_days(start: datetime.datetime, days: int) -> datetime.date:
    """The date ``days`` working days (Monday to Friday) after ``start``."""
    current = start.date()
    remaining = days
    while remaining > 0:
        current += datetime.timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def due_date(created: datetime.datetime, step_name: str) -> datetime.date:
    """The day a task is due: its step's working days after it was created, in local time."""
    return add_working_days(timezone.localtime(created), STEPS[step_name].working_days)
