"""Dates for every layer: a moment's local date (the jurisdiction's day, never the server's
or UTC's), and dates in messages as people write them: the pages' ``day`` filter, flags,
validation messages and notifications all say a date this way (ISO stays for machines)."""

import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import formats, timezone, translation


def local_zone(jurisdiction_id: int | None = None) -> ZoneInfo:
    """The jurisdiction's local time zone. Every jurisdiction of the product is in China, which
    keeps one time zone: settings.TIME_ZONE (Asia/Shanghai). The one place to change if a
    jurisdiction ever needs its own."""
    return ZoneInfo(settings.TIME_ZONE)


def local_date(moment: datetime.datetime, jurisdiction_id: int | None = None) -> datetime.date:
    """The jurisdiction's day at ``moment``: what a number's year, a deadline's start or a day's
    count is taken from (a moment's own ``.year`` or ``.date()`` is UTC's when read back from
    the database: 2027-01-01 00:30 in Beijing is 2026-12-31 there)."""
    return timezone.localtime(moment, local_zone(jurisdiction_id)).date()


def date_text(value: datetime.date) -> str:
    """2026年12月6日 in Chinese, Dec. 6, 2026 in English: the active language's DATE_FORMAT."""
    return formats.date_format(value, "DATE_FORMAT")


def moment_text(value: datetime.datetime) -> str:
    """2026年12月6日 14:03 in Chinese (local time): the active language's DATETIME_FORMAT."""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "DATETIME_FORMAT")


def chinese_date_text(value: datetime.date) -> str:
    """2026年12月6日 whatever the active language: for a reason the ledger keeps in Chinese."""
    with translation.override("zh-hans"):
        return date_text(value)
