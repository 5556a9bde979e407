"""Forms of the funds pages: they only shape the input; the services check it and their
errors are put back next to the fields they name."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from claims.bounds import TEXT_MAX_LENGTH
from claims.models import PolicyCategory
from claims.validators import validate_account_name

from .services.funds import PlanItemInput


class ServiceErrorsMixin:
    def add_service_errors(self, fields: dict) -> None:
        for name, problems in fields.items():
            target = name if name in self.fields else None
            for problem in problems:
                self.add_error(target, problem)


class FundAccountForm(ServiceErrorsMixin, forms.Form):
    jurisdiction = forms.ChoiceField(label=_("行政区"))
    year = forms.IntegerField(label=_("年度"))
    name = forms.CharField(label=_("账户名称"), max_length=200, required=False, validators=[validate_account_name])
    bank_name = forms.CharField(label=_("开户银行"), max_length=200, required=False, validators=[validate_account_name])
    account_number = forms.CharField(label=_("账号"), max_length=40, required=False)
    budget = forms.CharField(label=_("年度资金（元）"), max_length=20, required=False)

    def __init__(self, *args, jurisdictions, **kwargs):
        kwargs.setdefault("initial", {"year": timezone.localdate().year})
        super().__init__(*args, **kwargs)
        self.jurisdictions = {str(j.pk): j for j in jurisdictions}
        self.fields["jurisdiction"].choices = [(str(j.pk), j.name) for j in jurisdictions]

    def jurisdiction_object(self):
        return self.jurisdictions[self.cleaned_data["jurisdiction"]]


class PlanItemsForm(ServiceErrorsMixin, forms.Form):
    """One row per catalogue category: headcount and amount; rows left empty are not part of the plan."""

    def __init__(self, *args, departments=None, plan=None, **kwargs):
        initial = {}
        if plan is not None:
            for item in plan.items.all():
                initial[f"headcount_{item.category}"] = item.headcount
                initial[f"amount_{item.category}"] = item.amount
        super().__init__(*args, initial=initial, **kwargs)
        self.index: dict[int, str] = {}
        if departments is not None:
            self.fields["department"] = forms.ChoiceField(
                label=_("行业主管部门"), choices=[(d.code, d.name) for d in departments]
            )
        for code, _label in PolicyCategory.choices:
            self.fields[f"headcount_{code}"] = forms.CharField(label=_("人数"), required=False, max_length=10)
            self.fields[f"amount_{code}"] = forms.CharField(label=_("金额"), required=False, max_length=20)

    def rows(self):
        """(category code, label, headcount field, amount field) for the template."""
        return [(code, label, self[f"headcount_{code}"], self[f"amount_{code}"]) for code, label in PolicyCategory.choices]

    def items(self) -> list[PlanItemInput]:
        items = []
        for code, _label in PolicyCategory.choices:
            headcount = (self.cleaned_data.get(f"headcount_{code}") or "").strip()
            amount = (self.cleaned_data.get(f"amount_{code}") or "").strip()
            if headcount or amount:
                self.index[len(items)] = code
                items.append(PlanItemInput(category=code, headcount=headcount or "0", amount=amount or "0"))
        return items

    def add_service_errors(self, fields: dict) -> None:
        for name, problems in fields.items():
            target = None
            if name.startswith("items[") and "]." in name:
                index, attribute = name[len("items[") :].split("].", 1)
                code = self.index.get(int(index))
                if code is not None and attribute in ("headcount", "amount"):
                    target = f"{attribute}_{code}"
            elif name in self.fields:
                target = name
            for problem in problems:
                self.add_error(target, problem)


class RefuseForm(forms.Form):
    reason = forms.CharField(
        label=_("退回理由"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=TEXT_MAX_LENGTH
    )
