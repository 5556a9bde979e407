"""What the benchmarks that serve the product share: a PostgreSQL database filled by generate_load
(made once per size, kept for the next run), gunicorn serving it as in production (DEBUG=False,
persistent connections, config/gunicorn.py), sign-in as an API token or a session, percentiles."""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PYTHON = str(PROJECT / ".venv" / "bin" / "python")
PASSWORD = "bench-password-1234"
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def database_url(name: str) -> str:
    return f"{PG}/{name}"


def environment(name: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL",)}
    env.update(
        DATABASE_URL=database_url(name),
        DEBUG="False",
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only"),
        SECURE_SSL_REDIRECT="False",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CONN_MAX_AGE="600",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    return env


def manage(name: str, *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=PROJECT, env=environment(name), check=True, text=True, capture_output=capture
    )
    return result.stdout if capture else ""


def psql(sql: str, database: str = "postgres") -> str:
    url = urllib.parse.urlparse(PG)
    command = ["psql", "-h", url.hostname, "-p", str(url.port or 5432), "-U", url.username, "-d", database, "-tAc", sql]
    return subprocess.run(command, check=True, text=True, capture_output=True).stdout.strip()


def ensure_database(name: str, claims: int) -> None:
    """The database with the demo and ``claims`` generated claims (made once, kept for the next run)."""
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1":
        have = psql("SELECT count(*) FROM claims_claim", name)
        if int(have or 0) >= claims:
            manage(name, "migrate", "-v0")  # kept from an earlier run: brought to this code's schema
            print(f"{name}: {int(have):,} claims (kept from an earlier run, migrated)", flush=True)
            return
        sys.exit(f"{name} holds {have} claims, fewer than {claims:,}: drop it (dropdb {name}) and run again")
    psql(f'CREATE DATABASE "{name}"')
    manage(name, "migrate", "-v0")
    manage(name, "seed_demo", "--password", PASSWORD)
    started = time.perf_counter()
    manage(name, "generate_load", "--claims", str(claims), "--password", PASSWORD)
    print(f"{name}: generated {claims:,} claims in {time.perf_counter() - started:.0f} s", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving one database, as the Procfile's web line does (config/gunicorn.py)."""

    def __init__(self, name: str, workers: int, extra_env: dict | None = None):
        self.port = free_port()
        env = environment(name)
        env.update(extra_env or {})  # e.g. REDIS_URL, for a bench whose requests enqueue work for a real worker
        env.update(BIND="127.0.0.1", PORT=str(self.port), WEB_CONCURRENCY=str(workers))
        self.process = subprocess.Popen(
            [str(PROJECT / ".venv" / "bin" / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi"],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        sys.exit("gunicorn did not answer /healthz within 60 s")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read(), response.getheader("Set-Cookie") or "", response
        finally:
            connection.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def api_token(server: Server, username: str) -> str:
    body = json.dumps({"username": username, "password": PASSWORD}).encode()
    status, content, _cookie, _r = server.request("POST", "/api/v1/auth/token/", body, {"Content-Type": "application/json"})
    if status != 200:
        sys.exit(f"token for {username}: {status} {content[:200]!r}")
    return json.loads(content)["token"]


# The cheapest authenticated read of the API: the token, the caller's scope, and a short list in it
# (a reviewer's own department). Every request of a decision does at least this much.
CHEAPEST_READ = "/api/v1/departments/"


def request_rate(server: Server, token: str, paths: list[str], seconds: float) -> float:
    """GETs per second, one thread per path, each asking its path again and again on a kept-alive
    connection with the API token: the served bound of what a benchmark's requests can reach."""
    count, failures, lock = [0], [], threading.Lock()
    deadline = time.perf_counter() + seconds

    def ask(path: str) -> None:
        connection, done = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120), 0
        while time.perf_counter() < deadline:
            connection.request("GET", path, headers={"Authorization": f"Token {token}"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                with lock:
                    failures.append(f"GET {path} answered {response.status}")
                return
            done += 1
        connection.close()
        with lock:
            count[0] += done

    started = time.perf_counter()
    threads = [threading.Thread(target=ask, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit("; ".join(failures[:3]))
    return count[0] / (time.perf_counter() - started)


def session_cookie(server: Server, username: str) -> str:
    status, content, cookie, _r = server.request("GET", "/accounts/login/")
    csrf_cookie = re.search(r"csrftoken=([^;]+)", cookie).group(1)
    csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', content).group(1).decode()
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf}).encode()
    status, content, cookie, _r = server.request(
        "POST",
        "/accounts/login/",
        form,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie}",
            "Referer": "http://127.0.0.1/",
        },
    )
    session = re.search(r"sessionid=([^;]+)", cookie)
    if status != 302 or session is None:
        sys.exit(f"sign-in of {username}: {status}")
    return f"sessionid={session.group(1)}; csrftoken={csrf_cookie}"


def p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


PGBENCH_DATABASE = "claims_bench_pgbench"


def pgbench_tps(*, simple_update: bool, clients: int, seconds: float, scale: int = 10) -> float:
    """PostgreSQL's own transactions per second on this server, the baseline of the served
    benchmarks: pgbench's TPC-B-like script, or with ``simple_update`` its -N variant (no updates
    of the contended branch and teller rows). Its database is made once (pgbench -i)."""
    url = urllib.parse.urlparse(PG)
    connect = ["-h", url.hostname, "-p", str(url.port or 5432), "-U", url.username]
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{PGBENCH_DATABASE}'") != "1":
        psql(f'CREATE DATABASE "{PGBENCH_DATABASE}"')
        subprocess.run(["pgbench", *connect, "-i", "-q", "-s", str(scale), PGBENCH_DATABASE], check=True, capture_output=True)
    command = [
        "pgbench",
        *connect,
        "-n",
        "-c",
        str(clients),
        "-j",
        str(min(clients, os.cpu_count() or 1)),
        "-T",
        str(int(seconds)),
    ]
    if simple_update:
        command.append("-N")
    output = subprocess.run([*command, PGBENCH_DATABASE], check=True, text=True, capture_output=True).stdout
    found = re.search(r"tps = ([0-9.]+)", output)
    if found is None:
        sys.exit(f"pgbench printed no TPS:\n{output}")
    return float(found.group(1))


class Worker:
    """``celery -A config worker`` as the Procfile's worker line runs it (the default queue and its mail
    queue), on Redis; ready when it says so."""

    def __init__(self, database: str, redis_url: str, concurrency: int):
        env = environment(database)
        env["REDIS_URL"] = redis_url
        self.log = open(Path(tempfile.gettempdir()) / f"{database}-worker.log", "w+")  # noqa: SIM115 - closed in stop()
        command = [
            str(PROJECT / ".venv" / "bin" / "celery"),
            *("-A", "config", "worker", "--concurrency", str(concurrency), "-l", "info"),
        ]
        self.process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"the Celery worker exited ({self.process.returncode}): see {self.log.name}")
            self.log.seek(0)
            if " ready." in self.log.read():
                return
            time.sleep(0.3)
        self.stop()
        sys.exit(f"the Celery worker was not ready within 90 s: see {self.log.name}")

    def tasks_succeeded(self) -> dict[str, int]:
        self.log.seek(0)
        counts: dict[str, int] = {}
        for line in self.log:
            if "] succeeded in " in line and " Task " in line:
                name = line.split(" Task ", 1)[1].split("[", 1)[0]
                counts[name] = counts.get(name, 0) + 1
        return counts

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def purge_queues(name: str, redis_url: str) -> None:
    """Empty the worker's queues (the default one and its mail queue) of what an earlier run left."""
    subprocess.run(
        [str(PROJECT / ".venv" / "bin" / "celery"), "-A", "config", "purge", "-f", "-Q", "claims,claims.mail"],
        cwd=PROJECT,
        env={**environment(name), "REDIS_URL": redis_url},
        check=True,
        capture_output=True,
    )


RESULT_HEADER = ["批次号", "序号", "账号", "金额", "结果", "银行流水号", "失败原因"]


def bank_answer(payment_file: bytes) -> bytes:
    """The bank's result file for a payment file: every transfer paid (成功), with a reference."""
    rows = list(csv.reader(io.StringIO(payment_file.decode("utf-8-sig"))))
    header, transfers = rows[0], [row for row in rows[1:] if row and row[0] != "合计"]
    column = {name: header.index(name) for name in ("批次号", "序号", "账号", "金额")}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(RESULT_HEADER)
    for row in transfers:
        batch, seq = row[column["批次号"]], row[column["序号"]]
        writer.writerow([batch, seq, row[column["账号"]], row[column["金额"]], "成功", f"BANK-{batch}-{seq}", ""])
    return ("\ufeff" + out.getvalue()).encode()


# Where a benchmark's CPU goes, by part of the system: read from /proc (Linux), each process's
# user + system time, before and after the measured window.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _processes() -> dict[int, tuple[int, str, float]]:
    """Every process: pid → (parent pid, command name, CPU seconds so far)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:  # it exited meanwhile
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        # After the name: state, ppid, …; utime and stime are the 12th and 13th of these (man 5 proc).
        found[int(entry)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return found


class CpuMeter:
    """CPU seconds spent in a window by the web server's processes, the Celery worker's, PostgreSQL's
    (every postgres process: backends, WAL writer, checkpointer) and this benchmark's own, against
    what the machine's cores could give in that time. Processes that exit within the window are not
    counted (the web and worker processes live through it; persistent connections keep backends)."""

    def __init__(self, parts: dict[str, int]):
        self.roots = parts  # part → the pid of its root process (gunicorn's master, celery's main)
        self.started_at = time.perf_counter()
        self.start = self._sample()

    def _sample(self) -> dict[str, dict[int, float]]:
        processes = _processes()
        children: dict[int, list[int]] = {}
        for pid, (parent, _name, _cpu) in processes.items():
            children.setdefault(parent, []).append(pid)
        sample = {}
        for part, root in self.roots.items():
            tree, stack = {}, [root]
            while stack:
                pid = stack.pop()
                if pid in processes:
                    tree[pid] = processes[pid][2]
                    stack.extend(children.get(pid, ()))
            sample[part] = tree
        sample["PostgreSQL"] = {pid: cpu for pid, (_parent, name, cpu) in processes.items() if name == "postgres"}
        own = os.times()
        sample["the benchmark's clients"] = {os.getpid(): own.user + own.system}
        return sample

    def stop(self) -> tuple[float, dict[str, float]]:
        """The window's length and each part's CPU seconds in it."""
        end, elapsed = self._sample(), time.perf_counter() - self.started_at
        spent = {part: sum(cpu - self.start[part].get(pid, 0.0) for pid, cpu in tree.items()) for part, tree in end.items()}
        return elapsed, spent


def cpu_table(elapsed: float, spent: dict[str, float], per: int, unit: str) -> str:
    """A Markdown table of where the CPU went: seconds, ms per ``unit`` and share of the cores' time."""
    capacity = elapsed * (os.cpu_count() or 1)
    rows = ["| part | CPU s | ms per " + unit + " | share of the cores |", "|---|---|---|---|"]
    for part, seconds in [*spent.items(), ("idle or elsewhere", capacity - sum(spent.values()))]:
        rows.append(f"| {part} | {seconds:.1f} | {seconds * 1000 / max(per, 1):.0f} | {seconds / capacity:.0%} |")
    return "\n".join(rows)
