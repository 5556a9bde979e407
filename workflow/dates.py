import datetime


def add_working_days(start: datetime.datetime, days: int) -> datetime.date:
    """The date ``days`` working days (Monday to Friday) after ``start``."""
    current = start.date()
    remaining = days
    while remaining > 0:
        current += datetime.timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current
