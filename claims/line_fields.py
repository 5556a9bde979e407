"""The fields of a claim line, defined once (``LINE_FIELDS``).

Every channel that takes a claim line is derived from this table, so they cannot disagree:

- ``claims.inputs``: the service's typed input (``LineInput``) and its parsing (``parse_line``);
- ``claims.roster``: the roster template's columns and the reading of a filled roster;
- ``approvals.forms``: the rows of the claim form (and what an edit shows back);
- ``api.serializers``: the API's line input (``ClaimLineInputSerializer``), hence its schema.

A field added here appears in all four; tests/test_line_fields.py checks that they agree.
Each field parses a raw value (text from a form, a JSON value, a spreadsheet cell) into its
Python value, or raises ``ValidationError`` with the messages the users read.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .bounds import reject_refused_characters, validate_plausible_date
from .models import CertificateType, HardshipGroup, Level, Occupation, TargetGroup
from .occupations import resolve_occupation
from .validators import normalize_resident_id, validate_resident_id

# Kinds of field: how a raw value is parsed, and how each channel shows the field.
ID_NUMBER = "id_number"  # a resident ID number (GB 11643-1999)
TEXT = "text"
CHOICE = "choice"  # one value of ``choices`` (a TextChoices)
DATE = "date"
INT = "int"
DECIMAL = "decimal"  # an amount of money: not negative, at most two decimal places
BOOL = "bool"
KINDS = (ID_NUMBER, TEXT, CHOICE, DATE, INT, DECIMAL, BOOL)

CENT = Decimal("0.01")
TRUE_TEXTS = ("true", "1", "yes", "是")
FALSE_TEXTS = ("", "false", "0", "no", "否")


@dataclass(frozen=True)
class InputField:
    name: str
    label: Promise  # gettext_lazy: the Chinese msgid, translated to English
    kind: str
    required: bool = True
    choices: type[models.TextChoices] | None = None  # CHOICE
    max_length: int | None = None  # TEXT
    min_value: int | None = None  # INT, DECIMAL
    max_value: int | None = None  # INT
    max_digits: int | None = None  # DECIMAL: digits in all, two of them after the point (as the model stores it)
    invalid: Promise | None = None  # INT, DECIMAL, BOOL: the message for a value of the wrong form
    future_refused: Promise | None = None  # DATE: the message for a date after today (None: any date)
    help_text: Promise | str = ""  # gettext_lazy; the API's schema shows its English
    # Where a claim line keeps the value: "" its field of the same name (claims.services writes it
    # there); None: not readable back (the ID number, kept encrypted on the trainee, is never sent
    # to the browser).
    stored_as: str | None = ""
    roster_width: int = 12  # the column's width in the roster template, in characters
    roster_aliases: tuple[str, ...] = ()  # other header titles a roster may use for the column
    # TEXT: what the parsed text stands for (the occupation it names), or ValidationError;
    # ``resolves_to`` is its type. The line stores it; ``shown_as`` reads its text back.
    resolve: Callable[[str], object] | None = None
    resolves_to: type | None = None
    shown_as: str | None = None  # a dotted path from the line, for the edit form (default: stored_as)

    def __post_init__(self):
        assert self.kind in KINDS, self.kind
        assert (self.kind == CHOICE) == (self.choices is not None), self.name

    @property
    def python_type(self) -> type:
        """The type of the parsed value, as the typed input (``LineInput``) declares it."""
        if self.resolves_to is not None:
            return self.resolves_to
        base = {ID_NUMBER: str, TEXT: str, CHOICE: str, DATE: datetime.date, INT: int, DECIMAL: Decimal, BOOL: bool}[self.kind]
        return base | None if self.empty is None and not self.required else base

    @property
    def empty(self):
        """The value of an optional field left blank."""
        return {ID_NUMBER: "", TEXT: "", CHOICE: "", BOOL: False}.get(self.kind)

    def stored_value(self, line):
        """The value stored on a claim line, as the edit form shows it (``stored_as``)."""
        value = line
        for attribute in (self.shown_as or self.stored_as or self.name).split("."):
            value = getattr(value, attribute)
        return value

    def parse(self, value):
        """The raw value as this field's Python value; raises ValidationError with the users' messages."""
        if self.kind == BOOL:
            return self._parse_bool(value)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if self.required:
                raise ValidationError(_("必填。"))
            return self.empty
        return getattr(self, f"_parse_{self.kind}")(value)

    def _parse_id_number(self, value) -> str:
        value = normalize_resident_id(str(value))
        validate_resident_id(value)
        return value

    def _parse_text(self, value) -> str:
        value = str(value).strip()
        reject_refused_characters(value)
        if self.max_length is not None and len(value) > self.max_length:
            raise ValidationError(_("不能超过 %(n)d 个字符。") % {"n": self.max_length})
        return self.resolve(value) if self.resolve is not None else value

    def _parse_choice(self, value) -> str:
        value = str(value).strip()
        if value not in self.choices.values:
            raise ValidationError(
                _("无效的取值“%(value)s”，可选：%(allowed)s。") % {"value": value, "allowed": ", ".join(self.choices.values)}
            )
        return value

    def _parse_date(self, value) -> datetime.date:
        if isinstance(value, datetime.datetime):
            value = value.date()
        elif not isinstance(value, datetime.date):
            try:
                value = datetime.date.fromisoformat(str(value).strip())
            except ValueError:
                raise ValidationError(_("日期格式应为 YYYY-MM-DD。")) from None
        validate_plausible_date(value)
        if self.future_refused is not None and value > timezone.localdate():
            raise ValidationError(str(self.future_refused))
        return value

    def _parse_int(self, value) -> int:
        text = str(value).strip()
        try:
            number = int(text)
        except ValueError:
            raise ValidationError(str(self.invalid)) from None
        if (
            text != str(number)
            or (self.min_value is not None and number < self.min_value)
            or (self.max_value is not None and number > self.max_value)
        ):
            raise ValidationError(str(self.invalid))
        return number

    def _parse_decimal(self, value) -> Decimal:
        try:
            amount = Decimal(str(value).strip())
            if (
                not amount.is_finite()
                or (self.min_value is not None and amount < self.min_value)
                or amount != amount.quantize(CENT)
            ):
                raise InvalidOperation
            amount = amount.quantize(CENT)
        except InvalidOperation:  # also what quantize raises for a number of too many digits
            raise ValidationError(str(self.invalid)) from None
        if self.max_digits is not None and amount > (largest := Decimal(10) ** (self.max_digits - 2) - CENT):
            raise ValidationError(_("金额不能大于 %(max)s。") % {"max": largest})
        return amount

    def _parse_bool(self, value) -> bool:
        if value is None:
            return False
        if isinstance(value, str):
            text = value.strip().lower()
            if text in FALSE_TEXTS:
                return False
            if text in TRUE_TEXTS:
                return True
        if not isinstance(value, bool):
            raise ValidationError(str(self.invalid))
        return value


LINE_FIELDS = (
    InputField(
        "id_number",
        gettext_lazy("身份证号码"),
        ID_NUMBER,
        help_text=gettext_lazy("居民身份证号码（GB 11643-1999）"),
        stored_as=None,
        roster_width=22,
        roster_aliases=("身份证号", "公民身份号码"),
    ),
    InputField("name", gettext_lazy("姓名"), TEXT, max_length=50),
    InputField(
        "occupation",
        gettext_lazy("职业（工种）"),
        TEXT,
        max_length=100,
        help_text=gettext_lazy("国家职业分类大典中的职业（工种）名称或其别名，如“电工”“低压电工作业”"),
        roster_width=16,
        resolve=resolve_occupation,
        resolves_to=Occupation,
        shown_as="occupation.name",
    ),
    InputField("level", gettext_lazy("等级"), CHOICE, choices=Level, roster_width=10),
    InputField("certificate_type", gettext_lazy("证书类型"), CHOICE, choices=CertificateType, roster_width=20),
    InputField("certificate_number", gettext_lazy("证书编号"), TEXT, max_length=60, roster_width=18),
    InputField(
        "certificate_date", gettext_lazy("发证日期"), DATE, future_refused=gettext_lazy("发证日期不能晚于今天。"), roster_width=14
    ),
    InputField(
        "training_days",
        gettext_lazy("培训天数"),
        INT,
        min_value=1,
        max_value=3660,
        invalid=gettext_lazy("培训天数须为 1 至 3660 之间的整数。"),
        roster_width=10,
    ),
    InputField(
        "stated_cost",
        gettext_lazy("实际培训费用"),
        DECIMAL,
        required=False,
        min_value=0,
        max_digits=12,
        invalid=gettext_lazy("实际费用须为不小于 0、最多两位小数的金额。"),
        help_text=gettext_lazy(
            "培训机构实际收取的费用：按实际费用补贴的标准必填；“不超过”某数额的标准填写时付两者中较低者；定额等其余标准不受其影响"
        ),
        roster_width=14,
    ),
    InputField(
        "variant",
        gettext_lazy("类型"),
        TEXT,
        required=False,
        max_length=30,
        help_text=gettext_lazy("补贴目录中的类型：新取证留空；复审、省外研修等按目录填写（如 renewal）"),
    ),
    InputField(
        "hardship_group",
        gettext_lazy("困难群体类别"),
        CHOICE,
        required=False,
        choices=HardshipGroup,
        help_text=gettext_lazy("享受培训期间生活费补贴的困难群体类别（S6）"),
        roster_width=24,
    ),
    InputField(
        "free_training",
        gettext_lazy("免费培训"),
        BOOL,
        required=False,
        invalid=gettext_lazy("须为 true 或 false。"),
        help_text=gettext_lazy("培训是免费的：不再享受个人取证补贴（E9）"),
        roster_width=10,
    ),
    InputField(
        "periods",
        gettext_lazy("申领期数"),
        INT,
        required=False,
        min_value=1,
        max_value=120,
        invalid=gettext_lazy("申领期数须为 1 至 120 之间的整数。"),
        help_text=gettext_lazy("按月或按年发放的标准：申领的月数或年数；留空按 1 期计算"),
        roster_width=10,
    ),
    InputField(
        "target_group",
        gettext_lazy("人员类别"),
        CHOICE,
        required=False,
        choices=TargetGroup,
        help_text=gettext_lazy("创业培训（S4）和退役军人培训（S5）的对象类别"),
        roster_width=20,
    ),
    InputField(
        "discharge_year",
        gettext_lazy("退役年份"),
        INT,
        required=False,
        min_value=1950,
        max_value=2100,
        invalid=gettext_lazy("退役年份须为四位数的年份。"),
        help_text=gettext_lazy("退役军人培训（S5）：退役的年份，须为培训当年"),
        roster_width=10,
    ),
    InputField(
        "chief_technician_filed",
        gettext_lazy("首席技师已备案"),
        BOOL,
        required=False,
        invalid=gettext_lazy("须为 true 或 false。"),
        help_text=gettext_lazy("企业首席技师技能岗位津贴（S15）：经过备案的企业首席技师"),
        roster_width=12,
    ),
    InputField(
        "certificate_issuer",
        gettext_lazy("发证机构"),
        TEXT,
        required=False,
        max_length=100,
        help_text=gettext_lazy("证书的发证机构（与证书编号一起识别一张证书）；留空按“发证机构未填”处理"),
        roster_width=20,
    ),
)
LINE_FIELDS_BY_NAME = {field.name: field for field in LINE_FIELDS}
assert len(LINE_FIELDS_BY_NAME) == len(LINE_FIELDS)
