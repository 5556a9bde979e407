"""The eligibility rules engine (RULES.md §2 and §6): each rule is a small named unit with
its code, its messages in Chinese and English, the paragraph it comes from, and a check.

A rule that fails flags the line; it never drops it. A flag is a dict stored on the line:

    {"code": "E2", "message": "…", "message_en": "…", "source": "001 §13, …", "related": ["WL-2026-000012", …]}

(``related``, the claims the rule found, only where there are any). The pricing flags
(NO_STANDARD, LEVEL, claims/pricing.py) use the same keys; they are computed once, when a
line is priced, and this module keeps them as they are: the certificate-type and level
check lives in pricing alone.

Codes owned here: DUP, E2, E3, N3, N2, N9, HARDSHIP (living allowance, S6, without a
hardship group), E9, PERIODS (the periods of a per-month or per-year standard, S10–S12
and S15, across all of a person's claims) and FRAUD (an earlier subsidy of the person
recovered in full for fraud, for HR; it blocks nothing), and CERT_DUP (a certificate already
claimed on another line: one certificate is paid once, whoever's line it is;
claims/certificates.py says what identifies one), and the standard's own limits across claims,
which no override lifts (HARD_LIMIT_CODES): ENTERPRISE_CAP (a per-enterprise standard, S13,
pays an enterprise at most its cap under a version of the standard, whatever the number of its
claims), ITEM_DUP and ITEMS (a per-item standard, S7, pays each item once and at most its
number of packages, across every developer's claims). ``check_claim`` recomputes them for every line of a claim:
when it is drafted or edited (the flags it would get if submitted now), on submission and
resubmission, and at each review step (another claim may have used the quota meanwhile).

What counts against a person's quota, repeat and period rules (docs/rules.md, "what counts
and why"): the lines of claims submitted and not rejected or withdrawn, that are not
rejected themselves, not recovered in full (payment status recovered: the person in the
end received nothing), and not blocked by an active (not overridden) E2, E3, N3, PERIODS or
CERT_DUP flag; by the calendar year of the certificate date, across every provider. Only training
subsidies (TRAINING_SUBSIDY_CATEGORIES, claims/models.py) are trainings for E2, E3 and N3;
the period rule counts the lines of the same standard.
"""

import datetime
import re
from collections import defaultdict
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from .advisory_locks import hold_advisory_locks
from .certificates import Certificate, CertificateIndex, lock_certificates
from .dates import date_text
from .languages import in_active_language, in_both_languages
from .models import (
    TRAINING_SUBSIDY_CATEGORIES,
    Claim,
    ClaimLine,
    ClaimStatus,
    FlagOverride,
    Level,
    LineDecision,
    PaymentStatus,
    Period,
    PolicyCategory,
    PolicyVersion,
    PricingUnit,
    Trainee,
)
from .pricing import enterprise_cap, money_text
from .sources import source_label

# Claims whose lines do not count: not submitted (yet), or out of the running.
NOT_COUNTING_STATUSES = (ClaimStatus.DRAFT, ClaimStatus.REJECTED, ClaimStatus.WITHDRAWN)
# A line blocked by one of these (not overridden) does not use the person's quota or periods.
BLOCKING_CODES = frozenset({"E2", "E3", "N3", "PERIODS", "CERT_DUP", "ENTERPRISE_CAP", "ITEM_DUP", "ITEMS"})
# The standard's own maximum, across claims: overriding one would pay past what the policy
# allows at all, so HR rejects the line or returns the claim for a lower cost instead.
HARD_LIMIT_CODES = frozenset({"ENTERPRISE_CAP", "ITEM_DUP", "ITEMS"})
# Every flag no override lifts, with what the reviewer is told instead (docs/rules.md): the
# standard's own limits; a certificate revoked, forged or not the claim's (CERT_INVALID: the
# registry is the authority, a written reason cannot make it valid); attendance under the
# minimum (ATTENDANCE: the policy forfeits the subsidy); a class that had to be filed and was not
# (CLASS_NOT_FILED: filing is a condition of the subsidy, RULES.md N1).
NOT_OVERRIDABLE: dict[str, Promise] = {
    **{code: gettext_lazy("补贴标准本身的上限，不能豁免：请驳回该行，或退回机构修改。") for code in HARD_LIMIT_CODES},
    "CERT_INVALID": gettext_lazy("证书被撤销、签名不符或与申领不符，不能豁免：请驳回该行，或退回机构更正后重新核验。"),
    "ATTENDANCE": gettext_lazy("出勤率低于最低要求，不予补贴，不能豁免：请驳回该行。"),
    "CLASS_NOT_FILED": gettext_lazy("培训班须开班备案，不能豁免：请驳回该行，或退回机构关联已确认备案的班级。"),
}
# The first key of the advisory locks on an enterprise's grant and on a standard's items ("LIMT").
LIMIT_LOCK_CLASS = 0x4C494D54
# Lines recovered in full: the person in the end received nothing (docs/rules.md, "what counts and why").
NOT_COUNTING_PAYMENT_STATES = (PaymentStatus.RECOVERED,)
# The mark of a line recovered in full for fraud (set by payments' recovery service through
# mark_recovered_for_fraud): the person's later lines get a FRAUD flag for HR.
RECOVERED_FOR_FRAUD = "RECOVERED_FRAUD"
# Variants that continue an earlier certificate of the same standard, occupation and level
# (S3 复审, 002 §二(二)): not a repeat for E3, when the line's version has that variant.
CONTINUATION_VARIANTS = frozenset({"renewal"})
MAX_TRAININGS_PER_YEAR = 3
CLAIM_WITHIN_MONTHS = 12
LEVEL_RANK = {level: rank for rank, level in enumerate(Level.values)}


# --------------------------------------------------------------------------- flags


@dataclass(frozen=True)
class Bilingual:
    """A message parameter written differently in each language (a level's name, a list)."""

    zh: str
    en: str


def written_date(value: datetime.date) -> Bilingual:
    """A date in a flag's message as each language writes it: 2026年12月6日, Dec. 6, 2026 (the
    pages' format; the flag keeps both texts)."""

    def written(language: str) -> str:
        with translation.override(language):
            return date_text(value)

    return Bilingual(written("zh-hans"), written("en"))


@dataclass(frozen=True)
class Finding:
    """What a failed check found: the message parameters and the claims it is about."""

    params: dict = field(default_factory=dict)
    related: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    code: str
    source: str
    message: str
    message_en: str
    check: Callable[["LineContext"], Finding | None]

    def flag(self, finding: Finding) -> dict:
        related = list(dict.fromkeys(finding.related))

        def render(template: str, language: str) -> str:
            params = {
                key: (getattr(value, language) if isinstance(value, Bilingual) else value)
                for key, value in finding.params.items()
            }
            params["related"] = ("、" if language == "zh" else ", ").join(related)
            return template % params

        flag = {
            "code": self.code,
            "message": render(self.message, "zh"),
            "message_en": render(self.message_en, "en"),
            "source": self.source,
        }
        if related:
            flag["related"] = related
        return flag


def localized_message(flag: dict) -> str:
    """The flag's message in the active language (Chinese unless English is active)."""
    return in_active_language(flag.get("message", ""), flag.get("message_en", ""))


def active_flags(flags: Iterable[dict], overridden_codes: Iterable[str]) -> list[dict]:
    """The flags that still stop the line: those no HR reviewer has overridden."""
    overridden = set(overridden_codes)
    return [flag for flag in flags if flag.get("code") not in overridden]


# What stands in a flag's message for the claims it names that its reader may not see.
HIDDEN_CLAIMS = Bilingual("另 %(n)d 份您无权查看的申领", "%(n)d other claim(s) you may not see")


def related_numbers(flags: Iterable[dict]) -> set[str]:
    """The numbers of the claims the flags name (``related``): those a reader's sight is asked of."""
    return {number for flag in flags for number in flag.get("related", [])}


def flag_as_seen(flag: dict, visible: Container[str]) -> dict:
    """The flag as a reader who may see the claims ``visible`` (numbers) reads it: the others it
    names are out of ``related`` and, in its messages, each run of them is "另 N 份您无权查看的
    申领". The rule's finding stays (the line is still flagged, and why); which claims of other
    providers hold the person, or were recovered for fraud, is not the reader's to learn."""
    hidden = [number for number in flag.get("related", []) if number not in visible]
    if not hidden:
        return flag
    names = "|".join(re.escape(number) for number in sorted(hidden, key=len, reverse=True))
    run = re.compile(f"(?:{names})(?:(?:、|, )(?:{names}))*")

    def without_hidden(text: str, language: str) -> str:
        template = getattr(HIDDEN_CLAIMS, language)
        return run.sub(lambda found: template % {"n": len(re.findall(names, found.group(0)))}, text)

    # Only the messages the flag holds: a flag kept in the ledger (HR's override) has no English.
    messages = {
        key: without_hidden(flag[key], language) for key, language in (("message", "zh"), ("message_en", "en")) if key in flag
    }
    return {**flag, **messages, "related": [number for number in flag.get("related", []) if number in visible]}


def flags_for_display(line: ClaimLine, *, visible_claims: Container[str]) -> list[dict]:
    """Each flag of the line with its message in the active language and its override, if any
    (reads ``line.overrides``: prefetch it, and ``overrides__overridden_by`` to show who), as a
    reader who may see the claims ``visible_claims`` (claims.selectors.claim_numbers_visible_to
    of the lines' related_numbers, read once for all the lines) reads it (flag_as_seen)."""
    overrides = {override.code: override for override in line.overrides.all()}
    shown = []
    for flag in line.flags:
        override = overrides.get(flag.get("code"))
        flag = flag_as_seen(flag, visible_claims)
        shown.append(
            {
                "code": flag.get("code", ""),
                "message": localized_message(flag),
                "source": flag.get("source", ""),
                "source_label": source_label(flag.get("source", "")),  # the documents' titles (claims/sources.py)
                "related": list(flag.get("related", [])),
                "overridden": override is not None,
                "overridable": flag.get("code") not in NOT_OVERRIDABLE,
                "not_overridable_reason": NOT_OVERRIDABLE.get(flag.get("code"), ""),
                "override_reason": override.reason if override else "",
                "override": override,  # the FlagOverride (who, when), or None
            }
        )
    return shown


def _level_label(level: str) -> Bilingual:
    try:
        label = Level(level).label
    except ValueError:
        return Bilingual(level, level)
    return Bilingual(*in_both_languages(lambda: label))


# --------------------------------------------------------------------------- what a check sees


@dataclass(frozen=True)
class Record:
    """A line that counts against a person's quota: of another claim, or earlier in this one."""

    claim_number: str
    occupation: str  # the occupation's code (claims.models.Occupation)
    level: str
    year: int
    policy_id: int | None = None


@dataclass
class LineContext:
    line: ClaimLine
    claim: Claim
    category: str
    as_of: datetime.date
    # The trainee's counting lines elsewhere and earlier in this claim (trainings only).
    history: list[Record]
    # Numbers of the other claims of the same kind whose training dates overlap this claim's.
    overlapping: list[str]
    # The line number where this trainee first appears in the claim.
    first_line_no: int
    # (claim number, periods, certificate year) of the trainee's counting lines of the same standard (PERIODS).
    periods_used: list[tuple[str, int, int]] = field(default_factory=list)
    # Numbers of the trainee's claims with a line recovered in full for fraud (FRAUD).
    recovered_for_fraud: list[str] = field(default_factory=list)
    # Where the line's certificate was claimed already (CERT_DUP): earlier lines of this claim
    # (their numbers), other claims (their numbers).
    certificate_lines: list[int] = field(default_factory=list)
    certificate_claims: list[str] = field(default_factory=list)
    # Under the line's version of a per-enterprise standard (S13): (claim number, amount) of what
    # counts for the claim's enterprise, in other claims and earlier in this one (ENTERPRISE_CAP).
    enterprise_grants: list[tuple[str, Decimal]] = field(default_factory=list)
    # Under the line's version of a per-item standard (S7): (claim number, variant, occupation
    # code) of the items that count, in every claim and earlier in this one (ITEM_DUP, ITEMS).
    items: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def is_training(self) -> bool:
        return self.category in TRAINING_SUBSIDY_CATEGORIES

    @property
    def continues_earlier_certificate(self) -> bool:
        """A renewal (S3 复审) of the standard's own: it continues the earlier certificate."""
        version = self.line.policy_version
        variant = (self.line.variant or "").strip()
        return variant in CONTINUATION_VARIANTS and version is not None and variant in (version.variant_amounts or {})

    @property
    def occupation(self) -> str:
        """The occupation's code: 电工 and 低压电工作业 are one occupation (claims/occupations.py)."""
        return self.line.occupation.code


# --------------------------------------------------------------------------- the rules


def _duplicate_in_claim(ctx: LineContext) -> Finding | None:
    if ctx.category == PolicyCategory.DEVELOPMENT:
        return None  # one contact may stand for several items (claims/standard_checks.py checks the items)
    if ctx.first_line_no != ctx.line.line_no:
        return Finding({"n": ctx.first_line_no})
    return None


def _over_yearly_quota(ctx: LineContext) -> Finding | None:
    if not ctx.is_training:
        return None
    year = ctx.line.certificate_date.year
    same_year = [record for record in ctx.history if record.year == year]
    if len(same_year) >= MAX_TRAININGS_PER_YEAR:
        return Finding({"year": year, "count": len(same_year)}, tuple(record.claim_number for record in same_year))
    return None


def _same_occupation_and_level(ctx: LineContext) -> Finding | None:
    if not ctx.is_training:
        return None
    same = [
        record
        for record in ctx.history
        if record.occupation == ctx.occupation
        and record.level == ctx.line.level
        # A continuation (S3 renewal) repeats only its own standard's earlier certificate, which it continues.
        and not (ctx.continues_earlier_certificate and record.policy_id == ctx.claim.policy_id)
    ]
    if same:
        return Finding(
            {"occupation": ctx.line.occupation.name, "level": _level_label(ctx.line.level)}, tuple(r.claim_number for r in same)
        )
    return None


def _lower_after_higher(ctx: LineContext) -> Finding | None:
    if not ctx.is_training or ctx.line.level not in LEVEL_RANK:
        return None
    rank = LEVEL_RANK[ctx.line.level]
    higher = [record for record in ctx.history if record.occupation == ctx.occupation and LEVEL_RANK.get(record.level, -1) > rank]
    if higher:
        highest = max(higher, key=lambda record: LEVEL_RANK[record.level])
        return Finding(
            {"occupation": ctx.line.occupation.name, "higher": _level_label(highest.level)}, tuple(r.claim_number for r in higher)
        )
    return None


def periods_claimed(periods: int | None) -> int:
    """The periods a line claims (none stated: one, as pricing counts it)."""
    return periods or 1


def _over_period_limit(ctx: LineContext) -> Finding | None:
    version = ctx.line.policy_version
    if version is None or not version.period or not version.max_periods:
        return None
    used = sum(n for _number, n, _year in ctx.periods_used)
    claimed = periods_claimed(ctx.line.periods)
    zh_unit, en_unit = ("个月", " month(s)") if version.period == Period.MONTH else ("年", " year(s)")
    if used + claimed > version.max_periods:
        related = tuple(number for number, _n, _year in ctx.periods_used)
        maximum = version.max_periods
        zh = f"该学员本标准已申领 {used}{zh_unit}，本行再申领 {claimed}{zh_unit}，超过最长 {maximum}{zh_unit}。"
        en = f"The trainee already has {used}{en_unit} of this standard; {claimed}{en_unit} more exceeds the limit of {maximum}{en_unit}."
        return Finding({"detail": _with_related(zh, en, related)}, related)
    # A per-year amount is paid once for a year (S10 ≤ 6000 a year): by the certificate's calendar year, as E2 counts.
    year = ctx.line.certificate_date.year
    same_year = tuple(number for number, _n, other_year in ctx.periods_used if other_year == year)
    if version.period == Period.YEAR and same_year:
        zh = f"本标准按年补贴，该学员 {year} 年已补贴。"
        en = f"This standard pays once a year: the trainee's year {year} is already paid."
        return Finding({"detail": _with_related(zh, en, same_year)}, same_year)
    return None


def _with_related(zh: str, en: str, related: tuple[str, ...]) -> Bilingual:
    """The message, ending with a lead-in to the related claims where there are any."""
    if related:
        return Bilingual(f"{zh}已申领：", f"{en} Already claimed: ")
    return Bilingual(zh, en)


def _earlier_subsidy_recovered_for_fraud(ctx: LineContext) -> Finding | None:
    if ctx.recovered_for_fraud:
        return Finding({}, tuple(ctx.recovered_for_fraud))
    return None


def claim_deadline(certificate_date: datetime.date) -> datetime.date:
    """The last day a claim may be made: 12 months after the certificate date (29 Feb → 28 Feb)."""
    try:
        return certificate_date.replace(year=certificate_date.year + CLAIM_WITHIN_MONTHS // 12)
    except ValueError:
        return certificate_date.replace(year=certificate_date.year + CLAIM_WITHIN_MONTHS // 12, day=28)


def _claimed_too_late(ctx: LineContext) -> Finding | None:
    deadline = claim_deadline(ctx.line.certificate_date)
    if ctx.as_of > deadline:
        return Finding(
            {
                "date": written_date(ctx.line.certificate_date),
                "as_of": written_date(ctx.as_of),
                "deadline": written_date(deadline),
            }
        )
    return None


def _overlapping_training(ctx: LineContext) -> Finding | None:
    if ctx.overlapping:
        return Finding(
            {"start": written_date(ctx.claim.training_start), "end": written_date(ctx.claim.training_end)},
            tuple(ctx.overlapping),
        )
    return None


def _living_allowance_without_hardship(ctx: LineContext) -> Finding | None:
    if ctx.category == PolicyCategory.LIVING_ALLOWANCE and not ctx.line.hardship_group:
        return Finding()
    return None


def _personal_certificate_after_free_training(ctx: LineContext) -> Finding | None:
    if ctx.category == PolicyCategory.PERSONAL_CERTIFICATE and ctx.line.free_training:
        return Finding()
    return None


def _certificate_claimed_already(ctx: LineContext) -> Finding | None:
    if not ctx.certificate_lines and not ctx.certificate_claims:
        return None
    lines_zh = [f"本申领第 {n} 行" for n in ctx.certificate_lines]
    lines_en = [f"line {n} of this claim" for n in ctx.certificate_lines]
    return Finding(
        {
            "number": ctx.line.certificate_number,
            "where": Bilingual("、".join(lines_zh + ctx.certificate_claims), ", ".join(lines_en + ctx.certificate_claims)),
        },
        tuple(ctx.certificate_claims),
    )


def _over_enterprise_cap(ctx: LineContext) -> Finding | None:
    version = ctx.line.policy_version
    if version is None or version.unit != PricingUnit.ENTERPRISE or not ctx.line.amount:
        return None
    cap = enterprise_cap(version)
    used = sum((amount for _number, amount in ctx.enterprise_grants), Decimal(0))
    if used + ctx.line.amount <= cap:
        return None
    related = tuple(number for number, _amount in ctx.enterprise_grants if number != ctx.claim.number)
    figures = {"cap": money_text(cap), "used": money_text(used), "left": money_text(max(cap - used, Decimal(0)))}
    figures["amount"] = money_text(ctx.line.amount)
    zh = (
        "每家企业在本标准下最高补贴 {cap}：该企业已计 {used}，尚余 {left}，本行 {amount} 超出。"
        "请驳回本行，或退回机构按尚余金额修改实际费用。"
    ).format(**figures)
    en = (
        "An enterprise is paid at most {cap} under this standard: {used} already counts for it, {left} is left, and "
        "this line's {amount} exceeds it. Reject the line, or return the claim for the cost to be lowered to what is left."
    ).format(**figures)
    return Finding({"detail": _with_related(zh, en, related)}, related)


def _item_paid_already(ctx: LineContext) -> Finding | None:
    version = ctx.line.policy_version
    if version is None or version.unit != PricingUnit.ITEM:
        return None
    variant = (ctx.line.variant or "").strip()
    same = tuple(number for number, other_variant, code in ctx.items if (other_variant, code) == (variant, ctx.occupation))
    if same:
        return Finding({"occupation": ctx.line.occupation.name}, same)
    return None


def _over_item_limit(ctx: LineContext) -> Finding | None:
    version = ctx.line.policy_version
    if version is None or version.unit != PricingUnit.ITEM or version.max_items is None or (ctx.line.variant or "").strip():
        return None
    packages = tuple(number for number, variant, _code in ctx.items if not variant)
    if len(packages) >= version.max_items:
        return Finding({"n": version.max_items, "count": len(packages)}, packages)
    return None


QUOTA_SOURCE = "000 §二(三), 001 §13, 002 §五(十九), 004 §四"

RULES: tuple[Rule, ...] = (
    Rule(
        "DUP",
        "002 §五(十九), 004 §五(三)",
        "同一学员在本申领中重复出现（见第 %(n)d 行）。",
        "The trainee appears more than once in this claim (see line %(n)d).",
        _duplicate_in_claim,
    ),
    Rule(
        "E2",
        QUOTA_SOURCE,
        "该学员 %(year)d 年已有 %(count)d 次补贴培训（每人每年不超过 3 次）：%(related)s。",
        "The trainee already has %(count)d subsidised trainings in %(year)d (at most 3 a year): %(related)s.",
        _over_yearly_quota,
    ),
    Rule(
        "E3",
        QUOTA_SOURCE,
        "该学员“%(occupation)s”%(level)s已获补贴（同一职业同一等级不可重复享受）：%(related)s。",
        "The trainee was already subsidised for %(occupation)s at level %(level)s (once per occupation and level): %(related)s.",
        _same_occupation_and_level,
    ),
    Rule(
        "N3",
        "RULES.md §6 N3（浙江）",
        "该学员“%(occupation)s”已获更高等级（%(higher)s）补贴，较低等级不再补贴：%(related)s。",
        "The trainee was already subsidised for %(occupation)s at a higher level (%(higher)s); a lower level is not subsidised: %(related)s.",
        _lower_after_higher,
    ),
    Rule(
        "N2",
        "RULES.md §6 N2（浙江、广东）",
        "证书日期 %(date)s，申领日 %(as_of)s 已超过 12 个月（最迟 %(deadline)s）。",
        "Certificate dated %(date)s: the claim of %(as_of)s is more than 12 months later (deadline %(deadline)s).",
        _claimed_too_late,
    ),
    Rule(
        "N9",
        "RULES.md §6 N9（天津）",
        "该学员同期（%(start)s 至 %(end)s）还在其他培训班：%(related)s。",
        "The trainee is in another class whose training dates overlap %(start)s to %(end)s: %(related)s.",
        _overlapping_training,
    ),
    Rule(
        "HARDSHIP",
        "002 §二(五)",
        "培训期间生活费补贴只发给困难群体：未填写困难群体类别。",
        "The living allowance during training is only for hardship groups: no hardship group is given.",
        _living_allowance_without_hardship,
    ),
    Rule(
        "E9",
        "002 §三(十三)",
        "已享受免费培训，不重复享受个人取证补贴。",
        "The training was free: no personal certificate subsidy on top of it.",
        _personal_certificate_after_free_training,
    ),
    Rule(
        "PERIODS",
        "002 §三(九)、§三(十一)",
        "%(detail)s%(related)s",
        "%(detail)s%(related)s",
        _over_period_limit,
    ),
    Rule(
        "FRAUD",
        "002 §五(十九), RULES.md M5",
        "该学员的补贴曾因虚假培训、套取骗取被全额追回，请人社局核实本行：%(related)s。",
        "A subsidy of this trainee was recovered in full for fraud; HR to check this line: %(related)s.",
        _earlier_subsidy_recovered_for_fraud,
    ),
    Rule(
        "CERT_DUP",
        "002 §五(十九), 004 §五(三)",
        "证书 %(number)s 已申领过补贴（同一证书只补贴一次）：%(where)s。",
        "Certificate %(number)s was claimed already (a certificate is subsidised once): %(where)s.",
        _certificate_claimed_already,
    ),
    Rule(
        "ENTERPRISE_CAP",
        "002 §三(十)",
        "%(detail)s%(related)s",
        "%(detail)s%(related)s",
        _over_enterprise_cap,
    ),
    Rule(
        "ITEM_DUP",
        "002 §二(六)",
        "项目“%(occupation)s”已申领过资助（每项只资助一次）：%(related)s。",
        "The item “%(occupation)s” was claimed already (each item is funded once): %(related)s.",
        _item_paid_already,
    ),
    Rule(
        "ITEMS",
        "002 §二(六)",
        "本标准最多资助 %(n)d 项，已计 %(count)d 项：%(related)s。",
        "This standard funds at most %(n)d items; %(count)d already count: %(related)s.",
        _over_item_limit,
    ),
)
RULES_BY_CODE = {rule.code: rule for rule in RULES}
ENGINE_CODES = frozenset(RULES_BY_CODE)


# --------------------------------------------------------------------------- checking a claim


def lock_trainees(claim: Claim) -> None:
    """Lock the claim's people (PostgreSQL row locks, in primary-key order so that two claims
    sharing people never deadlock): whoever counts a person's quota next waits for this
    transaction. SQLite serialises writers already (BEGIN IMMEDIATE).

    FOR NO KEY UPDATE, not FOR UPDATE: it excludes the other counters all the same, but not
    the FOR KEY SHARE lock that PostgreSQL takes on the person when another transaction
    inserts a line referring to them. Django's foreign keys are checked at commit, after that
    transaction has taken the audit ledger's lock: a FOR UPDATE here, held while this
    transaction waits for the ledger, would deadlock with it."""
    list(
        Trainee.objects.filter(pk__in=claim.lines.values("trainee_id"))
        .order_by("pk")
        .select_for_update(no_key=True)
        .values_list("pk", flat=True)
    )


def _overridden_codes(claim: Claim) -> dict[int, set[str]]:
    """Overridden flag codes by line, for every line of every person on the claim."""
    overridden: dict[int, set[str]] = defaultdict(set)
    rows = FlagOverride.objects.filter(line__trainee_id__in=claim.lines.values("trainee_id")).values_list("line_id", "code")
    for line_id, code in rows:
        overridden[line_id].add(code)
    return overridden


def _blocked(flags: Iterable[dict], overridden: set[str]) -> bool:
    return any(flag.get("code") in BLOCKING_CODES for flag in active_flags(flags, overridden))


def _counts(*, decision: str, payment_status: str, flags: Iterable[dict], overridden: set[str]) -> bool:
    """Whether a line of a submitted, not rejected or withdrawn claim counts against its person's
    quota, repeat and period rules (docs/rules.md, "what counts and why")."""
    return (
        decision != LineDecision.REJECT and payment_status not in NOT_COUNTING_PAYMENT_STATES and not _blocked(flags, overridden)
    )


def _other_lines(claim: Claim):
    """Lines of the claim's people in other claims that are submitted and not rejected or withdrawn
    (N9 sees them all; ``_counts`` decides which count for the quota)."""
    return (
        ClaimLine.objects.filter(trainee_id__in=claim.lines.values("trainee_id"))
        .exclude(claim_id=claim.pk)
        .exclude(decision=LineDecision.REJECT)
        .exclude(claim__status__in=NOT_COUNTING_STATUSES)
        .order_by("claim__submitted_at", "claim_id", "line_no")
        .values(
            "pk",
            "trainee_id",
            "occupation__code",
            "level",
            "certificate_date",
            "flags",
            "decision",
            "payment_status",
            "periods",
            "claim__number",
            "claim__training_start",
            "claim__training_end",
            "claim__policy_id",
            "claim__policy__category",
        )
    )


def mark_recovered_for_fraud(*, line: ClaimLine) -> None:
    """Mark a line whose payment was recovered in full for fraud (called by the recovery service,
    in its transaction): it no longer counts (its payment status), and the person's later lines
    are flagged FRAUD for HR."""
    flags = [flag for flag in line.flags if flag.get("code") != RECOVERED_FOR_FRAUD]
    flags.append(
        {
            "code": RECOVERED_FOR_FRAUD,
            "message": "补贴因虚假培训、套取骗取已全额追回。",
            "message_en": "The subsidy was recovered in full for fraud.",
            "source": "002 §五(十九), RULES.md M5",
        }
    )
    ClaimLine.objects.filter(pk=line.pk).update(flags=flags)
    line.flags = flags


def check_claim(*, claim: Claim, as_of: datetime.date | None = None, lock: bool | None = None) -> list[ClaimLine]:
    """Recompute the eligibility flags of every line of the claim (pricing flags are kept) and
    save those that changed; return the changed lines.

    ``as_of`` is the date the claim is made (N2): by default each line's own (the day it was
    first submitted on the claim: ClaimLine.claimed_on), today for a line not submitted yet. ``lock`` (by default: unless the claim is a draft, whose lines count for no one)
    locks the claim's people first, so that two claims for one person submitted or reviewed
    at the same moment are counted one after the other. Call it inside the transaction that
    submits or decides."""
    lines = list(claim.lines.select_related("policy_version", "occupation").order_by("line_no"))
    if not lines:
        return []
    if lock is None:
        lock = claim.status != ClaimStatus.DRAFT
    limited = {line.policy_version_id: line.policy_version for line in lines if _has_claim_limit(line.policy_version)}
    if lock:
        lock_trainees(claim)
        lock_certificates(line.certificate_key for line in lines)
        hold_advisory_locks(LIMIT_LOCK_CLASS, (_limit_name(claim, version) for version in limited.values()))
    category = claim.policy.category
    is_training = category in TRAINING_SUBSIDY_CATEGORIES
    overridden = _overridden_codes(claim)

    history: dict[int, list[Record]] = defaultdict(list)
    overlapping: dict[int, list[str]] = defaultdict(list)
    periods_used: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    recovered_for_fraud: dict[int, list[str]] = defaultdict(list)
    for other in _other_lines(claim):
        other_is_training = other["claim__policy__category"] in TRAINING_SUBSIDY_CATEGORIES
        if (
            other_is_training == is_training
            and other["claim__training_start"] <= claim.training_end
            and other["claim__training_end"] >= claim.training_start
        ):
            overlapping[other["trainee_id"]].append(other["claim__number"])
        if any(flag.get("code") == RECOVERED_FOR_FRAUD for flag in other["flags"]):
            recovered_for_fraud[other["trainee_id"]].append(other["claim__number"])
        counts = _counts(
            decision=other["decision"],
            payment_status=other["payment_status"],
            flags=other["flags"],
            overridden=overridden.get(other["pk"], set()),
        )
        if counts and other_is_training:
            history[other["trainee_id"]].append(
                Record(
                    other["claim__number"],
                    other["occupation__code"],
                    other["level"],
                    other["certificate_date"].year,
                    other["claim__policy_id"],
                )
            )
        if counts and other["claim__policy_id"] == claim.policy_id:
            periods_used[other["trainee_id"]].append(
                (other["claim__number"], periods_claimed(other["periods"]), other["certificate_date"].year)
            )

    certificates = CertificateIndex(_certificates_elsewhere(claim) if is_training else ())
    enterprise_grants, items = _limits_used_elsewhere(claim, limited.values())
    seen = CertificateIndex()  # this claim's counting lines so far, by line number (CERT_DUP)
    first_line_no: dict[int, int] = {}
    changed = []
    for line in lines:
        first_line_no.setdefault(line.trainee_id, line.line_no)
        certificate = _certificate(line)
        ctx = LineContext(
            line=line,
            claim=claim,
            category=category,
            as_of=as_of or line.claimed_on or timezone.localdate(),
            history=list(history[line.trainee_id]),
            overlapping=list(dict.fromkeys(overlapping[line.trainee_id])),
            first_line_no=first_line_no[line.trainee_id],
            periods_used=list(periods_used[line.trainee_id]),
            recovered_for_fraud=list(dict.fromkeys(recovered_for_fraud[line.trainee_id])),
            certificate_lines=seen.where_claimed(certificate),
            certificate_claims=certificates.where_claimed(certificate),
            enterprise_grants=list(enterprise_grants[line.policy_version_id]),
            items=list(items[line.policy_version_id]),
        )
        flags = [flag for flag in line.flags if flag.get("code") not in ENGINE_CODES]
        for rule in RULES:
            finding = rule.check(ctx)
            if finding is not None:
                flags.append(rule.flag(finding))
        if flags != line.flags:
            line.flags = flags
            changed.append(line)
        # Earlier lines of this claim count for the later ones, as other claims' lines do.
        if _counts(
            decision=line.decision, payment_status=line.payment_status, flags=flags, overridden=overridden.get(line.pk, set())
        ):
            if is_training:
                seen.add(certificate, line.line_no)
                history[line.trainee_id].append(
                    Record(claim.number, ctx.occupation, line.level, line.certificate_date.year, claim.policy_id)
                )
            periods_used[line.trainee_id].append((claim.number, periods_claimed(line.periods), line.certificate_date.year))
            if line.policy_version_id in limited:
                enterprise_grants[line.policy_version_id].append((claim.number, line.amount))
                items[line.policy_version_id].append((claim.number, (line.variant or "").strip(), ctx.occupation))
    if changed:
        ClaimLine.objects.bulk_update(changed, ["flags"])
    return changed


# --------------------------------------------------------------------------- a standard's own limits


def _has_claim_limit(version: PolicyVersion | None) -> bool:
    """Whether the version limits what it pays across claims: per enterprise (S13) or per item (S7)."""
    return version is not None and version.unit in (PricingUnit.ENTERPRISE, PricingUnit.ITEM)


def _limit_name(claim: Claim, version: PolicyVersion) -> str:
    """What two claims counting against one limit both lock: the enterprise's grant under the
    version, or the version's items."""
    if version.unit == PricingUnit.ENTERPRISE:
        return f"enterprise:{version.pk}:{claim.enterprise_credit_code}"
    return f"items:{version.pk}"


def _limits_used_elsewhere(claim: Claim, versions: Iterable[PolicyVersion]):
    """What other claims' counting lines used of the claim's per-enterprise and per-item versions
    (as ``_counts`` decides: submitted, not rejected, withdrawn, recovered in full or blocked):
    (claim number, amount) for the claim's enterprise, and (claim number, variant, occupation
    code) of the items, by version, in the order the claims were submitted."""
    grants: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
    items: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    versions = list(versions)
    if not versions:
        return grants, items
    item_versions = [version.pk for version in versions if version.unit == PricingUnit.ITEM]
    enterprise_versions = [version.pk for version in versions if version.unit == PricingUnit.ENTERPRISE]
    # Another enterprise's grant under the version is not this enterprise's.
    wanted = Q(policy_version__in=item_versions) | Q(
        policy_version__in=enterprise_versions, claim__enterprise_credit_code=claim.enterprise_credit_code or None
    )
    rows = (
        ClaimLine.objects.filter(wanted)
        .exclude(claim_id=claim.pk)
        .exclude(decision=LineDecision.REJECT)
        .exclude(claim__status__in=NOT_COUNTING_STATUSES)
        .order_by("claim__submitted_at", "claim_id", "line_no")
    )
    rows = list(
        rows.values(
            "pk",
            "policy_version_id",
            "amount",
            "variant",
            "occupation__code",
            "flags",
            "decision",
            "payment_status",
            "claim__number",
        )
    )
    overridden: dict[int, set[str]] = defaultdict(set)
    for line_id, code in FlagOverride.objects.filter(line_id__in=[row["pk"] for row in rows]).values_list("line_id", "code"):
        overridden[line_id].add(code)
    for row in rows:
        if not _counts(
            decision=row["decision"], payment_status=row["payment_status"], flags=row["flags"], overridden=overridden[row["pk"]]
        ):
            continue
        grants[row["policy_version_id"]].append((row["claim__number"], row["amount"]))
        items[row["policy_version_id"]].append((row["claim__number"], (row["variant"] or "").strip(), row["occupation__code"]))
    return grants, items


# --------------------------------------------------------------------------- certificates (CERT_DUP)


def _occasion(variant: str, certificate_date: datetime.date) -> str:
    """A continuation (S3 renewal) is paid once per date; the certificate itself once ("")."""
    return f"{variant} {certificate_date.isoformat()}" if variant in CONTINUATION_VARIANTS else ""


def _certificate(line: ClaimLine) -> Certificate:
    return Certificate.of(
        number=line.certificate_number,
        issuer=line.certificate_issuer,
        type=line.certificate_type,
        occasion=_occasion(line.variant, line.certificate_date),
        holder=line.trainee_id,
    )


def _certificates_elsewhere(claim: Claim) -> list[tuple[Certificate, str]]:
    """The certificates of the lines of other claims, anyone's, with a number of this claim's
    lines, that count (as for the quota, ``_counts``: submitted and not rejected or withdrawn,
    the line not rejected, not recovered in full and not blocked; training subsidies only:
    the living allowance, paid for the days of a training and not for its certificate, neither
    counts nor is counted), with their claim's number."""
    others = list(
        ClaimLine.objects.filter(certificate_key__in=claim.lines.values("certificate_key"))
        .exclude(claim_id=claim.pk)
        .exclude(decision=LineDecision.REJECT)
        .exclude(claim__status__in=NOT_COUNTING_STATUSES)
        .filter(claim__policy__category__in=TRAINING_SUBSIDY_CATEGORIES)
        .order_by("claim__submitted_at", "claim_id", "line_no")
        .values(
            "pk",
            "certificate_number",
            "certificate_issuer",
            "certificate_type",
            "trainee_id",
            "variant",
            "certificate_date",
            "flags",
            "decision",
            "payment_status",
            "claim__number",
        )
    )
    overridden: dict[int, set[str]] = defaultdict(set)
    rows = FlagOverride.objects.filter(line__certificate_key__in=claim.lines.values("certificate_key"))
    for line_id, code in rows.exclude(line__claim_id=claim.pk).values_list("line_id", "code"):
        overridden[line_id].add(code)
    return [
        (
            Certificate.of(
                number=other["certificate_number"],
                issuer=other["certificate_issuer"],
                type=other["certificate_type"],
                occasion=_occasion(other["variant"], other["certificate_date"]),
                holder=other["trainee_id"],
            ),
            other["claim__number"],
        )
        for other in others
        if _counts(
            decision=other["decision"],
            payment_status=other["payment_status"],
            flags=other["flags"],
            overridden=overridden[other["pk"]],
        )
    ]
