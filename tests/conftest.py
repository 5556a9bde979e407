"""Shared fixtures: the demo organisation, input helpers, the services some tests need
(PostgreSQL, Redis and a real Celery worker process) and the test database itself.

Services: a test marked ``postgres`` needs PostgreSQL, one using ``celery_worker`` needs
Redis. Without them the test is skipped, except under ``CI_REQUIRE_SERVICES=1`` (set by
``.ci/run``), where a missing service is a failure: CI must never go green by skipping.

The clock: the whole run (and its worker processes) sees one date, TODAY (see the clock section)."""

import contextlib
import datetime
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings
from hypothesis import settings as hypothesis_settings

from config.celery import mail_queue_of
from due.enqueue import broker_back

DEMO_PASSWORD = "Subsidy-Demo-2026"  # the Makefile's demo password; meets AUTH_PASSWORD_VALIDATORS
REQUIRE_SERVICES = os.environ.get("CI_REQUIRE_SERVICES") == "1"
PROJECT_DIR = Path(__file__).resolve().parent.parent

# No example database written into the checkout; no wall-clock deadline (CI machines are shared).
hypothesis_settings.register_profile("claims", database=None, deadline=None)
hypothesis_settings.load_profile("claims")


# --------------------------------------------------------------------------- the clock

# One date for the whole run, in production's time zone. The test process runs on a clock that
# starts at 12:00 of the day the run started, local time (settings.TIME_ZONE, Asia/Shanghai),
# and ticks on from there, so that
# - a run that crosses midnight (or a year's end) never sees the date change between collecting
#   a test (module constants such as TODAY = date.today(), parametrize, hypothesis bounds) and
#   running it, nor between a test's data and the code it tests;
# - the process's time zone stays production's: every production process runs with
#   TZ=settings.TIME_ZONE (Django's settings set it), and time-machine sets TZ to the zone of a
#   destination that has one. (A destination in UTC made the whole run UTC's, so code reading the
#   machine's day, date.today(), passed here and failed in Beijing's first eight hours.) The
#   code under test never reads the process's zone (claims.dates.local_date, timezone.localdate);
#   tests/test_local_dates.py holds both.
# Celery worker processes get the same clock (WorkerProcess.command). Only the wall clock moves:
# time.monotonic() and perf_counter(), and so every timeout, are untouched.
LOCAL_ZONE = ZoneInfo(settings.TIME_ZONE)
TODAY = datetime.datetime.now(LOCAL_ZONE).date()
_CLOCK_START = datetime.datetime.combine(TODAY, datetime.time(12), tzinfo=LOCAL_ZONE)
_clock = time_machine.travel(_CLOCK_START, tick=True)
CLOCK_OFFSET = 0.0  # seconds the test clock is ahead of the real one (negative: behind)


def pytest_configure(config):
    global CLOCK_OFFSET
    CLOCK_OFFSET = _CLOCK_START.timestamp() - time.time()
    _clock.start()


def pytest_unconfigure(config):
    _clock.stop()


def skip_or_fail(reason: str) -> None:
    """Skip a test whose service is missing; under CI_REQUIRE_SERVICES=1 fail it instead."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CI_REQUIRE_SERVICES=1: a missing service fails the run)", pytrace=False)
    pytest.skip(reason)


# --------------------------------------------------------------------------- test database


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, test in a database file, as `make run` does, instead of Django's shared-cache
    in-memory database: there concurrent writers fail at once with "database table is locked"
    (shared-cache locks ignore the busy timeout), so threads could not test how two people
    acting at once are serialised, and a worker process could not open the database at all."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3" and not database.get("TEST", {}).get("NAME"):
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("sqlite") / "test_claims.sqlite3")


def require_postgresql() -> None:
    """Skip (or, under CI_REQUIRE_SERVICES=1, fail) unless the test database is PostgreSQL: for a
    ``postgres`` test, and for a module fixture, which is made before its tests' markers are read."""
    from django.db import connection

    if connection.vendor != "postgresql":
        skip_or_fail(
            f"needs PostgreSQL (row locks, advisory locks), the test database is {connection.vendor}: "
            "run with DATABASE_URL=postgres://…"
        )


@pytest.fixture(autouse=True)
def _services_for_markers(request):
    if request.node.get_closest_marker("postgres"):
        require_postgresql()


# --------------------------------------------------------------------------- demo data


FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed_demo():
    call_command("seed_demo", password=DEMO_PASSWORD, stdout=open(os.devnull, "w"))


def demo_is_seeded() -> bool:
    return get_user_model().objects.filter(username="provider_clerk").exists()


def _managed_tables() -> dict[str, str]:
    """Table → primary key column of every installed model with a table of its own."""
    from django.apps import apps

    tables = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.managed and not meta.proxy and not meta.swapped:
            tables.setdefault(meta.db_table, meta.pk.column)
    return tables


def _rows_by_pk(connection, tables: dict[str, str]) -> dict[str, dict]:
    quote = connection.ops.quote_name
    rows = {}
    with connection.cursor() as cursor:
        for table, pk in tables.items():
            cursor.execute(f"SELECT * FROM {quote(table)}")
            at = [column[0] for column in cursor.description].index(pk)
            rows[table] = {row[at]: row for row in cursor.fetchall()}
    return rows


def tables_with_triggers(connection) -> set[str]:
    """Tables with triggers of their own: the ledger's append-only ones (BEFORE UPDATE OR DELETE,
    audit/migrations), which refuse the DELETE a test's cleanup would send (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal")
        return {name.strip('"') for (name,) in cursor.fetchall()}


class DemoSeed:
    """The demo organisation, seeded once into the test database (committed), and what it added,
    so a test that did not ask for it can have the database as migrate left it.

    A plain `db` test runs in a transaction rolled back at its end: `demo` tests find the seed
    there; any other database test deletes what the seed added inside its own transaction.
    A transactional test that does not use `demo` deletes the committed seed. At its end, on
    PostgreSQL, the session's database is put back, seed included (SessionSnapshot); on SQLite
    the test flushes the database, and `demo` seeds again if the seed is gone."""

    def __init__(self, connection):
        self.connection = connection
        if demo_is_seeded():  # a database kept from an earlier run (--reuse-db): start from migrate's
            call_command("flush", interactive=False, verbosity=0)
        tables = _managed_tables()
        before = _rows_by_pk(connection, tables)
        with override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS):
            seed_demo()
        after = _rows_by_pk(connection, tables)
        changed = {table: sorted(pk for pk in before[table] if after[table].get(pk) != before[table][pk]) for table in tables}
        self.changed = {table: pks for table, pks in changed.items() if pks}
        if self.changed:
            # remove() only deletes what the seed added: it cannot undo a change to what migrate made.
            # Then no seed is kept: the database is emptied as after a transactional test, and
            # `demo` seeds in each test's transaction (slower, as it was before).
            warnings.warn(
                f"seed_demo changed rows that migrate made ({self.changed}): the demo is seeded in each test", stacklevel=2
            )
            call_command("flush", interactive=False, verbosity=0)
        self.added = {table: sorted(set(after[table]) - set(before[table])) for table in tables}
        self.added = {table: pks for table, pks in self.added.items() if pks}
        self.pk_columns = {table: tables[table] for table in self.added}
        self.triggered = tables_with_triggers(connection) & set(self.added)

    def remove(self) -> None:
        """Delete the rows the seed added (call inside a transaction)."""
        if self.changed:
            return
        connection = self.connection
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            for table in self.triggered:
                cursor.execute(f"ALTER TABLE {quote(table)} DISABLE TRIGGER USER")
            for table, pks in self.added.items():
                for start in range(0, len(pks), 500):
                    chunk = pks[start : start + 500]
                    placeholders = ", ".join(["%s"] * len(chunk))
                    cursor.execute(f"DELETE FROM {quote(table)} WHERE {quote(self.pk_columns[table])} IN ({placeholders})", chunk)
            if self.triggered:
                # ALTER TABLE refuses to run while deferred foreign-key checks are pending.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                for table in self.triggered:
                    cursor.execute(f"ALTER TABLE {quote(table)} ENABLE TRIGGER USER")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")


class SessionSnapshot:
    """PostgreSQL: the test database as the session starts (migrate's rows and the demo seed),
    copied once into a schema of its own, outside the search path. A transactional test ends
    by putting it back, in place of Django's flush: flush truncates every table, runs
    post_migrate again (content types and permissions, with new ids), and the next `demo` test
    seeds again: about two seconds a test here. Emptying the tables and copying the rows back
    takes a tenth of that, and the ids of content types and seed rows stay what they were."""

    SCHEMA = "pytest_session_snapshot"

    def __init__(self, connection):
        self.connection = connection
        quote = connection.ops.quote_name
        tables = sorted(connection.introspection.django_table_names(only_existing=True, include_views=False))
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {self.SCHEMA} CASCADE")  # a database kept by --reuse-db
            cursor.execute(f"CREATE SCHEMA {self.SCHEMA}")
            copied = []
            for table in tables:
                cursor.execute(f"CREATE TABLE {self.SCHEMA}.{quote(table)} AS SELECT * FROM {quote(table)}")
                if cursor.rowcount:
                    copied.append(table)
            # By name: a migration test may leave a table's columns in another order.
            cursor.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s "
                "ORDER BY table_name, ordinal_position",
                [self.SCHEMA],
            )
            columns: dict[str, list[str]] = {}
            for table, column in cursor.fetchall():
                columns.setdefault(table, []).append(quote(column))
        # The ledger's tables refuse DELETE: truncated (a TRUNCATE fires no row trigger).
        append_only = sorted(tables_with_triggers(connection) & set(tables))
        statements = ["SET CONSTRAINTS ALL DEFERRED"]
        if append_only:
            statements.append("TRUNCATE " + ", ".join(quote(table) for table in append_only))
        statements += [f"DELETE FROM {quote(table)}" for table in tables if table not in append_only]
        for table in copied:
            names = ", ".join(columns[table])
            statements.append(f"INSERT INTO {quote(table)} ({names}) SELECT {names} FROM {self.SCHEMA}.{quote(table)}")
        self.restore_sql = ";\n".join(statements)

    def restore(self) -> None:
        from django.contrib.contenttypes.models import ContentType
        from django.db import transaction

        with transaction.atomic(using=self.connection.alias), self.connection.cursor() as cursor:
            cursor.execute(self.restore_sql)
        ContentType.objects.clear_cache()


_demo_seed: DemoSeed | None = None
_module_world_open = False  # module_world's transaction is open (the seed cannot be removed in it)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database as pytest-django makes it, with the demo organisation seeded once and,
    on PostgreSQL, put back as it was after each transactional test (SessionSnapshot)."""
    global _demo_seed
    from django.db import connection
    from django.test import TransactionTestCase

    with django_db_blocker.unblock():
        _demo_seed = DemoSeed(connection)
        snapshot = SessionSnapshot(connection) if connection.vendor == "postgresql" else None
    with pytest.MonkeyPatch.context() as patch:
        if snapshot is not None:
            # TransactionTestCase's teardown, for pytest-django's transactional_db (TestCase rolls back instead).
            patch.setattr(TransactionTestCase, "_fixture_teardown", lambda test_case: snapshot.restore())
        yield
    _demo_seed = None


@pytest.fixture(autouse=True)
def _no_demo_unless_asked(request):
    """A database test that does not use `demo` gets the database as migrate left it."""
    names = request.fixturenames
    marker = request.node.get_closest_marker("django_db")
    if "demo" in names:
        return
    if "transactional_db" in names or "live_server" in names or (marker and marker.kwargs.get("transaction")):
        from django.db import transaction

        request.getfixturevalue("transactional_db")
        if demo_is_seeded():  # the session's seed, committed
            with transaction.atomic():
                _demo_seed.remove()
    elif "db" in names or marker:
        if _module_world_open:
            pytest.fail("a database test in a module_world module must ask for `demo`: the module's rows stand on the seed")
        request.getfixturevalue("db")
        _demo_seed.remove()
    else:
        return
    assert not demo_is_seeded(), "the demo seed is still there after removing what the session seeded"


@contextlib.contextmanager
def module_world(django_db_blocker):
    """For a module fixture: the demo seed and what the block makes, inside a transaction rolled
    back when the module is done. Each test of the module runs in a savepoint of its own
    (pytest-django's `db`), so what a test changes is gone before the next one; what the module
    shares is built once. Its database tests ask for `demo`: the module's rows stand on the seed."""
    global _module_world_open
    from django.db import transaction

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        _module_world_open = True
        try:
            if not demo_is_seeded():
                seed_demo()
            yield
        finally:
            _module_world_open = False
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def demo(db):
    """The demo organisation of seed_demo: users by username. Seeded once per session (see
    DemoSeed); seeded again after a transactional test has flushed it (SQLite)."""
    if not demo_is_seeded():
        seed_demo()
    return {user.username: user for user in get_user_model().objects.all()}


def line(id_number="11010519491231002X", name="张三", **overrides):
    data = {
        "id_number": id_number,
        "name": name,
        "occupation": "电工",
        "level": "senior",
        "certificate_type": "special_operation",
        "certificate_number": "T-2026-0001",
        "certificate_date": (datetime.date.today() - datetime.timedelta(days=30)).isoformat(),
        "training_days": 10,
        "stated_cost": "450.00",
    }
    data.update(overrides)
    return data


# Valid GB 11643 numbers (check digits computed) for distinct trainees.
def resident_id(serial: int, birth: str = "19900101", region: str = "331081") -> str:
    from claims.validators import resident_id_check_char

    first17 = f"{region}{birth}{serial:03d}"
    return first17 + resident_id_check_char(first17)


def claim_data(lines=None, **overrides):
    data = {
        "department": "WL-YJJ",
        "policy": "S3",
        "class_name": "低压电工作业 2026 第1期",
        "training_start": (datetime.date.today() - datetime.timedelta(days=60)).isoformat(),
        "training_end": (datetime.date.today() - datetime.timedelta(days=40)).isoformat(),
        "lines": lines
        if lines is not None
        else [line(resident_id(1), "张三"), line(resident_id(2), "李四", certificate_number="T-2026-0002")],
    }
    data.update(overrides)
    return data


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Tests log in and create users (and seed_demo ten, also in the session seed: see DemoSeed);
    # the production hasher is deliberately slow.
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the product's default language: a request with another language
    (LocaleMiddleware activates it for the thread and leaves it) must not leak into the next test."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(scope="session", autouse=True)
def attachments_dir(tmp_path_factory):
    """Documents attached in the run go to a directory of the run's own, never the checkout's var/
    (session-wide: the scope matrix's world, built once per module, attaches documents too)."""
    directory = tmp_path_factory.mktemp("attachments")
    with override_settings(ATTACHMENTS_DIR=directory):
        yield directory


# --------------------------------------------------------------------------- Celery


def _celery_app():
    from config.celery import app

    return app


def _purge_queue(app, queue: str) -> None:
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


@pytest.fixture(scope="session", autouse=True)
def celery_test_queue():
    """With Redis, every task this test run enqueues goes to queues of its own, so parallel
    runs on the same Redis never take each other's tasks and nothing is left in `claims`.
    Two of them: the worker's (yielded; a test asking for ``celery_worker`` enqueues there),
    and an idle one that no worker reads, for every other test: the session's worker, once
    started, must not run another test's tasks against the database that test is emptying.
    Without Redis, Celery runs eagerly (settings) and this does nothing."""
    if not os.environ.get("REDIS_URL"):
        yield None
        return
    app = _celery_app()
    queue = f"claims-test-{uuid.uuid4().hex[:12]}"
    idle = f"{queue}-idle"
    previous = settings.CELERY_TASK_DEFAULT_QUEUE, app.conf.task_default_queue
    _route_to(app, idle)
    yield queue
    try:
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            for name in (queue, idle, mail_queue_of(queue), mail_queue_of(idle)):
                channel.queue_purge(name)
                # kombu's Redis transport keeps the queue's exchange bindings in these sets.
                channel.client.delete(name, f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")
    finally:
        settings.CELERY_TASK_DEFAULT_QUEUE, app.conf.task_default_queue = previous


def _route_to(app, queue: str) -> None:
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    app.conf.task_default_queue = queue


def database_url_of(settings_dict) -> str:
    """DATABASE_URL (dj-database-url syntax) of the database Django is connected to."""
    engine = settings_dict["ENGINE"]
    name = str(settings_dict["NAME"])
    if engine in ("django.db.backends.postgresql", "audit.postgresql"):
        user = quote(settings_dict.get("USER") or "", safe="")
        password = settings_dict.get("PASSWORD") or ""
        auth = user + (f":{quote(password, safe='')}" if password else "")
        host = settings_dict.get("HOST") or "localhost"
        host = quote(host, safe="") if host.startswith("/") else host
        port = settings_dict.get("PORT") or 5432
        options = {k: v for k, v in (settings_dict.get("OPTIONS") or {}).items() if isinstance(v, (str, int))}
        query = f"?{urlencode(options)}" if options else ""
        return f"postgres://{auth}{'@' if auth else ''}{host}:{port}/{quote(name, safe='')}{query}"
    if engine == "django.db.backends.sqlite3":
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("an in-memory SQLite database cannot be shared with a worker process")
        return f"sqlite:///{Path(name).resolve()}"
    raise RuntimeError(f"no DATABASE_URL for {engine}")


# The worker, started under the test process's clock: `python -c WORKER_MAIN OFFSET celery-args…`.
WORKER_MAIN = (
    "import sys, time, time_machine; "
    "time_machine.travel(time.time() + float(sys.argv.pop(1)), tick=True).start(); "
    "from celery.__main__ import main; main()"
)


class WorkerProcess:
    """A real `celery worker` subprocess (solo pool) on one queue, and its log.

    The worker's output comes through a pipe, read a line at a time (a blocking readline) by a
    thread that keeps it (and copies it to ``log_path``) and wakes whoever waits for a line:
    waiting on the worker is waiting for what it says, with a timeout; nothing polls or sleeps."""

    START_TIMEOUT = 60.0

    def __init__(self, *, app, queue: str, env: dict, log_path: Path):
        self.app = app
        self.queue = queue
        self.hostname = f"{queue}@pytest"
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self._output = threading.Condition()  # notified at each line and when the output ends
        self._text = ""  # everything every worker of the session said, in order
        self._output_open = False  # the current worker's output has not ended (it has not exited)
        self._reader: threading.Thread | None = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable, "-c", WORKER_MAIN, repr(CLOCK_OFFSET), "-A", "config", "worker",
            "-P", "solo", "-c", "1", "-Q", f"{self.queue},{mail_queue_of(self.queue)}", "-n", self.hostname,
            "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "info",
        ]  # fmt: skip

    def _read_output(self, process: subprocess.Popen) -> None:
        with open(self.log_path, "a", encoding="utf-8") as copy:
            for line in process.stdout:  # blocks until the worker writes a line; ends when it exits
                copy.write(line)
                copy.flush()
                with self._output:
                    self._text += line
                    self._output.notify_all()
        with self._output:
            if self.process is process:
                self._output_open = False
            self._output.notify_all()

    def start(self) -> None:
        """Start the worker and wait until it says it is ready, then check that it consumes our queue."""
        for queue in (self.queue, mail_queue_of(self.queue)):  # tasks of earlier tests, for rows long gone
            _purge_queue(self.app, queue)
        offset = self.log_offset()
        with self._output:
            self.process = subprocess.Popen(
                self.command,
                cwd=PROJECT_DIR,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
            )
            self._output_open = True
        self._reader = threading.Thread(target=self._read_output, args=(self.process,), daemon=True, name="celery-worker-output")
        self._reader.start()
        # Celery logs "<hostname> ready." once its consumer has started: queues bound, remote control on.
        if not self.wait_for_log(
            rf"{re.escape(self.hostname)} ready\.", after=offset, timeout=self.START_TIMEOUT, required=False
        ):
            exited = self.process.poll() is not None
            self.stop()
            what = "exited at start" if exited else f"did not say it was ready within {self.START_TIMEOUT}s"
            pytest.fail(f"the celery worker {what}:\n{self.log()[offset:][-4000:]}")
        # Remote control goes through a Redis channel (PUBLISH): a request sent before the worker has
        # subscribed, just after "ready", is lost. So ask again, each time waiting a second for the reply.
        for _ in range(int(self.START_TIMEOUT)):
            replies = self.app.control.inspect(destination=[self.hostname], timeout=1.0).active_queues()
            if replies or not self.running:
                break
        if self.queue not in {queue["name"] for queue in (replies or {}).get(self.hostname, [])}:
            self.stop()
            pytest.fail(f"the celery worker does not consume {self.queue}: {replies}\n{self.log()[offset:][-4000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()  # warm shutdown: finishes the task at hand
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=10)  # the output ends with the process
            self._reader = None
        self.process.stdout.close()
        with self._output:
            self.process = None
            self._output_open = False

    @property
    def running(self) -> bool:
        """The worker has not exited (its output has not ended)."""
        return self._output_open

    def log(self) -> str:
        return self._text

    def log_offset(self) -> int:
        return len(self._text)

    def wait_for_log(
        self, pattern: str, *, after: int = 0, count: int = 1, timeout: float = 30.0, required: bool = True
    ) -> list[str]:
        """Wait until the log (from offset ``after``) has ``count`` lines matching ``pattern``, and
        return them. Woken by each line the worker writes; gives up after ``timeout`` seconds, or
        when the worker exits: then fails the test, or with ``required=False`` returns the lines found."""
        regex = re.compile(pattern)

        def found() -> list[str]:
            return [line for line in self._text[after:].splitlines() if regex.search(line)]

        with self._output:
            self._output.wait_for(lambda: len(found()) >= count or not self._output_open, timeout)
            lines, running = found(), self._output_open
        if len(lines) >= count or not required:
            return lines
        if not running:
            pytest.fail(f"the celery worker is not running:\n{self.log()[-4000:]}")
        pytest.fail(f"no {count}× /{pattern}/ in the worker log within {timeout}s:\n{self.log()[after:][-4000:]}")

    def wait_for_task(self, task_id: str, *, timeout: float = 30.0) -> str:
        """Wait until the worker logs that it finished the task with this id (there is no result backend)."""
        return self.wait_for_log(rf"\[{re.escape(task_id)}\] succeeded", timeout=timeout)[0]


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, celery_test_queue, tmp_path_factory):
    """A real `celery worker` subprocess on this run's own queue, connected to the test database
    (env DATABASE_URL built from the test connection), with this run's keys: started for each
    test that asks for ``celery_worker``.

    It depends on django_db_setup, so it is stopped before the test database is dropped."""
    if not os.environ.get("REDIS_URL"):
        skip_or_fail("needs Redis and a real Celery worker: set REDIS_URL=redis://…")
    from django.db import connection

    with django_db_blocker.unblock():
        database_url = database_url_of(connection.settings_dict)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "CELERY_QUEUE": celery_test_queue,
        "SECRET_KEY": settings.SECRET_KEY,
        "PII_HASH_KEY": settings.PII_HASH_KEY,
        "PII_ENCRYPTION_KEY": settings.PII_ENCRYPTION_KEY,
        "DEBUG": "False",
        "PYTHONUNBUFFERED": "1",
    }
    worker = WorkerProcess(
        app=_celery_app(), queue=celery_test_queue, env=env, log_path=tmp_path_factory.mktemp("celery") / "worker.log"
    )
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def celery_worker(celery_worker_process, transactional_db):
    """The worker process, with this test process enqueuing to it instead of running tasks
    itself; the test's writes are committed (transactional_db) so the worker sees them.

    A worker lives for one test. It starts on the test's database as it is (on SQLite a flush
    recreates the content types with new ids, which a worker caches: guardian finds permissions
    through them). It stops (finishing the task at hand) before the test's cleanup (the session
    snapshot put back, or the flush): what the test's last task enqueued (the e-mails of a settled
    batch) would otherwise run while the tables are emptied: CI saw the flush fail there ("couldn't
    be flushed") and leave rows to the next test."""
    with worker_running(celery_worker_process) as worker:
        yield worker


@contextlib.contextmanager
def worker_running(worker: WorkerProcess):
    """The worker started, and this process enqueuing to its queue (not running tasks itself)
    until the worker is stopped again; then as before."""
    worker.start()
    app = _celery_app()
    previous = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager = False
    _route_to(app, worker.queue)
    try:
        yield worker
    finally:
        app.conf.task_always_eager = previous[0]
        _route_to(app, previous[1])
        worker.stop()


@pytest.fixture
def apply_result(django_capture_on_commit_callbacks, celery_eager):
    """workflow.disbursement.apply_bank_result as finance's upload makes it: committed, then the
    claims it moved settled by the task it enqueued on commit (run here, eagerly)."""
    from workflow.disbursement import apply_bank_result

    def apply(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return apply_bank_result(**kwargs)

    return apply


@pytest.fixture
def celery_eager():
    """Tasks run in this process when enqueued (what `make run` does without Redis)."""
    app = _celery_app()
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous


@contextlib.contextmanager
def redis_unreachable():
    """The broker is gone for this process: publishing a task raises as with Redis stopped (and
    nothing runs eagerly, even under ``celery_eager``: a task must go through the broker)."""
    app = _celery_app()
    previous = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url, app.conf.task_always_eager = "redis://127.0.0.1:1/0", False  # nothing listens on port 1
    app._pool, app.amqp._producer_pool = None, None
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.task_always_eager = previous
        app._pool, app.amqp._producer_pool = None, None
        broker_back()  # Redis is back: the next message is tried at once


@contextlib.contextmanager
def redis_not_answering(how: str):
    """The broker is there but silent, for this process: "host gone" (a connection is never
    accepted: the machine is off or cut off, its SYNs dropped) or "server hung" (connected, no
    reply ever comes: the server paused, a half-open connection). Publishing waits on it, unlike a
    refused connection (redis_unreachable). It stays silent until the block ends: code that waits
    on it without a timeout of its own never returns (the test's pytest-timeout ends it)."""
    app = _celery_app()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    held = []
    if how == "host gone":
        listener.listen(0)  # one connection waits to be accepted; later SYNs are dropped
        held.append(socket.create_connection(listener.getsockname()))
    elif how == "server hung":
        listener.listen(64)  # the kernel completes the connections; nothing ever reads them
    else:
        raise ValueError(how)

    def go_away():
        for sock in (*held, listener):
            sock.close()

    previous = app.conf.broker_url, app.conf.task_always_eager
    host, port = listener.getsockname()
    app.conf.broker_url, app.conf.task_always_eager = f"redis://{host}:{port}/0", False
    app._pool, app.amqp._producer_pool = None, None
    try:
        yield
    finally:
        go_away()
        app.conf.broker_url, app.conf.task_always_eager = previous
        app._pool, app.amqp._producer_pool = None, None
        broker_back()  # Redis is back: the next message is tried at once
