"""The Excel roster: the template providers fill in, and reading a filled one back.

Reading only turns cells into the same dicts the API takes (``claims.inputs.parse_line``
checks every value); what is particular to a spreadsheet is checked here: the file is a
real .xlsx, the headers are ours, no formulas, dates are real dates, not too many rows.

Every problem is reported with its sheet row number and column title, in Chinese and
English (``{row, column, column_en, field, message, message_en}``), all at once.
"""

import datetime
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from .inputs import ErrorCollector, LineInput, parse_line
from .languages import in_both_languages
from .line_fields import BOOL, CHOICE, DATE, DECIMAL, ID_NUMBER, INT, LINE_FIELDS, TEXT, InputField
from .models import CertificateType, Level
from .occupations import occupations_read_once
from .spreadsheets import MONEY_FORMAT, SpreadsheetRefused, open_xlsx, safe_cell, safe_row, sheet_rows

MAX_ROWS = settings.CLAIM_LINES_MAX  # trainees per roster; larger classes are split into several claims
MAX_FILE_BYTES = 20 * 1024 * 1024
SHEET_TITLE = "花名册"
CHOICES_SHEET_TITLE = "可选值"
HELP_SHEET_TITLE = "填写说明"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEMPLATE_FILENAME = "roster-template.xlsx"

EXAMPLE_ID_NUMBER = "11010519491231002X"
EXAMPLE_NAME = "张三（示例）"

YES, NO = "是", "否"


@dataclass(frozen=True)
class Column:
    """A column of the roster: a line field (claims/line_fields.py) as the spreadsheet shows it."""

    spec: InputField

    @property
    def field(self) -> str:
        return self.spec.name

    @property
    def label(self):  # gettext_lazy: Chinese msgid, English translation
        return self.spec.label

    @property
    def kind(self) -> str:  # one of claims.line_fields.KINDS
        return self.spec.kind

    @property
    def required(self) -> bool:
        return self.spec.required

    @property
    def width(self) -> int:
        return self.spec.roster_width

    @property
    def choices(self):
        return self.spec.choices

    @property
    def title(self) -> str:
        """The column's title in the active language."""
        return str(self.label)

    def header(self) -> str:
        """The header cell of the template: the Chinese title and the field key."""
        with translation.override("zh-hans"):
            return f"{self.title} {self.field}"


COLUMNS = tuple(Column(spec) for spec in LINE_FIELDS)
COLUMNS_BY_FIELD = {column.field: column for column in COLUMNS}
REQUIRED_FIELDS = tuple(column.field for column in COLUMNS if column.required)


# --------------------------------------------------------------------------- errors


def column_titles(fields: Iterable[str]) -> Callable[[], str]:
    return lambda: "、".join(COLUMNS_BY_FIELD[name].title if name in COLUMNS_BY_FIELD else name for name in fields)


def _located(row: int | None, column: Column | None, message: str) -> str:
    """ "第5行 发证日期：…" in the active language."""
    if row is not None and column is not None:
        return _("第%(row)d行 %(column)s：%(message)s") % {"row": row, "column": column.title, "message": message}
    if row is not None:
        return _("第%(row)d行：%(message)s") % {"row": row, "message": message}
    return message


def _error(row: int | None, column: Column | None, message: str, message_en: str) -> dict:
    column_zh, column_en = in_both_languages(lambda: column.title) if column else ("", "")
    return {
        "row": row,
        "column": column_zh,
        "column_en": column_en,
        "column_letter": get_column_letter(COLUMNS.index(column) + 1) if column else "",
        "field": column.field if column else "",
        "message": message,
        "message_en": message_en,
    }


def row_error(row: int | None, field_name: str | None, build: Callable[[], str]) -> dict:
    """One problem, located by sheet row and column; ``build`` makes the message (with gettext)."""
    column = COLUMNS_BY_FIELD.get(field_name) if field_name else None
    message, message_en = in_both_languages(lambda: _located(row, column, str(build())))
    return _error(row, column, message, message_en)


def error_fields(errors: Sequence[dict]) -> dict[str, list[str]]:
    """Errors as the API's ``fields``: ``rows[5].id_number`` → [Chinese, English]."""
    fields: dict[str, list[str]] = {}
    for error in errors:
        if error["row"] is None:
            path = "file"
        else:
            path = f"rows[{error['row']}]" + (f".{error['field']}" if error["field"] else "")
        fields.setdefault(path, []).extend([error["message"], error["message_en"]])
    return fields


class RosterFileError(Exception):
    """The file as a whole cannot be read as a roster (not xlsx, empty, wrong headers, too big)."""

    def __init__(self, errors: list[dict]):
        super().__init__(errors[0]["message"])
        self.errors = errors


def _file_error(build: Callable[[], str]) -> RosterFileError:
    return RosterFileError([row_error(None, None, build)])


# --------------------------------------------------------------------------- the template


def _choice_labels(choices) -> list[str]:
    with translation.override("zh-hans"):
        return [str(label) for label in choices.labels]


def build_template(*, variants: Sequence[str] = (), today: datetime.date | None = None) -> bytes:
    """The roster template: headers in Chinese with the field key, an example row, drop-down
    lists of allowed values (from the 可选值 sheet), text and date formats on the right columns."""
    today = today or timezone.localdate()
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_TITLE
    header_fill = PatternFill("solid", fgColor="DDE7F3")
    example_fill = PatternFill("solid", fgColor="F2F2F2")
    with translation.override("zh-hans"):
        sheet.append(safe_row(column.header() for column in COLUMNS))
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True, color="C00000" if column.required else "000000")
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        letter = get_column_letter(index)
        dimension = sheet.column_dimensions[letter]
        dimension.width = column.width
        # Formats of the whole column (no cells are created, so the sheet stays its real size).
        if column.kind in (ID_NUMBER, TEXT):
            dimension.number_format = "@"
        elif column.kind == DATE:
            dimension.number_format = "yyyy-mm-dd"
        elif column.kind == DECIMAL:
            dimension.number_format = MONEY_FORMAT
    sheet.row_dimensions[1].height = 32
    sheet.freeze_panes = "A2"

    example = {
        "id_number": EXAMPLE_ID_NUMBER,
        "name": EXAMPLE_NAME,
        "occupation": "电工",
        "level": _choice_labels(Level)[Level.values.index(Level.JUNIOR)],
        "certificate_type": _choice_labels(CertificateType)[CertificateType.values.index(CertificateType.SPECIAL_OPERATION)],
        "certificate_number": "T330000000001",
        "certificate_date": today - datetime.timedelta(days=30),
        "training_days": 10,
        "stated_cost": 450,
        "free_training": NO,
    }
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=2, column=index, value=safe_cell(example.get(column.field)))
        cell.fill = example_fill
        cell.font = Font(italic=True, color="7F7F7F")
        if column.kind in (ID_NUMBER, TEXT):
            cell.number_format = "@"
        elif column.kind == DATE:
            cell.number_format = "yyyy-mm-dd"
        elif column.kind == DECIMAL:
            cell.number_format = MONEY_FORMAT

    # Allowed values, and drop-down lists that use them.
    choices_sheet = workbook.create_sheet(CHOICES_SHEET_TITLE)
    # Every choice and yes/no column, then the catalogue's variants (suggested, not enforced).
    lists = {
        column.field: _choice_labels(column.choices) if column.kind == CHOICE else [YES, NO]
        for column in COLUMNS
        if column.kind in (CHOICE, BOOL)
    }
    lists["variant"] = list(variants)
    last_row = MAX_ROWS + 1
    for list_index, (field_name, values) in enumerate(lists.items(), start=1):
        letter = get_column_letter(list_index)
        with translation.override("zh-hans"):
            title = safe_cell(COLUMNS_BY_FIELD[field_name].header())
            choices_sheet.cell(row=1, column=list_index, value=title).font = Font(bold=True)
        choices_sheet.column_dimensions[letter].width = 26
        for row, value in enumerate(values, start=2):
            choices_sheet.cell(row=row, column=list_index, value=safe_cell(value))  # variants come from the catalogue
        if not values:
            continue
        target = get_column_letter(COLUMNS.index(COLUMNS_BY_FIELD[field_name]) + 1)
        validation = DataValidation(
            type="list",
            formula1=f"'{CHOICES_SHEET_TITLE}'!${letter}$2:${letter}${len(values) + 1}",
            allow_blank=not COLUMNS_BY_FIELD[field_name].required,
            showErrorMessage=field_name != "variant",
            errorTitle="取值无效",
            error="请从下拉列表中选择。",
        )
        validation.add(f"{target}2:{target}{last_row}")
        sheet.add_data_validation(validation)
    for index, column in enumerate(COLUMNS, start=1):
        if column.kind != DATE:
            continue
        date_column = get_column_letter(index)
        date_validation = DataValidation(
            type="date", operator="greaterThan", formula1="DATE(1990,1,1)", showErrorMessage=True,
            errorTitle="日期无效", error="请填写日期，例如 2026-03-01（不要输入文本）。",
        )  # fmt: skip
        date_validation.add(f"{date_column}2:{date_column}{last_row}")
        sheet.add_data_validation(date_validation)

    with translation.override("zh-hans"):
        drop_down_titles = "、".join(COLUMNS_BY_FIELD[name].title for name in lists if name != "variant")
    help_sheet = workbook.create_sheet(HELP_SHEET_TITLE)
    help_sheet.column_dimensions["A"].width = 110
    lines = [
        "职业技能培训补贴申领 · 学员花名册填写说明",
        "",
        f"1. 在“{SHEET_TITLE}”工作表中每行填写一名学员；第1行标题不要修改，也不要增删列。",
        "2. 第2行灰色斜体为示例，上传前请删除或用真实数据覆盖（保留示例行会被拒绝）。",
        "3. 红色标题为必填列。身份证号码请按文本填写（18位，末位可为X）。",
        "4. 发证日期须为日期格式（如 2026-03-01），不要输入文本或公式。",
        f"5. {drop_down_titles}请从下拉列表选择（可选值见“{CHOICES_SHEET_TITLE}”工作表）。",
        "6. 实际培训费用：按实际收费填写。按实际费用补贴的标准必填；“不超过”某数额的标准付两者中较低者（留空按该数额计算）；定额等其余标准不受其影响。",
        "7. 类型 variant：新取证留空；复审、换证等按补贴目录填写（如 renewal）。",
        f"8. 不接受公式。每份花名册最多 {MAX_ROWS} 行；1000 行及以上在后台处理，页面显示进度。",
        "9. 任何一行有误时整份花名册不保存，系统会列出每个出错的行和列。",
    ]
    for row, text in enumerate(lines, start=1):
        help_sheet.cell(row=row, column=1, value=safe_cell(text))
    help_sheet["A1"].font = Font(bold=True, size=13)

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- reading a roster


@dataclass
class RosterRow:
    number: int  # the row number in the sheet (the header is row 1)
    data: dict
    cell_errors: list[dict] = field(default_factory=list)


@dataclass
class RosterSheet:
    rows: list[RosterRow]
    columns: list[str]  # the fields, in the file's column order


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_file(content: bytes) -> None:
    """What a clerk may have got wrong about the file itself, said in the roster's words."""
    if not content:
        raise _file_error(lambda: _("上传的文件是空的。"))
    if len(content) > MAX_FILE_BYTES:
        raise _file_error(lambda: _("文件过大（超过 %(mb)d MB）。") % {"mb": MAX_FILE_BYTES // (1024 * 1024)})
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise _file_error(lambda: _("这是旧版 Excel（.xls）文件，请在 Excel 中“另存为” .xlsx 后再上传。"))
    if content[:4] != b"PK\x03\x04":
        raise _file_error(lambda: _("文件不是 Excel .xlsx 格式，请使用下载的模板填写后上传。"))


def _roster_sheet(workbook):
    """The worksheet named 花名册, else the first worksheet (a chart sheet of that name has no rows)."""
    named = [sheet for sheet in workbook.worksheets if sheet.title == SHEET_TITLE]
    return (named or workbook.worksheets)[0]


def _header_field(text) -> str | None:
    if not isinstance(text, str):
        return None
    text = " ".join(text.split())
    if not text:
        return None
    key = text.rsplit(" ", 1)[-1].lower()
    if key in COLUMNS_BY_FIELD:
        return key
    for column in COLUMNS:
        for language in ("zh-hans", "en"):
            with translation.override(language):
                if text.lower() == column.title.lower():
                    return column.field
        if text.lower() in (alias.lower() for alias in column.spec.roster_aliases):
            return column.field
    return ""


def _read_header(header_row) -> list[str | None]:
    """The field of each column (None for a blank header); refuses unknown, duplicate or missing columns."""
    fields: list[str | None] = []
    unknown: list[str] = []
    duplicates: list[str] = []
    for value in header_row:
        name = _header_field(value)
        if name == "":
            unknown.append(str(value).strip())
        elif name is not None and name in fields:
            duplicates.append(name)
        fields.append(name or None)
    while fields and fields[-1] is None:
        fields.pop()
    missing = [name for name in REQUIRED_FIELDS if name not in fields]
    errors = []
    if missing:
        errors.append(
            row_error(
                1,
                None,
                lambda: (
                    _("缺少必填列：%(columns)s。请使用下载的模板，不要修改第1行标题。") % {"columns": column_titles(missing)()}
                ),
            )
        )
    if unknown:
        errors.append(row_error(1, None, lambda: _("无法识别的列：%(columns)s。") % {"columns": "、".join(unknown)}))
    if duplicates:
        errors.append(row_error(1, None, lambda: _("列重复：%(columns)s。") % {"columns": column_titles(duplicates)()}))
    if errors:
        raise RosterFileError(errors)
    return fields


def _too_many_rows(bound: int, count: int) -> SpreadsheetRefused:
    """The sheet has more rows than MAX_ROWS below its header (``bound`` and ``count`` include the header)."""
    return SpreadsheetRefused(
        "too_many_rows",
        lambda: (
            _("花名册超过 %(max)d 行（文件中至少有 %(count)d 行，空行也计算在内），请分成多份申领上传。")
            % {"max": bound - 1, "count": count - 1}
        ),
    )


PLAIN_VALUES = (str, int, float, bool, datetime.date, datetime.datetime, datetime.time)


def _cell_value(column: Column, value, row: int, errors: list[dict]):
    """The cell's value as parse_line takes it; problems particular to a spreadsheet go to ``errors``.
    The workbook is read without computed values: a formula comes as its text ("=A1+1") or as an
    openpyxl formula object, never as a number that might be stale."""
    if (isinstance(value, str) and value.lstrip().startswith("=")) or (value is not None and not isinstance(value, PLAIN_VALUES)):
        errors.append(row_error(row, column.field, lambda: _("不接受公式，请复制后“选择性粘贴为数值”。")))
        return None
    if isinstance(value, str):
        value = value.strip()
    if _is_blank(value):
        return None
    if column.kind == DATE:
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        if isinstance(value, str):
            errors.append(row_error(row, column.field, lambda: _("请使用日期格式，不要使用文本（例如 2026-03-01）。")))
        else:
            errors.append(row_error(row, column.field, lambda: _("请使用日期格式：该单元格是数字，不是日期。")))
        return None
    if column.kind == ID_NUMBER:
        if isinstance(value, float):
            errors.append(
                row_error(row, column.field, lambda: _("身份证号码被存成了数字，末几位可能已丢失：请把该列设为文本后重新输入。"))
            )
            return None
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        errors.append(row_error(row, column.field, lambda: _("这里不应填写日期。")))
        return None
    if column.kind in (INT, TEXT) and isinstance(value, float) and value.is_integer():
        return str(int(value))
    if column.kind == CHOICE:
        key = _choice_key(column.choices, str(value))
        if key is None:
            errors.append(
                row_error(
                    row,
                    column.field,
                    lambda: (
                        _("无效的取值“%(value)s”，请从下拉列表中选择：%(allowed)s。")
                        % {"value": value, "allowed": "、".join(str(label) for label in column.choices.labels)}
                    ),
                )
            )
        return key
    if column.kind == BOOL:
        if isinstance(value, bool):
            return value
        text = str(value)
        return {YES: True, NO: False}.get(text, text)
    if isinstance(value, bool):
        return str(value)
    return value if column.kind == DECIMAL else str(value)


_CHOICE_KEYS: dict[type, dict[str, str]] = {}


def _choice_key(choices, text: str) -> str | None:
    """A choice is given by its Chinese label (the drop-down list), its English label or its key."""
    keys = _CHOICE_KEYS.get(choices)
    if keys is None:
        keys = {}
        for language in ("en", "zh-hans"):
            with translation.override(language):
                keys.update({str(label).lower(): value for value, label in choices.choices})
        keys.update({value: value for value in choices.values})
        _CHOICE_KEYS[choices] = keys
    return keys.get(text) or keys.get(text.lower())


def read_roster(content: bytes) -> RosterSheet:
    """Read the roster sheet into one dict per non-blank row. Raises RosterFileError for a
    file that is not a roster at all (or is too big: claims/spreadsheets.py bounds the archive
    and the rows, blank ones counted, before and while reading); problems of single cells are
    kept on their rows. The workbook is read without computed values (see _cell_value)."""
    _check_file(content)
    result: list[RosterRow] = []
    try:
        with open_xlsx(content, data_only=False, max_rows=MAX_ROWS + 1, too_many=_too_many_rows) as workbook:
            rows = sheet_rows(_roster_sheet(workbook), max_rows=MAX_ROWS + 1, too_many=_too_many_rows)
            header = next(rows, None)
            if header is None or all(_is_blank(value) for value in header):
                raise _file_error(lambda: _("工作表是空的：第1行应为标题，第2行起每行一名学员。"))
            fields = _read_header(header)
            width = len(fields)
            for number, cells in enumerate(rows, start=2):
                if all(_is_blank(value) for value in cells):
                    continue
                result.append(_roster_row(number, cells, fields, width))
    except RosterFileError:
        raise
    except SpreadsheetRefused as refused:  # a damaged row too (claims.spreadsheets.sheet_rows)
        raise _file_error(refused.build) from None
    if not result:
        raise _file_error(lambda: _("花名册没有学员：第2行起每行填写一名学员。"))
    return RosterSheet(rows=result, columns=[name for name in fields if name])


def _roster_row(number: int, cells: tuple, fields: list[str | None], width: int) -> RosterRow:
    errors: list[dict] = []
    data = {}
    for position, value in enumerate(cells):
        name = fields[position] if position < width else None
        if name is not None:
            data[name] = _cell_value(COLUMNS_BY_FIELD[name], value, number, errors)
        elif not _is_blank(value):
            letter = get_column_letter(position + 1)
            errors.append(
                row_error(
                    number,
                    None,
                    lambda letter=letter: (
                        _("%(letter)s列没有标题，其中的内容无法导入：请删除或移到正确的列。") % {"letter": letter}
                    ),
                )
            )
    if data.get("id_number") == EXAMPLE_ID_NUMBER and data.get("name") == EXAMPLE_NAME:
        errors.append(row_error(number, None, lambda: _("这是模板的示例行，请删除后再上传。")))
    return RosterRow(number=number, data=data, cell_errors=errors)


# --------------------------------------------------------------------------- checking rows


def check_rows(rows: Sequence[RosterRow], *, first_index: int = 0) -> tuple[list[LineInput], list[dict]]:
    """Check each row with the same parse_line the API uses; its ``lines[i].field`` errors become
    row-and-column errors in both languages. ``first_index`` is the index of ``rows[0]`` in the roster."""
    with occupations_read_once():
        return _checked_rows(rows, first_index)


def _checked_rows(rows: Sequence[RosterRow], first_index: int) -> tuple[list[LineInput], list[dict]]:
    lines: list[LineInput] = []
    errors: list[dict] = []
    for offset, row in enumerate(rows):
        index = first_index + offset
        with translation.override("zh-hans"):
            collector = ErrorCollector()
            line = parse_line(row.data, index, collector)
        errors.extend(row.cell_errors)
        if line is not None and not row.cell_errors:
            lines.append(line)
            continue
        if not collector:
            continue
        with translation.override("en"):
            english = ErrorCollector()
            parse_line(row.data, index, english)
        located = {error["field"] for error in row.cell_errors}
        prefix = f"lines[{index}]"
        for path, messages in collector.fields.items():
            field_name = path[len(prefix) + 1 :] if path.startswith(prefix + ".") else None
            if field_name in located:
                continue  # already explained by the cell (a date given as text is not also "required")
            for position, message in enumerate(messages):
                message_en = english.fields.get(path, [])[position : position + 1] or [message]
                errors.append(_parsed_error(row.number, field_name, message, message_en[0]))
    return lines, errors


def _parsed_error(row: int, field_name: str | None, message: str, message_en: str) -> dict:
    """A parse_line message (already in each language) located by row and column."""
    column = COLUMNS_BY_FIELD.get(field_name) if field_name else None
    with translation.override("zh-hans"):
        located = _located(row, column, message)
    with translation.override("en"):
        located_en = _located(row, column, message_en)
    return _error(row, column, located, located_en)


# --------------------------------------------------------------------------- a filed class's roster (开班备案)

CLASS_ROSTER_FIELDS = ("id_number", "name")


@dataclass(frozen=True)
class PlannedTrainee:
    row: int
    id_number: str
    name: str


def read_class_roster(content: bytes) -> tuple[list[PlannedTrainee], list[dict]]:
    """The planned trainees of a class from an .xlsx with the claim roster's 身份证号码 and 姓名
    columns (other claim-roster columns are ignored): the same file checks, the same cell
    checks and the same field parsing as a claim's roster, errors by row and column in both
    languages. A person listed twice is an error on the later row."""
    _check_file(content)
    people: list[PlannedTrainee] = []
    errors: list[dict] = []
    try:
        with open_xlsx(content, data_only=False, max_rows=MAX_ROWS + 1, too_many=_too_many_rows) as workbook:
            rows = sheet_rows(_roster_sheet(workbook), max_rows=MAX_ROWS + 1, too_many=_too_many_rows)
            header = next(rows, None)
            if header is None or all(_is_blank(value) for value in header):
                raise _file_error(lambda: _("工作表是空的：第1行应为标题，第2行起每行一名学员。"))
            fields = [_header_field(value) or None for value in header]
            missing = [name for name in CLASS_ROSTER_FIELDS if name not in fields]
            if missing:
                raise RosterFileError(
                    [row_error(1, None, lambda: _("缺少必填列：%(columns)s。") % {"columns": column_titles(missing)()})]
                )
            seen: dict[str, int] = {}
            for number, cells in enumerate(rows, start=2):
                if all(_is_blank(value) for value in cells):
                    continue
                cell_errors: list[dict] = []
                values = {}
                for name in CLASS_ROSTER_FIELDS:
                    position = fields.index(name)
                    raw = cells[position] if position < len(cells) else None
                    values[name] = _cell_value(COLUMNS_BY_FIELD[name], raw, number, cell_errors)
                if not cell_errors:
                    for name in CLASS_ROSTER_FIELDS:
                        spec = COLUMNS_BY_FIELD[name].spec
                        try:
                            values[name] = spec.parse(values[name])
                        except ValidationError as error:
                            for message in error.messages:
                                cell_errors.append(row_error(number, name, lambda message=message: message))
                errors.extend(cell_errors)
                if cell_errors:
                    continue
                if values["id_number"] in seen:
                    first = seen[values["id_number"]]
                    errors.append(
                        row_error(number, "id_number", lambda first=first: _("与第 %(row)d 行是同一人。") % {"row": first})
                    )
                    continue
                seen[values["id_number"]] = number
                people.append(PlannedTrainee(number, values["id_number"], values["name"]))
    except RosterFileError:
        raise
    except SpreadsheetRefused as refused:
        raise _file_error(refused.build) from None
    if not people and not errors:
        raise _file_error(lambda: _("花名册没有学员：第2行起每行填写一名学员。"))
    return people, errors


# --------------------------------------------------------------------------- a class's attendance

ATTENDANCE_COLUMNS = {"id_number": ("身份证号码", "id_number"), "day": ("日期", "day"), "present": ("出勤", "present")}
PRESENT_TEXTS = {"是": True, "出勤": True, "√": True, "1": True, "yes": True, "true": True, "y": True}
ABSENT_TEXTS = {"否": False, "缺勤": False, "×": False, "0": False, "no": False, "false": False, "n": False}


@dataclass(frozen=True)
class AttendanceRow:
    row: int
    id_number: str
    day: datetime.date
    present: bool


def read_attendance(content: bytes) -> tuple[list[AttendanceRow], list[dict]]:
    """A class's attendance from an .xlsx: one row per trainee per day (身份证号码, 日期, 出勤 是/否),
    read with the roster's file and cell checks; errors by row and column."""
    _check_file(content)
    rows_out: list[AttendanceRow] = []
    errors: list[dict] = []
    id_column = COLUMNS_BY_FIELD["id_number"]
    try:
        with open_xlsx(content, data_only=False, max_rows=MAX_ROWS + 1, too_many=_too_many_rows) as workbook:
            rows = sheet_rows(workbook.worksheets[0], max_rows=MAX_ROWS + 1, too_many=_too_many_rows)
            header = next(rows, None) or ()
            titles = [" ".join(str(value).split()).lower() if isinstance(value, str) else "" for value in header]
            where = {}
            for name, accepted in ATTENDANCE_COLUMNS.items():
                for position, title in enumerate(titles):
                    if title in accepted or title.rsplit(" ", 1)[-1] == name:
                        where[name] = position
            missing = [ATTENDANCE_COLUMNS[name][0] for name in ATTENDANCE_COLUMNS if name not in where]
            if missing:
                raise RosterFileError(
                    [row_error(1, None, lambda: _("缺少必填列：%(columns)s。") % {"columns": "、".join(missing)})]
                )
            seen: dict[tuple[str, datetime.date], int] = {}
            for number, cells in enumerate(rows, start=2):
                if all(_is_blank(value) for value in cells):
                    continue

                def cell(name, cells=cells):
                    position = where[name]
                    return cells[position] if position < len(cells) else None

                row_errors: list[dict] = []
                id_number = _cell_value(id_column, cell("id_number"), number, row_errors)
                if not row_errors:
                    try:
                        id_number = id_column.spec.parse(id_number)
                    except ValidationError as error:
                        for message in error.messages:
                            row_errors.append(row_error(number, "id_number", lambda message=message: message))
                day = cell("day")
                if isinstance(day, datetime.datetime):
                    day = day.date()
                if not isinstance(day, datetime.date):
                    row_errors.append(row_error(number, None, lambda: _("“日期”须为日期（例如 2026-03-01）。")))
                raw = cell("present")
                text = ("1" if raw is True else "0" if raw is False else str(raw if raw is not None else "")).strip().lower()
                if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                    text = str(int(raw)) if float(raw).is_integer() else text
                present = PRESENT_TEXTS.get(text, ABSENT_TEXTS.get(text))
                if present is None:
                    row_errors.append(row_error(number, None, lambda: _("“出勤”须填“是”或“否”。")))
                if row_errors:
                    errors.extend(row_errors)
                    continue
                key = (id_number, day)
                if key in seen:
                    first = seen[key]
                    errors.append(
                        row_error(number, None, lambda first=first: _("与第 %(row)d 行是同一人同一天。") % {"row": first})
                    )
                    continue
                seen[key] = number
                rows_out.append(AttendanceRow(number, id_number, day, present))
    except RosterFileError:
        raise
    except SpreadsheetRefused as refused:
        raise _file_error(refused.build) from None
    if not rows_out and not errors:
        raise _file_error(lambda: _("考勤表没有记录：第2行起每行一名学员一天。"))
    return rows_out, errors
