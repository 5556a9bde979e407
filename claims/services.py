"""Writes to claims. Each public function is one transaction and records its audit events."""

import datetime
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm

from audit import actions
from audit.services import record_event

from . import access
from .certificates import certificate_key
from .classes import refresh_class_flags
from .dates import local_date
from .eligibility import check_claim
from .errors import InvalidInput
from .inputs import (
    CLASS_FIELD,
    ENTERPRISE_FIELDS,
    ClaimHeaderInput,
    ErrorCollector,
    LineInput,
    parse_fields,
    parse_header,
    parse_lines,
)
from .line_fields import LINE_FIELDS
from .models import (
    ZERO,
    Claim,
    ClaimLine,
    ClaimStatus,
    ClassStatus,
    Department,
    LineDecision,
    Payee,
    Provider,
    SubsidyPolicy,
    Trainee,
    TrainingClass,
)
from .personal_data import encrypt_id_number, id_number_digest, mask_id_number
from .pricing import CENT, PRICING_CODES, price_lines, versions_for
from .selectors import providers_of_clerk
from .signals import claim_lines_changed
from .standard_checks import CONDITION_CODES, condition_flags, problems
from .validators import validate_credit_code

EDITABLE_STATUSES = (ClaimStatus.DRAFT, ClaimStatus.RETURNED)
TRAINEE_BATCH = 1000  # digests per IN (…) and rows per INSERT: well under SQLite's variable limit
LINE_BATCH = 1000


def _resolve_provider(*, user, provider_code: str | None, errors: ErrorCollector) -> Provider | None:
    providers = providers_of_clerk(user)
    if provider_code:
        provider = providers.filter(code=provider_code).first()
        if provider is None:
            errors.add("provider", _("无权以该培训机构名义申领：%(code)s") % {"code": provider_code})
        return provider
    own = list(providers[:2])
    if len(own) != 1:
        errors.add("provider", _("请指定培训机构代码。"))
        return None
    return own[0]


def _resolve_department_and_policy(*, data: dict, jurisdiction, errors: ErrorCollector):
    department = policy = None
    department_code = str(data.get("department") or "").strip()
    if not department_code:
        errors.add("department", _("必填。"))
    else:
        department = Department.objects.filter(jurisdiction=jurisdiction, code=department_code).first()
        if department is None:
            errors.add("department", _("本地区没有代码为 %(code)s 的行业主管部门。") % {"code": department_code})
    policy_code = str(data.get("policy") or "").strip()
    if not policy_code:
        errors.add("policy", _("必填。"))
    else:
        policy = SubsidyPolicy.objects.filter(jurisdiction=jurisdiction, code=policy_code).first()
        if policy is None:
            errors.add("policy", _("补贴目录中没有代码为 %(code)s 的标准。") % {"code": policy_code})
    return department, policy


def _trainee_ids_for(lines: list[LineInput]) -> list[int]:
    """The trainee of each line (same order), by primary key: found by keyed digest in one query
    per thousand, the new ones created in bulk. A person created meanwhile by another claim is
    not created twice (ignore_conflicts on the unique digest) and is read back like the others."""
    digests = [id_number_digest(line.id_number) for line in lines]
    wanted = list(dict.fromkeys(digests))
    ids: dict[str, int] = {}

    def load(keys: list[str]) -> None:
        for start in range(0, len(keys), TRAINEE_BATCH):
            ids.update(
                Trainee.objects.filter(id_number_digest__in=keys[start : start + TRAINEE_BATCH]).values_list(
                    "id_number_digest", "pk"
                )
            )

    load(wanted)
    missing = [digest for digest in wanted if digest not in ids]
    if missing:
        first_line = {}
        for digest, line in zip(digests, lines):
            first_line.setdefault(digest, line)
        Trainee.objects.bulk_create(
            [
                Trainee(
                    id_number_digest=digest,
                    id_number_masked=mask_id_number(first_line[digest].id_number),
                    id_number_encrypted=encrypt_id_number(first_line[digest].id_number),
                )
                for digest in missing
            ],
            batch_size=TRAINEE_BATCH,
            ignore_conflicts=True,
        )
        load(missing)
    return [ids[digest] for digest in digests]


# A line as the provider wrote it: every field kept on the line itself (its person is its trainee).
WRITTEN_LINE_FIELDS = tuple(ClaimLine._meta.get_field(spec.name).attname for spec in LINE_FIELDS if spec.stored_as == "")


def _as_written(line: ClaimLine) -> tuple:
    return (line.trainee_id, *(getattr(line, name) for name in WRITTEN_LINE_FIELDS))


def _carry_over(before: list[ClaimLine], after: list[ClaimLine]) -> None:
    """What a line keeps when a returned claim's lines are written again: a line sent again
    exactly as it was keeps its reviewer's decision (a line the department rejected stays
    rejected; an approval approves only what is pending), and a person's certificate of the same
    date keeps the day it was first claimed (N2). A changed line is decided anew."""
    decided: dict[tuple, list[tuple[str, str]]] = {}
    claimed: dict[tuple, datetime.date] = {}
    for line in before:
        decided.setdefault(_as_written(line), []).append((line.decision, line.decision_reason))
        if line.claimed_on is not None:
            claimed.setdefault((line.trainee_id, line.certificate_date), line.claimed_on)
    for line in after:
        same = decided.get(_as_written(line))
        if same:
            line.decision, line.decision_reason = same.pop(0)
        line.claimed_on = claimed.get((line.trainee_id, line.certificate_date))


def _write_lines(claim: Claim, lines: list[LineInput]) -> None:
    """Replace the claim's lines, priced with the catalogue read once for the claim (versions_for);
    what an unchanged line keeps of its review is carried over (_carry_over)."""
    before = list(claim.lines.all())
    claim.lines.all().delete()
    versions = versions_for(claim.policy)
    priced = price_lines(policy=claim.policy, lines=lines, versions=versions)
    trainee_ids = _trainee_ids_for(lines)
    new_lines = [
        ClaimLine(
            claim=claim,
            line_no=line_no,
            trainee_id=trainee_id,
            **{spec.name: getattr(line, spec.name) for spec in LINE_FIELDS if spec.stored_as == ""},
            certificate_key=certificate_key(line.certificate_number),
            amount=price.amount,
            policy_version=price.version,
            explanation=price.explanation,
            explanation_en=price.explanation_en,
            flags=price.flags + condition_flags(policy=claim.policy, training_start=claim.training_start, line=line),
        )
        for line_no, (line, price, trainee_id) in enumerate(zip(lines, priced, trainee_ids, strict=True), start=1)
    ]
    _carry_over(before, new_lines)
    ClaimLine.objects.bulk_create(new_lines, batch_size=LINE_BATCH)
    refresh_flags(claim=claim)


def _reprice_lines(claim: Claim) -> None:
    """The claim's own lines priced again under its header as it now is (the standard, the class,
    the training dates changed; the lines did not): each line's amount, version and explanation,
    its pricing flags and the conditions on the person (S4, S5, S15), as _write_lines prices a
    line given; then every rule again (refresh_flags). A standard switched under unchanged lines
    must not keep the old standard's amounts, nor its category's flags."""
    lines = list(claim.lines.order_by("line_no"))
    priced = price_lines(policy=claim.policy, lines=lines, versions=versions_for(claim.policy))
    for line, price in zip(lines, priced, strict=True):
        kept = [flag for flag in line.flags if flag.get("code") not in PRICING_CODES | CONDITION_CODES]
        line.amount, line.policy_version = price.amount, price.version
        line.explanation, line.explanation_en = price.explanation, price.explanation_en
        line.flags = kept + price.flags + condition_flags(policy=claim.policy, training_start=claim.training_start, line=line)
    ClaimLine.objects.bulk_update(
        lines, ["amount", "policy_version", "explanation", "explanation_en", "flags"], batch_size=LINE_BATCH
    )
    refresh_flags(claim=claim)


def mark_claimed(claim: Claim) -> None:
    """The lines submitted now for the first time are claimed today (N2 counts to this day):
    called by a submission and a resubmission before the rules run."""
    claim.lines.filter(claimed_on__isnull=True).update(claimed_on=timezone.localdate())


def refresh_flags(*, claim: Claim, as_of=None) -> None:
    """Recompute every line's eligibility flags (claims/eligibility.py: the flags a draft would
    get if submitted now; under a lock on the claim's people once submitted) and its class flags
    (claims/classes.py: filing, roster, days, overlap, attendance), then the total."""
    check_claim(claim=claim, as_of=as_of)
    refresh_class_flags(claim)
    recompute_total(claim=claim)


def recompute_total(*, claim: Claim, announce: bool = True) -> None:
    """The claim's total is what would be paid: every line not rejected. ``announce``: send
    claim_lines_changed (the inbox's figures follow it); a caller that rewrites the claim's inbox
    rows itself later in the same transaction (a decision: sync_claim_status) passes False."""
    total = claim.lines.exclude(decision=LineDecision.REJECT).aggregate(total=Sum("amount"))["total"] or ZERO
    claim.total = total.quantize(CENT)  # in cents whatever the database sums in (SQLite's SUM drops the places)
    claim.save(update_fields=["total"])
    if announce:
        claim_lines_changed.send(sender=Claim, claim=claim)


def lines_for_summary(claim: Claim) -> list[ClaimLine]:
    """The claim's lines with what line_summary shows of them, in one read."""
    return list(claim.lines.select_related("trainee", "occupation", "policy_version__policy"))


def line_summary(claim: Claim, lines: list[ClaimLine] | None = None) -> list[dict]:
    """What the ledger keeps of each line: no personal data beyond the masked ID. ``lines``: the
    claim's lines as lines_for_summary read them, when the caller has them."""
    return [
        {
            "line": line.line_no,
            "trainee": line.trainee.id_number_masked,
            "occupation": line.occupation.name,
            "level": line.level,
            "certificate_number": line.certificate_number,
            "certificate_issuer": line.certificate_issuer,
            "certificate_date": line.certificate_date,
            "amount": line.amount,
            "rule_version": str(line.policy_version) if line.policy_version else None,
            "flags": [flag["code"] for flag in line.flags],
            "decision": line.decision,
        }
        for line in (lines_for_summary(claim) if lines is None else lines)
    ]


def check_standard(*, policy, training_start, training_end, lines, errors: ErrorCollector) -> None:
    """The standard's own conditions on the class and its lines (claims/standard_checks.py), as
    errors by path: ``training_end``, ``lines[2].training_days``."""
    for problem in problems(policy=policy, training_start=training_start, training_end=training_end, lines=lines):
        errors.add(problem.path, problem.render())


def check_enterprise(*, policy: SubsidyPolicy | None, data: dict, errors: ErrorCollector) -> tuple[str, str]:
    """The enterprise a claim names: (name, credit code), both required when the standard pays an
    enterprise (S10–S14), refused under any other standard (it would be paid to nobody)."""
    values = parse_fields(ENTERPRISE_FIELDS, data, "", errors)
    name = (values.get("enterprise_name") or "").strip()
    code = (values.get("enterprise_credit_code") or "").strip().upper()
    if policy is None:
        return name, code
    if policy.payee != Payee.ENTERPRISE:
        for field_name, value in (("enterprise_name", name), ("enterprise_credit_code", code)):
            if value:
                errors.add(field_name, _("该补贴标准不补贴企业，不填企业。"))
        return "", ""
    if not name:
        errors.add("enterprise_name", _("该补贴标准补贴企业，须填写企业名称。"))
    if not code:
        errors.add("enterprise_credit_code", _("该补贴标准补贴企业，须填写企业统一社会信用代码。"))
    else:
        try:
            validate_credit_code(code)
        except ValidationError as error:
            for message in error.messages:
                errors.add("enterprise_credit_code", message)
    return name, code


@dataclass(frozen=True)
class ClaimHeader:
    """A claim's header, checked: whose it is, where it goes, under which standard."""

    provider: Provider
    department: Department
    policy: SubsidyPolicy
    fields: ClaimHeaderInput
    enterprise_name: str = ""
    enterprise_credit_code: str = ""
    training_class: TrainingClass | None = None


def check_class(
    *, provider: Provider | None, department: Department | None, policy: SubsidyPolicy | None, data: dict, errors: ErrorCollector
):
    """The filed class a claim names (``class``, optional): one of the provider's accepted classes,
    filed with the claim's department under its standard. Another provider's class is "not
    found", as if it did not exist."""
    values = parse_fields((CLASS_FIELD,), data, "", errors)
    class_id = values.get("class")
    if not class_id or provider is None:
        return None
    training_class = TrainingClass.objects.filter(pk=class_id, provider=provider).first()
    if training_class is None:
        errors.add("class", _("本机构没有编号为 %(id)s 的备案班级。") % {"id": class_id})
        return None
    if training_class.status != ClassStatus.ACCEPTED:
        errors.add(
            "class",
            _("备案班级 %(number)s 尚未经行业主管部门确认备案（%(status)s），不能申领。")
            % {"number": training_class.number, "status": training_class.get_status_display()},
        )
    elif policy is not None and training_class.policy_id != policy.pk:
        errors.add(
            "class",
            _("备案班级 %(number)s 的补贴标准是 %(code)s，与本申领不符。")
            % {"number": training_class.number, "code": training_class.policy.code},
        )
    elif department is not None and training_class.department_id != department.pk:
        errors.add(
            "class",
            _("备案班级 %(number)s 向 %(department)s 备案，与本申领的行业主管部门不符。")
            % {"number": training_class.number, "department": training_class.department.name},
        )
    return training_class


def check_claim_header(*, user, data: dict, errors: ErrorCollector) -> ClaimHeader | None:
    """The header fields of a new claim (provider, department, policy, class and dates), as the
    user may file them; problems go to ``errors`` under the field's name."""
    provider = _resolve_provider(user=user, provider_code=data.get("provider"), errors=errors)
    department = policy = None
    if provider is not None:
        department, policy = _resolve_department_and_policy(data=data, jurisdiction=provider.jurisdiction, errors=errors)
    fields = parse_header(data, errors)
    enterprise_name, enterprise_credit_code = check_enterprise(policy=policy, data=data, errors=errors)
    training_class = check_class(provider=provider, department=department, policy=policy, data=data, errors=errors)
    if errors:
        return None
    return ClaimHeader(
        provider=provider,
        department=department,
        policy=policy,
        fields=fields,
        enterprise_name=enterprise_name,
        enterprise_credit_code=enterprise_credit_code,
        training_class=training_class,
    )


@transaction.atomic
def create_claim(*, user, data: dict, refused: dict | None = None) -> Claim:
    """A provider clerk drafts a claim. All input is checked; on any error nothing is saved.
    ``refused``: what the caller's own check of ``data`` refused (the API's serializer), by path;
    reported with the service's findings."""
    access.require(user, access.DRAFT_CLAIM)
    errors = ErrorCollector(refused)
    header = check_claim_header(user=user, data=data, errors=errors)
    lines = parse_lines(data.get("lines"), errors)
    if not errors:
        fields = header.fields
        check_standard(
            policy=header.policy,
            training_start=fields.training_start,
            training_end=fields.training_end,
            lines=lines,
            errors=errors,
        )
    if errors:
        raise InvalidInput(_("申领信息有误，未保存。"), fields=errors.fields)
    return create_claim_from_inputs(user=user, header=header, lines=lines)


@transaction.atomic
def create_claim_from_inputs(*, user, header: ClaimHeader, lines: list[LineInput], source: dict | None = None) -> Claim:
    """Create a draft from checked input (create_claim, a roster import): the lines priced and
    flagged, the provider's clerks granted the claim, the creation audited. ``source`` goes into
    the audit event (the roster file a claim was imported from)."""
    provider, department, policy = header.provider, header.department, header.policy
    claim = Claim.objects.create(
        number=f"new-{uuid.uuid4().hex[:26]}",  # fits max_length 30; replaced by the numbered form once the pk exists
        jurisdiction=provider.jurisdiction,
        provider=provider,
        department=department,
        policy=policy,
        class_name=header.fields.class_name,
        training_start=header.fields.training_start,
        training_end=header.fields.training_end,
        enterprise_name=header.enterprise_name,
        enterprise_credit_code=header.enterprise_credit_code,
        training_class=header.training_class,
        created_by=user,
    )
    claim.number = f"{provider.jurisdiction.code}-{local_date(claim.created_at, claim.jurisdiction_id).year}-{claim.pk:06d}"
    claim.save(update_fields=["number"])
    _write_lines(claim, lines)
    if provider.staff_group is not None:
        for perm in ("claims.view_claim", "claims.change_claim"):
            assign_perm(perm, provider.staff_group, claim)
    record_event(
        actor=user,
        action=actions.CLAIM_CREATED,
        obj=claim,
        claim=claim,
        to_state=ClaimStatus.DRAFT,
        detail={
            "provider": provider.code,
            "department": department.code,
            "policy": policy.code,
            "class_name": claim.class_name,
            **({"enterprise": claim.enterprise_credit_code} if claim.enterprise_credit_code else {}),
            **({"class": claim.training_class.number} if claim.training_class else {}),
            "total": claim.total,
            "lines": line_summary(claim),
            **({"source": source} if source else {}),
        },
    )
    if provider.staff_group is not None:
        record_event(
            actor=user,
            action=actions.PERMISSION_GRANTED,
            obj=claim,
            claim=claim,
            detail={"group": provider.staff_group.name, "perms": ["view_claim", "change_claim"]},
        )
    return claim


def _header_fields(claim: Claim) -> dict:
    """The claim's editable header and total, as the ledger records them before and after an edit."""
    return {
        "department": claim.department.code,
        "policy": claim.policy.code,
        "class_name": claim.class_name,
        "training_start": claim.training_start,
        "training_end": claim.training_end,
        "enterprise_name": claim.enterprise_name,
        "enterprise_credit_code": claim.enterprise_credit_code,
        "class": claim.training_class.number if claim.training_class else None,
        "total": claim.total,
    }


@transaction.atomic
def update_claim(*, user, claim: Claim, data: dict, refused: dict | None = None) -> Claim:
    """Edit a draft or returned claim; fields not given keep their values; ``lines`` replaces all lines.
    ``refused``: as for create_claim."""
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    access.require_may_edit_claim(user, claim)
    errors = ErrorCollector(refused)
    merged = {
        "department": claim.department.code,
        "policy": claim.policy.code,
        "class_name": claim.class_name,
        "training_start": claim.training_start,
        "training_end": claim.training_end,
        "enterprise_name": claim.enterprise_name,
        "enterprise_credit_code": claim.enterprise_credit_code,
        **{key: value for key, value in data.items() if key != "lines"},
    }
    if claim.status == ClaimStatus.RETURNED and merged["department"] != claim.department.code:
        errors.add("department", _("退回修改的申领不能更换行业主管部门。"))
    department, policy = _resolve_department_and_policy(data=merged, jurisdiction=claim.jurisdiction, errors=errors)
    header = parse_header(merged, errors)
    if (
        policy is not None
        and policy.payee != Payee.ENTERPRISE
        and not any(name in data for name in ("enterprise_name", "enterprise_credit_code"))
    ):
        merged["enterprise_name"] = merged["enterprise_credit_code"] = ""  # moved off an enterprise standard
    enterprise_name, enterprise_credit_code = check_enterprise(policy=policy, data=merged, errors=errors)
    training_class = (
        check_class(provider=claim.provider, department=department, policy=policy, data=data, errors=errors)
        if "class" in data
        else claim.training_class
    )
    lines = parse_lines(data["lines"], errors) if "lines" in data else None
    if not errors:
        # The lines given, or the claim's own lines under a changed class or standard.
        check_standard(
            policy=policy,
            training_start=header.training_start,
            training_end=header.training_end,
            lines=lines if lines is not None else list(claim.lines.order_by("line_no")),
            errors=errors,
        )
    if errors:
        raise InvalidInput(_("申领信息有误，未保存。"), fields=errors.fields)
    before = _header_fields(claim)
    lines_before = line_summary(claim) if lines is not None else None
    claim.department, claim.policy = department, policy
    claim.class_name, claim.training_start, claim.training_end = header.class_name, header.training_start, header.training_end
    claim.enterprise_name, claim.enterprise_credit_code = enterprise_name, enterprise_credit_code
    claim.training_class = training_class
    claim.save()
    if lines is not None:
        _write_lines(claim, lines)
    else:
        _reprice_lines(claim)
    after = _header_fields(claim)
    record_event(
        actor=user,
        action=actions.CLAIM_EDITED,
        obj=claim,
        claim=claim,
        from_state=claim.status,
        to_state=claim.status,
        detail={
            "before": before,
            "after": after,
            **({"lines_before": lines_before, "lines": line_summary(claim)} if lines is not None else {}),
        },
    )
    return claim
