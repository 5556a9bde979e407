"""The scope matrix: every URL of the product, as every role, on an object of its own scope and
on objects of another provider, another department and another jurisdiction, with the status
each must answer (MATRIX). The rows are checked against the URL configuration itself: a URL
pattern without a row fails (test_every_url_pattern_has_a_scope_decision), so a new endpoint
cannot ship without someone deciding who may reach it.

One shared world (built once for the module, rolled back at its end; each test in its own
savepoint): the demo jurisdiction 温岭 (WL) and a second one, 诸暨 (ZJ).

  object kind   home (WL)                 other provider     other department   other jurisdiction
  claim         WL-P001 → WL-YJJ, at      WL-P002 → WL-YJJ   WL-P001 → WL-MZJ   ZJ-P001 → ZJ-YJJ
                department review
  draft         the same, still drafts
  task          each claim's open task (department review)
  plan          WL-YJJ's plan             –                  WL-MZJ's plan      ZJ-YJJ's plan
  batch, transfer, recovery: of WL's fund account / claim   –   –            of ZJ's
  upload        WL-P001's roster upload   WL-P002's          –                  ZJ-P001's
  trainee       a trainee of each claim above
  provider      WL-P001                   WL-P002            –                  ZJ-P001
  enterprise    an enterprise paid on the home claim         –   –            one paid on ZJ's claim
  catalogue     WL's S3                   –                  –                  ZJ's S3

Reads are GETs; writes are sent (POST, or the row's method) only where they must be refused,
so nothing in the world moves. Every 200 a WL role gets must hold nothing of ZJ's claim, and no
answer to a signed-in role may be kept by a cache (unsafe_to_keep)."""

import datetime
import hashlib
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.actions import ACCESS_DENIED
from audit.models import AuditEvent
from claims import attachments, roles
from claims.models import (
    AmountRule,
    Attachment,
    AttachmentKind,
    CertificateType,
    Claim,
    Department,
    Level,
    Occupation,
    Payee,
    PolicyVersion,
    RosterUpload,
    SubsidyPolicy,
    TrainingClass,
)
from claims.organisation import ensure_department, ensure_jurisdiction, ensure_provider, ensure_staff_user
from claims.services import create_claim
from demo.funds import ensure_demo_funds
from demo.management.commands.seed_demo import credit_code
from notifications.models import Kind, Notification
from payments.models import FundAccount, FundingPlan, PayeeKind, PaymentBatch, PlanStatus, RecoveryOrder, Transfer
from workflow import selectors as inbox
from workflow.models import Delegation, Objection
from workflow.services import submit_claim

from .conftest import DEMO_PASSWORD, claim_data, line, module_world, require_postgresql, resident_id

pytestmark = pytest.mark.postgres  # the abuse suite runs on PostgreSQL, as production does

ROLES = ("provider_clerk", "dept_reviewer", "hr_reviewer", "hr_head", "finance_officer", "auditor", "admin")
SCOPES = ("home", "other_provider", "other_department", "other_jurisdiction")

# Which of the other objects each role holds in its scope (the home object is in every role's
# scope but the administrator's, who sees no claim through the product).
WL_STAFF = {"hr_reviewer", "hr_head", "finance_officer", "auditor"}
IN_SCOPE = {
    "claim": {"other_provider": {"dept_reviewer"} | WL_STAFF, "other_department": {"provider_clerk"} | WL_STAFF},
    "draft": {"other_department": {"provider_clerk"}},
    "task": {"other_provider": {"dept_reviewer"} | WL_STAFF, "other_department": {"provider_clerk"} | WL_STAFF},
    "plan": {"other_department": WL_STAFF},
    "class": {"other_provider": {"dept_reviewer"} | WL_STAFF, "other_department": {"provider_clerk"} | WL_STAFF},
    "trainee": {"other_provider": WL_STAFF, "other_department": WL_STAFF},
    "provider": {"other_provider": WL_STAFF},
    "attachment": {"other_provider": {"dept_reviewer"} | WL_STAFF, "other_department": {"provider_clerk"} | WL_STAFF},
    # The subsidy catalogue is public policy: read by everyone signed in; the administrator edits every jurisdiction's.
    "catalogue": {"other_jurisdiction": set(ROLES)},
}


@dataclass(frozen=True)
class Row:
    """What one URL answers. ``get``/``write``: the status per role (ROLES' order) on the home
    object, or on the collection for a URL without one; an int is every role's. ``None`` in
    ``write``: not sent (the role may act; the service's own tests cover it). ``out``: the status
    (per role, or every role's) on an object of another scope the role does not hold."""

    kind: str | None
    get: tuple | int
    write: tuple | int = 405
    out: tuple | int = 404
    method: str = "post"


def per_role(value) -> dict:
    values = value if isinstance(value, tuple) else (value,) * len(ROLES)
    assert len(values) == len(ROLES)
    return dict(zip(ROLES, values, strict=True))


# The table. Columns: provider_clerk, dept_reviewer, hr_reviewer, hr_head, finance_officer, auditor, admin.
# fmt: off
MATRIX: dict[str, Row] = {
    "": Row(None, 302, 302),
    "api-docs": Row(None, 200),
    "approvals:claim": Row("claim", (200, 200, 200, 200, 200, 200, 404), (200, 200, 200, 200, 200, 200, 404)),
    "approvals:claim_edit": Row("draft", (200, 404, 404, 404, 404, 404, 404), (None, 404, 404, 404, 404, 404, 404)),
    "approvals:claim_new": Row(None, (200, 403, 403, 403, 403, 403, 403), (None, 403, 403, 403, 403, 403, 403)),
    "approvals:claim_submit": Row("draft", 405, (None, 404, 404, 404, 404, 404, 404)),
    "approvals:claim_withdraw": Row("claim", 405, (None, 302, 302, 302, 302, 302, 404)),
    "approvals:attachment_upload": Row("claim", 405, (403, 403, 403, 403, 403, 403, 404)),
    "approvals:attachment_download": Row("attachment", (200, 200, 200, 200, 200, 200, 404)),
    "approvals:comment_post": Row("claim", 405, (None, None, None, None, None, 403, 404)),
    "approvals:claims": Row(None, 200, 200),
    "approvals:class": Row("class", (200, 200, 200, 200, 200, 200, 404)),
    "approvals:class_attendance": Row("class", 405, (None, 403, 403, 403, 403, 403, 404)),
    # A day's attendance: read by everyone who sees the class; recorded by its provider's clerk.
    "approvals:class_attendance_day": Row("class", (200, 200, 200, 200, 200, 200, 404), (None, 403, 403, 403, 403, 403, 404)),
    # API v1: the class's department reviewer decides a filing; to everyone else it is not there.
    "approvals:class_decide": Row("class", 405, (404, None, 404, 404, 404, 404, 404)),
    "approvals:class_new": Row(None, (200, 403, 403, 403, 403, 403, 403), (None, 403, 403, 403, 403, 403, 403)),
    "approvals:class_roster": Row("class", 405, (None, 403, 403, 403, 403, 403, 404)),
    "approvals:classes": Row(None, 200),
    # A reviewer names a substitute for their own work; everyone reads their own delegations.
    "approvals:delegation_revoke": Row("delegation", 405, (404, None, 404, 404, 404, 404, 404)),
    "approvals:delegations": Row(None, 200, (403, None, None, None, 403, 403, 403)),
    "approvals:finance": Row(None, (403, 403, 403, 403, 200, 200, 403), (403, 403, 403, 403, 200, 200, 403)),
    # The inbox's search form posts, and is sent to its address (302).
    "approvals:inbox": Row(None, 200, 302),
    # Bulk approval: the reviewing roles only (what each claim is, the service checks per claim:
    # tests/test_inbox_search.py); without tasks picked, or without a valid confirmation, back to the inbox.
    "approvals:inbox_bulk_approve": Row(None, 405, (403, 302, 302, 302, 403, 403, 403)),
    "approvals:inbox_bulk_confirm": Row(None, 405, (403, 302, 302, 302, 403, 403, 403)),
    "approvals:portal": Row(None, (200, 403, 403, 403, 403, 403, 403)),
    "approvals:line_override": Row("task", 405, (403, 403, 403, 403, 403, 403, 404)),
    "approvals:objection_decide": Row("objection", 405, (403, 403, 403, None, 403, 403, 403), out=(403, 403, 403, 404, 403, 403, 403)),
    "approvals:objections": Row(None, (403, 403, 403, 200, 403, 403, 403), 405),
    # 公示 is public (RULES N5): the same masked list for everyone, signed in or not; an objection
    # without a line on notice is refused (400) and changes nothing.
    "approvals:public_notice": Row(None, 200, 405),
    "approvals:public_notice_xlsx": Row(None, 200, 405),
    "approvals:public_objection": Row(None, 404, 400),
    "approvals:public_objection_status": Row(None, 200, 405),
    # The HR bureau imports a certificate registry's export for its jurisdiction.
    "approvals:registry_imports": Row(None, (403, 403, 200, 200, 403, 403, 403), (403, 403, None, None, 403, 403, 403)),
    "approvals:roster_import": Row(None, (200, 403, 403, 403, 403, 403, 403), (None, 403, 403, 403, 403, 403, 403)),
    "approvals:roster_status": Row("upload", (200, 404, 404, 404, 404, 404, 404), (200, 404, 404, 404, 404, 404, 404)),
    "approvals:roster_template": Row(None, 200, 200),
    "approvals:task": Row("task", (200, 200, 200, 200, 200, 200, 404), (200, 200, 200, 200, 200, 200, 404)),
    "approvals:task_decide": Row("task", 405, (400, None, 400, 400, 400, 400, 404)),
    # Only the team lead of the step's group reassigns or releases (none of these roles leads WL-YJJ).
    "approvals:task_reassign": Row("task", 405, (403, 403, 403, 403, 403, 403, 404)),
    "approvals:task_release": Row("task", 405, (403, 403, 403, 403, 403, 403, 404)),
    "approvals:task_take": Row("task", 405, (302, None, 302, 302, 302, 302, 404)),
    "audit:as_of": Row("claim", (403, 403, 403, 403, 403, 200, 403), (403, 403, 403, 403, 403, 405, 403), out=(403, 403, 403, 403, 403, 404, 403)),
    "audit:export_package": Row(None, (403, 403, 403, 403, 403, 405, 403), (403, 403, 403, 403, 403, None, 403)),
    "audit:export_xlsx": Row(None, (403, 403, 403, 403, 403, 405, 403), (403, 403, 403, 403, 403, None, 403)),
    "audit:sample": Row(None, (403, 403, 403, 403, 403, 405, 403), (403, 403, 403, 403, 403, None, 403)),
    "audit:search": Row(None, (403, 403, 403, 403, 403, 200, 403), (403, 403, 403, 403, 403, 200, 403)),
    "audit:timeline": Row("claim", (403, 403, 403, 403, 403, 200, 403), (403, 403, 403, 403, 403, 405, 403), out=(403, 403, 403, 403, 403, 404, 403)),
    "audit:verify": Row(None, (403, 403, 403, 403, 403, 200, 403), (403, 403, 403, 403, 403, 405, 403)),
    "claims:catalogue": Row(None, 200, 200),
    "claims:catalogue_code": Row("catalogue_code", 302, 302),
    "claims:catalogue_policy": Row("catalogue", 200, 200),
    "claims:catalogue_policy_edit": Row("catalogue", (403, 403, 403, 403, 403, 403, 200), (403, 403, 403, 403, 403, 403, None)),
    "claims:catalogue_policy_new": Row(None, (403, 403, 403, 403, 403, 403, 200), (403, 403, 403, 403, 403, 403, None)),
    "claims:catalogue_version_edit": Row("catalogue", (403, 403, 403, 403, 403, 403, 200), (403, 403, 403, 403, 403, 403, None)),
    "claims:catalogue_version_new": Row("catalogue", (403, 403, 403, 403, 403, 403, 200), (403, 403, 403, 403, 403, 403, None)),
    # The health probe answers everyone, signed in or not, and reads nothing.
    "healthz": Row(None, 200, 200),
    "login": Row(None, 200, 200),
    # Notifications: each person's own; another's is not found.
    "notifications:list": Row(None, 200),
    "notifications:preferences": Row(None, 200, None),
    "notifications:read": Row("notification", 405, (404, None, 404, 404, 404, 404, 404)),
    "notifications:read_all": Row(None, 405, None),
    "logout": Row(None, 405, None),
    "payments:batch": Row("batch", (403, 403, 403, 403, 200, 200, 403), (403, 403, 403, 403, 200, 200, 403), out=(403, 403, 403, 403, 404, 404, 403)),
    "payments:batch_build": Row(None, (403, 403, 403, 403, 200, 403, 403), (403, 403, 403, 403, None, 403, 403)),
    "payments:batch_cancel": Row("batch", 405, (403, 403, 403, 403, None, 403, 403), out=(403, 403, 403, 403, 404, 403, 403)),
    "payments:batch_file": Row("batch", (403, 403, 403, 403, 404, 404, 403), (403, 403, 403, 403, 404, 404, 403), out=(403, 403, 403, 403, 404, 404, 403)),
    "payments:batch_release": Row("batch", 405, (403, 403, 403, 403, None, 403, 403), out=(403, 403, 403, 403, 404, 403, 403)),
    "payments:batches": Row(None, (403, 403, 403, 403, 200, 200, 403), (403, 403, 403, 403, 200, 200, 403)),
    "payments:fund_account_new": Row(None, (403, 403, 403, 403, 200, 403, 403), (403, 403, 403, 403, None, 403, 403)),
    "payments:funds": Row(None, (403, 200, 200, 200, 200, 200, 403), (403, 200, 200, 200, 200, 200, 403)),
    "payments:line_cancel": Row("claim", (404, 404, 200, 200, 403, 403, 404), (404, 404, None, None, 403, 403, 404)),
    "payments:payee_accounts": Row(None, (403, 403, 403, 403, 200, 403, 403), (403, 403, 403, 403, None, 403, 403)),
    "payments:plan": Row("plan", (404, 200, 200, 200, 200, 200, 404), (404, 200, 200, 200, 200, 200, 404)),
    "payments:plan_accept": Row("plan", 405, (404, 403, None, None, 403, 403, 404)),
    "payments:plan_edit": Row("plan", (404, 302, 403, 403, 403, 403, 404), (404, 302, 403, 403, 403, 403, 404)),
    "payments:plan_file": Row("plan", 405, (404, None, 403, 403, 403, 403, 404)),
    "payments:plan_new": Row(None, 404, 404),
    "payments:plan_refuse": Row("plan", 405, (404, 403, None, None, 403, 403, 404)),
    "payments:reconciliation": Row("batch", (404, 404, 200, 200, 200, 200, 404), (404, 404, 200, 200, 200, 200, 404)),
    "payments:recoveries": Row(None, 200, 200),
    "payments:recovery": Row("recovery", (404, 404, 200, 200, 200, 200, 404), (404, 404, 200, 200, 200, 200, 404)),
    "payments:recovery_open": Row("claim", (404, 404, 200, 200, 403, 403, 404), (404, 404, None, None, 403, 403, 404)),
    "payments:recovery_receipt": Row("recovery", 405, (404, 404, 403, 403, None, 403, 404)),
    "payments:report": Row(None, (403, 200, 200, 200, 200, 200, 403), (403, 200, 200, 200, 200, 200, 403)),
    "payments:report_xlsx": Row(None, 405, (403, None, None, None, None, None, 403)),
    "payments:result_upload": Row("batch", (404, 404, 403, 403, 200, 403, 404), (404, 404, 403, 403, None, 403, 404)),
    "payments:return_correct": Row("transfer", 405, (404, 404, 403, 403, None, 403, 404)),
    "payments:returns": Row(None, 200, 200),
    "schema": Row(None, 200),
    "set_language": Row(None, 302, 302),
    "v1:allocations": Row(None, 200),
    "v1:audit-checkpoints": Row(None, (403, 403, 403, 200, 403, 200, 403), (403, 403, 403, 405, 403, 405, 403)),
    "v1:audit-consistency": Row(None, (403, 403, 403, 400, 403, 400, 403), (403, 403, 403, 405, 403, 405, 403)),
    "v1:audit-inclusion": Row(None, (403, 403, 403, 400, 403, 400, 403), (403, 403, 403, 405, 403, 405, 403)),
    "v1:audit-public-key": Row(None, 200),
    "v1:audit-verify": Row(None, (403, 403, 403, 200, 403, 200, 403), (403, 403, 403, 405, 403, 405, 403)),
    "v1:claim-detail": Row("claim", (200, 200, 200, 200, 200, 200, 404), (403, 403, 403, 403, 403, 403, 404), method="patch"),
    "v1:claim-history": Row("claim", (200, 200, 200, 200, 200, 200, 404)),
    "v1:claim-attachments": Row("claim", (200, 200, 200, 200, 200, 200, 404), (403, 403, 403, 403, 403, 403, 404)),
    "v1:claim-attachment-download": Row("attachment", (200, 200, 200, 200, 200, 200, 404)),
    "v1:claim-comments": Row("claim", (200, 200, 200, 200, 200, 200, 404), (None, None, None, None, None, 403, 404)),
    "v1:claim-import": Row(None, 405, 415),
    "v1:claim-import-status": Row("upload", (200, 404, 404, 404, 404, 404, 404)),
    "v1:claim-import-template": Row(None, 200),
    "v1:claim-line-cancel-payment": Row("claim", 405, (404, 404, None, None, 403, 403, 404)),
    "v1:claim-list": Row(None, 200, (None, 403, 403, 403, 403, 403, 403)),
    "v1:claim-override": Row("claim", 405, (403, 403, 403, 403, 403, 403, 404)),
    "v1:claim-submit": Row("draft", 405, (None, 404, 404, 404, 404, 404, 404)),
    "v1:claim-withdraw": Row("claim", 405, (None, 403, 403, 403, 403, 403, 404)),
    "v1:delegation-revoke": Row("delegation", 405, (404, None, 404, 404, 404, 404, 404)),
    "v1:delegations": Row(None, 200, (403, None, None, None, 403, 403, 403)),
    "v1:departments": Row(None, 200),
    "v1:fund-accounts": Row(None, 200, (400, 400, 400, 400, None, 400, 400)),
    "v1:notification-preferences": Row(None, 200, 400, method="put"),  # the matrix's body names no kind
    "v1:notification-read": Row("notification", 405, (404, None, 404, 404, 404, 404, 404)),
    "v1:notifications": Row(None, 200),
    "v1:notifications-read-all": Row(None, 405, None),
    "v1:payee-account-enterprise": Row("enterprise", (404, 404, 404, 404, 200, 404, 404), (404, 404, 404, 404, None, 404, 404), method="put"),
    "v1:payee-account-provider": Row("provider", (200, 404, 404, 404, 200, 404, 404), (None, 404, 404, 404, None, 404, 404), method="put"),
    "v1:payee-account-trainee": Row("trainee", (404, 404, 404, 404, 200, 404, 404), (404, 404, 404, 404, None, 404, 404), method="put"),
    "v1:payment-awaiting": Row(None, (403, 403, 403, 403, 200, 200, 403)),
    "v1:payment-batch": Row("batch", (403, 403, 403, 403, 200, 200, 403), out=(403, 403, 403, 403, 404, 404, 403)),
    "v1:payment-batch-cancel": Row("batch", 405, (403, 403, 403, 403, None, 403, 403), out=(403, 403, 403, 403, 404, 404, 403)),
    "v1:payment-batch-file": Row("batch", (403, 403, 403, 403, 404, 404, 403), out=(403, 403, 403, 403, 404, 404, 403)),
    "v1:payment-batch-lines": Row("batch", (403, 403, 403, 403, 200, 200, 403), out=(403, 403, 403, 403, 404, 404, 403)),
    "v1:payment-batch-payees": Row("batch", (403, 403, 403, 403, 200, 200, 403), out=(403, 403, 403, 403, 404, 404, 403)),
    "v1:payment-batch-reconciliation": Row("batch", (404, 404, 200, 200, 200, 200, 404)),
    "v1:payment-batch-release": Row("batch", 405, 403, out=(403, 403, 403, 403, 404, 404, 403)),
    "v1:payment-batch-results": Row("batch", 405, (404, 404, 415, 415, None, 415, 404)),
    "v1:payment-batches": Row(None, (403, 403, 403, 403, 200, 200, 403), (403, 403, 403, 403, None, 403, 403)),
    "v1:payment-transfer-correct": Row("transfer", 405, (404, 404, 403, 403, None, 403, 404)),
    "v1:class": Row("class", (200, 200, 200, 200, 200, 200, 404)),
    "v1:class-accept": Row("class", 405, (404, None, 404, 404, 404, 404, 404)),
    "v1:class-refuse": Row("class", 405, (404, None, 404, 404, 404, 404, 404)),
    "v1:classes": Row(None, 200, (None, 403, 403, 403, 403, 403, 403)),
    # 公示 in the API: public, as the page is; the HR head's objections of its jurisdiction.
    "v1:public-notice": Row(None, 200, 405),
    "v1:public-objections": Row(None, 405, 400),
    "v1:public-objection": Row("receipt", 200, 405),
    "v1:objections": Row(None, (403, 403, 403, 200, 403, 403, 403), 405),
    "v1:objection": Row("objection", (403, 403, 403, 200, 403, 403, 403), 405, out=(403, 403, 403, 404, 403, 403, 403)),
    "v1:objection-decide": Row("objection", 405, (403, 403, 403, None, 403, 403, 403), out=(403, 403, 403, 404, 403, 403, 403)),
    "v1:plan": Row("plan", (404, 200, 200, 200, 200, 200, 404)),
    "v1:plan-accept": Row("plan", 405, (404, 403, None, None, 403, 403, 404)),
    "v1:plan-file": Row("plan", 405, (404, None, 403, 403, 403, 403, 404)),
    "v1:plan-refuse": Row("plan", 405, (404, 403, None, None, 403, 403, 404)),
    "v1:plans": Row(None, 200, (400, None, 400, 400, 400, 400, 400)),
    "v1:policies": Row(None, 200),
    "v1:providers": Row(None, 200),
    "v1:recoveries": Row(None, 200, (400, 400, None, None, 400, 400, 400)),
    "v1:recovery": Row("recovery", (404, 404, 200, 200, 200, 200, 404)),
    "v1:recovery-receipts": Row("recovery", 405, (404, 404, 403, 403, None, 403, 404)),
    "v1:report-funds": Row(None, (403, 200, 200, 200, 200, 200, 403)),
    "v1:report-funds-xlsx": Row(None, (403, 200, 200, 200, 200, 200, 403)),
    "v1:task-decide": Row("task", 405, (403, None, 403, 403, 403, 403, 404)),
    "v1:task-detail": Row("task", (200, 200, 200, 200, 200, 200, 404)),
    "v1:task-list": Row(None, 200),
    "v1:task-reassign": Row("task", 405, (403, 403, 403, 403, 403, 403, 404)),
    "v1:task-search": Row(None, 405, 200),  # the list, searched: each caller their own work
    "v1:task-release": Row("task", 405, (403, 403, 403, 403, 403, 403, 404)),
    "v1:task-take": Row("task", 405, (403, None, 403, 403, 403, 403, 404)),
    "v1:token": Row(None, 405, 400),
    "v1:token-revoke": Row(None, 405, None),  # everyone may revoke their own tokens
}
# fmt: on

# The admin site: the administrator (staff) only; everyone else is sent to its login page
# (the login page itself is open; autocomplete answers only with its query parameters).
ADMIN_PREFIX = "admin:"
ADMIN_OPEN = {"admin:login", "admin:logout", "admin:autocomplete"}
ADMIN_STATUS = per_role((302, 302, 302, 302, 302, 302, 200))


# --------------------------------------------------------------------------- the URL configuration


def url_patterns(resolver=None, namespace=""):
    """(key, pattern) for every URL pattern: its namespaced name, or its route when unnamed."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if entry.namespace and namespace else entry.namespace or namespace
            yield from url_patterns(entry, inner)
        elif isinstance(entry, URLPattern):
            name = entry.name or str(entry.pattern)
            key = f"{namespace}:{name}" if namespace else name
            yield key, entry


PATTERNS = dict(url_patterns())


def test_every_url_pattern_has_a_scope_decision():
    """A new endpoint or page fails here until its row says who may reach it."""
    undecided = sorted(key for key in PATTERNS if key not in MATRIX and not key.startswith(ADMIN_PREFIX))
    assert not undecided, "URL patterns without a row in MATRIX (decide who may reach them):\n" + "\n".join(undecided)
    assert not set(MATRIX) - set(PATTERNS), "rows for URL patterns that no longer exist"


# --------------------------------------------------------------------------- the world


def _zhuji():
    jurisdiction = ensure_jurisdiction(code="ZJ", name="诸暨市")
    ensure_department(jurisdiction=jurisdiction, code="ZJ-YJJ", name="诸暨市应急管理局")
    provider = ensure_provider(
        jurisdiction=jurisdiction, code="ZJ-P001", name="诸暨市某培训学校", credit_code=credit_code("91330681MA2BB0001")
    )
    ensure_staff_user(username="zj_clerk", password=DEMO_PASSWORD, role=roles.PROVIDER_CLERK, scope_group=provider.staff_group)
    policy = SubsidyPolicy.objects.create(jurisdiction=jurisdiction, code="S3", name="特种作业安全技能培训", payee=Payee.PROVIDER)
    PolicyVersion.objects.create(
        policy=policy,
        version=1,
        valid_from=datetime.date(2022, 1, 1),
        amount_rule=AmountRule.CAP,
        amount_by_level={Level.SENIOR.value: "500.00"},
        certificate_types=[CertificateType.SPECIAL_OPERATION.value],
    )
    ensure_demo_funds(jurisdiction=jurisdiction)
    return jurisdiction


def _claim(clerk, serial, *, submitted=True, **overrides):
    data = claim_data(lines=[line(resident_id(serial), f"学员{serial}", certificate_number=f"M-{serial:05d}")], **overrides)
    claim = create_claim(user=clerk, data=data)
    if submitted:
        submit_claim(user=clerk, claim=claim)
    claim.refresh_from_db()
    return claim


def _unused_version(jurisdiction_code) -> int:
    """A later version of the jurisdiction's S3 that no line has used (so still editable)."""
    policy = SubsidyPolicy.objects.get(jurisdiction__code=jurisdiction_code, code="S3")
    number = policy.versions.order_by("-version").values_list("version", flat=True).first() + 1
    PolicyVersion.objects.create(
        policy=policy,
        version=number,
        valid_from=datetime.date(2099, 1, 1),
        amount_rule=AmountRule.CAP,
        amount_by_level={Level.SENIOR.value: "600.00"},
        certificate_types=[CertificateType.SPECIAL_OPERATION.value],
    )
    return number


def _batch(account, builder, opener, seq, claim):
    batch = PaymentBatch.objects.create(number=f"MATRIX-{seq}", fund_account=account, built_by=builder)
    transfer = Transfer.objects.create(
        batch=batch,
        seq=1,
        payee_kind=PayeeKind.PROVIDER,
        provider=claim.provider,
        account_name="某培训学校",
        bank_name="某银行",
        account_number_encrypted="x",
        account_number_masked="6222****0001",
        amount=Decimal("100.00"),
    )
    order = RecoveryOrder.objects.create(
        claim_line=claim.lines.get(line_no=1),
        amount_due=Decimal("100.00"),
        payer_kind=PayeeKind.PROVIDER,
        payer_name=claim.provider.name,
        reason_code="fraud",
        opened_by=opener,
    )
    return batch, transfer, order


def _objection(claim, receipt):
    return Objection.objects.create(
        receipt=receipt,
        line=claim.lines.get(line_no=1),
        claim=claim,
        contact="x",
        reason="scope matrix",
        client_digest="0" * 64,
        created=timezone.now(),
    )


def _upload(clerk, provider):
    return RosterUpload.objects.create(provider=provider, created_by=clerk, filename="r.xlsx", content=b"", sha256="0" * 64)


def _attachment(claim):
    """A document of a claim already under review (the service adds them only before)."""
    content = b"%PDF-1.7\n%%EOF\n"
    return Attachment.objects.create(
        claim=claim,
        kind=AttachmentKind.CERTIFICATE,
        filename="证书.pdf",
        content_type="application/pdf",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        storage_name=attachments._write(content),
        uploaded_by=claim.created_by,
    )


def build_world() -> dict:
    users = {user.username: user for user in get_user_model().objects.all()}
    zj = _zhuji()
    users = {user.username: user for user in get_user_model().objects.all()}
    clerk, clerk2, zj_clerk = users["provider_clerk"], users["provider2_clerk"], users["zj_clerk"]
    claims = {
        "home": _claim(clerk, 901),
        "other_provider": _claim(clerk2, 902),
        "other_department": _claim(clerk, 903, department="WL-MZJ"),
        "other_jurisdiction": _claim(zj_clerk, 904, department="ZJ-YJJ"),
    }
    drafts = {
        "home": _claim(clerk, 911, submitted=False),
        "other_provider": _claim(clerk2, 912, submitted=False),
        "other_department": _claim(clerk, 913, submitted=False, department="WL-MZJ"),
        "other_jurisdiction": _claim(zj_clerk, 914, submitted=False, department="ZJ-YJJ"),
    }
    Claim.objects.filter(pk=claims["home"].pk).update(enterprise_credit_code=credit_code("91331081MA2ENT001"))
    Claim.objects.filter(pk=claims["other_jurisdiction"].pk).update(enterprise_credit_code=credit_code("91330681MA2ENT002"))
    year = datetime.date.today().year
    wl_account = FundAccount.objects.get(jurisdiction__code="WL", year=year)
    zj_account = FundAccount.objects.get(jurisdiction=zj, year=year)
    builder, opener = users["finance_officer"], users["hr_head"]
    home_batch = _batch(wl_account, builder, opener, 1, claims["home"])
    zj_batch = _batch(zj_account, builder, opener, 2, claims["other_jurisdiction"])
    # Next year's plans, filed: awaiting HR's acceptance.
    next_accounts = {
        code: FundAccount.objects.create(
            jurisdiction=account.jurisdiction, year=year + 1, name="专账", bank_name="某银行", account_number="1"
        )
        for code, account in (("WL", wl_account), ("ZJ", zj_account))
    }

    def plan(code):
        department = Department.objects.get(code=code)
        return FundingPlan.objects.create(
            fund_account=next_accounts[department.jurisdiction.code],
            department=department,
            status=PlanStatus.FILED,
            total=Decimal("1000.00"),
            headcount=2,
            filed_by=users["dept_reviewer"],
        )

    def ids(name, pk, **more):
        return {name: pk, "pk": pk, **more}

    def filed_class(claim):
        return TrainingClass.objects.create(
            number=f"MATRIX-BA-{claim.pk}",
            jurisdiction=claim.jurisdiction,
            provider=claim.provider,
            department=claim.department,
            policy=claim.policy,
            occupation=Occupation.objects.get(code="6-31-01-03"),
            level=Level.SENIOR,
            name=f"矩阵班 {claim.pk}",
            start=datetime.date.today(),
            end=datetime.date.today(),
            daily_start=datetime.time(8, 30),
            daily_end=datetime.time(17, 0),
            place="实训楼",
            teacher="林老师",
            filed_by=claim.created_by,
        )

    world = {
        "class": {
            scope: ids("class_id", filed_class(claim).pk, day=datetime.date.today().isoformat())
            for scope, claim in claims.items()
        },
        "claim": {scope: ids("claim_id", claim.pk, line_no=1) for scope, claim in claims.items()},
        "draft": {scope: ids("claim_id", claim.pk, line_no=1) for scope, claim in drafts.items()},
        "attachment": {scope: ids("claim_id", claim.pk, attachment_id=_attachment(claim).pk) for scope, claim in claims.items()},
        "task": {scope: ids("task_id", inbox.open_task_of_claim(claim).pk, line_no=1) for scope, claim in claims.items()},
        "plan": {
            "home": ids("plan_id", plan("WL-YJJ").pk),
            "other_department": ids("plan_id", plan("WL-MZJ").pk),
            "other_jurisdiction": ids("plan_id", plan("ZJ-YJJ").pk),
        },
        "batch": {
            "home": ids("batch_id", home_batch[0].pk, kind="payment_csv"),
            "other_jurisdiction": ids("batch_id", zj_batch[0].pk, kind="payment_csv"),
        },
        "transfer": {
            "home": ids("transfer_id", home_batch[1].pk),
            "other_jurisdiction": ids("transfer_id", zj_batch[1].pk),
        },
        "recovery": {
            "home": ids("order_id", home_batch[2].pk),
            "other_jurisdiction": ids("order_id", zj_batch[2].pk),
        },
        "upload": {
            "home": ids("upload_id", _upload(clerk, claims["home"].provider).pk),
            "other_provider": ids("upload_id", _upload(clerk2, claims["other_provider"].provider).pk),
            "other_jurisdiction": ids("upload_id", _upload(zj_clerk, claims["other_jurisdiction"].provider).pk),
        },
        "trainee": {scope: {"trainee_id": claim.lines.get(line_no=1).trainee_id} for scope, claim in claims.items()},
        "provider": {
            "home": {"code": "WL-P001"},
            "other_provider": {"code": "WL-P002"},
            "other_jurisdiction": {"code": "ZJ-P001"},
        },
        "enterprise": {
            "home": {"credit_code": credit_code("91331081MA2ENT001")},
            "other_jurisdiction": {"credit_code": credit_code("91330681MA2ENT002")},
        },
        "catalogue": {
            "home": {"jurisdiction": "WL", "code": "S3", "number": _unused_version("WL")},
            "other_jurisdiction": {"jurisdiction": "ZJ", "code": "S3", "number": _unused_version("ZJ")},
        },
        "catalogue_code": {"home": {"code": "S3"}},
        "receipt": {"home": {"receipt": "MATRIX1"}},
        "objection": {
            "home": ids("objection_id", _objection(claims["home"], "MATRIX1").pk),
            "other_jurisdiction": ids("objection_id", _objection(claims["other_jurisdiction"], "MATRIX2").pk),
        },
    }
    # Notifications: the home claim's reached the department's reviewer; one of 诸暨's clerk's.
    home_note = Notification.objects.get(claim=claims["home"], recipient=users["dept_reviewer"])
    zj_note = Notification.objects.create(
        recipient=zj_clerk, kind=Kind.RETURNED, key="matrix:zj", claim=claims["other_jurisdiction"], message="x"
    )
    world["notification"] = {
        "home": ids("notification_id", home_note.pk),
        "other_jurisdiction": ids("notification_id", zj_note.pk),
    }
    # A delegation of the department's reviewer, starting next month (so no one's scope changes now).
    today = datetime.date.today()
    delegation = Delegation.objects.create(
        delegator=users["dept_reviewer"],
        substitute=users["dept2_reviewer"],
        starts_on=today + datetime.timedelta(days=30),
        ends_on=today + datetime.timedelta(days=40),
    )
    world["delegation"] = {"home": ids("delegation_id", delegation.pk)}
    # What a role must never read: the numbers of the claims and drafts out of its scope, and
    # the other jurisdiction's provider.
    world["numbers"] = {"claim": {s: c.number for s, c in claims.items()}, "draft": {s: c.number for s, c in drafts.items()}}
    return world


def marks_hidden_from(world, username) -> list[str]:
    marks = ["诸暨市某培训学校"]
    for kind, numbers in world["numbers"].items():
        for scope, number in numbers.items():
            seen = username in IN_SCOPE[kind].get(scope, set()) or (scope == "home" and username != "admin")
            if kind == "draft" and username != "provider_clerk":
                seen = False
            if not seen:
                marks.append(number)
    return marks


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module inside a transaction rolled back at its end."""
    require_postgresql()
    with module_world(django_db_blocker):
        yield build_world()


# --------------------------------------------------------------------------- asking


def url_for(key: str, params: dict | None) -> str:
    pattern = PATTERNS[key]
    names = list(pattern.pattern.regex.groupindex)
    kwargs = {name: (params or {})[name] for name in names}
    if ":" in key or pattern.name:
        return reverse(key, kwargs=kwargs)
    return "/" + str(pattern.pattern)


def client_for(username: str, key: str):
    client = APIClient() if key.startswith("v1:") or key in ("schema", "api-docs") else Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


# A write as a caller would send it, so that a refusal is about who asks, not about the body.
WRITE_BODY = {"reason": "scope matrix", "comment": "scope matrix", "decision": "approve"}


def ask(client, method: str, url: str):
    send = getattr(client, method)
    if isinstance(client, APIClient):
        return send(url, WRITE_BODY, format="json", secure=True)
    return send(url, WRITE_BODY, secure=True)


def unsafe_to_keep(response, said: str) -> list[str]:
    """What is wrong with how a response to a signed-in user may be kept or opened: any of them
    may show personal data, so no cache (the browser's disk, a proxy) keeps one; a file is
    always a download that runs nothing were it opened (claims.http.file_response)."""
    found = []
    if "no-store" not in response.get("Cache-Control", ""):
        found.append(f"{said}: Cache-Control {response.get('Cache-Control')!r}, expected no-store")
    if response.get("Content-Disposition", "").startswith("attachment") and "sandbox" not in response.get(
        "Content-Security-Policy", ""
    ):
        found.append(f"{said}: a file without the sandbox CSP")
    return found


def changes_recorded() -> int:
    """Ledger entries of changes (a refusal is recorded too, as access.denied: not a change)."""
    return AuditEvent.objects.exclude(action=ACCESS_DENIED).count()


def expected(values: dict, outs: dict, username: str, in_scope: bool):
    # A method the URL does not take is 405 whatever the object.
    return values[username] if in_scope or values[username] == 405 else outs[username]


@pytest.mark.parametrize("key", sorted(MATRIX), ids=str)
def test_the_matrix(world, demo, key):
    row = MATRIX[key]
    found, leaks = [], []
    objects = world.get(row.kind, {"home": None}) if row.kind else {"home": None}
    gets, writes, outs = per_role(row.get), per_role(row.write), per_role(row.out)
    for username in ROLES:
        client = client_for(username, key)
        hidden = marks_hidden_from(world, username)
        for scope, params in objects.items():
            in_scope = scope == "home" or username in IN_SCOPE.get(row.kind, {}).get(scope, set())
            url = url_for(key, params)
            expected_get = expected(gets, outs, username, in_scope)
            response = client.get(url, secure=True)
            found += unsafe_to_keep(response, f"GET {url} as {username}")
            if response.status_code != expected_get:
                found.append(f"GET {url} as {username} ({scope}): {response.status_code}, expected {expected_get}")
            elif response.status_code == 200 and not response.streaming:
                body = response.content.decode("utf-8", "replace")
                leaks += [f"GET {url} as {username}: shows {mark}" for mark in hidden if mark in body]
            expected_write = expected(writes, outs, username, in_scope)
            if expected_write is None:
                continue
            ledger_before = changes_recorded()
            response = ask(client, row.method, url)
            status = response.status_code
            found += unsafe_to_keep(response, f"{row.method.upper()} {url} as {username}")
            if status != expected_write:
                found.append(f"{row.method.upper()} {url} as {username} ({scope}): {status}, expected {expected_write}")
            if changes_recorded() != ledger_before:  # a write that must be refused acted (every change is recorded)
                found.append(f"{row.method.upper()} {url} as {username} ({scope}): answered {status} but changed something")
    assert not found and not leaks, "\n".join(found + leaks)


def test_the_admin_site_is_the_administrators_alone(world, demo):
    found = []
    for key, pattern in sorted(PATTERNS.items()):
        if not key.startswith(ADMIN_PREFIX) or pattern.pattern.regex.groupindex or key in ADMIN_OPEN:
            continue
        for username in ROLES:
            status = client_for(username, key).get(reverse(key), secure=True).status_code
            if status != ADMIN_STATUS[username] and not (username == "admin" and status in (302, 403)):
                found.append(f"{key} as {username}: {status}, expected {ADMIN_STATUS[username]}")
    assert not found, "\n".join(found)
