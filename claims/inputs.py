"""Parsing and checking claim input from any channel (API, web form, roster import).

A line's fields, their typed input (``LineInput``) and their parsing come from one table,
``claims.line_fields.LINE_FIELDS``; the claim's own fields are described the same way here.
Errors are collected for every field of every line, keyed by path
(``class_name``, ``lines[2].id_number``), so the caller can show all of them at once.
"""

import datetime
from dataclasses import dataclass, field, make_dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .line_fields import DATE, INT, LINE_FIELDS, TEXT, InputField
from .occupations import occupations_read_once
from .validators import checked_account_name

# A claim line, as the service takes it: one attribute per field of the table, in its order;
# an optional field may be left out (its blank value: "", False or None).
LineInput = make_dataclass(
    "LineInput",
    [
        (spec.name, spec.python_type) if spec.required else (spec.name, spec.python_type, field(default=spec.empty))
        for spec in LINE_FIELDS
    ],
    frozen=True,
    kw_only=True,
    namespace={"__module__": __name__, "__doc__": "A checked claim line: the fields of claims.line_fields.LINE_FIELDS."},
)

NO_LINES = gettext_lazy("至少需要一行学员信息。")
LINE_NOT_AN_OBJECT = gettext_lazy("每行须为一个对象。")

# The filed class a claim is for (开班备案): one of the provider's accepted classes (claims.services.check_class).
CLASS_FIELD = InputField(
    "class",
    gettext_lazy("备案班级"),
    INT,
    required=False,
    min_value=1,
    max_value=2**63 - 1,
    invalid=gettext_lazy("备案班级须为开班备案的编号（正整数）。"),
    help_text=gettext_lazy(
        "开班备案的班级 id（POST /api/v1/classes/ 答复中的 id）；须开班备案的标准、开班日期在备案起始日期之后的必填"
    ),
)

# The claim's codes, which the service resolves in the user's scope (claims.services).
CLAIM_CODE_FIELDS = (
    InputField(
        "provider",
        gettext_lazy("培训机构"),
        TEXT,
        required=False,
        help_text=gettext_lazy("培训机构代码；仅管理多家机构的经办人需要填写"),
    ),
    InputField("department", gettext_lazy("行业主管部门"), TEXT, help_text=gettext_lazy("行业主管部门代码")),
    InputField("policy", gettext_lazy("补贴标准"), TEXT, help_text=gettext_lazy("补贴目录代码，S1…S18")),
    CLASS_FIELD,
)
# The claim's own fields (ClaimHeaderInput).
HEADER_FIELDS = (
    InputField("class_name", gettext_lazy("班级名称"), TEXT, max_length=200),
    InputField("training_start", gettext_lazy("培训开始"), DATE),
    InputField("training_end", gettext_lazy("培训结束"), DATE),
)

# The enterprise paid, for a standard whose payee is an enterprise (S10–S14): required there,
# refused under any other standard (claims.services.check_enterprise).
ENTERPRISE_FIELDS = (
    InputField(
        "enterprise_name",
        gettext_lazy("企业名称"),
        TEXT,
        required=False,
        max_length=200,
        resolve=checked_account_name,  # the enterprise is paid under this name
        help_text=gettext_lazy("受补贴企业名称；补贴对象为企业的标准（S10–S14）必填"),
    ),
    InputField(
        "enterprise_credit_code",
        gettext_lazy("企业统一社会信用代码"),
        TEXT,
        required=False,
        max_length=18,
        help_text=gettext_lazy("受补贴企业的统一社会信用代码；补贴对象为企业的标准（S10–S14）必填"),
    ),
)


@dataclass(frozen=True)
class ClaimHeaderInput:
    class_name: str
    training_start: datetime.date
    training_end: datetime.date


class ErrorCollector:
    def __init__(self, fields: dict[str, list[str]] | None = None):
        """``fields``: problems found before (by the API's serializer), reported with the rest."""
        self.fields: dict[str, list[str]] = {}
        for path, messages in (fields or {}).items():
            for message in messages:
                self.add(path, message)

    def add(self, path: str, message: str) -> None:
        messages = self.fields.setdefault(path, [])
        if str(message) not in messages:  # the same problem found by two checks is said once
            messages.append(str(message))

    def __bool__(self):
        return bool(self.fields)


def parse_fields(specs, data: dict, prefix: str, errors: ErrorCollector) -> dict:
    """Each field's parsed value by name; a field that failed is left out, its messages go to
    ``errors`` under ``prefix`` + its name."""
    values = {}
    for spec in specs:
        try:
            values[spec.name] = spec.parse(data.get(spec.name))
        except ValidationError as error:
            for message in error.messages:
                errors.add(f"{prefix}{spec.name}", message)
    return values


def parse_header(data: dict, errors: ErrorCollector) -> ClaimHeaderInput | None:
    values = parse_fields(HEADER_FIELDS, data, "", errors)
    start, end = values.get("training_start"), values.get("training_end")
    if start and end and end < start:
        errors.add("training_end", _("培训结束日期不能早于开始日期。"))
    if errors:
        return None
    return ClaimHeaderInput(**values)


def parse_line(data: dict, index: int, errors: ErrorCollector) -> LineInput | None:
    prefix = f"lines[{index}]"
    if not isinstance(data, dict):
        errors.add(prefix, LINE_NOT_AN_OBJECT)
        return None
    values = parse_fields(LINE_FIELDS, data, f"{prefix}.", errors)
    return LineInput(**values) if len(values) == len(LINE_FIELDS) else None


def parse_lines(rows, errors: ErrorCollector) -> list[LineInput]:
    if not isinstance(rows, list) or not rows:
        errors.add("lines", NO_LINES)
        return []
    with occupations_read_once():
        return [line for index, row in enumerate(rows) if (line := parse_line(row, index, errors)) is not None]
