"""The subsidy catalogue: its writes (services) and reads (selectors).

A standard (SubsidyPolicy, S1…S18 of RULES.md §3) has numbered versions, each in force for a
period. A version that has priced a claim line is never changed in place: the administrator adds
a new version, which closes the previous one the day before it starts. Every write is one
transaction and leaves an audit event with the values before and after, and the reason the
administrator gave (money policy: required of a person, audit.actions.REASON_REQUIRED).
"""

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.db.models.functions import Length
from django.utils.translation import gettext as _

from audit import actions
from audit.models import AuditEvent
from audit.services import record_event

from . import access
from .bounds import reason_refusal
from .dates import date_text
from .errors import DomainError, InvalidInput, NotInScope
from .models import (
    AmountRule,
    CertificateType,
    ClaimLine,
    Jurisdiction,
    Level,
    Payee,
    Period,
    PolicyCategory,
    PolicyVersion,
    PricingUnit,
    SubsidyPolicy,
)
from .pricing import ANY_LEVEL, BASED_RULES, OWN_AMOUNT_RULES

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,9}$")
VARIANT_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
MAX_AMOUNT = Decimal("9999999999.99")  # PolicyVersion amounts end up in DecimalField(max_digits=12)
ONE_DAY = datetime.timedelta(days=1)
# A version's conditions beside its amounts (PolicyVersion): one list for the catalogue's form
# and the API's version serializer.
VERSION_CONDITION_FIELDS = (
    "variant_amounts",
    "period",
    "max_periods",
    "percent",
    "base_policy",
    "capped_by_cost",
    "unit",
    "cost_required",
    "max_items",
)

POLICY_CREATED = actions.CATALOGUE_POLICY_CREATED
POLICY_UPDATED = actions.CATALOGUE_POLICY_UPDATED
VERSION_ADDED = actions.CATALOGUE_VERSION_ADDED
VERSION_UPDATED = actions.CATALOGUE_VERSION_UPDATED
VERSION_CLOSED = actions.CATALOGUE_VERSION_CLOSED
ACTIONS = (POLICY_CREATED, POLICY_UPDATED, VERSION_ADDED, VERSION_UPDATED, VERSION_CLOSED)


class VersionInUse(DomainError):
    """The version has priced claim lines: it may be superseded by a new version, never edited (409)."""

    code = "version_in_use"
    status = 409


@dataclass(frozen=True)
class VersionTerms:
    """What an administrator states for a version. Amounts as decimal strings; ``base_policy`` by code."""

    valid_from: datetime.date | None
    amount_rule: str
    valid_to: datetime.date | None = None
    amount_by_level: dict = field(default_factory=dict)
    variant_amounts: dict = field(default_factory=dict)
    period: str = ""
    max_periods: int | None = None
    percent: Decimal | str | None = None
    base_policy: str = ""
    capped_by_cost: bool = False
    certificate_types: list = field(default_factory=list)
    source: str = ""
    notes: str = ""
    # Set by the demo catalogue on figures no seed states; never by an administrator's form.
    demo_only: bool = False
    unit: str = PricingUnit.PERSON
    cost_required: bool = False
    max_items: int | None = None


# --------------------------------------------------------------------------- checks


def _amount(value, path: str, errors: dict) -> str | None:
    try:
        amount = Decimal(str(value).strip())
        if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors.setdefault(path, []).append(_("金额须为大于 0、最多两位小数的数：%(value)s") % {"value": value})
        return None
    return f"{amount:.2f}"


def _amounts(raw, path: str, allowed_keys, errors: dict, key_message: str) -> dict:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        errors.setdefault(path, []).append(_("格式有误。"))
        return {}
    cleaned = {}
    for key, value in raw.items():
        key = str(key).strip()
        if not allowed_keys(key):
            errors.setdefault(path, []).append(key_message % {"key": key})
            continue
        amount = _amount(value, path, errors)
        if amount is not None:
            cleaned[key] = amount
    return cleaned


def clean_terms(*, policy: SubsidyPolicy, terms: VersionTerms) -> dict:
    """The model field values of a version with these terms, or InvalidInput naming every failing field."""
    errors: dict[str, list[str]] = {}

    def error(path: str, message: str) -> None:
        errors.setdefault(path, []).append(str(message))

    rule = terms.amount_rule
    if rule not in AmountRule.values:
        error("amount_rule", _("请选择计算方式。"))
    if terms.valid_from is None:
        error("valid_from", _("必填。"))
    elif terms.valid_to is not None and terms.valid_to < terms.valid_from:
        error("valid_to", _("失效日期不能早于生效日期。"))

    amount_by_level = _amounts(
        terms.amount_by_level,
        "amount_by_level",
        lambda key: key == ANY_LEVEL or key in Level.values,
        errors,
        _("未知的等级：%(key)s"),
    )
    variant_amounts = _amounts(
        terms.variant_amounts,
        "variant_amounts",
        VARIANT_PATTERN.match,
        errors,
        _("类型代码须为小写英文字母、数字或下划线（不超过 30 个字符）：%(key)s"),
    )
    if rule in OWN_AMOUNT_RULES and not amount_by_level and "amount_by_level" not in errors:
        error("amount_by_level", _("至少填写一个等级的金额（“任何等级”适用于所有等级）。"))
    if rule in BASED_RULES:
        if amount_by_level:
            error("amount_by_level", _("按比例或上浮计算的标准，各等级金额取自基准标准，此处不填。"))
        if variant_amounts:
            error("variant_amounts", _("按比例或上浮计算的标准没有类型金额。"))

    period, max_periods = terms.period or "", terms.max_periods
    if rule == AmountRule.PER_PERIOD:
        if period not in Period.values:
            error("period", _("按月或按年计算的标准须选择期间。"))
        if max_periods is not None and (not isinstance(max_periods, int) or max_periods < 1):
            error("max_periods", _("最长期数须为正整数。"))
    else:
        if period:
            error("period", _("只有按月或按年计算的标准填写期间。"))
        if max_periods is not None:
            error("max_periods", _("只有按月或按年计算的标准填写最长期数。"))

    percent, base_policy = None, None
    if rule in BASED_RULES:
        try:
            percent = Decimal(str(terms.percent).strip()) if terms.percent not in (None, "") else None
            if percent is not None and (
                not percent.is_finite() or percent <= 0 or percent > 100 or percent != percent.quantize(Decimal("0.01"))
            ):
                raise InvalidOperation
        except InvalidOperation:
            percent = None
            error("percent", _("百分比须大于 0、不超过 100，最多两位小数。"))
        else:
            if percent is None:
                error("percent", _("必填。"))
        base_code = (terms.base_policy or "").strip()
        if not base_code:
            error("base_policy", _("请选择基准标准。"))
        elif base_code == policy.code:
            error("base_policy", _("基准标准不能是本标准。"))
        else:
            base_policy = SubsidyPolicy.objects.filter(jurisdiction_id=policy.jurisdiction_id, code=base_code).first()
            if base_policy is None:
                error("base_policy", _("本地区补贴目录中没有代码为 %(code)s 的标准。") % {"code": base_code})
    else:
        if terms.percent not in (None, ""):
            error("percent", _("只有按比例或上浮计算的标准填写百分比。"))
        if terms.base_policy:
            error("base_policy", _("只有按比例或上浮计算的标准选择基准标准。"))

    capped_by_cost = bool(terms.capped_by_cost)
    if rule == AmountRule.CAP:
        capped_by_cost = True  # "at most": a cap is always the lesser of cap and stated cost
    elif rule == AmountRule.FIXED and capped_by_cost:
        error("capped_by_cost", _("定额标准按定额补贴，不按实际费用封顶。"))

    unit = str(terms.unit or PricingUnit.PERSON)
    if unit not in PricingUnit.values:
        error("unit", _("请选择计价单位。"))
    cost_required = bool(terms.cost_required)
    if cost_required and not capped_by_cost:
        error("cost_required", _("只有不超过实际费用的标准须填实际费用。"))
    max_items = terms.max_items
    if max_items is not None and (unit != PricingUnit.ITEM or not isinstance(max_items, int) or max_items < 1):
        error("max_items", _("最多项数须为正整数，且只用于按项计价的标准。"))

    certificate_types = []
    for value in terms.certificate_types or []:
        value = str(value)
        if value not in CertificateType.values:
            error("certificate_types", _("未知的证书类型：%(value)s") % {"value": value})
        elif value not in certificate_types:
            certificate_types.append(value)
    certificate_types.sort(key=CertificateType.values.index)

    source = (terms.source or "").strip()
    if not source:
        error("source", _("请注明政策依据（文件及段落），例如 002 §二(一)。"))
    elif len(source) > 200:
        error("source", _("不能超过 %(n)d 个字符。") % {"n": 200})

    if errors:
        raise InvalidInput(_("补贴标准有误，未保存。"), fields=errors)
    return {
        "valid_from": terms.valid_from,
        "valid_to": terms.valid_to,
        "amount_rule": rule,
        "amount_by_level": amount_by_level,
        "variant_amounts": variant_amounts,
        "period": period,
        "max_periods": max_periods,
        "percent": percent,
        "base_policy": base_policy,
        "capped_by_cost": capped_by_cost,
        "certificate_types": certificate_types,
        "source": source,
        "notes": (terms.notes or "").strip(),
        "demo_only": bool(terms.demo_only),
        "unit": unit,
        "cost_required": cost_required,
        "max_items": max_items,
    }


def has_terms(version: PolicyVersion, terms: VersionTerms) -> bool:
    """Whether the version already says exactly what these terms say."""
    values = clean_terms(policy=version.policy, terms=terms)
    return all(getattr(version, name) == value for name, value in values.items())


def version_snapshot(version: PolicyVersion) -> dict:
    """Every term of a version, as the ledger keeps it (base standard by code)."""
    return {
        "version": version.version,
        "valid_from": version.valid_from,
        "valid_to": version.valid_to,
        "amount_rule": version.amount_rule,
        "amount_by_level": dict(version.amount_by_level or {}),
        "variant_amounts": dict(version.variant_amounts or {}),
        "period": version.period,
        "max_periods": version.max_periods,
        "percent": f"{version.percent:.2f}" if version.percent is not None else None,
        "base_policy": version.base_policy.code if version.base_policy_id else None,
        "capped_by_cost": version.capped_by_cost,
        "certificate_types": list(version.certificate_types or []),
        "source": version.source,
        "notes": version.notes,
        "demo_only": version.demo_only,
        "unit": version.unit,
        "cost_required": version.cost_required,
        "max_items": version.max_items,
    }


def terms_of(version: PolicyVersion) -> VersionTerms:
    """A version's terms, e.g. as the starting point of the next version."""
    return VersionTerms(
        valid_from=version.valid_from,
        valid_to=version.valid_to,
        amount_rule=version.amount_rule,
        amount_by_level=dict(version.amount_by_level or {}),
        variant_amounts=dict(version.variant_amounts or {}),
        period=version.period,
        max_periods=version.max_periods,
        percent=version.percent,
        base_policy=version.base_policy.code if version.base_policy_id else "",
        capped_by_cost=version.capped_by_cost,
        certificate_types=list(version.certificate_types or []),
        source=version.source,
        notes=version.notes,
        demo_only=version.demo_only,
        unit=version.unit,
        cost_required=version.cost_required,
        max_items=version.max_items,
    )


def policy_snapshot(policy: SubsidyPolicy) -> dict:
    return {"code": policy.code, "name": policy.name, "category": policy.category, "payee": policy.payee}


def _event_detail(policy: SubsidyPolicy, **rest) -> dict:
    return {"jurisdiction": policy.jurisdiction.code, "policy": policy.code, **rest}


def _reason(reason: str, *, actor, errors: dict) -> str:
    """The stripped reason; its problem in ``errors`` (with the other fields'). Required of a person;
    a system step (actor None: the seed) may give none."""
    reason = (reason or "").strip()
    if (problem := reason_refusal(reason, required=actor is not None)) is not None:
        errors.setdefault("reason", []).append(problem)
    return reason


def _last_priced_date(version: PolicyVersion) -> datetime.date | None:
    return ClaimLine.objects.filter(policy_version=version).aggregate(last=Max("certificate_date"))["last"]


def _move_end(
    *,
    actor,
    policy: SubsidyPolicy,
    version: PolicyVersion,
    valid_to: datetime.date,
    because: PolicyVersion | None,
    reason: str,
) -> None:
    """Set ``version``'s last day (it is followed by another version). Never cuts into dates it already priced:
    a line priced by it must still fall in its period (the transition clause of 002)."""
    if version.valid_to == valid_to:
        return
    if valid_to is not None and (version.valid_to is None or valid_to < version.valid_to):
        last = _last_priced_date(version)
        if last is not None and last > valid_to:
            raise InvalidInput(
                _("v%(version)d 已为发证日期 %(date)s 的申领明细计价，新的生效日期须晚于该日期。")
                % {"version": version.version, "date": date_text(last)},
                fields={
                    "valid_from": [
                        _("须晚于 %(date)s（v%(version)d 已计价的最晚发证日期）。")
                        % {"date": date_text(last), "version": version.version}
                    ]
                },
            )
    if valid_to is not None and valid_to < version.valid_from:
        raise InvalidInput(
            _("新的生效日期须晚于 v%(version)d 的生效日期 %(date)s。")
            % {"version": version.version, "date": date_text(version.valid_from)},
            fields={"valid_from": [_("须晚于 %(date)s。") % {"date": date_text(version.valid_from)}]},
        )
    before = version_snapshot(version)
    version.valid_to = valid_to
    version.save(update_fields=["valid_to"])
    record_event(
        actor=actor,
        action=VERSION_CLOSED,
        obj=version,
        reason=reason,  # the why of the version that ends it
        detail=_event_detail(
            policy,
            version=version.version,
            before={"valid_to": before["valid_to"]},
            after={"valid_to": valid_to},
            superseded_by=because.version if because else None,
        ),
    )


def _locked_policy(policy: SubsidyPolicy) -> SubsidyPolicy:
    # FOR NO KEY UPDATE: catalogue writes to one standard take turns, claims referring to it are not blocked.
    return SubsidyPolicy.objects.select_for_update(no_key=True).select_related("jurisdiction").get(pk=policy.pk)


# --------------------------------------------------------------------------- services


@transaction.atomic
def create_policy(
    *, actor, jurisdiction: Jurisdiction, code: str, name: str, category: str, payee: str, reason: str
) -> SubsidyPolicy:
    """A new catalogue entry, without versions yet (add_version gives it its amounts)."""
    access.require_catalogue_administrator(actor)
    code, name = (code or "").strip(), (name or "").strip()
    errors: dict[str, list[str]] = {}
    reason = _reason(reason, actor=actor, errors=errors)
    if not CODE_PATTERN.match(code):
        errors["code"] = [_("代码须为 1 至 10 个英文字母、数字，例如 S19。")]
    elif SubsidyPolicy.objects.filter(jurisdiction=jurisdiction, code=code).exists():
        errors["code"] = [_("本地区已有代码为 %(code)s 的标准。") % {"code": code}]
    errors.update(_policy_field_errors(name=name, category=category, payee=payee))
    if errors:
        raise InvalidInput(_("补贴标准有误，未保存。"), fields=errors)
    policy = SubsidyPolicy.objects.create(jurisdiction=jurisdiction, code=code, name=name, category=category, payee=payee)
    record_event(
        actor=actor,
        action=POLICY_CREATED,
        obj=policy,
        reason=reason,
        detail=_event_detail(policy, before=None, after=policy_snapshot(policy)),
    )
    return policy


def _policy_field_errors(*, name: str, category: str, payee: str) -> dict:
    errors = {}
    if not name:
        errors["name"] = [_("必填。")]
    elif len(name) > 200:
        errors["name"] = [_("不能超过 %(n)d 个字符。") % {"n": 200}]
    if category not in PolicyCategory.values:
        errors["category"] = [_("请选择类别。")]
    if payee not in Payee.values:
        errors["payee"] = [_("请选择补贴对象。")]
    return errors


@transaction.atomic
def update_policy(*, actor, policy: SubsidyPolicy, name: str, category: str, payee: str, reason: str) -> SubsidyPolicy:
    """Rename an entry or correct its category or payee (its code never changes). No change, no event."""
    access.require_catalogue_administrator(actor)
    policy = _locked_policy(policy)
    name = (name or "").strip()
    errors = _policy_field_errors(name=name, category=category, payee=payee)
    reason = _reason(reason, actor=actor, errors=errors)
    if errors:
        raise InvalidInput(_("补贴标准有误，未保存。"), fields=errors)
    before = policy_snapshot(policy)
    policy.name, policy.category, policy.payee = name, category, payee
    after = policy_snapshot(policy)
    if after != before:
        policy.save(update_fields=["name", "category", "payee"])
        record_event(
            actor=actor,
            action=POLICY_UPDATED,
            obj=policy,
            reason=reason,
            detail=_event_detail(policy, before=before, after=after),
        )
    return policy


@transaction.atomic
def set_class_filing_required(*, actor, policy: SubsidyPolicy, required: bool, reason: str) -> SubsidyPolicy:
    """Whether the standard's classes are filed before they start (开班备案, RULES.md N1). No change, no event."""
    access.require_catalogue_administrator(actor)
    errors: dict[str, list[str]] = {}
    reason = _reason(reason, actor=actor, errors=errors)
    if errors:
        raise InvalidInput(_("补贴标准有误，未保存。"), fields=errors)
    policy = _locked_policy(policy)
    if policy.class_filing_required != bool(required):
        before = {"class_filing_required": policy.class_filing_required}
        policy.class_filing_required = bool(required)
        policy.save(update_fields=["class_filing_required"])
        after = {"class_filing_required": policy.class_filing_required}
        record_event(
            actor=actor,
            action=POLICY_UPDATED,
            obj=policy,
            reason=reason,
            detail=_event_detail(policy, before=before, after=after),
        )
    return policy


@transaction.atomic
def add_version(*, actor, policy: SubsidyPolicy, terms: VersionTerms, reason: str) -> PolicyVersion:
    """The next version of a standard (number = last + 1). It must start after the previous version
    started; the previous version, if still in force then, ends the day before. ``reason``: why
    (the document that sets the amounts), on both entries."""
    access.require_catalogue_administrator(actor)
    policy = _locked_policy(policy)
    previous = PolicyVersion.objects.select_for_update().filter(policy=policy).order_by("-version").first()
    order_error = None
    if previous is not None and terms.valid_from is not None and terms.valid_from <= previous.valid_from:
        order_error = InvalidInput(
            _("新版本的生效日期须晚于 v%(version)d 的生效日期 %(date)s。")
            % {"version": previous.version, "date": date_text(previous.valid_from)},
            fields={"valid_from": [_("须晚于 %(date)s。") % {"date": date_text(previous.valid_from)}]},
        )
    reason_errors: dict[str, list[str]] = {}
    reason = _reason(reason, actor=actor, errors=reason_errors)
    try:
        values = clean_terms(policy=policy, terms=terms)
    except InvalidInput as error:
        if order_error is not None:  # every problem at once
            error.fields.setdefault("valid_from", []).extend(order_error.fields["valid_from"])
        error.fields.update(reason_errors)
        raise
    if order_error is not None:
        order_error.fields.update(reason_errors)
        raise order_error
    if reason_errors:
        raise InvalidInput(_("补贴标准有误，未保存。"), fields=reason_errors)
    number = previous.version + 1 if previous else 1
    version = PolicyVersion(policy=policy, version=number, created_by=actor, **values)
    if previous is not None and (previous.valid_to is None or previous.valid_to >= version.valid_from):
        _move_end(
            actor=actor, policy=policy, version=previous, valid_to=version.valid_from - ONE_DAY, because=version, reason=reason
        )
    version.save()
    record_event(
        actor=actor,
        action=VERSION_ADDED,
        obj=version,
        reason=reason,
        detail=_event_detail(policy, version=number, before=None, after=version_snapshot(version)),
    )
    return version


@transaction.atomic
def update_version(*, actor, version: PolicyVersion, terms: VersionTerms, reason: str) -> PolicyVersion:
    """Correct a version no claim line has used yet. A used version is refused (VersionInUse):
    add a new version instead. Its period must stay clear of its neighbours; a previous version
    that ended the day before it started keeps ending the day before."""
    access.require_catalogue_administrator(actor)
    policy = _locked_policy(version.policy)
    # FOR UPDATE waits for any transaction still pricing lines with this version (pricing holds FOR KEY SHARE).
    version = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    used = ClaimLine.objects.filter(policy_version=version).count()
    if used:
        raise VersionInUse(
            _("%(code)s v%(version)d 已用于 %(n)d 条申领明细的计价，不能修改；请新增版本。")
            % {"code": policy.code, "version": version.version, "n": used}
        )
    reason_errors: dict[str, list[str]] = {}
    reason = _reason(reason, actor=actor, errors=reason_errors)
    try:
        values = clean_terms(policy=policy, terms=terms)
    except InvalidInput as error:
        error.fields.update(reason_errors)
        raise
    if reason_errors:
        raise InvalidInput(_("补贴标准有误，未保存。"), fields=reason_errors)
    siblings = PolicyVersion.objects.select_for_update().filter(policy=policy).exclude(pk=version.pk)
    previous = siblings.filter(version__lt=version.version).order_by("-version").first()
    following = siblings.filter(version__gt=version.version).order_by("version").first()
    valid_from, valid_to = values["valid_from"], values["valid_to"]
    if following is not None and (valid_to is None or valid_to >= following.valid_from):
        raise InvalidInput(
            _("v%(version)d 须在 v%(next)d 生效（%(date)s）之前结束。")
            % {"version": version.version, "next": following.version, "date": date_text(following.valid_from)},
            fields={"valid_to": [_("须早于 %(date)s。") % {"date": date_text(following.valid_from)}]},
        )
    if previous is not None:
        adjacent = previous.valid_to is not None and previous.valid_to == version.valid_from - ONE_DAY
        if adjacent:
            _move_end(actor=actor, policy=policy, version=previous, valid_to=valid_from - ONE_DAY, because=version, reason=reason)
        elif previous.valid_to is None or previous.valid_to >= valid_from:
            raise InvalidInput(
                _("与 v%(version)d 的有效期重叠。") % {"version": previous.version},
                fields={"valid_from": [_("须晚于 %(date)s。") % {"date": date_text(previous.valid_to or previous.valid_from)}]},
            )
    before = version_snapshot(version)
    for name, value in values.items():
        setattr(version, name, value)
    after = version_snapshot(version)
    if after != before:
        version.save()
        changed = sorted(key for key in after if after[key] != before[key])
        record_event(
            actor=actor,
            action=VERSION_UPDATED,
            obj=version,
            reason=reason,
            detail=_event_detail(policy, version=version.version, before=before, after=after, changed=changed),
        )
    return version


@transaction.atomic
def mark_demo_only(*, actor, version: PolicyVersion, demo_only: bool, reason: str) -> PolicyVersion:
    """Mark (or unmark) a version's figures as demo data that no seed states. Not a term: it changes
    no amount, so a version that priced lines may be marked too (a database seeded before the mark)."""
    access.require_catalogue_administrator(actor)
    errors: dict[str, list[str]] = {}
    reason = _reason(reason, actor=actor, errors=errors)
    if errors:
        raise InvalidInput(_("补贴标准有误，未保存。"), fields=errors)
    policy = _locked_policy(version.policy)
    version = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    if version.demo_only == demo_only:
        return version
    before = version_snapshot(version)
    version.demo_only = demo_only
    version.save(update_fields=["demo_only"])
    record_event(
        actor=actor,
        action=VERSION_UPDATED,
        obj=version,
        reason=reason,
        detail=_event_detail(
            policy, version=version.version, before=before, after=version_snapshot(version), changed=["demo_only"]
        ),
    )
    return version


# --------------------------------------------------------------------------- reads


def catalogue_entries(*, jurisdiction_code: str | None = None) -> QuerySet:
    """Every standard with its versions (oldest first) and their base standards: S1, S2 … S10, not S1, S10, S2."""
    policies = SubsidyPolicy.objects.select_related("jurisdiction").prefetch_related(
        Prefetch("versions", queryset=PolicyVersion.objects.select_related("base_policy").order_by("version"))
    )
    if jurisdiction_code:
        policies = policies.filter(jurisdiction__code=jurisdiction_code)
    return policies.order_by("jurisdiction__code", Length("code"), "code")


def policies_with_code(code: str) -> QuerySet:
    return SubsidyPolicy.objects.filter(code=code).select_related("jurisdiction")


def get_policy(*, jurisdiction_code: str, code: str) -> SubsidyPolicy:
    try:
        return catalogue_entries(jurisdiction_code=jurisdiction_code).get(code=code)
    except SubsidyPolicy.DoesNotExist:
        raise NotInScope() from None


def get_version(*, policy: SubsidyPolicy, number: int) -> PolicyVersion:
    try:
        return policy.versions.select_related("base_policy", "policy__jurisdiction").get(version=number)
    except PolicyVersion.DoesNotExist:
        raise NotInScope() from None


def version_label(version: PolicyVersion | None) -> str:
    """ "S3 v2" as exports name a version; a demo-only version says so: "S3 v2（演示数据，非政策规定）"."""
    if version is None:
        return ""
    if version.demo_only:
        return _("%(version)s（%(badge)s）") % {"version": version, "badge": _("演示数据，非政策规定")}
    return str(version)


def in_force(versions, on: datetime.date) -> PolicyVersion | None:
    """The version in force on a date, among already loaded versions (the highest number wins)."""
    for version in sorted(versions, key=lambda version: version.version, reverse=True):
        if version.valid_from <= on and (version.valid_to is None or on <= version.valid_to):
            return version
    return None


def lines_priced_by(versions) -> dict[int, int]:
    """{version id: number of claim lines it priced}, in one query."""
    ids = [version.pk for version in versions]
    rows = ClaimLine.objects.filter(policy_version_id__in=ids).values("policy_version_id").annotate(n=Count("pk")).order_by()
    return {row["policy_version_id"]: row["n"] for row in rows}


def catalogue_history(*, policy: SubsidyPolicy) -> QuerySet:
    """The ledger's events about this standard and its versions, oldest first."""
    version_ids = [str(pk) for pk in policy.versions.values_list("pk", flat=True)]
    return (
        AuditEvent.objects.filter(action__in=ACTIONS)
        .filter(
            Q(object_type=SubsidyPolicy._meta.label_lower, object_id=str(policy.pk))
            | Q(object_type=PolicyVersion._meta.label_lower, object_id__in=version_ids)
        )
        .order_by("seq")
    )
