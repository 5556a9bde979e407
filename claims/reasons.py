"""Coded reasons for rejecting a claim or a line. Rule codes are the ids of RULES.md, and the
flag codes of claims/eligibility.py and claims/pricing.py, so that a flagged line is rejected
with its flag's code (HARDSHIP: the S6 living allowance without a hardship group)."""

from django.utils.translation import gettext_lazy as _

REASONS = {
    "E2": _("超过每人每年3次补贴"),
    "E3": _("同一职业同一等级已补贴"),
    "N3": _("已补贴更高等级"),
    "N2": _("证书超过12个月未申领"),
    "E9": _("已免费培训，不享受个人证书补贴"),
    "N9": _("同一人培训时间重叠或出勤不足"),
    # The living allowance during training (S6) claimed for someone outside the hardship groups (002 §二(五)).
    "HARDSHIP": _("不属于困难群体，不享受培训期间生活费补贴（S6）"),
    # Conditions on the person a standard names (claims/standard_checks.py).
    "TARGET_GROUP": _("不属于创业培训补贴对象（S4）"),
    "VETERAN": _("不是当年退役军人（S5）"),
    "CHIEF_TECHNICIAN": _("不是经过备案的企业首席技师（S15）"),
    "DUP": _("同一申领中学员重复"),
    # S10–S12, S15: periods beyond the standard's limit across the person's claims (002 §三(九)、§三(十一)).
    "PERIODS": _("超过该标准的最长补贴期限（年数或月数）"),
    # One certificate (issuer and number, claims/certificates.py) on a second line that counts.
    "CERT_DUP": _("同一证书已申领过补贴"),
    # The standard's own maximum across claims (claims/eligibility.py HARD_LIMIT_CODES): S13, S7.
    "ENTERPRISE_CAP": _("超过每家企业的补贴上限（S13）"),
    "ITEM_DUP": _("该项目已资助过（S7）"),
    "ITEMS": _("超过该标准资助的项数（S7）"),
    "NO_STANDARD": _("无适用的补贴标准"),
    "LEVEL": _("等级或证书类型不在补贴范围"),
    "VARIANT": _("补贴类型（如复审）不在该标准范围"),
    "DOCS": _("材料不全或与扫描件不符"),
    "CERT_INVALID": _("证书无法核验或无效"),
    # A certificate no registry knows, where the jurisdiction requires the registry check.
    "CERT_UNKNOWN": _("证书库查无此证"),
    # Class filing (开班备案) and attendance (RULES.md N1, N9).
    # An objection to the line on public notice was upheld (公示, RULES N5; workflow/notice.py).
    "OBJECTION": _("公示异议成立"),
    "CLASS_NOT_FILED": _("培训班未开班备案"),
    "CLASS_ROSTER": _("学员不在备案名单中"),
    "CLASS_DAYS": _("培训天数超出备案班级天数"),
    "CLASS_OVERLAP": _("同一人同一时段在两个备案班级"),
    "ATTENDANCE": _("出勤率低于最低要求"),
    "NOT_TRAINED": _("未实际参加培训"),
    "FRAUD": _("虚假培训或骗取补贴"),
    "OTHER": _("其他（见审核意见）"),
}


def reason_choices():
    return [(code, label) for code, label in REASONS.items()]
