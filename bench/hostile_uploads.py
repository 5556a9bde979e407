"""Benchmark: how long and how much Python heap the hostile uploads of issue 11 take to be refused
by the bounded reader (claims/spreadsheets.py), against reading a legitimate roster of 1,000
trainees in the same run. No database is needed: the readers are called directly.

    SECRET_KEY=bench .venv/bin/python bench/hostile_uploads.py

Cases: a 0.5 MB .xlsx whose shared strings expand to 500 MiB; a roster of 2,000,000 blank rows
(no stated size); a roster whose sheet of 8,000,000 blank rows is stored outside xl/worksheets/;
a roster with a row of 4,000,000 empty cells; a roster whose styles hold 2,000,000 entries (these
three padded with random bytes to stay under the compression ratio bound); a bank result of 300,000 bad rows, once at the default row bound (refused at
the bound) and once with the bound raised past it (every row checked, the first 200 errors
listed and the total counted). Each prints seconds, the tracemalloc peak, the size of the error
body, and the ratio of its time to the baseline's.
"""

import json
import os
import secrets
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench")

import django  # noqa: E402

django.setup()

from django.test import override_settings  # noqa: E402
from django.utils import translation  # noqa: E402

from claims import roster  # noqa: E402
from claims.errors import InvalidInput  # noqa: E402
from payments.models import PaymentBatch  # noqa: E402
from payments.services.results import parse_result_file  # noqa: E402
from tests.test_hostile_spreadsheets import (  # noqa: E402
    MAIN_NS,
    SHEET_HEAD,
    SHEET_TAIL,
    STYLES_REL,
    STYLES_TYPE,
    bad_rows,
    bomb,
    package,
    sheet_with_blank_rows,
    title_row,
)
from tests.test_roster_import import fill_template, trainee_row  # noqa: E402

MIB = 1024 * 1024


def outcome_of(action):
    try:
        return action()
    except (roster.RosterFileError, InvalidInput) as refused:
        return refused


def measure(action) -> tuple[float, float, object]:
    """Seconds (a plain run), peak MiB (a second run under tracemalloc, which slows it down) and
    what ``action`` returned or raised."""
    started = time.perf_counter()
    outcome = outcome_of(action)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    outcome_of(action)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / MIB, outcome


def body_size(outcome) -> int:
    if isinstance(outcome, roster.RosterFileError):
        return len(json.dumps(roster.error_fields(outcome.errors), ensure_ascii=False).encode())
    if isinstance(outcome, InvalidInput):
        return len(json.dumps({"message": outcome.message, "fields": outcome.fields}, ensure_ascii=False).encode())
    return 0


def padding() -> str:
    """An XML comment of random text: it keeps a part under SPREADSHEET_MAX_RATIO, as an uploader
    who knows the bound would."""
    return f"<!--{secrets.token_hex(600_000)}-->"


def part_bombs() -> list[tuple[str, bytes]]:
    """The pre-scan's cases: what openpyxl would build from parts other than a sheet's rows."""
    titles = title_row([column.header() for column in roster.COLUMNS])
    outside = package(SHEET_HEAD + padding() + titles + "<row/>" * 8_000_000 + SHEET_TAIL, sheet_path="xl/data/sheet1.xml")
    cells = package(SHEET_HEAD + padding() + titles + '<row r="2">' + "<c/>" * 4_000_000 + "</row>" + SHEET_TAIL)
    styles = (
        f'<?xml version="1.0"?><styleSheet xmlns="{MAIN_NS}">{padding()}<cellXfs>'
        + "<xf/>" * 2_000_000
        + "</cellXfs></styleSheet>"
    )
    styled = package(
        SHEET_HEAD + titles + SHEET_TAIL, parts={"xl/styles.xml": styles}, relationships=STYLES_REL, types=STYLES_TYPE
    )
    return [
        (f"roster of 8,000,000 blank rows stored at xl/data/ ({len(outside) / MIB:.2f} MB)", outside),
        (f"roster with a row of 4,000,000 empty cells ({len(cells) / MIB:.2f} MB)", cells),
        (f"roster whose styles hold 2,000,000 entries ({len(styled) / MIB:.2f} MB)", styled),
    ]


def main() -> None:
    translation.activate("zh-hans")
    legit = fill_template([trainee_row(serial) for serial in range(1, 1001)])
    hostile_bomb = bomb(fill_template([trainee_row(1)]))
    blank = sheet_with_blank_rows(fill_template([trainee_row(1)]), 2_000_000, dimension=None)
    bad = bad_rows(300_000)
    batch = PaymentBatch(number="PB-BENCH-1")

    def result(content):
        return lambda: parse_result_file(batch=batch, filename="回单.csv", content=content, transfers={})

    baseline, baseline_peak, _ = measure(lambda: roster.read_roster(legit))
    print(
        f"baseline: a roster of 1,000 trainees ({len(legit) / MIB:.2f} MB) read in {baseline:.3f} s, peak {baseline_peak:.1f} MiB"
    )
    cases = [
        (f"zip bomb ({len(hostile_bomb) / MIB:.2f} MB → 500 MiB of shared strings)", lambda: roster.read_roster(hostile_bomb)),
        (f"roster of 2,000,000 blank rows ({len(blank) / MIB:.2f} MB)", lambda: roster.read_roster(blank)),
        *[(label, lambda content=content: roster.read_roster(content)) for label, content in part_bombs()],
        (f"bank result of 300,000 bad rows ({len(bad) / MIB:.2f} MB), default bound", result(bad)),
    ]
    for label, action in cases:
        seconds, peak, outcome = measure(action)
        print(
            f"{label}: refused in {seconds:.3f} s ({seconds / baseline:.2f}× the baseline), peak {peak:.1f} MiB, "
            f"error body {body_size(outcome) / 1024:.1f} KiB"
        )
    with override_settings(SPREADSHEET_MAX_ROWS=400_000):
        seconds, peak, outcome = measure(result(bad))
    listed = sum(len(messages) for messages in outcome.fields.values())
    print(
        f"bank result of 300,000 bad rows, bound raised to 400,000: refused in {seconds:.3f} s "
        f"({seconds / baseline:.2f}× the baseline), peak {peak:.1f} MiB, {listed} messages listed, "
        f"error body {body_size(outcome) / 1024:.1f} KiB; {outcome.message}"
    )


if __name__ == "__main__":
    main()
