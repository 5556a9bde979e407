"""Parsing and checking claim input from any channel (API, web form, roster import).

Errors are collected for every field of every line, keyed by path
(``class_name``, ``lines[2].id_number``), so the caller can show all of them at once.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .models import CertificateType, HardshipGroup, Level
from .validators import normalize_resident_id, validate_resident_id

LINE_FIELDS = (
    "id_number",
    "name",
    "occupation",
    "level",
    "certificate_type",
    "certificate_number",
    "certificate_date",
    "training_days",
    "stated_cost",
    "variant",
    "hardship_group",
    "free_training",
    "periods",
)


@dataclass(frozen=True)
class LineInput:
    id_number: str
    name: str
    occupation: str
    level: str
    certificate_type: str
    certificate_number: str
    certificate_date: datetime.date
    training_days: int
    stated_cost: Decimal | None
    variant: str = ""
    hardship_group: str = ""
    free_training: bool = False
    periods: int | None = None


@dataclass(frozen=True)
class ClaimHeaderInput:
    class_name: str
    training_start: datetime.date
    training_end: datetime.date


class ErrorCollector:
    def __init__(self):
        self.fields: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.fields.setdefault(path, []).append(str(message))

    def __bool__(self):
        return bool(self.fields)


def _text(data: dict, key: str, path: str, errors: ErrorCollector, max_length: int) -> str:
    value = data.get(key)
    value = "" if value is None else str(value).strip()
    if not value:
        errors.add(path, _("必填。"))
    elif len(value) > max_length:
        errors.add(path, _("不能超过 %(n)d 个字符。") % {"n": max_length})
    return value


def _date(data: dict, key: str, path: str, errors: ErrorCollector) -> datetime.date | None:
    value = data.get(key)
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if value in (None, ""):
        errors.add(path, _("必填。"))
        return None
    try:
        return datetime.date.fromisoformat(str(value).strip())
    except ValueError:
        errors.add(path, _("日期格式应为 YYYY-MM-DD。"))
        return None


def _choice(data: dict, key: str, path: str, errors: ErrorCollector, choices) -> str:
    value = str(data.get(key) or "").strip()
    if not value:
        errors.add(path, _("必填。"))
    elif value not in choices.values:
        errors.add(path, _("无效的取值“%(value)s”，可选：%(allowed)s。") % {"value": value, "allowed": ", ".join(choices.values)})
    return value


def parse_header(data: dict, errors: ErrorCollector) -> ClaimHeaderInput | None:
    class_name = _text(data, "class_name", "class_name", errors, 200)
    start = _date(data, "training_start", "training_start", errors)
    end = _date(data, "training_end", "training_end", errors)
    if start and end and end < start:
        errors.add("training_end", _("培训结束日期不能早于开始日期。"))
    if errors:
        return None
    return ClaimHeaderInput(class_name=class_name, training_start=start, training_end=end)


def parse_line(data: dict, index: int, errors: ErrorCollector) -> LineInput | None:
    prefix = f"lines[{index}]"
    before = sum(len(v) for v in errors.fields.values())
    if not isinstance(data, dict):
        errors.add(prefix, _("每行须为一个对象。"))
        return None
    id_number = normalize_resident_id(str(data.get("id_number") or ""))
    if not id_number:
        errors.add(f"{prefix}.id_number", _("必填。"))
    else:
        try:
            validate_resident_id(id_number)
        except ValidationError as error:
            for message in error.messages:
                errors.add(f"{prefix}.id_number", message)
    name = _text(data, "name", f"{prefix}.name", errors, 50)
    occupation = _text(data, "occupation", f"{prefix}.occupation", errors, 100)
    level = _choice(data, "level", f"{prefix}.level", errors, Level)
    certificate_type = _choice(data, "certificate_type", f"{prefix}.certificate_type", errors, CertificateType)
    certificate_number = _text(data, "certificate_number", f"{prefix}.certificate_number", errors, 60)
    certificate_date = _date(data, "certificate_date", f"{prefix}.certificate_date", errors)
    if certificate_date and certificate_date > datetime.date.today():
        errors.add(f"{prefix}.certificate_date", _("发证日期不能晚于今天。"))

    training_days = None
    raw_days = data.get("training_days")
    if raw_days in (None, ""):
        errors.add(f"{prefix}.training_days", _("必填。"))
    else:
        try:
            training_days = int(str(raw_days).strip())
            if training_days < 1 or training_days > 3660 or str(raw_days).strip() != str(training_days):
                raise ValueError
        except ValueError:
            errors.add(f"{prefix}.training_days", _("培训天数须为 1 至 3660 之间的整数。"))

    stated_cost = None
    raw_cost = data.get("stated_cost")
    if raw_cost not in (None, ""):
        try:
            stated_cost = Decimal(str(raw_cost).strip())
            if not stated_cost.is_finite() or stated_cost < 0 or stated_cost != stated_cost.quantize(Decimal("0.01")):
                raise InvalidOperation
            stated_cost = stated_cost.quantize(Decimal("0.01"))
        except InvalidOperation:
            errors.add(f"{prefix}.stated_cost", _("实际费用须为不小于 0、最多两位小数的金额。"))

    variant = str(data.get("variant") or "").strip()
    if len(variant) > 30:
        errors.add(f"{prefix}.variant", _("不能超过 %(n)d 个字符。") % {"n": 30})
    hardship_group = str(data.get("hardship_group") or "").strip()
    if hardship_group and hardship_group not in HardshipGroup.values:
        errors.add(
            f"{prefix}.hardship_group",
            _("无效的取值“%(value)s”，可选：%(allowed)s。") % {"value": hardship_group, "allowed": ", ".join(HardshipGroup.values)},
        )
    free_training = data.get("free_training", False)
    if isinstance(free_training, str):
        free_training = free_training.strip().lower()
        if free_training in ("", "false", "0", "no", "否"):
            free_training = False
        elif free_training in ("true", "1", "yes", "是"):
            free_training = True
    if free_training is None:
        free_training = False
    if not isinstance(free_training, bool):
        errors.add(f"{prefix}.free_training", _("须为 true 或 false。"))
    periods = None
    raw_periods = data.get("periods")
    if raw_periods not in (None, ""):
        try:
            periods = int(str(raw_periods).strip())
            if periods < 1 or periods > 120 or str(raw_periods).strip() != str(periods):
                raise ValueError
        except ValueError:
            errors.add(f"{prefix}.periods", _("申领期数须为 1 至 120 之间的整数。"))

    if sum(len(v) for v in errors.fields.values()) > before:
        return None
    return LineInput(
        id_number=id_number,
        name=name,
        occupation=occupation,
        level=level,
        certificate_type=certificate_type,
        certificate_number=certificate_number,
        certificate_date=certificate_date,
        training_days=training_days,
        stated_cost=stated_cost,
        variant=variant,
        hardship_group=hardship_group,
        free_training=free_training,
        periods=periods,
    )


def parse_lines(rows, errors: ErrorCollector) -> list[LineInput]:
    if not isinstance(rows, list) or not rows:
        errors.add("lines", _("至少需要一行学员信息。"))
        return []
    return [line for index, row in enumerate(rows) if (line := parse_line(row, index, errors)) is not None]
