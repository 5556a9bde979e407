"""Ledger benchmark (PostgreSQL): what the hash chain costs, and how long verifying a
million entries takes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/claims_bench_ledger \\
        SECRET_KEY=bench .venv/bin/python bench/ledger.py

The database is a throwaway: created if missing, migrated, and its ledger emptied
(TRUNCATE) before each part, so its name must contain "bench".

1. Appends: 8 processes, each appending entries through audit.services.record_event, one
   transaction per entry (the advisory lock serialises them: chain order is commit
   order), against the same 8 processes inserting single rows of the same shape into a
   plain table, one transaction per row. Alternating rounds in the same run; prints
   both rates and their ratio.
2. Verification: 1,000,000 chained entries are generated (payloads formatted as
   RFC 8785 canonical JSON, checked against the rfc8785 package on a sample, loaded
   with COPY), then timed: verify_chain, the Merkle root, signing a checkpoint (one
   pass: chain, root, subtree cache), verify_ledger (chain, every entry's columns against its
   bytes, and checkpoint), and an inclusion proof with the subtree cache.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

WRITERS = 8
GENESIS = "0" * 64
PLAIN_TABLE = "bench_plain_append"


def ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    maintenance = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def setup_django(url: str) -> None:
    import django
    from django.core.management import call_command

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("bench/ledger.py needs PostgreSQL: DATABASE_URL=postgres://…")
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS {PLAIN_TABLE} (
                id bigserial PRIMARY KEY, seq bigint NOT NULL, at timestamptz NOT NULL, actor_id integer NULL,
                actor_username varchar(150) NOT NULL, action varchar(60) NOT NULL, object_type varchar(60) NOT NULL,
                object_id varchar(60) NOT NULL, claim_id bigint NULL, from_state varchar(30) NOT NULL,
                to_state varchar(30) NOT NULL, reason text NOT NULL, detail jsonb NOT NULL, payload text NOT NULL,
                prev_hash varchar(64) NOT NULL, hash varchar(64) NOT NULL)"""
        )


def empty_ledger() -> None:
    """TRUNCATE: the append-only triggers refuse UPDATE and DELETE, not the owner's TRUNCATE."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE audit_auditevent, audit_checkpoint, audit_subtreehash, {PLAIN_TABLE} RESTART IDENTITY")


# --------------------------------------------------------------------------- part 1: appends


def run_writers(work, seconds: float) -> tuple[int, float]:
    """8 processes calling work() in a loop for ``seconds``; (calls, elapsed). Processes, as
    gunicorn's workers are: threads of one process would share one GIL, and the ledger's lock
    holder would wait for it after each round trip (a cost production does not pay)."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # the children open their own: none inherits the parent's socket
    context = multiprocessing.get_context("fork")
    counts = context.Array("q", WRITERS)
    errors = context.Queue()
    start = context.Barrier(WRITERS + 1)
    stop = context.Event()

    def writer(index: int) -> None:
        try:
            start.wait()
            done = 0
            while not stop.is_set():
                work(index, done)
                done += 1
                counts[index] = done
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.put(repr(error))
        finally:
            connections.close_all()

    processes = [context.Process(target=writer, args=(i,)) for i in range(WRITERS)]
    for process in processes:
        process.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - began
    if not errors.empty():
        raise RuntimeError(errors.get())
    return sum(counts), elapsed


def bench_appends(seconds: float, rounds: int) -> None:
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from audit import actions
    from audit.selectors import verify_chain
    from audit.services import record_event

    empty_ledger()
    subject, _created = Group.objects.get_or_create(name="bench-ledger")
    detail = {"line": 3, "amount": "1500.00", "decision": "approve", "reason": "材料齐全"}

    def ledger_append(writer: int, n: int) -> None:
        with transaction.atomic():
            record_event(
                actor=None, action=actions.BENCH_APPEND, obj=subject, reason="bench", detail={**detail, "writer": writer, "n": n}
            )

    sample = None

    def plain_insert(writer: int, n: int) -> None:
        nonlocal sample
        now = datetime.datetime.now(datetime.UTC)
        payload = sample or "x" * 400
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {PLAIN_TABLE} (seq, at, actor_id, actor_username, action, object_type, object_id, claim_id, "
                "from_state, to_state, reason, detail, payload, prev_hash, hash) "
                "VALUES (%s, %s, NULL, '', 'bench.append', 'auth.group', %s, NULL, '', '', 'bench', %s, %s, %s, %s)",
                [
                    n,
                    now,
                    str(subject.pk),
                    json.dumps({**detail, "writer": writer, "n": n}),
                    payload,
                    GENESIS,
                    hashlib.sha256(payload.encode()).hexdigest(),
                ],
            )

    ledger_total = plain_total = 0
    ledger_time = plain_time = 0.0
    for round_number in range(1, rounds + 1):
        count, elapsed = run_writers(ledger_append, seconds)
        ledger_total, ledger_time = ledger_total + count, ledger_time + elapsed
        if sample is None:
            from audit.models import AuditEvent

            sample = AuditEvent.objects.order_by("-seq").values_list("payload", flat=True).first()
        count_plain, elapsed_plain = run_writers(plain_insert, seconds)
        plain_total, plain_time = plain_total + count_plain, plain_time + elapsed_plain
        print(f"  round {round_number}: ledger {count / elapsed:8.1f}/s   plain {count_plain / elapsed_plain:8.1f}/s")
    chain = verify_chain()
    assert chain["ok"] and chain["events"] == ledger_total, chain
    ledger_rate, plain_rate = ledger_total / ledger_time, plain_total / plain_time
    print(
        f"ledger appends (record_event, {WRITERS} processes, one transaction each): {ledger_rate:10.1f} per second ({ledger_total} appended, chain verified)"
    )
    print(
        f"plain single-row inserts (same shape, {WRITERS} processes, one transaction each): {plain_rate:10.1f} per second ({plain_total} inserted)"
    )
    print(f"ratio ledger / plain: {ledger_rate / plain_rate:.3f}")


# --------------------------------------------------------------------------- part 2: a million entries


def canonical_payload(seq: int, at: str, prev_hash: str, n: int, action: str) -> str:
    """RFC 8785 JSON of a ledger body, formatted by hand for speed: keys in code-point order,
    no whitespace, ASCII strings without escapes (checked against rfc8785 in generate())."""
    return (
        '{"action":"' + action + '","actor":"bench","at":"' + at + '","claim":null,'
        '"detail":{"amount":"' + f"{n % 10000}.00" + '","line":' + str(n % 50) + "},"
        '"from_state":"hr_review","jurisdiction":null,"object_id":"' + str(n) + '","object_type":"claims.claim",'
        '"prev_hash":"' + prev_hash + '","reason":"bench","seq":' + str(seq) + ',"to_state":"approved"}'
    )


def generate(count: int) -> float:
    import rfc8785
    from django.db import connection

    from audit.actions import BENCH_GENERATED

    empty_ledger()
    began = time.perf_counter()
    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    prev = GENESIS
    batch = 50_000
    columns = "seq, at, actor_id, actor_username, action, object_type, object_id, claim_id, from_state, to_state, reason, detail, payload, prev_hash, hash"
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor, for COPY
        for first in range(1, count + 1, batch):
            lines = []
            for seq in range(first, min(first + batch, count + 1)):
                # to_canonical_value's form (whole seconds: no fraction), as the columns are checked against it
                at = (base + datetime.timedelta(seconds=seq)).strftime("%Y-%m-%dT%H:%M:%SZ")
                payload = canonical_payload(seq, at, prev, seq, BENCH_GENERATED)
                if seq <= 1000:
                    assert rfc8785.dumps(json.loads(payload)).decode() == payload, payload
                digest = hashlib.sha256(payload.encode()).hexdigest()
                detail = payload[payload.index('"detail":') + 9 : payload.index('},"from_state"') + 1]
                lines.append(
                    f"{seq}\t{at}\t\\N\tbench\t{BENCH_GENERATED}\tclaims.claim\t{seq}\t\\N\thr_review\tapproved\tbench\t{detail}\t{payload}\t{prev}\t{digest}\n"
                )
                prev = digest
            with raw.copy(f"COPY audit_auditevent ({columns}) FROM STDIN") as copy:
                copy.write("".join(lines))
        # A table that has been live for a while is vacuumed: set the hint bits and statistics
        # now, or the first scan timed below pays for writing them on every page.
        cursor.execute("VACUUM ANALYZE audit_auditevent")
    return time.perf_counter() - began


def timed(label: str, action):
    began = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - began
    print(f"{label}: {elapsed:8.2f} s")
    return result, elapsed


def bench_verify(count: int) -> None:
    from django.conf import settings

    from audit import checkpoints, merkle, signing
    from audit.models import AuditEvent
    from audit.selectors import verify_chain
    from audit.tree import LedgerTree, compute_root

    settings.AUDIT_SIGNING_KEY = signing.new_seed_text()
    settings.AUDIT_VERIFIER_KEY = ""
    elapsed = generate(count)
    print(f"generated and loaded {count:,} chained entries (COPY): {elapsed:8.2f} s")
    chain, _ = timed(f"verify_chain over {count:,} entries (SHA-256 and links of each)", verify_chain)
    assert chain["ok"] and chain["events"] == count, chain
    root, _ = timed(f"Merkle root over {count:,} entries (streamed, RFC 6962)", lambda: compute_root(count))
    checkpoint, _ = timed("sign_checkpoint (one pass: chain, root, subtree cache; Ed25519)", checkpoints.sign_checkpoint)
    assert checkpoint.tree_size == count and checkpoint.root_hash == root.hex()
    result, _ = timed("verify_ledger (chain, columns and every checkpoint: what audit_verify runs)", checkpoints.verify_ledger)
    assert result["ok"], result
    from audit.copies import check_copies

    timed(f"of which the columns against the bytes ({count:,} entries, one SQL statement)", lambda: check_copies(count))
    index = count // 3
    proof, proof_time = timed(f"inclusion proof of entry {index + 1} in the tree of {count:,} (cached subtrees)",
                              lambda: LedgerTree().inclusion_proof(index, count))  # fmt: skip
    payload = AuditEvent.objects.get(seq=index + 1).payload
    assert merkle.verify_inclusion(index, count, merkle.leaf_hash(payload.encode()), proof, root)
    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each append round (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating ledger/plain rounds (default 2)")
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries to verify (default 1,000,000)")
    parser.add_argument("--skip-appends", action="store_true")
    parser.add_argument("--skip-verify", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "set DATABASE_URL to a throwaway PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/claims_bench_ledger"
        )
    if "bench" not in urlparse(url).path:
        sys.exit("the database is emptied: its name must contain 'bench'")
    ensure_database(url)
    setup_django(url)
    from django.db import connection

    connection.ensure_connection()
    print(f"PostgreSQL {connection.connection.info.server_version}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    if not args.skip_appends:
        print(f"1. appends, {args.rounds} rounds of {args.seconds:g} s each kind:")
        bench_appends(args.seconds, args.rounds)
    if not args.skip_verify:
        print(f"2. verifying {args.entries:,} entries:")
        bench_verify(args.entries)
    empty_ledger()


if __name__ == "__main__":
    main()
