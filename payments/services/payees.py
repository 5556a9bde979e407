"""Where payees are paid (RULES.M3): a provider's bank account, a person's social security card
account. Account numbers are personal or banking data: stored encrypted, shown masked."""

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audit import actions
from audit.services import record_event
from claims.bounds import reason_refusal
from claims.errors import InvalidInput, StepAlreadyTaken
from claims.models import Claim, ClaimLine, ClaimStatus, Provider, Trainee
from claims.personal_data import account_number_digest, decrypt_id_number, encrypt_id_number
from claims.validators import checked_account_name, name_key

from .. import access
from ..models import PayeeAccount

ACCOUNT_NUMBER = re.compile(r"^[0-9]{8,30}$")


def mask_account_number(number: str) -> str:
    """6222************1234: the bank's prefix and the last four only."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def account_number_of(holder) -> str:
    """The full number, for the bank file only."""
    return decrypt_id_number(holder.account_number_encrypted)


def account_in_ledger(holder) -> dict:
    """A payee's account (a PayeeAccount, or a Transfer: where it was sent) as the ledger records
    it: the number masked for people, and its keyed digest, which tells apart two numbers alike
    in their first and last four (6222000011112222 and 6222999988882222)."""
    return {
        "account_name": holder.account_name,
        "bank_name": holder.bank_name,
        "account_number": holder.account_number_masked,
        "account_number_digest": account_number_digest(account_number_of(holder)),
    }


def clean_account(*, account_name: str, bank_name: str, account_number: str, prefix: str = "") -> tuple[str, str, str]:
    """The three fields, stripped, or InvalidInput naming each bad one (under ``prefix``)."""
    account_name, bank_name = (account_name or "").strip(), (bank_name or "").strip()
    account_number = re.sub(r"\s+", "", account_number or "")
    errors: dict[str, list[str]] = {}
    if not account_name:
        errors[f"{prefix}account_name"] = [_("户名必填。")]
    if not bank_name:
        errors[f"{prefix}bank_name"] = [_("开户银行必填。")]
    for name, value in (("account_name", account_name), ("bank_name", bank_name)):
        try:
            checked_account_name(value, max_length=PayeeAccount._meta.get_field(name).max_length)
        except ValidationError as error:
            errors.setdefault(f"{prefix}{name}", []).extend(error.messages)
    if not ACCOUNT_NUMBER.match(account_number):
        errors[f"{prefix}account_number"] = [_("账号须为 8–30 位数字。")]
    if errors:
        raise InvalidInput(_("收款账户信息有误。"), fields=errors)
    return account_name, bank_name, account_number


def require_held_by_payee(
    account_name: str, *, provider: Provider | None, trainee: Trainee | None, enterprise_credit_code: str | None
) -> None:
    """The account is the payee's own (N7: the trainee's own social security card, the provider's
    own basic account; the enterprise's own account): its holder's name is the payee's, as
    ``name_key`` compares names (full or half width, spaces, kinds of brackets). An account held
    by another is where subsidies are diverted to. A person's name is the one their claim lines
    carry (Trainee keeps none): any line of a claim out of draft; an enterprise's, the one the
    claims naming it carry."""
    if provider is not None:
        names = [provider.name]
        problem = _("户名须为培训机构的名称“%(name)s”：补贴只能付入培训机构本单位的账户。") % {"name": provider.name}
    elif trainee is not None:
        lines = ClaimLine.objects.filter(trainee=trainee).exclude(claim__status=ClaimStatus.DRAFT)
        names = lines.order_by().values_list("name", flat=True).distinct()
        problem = _("户名须为学员本人的姓名（与其申领明细上的姓名一致）：社会保障卡账户只能是本人的。")
    else:
        claims = Claim.objects.filter(enterprise_credit_code=enterprise_credit_code).exclude(status=ClaimStatus.DRAFT)
        names = claims.order_by().values_list("enterprise_name", flat=True).distinct()
        latest = claims.order_by("-pk").values_list("enterprise_name", flat=True).first() or ""
        problem = _("户名须为企业的名称“%(name)s”（与申领所填一致）：补贴只能付入企业本单位的账户。") % {"name": latest}
    wanted = name_key(account_name)
    if not any(name_key(name) == wanted for name in names):
        raise InvalidInput(_("收款账户信息有误。"), fields={"account_name": [problem]})


@transaction.atomic
def set_payee_account(
    *,
    actor,
    provider: Provider | None = None,
    trainee: Trainee | None = None,
    enterprise_credit_code: str | None = None,
    account_name: str,
    bank_name: str,
    account_number: str,
    reason: str = "",
) -> PayeeAccount:
    """Set or correct where a provider (by its clerk or finance), a person or an enterprise paid
    under S10–S14 (by finance; keyed by its unified social credit code) is paid."""
    if [provider, trainee, enterprise_credit_code].count(None) != 2:
        raise ValueError("exactly one of provider, trainee and enterprise_credit_code")
    if actor is not None:
        access.require_may_set_payee_account(
            actor, provider=provider, trainee=trainee, enterprise_credit_code=enterprise_credit_code
        )
    reason = (reason or "").strip()
    if (problem := reason_refusal(reason, required=False)) is not None:
        raise InvalidInput(_("收款账户信息有误。"), fields={"reason": [problem]})
    account_name, bank_name, account_number = clean_account(
        account_name=account_name, bank_name=bank_name, account_number=account_number
    )
    require_held_by_payee(account_name, provider=provider, trainee=trainee, enterprise_credit_code=enterprise_credit_code)
    if provider is not None:
        owner = {"provider": provider}
    elif trainee is not None:
        owner = {"trainee": trainee}
    else:
        owner = {"enterprise_credit_code": enterprise_credit_code}
    account = PayeeAccount.objects.select_for_update().filter(**owner).first()
    before = None
    if account is not None:
        if actor is not None:
            access.require_not_redirecting_elsewhere(actor, **owner)
        before = account_in_ledger(account)
    else:
        account = PayeeAccount(**owner)
    account.account_name, account.bank_name = account_name, bank_name
    account.account_number_encrypted = encrypt_id_number(account_number)
    account.account_number_masked = mask_account_number(account_number)
    account.updated_by = actor
    if before is None:
        # No row to lock yet: a second first setting at the same moment (the clerk and finance,
        # a double click) waits on this one's unique key, then is told, not answered with a 500.
        try:
            with transaction.atomic():
                account.save()
        except IntegrityError:
            raise StepAlreadyTaken(_("收款账户刚由他人设置，请刷新后重试。")) from None
    else:
        account.save()
    after = account_in_ledger(account)
    record_event(
        actor=actor,
        action=actions.PAYEE_ACCOUNT_SET,
        obj=account,
        reason=reason,
        detail={
            "provider": provider.code if provider else None,
            "trainee": trainee.id_number_masked if trainee else None,
            **({"enterprise": enterprise_credit_code} if enterprise_credit_code else {}),
            "before": before,
            "after": after,
        },
    )
    return account
