"""The jurisdiction's day, not UTC's nor the server's. Every jurisdiction keeps Beijing time
(settings.TIME_ZONE, Asia/Shanghai; claims.dates.local_zone): at 00:30 on New Year's Day in
Beijing it is still 16:30 on New Year's Eve in UTC, the zone a moment read back from the database
is in, and the zone of a server left at its default. A number's year, "today" and "not in the
future" are the Beijing day's (docs/architecture.md, "The jurisdiction's local time")."""

import datetime
import io
import os
from zoneinfo import ZoneInfo

import time_machine
from django.conf import settings
from django.utils import timezone
from openpyxl import load_workbook

from claims.line_fields import LINE_FIELDS_BY_NAME
from claims.roster import build_template
from claims.services import create_claim
from claims.validators import validate_resident_id
from workflow.classes import file_class

from .conftest import claim_data, resident_id
from .test_class_filing import class_data

BEIJING = ZoneInfo("Asia/Shanghai")
NEW_YEAR_0030_BEIJING = datetime.datetime(2027, 1, 1, 0, 30, tzinfo=BEIJING)
# The same instant in UTC: time-machine also sets the process's TZ to UTC, as on a server left at UTC.
NEW_YEAR_0030_BEIJING_ON_A_UTC_SERVER = datetime.datetime(2026, 12, 31, 16, 30, tzinfo=datetime.UTC)


def test_the_suite_runs_in_the_time_zone_production_runs_in():
    """Every production process (gunicorn, celery, manage.py) runs with TZ=settings.TIME_ZONE:
    Django's settings set it. So does this run (tests/conftest.py, the clock): the machine's day
    is the jurisdiction's."""
    assert os.environ.get("TZ") == settings.TIME_ZONE
    assert datetime.date.today() == timezone.localdate()


def test_a_claim_made_at_0030_on_new_years_day_in_beijing_is_numbered_with_the_new_year(demo):
    with time_machine.travel(NEW_YEAR_0030_BEIJING, tick=False):
        claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    assert claim.number.startswith("WL-2027-"), claim.number


def test_a_class_filed_at_0030_on_new_years_day_in_beijing_is_numbered_with_the_new_year(demo):
    """Filed on 1 January 2027 (its filing deadline counts from that day too)."""
    with time_machine.travel(NEW_YEAR_0030_BEIJING, tick=False):
        training_class = file_class(
            user=demo["provider_clerk"],
            data=class_data(start=datetime.date(2027, 3, 1), end=datetime.date(2027, 3, 10)),
        )
    assert training_class.number.startswith("WL-BA-2027-"), training_class.number


def test_today_is_beijings_today_even_on_a_server_left_at_utc(db):
    """A certificate issued on New Year's Day is not "in the future" at 00:30 that day, nor is a
    baby born that morning; the roster template's example certificate is dated 30 days before
    Beijing's today. The code reads the jurisdiction's day, never the process's time zone."""
    with time_machine.travel(NEW_YEAR_0030_BEIJING_ON_A_UTC_SERVER, tick=False):
        assert datetime.date.today() == datetime.date(2026, 12, 31)  # the server's own day
        assert LINE_FIELDS_BY_NAME["certificate_date"].parse("2027-01-01") == datetime.date(2027, 1, 1)
        validate_resident_id(resident_id(1, birth="20270101"))  # born that morning: a real birth date
        template = load_workbook(io.BytesIO(build_template()))
    example = [cell.value for cell in template.worksheets[0][2] if isinstance(cell.value, datetime.datetime)]
    assert [value.date() for value in example] == [datetime.date(2026, 12, 2)]
