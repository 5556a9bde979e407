"""The registry of due jobs: every timer and sweep of the product, run together at a given moment.

An app registers a job in its ``AppConfig.ready`` (``register("workflow.correction_deadline", fn)``);
``run_due(now)`` calls each job with the moment it runs for. ``manage.py run_due --now <ISO time>``
(operations, tests) and Celery beat's ``workflow.tasks.run_due_jobs`` (every minute) both call it.

A job decides from the data what is due at ``now`` and acts on it in its own transactions; it must
be idempotent (running twice at the same moment does nothing the second time) because beat, an
operator and a retry may run it again. The registry keeps no state of its own."""

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# A job: (the moment to run for, aware) -> how many things it did (for the log and the command).
Job = Callable[[datetime.datetime], int]


@dataclass(frozen=True)
class DueJob:
    name: str
    run: Job
    description: str = ""


JOBS: dict[str, DueJob] = {}


def register(name: str, run: Job, *, description: str = "") -> Job:
    """Add a job under a unique name (``app.what``); registering the same name twice is refused."""
    if name in JOBS and JOBS[name].run is not run:
        raise ValueError(f"due job {name!r} is registered twice")
    JOBS[name] = DueJob(name, run, description)
    return run


def run_due(now: datetime.datetime, *, only: tuple[str, ...] = ()) -> dict[str, int]:
    """Run every registered job (or those named in ``only``) for this moment, in registration
    order; returns what each did. A failing job is logged and re-raised after the others ran:
    one broken sweep does not stop the deadlines."""
    if now.tzinfo is None:
        raise ValueError("run_due needs an aware moment (with its time zone)")
    unknown = set(only) - set(JOBS)
    if unknown:
        raise KeyError(f"no due job named {', '.join(sorted(unknown))}")
    done: dict[str, int] = {}
    failure: BaseException | None = None
    for job in JOBS.values():
        if only and job.name not in only:
            continue
        try:
            done[job.name] = job.run(now)
        except Exception as error:  # noqa: BLE001 - logged, the others still run, then re-raised
            logger.exception("due job %s failed at %s", job.name, now.isoformat())
            failure = failure or error
    if failure is not None:
        raise failure
    return done
