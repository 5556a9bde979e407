"""A task's message may be lost (Redis down at commit, a worker killed past its retries): no work
is lost with it. Every task is sent through one helper (due/enqueue.py), which never turns a
committed change into an error, and names its sweep: the due job that finds the work left in the
data and hands it over again, run by beat (every minute) and by `make due` alike.

These read the project's modules (not tests/): a task sent any other way, or a sweep that nothing
runs, fails here. The stories: tests/test_payment_batches.py (a release), test_roster_import.py
(a roster), test_notifications_worker.py (an e-mail), test_bank_result_settlement.py (a bank
result's claims)."""

import ast
from pathlib import Path

from django.conf import settings

from due.registry import JOBS

ROOT = Path(__file__).resolve().parent.parent
HELPER = ROOT / "due" / "enqueue.py"
SENDS = {"delay", "apply_async", "send_task"}  # what publishes a message to the broker
HELPERS = {"enqueue", "enqueue_after_commit"}


def project_modules() -> list[Path]:
    """Every module of the project's packages (a directory with __init__.py), tests apart."""
    packages = [path.parent for path in ROOT.glob("*/__init__.py") if path.parent.name != "tests"]
    assert {"claims", "payments", "workflow", "notifications", "due"} <= {package.name for package in packages}
    return sorted(module for package in packages for module in package.rglob("*.py"))


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def called_name(call: ast.Call) -> str:
    return getattr(call.func, "attr", getattr(call.func, "id", ""))


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def calls_outside_commit_hooks(node: ast.AST):
    """The calls in ``node``, those inside an on_commit(...) apart (they run after a commit)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Call) and called_name(child) == "on_commit":
            continue
        if isinstance(child, ast.Call):
            yield child
        yield from calls_outside_commit_hooks(child)


def registered_functions() -> dict[str, str]:
    """'module.function' → the name of the due job that runs it."""
    return {f"{job.run.__module__}.{job.run.__name__}": name for name, job in JOBS.items()}


def test_no_module_sends_a_task_but_through_the_helper():
    """A bare ``on_commit(lambda: task.delay(...))`` raised into a request that had committed (a
    500 for a release that stood) and named no sweep: the work waited forever."""
    bare = [
        f"{where(path, node)} .{called_name(node)}(…)"
        for path in project_modules()
        if path != HELPER
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and called_name(node) in SENDS and isinstance(node.func, ast.Attribute)
    ]
    assert not bare, "send tasks with due.enqueue.enqueue_after_commit (or enqueue, in a sweep):\n" + "\n".join(bare)


def test_every_task_sent_names_a_registered_due_job_as_its_sweep():
    sent, unknown = [], []
    for path in project_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and called_name(node) in HELPERS) or path == HELPER:
                continue
            sweep = next((keyword.value for keyword in node.keywords if keyword.arg == "sweep"), None)
            name = sweep.value if isinstance(sweep, ast.Constant) else None
            sent.append(name)
            if name not in JOBS:
                unknown.append(f"{where(path, node)} sweep={ast.unparse(sweep) if sweep else None}")
    assert len(sent) >= 5, sent  # the e-mails, a bank result's claims, a release (twice), a roster
    assert not unknown, "the sweep must be a registered due job's name (a literal):\n" + "\n".join(unknown)


def test_every_function_that_hands_work_over_again_is_a_registered_due_job():
    """A function that sends a task itself, not after a commit, is a sweep: it must be run by
    beat and `make due`, i.e. be a due job, registered under the name it gives as the sweep.
    requeue_stale_uploads was run by nothing; requeue_stuck_releases by beat alone (not by the
    embedded `make run`, whose Celery is eager, with no beat)."""
    registered = registered_functions()
    unscheduled = []
    for path in project_modules():
        if path == HELPER:
            continue
        for function in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            sends = [call for call in calls_outside_commit_hooks(function) if called_name(call) in SENDS | {"enqueue"}]
            if not sends:
                continue
            qualified = f"{module_name(path)}.{function.name}"
            named = {keyword.value.value for call in sends for keyword in call.keywords if keyword.arg == "sweep"}
            if registered.get(qualified) is None or named != {registered[qualified]}:
                unscheduled.append(f"{where(path, function)} {qualified} (sweep named: {sorted(named)})")
    assert not unscheduled, "a sweep not run as a due job (register it in its AppConfig.ready):\n" + "\n".join(unscheduled)


def test_beat_runs_the_due_jobs_and_no_sweep_of_its_own():
    """Beat's one other entry signs the ledger's checkpoints; it recovers no work."""
    sent_by_beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert sent_by_beat == {"workflow.tasks.run_due_jobs", "audit.tasks.sign_checkpoint"}
