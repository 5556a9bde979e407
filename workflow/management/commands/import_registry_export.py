"""Import a certificate registry's export (CSV or XLSX) for a jurisdiction without an online
registry (claims/registry.py, ImportedExport): checked row by row, all or nothing."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from claims.errors import InvalidInput
from claims.models import Jurisdiction
from claims.registry import import_registry_export


class Command(BaseCommand):
    help = "Import a certificate registry's export (.csv or .xlsx: 证书编号, 姓名, 身份证号码, 职业编码, 等级, 发证日期[, 状态, 撤销日期])."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--jurisdiction", required=True, help="the jurisdiction's code (WL)")
        parser.add_argument("--source", required=True, help="which registry the export comes from")
        parser.add_argument("--by", required=True, help="username of the person importing (recorded in the ledger)")

    def handle(self, *args, file, jurisdiction, source, by, **options):
        actor = get_user_model().objects.filter(username=by, is_active=True).first()
        if actor is None:
            raise CommandError(f"no active user {by!r}")
        place = Jurisdiction.objects.filter(code=jurisdiction).first()
        if place is None:
            raise CommandError(f"no jurisdiction {jurisdiction!r}")
        path = Path(file)
        try:
            imported = import_registry_export(
                actor=actor, jurisdiction=place, source=source, filename=path.name, content=path.read_bytes()
            )
        except InvalidInput as error:
            problems = "\n".join(f"  {field}: {message}" for field, messages in error.fields.items() for message in messages)
            raise CommandError(f"{error.message}\n{problems}") from None
        self.stdout.write(f"imported {imported.row_count} certificate(s) from {path.name} ({imported.sha256[:12]})")
