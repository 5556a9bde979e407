"""Spreadsheets in and out, for every app (the domain's layer, so that pages, the API, payments
and the auditor all reach it).

Out: every cell the product writes to an .xlsx or a .csv goes through ``safe_cell`` (or
``safe_row``): a text that a spreadsheet would take for a formula (it starts with = + - @, a tab
or a carriage return) is written with a leading apostrophe, so it stays text; numbers stay numbers;
a character a spreadsheet cannot hold (text stored before claims.bounds refused it) is written
as U+FFFD. A row of an .xlsx is built by ``xlsx_row``: the same, and money (a Decimal) shown
with two decimals (``MONEY_FORMAT``).

In: every uploaded spreadsheet is read through ``open_xlsx`` and ``sheet_rows`` (or ``csv_rows``):
the zip's sizes and compression ratios are checked from its directory before anything is
inflated, every part of the package is scanned by bare expat (rows, blank ones and gaps included;
cells of a row and in all; shared strings; the elements of each part; no DTD) before openpyxl
opens the workbook, the sheet is then read with openpyxl's read-only (streaming) reader, and rows
are counted again as they come, up to the same bound. ``ErrorList`` keeps the first errors of a file and the count of all.
The limits are settings (``SPREADSHEET_*``, see config/settings.py).
"""

import csv
import io
import logging
import re
import xml.parsers.expat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- writing

# Excel, LibreOffice and Numbers start a formula with these (a tab or CR may precede one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# What XML 1.0, so an .xlsx, cannot hold (openpyxl refuses the controls, and writes a file that
# will not open for the rest), nor UTF-8 (a lone surrogate): claims.bounds refuses all of these
# where text comes in, but a row stored before that must still export. Not the same set as
# claims.bounds.REFUSED_CHARACTER: a file can hold DEL and the C1 controls.
UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"  # Unicode's mark for "a character was here that cannot be shown"


def safe_cell(value):
    """The value as it may be written to a spreadsheet cell: a text that would start a formula
    gets a leading apostrophe (so ``=HYPERLINK(…)`` stays visible text, never a live formula);
    a number, or a text that is just a number ("-12.50"), is left as it is. Each character the
    file cannot hold becomes U+FFFD, one for one, so the rest of the text reads as stored."""
    if not isinstance(value, str):
        return value
    value = UNWRITABLE.sub(REPLACEMENT, value)
    if value.lstrip(" ").startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value.strip()):
        return "'" + value
    return value


def safe_row(values: Iterable) -> list:
    return [safe_cell(value) for value in values]


# Money in an .xlsx: always two decimals (the General format shows 900.00 as "900" and 1234.50
# as "1234.5"), and no thousands separator: the cell reads as the CSV writes it, and as a bank's
# upload tool that takes a cell's text expects it.
MONEY_FORMAT = "0.00"
# The most characters a cell of a spreadsheet holds (Excel's bound: a longer one is cut or the
# file "repaired").
CELL_MAX_CHARACTERS = 32_767


def xlsx_row(sheet, values: Iterable) -> list:
    """The values to append to ``sheet`` (any worksheet, write-only too) as one row: safe_row's,
    each Decimal (money: the one Decimal the product writes) a cell shown in MONEY_FORMAT."""
    from openpyxl.cell import WriteOnlyCell

    row = []
    for value in safe_row(values):
        if isinstance(value, Decimal):
            value = WriteOnlyCell(sheet, value=value)
            value.number_format = MONEY_FORMAT
        row.append(value)
    return row


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Limits:
    max_unpacked_bytes: int  # the whole archive, uncompressed
    max_member_bytes: int  # one part of it (a sheet, the shared strings), uncompressed
    max_ratio: int  # uncompressed / compressed, for a part larger than RATIO_FROM_BYTES
    max_members: int
    max_columns: int  # cells of a row
    max_rows: int  # rows of a sheet or a CSV, blank ones counted
    max_cells: int  # rows and cells of all the sheets together; shared strings, apart
    max_elements: int  # XML elements of all the parts besides rows and shared strings
    max_listed_errors: int


RATIO_FROM_BYTES = 1024 * 1024  # a small part may compress as well as it likes


def limits() -> Limits:
    return Limits(
        max_unpacked_bytes=settings.SPREADSHEET_MAX_UNPACKED_BYTES,
        max_member_bytes=settings.SPREADSHEET_MAX_MEMBER_BYTES,
        max_ratio=settings.SPREADSHEET_MAX_RATIO,
        max_members=settings.SPREADSHEET_MAX_MEMBERS,
        max_columns=settings.SPREADSHEET_MAX_COLUMNS,
        max_rows=settings.SPREADSHEET_MAX_ROWS,
        max_cells=settings.SPREADSHEET_MAX_CELLS,
        max_elements=settings.SPREADSHEET_MAX_ELEMENTS,
        max_listed_errors=settings.SPREADSHEET_MAX_LISTED_ERRORS,
    )


class SpreadsheetRefused(Exception):
    """The file as a whole is refused. ``build`` makes the message with gettext, so a caller can
    render it in each language it answers in."""

    def __init__(self, code: str, build: Callable[[], str]):
        super().__init__(code)
        self.code = code
        self.build = build

    @property
    def message(self) -> str:
        return str(self.build())


def _damaged() -> SpreadsheetRefused:
    return SpreadsheetRefused(
        "damaged", lambda: _("无法读取该 Excel 文件（文件可能已损坏），请用 Excel 打开后重新保存为 .xlsx。")
    )


def check_xlsx_archive(content: bytes, bounds: Limits | None = None) -> None:
    """Refuse a zip bomb from the archive's directory alone, before anything is decompressed.
    (zipfile never inflates a part past the size its directory states: a lying entry fails its
    CRC check instead.)"""
    bounds = bounds or limits()
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise _damaged() from None
    if len(members) > bounds.max_members:
        raise SpreadsheetRefused(
            "too_many_parts", lambda: _("文件包含的部件过多（超过 %(max)d 个），无法处理。") % {"max": bounds.max_members}
        )
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size // max(member.compress_size, 1)
        if member.file_size > bounds.max_member_bytes or total > bounds.max_unpacked_bytes:
            mb = min(bounds.max_member_bytes, bounds.max_unpacked_bytes) // (1024 * 1024)
            raise SpreadsheetRefused(
                "too_large_unpacked", lambda mb=mb: _("文件解压后过大（超过 %(mb)d MB），无法处理。") % {"mb": mb}
            )
        if member.file_size > RATIO_FROM_BYTES and ratio > bounds.max_ratio:
            raise SpreadsheetRefused(
                "suspicious_ratio", lambda ratio=ratio: _("文件的压缩比异常（%(ratio)d 倍），无法处理。") % {"ratio": ratio}
            )
    if "xl/workbook.xml" not in {member.filename for member in members}:
        raise SpreadsheetRefused("not_xlsx", lambda: _("文件不是 Excel .xlsx 格式。"))


def too_many_rows(bound: int, count: int) -> SpreadsheetRefused:
    return SpreadsheetRefused(
        "too_many_rows",
        lambda: _("文件超过 %(max)d 行（至少有 %(count)d 行，空行也计算在内）。") % {"max": bound, "count": count},
    )


def _number(digits: str) -> int:
    """A row number written as ASCII digits (0 if it is not one); one too long to be a row is
    taken as huge (int() refuses thousands of digits with a ValueError)."""
    if not (digits.isascii() and digits.isdigit()):
        return 0
    return int(digits) if len(digits) <= 12 else 10**12


def _last_row_of(ref: str) -> int:
    """The last row of a range such as "A1:J4000000" (0 when it names none)."""
    found = re.search(r"([0-9]+)$", ref.rpartition(":")[2])
    return _number(found.group(1)) if found else 0


# openpyxl builds a row of a sheet, or an item of the shared strings, whole before it lets it go.
MAX_ITEM_ELEMENTS = 10_000


def _too_many_columns(row: int, bound: int) -> SpreadsheetRefused:
    return SpreadsheetRefused(
        "too_many_columns", lambda: _("第%(row)d行超过 %(max)d 列，无法处理。") % {"row": row, "max": bound}
    )


def _too_complex(part: str, bound: int) -> SpreadsheetRefused:
    part = part[:100]  # the uploader's name for it
    return SpreadsheetRefused(
        "too_complex",
        lambda: _("文件的结构过于复杂（到部件 %(part)s 已超过 %(max)d 个元素），无法处理。") % {"part": part, "max": bound},
    )


@dataclass
class _Totals:
    """What the parts of one package hold together."""

    cells: int = 0  # and rows
    strings: int = 0
    elements: int = 0  # besides rows and shared strings


def check_xml_part(
    stream,
    name: str,
    *,
    max_rows: int,
    too_many: Callable[[int, int], SpreadsheetRefused],
    bounds: Limits,
    totals: _Totals,
) -> None:
    """Bound what openpyxl could build from one part of the package, with a bare expat scan
    (nothing kept), before it opens the workbook: its rows (blank ones and the gaps before a
    row's number counted; its stated size too), the cells of each row, and with the other parts
    the rows and cells, the shared strings, and the elements besides (styles, the workbook,
    relationships, which openpyxl builds whole) in all; a row or a shared string of at most
    MAX_ITEM_ELEMENTS elements; no DTD. Every part is scanned, wherever it is stored and whatever its root:
    openpyxl finds a sheet through the workbook's relationships, and reads rows by their tag. A
    part expat cannot start to read (an image) is left alone: openpyxl's parser, expat too, would
    stop at its first byte as well."""
    parser = xml.parsers.expat.ParserCreate()
    started = False
    depth = 0
    item_depth = 0  # the depth of the row or shared string being scanned, 0 between them
    in_row = False
    item_elements = cells = rows = 0

    def start(tag, attributes):
        nonlocal started, depth, item_depth, in_row, item_elements, cells, rows
        started = True
        depth += 1
        if item_depth:
            item_elements += 1
            if item_elements > MAX_ITEM_ELEMENTS:
                raise _too_complex(name, MAX_ITEM_ELEMENTS)
            if in_row and depth == item_depth + 1:  # openpyxl takes every child of a row for a cell
                cells += 1
                if cells > bounds.max_columns:
                    raise _too_many_columns(rows, bounds.max_columns)
                count_cell()
            return
        local = tag.rpartition(":")[2]
        if local == "row":
            rows = max(rows + 1, _number(attributes.get("r", "")))
            if rows > max_rows:
                raise too_many(max_rows, rows)
            count_cell()  # a blank row costs as much
            item_depth, in_row, item_elements, cells = depth, True, 1, 0
        elif local == "si":
            totals.strings += 1
            if totals.strings > bounds.max_cells:
                raise SpreadsheetRefused(
                    "too_many_strings", lambda: _("文件的共享文本过多（超过 %(max)d 条），无法处理。") % {"max": bounds.max_cells}
                )
            item_depth, in_row, item_elements = depth, False, 1
        else:
            totals.elements += 1
            if totals.elements > bounds.max_elements:
                raise _too_complex(name, bounds.max_elements)
            if local == "dimension":
                stated = _last_row_of(attributes.get("ref", ""))
                if stated > max_rows:
                    raise too_many(max_rows, stated)

    def count_cell():
        totals.cells += 1
        if totals.cells > bounds.max_cells:
            raise SpreadsheetRefused(
                "too_many_cells", lambda: _("文件的行和单元格过多（共超过 %(max)d 个），无法处理。") % {"max": bounds.max_cells}
            )

    def end(_tag):
        nonlocal depth, item_depth
        if depth == item_depth:
            item_depth = 0
        depth -= 1

    def begun(*_args):
        nonlocal started
        started = True

    def doctype(*_args):  # no spreadsheet needs a DTD; entity tricks start there
        raise _damaged()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.XmlDeclHandler = parser.CommentHandler = parser.ProcessingInstructionHandler = begun
    parser.StartDoctypeDeclHandler = doctype
    try:
        while chunk := stream.read(64 * 1024):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except xml.parsers.expat.ExpatError:
        if started:
            raise _damaged() from None


@contextmanager
def open_xlsx(
    content: bytes,
    *,
    data_only: bool,
    max_rows: int,
    too_many: Callable[[int, int], SpreadsheetRefused] = too_many_rows,
    bounds: Limits | None = None,
):
    """The workbook, opened with openpyxl's read-only reader once the archive has passed
    ``check_xlsx_archive`` and each of its parts ``check_xml_part``; closed on leaving. A file
    openpyxl cannot open, or without a worksheet, is refused as damaged."""
    from openpyxl import load_workbook

    bounds = bounds or limits()
    check_xlsx_archive(content, bounds)
    totals = _Totals()
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for member in archive.infolist():
                with archive.open(member) as stream:
                    check_xml_part(stream, member.filename, max_rows=max_rows, too_many=too_many, bounds=bounds, totals=totals)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error):  # a CRC that does not match, a truncated part
        raise _damaged() from None
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=data_only)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds (KeyError, XML errors…) on a damaged file
        raise _damaged() from None
    try:
        if not workbook.worksheets:  # every reader reads a worksheet (``worksheets[0]`` would be a 500)
            raise _damaged()
        yield workbook
    finally:
        workbook.close()


def sheet_rows(
    sheet, *, max_rows: int, too_many: Callable[[int, int], SpreadsheetRefused] = too_many_rows, bounds: Limits | None = None
) -> Iterator[tuple]:
    """The sheet's rows as value tuples (trailing blank cells dropped), blank rows included, at
    most ``max_rows`` of them: the sheet's stated size refuses a larger file before a row is read,
    and rows are counted as they come (a stated size may lie, and openpyxl fills every gap between
    two rows with blank rows): ``too_many(max_rows, count)`` is raised at the first row over.
    A row openpyxl cannot read refuses the file as damaged (``SpreadsheetRefused``, code
    "damaged"): the one place where reading a workbook's rows turns its errors into a refusal."""
    bounds = bounds or limits()
    stated_rows, stated_columns = sheet.max_row, sheet.max_column
    if stated_rows is not None and stated_rows > max_rows:
        raise too_many(max_rows, stated_rows)
    if stated_columns is not None and stated_columns > bounds.max_columns:
        raise SpreadsheetRefused("too_many_columns", lambda: _("工作表超过 %(max)d 列，无法处理。") % {"max": bounds.max_columns})
    sheet.reset_dimensions()
    rows = sheet.iter_rows(min_row=1, max_row=max_rows + 1, max_col=bounds.max_columns, values_only=True)
    count = 0
    while True:
        try:
            row = next(rows, None)
        # A sheet damaged inside a row (a shared string past the table, text in a number cell)
        # opens, and fails only here: the file is damaged, for every reader alike.
        except Exception:  # noqa: BLE001 - openpyxl raises many kinds (IndexError, ValueError, XML errors…)
            logger.warning("sheet could not be read", exc_info=True)
            raise _damaged() from None
        if row is None:
            return
        count += 1
        if count > max_rows:
            raise too_many(max_rows, count)
        end = len(row)
        while end and row[end - 1] is None:
            end -= 1
        yield row[:end]


def csv_rows(
    content: bytes,
    *,
    max_rows: int,
    too_many: Callable[[int, int], SpreadsheetRefused] = too_many_rows,
    bounds: Limits | None = None,
) -> Iterator[list[str]]:
    """A CSV's rows (UTF-8, with or without a BOM), bounded as ``sheet_rows`` bounds a sheet."""
    bounds = bounds or limits()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpreadsheetRefused("encoding", lambda: _("CSV 文件须为 UTF-8 编码。")) from None
    reader = csv.reader(io.StringIO(text))
    count = 0
    while True:
        try:
            row = next(reader, None)
        except csv.Error as error:  # a field over the csv module's limit, a NUL byte, a broken quote
            reason = str(error)
            raise SpreadsheetRefused(
                "damaged_csv", lambda reason=reason: _("无法读取 CSV 文件：%(error)s。") % {"error": reason}
            ) from None
        if row is None:
            return
        count += 1
        if count > max_rows:
            raise too_many(max_rows, count)
        if len(row) > bounds.max_columns:
            raise _too_many_columns(count, bounds.max_columns)
        yield row


class ErrorList:
    """A file's errors: the first ``max_listed`` kept as they come, all of them counted, so that a
    file wrong in every row answers quickly and briefly. An error given as a callable is made
    only if it is listed."""

    def __init__(self, max_listed: int | None = None):
        self.max_listed = limits().max_listed_errors if max_listed is None else max_listed
        self.listed: list = []
        self.total = 0

    def add(self, error) -> None:
        self.total += 1
        if len(self.listed) < self.max_listed:
            self.listed.append(error() if callable(error) else error)

    def extend(self, errors: Iterable) -> None:
        for error in errors:
            self.add(error)

    @property
    def unlisted(self) -> int:
        return self.total - len(self.listed)

    def __len__(self) -> int:
        return self.total

    def __bool__(self) -> bool:
        return self.total > 0
