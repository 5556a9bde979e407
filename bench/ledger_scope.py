"""What scoping the signed ledger package to the reader's jurisdiction costs (PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/claims_bench_ledgerscope \\
        SECRET_KEY=bench .venv/bin/python bench/ledger_scope.py [--entries 200000]

The database is a throwaway (its name must contain "bench"): created if missing, migrated,
its ledger emptied (TRUNCATE), the demo seeded (two jurisdictions, Wenling's auditor). Then
ENTRIES entries are appended through audit.services.record_events: 40% Wenling's, 50% Yuhuan's,
10% of no jurisdiction; a checkpoint is signed over them. Timed, in alternating rounds in the
same run: the whole package (audit.export.export_period, as `audit_export` writes it) and the
package scoped to Wenling's auditor (claims.selectors.ledger_entries_visible_to, as the
workspace writes it), and the offline verifier on each. Prints the times and the ratios.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

from ledger import ensure_database  # noqa: E402 - bench/ledger.py, next to this script

CHUNK = 20_000


def setup(entries: int) -> None:
    import django
    from django.core.management import call_command

    django.setup()
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        sys.exit("bench/ledger_scope.py needs PostgreSQL: DATABASE_URL=postgres://…")
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent, audit_checkpoint, audit_subtreehash RESTART IDENTITY")
    call_command("seed_demo", password="bench-password-1234", stdout=open(os.devnull, "w"))

    from django.contrib.auth.models import Group

    from audit import actions
    from audit.services import record_events
    from claims.models import Jurisdiction

    wenling, yuhuan = Jurisdiction.objects.get(code="WL"), Jurisdiction.objects.get(code="YH")
    nobody = Group.objects.get(name="auditor")
    written = 0
    while written < entries:
        batch = []
        for n in range(written, min(written + CHUNK, entries)):
            obj = (wenling, yuhuan)[n % 2] if n % 10 else nobody
            batch.append(
                {"actor": None, "action": actions.AUDIT_SAMPLE_DRAWN, "obj": obj, "detail": {"n": n, "seed": f"{n:08x}"}}
            )
        with transaction.atomic():
            record_events(batch)
        written += len(batch)


def timed(work) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def verify_seconds(verifier: Path, package: Path, kind: str) -> float:
    began = time.perf_counter()
    result = subprocess.run([sys.executable, str(verifier), str(package)], capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if result.returncode != 0:
        sys.exit(f"the {kind} package does not verify:\n{result.stdout}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if "bench" not in url:
        sys.exit("DATABASE_URL must name a throwaway database whose name contains 'bench'")
    ensure_database(url)
    setup(args.entries)

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from audit.checkpoints import sign_checkpoint
    from audit.export import export_period
    from audit.models import AuditEvent
    from claims.selectors import ledger_entries_visible_to

    sign_checkpoint()
    auditor = get_user_model().objects.get(username="auditor")
    readable = ledger_entries_visible_to(auditor)
    total = AuditEvent.objects.count()
    print(f"ledger: {total} entries, of which Wenling's auditor may read {readable.count()}")
    today = timezone.localdate()
    since = today - datetime.timedelta(days=1)
    workdir = Path(tempfile.mkdtemp(prefix="bench-ledger-scope-"))
    times: dict[str, list[float]] = {"whole": [], "scoped": [], "verify whole": [], "verify scoped": []}
    sizes = {}
    for round_no in range(args.rounds):
        for kind in ("whole", "scoped"):
            out = workdir / f"{kind}-{round_no}.zip"
            scope = {"readable": readable, "scope": "WL"} if kind == "scoped" else {}
            times[kind].append(timed(lambda: export_period(date_from=since, date_to=today, out=out, **scope)))  # noqa: B023
            sizes[kind] = out.stat().st_size
            verifier = workdir / "verify_export.py"
            with zipfile.ZipFile(out) as package:
                verifier.write_bytes(package.read("verify_export.py"))
            times[f"verify {kind}"].append(verify_seconds(verifier, out, kind))
            out.unlink()
    best = {name: min(values) for name, values in times.items()}
    print(f"export, whole ledger (audit_export):     {best['whole']:7.2f} s, {sizes['whole'] / 1e6:7.1f} MB")
    print(f"export, scoped to Wenling's auditor:     {best['scoped']:7.2f} s, {sizes['scoped'] / 1e6:7.1f} MB")
    print(f"  scoped / whole: {best['scoped'] / best['whole']:.2f}x the time, {sizes['scoped'] / sizes['whole']:.2f}x the size")
    print(f"offline verifier, whole package:         {best['verify whole']:7.2f} s")
    print(f"offline verifier, scoped package:        {best['verify scoped']:7.2f} s")
    print(f"  scoped / whole: {best['verify scoped'] / best['verify whole']:.2f}x the time")
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
