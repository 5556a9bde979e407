"""The one registry of ledger actions (audit/actions.py): every action has a Chinese label and
its English; every action the code records is registered, in the source and at run time."""

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


TEMPLATE_ACTION = re.compile(r"""\.action\s*(?:==|!=)\s*["']([^"']+)["']|["']([^"']+)["']\s*(?:==|!=)\s*[\w.]+\.action\b""")


def test_every_action_the_code_records_is_registered():
    found = {}
    for path in python_sources():
        for line, literal in recorded_action_literals(path):
            found.setdefault(literal, []).append(f"{path.relative_to(PROJECT)}:{line}")
    for path in template_sources():
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in TEMPLATE_ACTION.finditer(text):
                found.setdefault(match.group(1) or match.group(2), []).append(f"{path.relative_to(PROJECT)}:{number}")
    assert "<f-string>" not in found, f"actions built at run time cannot be checked: {found.get('<f-string>')}"
    unregistered = {literal: where for literal, where in found.items() if literal not in actions.REGISTRY}
    assert not unregistered, unregistered
    # The scan sees the code base: the three services another engineer is rewriting still use
    # literals, and the code records far more than a handful of actions.
    assert {"claim.submitted", "claim.approved_step", "payment_batch.released", "claim.payment_result"} <= set(found)


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
        'record_event(action=actions.CLAIM_PAID, obj=x)\n',
        encoding="utf-8",
    )
    assert sorted(recorded_action_literals(probe)) == [
        (1, "a.one"), (2, "b.three"), (2, "b.two"), (3, "c.four"), (4, "d.five"), (4, "d.six"), (5, "e.seven"),
        (6, "<f-string>")]  # fmt: skip


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
