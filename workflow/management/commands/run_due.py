"""Run every timer and sweep due at a moment: ``manage.py run_due [--now 2026-10-09T00:00+08:00] [--only NAME]``.

The due-job registry (due/registry.py) holds them: the claim process's deadlines (workflow/timers.py)
and what other apps register. Celery beat runs the same every minute (workflow.tasks.run_due_jobs);
without a beat (the embedded default of ``make run``), run this from cron or by hand. Safe to run
again at the same moment: every job is idempotent."""

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from claims.dates import local_date
from due.registry import JOBS, run_due
from workflow.calendar import unknown_years


def aware_moment(text: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--now: not an ISO 8601 time: {text!r} (e.g. 2026-10-09T00:00+08:00)") from None
    if moment.tzinfo is None:
        moment = timezone.make_aware(moment)  # local time (settings.TIME_ZONE), as people write it
    return moment


class Command(BaseCommand):
    help = "Run every timer and sweep due at --now (default: now). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--now", type=aware_moment, default=None, help="ISO 8601 moment; without a zone: local time")
        parser.add_argument("--only", action="append", default=[], help="run only this job (repeatable); --list names them")
        parser.add_argument("--list", action="store_true", help="list the registered jobs and exit")

    def handle(self, *args, now=None, only=(), list=False, **options):
        if list:
            for job in JOBS.values():
                self.stdout.write(f"{job.name}\t{job.description}")
            return
        now = now or timezone.now()
        today = local_date(now)
        for year in unknown_years(None, (today.year, today.year + 1)):
            self.stderr.write(
                f"warning: the working-day calendar does not know {year}: Monday to Friday without the statutory "
                "holidays is counted until the State Council's arrangement (days in lieu, weekends worked) is "
                "entered (admin: 工作日调整)"
            )
        try:
            done = run_due(now, only=tuple(only))
        except KeyError as error:
            raise CommandError(str(error)) from None
        for name, count in done.items():
            self.stdout.write(f"{name}: {count}")
