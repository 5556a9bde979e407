"""The decision policy: may this person act on this step of this claim, and how.

Roles and scope for acting, segregation of duties (RULES N4), the HR-head threshold, coded
reasons and flag overrides (RULES N6), as plain functions over the step table. The services,
the pages, the API and viewflow's node permissions (flows.HumanStep) all ask here."""

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from claims import roles
from claims.errors import ActionForbidden, InvalidInput
from claims.models import Claim, ClaimStatus, LineDecision
from claims.reasons import REASONS
from claims.selectors import jurisdictions_overseen_by

from .steps import HR_STEPS, STEPS, Decision, Scope, Step

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
    done = Task.objects.filter(process_id=process_id, owner=user, status=STATUS.DONE)
    return {STEPS[task.flow_task.name].duty for task in done if task.flow_task and task.flow_task.name in STEPS}


def processes_with_other_duties(user, step_name: str) -> QuerySet:
    """Processes where this user performed a duty other than the step's own (N4): a subquery."""
    from .flows import ClaimFlow  # the nodes, for the flow_task column

    duty = STEPS[step_name].duty
    other_duty_nodes = [getattr(ClaimFlow, name) for name, step in STEPS.items() if step.duty != duty]
    return Task.objects.filter(owner=user, status=STATUS.DONE, flow_task__in=other_duty_nodes).values("process_id")


def steps_of_user(user) -> list[str]:
    """The human steps this user's role acts on."""
    user_roles = roles.roles_of(user)
    return [name for name, step in STEPS.items() if name != "submit" and step.role in user_roles]


# --- acting on a step ---------------------------------------------------------------------------


def acting_refusal(*, user, step_name: str, claim: Claim, process_id) -> ActionForbidden | None:
    """Why this person may not act on this step of this claim, or None if they may."""
    step = STEPS[step_name]
    if not roles.has_role(user, step.role) or not user_in_step_scope(user=user, step=step, claim=claim):
        return ActionForbidden(_("您的角色不能处理“%(step)s”步骤。") % {"step": step.label}, code="role")
    if duties_done_by(user=user, process_id=process_id) - {step.duty}:
        return ActionForbidden(
            _("职责分离：您已处理过本申领的其他环节，不能再处理“%(step)s”（N4，财社〔2023〕181号第25条）。")
            % {"step": step.label},
            code="segregation_of_duties",
        )
    return None


def require_may_act(*, user, task: Task, claim: Claim) -> None:
    refusal = acting_refusal(user=user, step_name=task.flow_task.name, claim=claim, process_id=task.process_id)
    if refusal is not None:
        raise refusal


def may_act(*, user, task: Task) -> bool:
    """viewflow's question (can this user assign or execute this task), answered by the policy."""
    if task.flow_task is None or task.flow_task.name not in STEPS or not user.is_authenticated:
        return False
    claim = Claim.objects.filter(process_id=task.process_id).first()
    return (
        claim is not None
        and acting_refusal(user=user, step_name=task.flow_task.name, claim=claim, process_id=task.process_id) is None
    )


def needs_hr_head(*, step_name: str, claim: Claim) -> bool:
    """HR's approval goes on to the HR head above the jurisdiction's threshold (STORIES 7)."""
    return step_name == "hr_review" and claim.total > claim.jurisdiction.hr_head_threshold


# --- decisions ----------------------------------------------------------------------------------


def validate_decision(*, step_name: str, decision: str, comment: str, reason: str, line_decisions, line_numbers) -> dict:
    """The decision's input checked against the step's decisions and the coded reasons:
    {line_no: line decision}; InvalidInput naming each wrong field."""
    errors: dict[str, list[str]] = {}
    if decision not in STEPS[step_name].decisions:
        errors["decision"] = [_("须为 approve、return 或 reject。")]
    if decision in (Decision.RETURN, Decision.REJECT) and not (comment or "").strip():
        errors["comment"] = [_("退回或不予补贴时须填写意见。")]
    if decision == Decision.REJECT and reason not in REASONS:
        errors["reason"] = [_("不予补贴须选择理由代码：%(codes)s。") % {"codes": ", ".join(REASONS)}]
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
        by_line[item.line] = item
    if errors:
        raise InvalidInput(_("审核意见有误。"), fields=errors)
    return by_line


def refuses_flagged_approval(step_name: str) -> bool:
    """At the HR steps no line may be approved with an active flag (the department may pass them on)."""
    return STEPS[step_name].hr_step


# --- flag overrides (RULES N6) ------------------------------------------------------------------


def override_refusal(*, user, claim: Claim) -> ActionForbidden | None:
    """Why this user may not override flags on this claim now, or None if they may: an HR
    reviewer or HR head of the claim's jurisdiction, at an HR step, who has not acted on
    another step of the claim (segregation of duties)."""
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
