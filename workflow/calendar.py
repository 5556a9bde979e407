"""The working-day calendar of a jurisdiction: which days count towards a time limit.

A day is a working day when, in this order:
1. an administrator's override says so (``WorkingDayOverride``: the jurisdiction's row, else the
   row for every jurisdiction), e.g. a local holiday or a year the library does not know yet;
2. else the ``chinese-calendar`` library says so: weekends, the State Council's public holidays
   and the adjusted working days (调休: a Sunday worked before National Day is a working day);
3. else Monday to Friday, except the holidays the law itself fixes (``statutory_holidays``: New
   Year's Day, the Spring Festival's four days, Qingming, 1–2 May, the Dragon Boat Festival,
   the Mid-Autumn Festival, 1–3 October). What the State Council settles each year (the weekday
   given in lieu of a holiday on a weekend, the weekends worked in exchange) is not known: a
   year neither the library nor an override for every jurisdiction knows is reported as
   unknown: logged once per process, listed by ``unknown_years`` (the override admin and
   ``run_due`` warn of it), never silent.
"""

import datetime
import logging
from functools import cache

import chinese_calendar
from lunar_python import Lunar

logger = logging.getLogger(__name__)

# 全国年节及纪念日放假办法, as revised by the State Council on 12 November 2024, in force from 2025
# (Art. 2): the days of a year everyone has off, whatever the yearly notice adds.
STATUTORY_SINCE = 2025


@cache
def library_knows(year: int) -> bool:
    """Whether chinese-calendar has the State Council's holidays of this year."""
    try:
        chinese_calendar.is_workday(datetime.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@cache
def statutory_holidays(year: int) -> frozenset[datetime.date]:
    """The days the law gives everyone off in this year (from STATUTORY_SINCE): 元旦 1 January;
    春节 the lunar year's eve and its first three days; 清明节 the day of the Qingming solar term;
    劳动节 1 and 2 May; 端午节 the fifth day of the fifth lunar month; 中秋节 the fifteenth of
    the eighth; 国庆节 1 to 3 October. Lunar dates and the solar term from lunar-python."""
    if year < STATUTORY_SINCE:
        return frozenset()

    def lunar(month: int, day: int) -> datetime.date:
        solar = Lunar.fromYmd(year, month, day).getSolar()
        return datetime.date(solar.getYear(), solar.getMonth(), solar.getDay())

    new_year = lunar(1, 1)
    qingming = Lunar.fromYmd(year, 3, 1).getJieQiTable()["清明"]
    return frozenset(
        {
            datetime.date(year, 1, 1),
            *(new_year + datetime.timedelta(days=offset) for offset in range(-1, 3)),
            datetime.date(qingming.getYear(), qingming.getMonth(), qingming.getDay()),
            datetime.date(year, 5, 1),
            datetime.date(year, 5, 2),
            lunar(5, 5),
            lunar(8, 15),
            *(datetime.date(year, 10, day) for day in (1, 2, 3)),
        }
    )


@cache
def _warn_unknown(year: int) -> None:
    logger.warning(
        "working-day calendar: neither chinese-calendar nor an override knows %s; counting Monday to Friday "
        "without the statutory holidays, and no day given in lieu or swapped. Enter the State Council's "
        "arrangement for the year as overrides (admin: 工作日调整).",
        year,
    )


class WorkingCalendar:
    """One jurisdiction's working days (None: the rows for every jurisdiction only). Reads its
    override rows a year at a time, once: build one per computation (or per batch of them)."""

    def __init__(self, jurisdiction_id: int | None):
        self.jurisdiction_id = jurisdiction_id
        self._years: dict[int, dict[datetime.date, bool]] = {}
        self._national_years: set[int] = set()
        # Answers already computed: a rebuild or a load asks the same few hundred dates again and again.
        self._working: dict[datetime.date, bool] = {}
        self._added: dict[tuple[datetime.date, int], datetime.date] = {}

    def _overrides(self, year: int) -> dict[datetime.date, bool]:
        if year not in self._years:
            from .models import WorkingDayOverride  # models import this module's users

            rows = WorkingDayOverride.objects.filter(date__year=year).filter_jurisdiction(self.jurisdiction_id)
            days: dict[datetime.date, bool] = {}
            # Every jurisdiction's row first, the jurisdiction's own after it: the own one wins.
            for date, is_working, jurisdiction_id in sorted(
                rows.values_list("date", "is_working", "jurisdiction_id"), key=lambda row: row[2] is not None
            ):
                days[date] = is_working
                if jurisdiction_id is None:
                    self._national_years.add(year)
            self._years[year] = days
        return self._years[year]

    def year_known(self, year: int) -> bool:
        """The library knows the year, or an administrator entered at least one day of it for
        every jurisdiction (the State Council's holidays are national; a local holiday alone
        does not make a year known)."""
        if library_knows(year):
            return True
        self._overrides(year)
        return year in self._national_years

    def is_working(self, day: datetime.date) -> bool:
        if day not in self._working:
            self._working[day] = self._is_working(day)
        return self._working[day]

    def _is_working(self, day: datetime.date) -> bool:
        overrides = self._overrides(day.year)
        if day in overrides:
            return overrides[day]
        if library_knows(day.year):
            return chinese_calendar.is_workday(day)
        if not self.year_known(day.year):
            _warn_unknown(day.year)
        return day.weekday() < 5 and day not in statutory_holidays(day.year)

    def add_working_days(self, start: datetime.date, days: int) -> datetime.date:
        """The date ``days`` working days after ``start`` (the start day itself not counted)."""
        key = (start, days)
        if key not in self._added:
            current, remaining = start, days
            while remaining > 0:
                current += datetime.timedelta(days=1)
                if self.is_working(current):
                    remaining -= 1
            self._added[key] = current
        return self._added[key]

    def working_days_between(self, start: datetime.date, end: datetime.date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
        count, current = 0, start
        while current < end:
            current += datetime.timedelta(days=1)
            count += self.is_working(current)
        return count


def unknown_years(jurisdiction_id: int | None, years) -> list[int]:
    """Of these years, those the calendar would count Monday to Friday (nobody entered them)."""
    calendar = WorkingCalendar(jurisdiction_id)
    return [year for year in years if not calendar.year_known(year)]
