from django.core.management.base import BaseCommand
from django.db import transaction

from workflow.inbox import inbox_drift, rebuild_inbox


class Command(BaseCommand):
    help = "Rebuild the inbox read model and the duties table from the tasks, or (--check) list the claims whose rows drifted."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")

    def handle(self, *args, check=False, **options):
        if check:
            drift = inbox_drift()
            if drift:
                self.stderr.write(f"{len(drift)} claims drifted: {drift[:20]}")
                raise SystemExit(1)
            self.stdout.write("inbox consistent")
            return
        with transaction.atomic():
            rows, duties = rebuild_inbox()
        self.stdout.write(f"inbox rows: {rows}; duties: {duties}")
