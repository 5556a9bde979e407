"""Dates in messages as people write them, for every layer: the pages' ``day`` filter, flags,
validation messages and notifications all say a date this way (ISO stays for machines)."""

import datetime

from django.utils import formats, timezone, translation


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
