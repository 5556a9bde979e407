"""Checking each line's certificate at its source (联网核查, 004 §五(四); docs/rules.md CERT_INVALID
and CERT_UNKNOWN).

``check_certificates`` asks the jurisdiction's registries (claims/registry.py) about every line
of a claim, keeps a ``CertificateCheck`` per line (what was asked, when, against which source,
the result), sets or clears the line's CERT_INVALID / CERT_UNKNOWN flag and records one ledger
entry. It runs at submission and resubmission and at each review step (workflow/services.py),
and on demand (``manage.py recheck_certificates``, the admin's action: workflow/certificates.py,
which also opens a recovery order for a paid line whose certificate was revoked).

- Verified: the source knows the certificate, it is not revoked, its signature holds (a signed
  source), and its holder, occupation, level and date are the line's.
- Invalid (flag CERT_INVALID, which no override lifts): revoked, a failing signature, or a
  holder, occupation, level or date other than the line's.
- Unknown: no source knows it. Where the jurisdiction's check mode is ``required`` the line is
  flagged CERT_UNKNOWN (HR may override it in writing after checking it by hand); where it is
  ``advisory`` the line is shown as unverified, for the reviewer to check by hand.
"""

from dataclasses import dataclass, field

from django.utils import timezone

from audit import actions
from audit.services import record_event

from .eligibility import Bilingual, Finding, Rule
from .models import (
    CertificateCheck,
    CertificateCheckMode,
    CheckResult,
    Claim,
    ClaimLine,
)
from .registry import RegistryAnswer, registries_for
from .signals import claim_lines_changed

SOURCE = "004 §五(四)（联网核查）, RULES.md O8"
CERT_INVALID = Rule(
    "CERT_INVALID",
    SOURCE,
    "证书核验不符（%(source)s）：%(detail)s。",
    "The certificate does not check out (%(source)s): %(detail)s.",
    lambda ctx: None,
)
CERT_UNKNOWN = Rule(
    "CERT_UNKNOWN",
    SOURCE,
    "证书库查无此证（%(number)s）：本地区须联网核验，请人工核实后豁免或驳回。",
    "No registry knows certificate %(number)s: this jurisdiction requires a registry check; verify it by hand, "
    "then override or reject.",
    lambda ctx: None,
)
CERTIFICATE_CODES = frozenset({CERT_INVALID.code, CERT_UNKNOWN.code})

# What differs, in both languages (problem codes are kept on the check).
PROBLEMS = {
    "revoked": ("证书已被撤销", "the certificate was revoked"),
    "signature": ("签名验证失败，记录可能被篡改", "its signature fails: the record may have been altered"),
    "holder": ("持证人与本行学员不符", "its holder is not the line's trainee"),
    "occupation": ("职业（工种）不符", "the occupation differs"),
    "level": ("等级不符", "the level differs"),
    "date": ("发证日期不符", "the certificate date differs"),
}


class CheckOccasion:
    SUBMISSION = "submission"  # submitted or resubmitted
    REVIEW = "review"  # at a review step, before the decision
    RECHECK = "recheck"  # on demand: the command, the admin's action


@dataclass
class CheckOutcome:
    checks: list[CertificateCheck] = field(default_factory=list)
    # Lines found revoked (for the recovery of what was paid on them).
    revoked_lines: list[ClaimLine] = field(default_factory=list)
    # What the ledger keeps: the occasion, the mode, and per line the result, source and problems.
    summary: dict = field(default_factory=dict)


def _problems(line: ClaimLine, answer: RegistryAnswer) -> list[str]:
    problems = []
    if answer.revoked:
        problems.append("revoked")
    if answer.signature_valid is False:
        problems.append("signature")
    if answer.holder_id_number_digest != line.trainee.id_number_digest:
        problems.append("holder")
    if answer.occupation_code != line.occupation.code:
        problems.append("occupation")
    if answer.level != line.level:
        problems.append("level")
    if answer.certificate_date != line.certificate_date:
        problems.append("date")
    return problems


def _asked(line: ClaimLine) -> dict:
    """What was checked, without personal data beyond the masked ID."""
    return {
        "number": line.certificate_number,
        "issuer": line.certificate_issuer,
        "holder": line.trainee.id_number_masked,
        "occupation": line.occupation.code,
        "level": line.level,
        "date": line.certificate_date.isoformat(),
    }


def _answers(lines: list[ClaimLine], registries) -> dict[int, RegistryAnswer]:
    """Each line's answer from the first registry that knows its certificate."""
    answers: dict[int, RegistryAnswer] = {}
    for registry in registries:
        unanswered = [line for line in lines if line.pk not in answers]
        if not unanswered:
            break
        answers.update(registry.find(unanswered))
    return answers


def _flag(line: ClaimLine, result: str, problems: list[str], answer: RegistryAnswer | None, mode: str) -> dict | None:
    if result == CheckResult.INVALID:
        detail_zh = "；".join(PROBLEMS[p][0] for p in problems)
        detail_en = "; ".join(PROBLEMS[p][1] for p in problems)
        return CERT_INVALID.flag(Finding({"source": answer.source_label, "detail": Bilingual(detail_zh, detail_en)}))
    if result == CheckResult.UNKNOWN and mode == CertificateCheckMode.REQUIRED:
        return CERT_UNKNOWN.flag(Finding({"number": line.certificate_number}))
    return None


def check_certificates(*, claim: Claim, occasion: str, actor=None, record: bool = True) -> CheckOutcome:
    """Check every line's certificate now; call it in the transaction of the step (the claim
    locked by the caller). Saves the checks and the flags, and records a ledger entry; a step
    that records its own entry passes ``record=False`` and puts ``outcome.summary`` in it."""
    lines = list(claim.lines.select_related("trainee", "occupation").order_by("line_no"))
    outcome = CheckOutcome()
    if not lines:
        return outcome
    registries = registries_for(claim.jurisdiction)
    mode = claim.jurisdiction.certificate_check_mode
    now = timezone.now()
    changed = []
    summary = []
    answers = _answers(lines, registries)
    for line in lines:
        answer = answers.get(line.pk)
        problems = _problems(line, answer) if answer is not None else []
        if answer is None:
            result = CheckResult.UNKNOWN
        elif problems:
            result = CheckResult.INVALID
        else:
            result = CheckResult.VERIFIED
        outcome.checks.append(
            CertificateCheck(
                line=line,
                checked_at=now,
                occasion=occasion,
                checked_by=actor,
                asked=_asked(line),
                source=answer.source_label if answer else "",
                result=result,
                problems=[{"code": p, "message": PROBLEMS[p][0], "message_en": PROBLEMS[p][1]} for p in problems],
            )
        )
        if "revoked" in problems:
            outcome.revoked_lines.append(line)
        flags = [flag for flag in line.flags if flag.get("code") not in CERTIFICATE_CODES]
        new_flag = _flag(line, result, problems, answer, mode)
        if new_flag is not None:
            flags.append(new_flag)
        if flags != line.flags:
            line.flags = flags
            changed.append(line)
        summary.append({"line": line.line_no, "result": result, "source": answer.source if answer else "", "problems": problems})
    CertificateCheck.objects.bulk_create(outcome.checks)
    if changed:
        ClaimLine.objects.bulk_update(changed, ["flags"])
        claim_lines_changed.send(sender=Claim, claim=claim)
    outcome.summary = {"occasion": occasion, "mode": mode, "lines": summary}
    if record:
        record_event(
            actor=actor,
            action=actions.CLAIM_CERTIFICATES_CHECKED,
            obj=claim,
            claim=claim,
            from_state=claim.status,
            to_state=claim.status,
            detail=outcome.summary,
        )
    return outcome


def latest_checks_first():
    """A line's checks, latest first: prefetch ``certificate_checks`` with it, take the first."""
    return CertificateCheck.objects.order_by("-checked_at", "-id")


def latest_checks(claim: Claim) -> dict[int, CertificateCheck]:
    """The latest check of each line of the claim, by line id (what the reviewer sees)."""
    latest: dict[int, CertificateCheck] = {}
    for check in CertificateCheck.objects.filter(line__claim=claim).order_by("line_id", "-checked_at", "-id"):
        latest.setdefault(check.line_id, check)
    return latest
