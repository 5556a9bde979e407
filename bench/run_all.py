"""Run every measuring benchmark of bench/ against the local PostgreSQL and Redis and write their
output to bench/results/<YYYY-MM-DD>.md (``make bench``).

    SECRET_KEY=bench .venv/bin/python bench/run_all.py [--quick] [--only lifecycle,ledger] [--out FILE]

The file starts with the machine (cores, memory, PostgreSQL's version, load average, the git
commit), then one section per benchmark: its command, how long it ran, and what it printed. It
is written again after each benchmark, so a run stopped half-way keeps what it measured. Each
benchmark makes its own throwaway databases (their names contain "bench") on the server of
BENCH_PG (postgres://postgres@127.0.0.1:5432 unless set); bench/lifecycle.py's Celery worker
uses Redis db 7 (its --redis). ``--quick`` runs each at a small size: proof that it works, not
figures to quote. A benchmark that fails is reported in its section; the run goes on, and ends
with a non-zero status.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PYTHON = str(PROJECT / ".venv" / "bin" / "python")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")

# (script, full-size arguments, --quick arguments, DATABASE_URL's database or None when it takes none)
BENCHES = [
    ("inbox.py", [], ["--small", "2000", "--large", "5000", "--requests", "10"], None),
    ("transitions.py", [], ["--claims", "2000", "--seconds", "10"], None),
    ("decision_cost.py", [], ["--claims", "2000", "--decisions", "10"], None),  # on transitions' database
    ("claim_pages.py", [], ["--large", "200", "--requests", "1"], None),  # makes claims_bench_pages itself
    ("lifecycle.py", [], ["--claims", "40", "--load-claims", "0", "--batch-size", "20", "--pgbench-seconds", "5"], None),
    ("ledger.py", [], ["--entries", "100000", "--seconds", "2", "--rounds", "1"], "claims_bench_ledger"),
    ("payment_batch.py", [], ["--claims", "1000", "--lines-per-claim", "5"], "claims_bench_batches"),
    ("import_roster.py", [], ["--rows", "1000", "--repeat", "1"], "postgres"),  # makes claims_bench itself
    ("ledger_scope.py", [], ["--entries", "20000", "--rounds", "1"], "claims_bench_ledgerscope"),
    ("hostile_uploads.py", [], [], None),
]


def command_output(*command: str) -> str:
    try:
        return subprocess.run(command, cwd=PROJECT, text=True, capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as error:
        return f"unknown ({error})"


def machine() -> list[str]:
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")), 0)
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    redis = command_output("redis-cli", "INFO", "server").partition("redis_version:")[2].split()[:1] or ["unknown"]
    dirty = " (with uncommitted changes)" if command_output("git", "status", "--porcelain", "--untracked-files=no") else ""
    return [
        f"- cores: {os.cpu_count()} ({cpu})",
        f"- memory: {total_kb / 1024 / 1024:.1f} GiB",
        f"- PostgreSQL: {command_output('psql', f'{PG}/postgres', '-tAc', 'SHOW server_version')} at {PG}",
        f"- Redis: {redis[0]}",
        f"- Python {platform.python_version()}, {platform.platform()}",
        f"- load average at the start: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}",
        f"- git commit: {command_output('git', 'rev-parse', 'HEAD')}{dirty}",
    ]


def environment(database: str | None) -> dict:
    env = dict(os.environ)
    env.update(DEBUG="False", SECURE_SSL_REDIRECT="False", DJANGO_SETTINGS_MODULE="config.settings")
    env.setdefault("SECRET_KEY", "bench-only")
    env.pop("REDIS_URL", None)  # a bench that needs a broker names its own (lifecycle.py: Redis db 7)
    if database:
        env["DATABASE_URL"] = f"{PG}/{database}"
    else:
        env.pop("DATABASE_URL", None)
    return env


def run(script: str, arguments: list[str], database: str | None) -> tuple[str, float, int]:
    """The benchmark's output (stdout and stderr, as it came), its seconds and exit status; echoed as it runs."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, "-u", str(PROJECT / "bench" / script), *arguments],
        cwd=PROJECT,
        env=environment(database),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line)
    process.wait()
    return "".join(lines), time.perf_counter() - started, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="each benchmark at a small size (a smoke run)")
    parser.add_argument("--only", default="", help="comma-separated names (lifecycle,ledger): run these only")
    parser.add_argument("--out", help="the results file (default bench/results/<today>.md)")
    args = parser.parse_args()

    chosen = {name.strip().removesuffix(".py") for name in args.only.split(",") if name.strip()}
    unknown = chosen - {script.removesuffix(".py") for script, *_ in BENCHES}
    if unknown:
        sys.exit(f"no such benchmark: {', '.join(sorted(unknown))}")
    out = Path(args.out) if args.out else PROJECT / "bench" / "results" / f"{datetime.date.today():%Y-%m-%d}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    header = [
        f"# Benchmarks, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
        + (" (--quick: small sizes)" if args.quick else ""),
        "",
        *machine(),
        "",
        "Written by `make bench` (bench/run_all.py); each section is one benchmark's own output.",
    ]
    sections: list[str] = []
    failed: list[str] = []
    for script, full, quick, database in BENCHES:
        name = script.removesuffix(".py")
        if chosen and name not in chosen:
            continue
        arguments = quick if args.quick else full
        shown = " ".join(["bench/" + script, *arguments])
        if database:
            shown = f"DATABASE_URL={PG}/{database} {shown}"
        print(f"\n=== {shown}", flush=True)
        if not (PROJECT / "bench" / script).exists():
            sections += [f"## bench/{script}", "", "Not in this checkout.", ""]
            failed.append(script)
            continue
        output, seconds, status = run(script, arguments, database)
        if status:
            failed.append(script)
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        sections += [
            f"## bench/{script}",
            "",
            f"`{shown}`: {seconds:.0f} s, exit status {status}, load average after {load}",
            "",
            "```text",
            output.rstrip(),
            "```",
            "",
        ]
        out.write_text("\n".join([*header, "", *sections]))
    out.write_text("\n".join([*header, "", *sections]))
    print(f"\nwritten: {out}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
