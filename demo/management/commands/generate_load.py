from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from demo.load import BATCH, generate


class Command(BaseCommand):
    help = (
        "Fill PostgreSQL with N claims in every state, with their lines, trainees, viewflow processes and tasks, "
        "object permissions, ledger entries (a valid chain after the existing ledger), inbox rows and duties, "
        "through COPY in batches (demo/load.py). Run after seed_demo."
    )

    def add_arguments(self, parser):
        parser.add_argument("--claims", type=int, required=True, help="how many claims to add")
        parser.add_argument(
            "--seed", type=int, default=1, help="random seed (the same seed on a fresh database gives the same data)"
        )
        parser.add_argument("--batch", type=int, default=BATCH, help="claims per transaction")
        parser.add_argument(
            "--check-foreign-keys",
            action="store_true",
            help="let PostgreSQL check every foreign key of the rows written (slower; always on for a non-superuser)",
        )
        parser.add_argument("--password", default="demo1234", help="password of the users it creates")
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="processes making the rows while this one writes (0: this one makes them too)",
        )

    def handle(self, *args, claims, seed, batch, password, check_foreign_keys, workers, **options):
        if connection.vendor != "postgresql":
            raise CommandError("generate_load writes through PostgreSQL's COPY: set DATABASE_URL to a PostgreSQL database")
        if claims < 1:
            raise CommandError("--claims must be at least 1")
        if workers < 0:
            raise CommandError("--workers must be 0 or more")

        def progress(done, seconds):
            self.stdout.write(f"  {done:>10,} claims  {seconds:8.1f} s  ({done / seconds:,.0f}/s)")

        try:
            timings = generate(
                claims=claims,
                seed=seed,
                password=password,
                batch_size=batch,
                check_foreign_keys=check_foreign_keys or None,
                workers=workers,
                progress=progress,
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{claims:,} claims in {timings.pop('total'):.1f} s; by phase (s):")
        for phase, seconds in sorted(timings.items(), key=lambda item: -item[1]):
            self.stdout.write(f"  {phase:<40} {seconds:8.1f}")
