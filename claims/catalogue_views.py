"""The subsidy catalogue pages. Anyone signed in reads the catalogue (it is published policy);
only administrators add entries and versions or correct a version no line has used. Thin: the
reads come from claims.catalogue's selectors and every write goes through its services."""

import datetime
import re
from decimal import Decimal
from functools import wraps

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models.functions import Length
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext

from claims.http import scoped
from claims.widgets import DATE_INPUT

from . import access, catalogue
from .bounds import change_reason_field
from .dates import date_text
from .errors import DomainError, InvalidInput
from .models import (
    AmountRule,
    CertificateType,
    Jurisdiction,
    Level,
    Payee,
    Period,
    PolicyCategory,
    PolicyVersion,
    PricingUnit,
    SubsidyPolicy,
)
from .pricing import ANY_LEVEL, money_text, variant_label

VARIANT_LINE = re.compile(r"^\s*([^\s=:：]+)\s*[=:：]?\s*(\S+)\s*$")


# Login required; an unknown entry or version is a 404 (the same rule as every scoped page).
catalogue_page = scoped


def administrator_page(view):
    """Catalogue edits: administrators only, everyone else gets 403."""

    @catalogue_page
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not access.may(request.user, access.ADMINISTER_CATALOGUE):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- presentation


def field_labels() -> dict:
    return {
        "code": _("代码"),
        "name": _("名称"),
        "category": _("类别"),
        "payee": _("补贴对象"),
        "valid_from": _("生效日期"),
        "valid_to": _("失效日期"),
        "amount_rule": _("计算方式"),
        "amount_by_level": _("各等级金额"),
        "variant_amounts": _("类型金额"),
        "period": _("期间"),
        "max_periods": _("最长期数"),
        "percent": _("百分比"),
        "base_policy": _("基准标准"),
        "capped_by_cost": _("不超过实际费用"),
        "unit": _("计价单位"),
        "cost_required": _("须填实际费用"),
        "max_items": _("最多项数"),
        "certificate_types": _("证书类型"),
        "source": _("依据"),
        "notes": _("说明"),
        "version": _("版本"),
    }


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def level_amounts_text(amounts: dict, *, prefix: str = "") -> str:
    """{"junior": "3500.00", "senior": "4000.00"} → "初级工 3500；高级工 4000", levels of equal amount together."""
    if not amounts:
        return ""
    if set(amounts) == {ANY_LEVEL}:  # one amount for everyone: no level to name
        return f"{prefix}{money_text(Decimal(amounts[ANY_LEVEL]))}"
    groups: dict[str, list[str]] = {}
    for level in [ANY_LEVEL, *Level.values]:
        if level in amounts:
            groups.setdefault(amounts[level], []).append(_("任何等级") if level == ANY_LEVEL else _label(Level, level))
    separator = pgettext("list separator", "、")
    return _("；").join(f"{separator.join(levels)} {prefix}{money_text(Decimal(amount))}" for amount, levels in groups.items())


def variant_text(code: str) -> str:
    """ "复审（renewal）"; the code alone where it has no name of its own."""
    label = variant_label(code)
    return code if label == code else _("%(label)s（%(code)s）") % {"label": label, "code": code}


def describe(version: PolicyVersion) -> str:
    """The amount rule of a version in one line, as the policy would say it."""
    rule = version.amount_rule
    limit = "≤" if version.capped_by_cost or rule == AmountRule.CAP else ""
    amounts = level_amounts_text(version.amount_by_level or {}, prefix=limit)
    if rule == AmountRule.FIXED:
        text = _("定额：%(amounts)s") % {"amounts": amounts}
    elif rule == AmountRule.CAP:
        text = _("最高限额：%(amounts)s") % {"amounts": amounts}
    elif rule == AmountRule.PER_DAY:
        text = _("每天：%(amounts)s") % {"amounts": amounts}
    elif rule == AmountRule.PER_PERIOD:
        text = _("每%(period)s：%(amounts)s") % {"period": _label(Period, version.period), "amounts": amounts}
        if version.max_periods:
            text += ngettext("，最多 %(n)d 期", "，最多 %(n)d 期", version.max_periods) % {"n": version.max_periods}
    elif rule == AmountRule.PERCENT_OF:
        text = _("%(base)s 同等级标准的 %(percent)s%%") % {
            "base": version.base_policy.code if version.base_policy_id else "?",
            "percent": money_text(version.percent or 0),
        }
    else:
        text = _("%(base)s 同等级标准上浮至多 %(percent)s%%") % {
            "base": version.base_policy.code if version.base_policy_id else "?",
            "percent": money_text(version.percent or 0),
        }
    variants = version.variant_amounts or {}
    if variants:
        text += _("；") + _("；").join(
            f"{variant_text(code)} {limit}{money_text(Decimal(amount))}" for code, amount in sorted(variants.items())
        )
    if version.capped_by_cost and rule != AmountRule.CAP:
        text += _("；不超过实际费用")
    return text


def certificate_text(types: list) -> str:
    return pgettext("list separator", "、").join(_label(CertificateType, value) for value in types) if types else _("不限")


def _value_text(name: str, value) -> str:
    if value is None or value == "" or value == {} or value == []:
        return "—"
    if name == "amount_by_level":
        return level_amounts_text(value)
    if name == "variant_amounts":
        return _("；").join(f"{variant_text(code)} {money_text(Decimal(amount))}" for code, amount in sorted(value.items()))
    if name == "certificate_types":
        return certificate_text(value)
    if name == "amount_rule":
        return _label(AmountRule, value)
    if name == "period":
        return _label(Period, value)
    if name == "category":
        return _label(PolicyCategory, value)
    if name == "payee":
        return _label(Payee, value)
    if name == "capped_by_cost":
        return _("是") if value else _("否")
    if name == "percent":
        return f"{money_text(Decimal(value))}%"
    if name in ("valid_from", "valid_to") and isinstance(value, str):  # ISO in the ledger; shown as people write dates
        return date_text(datetime.date.fromisoformat(value))
    return str(value)


def history_rows(events) -> list[dict]:
    """Each ledger event with the fields it changed, before → after, in words."""
    labels = field_labels()
    rows = []
    for event in events:
        detail = event.detail or {}
        before, after = detail.get("before") or {}, detail.get("after") or {}
        if event.action in (catalogue.POLICY_CREATED, catalogue.VERSION_ADDED):
            names = [name for name in after if name != "version" and after[name] not in (None, "", {}, [])]
            changes = [
                {"name": name, "field": labels.get(name, name), "before": None, "after": _value_text(name, after[name])}
                for name in names
            ]
        else:
            names = detail.get("changed") or [name for name in after if before.get(name) != after.get(name)]
            changes = [
                {
                    "name": name,
                    "field": labels.get(name, name),
                    "before": _value_text(name, before.get(name)),
                    "after": _value_text(name, after.get(name)),
                }
                for name in names
            ]
        rows.append(
            {
                "event": event,
                "action": event.action_label,
                "version": detail.get("version"),
                "superseded_by": detail.get("superseded_by"),
                "changes": changes,
                "reason": event.reason,
            }
        )
    return rows


def _policy_url(policy: SubsidyPolicy) -> str:
    return reverse("claims:catalogue_policy", args=[policy.jurisdiction.code, policy.code])


# --------------------------------------------------------------------------- forms


class PolicyForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("代码"), max_length=10, help_text=gettext_lazy("例如 S19；创建后不能修改。"))
    name = forms.CharField(label=gettext_lazy("名称"), max_length=200)
    category = forms.ChoiceField(label=gettext_lazy("类别"), choices=PolicyCategory.choices)
    payee = forms.ChoiceField(label=gettext_lazy("补贴对象"), choices=Payee.choices)
    reason = change_reason_field()  # money policy: the ledger keeps why (audit.actions.REASON_REQUIRED)

    def __init__(self, *args, jurisdictions=None, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["code"]
        else:
            self.fields["jurisdiction"] = forms.ModelChoiceField(
                label=gettext_lazy("行政区"), queryset=jurisdictions, to_field_name="code", empty_label=None
            )
            self.order_fields(["jurisdiction", "code", "name", "category", "payee"])


class VersionForm(forms.Form):
    valid_from = forms.DateField(label=gettext_lazy("生效日期"), widget=DATE_INPUT)
    valid_to = forms.DateField(
        label=gettext_lazy("失效日期"),
        required=False,
        widget=DATE_INPUT,
        help_text=gettext_lazy("留空表示长期有效；新增下一版本时自动设为其生效前一天。"),
    )
    amount_rule = forms.ChoiceField(label=gettext_lazy("计算方式"), choices=AmountRule.choices)
    variant_amounts = forms.CharField(
        label=gettext_lazy("类型金额"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("每行一项：类型代码 = 金额，例如 renewal = 100（申领明细填写该类型时按此金额）。"),
    )
    period = forms.ChoiceField(label=gettext_lazy("期间"), required=False, choices=[("", "—"), *Period.choices])
    max_periods = forms.IntegerField(label=gettext_lazy("最长期数"), required=False, min_value=1)
    percent = forms.DecimalField(label=gettext_lazy("百分比"), required=False, max_digits=5, decimal_places=2)
    base_policy = forms.ChoiceField(label=gettext_lazy("基准标准"), required=False)
    capped_by_cost = forms.BooleanField(label=gettext_lazy("不超过实际费用（按较低者补贴）"), required=False)
    unit = forms.ChoiceField(
        label=gettext_lazy("计价单位"), choices=PricingUnit.choices, initial=PricingUnit.PERSON, required=False
    )
    cost_required = forms.BooleanField(label=gettext_lazy("须填实际费用（按实际费用补贴）"), required=False)
    max_items = forms.IntegerField(label=gettext_lazy("最多项数"), required=False, min_value=1)
    certificate_types = forms.MultipleChoiceField(
        label=gettext_lazy("证书类型"),
        required=False,
        choices=CertificateType.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("不选表示不限证书类型。"),
    )
    source = forms.CharField(label=gettext_lazy("依据"), max_length=200, help_text=gettext_lazy("文件及段落，例如 002 §二(一)。"))
    notes = forms.CharField(label=gettext_lazy("说明"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    reason = change_reason_field()  # why the amounts or dates change: the policy document, kept in the ledger

    AMOUNT_FIELDS = [("amount_any", ANY_LEVEL), *[(f"amount_{level}", level) for level in Level.values]]

    def __init__(self, *args, policy: SubsidyPolicy, **kwargs):
        super().__init__(*args, **kwargs)
        for name, level in self.AMOUNT_FIELDS:
            self.fields[name] = forms.DecimalField(
                label=_("任何等级") if level == ANY_LEVEL else _label(Level, level),
                required=False,
                max_digits=12,
                decimal_places=2,
                widget=forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
            )
        others = (
            SubsidyPolicy.objects.filter(jurisdiction_id=policy.jurisdiction_id)
            .exclude(pk=policy.pk)
            .order_by(Length("code"), "code")
        )
        self.fields["base_policy"].choices = [("", "—"), *[(other.code, f"{other.code} {other.name}") for other in others]]
        self.service_errors: list[str] = []

    def amount_fields(self):
        return [self[name] for name, _level in self.AMOUNT_FIELDS]

    def rule_fields(self):
        return [self[name] for name in ("valid_from", "valid_to", "amount_rule")]

    def condition_fields(self):
        return [self[name] for name in catalogue.VERSION_CONDITION_FIELDS]

    def source_fields(self):
        return [self[name] for name in ("certificate_types", "source", "notes")]

    def clean_variant_amounts(self) -> dict:
        amounts = {}
        for number, text in enumerate(self.cleaned_data["variant_amounts"].splitlines(), start=1):
            if not text.strip():
                continue
            match = VARIANT_LINE.match(text)
            if not match:
                raise forms.ValidationError(_("第 %(n)d 行应为“类型代码 = 金额”。") % {"n": number})
            amounts[match.group(1)] = match.group(2)
        return amounts

    @staticmethod
    def initial_from(terms: catalogue.VersionTerms) -> dict:
        initial = {
            "valid_from": terms.valid_from,
            "valid_to": terms.valid_to,
            "amount_rule": terms.amount_rule,
            "variant_amounts": "\n".join(f"{code} = {amount}" for code, amount in sorted((terms.variant_amounts or {}).items())),
            "period": terms.period,
            "max_periods": terms.max_periods,
            "percent": terms.percent,
            "base_policy": terms.base_policy,
            "capped_by_cost": terms.capped_by_cost,
            "unit": terms.unit,
            "cost_required": terms.cost_required,
            "max_items": terms.max_items,
            "certificate_types": list(terms.certificate_types or []),
            "source": terms.source,
            "notes": terms.notes,
        }
        for name, level in VersionForm.AMOUNT_FIELDS:
            if level in (terms.amount_by_level or {}):
                initial[name] = terms.amount_by_level[level]
        return initial

    def terms(self) -> catalogue.VersionTerms:
        data = self.cleaned_data
        return catalogue.VersionTerms(
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
            amount_rule=data["amount_rule"],
            amount_by_level={level: str(data[name]) for name, level in self.AMOUNT_FIELDS if data.get(name) is not None},
            variant_amounts=data.get("variant_amounts") or {},
            period=data.get("period") or "",
            max_periods=data.get("max_periods"),
            percent=data.get("percent"),
            base_policy=data.get("base_policy") or "",
            capped_by_cost=bool(data.get("capped_by_cost")),
            unit=data.get("unit") or PricingUnit.PERSON,
            cost_required=bool(data.get("cost_required")),
            max_items=data.get("max_items"),
            certificate_types=data.get("certificate_types") or [],
            source=data.get("source") or "",
            notes=data.get("notes") or "",
        )

    def add_service_errors(self, fields: dict) -> None:
        labels = field_labels()
        for name, problems in fields.items():
            for problem in problems:
                if name in self.fields:
                    self.add_error(name, problem)
                else:  # amount_by_level: shown above the amounts
                    self.service_errors.append(f"{labels.get(name, name)}：{problem}")


def rule_help() -> list[tuple[str, str]]:
    return [
        (AmountRule.FIXED.label, _("每人（每项）定额，不看实际费用。例：S4 创业培训 1000 元。")),
        (AmountRule.CAP.label, _("实际费用与上限取较低者；未填实际费用按上限。例：S1 高级工 ≤3500。")),
        (AmountRule.PER_DAY.label, _("每天金额 × 培训天数。例：S6 生活费每天 50 元。")),
        (AmountRule.PER_PERIOD.label, _("每月或每年金额 × 申领期数，期数不超过最长期数。例：S10 每年 ≤6000，最多 2 年。")),
        (AmountRule.PERCENT_OF.label, _("基准标准同等级、同日期金额的百分比；各等级金额留空。例：S2 为 S1 的 50%。")),
        (AmountRule.UPLIFT.label, _("基准标准同等级、同日期金额上浮至多百分比；各等级金额留空。例：S16 为 S1 上浮 30%。")),
    ]


# --------------------------------------------------------------------------- pages


@catalogue_page
def catalogue_list(request):
    today = timezone.localdate()
    jurisdiction_code = request.GET.get("jurisdiction") or None
    entries = list(catalogue.catalogue_entries(jurisdiction_code=jurisdiction_code))
    code = request.GET.get("code", "").strip()
    if code:
        entries = [entry for entry in entries if entry.code == code]
    for entry in entries:
        entry.all_versions = list(entry.versions.all())
        entry.current = catalogue.in_force(entry.all_versions, today)
        entry.summary = describe(entry.current) if entry.current else ""
    return render(
        request,
        "catalogue/list.html",
        {
            "entries": entries,
            "today": today,
            "may_edit": access.may(request.user, access.ADMINISTER_CATALOGUE),
            "several_jurisdictions": len({entry.jurisdiction_id for entry in entries}) > 1,
        },
    )


@catalogue_page
def policy_by_code(request, code):
    """/catalogue/S1/: the entry of that code (the list filtered to it if several jurisdictions have one)."""
    matches = list(catalogue.policies_with_code(code)[:2])
    if not matches:
        raise Http404
    if len(matches) > 1:
        return redirect(reverse("claims:catalogue") + f"?code={code}")
    return redirect(_policy_url(matches[0]))


@catalogue_page
def policy_detail(request, jurisdiction, code):
    policy = catalogue.get_policy(jurisdiction_code=jurisdiction, code=code)
    today = timezone.localdate()
    versions = list(policy.versions.all())
    used = catalogue.lines_priced_by(versions)
    current = catalogue.in_force(versions, today)
    for version in versions:
        version.summary = describe(version)
        version.certificates = certificate_text(version.certificate_types)
        version.lines_priced = used.get(version.pk, 0)
        version.is_current = version == current
    return render(
        request,
        "catalogue/detail.html",
        {
            "policy": policy,
            "versions": list(reversed(versions)),
            "current": current,
            "today": today,
            "history": history_rows(catalogue.catalogue_history(policy=policy)),
            "may_edit": access.may(request.user, access.ADMINISTER_CATALOGUE),
        },
    )


@administrator_page
def policy_new(request):
    jurisdictions = Jurisdiction.objects.order_by("code")
    form = PolicyForm(request.POST or None, jurisdictions=jurisdictions, initial={"jurisdiction": jurisdictions.first()})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                policy = catalogue.create_policy(
                    actor=request.user,
                    jurisdiction=data["jurisdiction"],
                    code=data["code"],
                    name=data["name"],
                    category=data["category"],
                    payee=data["payee"],
                    reason=data["reason"],
                )
            except InvalidInput as error:
                for name, problems in error.fields.items():
                    for problem in problems:
                        form.add_error(name if name in form.fields else None, problem)
                messages.error(request, error.message)
            else:
                messages.success(request, _("已新增标准 %(code)s，请新增第一个版本。") % {"code": policy.code})
                return redirect("claims:catalogue_version_new", policy.jurisdiction.code, policy.code)
        status = 400
    return render(request, "catalogue/policy_form.html", {"form": form, "policy": None}, status=status)


@administrator_page
def policy_edit(request, jurisdiction, code):
    policy = catalogue.get_policy(jurisdiction_code=jurisdiction, code=code)
    initial = {"name": policy.name, "category": policy.category, "payee": policy.payee}
    form = PolicyForm(request.POST or None, editing=True, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                catalogue.update_policy(actor=request.user, policy=policy, **form.cleaned_data)
            except InvalidInput as error:
                for name, problems in error.fields.items():
                    for problem in problems:
                        form.add_error(name if name in form.fields else None, problem)
                messages.error(request, error.message)
            else:
                messages.success(request, _("已保存标准 %(code)s。") % {"code": policy.code})
                return redirect(_policy_url(policy))
        status = 400
    return render(request, "catalogue/policy_form.html", {"form": form, "policy": policy}, status=status)


@administrator_page
def version_new(request, jurisdiction, code):
    policy = catalogue.get_policy(jurisdiction_code=jurisdiction, code=code)
    latest = policy.versions.order_by("-version").select_related("base_policy").first()
    status = 200
    if request.method == "POST":
        form = VersionForm(request.POST, policy=policy)
        if form.is_valid():
            try:
                version = catalogue.add_version(
                    actor=request.user, policy=policy, terms=form.terms(), reason=form.cleaned_data["reason"]
                )
            except InvalidInput as error:
                form.add_service_errors(error.fields)
                messages.error(request, error.message)
            else:
                messages.success(
                    request,
                    _("已新增 %(code)s v%(version)d，%(date)s 起生效。")
                    % {"code": policy.code, "version": version.version, "date": date_text(version.valid_from)},
                )
                return redirect(_policy_url(policy))
        status = 400
    else:
        # The latest version is the draft of the next one; its dates are the administrator's to choose.
        initial = VersionForm.initial_from(catalogue.terms_of(latest)) if latest else {"amount_rule": AmountRule.CAP}
        initial.update(valid_from=None, valid_to=None, notes="")
        form = VersionForm(initial=initial, policy=policy)
    return render(
        request,
        "catalogue/version_form.html",
        {
            "form": form,
            "policy": policy,
            "version": None,
            "latest": latest,
            "rule_help": rule_help(),
            "next_number": (latest.version + 1) if latest else 1,
        },
        status=status,
    )


@administrator_page
def version_edit(request, jurisdiction, code, number):
    policy = catalogue.get_policy(jurisdiction_code=jurisdiction, code=code)
    version = catalogue.get_version(policy=policy, number=number)
    used = catalogue.lines_priced_by([version]).get(version.pk, 0)
    if used:
        messages.error(
            request,
            _("%(code)s v%(version)d 已用于 %(n)d 条申领明细的计价，不能修改；请新增版本。")
            % {"code": policy.code, "version": version.version, "n": used},
        )
        return redirect(_policy_url(policy))
    status = 200
    if request.method == "POST":
        form = VersionForm(request.POST, policy=policy)
        if form.is_valid():
            try:
                catalogue.update_version(
                    actor=request.user, version=version, terms=form.terms(), reason=form.cleaned_data["reason"]
                )
            except InvalidInput as error:
                form.add_service_errors(error.fields)
                messages.error(request, error.message)
            except DomainError as error:  # VersionInUse: a line was priced by it meanwhile
                messages.error(request, error.message)
                return redirect(_policy_url(policy))
            else:
                messages.success(request, _("已保存 %(code)s v%(version)d。") % {"code": policy.code, "version": version.version})
                return redirect(_policy_url(policy))
        status = 400
    else:
        form = VersionForm(initial=VersionForm.initial_from(catalogue.terms_of(version)), policy=policy)
    return render(
        request,
        "catalogue/version_form.html",
        {
            "form": form,
            "policy": policy,
            "version": version,
            "rule_help": rule_help(),
            "next_number": version.version,
        },
        status=status,
    )
