"""The decision policy: may this person act on this step of this claim, and how.

Roles and scope for acting, segregation of duties (RULES N4), the HR-head threshold, coded
reasons and flag overrides (RULES N6), where a resubmitted claim goes (docs/rules.md "Resubmission"), as plain
functions over the step table. The services,
the pages, the API and viewflow's node permissions (flows.HumanStep) all ask here."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from claims import access as claims_access
from claims import roles
from claims.bounds import character_refusal
from claims.errors import ActionForbidden, InvalidInput
from claims.inputs import HEADER_FIELDS
from claims.line_fields import LINE_FIELDS
from claims.models import Claim, ClaimStatus, LineDecision
from claims.reasons import REASONS
from claims.selectors import departments_of_reviewer, jurisdictions_overseen_by

from .models import ClaimDuty, Delegation
from .steps import HR_STEPS, REVIEW_STEPS, STEPS, Decision, Scope, Step

# Who may override a flag in writing (RULES N6): the HR steps' roles.
OVERRIDE_ROLES = tuple(STEPS[name].role for name in HR_STEPS)
# While the claim stands at one of these statuses, HR may override its flags.
OVERRIDE_STATUSES = tuple(STEPS[name].claim_status for name in HR_STEPS)


# --- scope and duties ---------------------------------------------------------------------------


def user_in_step_scope(*, user, step: Step, claim: Claim) -> bool:
    """Scope for acting (not just seeing): the provider's clerks, the department's reviewers,
    the jurisdiction's HR and finance staff."""
    if step.scope == Scope.PROVIDER:
        return user.has_perm("claims.change_claim", claim)
    if step.scope == Scope.DEPARTMENT:
        return user.has_perm("claims.review_claim", claim)
    return jurisdictions_overseen_by(user).filter(pk=claim.jurisdiction_id).exists()


def duties_done_by(*, user, process_id) -> set[str]:
    """The duties this person has already performed on one claim (N4, Art. 25)."""
    return set(ClaimDuty.objects.filter(claim__process_id=process_id, user=user).values_list("duty", flat=True))


def processes_with_other_duties(user, step_name: str) -> QuerySet:
    """Processes where this user performed a duty other than the step's own (N4): a subquery."""
    duty = STEPS[step_name].duty
    return ClaimDuty.objects.filter(user=user).exclude(duty=duty).values("claim__process_id")


def is_administrator(user) -> bool:
    """Who runs the system (a superuser, admin-site staff, the administrator role) never acts on a claim."""
    return bool(user.is_superuser or user.is_staff or roles.has_role(user, roles.ADMINISTRATOR))


def steps_of_user(user) -> list[str]:
    """The human steps this user's role acts on (none for an administrator)."""
    if is_administrator(user):
        return []
    user_roles = roles.roles_of(user)
    return [name for name, step in STEPS.items() if name != "submit" and step.role in user_roles]


# --- acting on a step ---------------------------------------------------------------------------


def acting_refusal(*, user, step_name: str, claim: Claim, process_id) -> ActionForbidden | None:
    """Why this person may not act on this step of this claim, or None if they may."""
    step = STEPS[step_name]
    if is_administrator(user):
        # A superuser passes every object-permission check: a role would let them act anywhere.
        return ActionForbidden(_("职责分离：系统管理员不能办理申领。"), code="segregation_of_duties")
    if not roles.has_role(user, step.role) or not user_in_step_scope(user=user, step=step, claim=claim):
        return ActionForbidden(_("您的角色不能处理“%(step)s”步骤。") % {"step": step.label}, code="role")
    if duties_done_by(user=user, process_id=process_id) - {step.duty}:
        return ActionForbidden(
            _("职责分离：您已处理过本申领的其他环节，不能再处理“%(step)s”（N4，财社〔2023〕181号第25条）。")
            % {"step": step.label},
            code="segregation_of_duties",
        )
    return None


def acting_principal(*, user, step_name: str, claim: Claim, process_id, owner_id=None):
    """On whose behalf this person may act on this step of this claim: themselves, or a reviewer
    who named them substitute for today (a task held by nobody, by them or by that reviewer);
    raises the refusal otherwise. A substitute is refused where they did another duty on the
    claim (N4), and an administrator is never one."""
    refusal = acting_refusal(user=user, step_name=step_name, claim=claim, process_id=process_id)
    if refusal is None:
        return user
    if refusal.code != "role":
        raise refusal
    delegators = delegators_of(user)
    if delegators and duties_done_by(user=user, process_id=process_id) - {STEPS[step_name].duty}:
        # The substitute did another duty on this claim: nobody's delegation lifts that (N4).
        raise ActionForbidden(
            _("职责分离：您已处理过本申领的其他环节，不能代理办理“%(step)s”（N4，财社〔2023〕181号第25条）。")
            % {"step": STEPS[step_name].label},
            code="segregation_of_duties",
        )
    for delegator in delegators:
        if owner_id not in (None, user.pk, delegator.pk):
            continue
        if acting_refusal(user=delegator, step_name=step_name, claim=claim, process_id=process_id) is None:
            return delegator
    raise refusal


def require_may_act(*, user, task: Task, claim: Claim):
    """The person on whose behalf ``user`` acts on the task (themselves, or whom they substitute
    for today), or the refusal."""
    return acting_principal(
        user=user, step_name=task.flow_task.name, claim=claim, process_id=task.process_id, owner_id=task.owner_id
    )


def may_act(*, user, task: Task) -> bool:
    """viewflow's question (can this user assign or execute this task), answered by the policy."""
    if task.flow_task is None or task.flow_task.name not in STEPS or not user.is_authenticated:
        return False
    claim = Claim.objects.filter(process_id=task.process_id).first()
    if claim is None:
        return False
    try:
        require_may_act(user=user, task=task, claim=claim)
    except ActionForbidden:
        return False
    return True


# --- delegation and team leads ------------------------------------------------------------------

# The steps a reviewer may name a substitute for: the review steps (a provider's clerk and
# finance have their own ways to share work).
DELEGABLE_ROLES = tuple(dict.fromkeys(STEPS[name].role for name in REVIEW_STEPS))


def delegators_of(user, *, on=None) -> list:
    """The people who named this user their substitute for this day (local date; today)."""
    if not user.is_authenticated or is_administrator(user):
        return []
    on = on or timezone.localdate()
    rows = Delegation.objects.filter(substitute=user, starts_on__lte=on, ends_on__gte=on, revoked_at__isnull=True)
    return [row.delegator for row in rows.select_related("delegator").order_by("pk") if row.delegator.is_active]


def _jurisdictions_of(user) -> set[int]:
    """The jurisdictions whose claims a reviewer reviews: their departments' or their own."""
    return set(departments_of_reviewer(user).values_list("jurisdiction_id", flat=True)) | set(
        jurisdictions_overseen_by(user).values_list("pk", flat=True)
    )


def may_name_substitute(user) -> bool:
    """A reviewer (a role of a review step), not an administrator."""
    return not is_administrator(user) and bool(roles.roles_of(user) & set(DELEGABLE_ROLES))


def delegation_refusal(*, delegator, substitute) -> InvalidInput | ActionForbidden | None:
    """Who may name whom: a reviewer (a role of a review step, not an administrator) names an
    active reviewer of the same jurisdiction (a deputy for the head, a colleague of another
    department), not themselves, not an administrator. Segregation of duties is asked per claim
    when the substitute acts (acting_principal)."""
    if not may_name_substitute(delegator):
        return ActionForbidden(_("只有审核人员可以指定代理人。"), code="role")
    if substitute is not None and substitute.pk == delegator.pk:
        return InvalidInput(_("代理人有误。"), fields={"substitute": [_("不能指定自己为代理人。")]})
    # One answer whether the username is nobody's, a deactivated account's or someone who may not
    # be named: the form tells no reviewer which accounts exist, nor what role they hold.
    if (
        substitute is None
        or not substitute.is_active
        or is_administrator(substitute)
        or not roles.roles_of(substitute) & set(DELEGABLE_ROLES)
        or not _jurisdictions_of(substitute) & _jurisdictions_of(delegator)
    ):
        return InvalidInput(_("代理人有误。"), fields={"substitute": [_("代理人须为本地区的审核人员（不能是系统管理员）。")]})
    return None


def substitutes_for(people, *, step_name: str, claim: Claim) -> list:
    """Today's substitutes of these people who may act on this step of the claim for them (no
    other duty on it), not already among them: they are told too."""
    ids = {person.pk for person in people}
    if not ids:
        return []
    today = timezone.localdate()
    rows = list(
        Delegation.objects.filter(
            delegator_id__in=ids, starts_on__lte=today, ends_on__gte=today, revoked_at__isnull=True, substitute__is_active=True
        ).select_related("substitute")
    )
    if not rows:
        return []
    other_duty = set(ClaimDuty.objects.filter(claim=claim).exclude(duty=STEPS[step_name].duty).values_list("user_id", flat=True))
    found = {}
    for row in rows:
        person = row.substitute
        if person.pk not in ids and person.pk not in other_duty and not is_administrator(person):
            found[person.pk] = person
    return list(found.values())


def lead_refusal(*, user, step_name: str, claim: Claim) -> ActionForbidden | None:
    """A team lead of the step (team_leads_for: marked team lead, holding the step's role in its
    scope on the claim) reassigns or releases its task."""
    if is_administrator(user) or user not in team_leads_for(claim=claim, step_name=step_name):
        return ActionForbidden(_("只有本组组长可以改派或收回任务。"), code="team_lead")
    return None


def people_who_may_act(*, step_name: str, claim: Claim) -> QuerySet:
    """Who may act on this step of this claim, as one query (for telling them, not for deciding:
    acting asks acting_refusal): the step's role, a member of the staff group holding the
    step's scope on the claim, no administrator, no other duty on the claim (N4)."""
    step = STEPS[step_name]
    group_id = _scope_group_id(step, claim)
    if group_id is None:
        return get_user_model().objects.none()
    other_duty = ClaimDuty.objects.filter(claim=claim).exclude(duty=step.duty).values("user_id")
    return (
        get_user_model()
        .objects.filter(is_active=True, is_superuser=False, is_staff=False, groups__name=step.role)
        .filter(groups__pk=group_id)
        .exclude(groups__name=roles.ADMINISTRATOR)
        .exclude(pk__in=other_duty)
        .distinct()
        .order_by("pk")
    )


def staff_with_role(staff_group_id: int | None, role: str) -> QuerySet:
    """The active members of a provider's or department's staff group who hold this role."""
    if staff_group_id is None:
        return get_user_model().objects.none()
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=role)
        .filter(groups__pk=staff_group_id)
        .distinct()
        .order_by("pk")
    )


def provider_clerks(claim: Claim) -> QuerySet:
    """The clerks of the claim's provider: told of what happens to their claim."""
    return staff_with_role(claim.provider.staff_group_id, roles.PROVIDER_CLERK)


def above_hr_head_threshold(claim: Claim) -> bool:
    """The claim's approved total is over its jurisdiction's threshold (STORIES 7): the one
    comparison, asked by HR's approval and said on the claim's pages."""
    return claim.total > claim.jurisdiction.hr_head_threshold


def needs_hr_head(*, step_name: str, claim: Claim) -> bool:
    """HR's approval goes on to the HR head above the jurisdiction's threshold (STORIES 7)."""
    return step_name == "hr_review" and above_hr_head_threshold(claim)


def needs_public_notice(*, claim: Claim, today) -> bool:
    """A final approval goes to public notice (公示, RULES N5) where the jurisdiction publishes
    claims approved from its ``public_notice_from`` date on (never before it: not retroactive),
    when the claim has an approved amount to publish. A line not rejected counts: once a claim is
    approved no line is pending (the approval approves them); before, one pending is one the
    approval would approve (a bulk approval's confirmation asks before deciding)."""
    start = claim.jurisdiction.public_notice_from
    return (
        start is not None and today >= start and claim.lines.exclude(decision=LineDecision.REJECT).filter(amount__gt=0).exists()
    )


def step_after_approval(*, step_name: str, claim: Claim, today) -> str:
    """Where approving ``claim`` at the review step ``step_name`` sends it, as the flow's switches
    (workflow/flows.py) route it: services._decide_task sets the process's flags from this, and a
    bulk approval's confirmation says it for each claim before deciding."""
    if step_name == "department_review":
        return "hr_review"
    if needs_hr_head(step_name=step_name, claim=claim):
        return "hr_head_approval"
    if needs_public_notice(claim=claim, today=today):
        return "public_notice"
    return "disbursement"


def objection_refusal(*, user, claim: Claim) -> ActionForbidden | None:
    """Who decides an objection to a line on notice: the HR head of the claim's jurisdiction
    (RULES N5: the bureau investigates). An administrator acts on no claim (role_change_refusal)."""
    if not may_decide_objections(user):
        return ActionForbidden(claims_access.REFUSALS[claims_access.DECIDE_OBJECTIONS], code="role")
    if not jurisdictions_overseen_by(user).filter(pk=claim.jurisdiction_id).exists():
        return ActionForbidden(_("该申领不在您的辖区。"), code="scope")
    return None


def may_decide_objections(user) -> bool:
    """Whether the menu and the objection list are offered at all (the object answer is objection_refusal)."""
    return claims_access.may(user, claims_access.DECIDE_OBJECTIONS) and not is_administrator(user)


# --- team leads ----------------------------------------------------------------------------------


def team_leads_for(*, claim: Claim, step_name: str) -> list:
    """Who an overdue task of this step escalates to: the step's team leads, i.e. active people
    marked team lead (roles.TEAM_LEAD) who hold the step's role in the step's scope for this claim
    (the department's reviewers for its review, the jurisdiction's HR staff for HR's steps). Not
    an administrator, and not anyone who performed another duty on this claim (N4): a lead who
    could not act on the step is not given it."""
    step = STEPS[step_name]
    group_id = _scope_group_id(step, claim)
    if group_id is None:
        return []
    leads = (
        get_user_model()
        .objects.filter(is_active=True, is_superuser=False, is_staff=False)
        .filter(groups__name=roles.TEAM_LEAD)
        .filter(groups__name=step.role)
        .filter(groups__pk=group_id)
        .exclude(pk__in=ClaimDuty.objects.filter(claim=claim).exclude(duty=step.duty).values("user_id"))
        .distinct()
        .order_by("username")
    )
    return list(leads)


# --- segregation of duties in role assignments --------------------------------------------------

# The roles that act on a claim's steps (submit, review, approve, pay): never an administrator's.
DECIDING_ROLES = tuple(dict.fromkeys(step.role for step in STEPS.values()))


def _scope_group_id(step: Step, claim: Claim):
    """The staff group whose members hold the step's scope on this claim (claims.organisation)."""
    # Only the one body the step's scope names is read (each is a query when not loaded yet).
    if step.scope == Scope.PROVIDER:
        return claim.provider.staff_group_id
    if step.scope == Scope.DEPARTMENT:
        return claim.department.staff_group_id
    return claim.jurisdiction.staff_group_id


def _open_steps(claim: Claim, role_names, group_ids) -> set[str]:
    """The steps of this claim a person with these role and staff groups could act on."""
    return {name for name, step in STEPS.items() if step.role in role_names and _scope_group_id(step, claim) in group_ids}


def role_change_refusal(*, user, role_names, group_ids, is_superuser: bool, is_staff: bool) -> ActionForbidden | None:
    """Why this person may not hold these groups (their role names, and the ids of all of them)
    and these flags, or None if they may: every way of giving a role asks here (the admin site's
    user and group forms, workflow.staffing).

    - An administrator (superuser, admin-site staff, the administrator role) holds no deciding role.
    - A change may not newly let a person act on a step of an open claim on which they already
      performed another duty (N4): they would hold two duties of one claim."""
    role_names, group_ids = set(role_names), set(group_ids)
    deciding = role_names & set(DECIDING_ROLES)
    if deciding and (is_superuser or is_staff or roles.ADMINISTRATOR in role_names):
        return ActionForbidden(
            _("职责分离：系统管理员（超级用户、管理后台人员或系统管理员角色）不能担任办理申领的角色：%(roles)s。")
            % {"roles": "、".join(sorted(deciding))},
            code="segregation_of_duties",
        )
    if user.pk is None or not deciding:
        return None
    held_roles = roles.roles_of(user)
    held_groups = roles.group_ids_of(user)
    for claim, duties in _open_claims_touched_by(user):
        gained = _open_steps(claim, role_names, group_ids) - _open_steps(claim, held_roles, held_groups)
        other = [STEPS[name] for name in sorted(gained) if STEPS[name].duty not in duties]
        if other:
            return ActionForbidden(
                _(
                    "职责分离：%(user)s 已处理过申领 %(claim)s 的其他环节，该申领尚未办结，"
                    "不能再获得办理其“%(step)s”环节的角色（N4，财社〔2023〕181号第25条）。"
                )
                % {"user": user.get_username(), "claim": claim.number, "step": other[0].label},
                code="segregation_of_duties",
            )
    return None


def group_rename_refusal(*, group, new_name: str) -> ActionForbidden | None:
    """Renaming a group renames the role its members hold: each member must pass the rule."""
    if group.pk is None or new_name == group.name:
        return None
    for member in group.user_set.all():
        held = roles.groups_of(member)
        refusal = role_change_refusal(
            user=member,
            role_names={new_name if held_group.pk == group.pk else held_group.name for held_group in held},
            group_ids={held_group.pk for held_group in held},
            is_superuser=member.is_superuser,
            is_staff=member.is_staff,
        )
        if refusal is not None:
            return refusal
    return None


def _open_claims_touched_by(user):
    """(claim, the duties this person performed on it) for every claim whose process is still open."""
    done = ClaimDuty.objects.filter(user=user).exclude(claim__process__status__in=(STATUS.DONE, STATUS.CANCELED))
    duties: dict = {}
    for claim_id, duty in done.values_list("claim_id", "duty"):
        duties.setdefault(claim_id, set()).add(duty)
    claims = Claim.objects.filter(pk__in=duties).select_related("provider", "department", "jurisdiction")
    return [(claim, duties[claim.pk]) for claim in claims.order_by("number")]


# --- decisions ----------------------------------------------------------------------------------


def validate_decision(
    *, step_name: str, decision: str, comment: str, reason: str, line_decisions, line_numbers, fix=None, attachment_ids=()
) -> dict:
    """The decision's input checked against the step's decisions and the coded reasons:
    {line_no: line decision}; InvalidInput naming each wrong field (``fix``: validate_fix)."""
    errors: dict[str, list[str]] = {}
    if fix is not None:
        if decision != Decision.RETURN:
            errors["fix"] = [_("只有退回修改时才能指明要修改的内容。")]
        else:
            _check_fix(fix, line_numbers, errors, attachment_ids=attachment_ids)
    if decision not in STEPS[step_name].decisions:
        errors["decision"] = [_("须为 approve、return 或 reject。")]
    if decision in (Decision.RETURN, Decision.REJECT) and not (comment or "").strip():
        errors["comment"] = [_("退回或不予补贴时须填写意见。")]
    elif (refusal := character_refusal(comment or "")) is not None:  # the page's form as the API's parser
        errors["comment"] = [refusal]
    # A reason is a code of the list, and says why something is refused: the ledger keeps it with
    # the decision, so an approval "for FRAUD" or a code nobody defined is refused, not recorded.
    if decision == Decision.REJECT and reason not in REASONS:
        errors["reason"] = [_("不予补贴须选择理由代码：%(codes)s。") % {"codes": ", ".join(REASONS)}]
    elif reason and reason not in REASONS:
        errors["reason"] = [_("须为理由代码之一：%(codes)s。") % {"codes": ", ".join(REASONS)}]
    elif reason and decision == Decision.APPROVE:
        errors["reason"] = [_("同意时不填理由代码。")]
    if line_decisions and decision in (Decision.RETURN, Decision.REJECT):
        # A rejection rejects every line and a return decides none: a line's decision would be recorded, not done.
        errors["lines"] = [_("只有同意时才能逐行决定（驳回某行即部分核准）。")]
    by_line: dict = {}
    for index, item in enumerate(line_decisions or []):
        path = f"lines[{index}]"
        if item.line not in line_numbers:
            errors.setdefault(f"{path}.line", []).append(_("本申领没有第 %(n)s 行。") % {"n": item.line})
        if item.line in by_line:
            errors.setdefault(f"{path}.line", []).append(_("同一行只能有一个决定。"))
        if item.decision not in (LineDecision.APPROVE, LineDecision.REJECT):
            errors.setdefault(f"{path}.decision", []).append(_("须为 approve 或 reject。"))
        if item.decision == LineDecision.REJECT and item.reason not in REASONS:
            errors.setdefault(f"{path}.reason", []).append(_("驳回某行须选择理由代码。"))
        elif item.reason and item.reason not in REASONS:
            errors.setdefault(f"{path}.reason", []).append(_("须为理由代码之一：%(codes)s。") % {"codes": ", ".join(REASONS)})
        elif item.reason and item.decision == LineDecision.APPROVE:
            errors.setdefault(f"{path}.reason", []).append(_("同意的行不填理由代码。"))
        by_line[item.line] = item
    if errors:
        raise InvalidInput(_("审核意见有误。"), fields=errors)
    return by_line


# --- what a return asks to fix, and where the resubmission goes (docs/rules.md "Resubmission") -

# What a returning step may name for the provider to fix: line numbers, and fields of a line
# (claims.line_fields) or of the claim's header (claims.inputs). The standard and the
# department are not fixable here: a claim under another standard is another claim's review.
FIXABLE_LINE_FIELDS = tuple(spec.name for spec in LINE_FIELDS)
FIXABLE_HEADER_FIELDS = tuple(spec.name for spec in HEADER_FIELDS)
# The header fields that change what a line is priced at.
PRICING_HEADER_FIELDS = ("training_start", "training_end")
# A return that names no line field leaves the provider to correct the lines as they are: any
# field but the trainee (another person is another line: only a return naming id_number lets it
# change); one that names nothing also leaves the class name, and raises no amount.
UNNAMED_FIX_LINE_FIELDS = tuple(name for name in FIXABLE_LINE_FIELDS if name != "id_number")
UNNAMED_FIX_HEADER_FIELDS = ("class_name",)


def _check_fix(fix, line_numbers, errors: dict, *, attachment_ids=()) -> None:
    """``fix`` as the API and the form give it: {"lines": [line numbers], "fields": [field names],
    "attachments": [ids of the claim's documents the return points at (材料不全: this scan is unreadable)]}."""
    if not isinstance(fix, dict) or set(fix) - {"lines", "fields", "attachments"}:
        errors["fix"] = [_('须为对象：{"lines": [行号], "fields": [字段名], "attachments": [材料编号]}。')]
        return
    documents = fix.get("attachments") or []
    if not isinstance(documents, list):
        errors["fix.attachments"] = [_("须为列表。")]
        documents = []
    for index, document in enumerate(documents):
        if isinstance(document, bool) or not isinstance(document, int) or document not in attachment_ids:
            errors.setdefault(f"fix.attachments[{index}]", []).append(_("本申领没有编号为 %(id)s 的材料。") % {"id": document})
    lines, fields = fix.get("lines") or [], fix.get("fields") or []
    if not isinstance(lines, list):
        errors["fix.lines"] = [_("须为列表。")]
        lines = []
    if not isinstance(fields, list):
        errors["fix.fields"] = [_("须为列表。")]
        fields = []
    for index, line_no in enumerate(lines):
        if isinstance(line_no, bool) or not isinstance(line_no, int):
            errors.setdefault(f"fix.lines[{index}]", []).append(_("须为行号。"))
        elif line_no not in line_numbers:
            errors.setdefault(f"fix.lines[{index}]", []).append(_("本申领没有第 %(n)s 行。") % {"n": line_no})
    for index, name in enumerate(fields):
        if name not in FIXABLE_LINE_FIELDS and name not in FIXABLE_HEADER_FIELDS:
            errors.setdefault(f"fix.fields[{index}]", []).append(
                _("无效的字段“%(name)s”，可选：%(allowed)s。")
                % {"name": name, "allowed": ", ".join((*FIXABLE_HEADER_FIELDS, *FIXABLE_LINE_FIELDS))}
            )


def normalized_fix(fix) -> dict:
    """A checked ``fix`` as the process and the ledger keep it: sorted, without repeats."""
    fix = fix or {}
    normalized = {"lines": sorted(set(fix.get("lines") or ())), "fields": sorted(set(fix.get("fields") or ()))}
    if fix.get("attachments"):  # the documents pointed at, when any (older returns have no such key)
        normalized["attachments"] = sorted(set(fix["attachments"]))
    return normalized


def content_changes(before: dict, after: dict) -> list[dict]:
    """Every change between the claim as returned and as resubmitted (``before``, ``after``: the
    claim's content, workflow.selectors.claim_content), in changes_outside_fix's shape (so that
    labels.change_label words both): ``{"field": name}``, ``{"line": n, "field": name}``,
    ``{"line": n, "change": "added" | "removed"}``. What the inbox marks a resubmitted claim with."""
    changes: list[dict] = [
        {"field": name} for name in after if name not in ("lines", "total") and before.get(name, "") != after.get(name, "")
    ]
    was_lines, now_lines = before.get("lines", {}), after.get("lines", {})
    for key in sorted(set(was_lines) | set(now_lines), key=int):
        if key not in now_lines or key not in was_lines:
            changes.append({"line": int(key), "change": "removed" if key not in now_lines else "added"})
            continue
        was, now = was_lines[key], now_lines[key]
        changes += [{"line": int(key), "field": name} for name in now if was.get(name) != now[name]]
    return changes


def changes_outside_fix(asked: dict | None, before: dict, after: dict) -> list[dict]:
    """The changes between the claim as returned and as resubmitted (``before``, ``after``: the
    claim's content, workflow.selectors.claim_content) that the return did not ask for:
    ``{"field": name}`` for the claim's own fields, ``{"line": n, "field": name}`` for a line's,
    ``{"line": n, "change": "added" | "removed"}`` for a line that came or went.

    ``asked`` names lines and fields (normalized_fix): the named fields may change on the named
    lines (on every line if none is named; every field of the named lines but the trainee if no
    line field is named: another person is another line, the department's to see), and a line's
    amount may change with them (or with a named training date) when nothing else of the line
    changed. When it names nothing, the provider may correct the lines as they are
    (UNNAMED_FIX_*) but raise no amount."""
    asked = normalized_fix(asked)
    if asked["lines"] or asked["fields"]:
        lines = set(asked["lines"]) or None  # None: every line
        line_fields = set(asked["fields"]) & set(FIXABLE_LINE_FIELDS) or set(UNNAMED_FIX_LINE_FIELDS)
        header_fields = set(asked["fields"]) & set(FIXABLE_HEADER_FIELDS)
        may_raise = True
    else:
        lines, line_fields, header_fields, may_raise = None, set(UNNAMED_FIX_LINE_FIELDS), set(UNNAMED_FIX_HEADER_FIELDS), False
    outside: list[dict] = [
        {"field": name}
        for name in ("department", "policy", *FIXABLE_HEADER_FIELDS)
        if before.get(name) != after.get(name) and name not in header_fields
    ]
    # The enterprise paid (S10–S14) is never a fix: changing it goes back to the department.
    # (A snapshot taken before claims named an enterprise has no such key: blank.)
    outside += [
        {"field": name} for name in ("enterprise_name", "enterprise_credit_code") if before.get(name, "") != after.get(name, "")
    ]
    repriced = any(before.get(name) != after.get(name) for name in PRICING_HEADER_FIELDS if name in header_fields)
    was_lines, now_lines = before.get("lines", {}), after.get("lines", {})
    for key in sorted(set(was_lines) | set(now_lines), key=int):
        line_no = int(key)
        if key not in now_lines or key not in was_lines:
            outside.append({"line": line_no, "change": "removed" if key not in now_lines else "added"})
            continue
        was, now = was_lines[key], now_lines[key]
        changed = [name for name in now if name != "amount" and was.get(name) != now[name]]
        in_scope = lines is None or line_no in lines
        allowed = [name for name in changed if in_scope and name in line_fields]
        not_asked = [{"line": line_no, "field": name} for name in changed if name not in allowed]
        outside += not_asked
        if was.get("amount") != now.get("amount"):
            # The amount follows what changed: within the fix only if all of it was asked for.
            raised = Decimal(now["amount"]) > Decimal(was["amount"])
            if not_asked or not (allowed or repriced) or (raised and not may_raise):
                outside.append({"line": line_no, "field": "amount"})
    return outside


def resubmission_target(returned_from: str | None, asked: dict | None, before: dict | None, after: dict) -> str:
    """The step a resubmitted claim goes to: back to the HR step that returned it when every
    change is within what it asked to fix; else (or when the department returned it, or the
    claim as returned was not kept) to the department's review, which sees the claim anew."""
    if returned_from not in HR_STEPS or before is None or changes_outside_fix(asked, before, after):
        return "department_review"
    return returned_from


def refuses_flagged_approval(step_name: str) -> bool:
    """At the HR steps no line may be approved with an active flag (the department may pass them on)."""
    return STEPS[step_name].hr_step


# --- flag overrides (RULES N6) ------------------------------------------------------------------


def override_refusal(*, user, claim: Claim) -> ActionForbidden | None:
    """Why this user may not override flags on this claim now, or None if they may: an HR
    reviewer or HR head of the claim's jurisdiction, at an HR step, who has not acted on
    another step of the claim (segregation of duties)."""
    if is_administrator(user):
        return ActionForbidden(_("职责分离：系统管理员不能办理申领。"), code="segregation_of_duties")
    if not any(roles.has_role(user, role) for role in OVERRIDE_ROLES):
        return ActionForbidden(_("只有人社局审核人或负责人可以豁免预警。"), code="role")
    if not jurisdictions_overseen_by(user).filter(pk=claim.jurisdiction_id).exists():
        return ActionForbidden(_("只有本地区人社局审核人或负责人可以豁免预警。"), code="role")
    if claim.status not in OVERRIDE_STATUSES:
        return ActionForbidden(_("只有在人社局审核或负责人审批环节才能豁免预警。"), code="step")
    if duties_done_by(user=user, process_id=claim.process_id) - {STEPS[name].duty for name in HR_STEPS}:
        return ActionForbidden(
            _("职责分离：您已处理过本申领的其他环节，不能豁免预警（N4，财社〔2023〕181号第25条）。"), code="segregation_of_duties"
        )
    return None


def may_override_flags(*, user, claim: Claim) -> bool:
    """Whether the pages should offer this user the override forms on this claim."""
    return override_refusal(user=user, claim=claim) is None


# --- the provider's side ------------------------------------------------------------------------


def own_claim_submitted_meanwhile(*, user, claim: Claim) -> bool:
    """A double click or a second tab: the clerk's own claim left draft/returned while they waited
    for its row lock. That is a step already taken (409), not a forbidden action (403)."""
    return (
        claim.status not in (ClaimStatus.DRAFT, ClaimStatus.RETURNED)
        and roles.has_role(user, roles.PROVIDER_CLERK)
        and user.has_perm("claims.change_claim", claim)
    )
