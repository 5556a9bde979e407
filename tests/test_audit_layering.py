"""The audit ledger is the ground floor: nothing in audit/ imports an app of ours, at the top
of a module or inside a function (pages/api → workflow → payments, notifications → claims →
audit ledger; the auditor's workspace, which reads claims, is the auditor app on top)."""

import ast
from pathlib import Path

import pytest

AUDIT_DIR = Path(__file__).resolve().parent.parent / "audit"
ABOVE_THE_LEDGER = {
    "claims",
    "payments",
    "workflow",
    "approvals",
    "notifications",
    "api",
    "auditor",
    "demo",
    "config",
    "bench",
    "tests",
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


SOURCES = sorted(path for path in AUDIT_DIR.rglob("*.py") if "migrations" not in path.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(AUDIT_DIR.parent)))
def test_the_audit_app_imports_no_app_above_it(path):
    offending = [(line, module) for line, module in imported_modules(path) if module.split(".")[0] in ABOVE_THE_LEDGER]
    assert not offending, f"{path.relative_to(AUDIT_DIR.parent)} imports {offending}"


def test_the_scan_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n    from claims.selectors import claims_visible_to\n    import payments.models\n", encoding="utf-8"
    )
    assert [module for _line, module in imported_modules(probe)] == ["claims.selectors", "payments.models"]
