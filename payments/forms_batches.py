"""Forms of the payment batch pages: what finance types in (a reason, a payee account)."""

from django import forms
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _

from claims.bounds import whole_number
from claims.errors import InvalidInput
from claims.validators import validate_account_name

from .selectors.batches import MAX_ID


class CancelBatchForm(forms.Form):
    reason = forms.CharField(
        label=_("作废理由"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("作废批次须写明理由。")},
    )


class ReleaseConfirmForm(forms.Form):
    """Releasing a batch sends its money to the bank and cannot be undone: the officer ticks it."""

    confirm = forms.BooleanField(
        label=_("我已复核收款人和金额，确认发放"),
        error_messages={"required": _("请勾选“我已复核收款人和金额，确认发放”后再发放。")},
    )


class PayeeAccountForm(forms.Form):
    account_name = forms.CharField(label=_("户名"), max_length=200, validators=[validate_account_name])
    bank_name = forms.CharField(label=_("开户银行"), max_length=200, validators=[validate_account_name])
    account_number = forms.CharField(
        label=_("账号"),
        max_length=40,
        help_text=_("8–30 位数字；社会保障卡金融账户或银行账户。"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    reason = forms.CharField(label=_("更正理由"), max_length=500, required=False)


def selected_claim_ids(data) -> list[int] | None:
    """The claims ticked on the build page, or None when the whole awaiting list is to be built. An id
    that is not a claim's (not a number, or too large for one) refuses the whole build: nothing is built
    from the others."""
    if data.get("scope") != "selected":
        return None
    ids = []
    for raw in data.getlist("claims"):
        claim_id = whole_number(raw, maximum=MAX_ID)
        if not claim_id:
            raise InvalidInput(gettext_now("所选申领有误。"), fields={"claims": [gettext_now("须为申领编号（整数）。")]})
        ids.append(claim_id)
    return ids
