"""Guard rails on the tests themselves: nothing sleeps to wait for something, and nothing
asserts how long something took.

A sleep makes a test slow where the machine is fast and flaky where it is slow: a test waits
for the thing itself (an Event or a Barrier, a thread's end, a line of the worker's log, what
pg_stat_activity reports), with a timeout. Speed is measured in bench/, not asserted in tests,
where a shared or loaded machine makes any bound either loose or flaky.

The scan is of the syntax (ast) of every module under tests/ but this one, whose samples below
show what it finds."""

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
# Wall and process clocks, as attributes of the time module (time.monotonic()) or imported alone.
CLOCKS = {"monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "process_time", "process_time_ns", "time", "time_ns"}
SLEEPS = {"sleep", "wait_for_timeout"}  # time.sleep, asyncio.sleep, Playwright's page.wait_for_timeout


def _name_of(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_clock_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "time":
        return func.attr in CLOCKS
    # `from time import monotonic`; a bare time() is left alone (datetime.time, the time module itself).
    return isinstance(func, ast.Name) and func.id in CLOCKS - {"time"}


def _is_sleep(node: ast.AST) -> bool:
    """sleep(…) by any module, or a wait on an Event nobody can set: Event().wait(…)."""
    if not isinstance(node, ast.Call):
        return False
    name = _name_of(node.func)
    if name in SLEEPS:
        return True
    return (
        name == "wait"
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Call)
        and (_name_of(node.func.value.func) or "").endswith("Event")
    )


def _assigned_names(node: ast.AST) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)]


def _scopes(tree: ast.Module):
    """The module and each function in it: the scopes whose names are followed separately."""
    yield tree
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield node


def _own_nodes(scope: ast.AST):
    """The nodes of a scope, without those of the functions defined inside it."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def problems(source: str, filename: str = "<test>") -> list[str]:
    """Each sleep, pg_sleep, and assert on a clock reading in ``source``, as "file:line: what"."""
    tree = ast.parse(source, filename)
    found = []
    for node in ast.walk(tree):
        if _is_sleep(node):
            found.append(f"{filename}:{node.lineno}: sleeps instead of waiting for something ({ast.unparse(node)})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "pg_sleep" in node.value:
            found.append(f"{filename}:{node.lineno}: pg_sleep in SQL")
    for scope in _scopes(tree):
        nodes = sorted(
            (node for node in _own_nodes(scope) if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Assert))),
            key=lambda node: (node.lineno, node.col_offset),
        )
        clocked = set()  # names holding a clock reading, or computed from one (started, elapsed)
        for node in nodes:
            value = node.test if isinstance(node, ast.Assert) else node.value
            if value is None:
                continue
            reads_clock = any(
                _is_clock_call(inner) or (isinstance(inner, ast.Name) and inner.id in clocked) for inner in ast.walk(value)
            )
            if isinstance(node, ast.Assert):
                if reads_clock:
                    found.append(f"{filename}:{node.lineno}: asserts on a clock reading ({ast.unparse(node.test)})")
            elif reads_clock:
                clocked.update(_assigned_names(node))
    return sorted(set(found), key=lambda problem: int(problem.split(":")[1]))


def test_no_test_sleeps_or_asserts_on_elapsed_time():
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.resolve() != Path(__file__).resolve():
            found += problems(path.read_text(encoding="utf-8"), str(path.relative_to(TESTS.parent)))
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "import time\ntime.sleep(1)",
        "from time import sleep\nsleep(0.1)",
        "import asyncio\nasync def f():\n    await asyncio.sleep(1)",
        "page.wait_for_timeout(500)",
        "import threading\nthreading.Event().wait(1)",
        "cursor.execute('SELECT pg_sleep(1)')",
        "import time\nstarted = time.monotonic()\nrun()\nassert time.monotonic() - started < 5",
        "import time\ndef test():\n    started = time.perf_counter()\n    run()\n    elapsed = time.perf_counter() - started\n    assert elapsed < 5",
        "from time import monotonic\nassert monotonic() > 0",
        "import time\nbegan = time.time()\nrun()\ntaken = time.time() - began\nassert taken < 1, taken",
    ],
)
def test_the_scan_finds(source):
    assert problems(source)


@pytest.mark.parametrize(
    "source",
    [
        "ready.wait(30)",  # an Event that another thread sets
        "thread.join(0.05)",
        "import time\ndeadline = time.monotonic() + 30\nwhile time.monotonic() < deadline:\n    pass",  # a bound, not an assert
        "import datetime\nassert datetime.time(12) < datetime.time(13)",
        "import time\ndef f():\n    started = time.monotonic()\ndef g(started):\n    assert started",  # another scope's name
    ],
)
def test_the_scan_lets_pass(source):
    assert problems(source) == []


def test_the_whole_run_sees_one_date():
    """conftest's clock: date.today() (the machine's time zone) and timezone.localdate() (the
    project's, Asia/Shanghai) name the run's one date, whatever the hour the run started at."""
    import datetime

    from django.utils import timezone

    from .conftest import TODAY

    assert datetime.date.today() == TODAY == timezone.localdate()
