"""The one registry of ledger actions (audit/actions.py): every action has a Chinese label and
its English; every action the code records is registered, in the source and at run time; the
pages show labels, the API the identifiers (and the labels next to them)."""

import ast
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import translation

from audit import actions
from audit.models import AuditEvent
from audit.services import record_event, record_events

from .api_support import login, ok
from .test_audit_workspace import auditor, journey  # noqa: F401 - fixtures

PROJECT = Path(__file__).resolve().parent.parent
# Our code: every top-level package of the project, the tests excepted (they record actions of
# their own, registered by a fixture, and refused ones on purpose).
SKIPPED_DIRS = {"tests", "locale", "static", "var", "node_modules"}
CJK = re.compile(r"[\u4e00-\u9fff]")
IDENTIFIER = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")


def python_sources() -> list[Path]:
    sources = []
    for path in sorted(PROJECT.rglob("*.py")):
        parts = path.relative_to(PROJECT).parts
        if parts[0].startswith(".") or parts[0] in SKIPPED_DIRS or "migrations" in parts:
            continue
        sources.append(path)
    return sources


def template_sources() -> list[Path]:
    return sorted((PROJECT / "templates").rglob("*.html"))


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize("action", sorted(actions.REGISTRY))
def test_every_action_has_a_chinese_label_and_its_english(action):
    assert IDENTIFIER.match(action), action
    with translation.override("zh-hans"):
        chinese = actions.label(action)
    with translation.override("en"):
        english = actions.label(action)
    assert chinese.strip() and CJK.search(chinese), (action, chinese)
    assert english.strip() and english != chinese and not CJK.search(english), (action, english)


def test_labels_are_distinct_so_pages_tell_actions_apart():
    with translation.override("zh-hans"):
        chinese = [actions.label(action) for action in actions.REGISTRY]
    with translation.override("en"):
        english = [actions.label(action) for action in actions.REGISTRY]
    assert len(set(chinese)) == len(chinese)
    assert len(set(english)) == len(english)


def test_an_unknown_action_is_shown_as_it_was_recorded():
    assert actions.label("legacy.thing") == "legacy.thing"


# --------------------------------------------------------------------------- the source records registered actions only


def _literals(node) -> list[str]:
    """The string literals an ``action`` expression can evaluate to; "<f-string>" for a dynamic one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return ["<f-string>"]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    if isinstance(node, ast.Dict):
        return [literal for value in node.values for literal in _literals(value)]
    if isinstance(node, ast.Subscript):
        return _literals(node.value)
    if isinstance(node, ast.BoolOp):
        return [literal for value in node.values for literal in _literals(value)]
    return []  # a name or a call: checked at run time by record_event


def recorded_action_literals(path: Path) -> list[tuple[int, str]]:
    """(line, literal) of every action in the module: ``action=…`` arguments, ``"action": …`` in
    dict literals, ``action = …`` assignments and ``….action == …`` comparisons."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if getattr(node.func, "attr", None) == "add_argument":  # argparse's action="store_true"
                continue
            for keyword in node.keywords:
                if keyword.arg == "action":
                    found += [(node.lineno, literal) for literal in _literals(keyword.value)]
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "action":
                    found += [(node.lineno, literal) for literal in _literals(value)]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(target, ast.Name) and target.id == "action" for target in targets) and node.value is not None:
                found += [(node.lineno, literal) for literal in _literals(node.value)]
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(side, ast.Attribute) and side.attr == "action" for side in sides):
                found += [(node.lineno, literal) for side in sides for literal in _literals(side)]
    return found


REGISTRY_MODULE = PROJECT / "audit" / "actions.py"


def identifier_literals(path: Path) -> list[tuple[int, str]]:
    """(line, literal) of every string in the module that is a registered action's identifier,
    wherever it stands (``action__in=(…)``, a dict's key, ``.get(…)``): the spellings the scan of
    action positions above does not see."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in actions.REGISTRY
    ]


def action_constants_named(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every name the module takes from audit/actions.py: ``actions.NAME`` (the
    module imported as ``actions`` or another alias) and ``from audit.actions import NAME``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    aliases, named = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "audit":
            aliases |= {alias.asname or alias.name for alias in node.names if alias.name == "actions"}
        elif isinstance(node, ast.ImportFrom) and node.module == "audit.actions":
            named += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            aliases |= {alias.asname for alias in node.names if alias.name == "audit.actions" and alias.asname}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            named.append((node.lineno, node.attr))
    return named


TEMPLATE_ACTION = re.compile(r"""\.action\s*(?:==|!=|in)\s*["']([^"']+)["']|["']([^"']+)["']\s*(?:==|!=|in)\s*[\w.]+\.action\b""")
TEMPLATE_CONSTANT = re.compile(r"""\|\s*is_action\s*:\s*["']([^"']+)["']""")


def test_the_code_names_every_action_by_its_constant_never_by_its_identifier():
    """One definition of each action: audit/actions.py spells the identifier once, and every module
    (not the tests, nor migrations, which keep history) and every template names the constant. A
    copy spelt again drifts from it unseen: a typo records nothing (record_event refuses it) or, in a
    comparison or a query, silently matches nothing."""
    spelt = []
    for path in python_sources():
        if path == REGISTRY_MODULE:
            continue
        where = path.relative_to(PROJECT)
        spelt += [f"{where}:{line} {literal}" for line, literal in recorded_action_literals(path)]
        spelt += [f"{where}:{line} {literal}" for line, literal in identifier_literals(path)]
    for path in template_sources():
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            spelt += [f"{path.relative_to(PROJECT)}:{number} {m.group(1) or m.group(2)}" for m in TEMPLATE_ACTION.finditer(line)]
            spelt += [
                f"{path.relative_to(PROJECT)}:{number} {action}"
                for action in actions.REGISTRY
                if f'"{action}"' in line or f"'{action}'" in line
            ]
    assert sorted(set(spelt)) == [], "name the action by its constant in audit/actions.py"


def test_every_action_constant_the_code_names_is_registered():
    """What the code names from audit/actions.py exists there (a misspelt constant is an
    AttributeError only when its line first runs) and, an action, is registered."""
    named, unknown = set(), []
    for path in python_sources():
        if path == REGISTRY_MODULE:
            continue
        for line, name in action_constants_named(path):
            named.add(name)
            if not hasattr(actions, name):
                unknown.append(f"{path.relative_to(PROJECT)}:{line} {name}")
    for path in template_sources():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in TEMPLATE_CONSTANT.finditer(line):
                named.add(match.group(1))
                if not hasattr(actions, match.group(1)):
                    unknown.append(f"{path.relative_to(PROJECT)}:{number} {match.group(1)}")
    assert unknown == []
    constants = {name for name in named if name.isupper() and isinstance(getattr(actions, name), str)}
    assert all(actions.is_registered(getattr(actions, name)) for name in constants)
    # The scan sees the code base: the services name their actions, and templates theirs.
    assert {"CLAIM_SUBMITTED", "CLAIM_APPROVED_STEP", "PAYMENT_BATCH_RELEASED", "CLAIM_PAYMENT_RESULT"} <= constants
    assert {"PERMISSION_GRANTED", "OBJECTION_FILED", "TASK_REASSIGNED", "CLAIM_NOTICE_CLOSED"} <= constants


def test_the_scan_finds_literals_in_every_form_the_code_uses(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        'record_event(action="a.one", obj=x)\n'
        'record_event(action="b.two" if paid else "b.three", obj=x)\n'
        'record_events([{"actor": None, "action": "c.four"}])\n'
        'action = {"approve": "d.five", "reject": "d.six"}[decision]\n'
        'returned = [e for e in history if e.action == "e.seven"]\n'
        'record_event(action=f"{kind}.created", obj=x)\n'
        'parser.add_argument("--fast", action="store_true")\n'
        "record_event(action=actions.CLAIM_PAID, obj=x)\n",
        encoding="utf-8",
    )
    assert sorted(recorded_action_literals(probe)) == [
        (1, "a.one"), (2, "b.three"), (2, "b.two"), (3, "c.four"), (4, "d.five"), (4, "d.six"), (5, "e.seven"),
        (6, "<f-string>")]  # fmt: skip


def test_the_scan_finds_identifiers_wherever_they_stand_and_the_constants_named(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from audit import actions\n"
        "from audit import actions as ledger\n"
        "from audit.actions import CLAIM_PAID\n"
        'events = AuditEvent.objects.filter(action__in=("claim.notice_published", "claim.nowhere"))\n'
        'closed = by_action.get("claim.notice_closed")\n'
        "record_event(action=actions.CLAIM_SUBMITTED if first else ledger.CLAIM_RESUBMITED, obj=x)\n",
        encoding="utf-8",
    )
    assert sorted(identifier_literals(probe)) == [(4, "claim.notice_published"), (5, "claim.notice_closed")]
    assert sorted(action_constants_named(probe)) == [(3, "CLAIM_PAID"), (6, "CLAIM_RESUBMITED"), (6, "CLAIM_SUBMITTED")]
    assert not hasattr(actions, "CLAIM_RESUBMITED")  # the misspelling the registry test reports
    page = '{% if event.action == "permission.granted" %}{% if "claim.paid" in event.action %}{% if event.action|is_action:"CLAIM_PAID" %}'
    assert [m.group(1) or m.group(2) for m in TEMPLATE_ACTION.finditer(page)] == ["permission.granted", "claim.paid"]
    assert TEMPLATE_CONSTANT.findall(page) == ["CLAIM_PAID"]


def test_the_registry_constants_are_the_registered_values():
    constants = {name: value for name, value in vars(actions).items() if name.isupper() and isinstance(value, str)}
    assert sorted(constants.values()) == sorted(actions.REGISTRY)
    assert len(set(constants.values())) == len(constants)


# --------------------------------------------------------------------------- record_event refuses the unregistered


def test_record_event_refuses_an_unregistered_action_and_writes_nothing(db):
    subject = Group.objects.create(name="registry-test")
    before = AuditEvent.objects.count()
    with pytest.raises(ValueError, match=r"unknown audit action 'claim\.teleported'"), transaction.atomic():
        record_event(actor=None, action="claim.teleported", obj=subject)
    with pytest.raises(ValueError, match=r"unknown audit action 'payment_batch\.lost'"), transaction.atomic():
        record_events([
            {"actor": None, "action": actions.PAYMENT_BATCH_BUILT, "obj": subject},
            {"actor": None, "action": "payment_batch.lost", "obj": subject},
        ])  # fmt: skip
    with pytest.raises(ValueError, match="unknown audit action"), transaction.atomic():
        record_event(actor=None, action=None, obj=subject)
    assert AuditEvent.objects.count() == before
    with transaction.atomic():
        entry = record_event(actor=None, action=actions.GROUP_UPDATED, obj=subject)
    assert entry.action == "group.updated" and entry.action_label == actions.label("group.updated")


# --------------------------------------------------------------------------- pages show labels, the API identifiers


def visible_text(html: str) -> str:
    """The page as people read it: no tags (and so no attributes such as data-action)."""
    return re.sub(r"<[^>]*>", " ", html)


def test_the_auditor_timeline_shows_labels_never_identifiers(auditor, journey):  # noqa: F811 - fixtures
    events = list(AuditEvent.objects.filter(claim_id=journey.pk).order_by("seq"))
    assert {"claim.created", "claim.submitted", "claim.approved_step"} <= {event.action for event in events}
    body = auditor.get(f"/audit/claims/{journey.pk}/").content.decode()
    text = visible_text(body)
    for event in events:
        assert f'id="seq-{event.seq}" data-action="{event.action}"' in body  # machine-readable, not shown
        assert event.action not in text, event.action
    for label in ("创建申领", "提交申领", "审核通过"):
        assert label in text

    auditor.cookies["django_language"] = "en"
    english = visible_text(auditor.get(f"/audit/claims/{journey.pk}/").content.decode())
    assert "Claim created" in english and "Step approved" in english and "创建申领" not in english


def test_the_state_as_of_a_day_names_its_events_by_label(auditor, journey):  # noqa: F811 - fixtures
    text = visible_text(auditor.get(f"/audit/claims/{journey.pk}/as-of/", {"date": "2026-03-09"}).content.decode())
    assert "审核通过" in text  # the state's event: HR's approval of 9 March
    assert not re.search(r"claim\.[a-z_]+", text)


def test_the_claim_page_history_shows_labels_never_identifiers(client, journey, demo):  # noqa: F811 - fixture
    client.force_login(demo["hr_reviewer"])
    body = client.get(f"/claims/{journey.pk}/").content.decode()
    text = visible_text(body)
    assert 'id="claim-history"' in body
    history = text[text.index("办理记录") :]
    for event in AuditEvent.objects.filter(claim_id=journey.pk):
        assert f'data-action="{event.action}"' in body
        assert event.action not in history, event.action
    assert "审核通过" in history and "提交申领" in history


def test_the_api_history_keeps_the_identifiers_and_adds_the_labels(journey):  # noqa: F811 - fixture
    client = login("auditor")
    items = ok(client.get(f"/api/v1/claims/{journey.pk}/history/"))["results"]
    recorded = list(AuditEvent.objects.filter(claim_id=journey.pk).order_by("seq"))
    assert [item["action"] for item in items] == [event.action for event in recorded]
    for item in items:
        assert {"seq", "at", "actor", "action", "from_state", "to_state", "detail", "hash", "action_label"} <= set(item)
    with translation.override("zh-hans"):
        assert [item["action_label"] for item in items] == [actions.label(event.action) for event in recorded]
    english = ok(client.get(f"/api/v1/claims/{journey.pk}/history/", HTTP_ACCEPT_LANGUAGE="en"))["results"]
    assert [item["action"] for item in english] == [item["action"] for item in items]
    assert english[0]["action_label"] == "Claim created"


def test_the_claim_page_history_names_the_group_a_permission_was_granted_to(client, journey, demo):  # noqa: F811 - fixture
    """The template names the action by its constant (``is_action``), and still picks its entries."""
    client.force_login(demo["hr_reviewer"])
    body = client.get(f"/claims/{journey.pk}/").content.decode()
    granted = AuditEvent.objects.filter(claim_id=journey.pk, action=actions.PERMISSION_GRANTED)
    groups = {event.detail["group"] for event in granted}
    assert groups
    rows = re.findall(r'<tr data-action="([^"]+)">(.*?)</tr>', body, flags=re.S)
    for action, row in rows:
        shown = set(re.findall(r'<span class="muted small">([^<]*)</span>', row))
        assert shown <= groups if action == actions.PERMISSION_GRANTED else not (shown & groups), (action, shown)
    assert groups == {
        group for action, row in rows if action == actions.PERMISSION_GRANTED
        for group in re.findall(r'<span class="muted small">([^<]*)</span>', row)
    }  # fmt: skip


def test_a_template_naming_an_action_that_is_not_registered_fails_to_render():
    from django.template import Context, Template, TemplateSyntaxError

    page = Template('{% load approvals_tags %}{% if action|is_action:"CLAIM_PAID" %}paid{% endif %}')
    assert page.render(Context({"action": "claim.paid"})) == "paid"
    assert page.render(Context({"action": "claim.submitted"})) == ""
    for name in ("CLAIM_TELEPORTED", "REGISTRY", "claim.paid"):
        misspelt = Template('{% load approvals_tags %}{% if action|is_action:"' + name + '" %}x{% endif %}')
        with pytest.raises(TemplateSyntaxError, match="is_action"):
            misspelt.render(Context({"action": "claim.paid"}))
