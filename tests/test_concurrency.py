"""People acting at the same moment, with real threads on real database connections.

Each thread has its own connection (Django's are per thread) and closes it when done.
The tests commit for real (transactional_db), as two browsers would. On PostgreSQL the
deciders are first held on the process row lock by a "gate" transaction, so both are
certainly inside the decision at once before one of them gets the lock; on SQLite the
gate holds the database's write lock instead.

No sleep orders anything here: threads start together at a Barrier, the gate holds and lets go
on Events, and the main thread waits for what PostgreSQL reports (sessions waiting on a lock) or
for what the SQLite deciders tell (they have asked for the write lock)."""

import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from viewflow.workflow.models import Process, Task

from audit.models import AuditEvent
from audit.selectors import verify_chain
from claims import roles
from claims.errors import StepAlreadyTaken
from claims.models import Claim, ClaimStatus
from claims.organisation import ensure_staff_user
from claims.services import create_claim
from workflow import selectors as inbox
from workflow.services import decide_task, submit_claim

from .conftest import DEMO_PASSWORD, claim_data, line, resident_id

THREAD_TIMEOUT = 60


def run_at_once(*actions):
    """Run each action in its own thread, released together; return (result, error) per action."""
    barrier = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def runner(index, action):
        try:
            barrier.wait(timeout=THREAD_TIMEOUT)
            outcomes[index] = (action(), None)
        except BaseException as error:  # noqa: BLE001 - reported to the test
            outcomes[index] = (None, error)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, action), daemon=True) for i, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    return threads, outcomes


def join_all(threads):
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"


class Gate:
    """A transaction in its own thread that holds a lock until released."""

    def __init__(self, take_lock):
        self._take_lock = take_lock
        self._held = threading.Event()
        self._release = threading.Event()
        self.error = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            with transaction.atomic():
                self._take_lock()
                self._held.set()
                self._release.wait(THREAD_TIMEOUT)
        except BaseException as error:  # noqa: BLE001
            self.error = error
            self._held.set()
        finally:
            connection.close()

    def __enter__(self):
        self._thread.start()
        assert self._held.wait(THREAD_TIMEOUT), "the gate did not take its lock"
        assert self.error is None, self.error
        return self

    def open(self):
        self._release.set()

    def __exit__(self, *exc):
        self.open()
        self._thread.join(THREAD_TIMEOUT)


LOCK_WAIT_STEP = 0.05  # seconds; see wait_for_postgres_lock_waiters


def postgres_lock_waiters() -> int:
    """Sessions of this database, other than ours, waiting on a lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def wait_for_postgres_lock_waiters(count: int, threads, timeout: float = 15.0) -> int:
    """Wait until ``count`` sessions wait on a lock, those of ``threads`` (the threads that should
    be blocked), and return how many do (fewer if it did not happen within about ``timeout`` s).

    PostgreSQL tells no one when a session starts waiting, so pg_stat_activity is asked again and
    again; in between, this waits for the threads to end (a join with a short timeout), the one
    thing they can do instead of blocking: a thread that ended will never be waiting, so then
    this stops waiting at once."""
    for _ in range(round(timeout / LOCK_WAIT_STEP)):
        waiting = postgres_lock_waiters()
        if waiting >= count:
            return waiting
        running = [thread for thread in threads if thread.is_alive()]
        if len(running) < len(threads):
            break
        running[0].join(LOCK_WAIT_STEP)
    return postgres_lock_waiters()


class AskingForTheWriteLock:
    """Wraps an action so that it tells (``asked``) when its transaction asks SQLite for the write
    lock: Django sends BEGIN IMMEDIATE. While the gate holds that lock, the BEGIN waits in
    SQLite's busy handler (the busy timeout) until the gate lets go."""

    def __init__(self, action):
        self.action = action
        self.asked = threading.Event()

    def _tell(self, execute, sql, params, many, context):
        if sql.startswith("BEGIN"):
            self.asked.set()
        return execute(sql, params, many, context)

    def __call__(self):
        with connection.execute_wrapper(self._tell):
            return self.action()


@pytest.fixture
def second_department_reviewer(demo):
    """Another reviewer of 应急管理局 (WL-YJJ): same role group, same department staff group."""
    return ensure_staff_user(
        username="dept_reviewer_b",
        password=DEMO_PASSWORD,
        role=roles.DEPARTMENT_REVIEWER,
        scope_group=Group.objects.get(name="department:WL-YJJ"),
    )


def submitted_claim(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    return claim


def assert_one_decision(claim, reviewers, outcomes):
    """Exactly one decider won, the other was told the step was taken (409); the claim moved once."""
    winners = [user for user, (result, error) in zip(reviewers, outcomes) if error is None]
    losers = [error for _result, error in outcomes if error is not None]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1 and isinstance(losers[0], StepAlreadyTaken), outcomes
    assert losers[0].status == 409
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_REVIEW
    decisions = AuditEvent.objects.filter(claim_id=claim.pk, action="claim.approved_step")
    assert decisions.count() == 1
    assert decisions.get().actor_id == winners[0].pk
    review = Task.objects.get(process_id=claim.process_id, flow_task=inbox.node("department_review"))
    assert review.owner_id == winners[0].pk
    assert Task.objects.filter(process_id=claim.process_id, flow_task=inbox.node("hr_review")).count() == 1
    assert verify_chain()["ok"] is True


@pytest.mark.postgres
def test_two_reviewers_deciding_at_once_one_wins_the_other_gets_409(transactional_db, demo, second_department_reviewer):
    claim = submitted_claim(demo)
    task = inbox.actionable_tasks(demo["dept_reviewer"]).get()
    assert inbox.actionable_tasks(second_department_reviewer).get() == task
    reviewers = [demo["dept_reviewer"], second_department_reviewer]

    def lock_process():
        Process.objects.select_for_update().filter(pk=claim.process_id).exists()

    with Gate(lock_process) as gate:
        threads, outcomes = run_at_once(
            *[
                lambda user=user: decide_task(user=user, task_id=task.pk, decision="approve", comment=user.username)
                for user in reviewers
            ]
        )
        # Both deciders have found the task and now wait for the process lock.
        waiting = wait_for_postgres_lock_waiters(2, threads)
        gate.open()
        join_all(threads)
    assert waiting == 2, f"the deciders did not wait on the flow lock: {outcomes}"
    assert_one_decision(claim, reviewers, outcomes)


@pytest.mark.postgres
def test_two_reviewers_posting_decide_at_once_get_200_and_409(transactional_db, demo, second_department_reviewer):
    """The same race through the API, as two browsers or integrations would hit it."""
    from rest_framework.test import APIClient

    claim = submitted_claim(demo)
    task = inbox.actionable_tasks(demo["dept_reviewer"]).get()
    reviewers = [demo["dept_reviewer"], second_department_reviewer]

    def post_decide(user):
        client = APIClient()
        client.force_authenticate(user)
        return client.post(f"/api/v1/tasks/{task.pk}/decide/", {"decision": "approve", "comment": user.username}, format="json")

    def lock_process():
        Process.objects.select_for_update().filter(pk=claim.process_id).exists()

    with Gate(lock_process) as gate:
        threads, outcomes = run_at_once(*[lambda user=user: post_decide(user) for user in reviewers])
        waiting = wait_for_postgres_lock_waiters(2, threads)
        gate.open()
        join_all(threads)
    assert waiting == 2, outcomes
    responses = [response for response, error in outcomes]
    assert all(error is None for _response, error in outcomes), outcomes
    assert sorted(response.status_code for response in responses) == [200, 409]
    conflict = next(response for response in responses if response.status_code == 409)
    assert conflict.json()["error"]["code"] == "conflict"
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_REVIEW
    assert AuditEvent.objects.filter(claim_id=claim.pk, action="claim.approved_step").count() == 1


@pytest.mark.postgres
def test_a_decision_that_cannot_lock_the_process_in_time_is_a_409_and_writes_nothing(transactional_db, demo):
    """The flow's lock holds no savepoint of its own (workflow/locks.py): a lock that fails
    (here lock_timeout, while another transaction holds the process) still leaves nothing of the
    decision behind, the take before it included, and the API says so as a conflict."""
    from rest_framework.test import APIClient

    claim = submitted_claim(demo)
    task = inbox.actionable_tasks(demo["dept_reviewer"]).get()
    entries = AuditEvent.objects.count()
    client = APIClient()
    client.force_authenticate(demo["dept_reviewer"])

    def lock_process():
        Process.objects.select_for_update().filter(pk=claim.process_id).exists()

    with Gate(lock_process):
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        try:
            refused = client.post(f"/api/v1/tasks/{task.pk}/decide/", {"decision": "approve", "comment": "ok"}, format="json")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict", refused.content
    task.refresh_from_db()
    claim.refresh_from_db()
    assert (task.status, task.owner_id, claim.status) == ("NEW", None, ClaimStatus.DEPARTMENT_REVIEW)
    assert AuditEvent.objects.count() == entries
    # Once the other transaction let go, the same decision goes through.
    decided = client.post(f"/api/v1/tasks/{task.pk}/decide/", {"decision": "approve", "comment": "ok"}, format="json")
    assert decided.status_code == 200, decided.content
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.HR_REVIEW


@pytest.mark.postgres
def test_two_submits_of_one_draft_start_one_process(transactional_db, demo):
    clerk = demo["provider_clerk"]
    claim = create_claim(user=clerk, data=claim_data())

    def lock_claim():
        Claim.objects.select_for_update().filter(pk=claim.pk).exists()

    with Gate(lock_claim) as gate:
        threads, outcomes = run_at_once(
            lambda: submit_claim(user=clerk, claim=claim), lambda: submit_claim(user=clerk, claim=claim)
        )
        waiting = wait_for_postgres_lock_waiters(2, threads)
        gate.open()
        join_all(threads)
    assert waiting == 2, outcomes
    errors = [error for _result, error in outcomes if error is not None]
    assert len(errors) == 1 and isinstance(errors[0], StepAlreadyTaken), outcomes
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW
    assert Process.objects.count() == 1
    assert claim.process_id == Process.objects.get().pk
    assert Task.objects.filter(process_id=claim.process_id, flow_task=inbox.node("department_review")).count() == 1
    assert AuditEvent.objects.filter(claim_id=claim.pk, action="claim.submitted").count() == 1


@pytest.mark.postgres
def test_a_stale_decision_during_resubmission_is_a_409_not_a_deadlock(transactional_db, demo):
    """The reviewer returned the claim, then clicks "approve" again on the old page just as the
    provider resubmits. The resubmission locks the claim, then the process; the stale decision
    must not lock the claim while holding the process, or the two deadlock."""
    clerk, reviewer = demo["provider_clerk"], demo["dept_reviewer"]
    claim = submitted_claim(demo)
    task = inbox.actionable_tasks(reviewer).get()
    decide_task(user=reviewer, task_id=task.pk, decision="return", comment="请补充证书复印件")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.RETURNED

    def lock_process():
        Process.objects.select_for_update().filter(pk=claim.process_id).exists()

    outcomes = {}

    def act(name, action):
        try:
            outcomes[name] = (action(), None)
        except BaseException as error:  # noqa: BLE001
            outcomes[name] = (None, error)
        finally:
            connection.close()

    stale = threading.Thread(target=act, args=("stale", lambda: decide_task(user=reviewer, task_id=task.pk, decision="approve")))
    resubmit = threading.Thread(target=act, args=("resubmit", lambda: submit_claim(user=clerk, claim=claim)))
    with Gate(lock_process) as gate:
        stale.start()  # first in line for the process lock
        assert wait_for_postgres_lock_waiters(1, [stale]) == 1
        resubmit.start()  # locks the claim, then queues for the process lock
        waiting = wait_for_postgres_lock_waiters(2, [stale, resubmit])
        gate.open()
        join_all([stale, resubmit])
    assert waiting == 2, outcomes
    assert outcomes["resubmit"][1] is None, outcomes
    assert isinstance(outcomes["stale"][1], StepAlreadyTaken), outcomes
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DEPARTMENT_REVIEW
    assert AuditEvent.objects.filter(claim_id=claim.pk, action="claim.approved_step").count() == 0


def concurrent_writers_keep_the_chain(demo, writers: int = 8):
    """Each writer drafts and submits a claim; one trainee is on every claim, so they also
    race to create that person."""
    clerk = demo["provider_clerk"]
    events_before = AuditEvent.objects.count()

    def write(n):
        lines = [line(resident_id(100), "共同学员"), line(resident_id(200 + n), f"学员{n}", certificate_number=f"C-{n}")]
        claim = create_claim(user=clerk, data=claim_data(lines=lines, class_name=f"并发班 {n}"))
        return submit_claim(user=clerk, claim=claim)

    threads, outcomes = run_at_once(*[lambda n=n: write(n) for n in range(writers)])
    join_all(threads)
    assert [error for _result, error in outcomes] == [None] * writers
    assert Claim.objects.filter(status=ClaimStatus.DEPARTMENT_REVIEW).count() == writers
    assert AuditEvent.objects.filter(action="claim.submitted").count() == writers
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    # claim.created, permission.granted (provider), permission.granted (department), claim.submitted
    assert len(seqs) - events_before == writers * 4
    result = verify_chain()
    assert result == {
        "ok": True,
        "events": len(seqs),
        "head_hash": AuditEvent.objects.order_by("-seq").first().hash,
        "first_bad_seq": None,
    }


@pytest.mark.postgres
def test_audit_chain_stays_unbroken_with_eight_concurrent_writers(transactional_db, demo):
    concurrent_writers_keep_the_chain(demo)


@pytest.fixture
def sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip(
            f"SQLite-specific (writers queue on the database file's write lock); {connection.vendor} has its own test above"
        )


def test_two_reviewers_deciding_at_once_on_sqlite(transactional_db, sqlite_only, demo, second_department_reviewer):
    """SQLite has no row locks: the database is locked for writing by one transaction at a time
    (BEGIN IMMEDIATE, busy timeout), and the task's conditional UPDATE backs that up."""
    claim = submitted_claim(demo)
    task = inbox.actionable_tasks(demo["dept_reviewer"]).get()
    reviewers = [demo["dept_reviewer"], second_department_reviewer]

    def lock_database():
        # BEGIN IMMEDIATE has taken the write lock; write to be sure of it.
        Group.objects.filter(name="department:WL-YJJ").update(name="department:WL-YJJ")

    deciders = [
        AskingForTheWriteLock(
            lambda user=user: decide_task(user=user, task_id=task.pk, decision="approve", comment=user.username)
        )
        for user in reviewers
    ]
    with Gate(lock_database) as gate:
        threads, outcomes = run_at_once(*deciders)
        # Both deciders have asked for the write lock the gate holds: they wait for it, or (if the
        # gate lets go before one of them is inside SQLite) take it one after the other.
        assert all(decider.asked.wait(THREAD_TIMEOUT) for decider in deciders), outcomes
        assert all(outcome is None for outcome in outcomes), outcomes
        gate.open()
        join_all(threads)
    assert_one_decision(claim, reviewers, outcomes)


def test_audit_chain_stays_unbroken_with_eight_concurrent_writers_on_sqlite(transactional_db, sqlite_only, demo):
    concurrent_writers_keep_the_chain(demo)


@pytest.mark.postgres
def test_an_objection_filed_as_the_notice_closes_waits_for_it_and_is_refused(transactional_db, demo):
    """The objection's last second and the due job's first one: the closing holds the claim (not
    committed yet); the objection waits for it, then finds the notice closed. Once, it went in
    after the closing had counted no open objection, and the HR head upheld it on an approved
    claim whose line was already in a batch."""
    import datetime

    from claims.errors import InvalidInput
    from claims.models import Jurisdiction
    from workflow import notice
    from workflow.deadlines import passed_at
    from workflow.models import InboxItem, Objection

    from .conftest import TODAY
    from .test_public_notice import on_notice

    Jurisdiction.objects.filter(code="WL").update(public_notice_from=TODAY)
    claim = on_notice(demo)
    item = InboxItem.objects.get(claim_id=claim.pk, step="public_notice")
    deadline = passed_at(item.due, claim.jurisdiction_id)
    line_id = claim.lines.get(line_no=1).pk

    def close_the_notice():
        assert notice.close_notice(claim_id=claim.pk, now=deadline + datetime.timedelta(seconds=1))

    def file():
        return notice.file_objection(
            line_id=line_id,
            contact="13800000000",
            reason="该学员未参加培训。",
            client_address="203.0.113.9",
            now=deadline - datetime.timedelta(seconds=1),
        )

    with Gate(close_the_notice) as gate:
        threads, outcomes = run_at_once(file)
        waiting = wait_for_postgres_lock_waiters(1, threads)
        gate.open()
        join_all(threads)
    assert waiting == 1, outcomes
    [(_result, error)] = outcomes
    assert isinstance(error, InvalidInput) and list(error.fields) == ["line"], outcomes
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED
    assert not Objection.objects.exists() and not AuditEvent.objects.filter(action="objection.filed").exists()
    assert verify_chain()["ok"] is True
