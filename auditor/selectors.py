"""What the auditor's workspace reads: the claims the auditor may see (search, the yearly
sample) and each claim's ledger entries replayed (timeline, state as of a day)."""

import datetime as _datetime
import random as _random
from zoneinfo import ZoneInfo as _ZoneInfo

from django.conf import settings as _settings

from claims.selectors import claim_scope, claims_in_scope, claims_visible_to, ledger_history_of_claim
from workflow import labels

# The search's order, and its keyset: last submitted first (never-submitted withdrawn drafts,
# NULL, before them, as PostgreSQL orders NULLs descending); an index range of
# (jurisdiction[, status], submitted_at, id) for the auditor's jurisdiction.
SEARCH_ORDER = ("-submitted_at", "-id")


def _local_day_start(day: _datetime.date) -> _datetime.datetime:
    return _datetime.datetime.combine(day, _datetime.time.min, tzinfo=_ZoneInfo(_settings.TIME_ZONE))


def search_claims(*, user, filters: dict):
    """The claims the user may see that match the filters (cleaned values of the search form;
    ``trainee_digest`` is the keyed digest of a resident ID number, never the number)."""
    claims = claims_in_scope(claim_scope(user)).select_related("provider", "department", "policy")
    if filters.get("provider"):
        claims = claims.filter(provider=filters["provider"])
    if filters.get("department"):
        claims = claims.filter(department=filters["department"])
    if filters.get("status"):
        claims = claims.filter(status=filters["status"])
    if filters.get("amount_min") is not None:
        claims = claims.filter(total__gte=filters["amount_min"])
    if filters.get("amount_max") is not None:
        claims = claims.filter(total__lte=filters["amount_max"])
    if filters.get("submitted_from"):
        claims = claims.filter(submitted_at__gte=_local_day_start(filters["submitted_from"]))
    if filters.get("submitted_to"):
        claims = claims.filter(submitted_at__lt=_local_day_start(filters["submitted_to"] + _datetime.timedelta(days=1)))
    if filters.get("number"):
        claims = claims.filter(number__icontains=filters["number"].strip())
    if filters.get("trainee_digest"):
        claims = claims.filter(
            pk__in=claims.model.objects.filter(lines__trainee__id_number_digest=filters["trainee_digest"]).values("pk")
        )
    return claims.order_by(*SEARCH_ORDER)


def sample_population(*, user, year: int):
    """The claims of a year (submitted in it, local time) that the user may see, in a fixed order."""
    start, end = _local_day_start(_datetime.date(year, 1, 1)), _local_day_start(_datetime.date(year + 1, 1, 1))
    return claims_visible_to(user).filter(submitted_at__gte=start, submitted_at__lt=end).order_by("number")


def draw_sample(*, user, year: int, size: int, seed: str) -> tuple[list[str], int]:
    """N claim numbers drawn from the year's population with the seed: the same seed over the
    same population gives the same sample. Returns (numbers in drawn order, population size)."""
    numbers = list(sample_population(user=user, year=year).values_list("number", flat=True))
    drawn = _random.Random(f"{year}:{seed}").sample(numbers, min(size, len(numbers)))
    return drawn, len(numbers)


def _full_lines(detail: dict):
    """The per-line summary an event carries (claim.created/edited/submitted, decisions), or None.
    claim.paid carries only line numbers and flags rechecks only flags: they are not summaries."""
    lines = (detail or {}).get("lines")
    if isinstance(lines, list) and lines and all(isinstance(item, dict) and "rule_version" in item for item in lines):
        return [
            {
                **item,
                "level_label": labels.level_label(item.get("level", "")),
                "decision_label": labels.line_decision_label(item.get("decision", "")),
            }
            for item in lines
        ]
    return None


def claim_as_of(*, user, claim, day: _datetime.date) -> dict:
    """The claim as it stood at the end of ``day`` (local time), replayed from the ledger: the
    status is the to_state of the last event up to then that carries one, the lines those of the
    latest line summary up to then."""
    end = _local_day_start(day + _datetime.timedelta(days=1))
    events = list(ledger_history_of_claim(user=user, claim=claim).filter(at__lt=end))
    state_event = next((event for event in reversed(events) if event.to_state), None)
    lines_event = next((event for event in reversed(events) if _full_lines(event.detail)), None)
    return {
        "day": day,
        "until": end,
        "existed": bool(events),
        "events": events,
        "status": state_event.to_state if state_event else "",
        "state_event": state_event,
        "lines": _full_lines(lines_event.detail) if lines_event else [],
        "lines_event": lines_event,
        "total": (lines_event.detail.get("total") if lines_event else None),
    }


def _diff(field: str, before, after, *, line=None) -> dict:
    """One changed field, named and valued as people read them (the raw code stays in the ledger)."""
    name = labels.fix_field_label(field)  # a line's field or the claim's (class name, dates, total)
    return {
        "field": f"#{line} {name}" if line is not None else name,
        "before": labels.line_value_label(field, before),
        "after": labels.line_value_label(field, after),
    }


def timeline(*, user, claim) -> list[dict]:
    """Every event of the claim the user may read, oldest first, with what the timeline page shows of it."""
    rows = []
    for event in ledger_history_of_claim(user=user, claim=claim):
        detail = event.detail or {}
        diffs = []
        if isinstance(detail.get("before"), dict) and isinstance(detail.get("after"), dict):
            before, after = detail["before"], detail["after"]
            for key in sorted(set(before) | set(after)):
                if before.get(key) != after.get(key):
                    diffs.append(_diff(key, before.get(key), after.get(key)))
        for change in detail.get("line_changes") or []:
            if isinstance(change, dict) and isinstance(change.get("before"), dict) and isinstance(change.get("after"), dict):
                for key in sorted(set(change["before"]) | set(change["after"])):
                    diffs.append(_diff(key, change["before"].get(key), change["after"].get(key), line=change.get("line")))
        rows.append(
            {
                "event": event,
                "diffs": diffs,
                "lines": _full_lines(detail) or [],
                "line_decisions": [
                    {
                        **item,
                        "decision_label": labels.line_decision_label(item.get("decision", "")),
                        "reason_label": labels.reason_label(item.get("reason", "")),
                    }
                    for item in detail.get("line_decisions") or []
                    if isinstance(item, dict)
                ],
                "decision": labels.decision_label(detail.get("decision", "")),
                "step": labels.step_label(detail.get("step", "")),
                "reason_code": labels.reason_label(detail.get("reason_code", "")),
                "from_label": labels.status_label(event.from_state),
                "to_label": labels.status_label(event.to_state),
            }
        )
    return rows


def rule_versions(*, claim, rows: list[dict]) -> dict:
    """The rule versions that priced the lines: now (the current lines) and as the events recorded them."""
    current = [
        {
            "line": line.line_no,
            "rule_version": str(line.policy_version) if line.policy_version else None,
            "demo_only": bool(line.policy_version and line.policy_version.demo_only),
            "amount": line.amount,
        }
        for line in claim.lines.select_related("policy_version__policy")
    ]
    recorded = sorted({item.get("rule_version") for row in rows for item in row["lines"] if item.get("rule_version")})
    return {"current": current, "recorded": recorded}


def before_the_money(*, claim) -> dict:
    """What an auditor asks for before the money (RULES.md N10): the claim's filed class, each
    line's attendance in it, and each line's latest certificate check at its source."""
    from claims.certificate_checks import latest_checks
    from claims.classes import class_attendance

    training_class = claim.training_class
    attendance = class_attendance(training_class) if training_class is not None else None
    checks = latest_checks(claim)
    lines = []
    for line in claim.lines.select_related("trainee").order_by("line_no"):
        lines.append(
            {
                "line": line.line_no,
                "trainee": line.trainee.id_number_masked,
                "certificate_number": line.certificate_number,
                "check": checks.get(line.pk),
                "present": attendance.days_present(line.trainee_id) if attendance is not None else None,
                "days": attendance.days_taught if attendance is not None else None,
            }
        )
    return {"training_class": training_class, "lines": lines}
