"""Forms of the results pages: they only shape the input; the services check it and their
errors are put back next to the fields they name (a bad row of a result file on the page)."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from claims.bounds import TEXT_MAX_LENGTH
from claims.reasons import reason_choices
from claims.validators import validate_account_name
from claims.widgets import DATE_INPUT

from .models import PayeeKind, RecoveryReason


class ServiceErrorsMixin:
    def add_service_errors(self, fields: dict) -> None:
        for name, problems in fields.items():
            target = name if name in self.fields else None
            for problem in problems:
                self.add_error(
                    target, f"{name}: {problem}" if target is None and name not in ("file", "non_field_errors") else problem
                )


class ResultUploadForm(ServiceErrorsMixin, forms.Form):
    file = forms.FileField(label=_("银行回单文件（.csv 或 .xlsx）"))


class CorrectionForm(ServiceErrorsMixin, forms.Form):
    account_name = forms.CharField(label=_("户名"), max_length=200, required=False, validators=[validate_account_name])
    bank_name = forms.CharField(label=_("开户银行"), max_length=200, required=False, validators=[validate_account_name])
    account_number = forms.CharField(label=_("账号"), max_length=40, required=False)
    reason = forms.CharField(
        label=_("更正理由"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=TEXT_MAX_LENGTH
    )


class CancelPaymentForm(ServiceErrorsMixin, forms.Form):
    reason_code = forms.ChoiceField(label=_("理由代码"), choices=[("", "—")] + reason_choices(), required=False)
    reason = forms.CharField(
        label=_("情况说明"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=TEXT_MAX_LENGTH
    )


class RecoveryForm(ServiceErrorsMixin, forms.Form):
    amount_due = forms.CharField(label=_("应追回金额（元）"), max_length=20, required=False)
    payer_kind = forms.ChoiceField(label=_("退款人类型"), choices=PayeeKind.choices, required=False)
    payer_name = forms.CharField(label=_("退款人"), max_length=200, required=False)
    reason_code = forms.ChoiceField(label=_("追回原因"), choices=[("", "—")] + list(RecoveryReason.choices), required=False)
    reason = forms.CharField(
        label=_("情况说明"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=TEXT_MAX_LENGTH
    )


class ReceiptForm(ServiceErrorsMixin, forms.Form):
    amount = forms.CharField(label=_("到账金额（元）"), max_length=20, required=False)
    received_on = forms.CharField(label=_("到账日期"), max_length=10, required=False, widget=DATE_INPUT)
    reference = forms.CharField(label=_("缴款凭证号"), max_length=60, required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"received_on": timezone.localdate().isoformat()})
        super().__init__(*args, **kwargs)
