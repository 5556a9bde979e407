import datetime
import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit import actions, checkpoints, signing
from audit.export import ExportError, export_period
from audit.models import Checkpoint
from audit.services import record_event


def iso_date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}") from error


class Command(BaseCommand):
    help = (
        "Export the ledger for a period (days in TIME_ZONE) as a package an auditor verifies offline: "
        "entries from seq 1 to the checkpoint covering the period, checkpoints, public key, manifest, "
        "and the standalone verify_export.py. --out is a directory (created, must be empty) or a .zip file."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="date_from", required=True, type=iso_date, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", required=True, type=iso_date, help="last day, YYYY-MM-DD")
        parser.add_argument("--out", required=True, type=Path, help="a directory, or a file name ending in .zip")

    def handle(self, *args, date_from, date_to, out, **options):
        try:
            result = export_period(date_from=date_from, date_to=date_to, out=out)
        except (ExportError, signing.SigningKeyMissing, checkpoints.LedgerBroken) as error:
            raise CommandError(str(error)) from error
        # Exports are recorded like any access to the ledger; from the shell there is no
        # signed-in user, so the operating-system account is named instead.
        with transaction.atomic():
            record_event(
                actor=None,
                action=actions.AUDIT_EXPORTED,
                obj=Checkpoint.objects.filter(tree_size=result.count).first(),
                detail={
                    "format": "package",
                    "via": "audit_export",
                    "os_user": getpass.getuser(),
                    "from": date_from.isoformat(),
                    "to": date_to.isoformat(),
                    "first_seq": result.first_seq,
                    "last_seq": result.last_seq,
                    "out": str(result.path),
                },
            )
        self.stdout.write(
            f"Exported entries 1..{result.count} (the period: seq {result.first_seq}..{result.last_seq}) "
            f"and {result.checkpoints} checkpoints to {result.path}"
        )
        where = "take verify_export.py out of the zip, then" if result.path.suffix.lower() == ".zip" else f"in {result.path}:"
        self.stdout.write(
            f"Verify offline ({where}): python3 verify_export.py {result.path} --public-key KEY [--trusted-checkpoint FILE]"
        )
