"""The one registry of the ledger's actions: every ``action`` an entry may carry, with its label.

record_event and record_events refuse an action that is not here (ValueError naming it), so
a new kind of entry starts with a line in this file, its label in Simplified Chinese, and
its English in locale/en/LC_MESSAGES/django.po (context "audit"). Pages show the label
(``label(action)``, ``AuditEvent.action_label``); the entries' bytes, the API and the exports
keep the identifier, which never changes once entries carry it.
"""

from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

REGISTRY: dict[str, Promise] = {}


def _action(value: str, label: Promise) -> str:
    if value in REGISTRY:
        raise ValueError(f"audit action {value!r} is registered twice")
    REGISTRY[value] = label
    return value


# --------------------------------------------------------------------------- a claim and its review

CLAIM_CREATED = _action("claim.created", pgettext_lazy("audit", "创建申领"))
CLAIM_EDITED = _action("claim.edited", pgettext_lazy("audit", "修改申领"))
CLAIM_SUBMITTED = _action("claim.submitted", pgettext_lazy("audit", "提交申领"))
CLAIM_RESUBMITTED = _action("claim.resubmitted", pgettext_lazy("audit", "修改后重新提交"))
CLAIM_WITHDRAWN = _action("claim.withdrawn", pgettext_lazy("audit", "撤回申领"))
CLAIM_APPROVED_STEP = _action("claim.approved_step", pgettext_lazy("audit", "审核通过"))
CLAIM_RETURNED = _action("claim.returned", pgettext_lazy("audit", "退回修改"))
CLAIM_REJECTED = _action("claim.rejected", pgettext_lazy("audit", "不予补贴"))
CLAIM_FLAGS_RECHECKED = _action("claim.flags_rechecked", pgettext_lazy("audit", "重新校验预警"))
# Public notice (公示, RULES N5; workflow/notice.py).
CLAIM_NOTICE_PUBLISHED = _action("claim.notice_published", pgettext_lazy("audit", "进入公示"))
CLAIM_NOTICE_CLOSED = _action("claim.notice_closed", pgettext_lazy("audit", "公示期满，转财政拨付"))
OBJECTION_FILED = _action("objection.filed", pgettext_lazy("audit", "收到公示异议"))
OBJECTION_UPHELD = _action("objection.upheld", pgettext_lazy("audit", "公示异议成立"))
OBJECTION_DISMISSED = _action("objection.dismissed", pgettext_lazy("audit", "公示异议不成立"))
TASK_ASSIGNED = _action("task.assigned", pgettext_lazy("audit", "领取任务"))
TASK_ESCALATED = _action("task.escalated", pgettext_lazy("audit", "逾期提交组长督办"))
TASK_REASSIGNED = _action("task.reassigned", pgettext_lazy("audit", "组长改派任务"))
TASK_RELEASED = _action("task.released", pgettext_lazy("audit", "组长收回任务"))
DELEGATION_CREATED = _action("delegation.created", pgettext_lazy("audit", "指定代理人"))
DELEGATION_REVOKED = _action("delegation.revoked", pgettext_lazy("audit", "撤销代理"))
FLAG_OVERRIDDEN = _action("flag.overridden", pgettext_lazy("audit", "豁免预警"))
PERMISSION_GRANTED = _action("permission.granted", pgettext_lazy("audit", "授予查看权限"))
ROSTER_RECEIVED = _action("roster.received", pgettext_lazy("audit", "收到花名册"))
ROSTER_FAILED = _action("roster.failed", pgettext_lazy("audit", "花名册导入失败"))

# --------------------------------------------------------------------------- the working-day calendar and time limits

WORKING_DAY_SET = _action("working_day.created", pgettext_lazy("audit", "新增工作日调整"))
WORKING_DAY_CHANGED = _action("working_day.updated", pgettext_lazy("audit", "修改工作日调整"))
WORKING_DAY_REMOVED = _action("working_day.deleted", pgettext_lazy("audit", "删除工作日调整"))
DEADLINE_SET = _action("deadline.created", pgettext_lazy("audit", "设置办理期限"))
DEADLINE_CHANGED = _action("deadline.updated", pgettext_lazy("audit", "修改办理期限"))
DEADLINE_REMOVED = _action("deadline.deleted", pgettext_lazy("audit", "删除办理期限"))

# --------------------------------------------------------------------------- a claim's documents and thread

ATTACHMENT_UPLOADED = _action("attachment.uploaded", pgettext_lazy("audit", "上传材料"))
ATTACHMENT_DOWNLOADED = _action("attachment.downloaded", pgettext_lazy("audit", "下载材料"))
COMMENT_POSTED = _action("comment.posted", pgettext_lazy("audit", "留言"))
# Read only by those who may read internal notes (claims.selectors.ledger_entries_visible_to).
INTERNAL_NOTE_POSTED = _action("comment.internal_note", pgettext_lazy("audit", "内部备注"))
# Entries that a provider's clerk never reads, not even of its own claims (PARTLY_SHOWN_TO_PROVIDER
# below: those it reads in part).
INTERNAL_ACTIONS = frozenset({INTERNAL_NOTE_POSTED})

# --------------------------------------------------------------------------- a claim's payment

CLAIM_PAYMENT_BATCHED = _action("claim.payment_batched", pgettext_lazy("audit", "编入拨付批次"))
CLAIM_PAYMENT_UNBATCHED = _action("claim.payment_unbatched", pgettext_lazy("audit", "移出作废批次"))
CLAIM_IN_PAYMENT = _action("claim.in_payment", pgettext_lazy("audit", "发送银行支付"))
CLAIM_PAYMENT_RESULT = _action("claim.payment_result", pgettext_lazy("audit", "银行回单入账"))
CLAIM_PAYMENT_REQUEUED = _action("claim.payment_requeued", pgettext_lazy("audit", "更正账户后待重新拨付"))
CLAIM_LINE_PAYMENT_CANCELLED = _action("claim.line_payment_cancelled", pgettext_lazy("audit", "某行不予拨付"))
CLAIM_LINE_RECOVERED = _action("claim.line_recovered", pgettext_lazy("audit", "追回完成"))
CLAIM_STATUS_SYNCED = _action("claim.status_synced", pgettext_lazy("audit", "状态同步"))
CLAIM_PAID = _action("claim.paid", pgettext_lazy("audit", "拨付完成"))
CLAIM_PAYMENT_CANCELLED = _action("claim.payment_cancelled", pgettext_lazy("audit", "不予拨付，办结"))

# --------------------------------------------------------------------------- funds: accounts, plans, allocations

FUND_ACCOUNT_CREATED = _action("fund_account.created", pgettext_lazy("audit", "开设专账"))
PLAN_SAVED = _action("plan.saved", pgettext_lazy("audit", "保存年度培训计划"))
PLAN_FILED = _action("plan.filed", pgettext_lazy("audit", "报备年度培训计划"))
PLAN_HR_ACCEPTED = _action("plan.hr_accepted", pgettext_lazy("audit", "人社局确认年度培训计划"))
PLAN_ACCEPTED = _action("plan.accepted", pgettext_lazy("audit", "财政确认年度培训计划，备案"))
PLAN_REFUSED = _action("plan.refused", pgettext_lazy("audit", "退回年度培训计划"))
ALLOCATION_CREATED = _action("allocation.created", pgettext_lazy("audit", "下达资金分配"))
ALLOCATION_RESERVED = _action("allocation.reserved", pgettext_lazy("audit", "占用部门资金分配"))
ALLOCATION_RELEASED = _action("allocation.released", pgettext_lazy("audit", "释放资金分配"))
ALLOCATION_RESTORED = _action("allocation.restored", pgettext_lazy("audit", "追回款恢复资金分配"))
REPORT_EXPORTED = _action("report.exported", pgettext_lazy("audit", "导出专账报表"))

# --------------------------------------------------------------------------- payment batches, payees, recoveries

PAYMENT_BATCH_BUILT = _action("payment_batch.built", pgettext_lazy("audit", "生成拨付批次"))
PAYMENT_BATCH_CANCELLED = _action("payment_batch.cancelled", pgettext_lazy("audit", "作废拨付批次"))
PAYMENT_BATCH_RELEASE_REQUESTED = _action("payment_batch.release_requested", pgettext_lazy("audit", "复核通过，发放拨付批次"))
PAYMENT_BATCH_RELEASED = _action("payment_batch.released", pgettext_lazy("audit", "拨付批次已发送银行"))
PAYMENT_BATCH_RESULT_APPLIED = _action("payment_batch.result_applied", pgettext_lazy("audit", "登记银行结果"))
PAYMENT_FILE_DOWNLOADED = _action("payment_file.downloaded", pgettext_lazy("audit", "下载银行支付文件"))
PAYEE_ACCOUNT_SET = _action("payee_account.set", pgettext_lazy("audit", "设定收款账户"))
RECOVERY_OPENED = _action("recovery.opened", pgettext_lazy("audit", "发起追回"))
RECOVERY_RECEIPT_RECORDED = _action("recovery.receipt_recorded", pgettext_lazy("audit", "登记追回款"))

# --------------------------------------------------------------------------- certificate checks, class filing, attendance

CLAIM_CERTIFICATES_CHECKED = _action("claim.certificates_checked", pgettext_lazy("audit", "联网核查证书"))
REGISTRY_IMPORTED = _action("registry.imported", pgettext_lazy("audit", "导入证书库"))
CLASS_FILED = _action("class.filed", pgettext_lazy("audit", "开班备案报备"))
CLASS_ACCEPTED = _action("class.accepted", pgettext_lazy("audit", "开班备案确认"))
CLASS_REFUSED = _action("class.refused", pgettext_lazy("audit", "开班备案不予备案"))
CLASS_ROSTER_CHANGED = _action("class.roster_changed", pgettext_lazy("audit", "更新备案学员名单"))
ATTENDANCE_RECORDED = _action("attendance.recorded", pgettext_lazy("audit", "登记考勤"))

# --------------------------------------------------------------------------- the subsidy catalogue

CATALOGUE_POLICY_CREATED = _action("catalogue.policy_created", pgettext_lazy("audit", "新增补贴标准"))
CATALOGUE_POLICY_UPDATED = _action("catalogue.policy_updated", pgettext_lazy("audit", "修改补贴标准"))
CATALOGUE_VERSION_ADDED = _action("catalogue.version_added", pgettext_lazy("audit", "新增标准版本"))
CATALOGUE_VERSION_UPDATED = _action("catalogue.version_updated", pgettext_lazy("audit", "更正标准版本"))
CATALOGUE_VERSION_CLOSED = _action("catalogue.version_closed", pgettext_lazy("audit", "设定版本失效日期"))

# --------------------------------------------------------------------------- the organisation, users and groups

JURISDICTION_CREATED = _action("jurisdiction.created", pgettext_lazy("audit", "新增行政区"))
JURISDICTION_UPDATED = _action("jurisdiction.updated", pgettext_lazy("audit", "修改行政区"))
DEPARTMENT_CREATED = _action("department.created", pgettext_lazy("audit", "新增行业主管部门"))
DEPARTMENT_UPDATED = _action("department.updated", pgettext_lazy("audit", "修改行业主管部门"))
PROVIDER_CREATED = _action("provider.created", pgettext_lazy("audit", "新增培训机构"))
PROVIDER_UPDATED = _action("provider.updated", pgettext_lazy("audit", "修改培训机构"))
USER_CREATED = _action("user.created", pgettext_lazy("audit", "新建用户"))
USER_UPDATED = _action("user.updated", pgettext_lazy("audit", "修改用户"))
USER_DELETED = _action("user.deleted", pgettext_lazy("audit", "删除用户"))
# A password set (or made unusable) on the admin's password pages; never the password or its hash.
USER_PASSWORD_SET = _action("user.password_set", pgettext_lazy("audit", "设置用户密码"))
USER_GROUPS_CHANGED = _action("user.groups_changed", pgettext_lazy("audit", "变更用户所属组"))
USER_RELATIONS_CHANGED = _action("user.relations_changed", pgettext_lazy("audit", "变更用户的组与权限"))
GROUP_CREATED = _action("group.created", pgettext_lazy("audit", "新建用户组"))
GROUP_UPDATED = _action("group.updated", pgettext_lazy("audit", "修改用户组"))
GROUP_DELETED = _action("group.deleted", pgettext_lazy("audit", "删除用户组"))
GROUP_RELATIONS_CHANGED = _action("group.relations_changed", pgettext_lazy("audit", "变更用户组权限"))

# --------------------------------------------------------------------------- access

AUTH_LOGIN = _action("auth.login", pgettext_lazy("audit", "登录"))
AUTH_LOGOUT = _action("auth.logout", pgettext_lazy("audit", "退出登录"))
# No longer written: a failed login is counted by django-axes, and only a lockout is recorded
# (anyone could grow the ledger with failures). Kept for the entries that carry it.
AUTH_LOGIN_FAILED = _action("auth.login_failed", pgettext_lazy("audit", "登录失败"))
AUTH_LOCKED_OUT = _action("auth.locked_out", pgettext_lazy("audit", "多次登录失败，已锁定"))
AUTH_LOCKOUT_LIFTED = _action("auth.lockout_lifted", pgettext_lazy("audit", "解除登录锁定"))
AUTH_TOKEN_ISSUED = _action("auth.token_issued", pgettext_lazy("audit", "签发接口令牌"))
AUTH_TOKEN_REVOKED = _action("auth.token_revoked", pgettext_lazy("audit", "注销接口令牌"))
AUTH_REAUTHENTICATED = _action("auth.reauthenticated", pgettext_lazy("audit", "再次验证密码"))
ACCESS_DENIED = _action("access.denied", pgettext_lazy("audit", "拒绝访问"))

# --------------------------------------------------------------------------- the auditor

AUDIT_SAMPLE_DRAWN = _action("audit.sample_drawn", pgettext_lazy("audit", "抽取审计样本"))
AUDIT_EXPORTED = _action("audit.exported", pgettext_lazy("audit", "导出审计数据"))

# --------------------------------------------------------------------------- benchmarks (bench/ledger.py, a throwaway database)

BENCH_APPEND = _action("bench.append", pgettext_lazy("audit", "基准测试写入"))
BENCH_GENERATED = _action("bench.generated", pgettext_lazy("audit", "基准测试生成"))


# --------------------------------------------------------------------------- what a provider's clerk reads

# Entries of its own claims a provider's clerk reads in part: the action → the detail keys it is
# shown; the entry's reason only where "reason" is among them (claims.selectors.
# ledger_entries_visible_to shapes what it reads, the stored entry is untouched). An objection to the public notice is anonymous: the provider reads
# that a line was objected to and what became of it, not the objector's words, the receipt (the key
# to the objection's public status page) nor the HR head's reasoning, which the release of an
# upheld line's money repeats (its other reasons are on the decision entry that follows it).
PARTLY_SHOWN_TO_PROVIDER: dict[str, frozenset[str]] = {
    OBJECTION_FILED: frozenset({"line", "period_end"}),
    OBJECTION_UPHELD: frozenset({"line", "line_before", "line_after", "total"}),
    OBJECTION_DISMISSED: frozenset({"line", "line_before", "line_after", "total"}),
    ALLOCATION_RELEASED: frozenset(
        {"line", "amount", "committed_after", "allocation", "payment_status_before", "payment_status"}
    ),
    # HR's override of a flag: which flag of which line and why, as the claim page shows it; not the
    # flag's message and related claims, which name other providers' claims (claims.eligibility.
    # flag_as_seen: the page shows the flag as its reader may see it).
    FLAG_OVERRIDDEN: frozenset({"line", "code", "source", "reason"}),
}


# --------------------------------------------------------------------------- what names other claims

# Entries whose detail is a claim line's flag: its ``related`` claims, named in its messages too,
# are often of other providers, departments or jurisdictions. Every reader reads the flag as
# claims.eligibility.flag_as_seen shapes it, naming only the claims they may see (claims.selectors.
# ledger_entries_visible_to); the stored entry is untouched, and its bytes go whole where bytes
# are the evidence (inclusion proofs, the signed package: docs/architecture.md).
FLAG_IN_DETAIL = frozenset({FLAG_OVERRIDDEN})


# --------------------------------------------------------------------------- what a person must say why of

# A person's discretionary change (to undo, refuse, cancel, override, hand over or set policy,
# money and people): its entry keeps the written reason the person gave, and record_event and
# record_events refuse such an entry without one (ValueError) when a person makes it. A system step
# (actor None: the seed, the console, a scheduled job) needs none. Routine acts whose doing is its
# own why (submit, approve, take a task, build a batch) are not here; their comment stays optional.
# The pages and the API ask the reason (required, stripped, bounded: claims.bounds) before the
# service runs; this is the ledger's last word. tests/test_reasons_for_changes.py pins the list.
REASON_REQUIRED: frozenset[str] = frozenset(
    {
        CLAIM_WITHDRAWN,
        CLAIM_RETURNED,
        CLAIM_REJECTED,
        FLAG_OVERRIDDEN,
        TASK_REASSIGNED,
        TASK_RELEASED,
        DELEGATION_CREATED,
        DELEGATION_REVOKED,
        OBJECTION_UPHELD,
        OBJECTION_DISMISSED,
        CLASS_REFUSED,
        PLAN_REFUSED,
        PAYMENT_BATCH_CANCELLED,
        CLAIM_LINE_PAYMENT_CANCELLED,
        CLAIM_PAYMENT_REQUEUED,
        RECOVERY_OPENED,
        CATALOGUE_POLICY_CREATED,
        CATALOGUE_POLICY_UPDATED,
        CATALOGUE_VERSION_ADDED,
        CATALOGUE_VERSION_UPDATED,
        CATALOGUE_VERSION_CLOSED,
        # What the admin changes, which asks CHANGE_REASON on every page that writes (audit.admin).
        JURISDICTION_CREATED,
        JURISDICTION_UPDATED,
        DEPARTMENT_CREATED,
        DEPARTMENT_UPDATED,
        PROVIDER_CREATED,
        PROVIDER_UPDATED,
        USER_CREATED,
        USER_UPDATED,
        USER_DELETED,
        USER_GROUPS_CHANGED,
        USER_RELATIONS_CHANGED,
        GROUP_CREATED,
        GROUP_UPDATED,
        GROUP_DELETED,
        GROUP_RELATIONS_CHANGED,
        WORKING_DAY_SET,
        WORKING_DAY_CHANGED,
        WORKING_DAY_REMOVED,
        DEADLINE_SET,
        DEADLINE_CHANGED,
        DEADLINE_REMOVED,
        AUTH_LOCKOUT_LIFTED,
    }
)


def check_reason(action: str, *, actor, reason: str) -> None:
    """ValueError when a person records an action of REASON_REQUIRED without a reason."""
    if actor is not None and action in REASON_REQUIRED and not (reason or "").strip():
        raise ValueError(f"audit action {action!r} needs the reason its actor gave (audit.actions.REASON_REQUIRED)")


def is_registered(action: str) -> bool:
    return action in REGISTRY


def check(action: str) -> str:
    """The action, if registered; ValueError naming it otherwise."""
    if action not in REGISTRY:
        raise ValueError(f"unknown audit action {action!r}: register it in audit/actions.py")
    return action


def label(action: str) -> str:
    """The action's label in the active language (the identifier itself for an unknown one,
    which only an entry written before its action was registered can carry)."""
    text = REGISTRY.get(action)
    return str(text) if text is not None else action
