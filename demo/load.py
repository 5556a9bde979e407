"""Years of claims for benchmarks (manage.py generate_load): rows shaped like those the services
leave, written through PostgreSQL's COPY in batches, never one ORM call per claim.

What a claim run through workflow.services leaves, and so what is written here for each claim:
the claim and its lines (trainees with their ID numbers encrypted, masked and digested as
claims/personal_data.py does, computed in bulk); viewflow's process and tasks (start, human steps,
switches, end) with their links, for the claim's state; guardian's object permissions (the
provider's clerks always, the department's reviewers once submitted); the ledger entries of each
step, chained after the existing ledger with audit's own canonical form and hash; the inbox rows
and duties (workflow/inbox.py's read model) as refresh_inbox writes them.

Funds: every department gets seed_demo's plan and allocation of this year (demo/funds.py), so that
claims decided on the generated data can be approved; the generated approved lines carry their
payment status but reserve nothing in them. Not written: payment batches
and their entries, notifications. Later ledger entries of a claim give its total, not its line list
(the service's entries repeat the lines: three times the ledger's bytes for nothing a benchmark reads).
"""

import base64
import datetime
import functools
import gc
import hashlib
import hmac
import json
import multiprocessing
import os
import random
import struct
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.db import connection, connections, transaction
from django.utils import timezone
from viewflow.workflow.models import Process, Task

from audit import actions
from audit.models import AuditEvent
from audit.services import LEDGER_LOCK_KEY, _head, body_of, canonical_json, record_events, to_canonical_value
from claims import roles
from claims.dates import local_date
from claims.models import (
    Claim,
    ClaimGroupObjectPermission,
    ClaimLine,
    ClaimStatus,
    Department,
    Jurisdiction,
    LineDecision,
    Occupation,
    PaymentStatus,
    PolicyVersion,
    Provider,
    Trainee,
)
from claims.organisation import ensure_department, ensure_provider
from claims.validators import credit_code_check_char, resident_id_check_char
from demo.funds import ensure_demo_funds
from workflow.deadlines import Deadlines, due_date
from workflow.flows import ClaimFlow
from workflow.models import ClaimDuty, InboxItem
from workflow.services import DECISION_ACTION
from workflow.steps import STEPS

# The final states of claims and their shares (most finished; about 7% open at some step).
STATE_SHARES = (
    (ClaimStatus.PAID, 0.75),
    (ClaimStatus.REJECTED, 0.10),
    (ClaimStatus.WITHDRAWN, 0.04),
    (ClaimStatus.DRAFT, 0.02),
    (ClaimStatus.DEPARTMENT_REVIEW, 0.03),
    (ClaimStatus.HR_REVIEW, 0.02),
    (ClaimStatus.HR_HEAD_APPROVAL, 0.005),
    (ClaimStatus.RETURNED, 0.01),
    (ClaimStatus.APPROVED, 0.015),
    (ClaimStatus.IN_PAYMENT, 0.01),
)
# Claims per jurisdiction (by code): the demo's own city holds most.
JURISDICTION_SHARES = (("WL", 0.7), ("YH", 0.3))
# Standards lines are priced by (per person, paid to the provider); S9 for claims above the HR head's threshold.
STANDARDS = (("S1", 0.6), ("S3", 0.3), ("S5", 0.1))
HIGH_STANDARD = "S9"
FLOW = "claim_workflow/flows.ClaimFlow"
YEARS_BACK = 3
BATCH = 10_000

NO_FIX = {"lines": [], "fields": []}


def flow_task(name: str) -> str:
    return f"{FLOW}.{name}"


@functools.cache
def node_type(name: str) -> str:
    task_node = getattr(ClaimFlow, name)
    return {"StartHandle": "START", "Switch": "SWITCH", "End": "END"}.get(type(task_node).__name__, "HUMAN")


# --------------------------------------------------------------------------- personal data in bulk


class IdNumberCipher:
    """claims.personal_data's Fernet tokens and digests for many ID numbers at once. A Fernet token is
    AES-128-CBC under a random IV, then HMAC-SHA256: an 18-digit number pads to two blocks, so the
    first blocks of all tokens are one ECB pass (P1 xor IV), the second blocks another (P2 xor C1).
    claims.personal_data.decrypt_id_number reads them (tests/test_generate_load.py)."""

    def __init__(self):
        key = hashlib.sha256(settings.PII_ENCRYPTION_KEY.encode()).digest()
        self.signing_key, encryption_key = key[:16], key[16:]
        self.ecb = Cipher(algorithms.AES(encryption_key), modes.ECB())
        self.digest_key = settings.PII_HASH_KEY.encode()

    def digests(self, numbers: list[str]) -> list[str]:
        key, digest = self.digest_key, hmac.digest  # hmac.new(...).hexdigest()'s value in one C call
        return [digest(key, number.encode(), "sha256").hex() for number in numbers]

    def tokens(self, numbers: list[str]) -> list[str]:
        padded = []
        for number in numbers:
            data = number.encode()
            pad = 16 - len(data) % 16
            padded.append(data + bytes([pad]) * pad)
        if any(len(item) != 32 for item in padded):
            raise ValueError("ID numbers of 16 to 31 bytes only")
        ivs = os.urandom(16 * len(numbers))
        first = b"".join(_xor(padded[i][:16], ivs[16 * i : 16 * i + 16]) for i in range(len(numbers)))
        encryptor = self.ecb.encryptor()
        c1 = encryptor.update(first)
        second = b"".join(_xor(padded[i][16:], c1[16 * i : 16 * i + 16]) for i in range(len(numbers)))
        c2 = encryptor.update(second) + encryptor.finalize()
        stamp = struct.pack(">Q", int(time.time()))
        tokens = []
        for i in range(len(numbers)):
            body = b"\x80" + stamp + ivs[16 * i : 16 * i + 16] + c1[16 * i : 16 * i + 16] + c2[16 * i : 16 * i + 16]
            tokens.append(base64.urlsafe_b64encode(body + hmac.digest(self.signing_key, body, "sha256")).decode())
        return tokens


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a) ^ int.from_bytes(b)).to_bytes(16)


REGIONS = ("331081", "331021", "331002", "331003", "331004", "331082", "331022", "331023")
BIRTH_FROM = datetime.date(1965, 1, 1)
BIRTH_DAYS = 365 * 40


def resident_id(serial: int) -> str:
    """A valid resident ID number, one per serial (a trainee's id): region, birth date, sequence."""
    sequence, rest = serial % 1000, serial // 1000
    birth = BIRTH_FROM + datetime.timedelta(days=rest % BIRTH_DAYS)
    first17 = f"{REGIONS[(rest // BIRTH_DAYS) % len(REGIONS)]}{birth:%Y%m%d}{sequence:03d}"
    return first17 + resident_id_check_char(first17)


def money(amount: Decimal) -> str:
    """An amount as the ledger's canonical form writes it (audit.services.to_canonical_value)."""
    return f"{amount:.2f}"


def masked(number: str) -> str:
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


# --------------------------------------------------------------------------- the organisation


@dataclass
class Org:
    """Who and what the generated claims are spread over (read once)."""

    jurisdictions: dict = field(default_factory=dict)  # code -> Jurisdiction
    departments: dict = field(default_factory=dict)  # jurisdiction code -> [Department]
    providers: dict = field(default_factory=dict)  # jurisdiction code -> [Provider]
    clerks: dict = field(default_factory=dict)  # provider id -> [user]
    reviewers: dict = field(default_factory=dict)  # department id -> [user]
    hr_reviewers: dict = field(default_factory=dict)  # jurisdiction id -> [user]
    hr_heads: dict = field(default_factory=dict)
    finance: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)  # (jurisdiction id, code) -> [PolicyVersion]
    occupations: list = field(default_factory=list)  # [(id, name)]
    perms: dict = field(default_factory=dict)  # codename -> permission id


def _credit_code(jurisdiction_code: str, n: int) -> str:
    base = f"913310{81 if jurisdiction_code == 'WL' else 21}MA{n:07d}"
    return base + credit_code_check_char(base)


def ensure_organisation(*, providers: int, password: str) -> Org:
    """Departments in every demo jurisdiction, ``providers`` providers spread over them, and a clerk,
    reviewers, HR staff and finance officers for them (bulk-created, with their ledger entries)."""
    from demo.management.commands.seed_demo import WENLING_DEPARTMENTS
    from demo.management.commands.seed_demo import Command as SeedDemo

    jurisdictions = {j.code: j for j in Jurisdiction.objects.filter(code__in=[code for code, _ in JURISDICTION_SHARES])}
    if len(jurisdictions) != len(JURISDICTION_SHARES):
        raise ValueError("run seed_demo first: the demo jurisdictions are missing")
    with transaction.atomic():
        for code, jurisdiction in jurisdictions.items():
            if not jurisdiction.policies.exists():
                SeedDemo()._seed_catalogue(jurisdiction)  # the neighbour's catalogue, as the demo's own
            for department_code, name, sector in WENLING_DEPARTMENTS:
                if code != "WL":
                    ensure_department(
                        jurisdiction=jurisdiction, code=department_code.replace("WL-", f"{code}-"), name=name, sector=sector
                    )
        shares = dict(JURISDICTION_SHARES)
        for code, jurisdiction in jurisdictions.items():
            wanted = max(2, round(providers * shares[code]))
            have = Provider.objects.filter(jurisdiction=jurisdiction, code__startswith=f"LOAD-{code}-").count()
            for n in range(have + 1, wanted + 1):
                ensure_provider(
                    jurisdiction=jurisdiction,
                    code=f"LOAD-{code}-P{n:04d}",
                    name=f"{jurisdiction.name}第{n}职业技能培训学校",
                    credit_code=_credit_code(code, n),
                )
        _ensure_staff(jurisdictions, password)
        for jurisdiction in jurisdictions.values():
            # This year's accepted plan and allocation for every department (seed_demo's demo
            # figures, not a seed's): an HR approval reserves its lines against them.
            ensure_demo_funds(jurisdiction=jurisdiction)
    return read_organisation(jurisdictions)


def _ensure_staff(jurisdictions: dict, password: str) -> None:
    """One clerk per provider and one reviewer per department that have none, two HR reviewers, an
    HR head and a finance officer per jurisdiction: created in bulk (one password hash for all)."""
    User = get_user_model()
    wanted = []  # (username, role, scope group)
    for code, jurisdiction in jurisdictions.items():
        for provider in Provider.objects.filter(jurisdiction=jurisdiction).select_related("staff_group"):
            wanted.append((f"load_clerk_{provider.code.lower()}", roles.PROVIDER_CLERK, provider.staff_group))
        for department in Department.objects.filter(jurisdiction=jurisdiction).select_related("staff_group"):
            wanted.append((f"load_reviewer_{department.code.lower()}", roles.DEPARTMENT_REVIEWER, department.staff_group))
        for role in (roles.HR_REVIEWER, roles.HR_REVIEWER, roles.HR_HEAD, roles.FINANCE_OFFICER):
            n = sum(1 for name, r, _g in wanted if r == role and name.startswith(f"load_{role}_{code.lower()}"))
            wanted.append((f"load_{role}_{code.lower()}_{n + 1}", role, jurisdiction.staff_group))
    existing = set(User.objects.filter(username__in=[name for name, _r, _g in wanted]).values_list("username", flat=True))
    missing = [item for item in wanted if item[0] not in existing]
    if not missing:
        return
    hashed = make_password(password)
    users = User.objects.bulk_create(
        [User(username=name, password=hashed, email=f"{name}@load.invalid", is_active=True) for name, _r, _g in missing]
    )
    role_groups = {group.name: group for group in Group.objects.filter(name__in=roles.ALL_ROLES)}
    for role in {role for _n, role, _g in missing} - set(role_groups):
        role_groups[role] = Group.objects.create(name=role)
    through = User.groups.through
    through.objects.bulk_create(
        [through(user_id=user.pk, group_id=role_groups[role].pk) for user, (_n, role, _g) in zip(users, missing, strict=True)]
        + [through(user_id=user.pk, group_id=group.pk) for user, (_n, _r, group) in zip(users, missing, strict=True)]
    )
    record_events(
        [
            {
                "actor": None,
                "action": actions.USER_CREATED,
                "obj": user,
                "detail": {"username": user.username, "groups": sorted([role, group.name]), "email": user.email},
            }
            for user, (_n, role, group) in zip(users, missing, strict=True)
        ]
    )


def read_organisation(jurisdictions: dict) -> Org:
    org = Org(jurisdictions=jurisdictions)
    User = get_user_model()
    by_group: dict[int, list] = {}
    role_of: dict[int, set] = {}
    for user_id, username, group_name, group_id in User.objects.filter(is_active=True).values_list(
        "pk", "username", "groups__name", "groups__pk"
    ):
        if group_name in roles.ALL_ROLES:
            role_of.setdefault(user_id, set()).add(group_name)
        elif group_id is not None:
            by_group.setdefault(group_id, []).append((user_id, username))

    def staff(group_id, role):
        return sorted(user for user in by_group.get(group_id, []) if role in role_of.get(user[0], ()))

    for code, jurisdiction in jurisdictions.items():
        org.departments[code] = [
            d for d in Department.objects.filter(jurisdiction=jurisdiction) if staff(d.staff_group_id, roles.DEPARTMENT_REVIEWER)
        ]
        org.providers[code] = [
            p for p in Provider.objects.filter(jurisdiction=jurisdiction) if staff(p.staff_group_id, roles.PROVIDER_CLERK)
        ]
        for department in org.departments[code]:
            org.reviewers[department.pk] = staff(department.staff_group_id, roles.DEPARTMENT_REVIEWER)
        for provider in org.providers[code]:
            org.clerks[provider.pk] = staff(provider.staff_group_id, roles.PROVIDER_CLERK)
        for target, role in (
            (org.hr_reviewers, roles.HR_REVIEWER),
            (org.hr_heads, roles.HR_HEAD),
            (org.finance, roles.FINANCE_OFFICER),
        ):
            target[jurisdiction.pk] = staff(jurisdiction.staff_group_id, role)
            if not target[jurisdiction.pk]:
                raise ValueError(f"no {role} in {code}")
        for standard in [code for code, _ in STANDARDS] + [HIGH_STANDARD]:
            org.versions[(jurisdiction.pk, standard)] = list(
                PolicyVersion.objects.filter(policy__jurisdiction=jurisdiction, policy__code=standard)
                .select_related("policy")
                .order_by("valid_from")
            )
    org.occupations = list(Occupation.objects.filter(active=True).order_by("code").values_list("pk", "name"))
    org.perms = dict(
        Permission.objects.filter(content_type__app_label="claims", content_type__model="claim").values_list("codename", "pk")
    )
    return org


# --------------------------------------------------------------------------- one claim's story


@dataclass
class Step:
    """A human step done (or open) on the claim's path."""

    name: str
    outcome: str  # approve, return, reject, resubmit, paid, submit; "" while open; canceled


def path_of(state: str, rng: random.Random, *, needs_head: bool) -> tuple[list[Step], str | None]:
    """The human steps a claim in ``state`` went through, and how its process ended ('paid',
    'rejected', 'canceled', or None while open)."""
    steps = [Step("submit", "submit")]
    if rng.random() < 0.08 and state not in (ClaimStatus.DRAFT,):
        steps += [Step("department_review", "return"), Step("correction", "resubmit")]
    dept = Step("department_review", "approve")
    hr = Step("hr_review", "approve")
    head = [Step("hr_head_approval", "approve")] if needs_head else []
    if state == ClaimStatus.DEPARTMENT_REVIEW:
        return steps + [Step("department_review", "")], None
    if state == ClaimStatus.HR_REVIEW:
        return steps + [dept, Step("hr_review", "")], None
    if state == ClaimStatus.HR_HEAD_APPROVAL:
        return steps + [dept, hr, Step("hr_head_approval", "")], None
    if state == ClaimStatus.RETURNED:
        returner = rng.choice(["department_review", "hr_review"])
        before = [dept] if returner == "hr_review" else []
        return steps + before + [Step(returner, "return"), Step("correction", "")], None
    if state == ClaimStatus.WITHDRAWN:  # withdrawn after a return (drafts withdrawn have no process)
        return steps + [Step("department_review", "return"), Step("correction", "canceled")], "canceled"
    if state == ClaimStatus.REJECTED:
        if rng.random() < 0.6:
            return steps + [Step("department_review", "reject")], "rejected"
        return steps + [dept, Step("hr_review", "reject")], "rejected"
    if state in (ClaimStatus.APPROVED, ClaimStatus.IN_PAYMENT):
        return steps + [dept, hr] + head + [Step("disbursement", "")], None
    if state == ClaimStatus.PAID:
        return steps + [dept, hr] + head + [Step("disbursement", "paid")], "paid"
    raise ValueError(state)


# What a step's outcome leads to: the switch after it, and the claim's status after it.
SWITCH_AFTER = {
    "department_review": "after_department_review",
    "hr_review": "after_hr_review",
    "hr_head_approval": "after_hr_head_approval",
    "correction": "back_to_returning_step",
    "disbursement": "after_disbursement",
}


def status_after(step: Step, next_step: Step | None, end: str | None) -> str:
    if next_step is not None:
        return STEPS[next_step.name].claim_status if next_step.name != "disbursement" else ClaimStatus.APPROVED
    return {"paid": ClaimStatus.PAID, "rejected": ClaimStatus.REJECTED, "canceled": ClaimStatus.WITHDRAWN}.get(end, "")


# --------------------------------------------------------------------------- ids, COPY


def sequence_of(cursor, table: str, column: str = "id") -> str:
    cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
    return cursor.fetchone()[0]


def catch_up_sequence(cursor, table: str, column: str = "id") -> None:
    """The table's sequence past its highest id (rows written with their own ids), so that
    ``reserve_ids`` need not read the table: done once before a load."""
    sequence = sequence_of(cursor, table, column)
    cursor.execute(
        f"SELECT setval(%s, GREATEST((SELECT COALESCE(MAX({column}), 0) FROM {table}), (SELECT last_value FROM {sequence}), 1))",
        [sequence],
    )


def reserve_ids(cursor, table: str, count: int, column: str = "id") -> int:
    """The first of ``count`` ids taken from the table's sequence (no one else gets them). Reads
    the sequence only: the writer may hold the table locked (a test's transaction)."""
    sequence = sequence_of(cursor, table, column)
    cursor.execute("SELECT nextval(%s)", [sequence])
    first = cursor.fetchone()[0]
    cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return first


COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_str(value: str) -> str:
    # str.translate with a table walks every character in Python's slow path (about 4 µs a name):
    # four substring tests first, as almost no value holds one of the four.
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(COPY_ESCAPES)
    return value


def _copy_iso(value) -> str:  # dates, and times with their offset when aware: ISO 8601
    return value.isoformat()


class _FormatsByType(dict):
    """A subclass (a TextChoices value is a str) takes its base's format, remembered."""

    def __missing__(self, kind):
        for base in kind.__mro__[1:]:
            if base in self:
                self[kind] = self[base]
                return self[kind]
        raise KeyError(kind)


# The COPY text of a value by its type (a dictionary lookup per value: the load formats hundreds
# of millions of them).
COPY_FORMATS = _FormatsByType(
    {
        int: str,
        Decimal: str,
        str: _copy_str,
        bool: lambda value: "t" if value else "f",
        type(None): lambda value: "\\N",
        datetime.datetime: _copy_iso,
        datetime.date: _copy_iso,
    }
)


def copy_value(value) -> str:
    """One value in COPY's text format (PostgreSQL's docs, COPY, "Text Format")."""
    try:
        return COPY_FORMATS[type(value)](value)
    except KeyError:
        raise TypeError(f"no COPY text for {type(value).__name__}") from None


def copy_text(rows: list) -> bytes:
    """Rows as COPY's text format takes them: made by the producer thread, so that the writer only
    sends bytes (the GIL free while PostgreSQL works)."""
    formats = COPY_FORMATS
    try:
        return "".join(["\t".join([formats[type(value)](value) for value in row]) + "\n" for row in rows]).encode()
    except KeyError as unknown:
        raise TypeError(f"no COPY text for {unknown}") from None


def _iso_or_null(value) -> str:
    return "\\N" if value is None else value.isoformat()


def _int_or_null(value) -> str:
    return "\\N" if value is None else str(value)


def task_text(rows: list) -> bytes:
    """copy_text of TASK_COLUMNS rows (the most numerous with the lines), by position: ints, the
    code's own names and statuses (nothing to escape), times, and no per-value lookup."""
    iso, null_int = _iso_or_null, _int_or_null
    return "".join(
        [
            f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4].isoformat()}\t{iso(r[5])}\t{iso(r[6])}\t{iso(r[7])}\t{r[8]}\t"
            f"{null_int(r[9])}\t{r[10]}\t{r[11]}\n"
            for r in rows
        ]
    ).encode()


def line_text(rows: list) -> bytes:
    """copy_text of LINE_COLUMNS rows, by position (the texts read from the catalogue escaped)."""
    text, boolean, iso = _copy_str, {True: "t", False: "f"}, _iso_or_null
    return "".join(
        [
            f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\t{text(r[5])}\t{text(r[6])}\t{text(r[7])}\t{text(r[8])}\t"
            f"{text(r[9])}\t{r[10].isoformat()}\t{r[11]}\t{r[12]}\t{text(r[13])}\t{text(r[14])}\t{boolean[r[15]]}\t"
            f"{text(r[16])}\t{boolean[r[17]]}\t{r[18]}\t{r[19]}\t{text(r[20])}\t{text(r[21])}\t{r[22]}\t{r[23]}\t{r[24]}\t"
            f"{r[25]}\t{text(r[26])}\t{iso(r[27])}\n"
            for r in rows
        ]
    ).encode()


def int_text(rows: list) -> bytes:
    """copy_text of rows of integers (and the code's own names: duties)."""
    return "".join(["\t".join(map(str, row)) + "\n" for row in rows]).encode()


def copy_rows(cursor, table: str, columns: tuple, data: bytes) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(data)


# --------------------------------------------------------------------------- generation


@dataclass
class Batch:
    processes: list = field(default_factory=list)
    claims: list = field(default_factory=list)
    trainees: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    tasks: list = field(default_factory=list)
    links: list = field(default_factory=list)
    perms: list = field(default_factory=list)
    events: list = field(default_factory=list)  # (claim id, jurisdiction id and code, number, at, actor, action...)
    items: list = field(default_factory=list)
    duties: list = field(default_factory=list)


@dataclass
class Job:
    """A batch planned by the writer: its index (the order it is written in), its random numbers'
    generator (in the state the plan left it), the claims' plans and the first of each table's ids."""

    index: int
    rng: random.Random
    plans: list
    claim_id: int
    line_id: int
    trainee_id: int
    task_id: int
    process_id: int


PROCESS_COLUMNS = ("id", "flow_class", "status", "created", "finished", "data")
CLAIM_COLUMNS = (
    "id", "number", "jurisdiction_id", "provider_id", "department_id", "policy_id", "class_name", "training_start",
    "training_end", "enterprise_name", "enterprise_credit_code", "status", "total", "created_by_id", "created_at",
    "submitted_at", "process_id",
)  # fmt: skip
TRAINEE_COLUMNS = ("id", "id_number_digest", "id_number_masked", "id_number_encrypted")
LINE_COLUMNS = (
    "id", "claim_id", "line_no", "trainee_id", "occupation_id", "level", "certificate_type", "certificate_number",
    "certificate_issuer", "certificate_key", "certificate_date", "training_days", "stated_cost", "variant",
    "hardship_group", "free_training", "target_group", "chief_technician_filed", "amount", "policy_version_id",
    "explanation", "explanation_en", "flags", "decision", "decision_reason", "payment_status", "name", "claimed_on",
)  # fmt: skip
TASK_COLUMNS = (
    "id", "flow_task", "flow_task_type", "status", "created", "assigned", "started", "finished", "token", "owner_id",
    "process_id", "data",
)  # fmt: skip
LINK_COLUMNS = ("from_task_id", "to_task_id")
PERM_COLUMNS = ("content_object_id", "group_id", "permission_id")
# The ledger's columns as chain_ledger writes them: the detail is the payload's own canonical text
# of it (PostgreSQL parses it into jsonb; it equals the payload's ``detail``).
EVENT_COLUMNS = (
    "seq", "at", "actor_id", "actor_username", "action", "object_type", "object_id", "claim_id", "jurisdiction_id",
    "from_state", "to_state", "reason", "payload", "prev_hash", "hash", "detail",
)  # fmt: skip
ITEM_COLUMNS = (
    "task_id", "claim_id", "step", "status", "owner_id", "jurisdiction_id", "department_id", "provider_id",
    "claim_number", "class_name", "submitted", "amount", "flagged_lines", "created", "due", "resubmitted", "changes",
    "duties", "escalated",
)  # fmt: skip
DUTY_COLUMNS = ("claim_id", "user_id", "duty")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


class Generator:
    def __init__(self, org: Org, *, seed: int, now: datetime.datetime | None = None):
        self.org = org
        self.rng = random.Random(seed)  # the batch's own while its rows are made (rows)
        self.seed = seed
        self.now = now or timezone.now()
        self.cipher = IdNumberCipher()
        self.states = [state for state, _ in STATE_SHARES]
        self.state_weights = [share for _, share in STATE_SHARES]
        self.jurisdiction_codes = [code for code, _ in JURISDICTION_SHARES]
        self.jurisdiction_weights = [share for _, share in JURISDICTION_SHARES]
        self.standards = [code for code, _ in STANDARDS]
        self.standard_weights = [share for _, share in STANDARDS]
        self.group_names = dict(Group.objects.values_list("pk", "name"))
        self.usernames = dict(get_user_model().objects.values_list("pk", "username"))
        self.ledger_head: tuple[int, str] | None = None  # (seq, hash) the next entry follows: set by generate
        self.deadlines = Deadlines()  # each jurisdiction's calendar read once

    def warm(self) -> None:
        """Before the workers start: check the ledger's body (check_ledger_body), and read now what
        making rows would read later (the calendars and time limits of every jurisdiction, over
        every year a task's due date can fall in): workers make rows without the database."""
        check_ledger_body()
        for jurisdiction in self.org.jurisdictions.values():
            calendar = self.deadlines.calendar(jurisdiction.pk)
            for year in range(local_date(self.now).year - YEARS_BACK - 1, local_date(self.now).year + 2):
                calendar.is_working(datetime.date(year, 1, 1))
            self.deadlines.working_days("department_review", jurisdiction.pk)

    # ---- one batch of claims: its plan (in the writer, which reserves the ids), then its rows (in a worker)
    def plan(self, index: int, count: int, cursor) -> "Job":
        """What the ``index``-th batch's claims are (state, path, how many lines and tasks) and the ids
        reserved for their rows. The batch's random numbers come from its own generator, seeded by the
        load's seed and the batch's index: the same data whichever worker builds which batch."""
        rng = random.Random(f"{self.seed}/{index}")
        plans = []
        line_total = task_total = process_total = 0
        for _ in range(count):
            state = rng.choices(self.states, self.state_weights)[0]
            code = rng.choices(self.jurisdiction_codes, self.jurisdiction_weights)[0]
            jurisdiction = self.org.jurisdictions[code]
            needs_head = state in (ClaimStatus.HR_HEAD_APPROVAL,) or (
                state in (ClaimStatus.APPROVED, ClaimStatus.IN_PAYMENT, ClaimStatus.PAID) and rng.random() < 0.02
            )
            withdrawn_draft = state == ClaimStatus.WITHDRAWN and rng.random() < 0.5
            if state == ClaimStatus.DRAFT or withdrawn_draft:
                path, end = [], ("withdrawn" if withdrawn_draft else None)
            else:
                path, end = path_of(state, rng, needs_head=needs_head)
            lines = rng.randint(3, 10) if needs_head else rng.randint(1, 10)
            tasks = sum(1 + (step.name in SWITCH_AFTER and step.outcome not in ("", "canceled")) for step in path) + (
                end in ("paid", "rejected")
            )
            plans.append((state, jurisdiction.code, needs_head, path, end, lines, tasks))
            line_total += lines
            task_total += tasks
            process_total += bool(path)
        return Job(
            index=index,
            rng=rng,
            plans=plans,
            claim_id=reserve_ids(cursor, "claims_claim", count),
            line_id=reserve_ids(cursor, "claims_claimline", line_total),
            trainee_id=reserve_ids(cursor, "claims_trainee", (line_total + 1) // 2),
            task_id=reserve_ids(cursor, "viewflow_task", task_total),
            process_id=reserve_ids(cursor, "viewflow_process", process_total),
        )

    def rows(self, job: "Job") -> Batch:
        """The rows of a planned batch (no database: a worker process makes them)."""
        self.rng = job.rng
        claim_id, line_id, trainee_id = job.claim_id, job.line_id, job.trainee_id
        task_id, process_id = job.task_id, job.process_id
        out = Batch()
        pool = (sum(plan[5] for plan in job.plans) + 1) // 2
        self._trainees(out, trainee_id, pool)
        line_index = 0
        for state, code, needs_head, path, end, lines, _tasks in job.plans:
            pid = process_id if path else None
            process_id += bool(path)
            task_id = self._claim(
                out,
                claim_id=claim_id,
                state=state,
                jurisdiction=self.org.jurisdictions[code],
                needs_head=needs_head,
                path=path,
                end=end,
                lines=lines,
                first_line_id=line_id,
                line_index=line_index,
                trainee_base=trainee_id,
                pool=pool,
                process_id=pid,
                task_id=task_id,
            )
            claim_id += 1
            line_id += lines
            line_index += lines
        return out

    def _trainees(self, out: Batch, first_id: int, count: int) -> None:
        rng = self.rng
        numbers = []
        names = []
        for i in range(count):
            numbers.append(resident_id(first_id + i))
            names.append(rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else ""))
        digests = self.cipher.digests(numbers)
        tokens = self.cipher.tokens(numbers)
        self._masked = {}
        self._names = {}  # the name each line of this person is typed with (ClaimLine.name)
        for i in range(count):
            masked_number = masked(numbers[i])
            self._masked[first_id + i] = masked_number
            self._names[first_id + i] = names[i]
            out.trainees.append((first_id + i, digests[i], masked_number, tokens[i]))

    def _version(self, jurisdiction, standard: str, day: datetime.date):
        for version in reversed(self.org.versions[(jurisdiction.pk, standard)]):
            if version.valid_from <= day and (version.valid_to is None or day <= version.valid_to):
                return version
        return self.org.versions[(jurisdiction.pk, standard)][-1]

    def _claim(
        self,
        out,
        *,
        claim_id,
        state,
        jurisdiction,
        needs_head,
        path,
        end,
        lines,
        first_line_id,
        line_index,
        trainee_base,
        pool,
        process_id,
        task_id,
    ) -> int:
        rng, org = self.rng, self.org
        code = jurisdiction.code
        department = rng.choice(org.departments[code])
        provider = rng.choice(org.providers[code])
        clerk = rng.choice(org.clerks[provider.pk])
        open_claim = end is None and state != ClaimStatus.DRAFT
        if state == ClaimStatus.DRAFT or open_claim:
            created = self.now - datetime.timedelta(days=rng.uniform(1, 20))
        else:
            created = self.now - datetime.timedelta(days=rng.uniform(60, 365 * YEARS_BACK))
        certificate_date = local_date(created - datetime.timedelta(days=rng.randint(10, 120)))
        training_end = certificate_date - datetime.timedelta(days=rng.randint(3, 20))
        training_start = training_end - datetime.timedelta(days=rng.randint(5, 30))
        standard = HIGH_STANDARD if needs_head else rng.choices(self.standards, self.standard_weights)[0]
        version = self._version(jurisdiction, standard, certificate_date)
        levels = sorted(key for key in version.amount_by_level if key != "*") or ["senior"]
        certificate_type = (version.certificate_types or ["skill_level"])[0]
        occupation_id, occupation_name = rng.choice(org.occupations)
        number = f"{code}-{local_date(created).year}-{claim_id:06d}"
        rule_version = f"{version.policy.code} v{version.version}"

        # lines
        decisions_made = any(step.outcome in ("approve", "reject") for step in path)
        rejected = end == "rejected"
        if state == ClaimStatus.APPROVED:
            payment = PaymentStatus.RESERVED
        elif state == ClaimStatus.IN_PAYMENT:
            payment = PaymentStatus.IN_BATCH
        elif state == ClaimStatus.PAID:
            payment = PaymentStatus.PAID
        else:
            payment = PaymentStatus.UNPAID
        decision = LineDecision.REJECT if rejected else LineDecision.APPROVE if decisions_made else LineDecision.PENDING
        amounts = []
        summary = []  # the lines as the creation's entry lists them, in canonical JSON (see below)
        string = JSON_STRING
        line_constants = f'","certificate_date":"{certificate_date.isoformat()}","certificate_issuer":"","certificate_number":"'
        line_rest = f',"occupation":{string(occupation_name)},"rule_version":{string(rule_version)},"trainee":'
        pending = string(LineDecision.PENDING)
        first_line_row = len(out.lines)
        for n in range(lines):
            index = line_index + n
            trainee = trainee_base + (index if index < pool else index - pool)
            # A person's second training in the generated years is at the next level (RULES E3).
            level = levels[0] if index < pool or len(levels) == 1 else levels[1]
            cap = Decimal(str(version.amount_by_level.get(level) or version.amount_by_level.get("*")))
            amount = (
                cap if needs_head or rng.random() < 0.7 else (cap * Decimal(rng.randint(60, 99)) / 100).quantize(Decimal("0.01"))
            )
            amounts.append(amount)
            # Already its own key (claims.certificates.certificate_key: no dash, upper case), stored as both.
            certificate = f"L{self.seed}N{first_line_id + n:09d}"
            out.lines.append(
                (
                    first_line_id + n,
                    claim_id,
                    n + 1,
                    trainee,
                    occupation_id,
                    level,
                    certificate_type,
                    certificate,
                    "",
                    certificate,
                    certificate_date,
                    (training_end - training_start).days + 1,
                    amount,
                    "",
                    "",
                    False,
                    "",
                    False,
                    amount,
                    version.pk,
                    f"{rule_version}：{amount}",
                    f"{rule_version}: {amount}",  # the explanation in English (ClaimLine.explanation_en)
                    "[]",
                    decision,
                    "OTHER" if rejected else "",
                    payment,
                    self._names[trainee],
                    None,  # claimed_on: the submission's date, once the path below has one
                )  # fmt: skip
            )
            # {"line", "trainee", "occupation", "level", "certificate_number", "certificate_issuer": "",
            # "certificate_date", "amount", "rule_version", "flags": [], "decision": pending} as
            # audit.services.canonical_json writes it (keys sorted; tests/test_generate_load.py
            # checks every entry against it): a dict per line and its encoding were a tenth of a
            # worker's time.
            summary.append(
                f'{{"amount":"{money(amount)}{line_constants}{string(certificate)[1:-1]}","decision":{pending},'
                f'"flags":[],"level":{string(level)},"line":{n + 1}{line_rest}{string(self._masked[trainee])}}}'
            )
        full_total = sum(amounts, Decimal("0.00"))
        total = Decimal("0.00") if rejected else full_total

        # the ledger: created, the provider's grant
        at = created
        events = out.events
        base = (claim_id, jurisdiction.pk, jurisdiction.code, number)
        events.append(base + (at, clerk, actions.CLAIM_CREATED, "", ClaimStatus.DRAFT, "", CanonicalJSON(
            f'{{"class_name":{string(f"{occupation_name} 第{claim_id}期")},"department":{string(department.code)},'
            f'"lines":[{",".join(summary)}],"policy":{string(version.policy.code)},"provider":{string(provider.code)},'
            f'"total":"{money(full_total)}"}}'
        )))  # fmt: skip
        provider_group = self.group_names[provider.staff_group_id]
        events.append(
            base
            + (
                at,
                clerk,
                actions.PERMISSION_GRANTED,
                "",
                "",
                "",
                {"group": provider_group, "perms": ["view_claim", "change_claim"]},
            )
        )
        out.perms += [
            (claim_id, provider.staff_group_id, org.perms["view_claim"]),
            (claim_id, provider.staff_group_id, org.perms["change_claim"]),
        ]
        submitted_at = None
        if not path:
            if end == "withdrawn":
                at += datetime.timedelta(days=rng.uniform(0.1, 5))
                events.append(
                    base
                    + (
                        at,
                        clerk,
                        actions.CLAIM_WITHDRAWN,
                        ClaimStatus.DRAFT,
                        ClaimStatus.WITHDRAWN,
                        "不再申领",
                        {"total": money(full_total)},
                    )
                )
            out.claims.append(
                (claim_id, number, jurisdiction.pk, provider.pk, department.pk, version.policy_id, f"{occupation_name} 第{claim_id}期",
                 training_start, training_end, "", "", state, full_total, clerk[0], created, None, None)
            )  # fmt: skip
            return task_id

        # the process: tasks for each step, switches between, the end
        reviewers = org.reviewers[department.pk]
        actor_of = {
            "submit": clerk,
            "correction": clerk,
            "department_review": rng.choice(reviewers),
            "hr_review": rng.choice(org.hr_reviewers[jurisdiction.pk]),
            "hr_head_approval": rng.choice(org.hr_heads[jurisdiction.pk]),
            "disbursement": rng.choice(org.finance[jurisdiction.pk]),
        }
        if end is None:  # open: the steps were recent, the open one is days old at most
            span = max((self.now - created).total_seconds() - 3600, 60)
        else:
            span = rng.uniform(5, 50) * 86400
        gaps = sorted(rng.uniform(0, span) for _ in range(len(path) * 2 + 1))
        times = [created + datetime.timedelta(seconds=s) for s in gaps]
        clock = iter(times[1:])
        previous = None
        resubmitted = False
        duties = set()
        status = ClaimStatus.DRAFT
        data: dict = {}
        last_total = full_total
        for index, step in enumerate(path):
            next_step = path[index + 1] if index + 1 < len(path) else None
            started = next(clock)
            finished = next(clock)
            actor = actor_of[step.name]
            kind = node_type(step.name)
            if step.outcome == "":  # the open task
                assigned = rng.random() < 0.1 and step.name != "disbursement"
                owner = actor[0] if assigned else None
                task_status = "ASSIGNED" if assigned else "NEW"
                out.tasks.append(
                    (
                        task_id,
                        flow_task(step.name),
                        kind,
                        task_status,
                        started,
                        started if assigned else None,
                        None,
                        None,
                        "start",
                        owner,
                        process_id,
                        "{}",
                    )
                )
                out.items.append(
                    (task_id, claim_id, step.name, task_status, owner, jurisdiction.pk, department.pk, provider.pk, number,
                     f"{occupation_name} 第{claim_id}期", submitted_at, total, 0, started,
                     due_date(started, step.name, jurisdiction.pk, deadlines=self.deadlines), resubmitted, "{}",
                     InboxItem.duty_tokens(duties), False)
                )  # fmt: skip
                if assigned:
                    events.append(
                        base + (started, actor, actions.TASK_ASSIGNED, status, status, "", {"task": task_id, "step": step.name})
                    )
                self._link(out, task_id, previous)
                task_id += 1
                break
            if step.outcome == "canceled":
                out.tasks.append(
                    (
                        task_id,
                        flow_task(step.name),
                        kind,
                        "CANCELED",
                        started,
                        None,
                        None,
                        finished,
                        "start",
                        None,
                        process_id,
                        "{}",
                    )
                )
                self._link(out, task_id, previous)
                events.append(
                    base
                    + (
                        finished,
                        clerk,
                        actions.CLAIM_WITHDRAWN,
                        ClaimStatus.RETURNED,
                        ClaimStatus.WITHDRAWN,
                        "不再申领",
                        {"total": money(full_total)},
                    )
                )
                status = ClaimStatus.WITHDRAWN
                task_id += 1
                break
            if kind == "START":
                out.tasks.append(
                    (
                        task_id,
                        flow_task(step.name),
                        kind,
                        "DONE",
                        started,
                        None,
                        started,
                        started,
                        "start",
                        actor[0],
                        process_id,
                        "{}",
                    )
                )
            else:
                out.tasks.append(
                    (
                        task_id,
                        flow_task(step.name),
                        kind,
                        "DONE",
                        started,
                        finished,
                        finished,
                        finished,
                        "start",
                        actor[0],
                        process_id,
                        "{}",
                    )
                )
            self._link(out, task_id, previous)
            previous = task_id
            this_task = task_id
            task_id += 1
            duties.add((actor[0], STEPS[step.name].duty))
            new_status = status_after(step, next_step, end)
            if step.name == "submit":
                submitted_at = started
                department_group = self.group_names[department.staff_group_id]
                events.append(
                    base
                    + (
                        started,
                        clerk,
                        actions.PERMISSION_GRANTED,
                        "",
                        "",
                        "",
                        {"group": department_group, "perms": ["view_claim", "review_claim"]},
                    )
                )
                events.append(
                    base
                    + (
                        started,
                        clerk,
                        actions.CLAIM_SUBMITTED,
                        ClaimStatus.DRAFT,
                        new_status,
                        "",
                        {"total": money(full_total), "total_before": money(full_total), "line_changes": []},
                    )
                )
                out.perms += [
                    (claim_id, department.staff_group_id, org.perms["view_claim"]),
                    (claim_id, department.staff_group_id, org.perms["review_claim"]),
                ]
                data = {}
            elif step.name == "correction":
                resubmitted = True
                events.append(base + (finished, clerk, actions.CLAIM_RESUBMITTED, ClaimStatus.RETURNED, new_status, "", {
                    "task": this_task, "returned_from": data.get("returned_from"), "fix": NO_FIX, "to_step": "department_review",
                    "outside_fix": [], "total": money(last_total), "total_before": money(last_total), "line_changes": [],
                }))  # fmt: skip
                data = {**data, "last_decision": "resubmit", "resubmit_to": "department_review", "changes_outside_fix": []}
            elif step.name == "disbursement":
                events.append(
                    base
                    + (
                        finished,
                        actor,
                        actions.CLAIM_PAID,
                        ClaimStatus.IN_PAYMENT,
                        ClaimStatus.PAID,
                        "",
                        {"task": this_task, "paid": money(total)},
                    )
                )
                data = {**data, "last_decision": "paid"}
            else:
                outcome = step.outcome
                step_total = Decimal("0.00") if outcome == "reject" else full_total
                detail = {
                    "task": this_task, "step": step.name, "decision": outcome, "reason_code": "OTHER" if outcome == "reject" else "",
                    "line_decisions": [], "total": money(step_total), "total_before": money(last_total), "line_changes": [],
                }  # fmt: skip
                if outcome == "return":
                    detail["fix"] = NO_FIX
                comment = {"approve": "同意", "return": "请补充材料", "reject": "不符合补贴条件"}[outcome]
                events.append(base + (finished, actor, DECISION_ACTION[outcome], status, new_status, comment, detail))
                last_total = step_total
                returned = outcome == "return"
                data = {
                    "last_decision": outcome,
                    "returned_from": step.name if returned else None,
                    "fix_requested": NO_FIX if returned else None,
                    "returned_content": None,
                    "needs_hr_head": needs_head and step.name == "hr_review" and outcome == "approve",
                    **({k: v for k, v in data.items() if k in ("resubmit_to", "changes_outside_fix")}),
                }
            status = new_status
            if step.name in SWITCH_AFTER:
                out.tasks.append(
                    (
                        task_id,
                        flow_task(SWITCH_AFTER[step.name]),
                        "SWITCH",
                        "DONE",
                        finished,
                        None,
                        None,
                        finished,
                        "start",
                        None,
                        process_id,
                        "{}",
                    )
                )
                self._link(out, task_id, previous)
                previous = task_id
                task_id += 1
        if end in ("paid", "rejected"):
            finished = times[-1]
            out.tasks.append(
                (task_id, flow_task(end), "END", "DONE", finished, None, finished, finished, "start", None, process_id, "{}")
            )
            self._link(out, task_id, previous)
            task_id += 1
        process_status = {"paid": "DONE", "rejected": "DONE", "canceled": "CANCELED"}.get(end, "NEW")
        out.processes.append((process_id, FLOW, process_status, created, times[-1] if end else None, json.dumps(data)))
        out.duties += [(claim_id, user_id, duty) for user_id, duty in sorted(duties)]
        if submitted_at is not None:
            claimed_on = timezone.localdate(submitted_at)
            out.lines[first_line_row:] = [row[:-1] + (claimed_on,) for row in out.lines[first_line_row:]]
        out.claims.append(
            (claim_id, number, jurisdiction.pk, provider.pk, department.pk, version.policy_id, f"{occupation_name} 第{claim_id}期",
             training_start, training_end, "", "", state, total, clerk[0], created, submitted_at, process_id)
        )  # fmt: skip
        return task_id

    @staticmethod
    def _link(out: Batch, task_id: int, previous: int | None) -> None:
        if previous is not None:
            out.links.append((task_id, previous))

    # ---- the ledger: each entry's canonical bytes but its place in the chain (in a worker), then chained (the writer)
    @staticmethod
    def ledger_parts(events: list) -> list:
        """Each entry of a batch as the pieces chain_ledger joins around its seq and prev_hash (UTF-8
        bytes): audit's canonical body (ledger_body) of each field's JSON text (the detail's made by
        the JSON encoder audit.services.canonical_json uses, or written as canonical text already),
        and its COPY text but those three columns."""
        string = JSON_STRING
        encode_detail = CANONICAL_ENCODER.encode
        escape = _copy_str
        parts = []
        for (
            claim_id,
            jurisdiction_id,
            jurisdiction_code,
            number,
            at,
            actor,
            action,
            from_state,
            to_state,
            reason,
            detail,
        ) in events:
            at_text = at.isoformat()
            # to_canonical_value's form of a time: UTC, "Z" (the load's times are UTC already)
            canonical_at = at_text[:-6] + "Z" if at_text.endswith("+00:00") else to_canonical_value(at)
            detail_text = detail if type(detail) is CanonicalJSON else encode_detail(detail)
            before, between, after = ledger_body(
                action=string(action),
                actor=string(actor[1]),
                at=string(canonical_at),
                claim=string(number),
                detail=detail_text,
                jurisdiction=string(jurisdiction_code),
                from_state=string(from_state),
                object_id=f'"{claim_id}"',
                reason=string(reason),
                to_state=string(to_state),
            )
            columns = (
                f"\t{at_text}\t{actor[0]}\t{escape(actor[1])}\t{escape(action)}\tclaims.claim\t{claim_id}\t{claim_id}\t"
                f"{jurisdiction_id}\t{escape(from_state)}\t{escape(to_state)}\t{escape(reason)}\t"
            )
            # COPY escapes a backslash (JSON's escapes hold one); almost no entry has any
            escaped = None if "\\" not in before + between + after else (escape(before), escape(between), escape(after))
            parts.append(
                (
                    columns.encode(),
                    before.encode(),
                    between.encode(),
                    after.encode(),
                    escaped and tuple(part.encode() for part in escaped),
                    f"\t{escape(detail_text)}\n".encode(),
                )
            )
        return parts

    def chain_ledger(self, parts: list) -> bytes:
        """The COPY text of a batch's entries chained after ``ledger_head`` (the ledger's head when
        the load began, then the last entry chained here: the load holds the ledger's lock
        throughout): each one's seq, the hash before it and SHA-256 over its canonical bytes."""
        seq, prev_hash = self.ledger_head
        prev = prev_hash.encode()
        sha256 = hashlib.sha256
        join = b"".join
        tab = b"\t"
        rows = []
        for columns, before, between, after, escaped, detail in parts:
            seq += 1
            number = str(seq).encode()
            payload = join((before, prev, between, number, after))
            digest = sha256(payload).hexdigest().encode()
            if escaped is not None:
                payload = join((escaped[0], prev, escaped[1], number, escaped[2]))
            rows.append(join((number, columns, payload, tab, prev, tab, digest, detail)))
            prev = digest
        self.ledger_head = (seq, prev.decode())
        return join(rows)


LEDGER_OBJECT_TYPE = "claims.claim"
# The draft's fields the load gives each entry (audit.services._draft's, but the constant object type).
LEDGER_FIELDS = (
    "actor_username", "action", "object_id", "claim_number", "jurisdiction_code", "from_state", "to_state", "reason", "detail",
)  # fmt: skip


def ledger_body(
    *, action, actor, at, claim, detail, from_state, jurisdiction, object_id, reason, to_state
) -> tuple[str, str, str]:
    """An entry's canonical body (what its hash is over) from each field's JSON text, before its
    prev_hash, between it and its seq, after its seq: keys sorted, compact. Written out (a format
    call per entry cost more than the rest of its text), and checked against audit's own definition
    (body_of written by canonical_json) before every load: check_ledger_body."""
    return (
        f'{{"action":{action},"actor":{actor},"at":{at},"claim":{claim},"detail":{detail},"from_state":{from_state},'
        f'"jurisdiction":{jurisdiction},"object_id":{object_id},"object_type":"{LEDGER_OBJECT_TYPE}","prev_hash":"',
        f'","reason":{reason},"seq":',
        f',"to_state":{to_state}}}',
    )


def check_ledger_body() -> None:
    """ledger_body writes what audit.services.body_of and canonical_json make of a draft (a marker
    in each field), or the load stops before writing an entry the verifier would refuse."""
    marker = "\x00{}\x00".format
    draft = {name: marker(name) for name in LEDGER_FIELDS} | {"object_type": LEDGER_OBJECT_TYPE}
    expected = canonical_json(body_of(draft, seq=12345, at=marker("at"), prev_hash="f" * 64)).decode()
    string = JSON_STRING
    before, between, after = ledger_body(
        action=string(marker("action")),
        actor=string(marker("actor_username")),
        at=string(marker("at")),
        claim=string(marker("claim_number")),
        detail=string(marker("detail")),
        from_state=string(marker("from_state")),
        jurisdiction=string(marker("jurisdiction_code")),
        object_id=string(marker("object_id")),
        reason=string(marker("reason")),
        to_state=string(marker("to_state")),
    )
    if f"{before}{'f' * 64}{between}12345{after}" != expected:
        raise RuntimeError("audit's entry body changed: demo/load.py's ledger_body must write it as audit.services.body_of")


class CanonicalJSON(str):
    """A detail already in audit's canonical form (the creation's entry, written as text)."""


# audit.services.canonical_json's encoding (sorted keys, compact, UTF-8 as is), as an encoder object:
# the load makes millions of entries.
CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
JSON_STRING = CANONICAL_ENCODER.encode  # a str's JSON text (C-fast)


def _timed(timings: dict, phase: str, started: float) -> None:
    timings[phase] = timings.get(phase, 0) + time.perf_counter() - started


WORKER_PHASES = ("python workers: rows", "python workers: ledger canonical form", "python workers: COPY text")


def build_batch(job: Job) -> tuple[int, list, list, dict]:
    """A worker's part of a batch: its rows as COPY text (every table but the ledger) and its ledger
    entries' parts (Generator.ledger_parts), with the process time of each phase."""
    generator = _WORKER_GENERATOR
    cpu = time.process_time
    seconds = {}
    started = cpu()
    batch = generator.rows(job)
    seconds[WORKER_PHASES[0]] = cpu() - started
    started = cpu()
    parts = generator.ledger_parts(batch.events)
    seconds[WORKER_PHASES[1]] = cpu() - started
    started = cpu()
    tables = encode_batch(batch)
    seconds[WORKER_PHASES[2]] = cpu() - started
    return job.index, tables, parts, seconds


_WORKER_GENERATOR: "Generator | None" = None  # the generator a worker process inherits (forked)


_INHERITED_CONNECTIONS = []  # the writer's, kept from being freed (and so closed) in a worker


def _refuse_database(*args, **kwargs):
    raise RuntimeError("a generate_load worker reads nothing from the database (Generator.warm reads it first)")


def _work(jobs, results) -> None:
    """A worker process: builds the batches it is sent, in order, until it is sent None. It never
    touches the database: the connection it inherited is the writer's (a query on it would go down
    the writer's socket), so it is set aside and any use of one refused."""
    for alias in connections:
        wrapper = connections[alias]
        _INHERITED_CONNECTIONS.append(wrapper.connection)
        wrapper.connection = None
        wrapper.connect = _refuse_database
    while (job := jobs.recv()) is not None:
        try:
            results.send(build_batch(job))
        except BaseException as error:  # handed to the writer, which raises it
            results.send(error)
            return


class Workers:
    """``count`` forked processes building batches (build_batch), or none (0: the writer builds
    them itself). Batch i goes to worker i % count, so each worker's results come in batch order."""

    def __init__(self, generator: "Generator", count: int):
        global _WORKER_GENERATOR
        self.count = count
        self.pipes = []
        self.processes = []
        if not count:
            self.pending = []
            return
        _WORKER_GENERATOR = generator  # inherited by the forked processes (nothing pickled)
        context = multiprocessing.get_context("fork")
        try:
            for n in range(count):
                jobs_out, jobs_in = context.Pipe(duplex=False)
                results_out, results_in = context.Pipe(duplex=False)
                process = context.Process(target=_work, args=(jobs_out, results_in), name=f"generate_load worker {n}")
                process.daemon = True
                process.start()
                jobs_out.close()
                results_in.close()
                self.pipes.append((jobs_in, results_out))
                self.processes.append(process)
        finally:
            _WORKER_GENERATOR = None

    def submit(self, job: Job) -> None:
        if not self.count:
            self.pending.append(job)
            return
        self.pipes[job.index % self.count][0].send(job)

    def result(self, index: int, generator: "Generator") -> tuple[int, list, list, dict]:
        if not self.count:
            global _WORKER_GENERATOR
            job = self.pending.pop(0)
            _WORKER_GENERATOR = generator
            try:
                return build_batch(job)
            finally:
                _WORKER_GENERATOR = None
        result = self.pipes[index % self.count][1].recv()
        if isinstance(result, BaseException):
            raise result
        return result

    def close(self) -> None:
        for jobs, _results in self.pipes:
            try:
                jobs.send(None)
            except OSError:
                pass
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        for jobs, results in self.pipes:
            jobs.close()
            results.close()


def encode_batch(batch: Batch) -> list[tuple[str, tuple, bytes]]:
    """(table, columns, COPY text) of every table a batch fills but the ledger, in the order written."""
    return [
        (table, columns, text(rows))
        for table, columns, text, rows in (
            (Process._meta.db_table, PROCESS_COLUMNS, copy_text, batch.processes),
            (Trainee._meta.db_table, TRAINEE_COLUMNS, copy_text, batch.trainees),
            (Claim._meta.db_table, CLAIM_COLUMNS, copy_text, batch.claims),
            (ClaimLine._meta.db_table, LINE_COLUMNS, line_text, batch.lines),
            (Task._meta.db_table, TASK_COLUMNS, task_text, batch.tasks),
            (Task.previous.through._meta.db_table, LINK_COLUMNS, int_text, batch.links),
            (ClaimGroupObjectPermission._meta.db_table, PERM_COLUMNS, int_text, batch.perms),
            (InboxItem._meta.db_table, ITEM_COLUMNS, copy_text, batch.items),
            (ClaimDuty._meta.db_table, DUTY_COLUMNS, int_text, batch.duties),
        )
    ]


def write_batch(tables: list[tuple[str, tuple, bytes]], timings: dict, *, check_foreign_keys: bool) -> None:
    """One batch in one transaction: every row of its claims, COPYed. Without
    ``check_foreign_keys`` (superusers only) PostgreSQL skips the per-row foreign-key triggers
    (session_replication_role): the rows refer to rows of the same batch or of the organisation
    read before it, and tests/test_generate_load.py runs with the checks on."""
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg 3's, for COPY
        if not check_foreign_keys:
            django_cursor.execute("SET LOCAL session_replication_role = replica")
        if _lz4_available(django_cursor):
            # The ledger's payloads and details of a claim's creation (its lines) are TOASTed:
            # LZ4 compresses them several times faster than the default pglz (reads are alike).
            django_cursor.execute("SET LOCAL default_toast_compression = lz4")
        for table, table_columns, data in tables:
            started = time.perf_counter()
            copy_rows(cursor, table, table_columns, data)
            _timed(timings, f"COPY {table}", started)
        started = time.perf_counter()
    _timed(timings, "commit", started)


def _lz4_available(cursor) -> bool:
    cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
    row = cursor.fetchone()
    return bool(row and row[0])


# Where the definitions of the indexes dropped for a load wait until they are built again: a load
# killed midway leaves them here, and the next run builds them first.
DEFERRED_INDEX_TABLE = "generate_load_deferred_index"


def bulk_tables() -> list[str]:
    return [
        model._meta.db_table
        for model in (
            AuditEvent,
            Task,
            Task.previous.through,
            ClaimLine,
            Claim,
            Trainee,
            ClaimGroupObjectPermission,
            Process,
            InboxItem,
            ClaimDuty,
        )
    ]


def defer_indexes(cursor) -> int:
    """Drop the indexes of the tables a load fills but their primary keys, keeping their
    definitions: PostgreSQL builds an index over a million rows in one sorted pass many times faster
    than it maintains it one row at a time, and an index on random keys (the ledger's hashes, the
    trainees' digests) costs a page read and write per row once it outgrows the cache. The unique
    ones go too (as constraints, when they back one): building them again checks every row written,
    and the load's keys are unique by construction (ids from the sequences, one chain, a digest per
    ID number). An index a foreign key refers to stays. Returns how many were dropped."""
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {DEFERRED_INDEX_TABLE} (name text PRIMARY KEY, definition text NOT NULL)")
    cursor.execute(
        f"""INSERT INTO {DEFERRED_INDEX_TABLE} (name, definition)
            SELECT i.indexrelid::regclass::text, CASE WHEN c.oid IS NULL THEN pg_get_indexdef(i.indexrelid) ELSE
                format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', i.indrelid::regclass, c.conname, pg_get_constraintdef(c.oid))
                END
            FROM pg_index i
            LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype = 'u'
            WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
            ON CONFLICT (name) DO NOTHING RETURNING name, definition""",
        [bulk_tables()],
    )
    deferred = cursor.fetchall()
    if deferred and connection.in_atomic_block:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # a table with pending checks is not altered
    for name, definition in deferred:
        if definition.startswith("ALTER TABLE"):
            table = definition.split(" ")[2]
            constraint = name.rpartition(".")[2]
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
        else:
            cursor.execute(f"DROP INDEX {name}")
    return len(deferred)


def restore_indexes(cursor, timings: dict | None = None, *, connections_at_once: int = 2) -> int:
    """Build again every index ``defer_indexes`` dropped (after a load, or after one that died);
    ``timings`` gets the seconds spent on each table's. Outside a transaction, ``connections_at_once``
    connections build them side by side, biggest tables first (one build is a heap scan and a sort
    on one core); inside one (a test's), this connection builds them all (the others would wait on
    its locks)."""
    cursor.execute("SELECT to_regclass(%s)", [DEFERRED_INDEX_TABLE])
    if cursor.fetchone()[0] is None:
        return 0
    cursor.execute(
        f"""SELECT d.name, d.definition FROM {DEFERRED_INDEX_TABLE} d
            LEFT JOIN pg_class t ON t.oid = to_regclass(CASE WHEN d.definition LIKE 'ALTER TABLE %'
                THEN split_part(d.definition, ' ', 3) ELSE split_part(split_part(d.definition, ' ON ', 2), ' ', 1) END)
            ORDER BY pg_relation_size(t.oid) DESC NULLS LAST, d.name"""
    )
    deferred = cursor.fetchall()
    lock = threading.Lock()

    def build(cursor, name, definition):
        started = time.perf_counter()
        cursor.execute("SELECT to_regclass(%s)", [name])
        if cursor.fetchone()[0] is None:
            cursor.execute(definition)
        cursor.execute(f"DELETE FROM {DEFERRED_INDEX_TABLE} WHERE name = %s", [name])
        if timings is not None:
            altered = definition.startswith("ALTER TABLE")
            table = definition.split(" ")[2] if altered else definition.split(" ON ")[1].split(" ")[0]
            with lock:
                _timed(timings, f"  indexes of {table.removeprefix('public.')}", started)

    if connection.in_atomic_block or connections_at_once < 2:
        if deferred and connection.in_atomic_block:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # an index is not built over pending checks
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for name, definition in deferred:
            build(cursor, name, definition)
        cursor.execute("RESET maintenance_work_mem")
        return len(deferred)

    pending = list(deferred)
    failures = []

    def builder():
        try:
            with connections["default"].cursor() as own:  # this thread's connection
                own.execute("SET maintenance_work_mem = '256MB'")
                while not failures:
                    with lock:
                        if not pending:
                            return
                        name, definition = pending.pop(0)
                    build(own, name, definition)
        except BaseException as error:
            failures.append(error)
        finally:
            connections["default"].close()

    threads = [threading.Thread(target=builder, name=f"generate_load index builder {n}") for n in range(connections_at_once)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return len(deferred)


def generate(
    *,
    claims: int,
    seed: int,
    password: str,
    batch_size: int = BATCH,
    check_foreign_keys: bool | None = None,
    defer_indexes_over: int = 50_000,
    workers: int = 2,
    progress=None,
) -> dict:
    """``claims`` claims in batches; returns the seconds spent by phase. ``check_foreign_keys``:
    None checks them unless the database user is a superuser (write_batch). The indexes are
    dropped for the load and built after it when it adds at least ``defer_indexes_over`` claims
    and at least as many as there were (else maintaining them costs less).

    This process plans each batch and reserves its ids, chains its ledger entries in batch order
    and COPYs it; ``workers`` forked processes make the rows meanwhile (0: this process does), so
    that neither waits on the other's Python (one process's threads would share one interpreter
    lock, and the COPYs wait on it)."""
    if connection.vendor != "postgresql":
        raise ValueError("generate_load writes through PostgreSQL's COPY: set DATABASE_URL to a PostgreSQL database")
    timings: dict = {}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        restore_indexes(cursor)  # what a load that died left dropped
        for table in ("claims_claim", "claims_claimline", "claims_trainee", "viewflow_task", "viewflow_process"):
            catch_up_sequence(cursor, table)
        deferring = claims >= defer_indexes_over and claims >= Claim.objects.count()
        if deferring:
            defer_indexes(cursor)
    org = ensure_organisation(providers=max(4, min(400, claims // 2500)), password=password)
    timings["organisation"] = time.perf_counter() - started
    generator = Generator(org, seed=seed)
    generator.warm()
    if check_foreign_keys is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            check_foreign_keys = not cursor.fetchone()[0]
    counts = [min(batch_size, claims - done) for done in range(0, claims, batch_size)]
    done = 0
    with connection.cursor() as cursor:
        # The load is the ledger's only writer until it ends: its entries are chained ahead of
        # being written (the services' appends wait on this lock meanwhile).
        cursor.execute("SELECT pg_advisory_lock(%s)", [LEDGER_LOCK_KEY])
    pool = None
    # Millions of row tuples live a batch each and hold no cycles: the collector's full passes over
    # them were a third of the rows' time. Off for the load (the forked workers inherit it off).
    collecting = gc.isenabled()
    gc.disable()
    try:
        generator.ledger_head = _head()
        pool = Workers(generator, workers)
        # One batch at a time per worker, sent when it is idle (so no send waits on a worker that is
        # itself waiting to hand back a result): workers build the next ones while a batch is written.
        ahead = max(workers, 1)
        with connection.cursor() as cursor:
            for index in range(min(ahead, len(counts))):
                pool.submit(generator.plan(index, counts[index], cursor))
        for index, count in enumerate(counts):
            waited = time.perf_counter()
            _index, tables, parts, seconds = pool.result(index, generator)
            _timed(timings, "waiting for the workers", waited)
            for phase, spent in seconds.items():
                timings[phase] = timings.get(phase, 0) + spent
            if index + ahead < len(counts):
                started_plan = time.perf_counter()
                with connection.cursor() as cursor:
                    pool.submit(generator.plan(index + ahead, counts[index + ahead], cursor))
                _timed(timings, "python: plans and ids", started_plan)
            started_chain = time.perf_counter()
            ledger = generator.chain_ledger(parts)
            _timed(timings, "python: ledger chain (seq, prev_hash, SHA-256)", started_chain)
            write_batch(
                tables + [(AuditEvent._meta.db_table, EVENT_COLUMNS, ledger)], timings, check_foreign_keys=check_foreign_keys
            )
            done += count
            if progress:
                progress(done, time.perf_counter() - started)
    finally:
        if collecting:
            gc.enable()
        if pool is not None:
            pool.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LEDGER_LOCK_KEY])
        if deferring:
            started_indexes = time.perf_counter()
            with connection.cursor() as cursor:
                restore_indexes(cursor, timings)
            timings["build the dropped indexes"] = time.perf_counter() - started_indexes
    started_analyze = time.perf_counter()
    with connection.cursor() as cursor:
        for model in (Claim, ClaimLine, Task, Process, InboxItem, ClaimDuty, AuditEvent, ClaimGroupObjectPermission, Trainee):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    timings["analyze"] = time.perf_counter() - started_analyze
    timings["total"] = time.perf_counter() - started
    return timings
