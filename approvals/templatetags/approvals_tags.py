"""Presentation helpers for the pages: labels for codes kept in the database."""

from django import template
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from claims import access, roles
from claims.models import ClaimStatus, LineDecision, PaymentStatus
from workflow.steps import STEPS

from claims.reasons import REASONS

register = template.Library()

ROLE_LABELS = {
    roles.PROVIDER_CLERK: _("培训机构经办人"),
    roles.DEPARTMENT_REVIEWER: _("行业部门审核人"),
    roles.HR_REVIEWER: _("人社局审核人"),
    roles.HR_HEAD: _("人社局负责人"),
    roles.FINANCE_OFFICER: _("财政拨付经办人"),
    roles.AUDITOR: _("审计人员"),
    roles.ADMINISTRATOR: _("系统管理员"),
}

ACTION_LABELS = {
    "claim.created": pgettext_lazy("audit", "创建申领"),
    "claim.edited": pgettext_lazy("audit", "修改申领"),
    "claim.submitted": pgettext_lazy("audit", "提交申领"),
    "claim.resubmitted": pgettext_lazy("audit", "修改后重新提交"),
    "claim.approved_step": pgettext_lazy("audit", "审核通过"),
    "claim.returned": pgettext_lazy("audit", "退回修改"),
    "claim.rejected": pgettext_lazy("audit", "不予补贴"),
    "claim.paid": pgettext_lazy("audit", "拨付完成"),
    "claim.payment_cancelled": pgettext_lazy("audit", "不予拨付，办结"),
    "allocation.reserved": pgettext_lazy("audit", "占用部门资金分配"),
    "allocation.released": pgettext_lazy("audit", "释放资金分配"),
    "allocation.restored": pgettext_lazy("audit", "追回款恢复资金分配"),
    "claim.payment_batched": pgettext_lazy("audit", "编入拨付批次"),
    "claim.payment_unbatched": pgettext_lazy("audit", "移出作废批次"),
    "claim.in_payment": pgettext_lazy("audit", "发送银行支付"),
    "claim.payment_result": pgettext_lazy("audit", "银行回单入账"),
    "claim.payment_requeued": pgettext_lazy("audit", "更正账户后待重新拨付"),
    "claim.line_payment_cancelled": pgettext_lazy("audit", "某行不予拨付"),
    "claim.line_recovered": pgettext_lazy("audit", "追回完成"),
    "claim.status_synced": pgettext_lazy("audit", "状态同步"),
    "recovery.opened": pgettext_lazy("audit", "发起追回"),
    "recovery.receipt_recorded": pgettext_lazy("audit", "登记追回款"),
    "task.assigned": pgettext_lazy("audit", "领取任务"),
    "permission.granted": pgettext_lazy("audit", "授予查看权限"),
    "flag.overridden": pgettext_lazy("audit", "豁免预警"),
    "claim.flags_rechecked": pgettext_lazy("audit", "重新校验预警"),
}


@register.simple_tag
def roles_of(user) -> set[str]:
    return access.roles_held(user)


@register.filter
def claims_may(user, capability: str) -> bool:
    """``user|claims_may:"import_roster"``: a capability of claims.access."""
    if capability not in access.CAPABILITIES:
        raise template.TemplateSyntaxError(f"claims_may: no capability {capability!r} in claims.access")
    return access.may(user, capability)


@register.filter
def role_labels(user) -> str:
    held = access.roles_held(user)
    return "、".join(str(ROLE_LABELS[role]) for role in roles.ALL_ROLES if role in held)


@register.filter
def status_label(value: str) -> str:
    if not value:
        return ""
    try:
        return ClaimStatus(value).label
    except ValueError:
        return value


@register.filter
def decision_label(value: str) -> str:
    try:
        return LineDecision(value).label
    except ValueError:
        return value


@register.filter
def payment_label(value: str) -> str:
    try:
        return PaymentStatus(value).label
    except ValueError:
        return value


@register.filter
def step_label(step_name: str) -> str:
    step = STEPS.get(step_name)
    return step.label if step else step_name


@register.filter
def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


@register.filter
def reason_label(code: str) -> str:
    if not code:
        return ""
    label = REASONS.get(code)
    return f"{code} {label}" if label else code


@register.filter
def person(user) -> str:
    """A user as people know them: full name and login name."""
    if user is None:
        return ""
    full_name = user.get_full_name()
    if not full_name:
        return user.username
    return _("%(name)s（%(username)s）") % {"name": full_name, "username": user.username}
