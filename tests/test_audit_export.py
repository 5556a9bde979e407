"""The export for a period and the standalone offline verifier, run as an auditor would:
a separate Python process, outside the project, with Django made unimportable."""

import base64
import hashlib
import io
import json
import subprocess
import sys
import zipfile

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from audit import signing
from audit.checkpoints import sign_checkpoint
from audit.models import AuditEvent, Checkpoint
from audit.services import record_event

from .audit_support import audit_key, ledger_test_actions, old_format_entry  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("ledger_test_actions")  # entries of the tests' own actions (audit_support)


def append_events(count: int) -> None:
    subject, _created = Group.objects.get_or_create(name="export-test")
    with transaction.atomic():
        for n in range(count):
            record_event(actor=None, action="test.event", obj=subject, detail={"n": n})


@pytest.fixture
def auditor_machine(tmp_path):
    """Where the auditor runs the verifier: a directory outside the project whose `django`
    package fails on import, first on the verifier's sys.path (PYTHONPATH)."""
    home = tmp_path / "auditor"
    (home / "poison" / "django").mkdir(parents=True)
    (home / "poison" / "django" / "__init__.py").write_text('raise ImportError("the offline verifier must not need Django")\n')
    return home


def run_verifier(home, export, *args) -> subprocess.CompletedProcess:
    script = export / "verify_export.py" if export.is_dir() else home / "verify_export.py"
    if not export.is_dir():
        with zipfile.ZipFile(export) as package:
            script.write_bytes(package.read("verify_export.py"))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(home / "poison"), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, str(script), str(export), *args], cwd=home, env=env, capture_output=True, text=True, timeout=120
    )


def export_today(out) -> str:
    today = timezone.localdate().isoformat()
    stdout = io.StringIO()
    call_command("audit_export", "--from", today, "--to", today, "--out", str(out), stdout=stdout)
    return stdout.getvalue()


@pytest.fixture
def ledger(audit_key, demo):
    """The demo's entries, an early checkpoint, more entries, a later checkpoint, and more
    entries that no checkpoint covers yet."""
    early = sign_checkpoint()
    append_events(30)
    late = sign_checkpoint()
    append_events(7)
    return {"early": early, "late": late}


def test_a_good_export_verifies_offline(ledger, auditor_machine, tmp_path, audit_key):
    out = tmp_path / "export"
    assert "Exported entries 1.." in export_today(out)
    # The export itself is recorded, after the entries it exported.
    exported = AuditEvent.objects.order_by("-seq").first()
    assert exported.action == "audit.exported" and exported.detail["via"] == "audit_export"
    total = exported.seq - 1
    # The 7 entries after the late checkpoint were covered by a checkpoint signed for the export.
    assert Checkpoint.objects.order_by("-tree_size").first().tree_size == total
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["entries"]["count"] == total and manifest["period"]["last_seq"] == total
    assert manifest["period"]["first_seq"] == 1
    assert [c["tree_size"] for c in manifest["checkpoints"]] == [ledger["early"].tree_size, ledger["late"].tree_size, total]
    lines = (out / "entries.jsonl").read_bytes().split(b"\n")
    assert lines[:-1] == [
        p.encode() for p in AuditEvent.objects.filter(seq__lte=total).order_by("seq").values_list("payload", flat=True)
    ]
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest

    result = run_verifier(auditor_machine, out, "--public-key", audit_key.verifier.text)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERDICT: OK" in result.stdout
    assert f"entries: {total}, hash chain ok" in result.stdout
    assert f"checkpoint {ledger['early'].tree_size}: signature ok, root ok" in result.stdout


def test_entries_from_before_and_after_the_bytes_named_a_jurisdiction_verify_offline(audit_key, demo, auditor_machine, tmp_path):
    """A ledger whose entries named no jurisdiction in their bytes goes on with entries that do:
    the offline verifier, which judges the bytes alone, verifies both."""
    from claims.services import create_claim

    from .conftest import claim_data

    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    old_format_entry(claim=claim, reason="升级前的记录")
    sign_checkpoint()
    append_events(3)
    out = tmp_path / "export"
    export_today(out)
    bodies = [json.loads(line) for line in (out / "entries.jsonl").read_bytes().splitlines()]
    assert any("jurisdiction" not in body for body in bodies)
    assert any(body.get("jurisdiction") == claim.jurisdiction.code for body in bodies)
    result = run_verifier(auditor_machine, out, "--public-key", audit_key.verifier.text)
    assert result.returncode == 0 and "VERDICT: OK" in result.stdout, result.stdout + result.stderr


def test_the_verifier_cannot_import_django_where_it_runs(auditor_machine):
    probe = subprocess.run([sys.executable, "-c", "import django"], cwd=auditor_machine,
                           env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(auditor_machine / "poison")},
                           capture_output=True, text=True)  # fmt: skip
    assert probe.returncode != 0 and "must not need Django" in probe.stderr


def test_a_zip_export_verifies_and_a_trusted_earlier_checkpoint_is_consistent(ledger, auditor_machine, tmp_path):
    out = tmp_path / "ledger.zip"
    export_today(out)
    kept = auditor_machine / "kept.txt"
    kept.write_text(ledger["early"].note)  # what the auditor kept from an earlier audit
    result = run_verifier(auditor_machine, out, "--trusted-checkpoint", str(kept))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"trusted checkpoint {ledger['early'].tree_size}: consistent" in result.stdout


def doctor(path, transform):
    path.write_bytes(transform(path.read_bytes()))


def refresh_manifest(out):
    """What a careful forger does after changing files: recompute the manifest's digests."""
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"] = {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in manifest["files"]}
    (out / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("careful", [False, True])
def test_one_changed_byte_in_an_entry_fails_and_is_named(ledger, auditor_machine, tmp_path, careful):
    out = tmp_path / "export"
    export_today(out)
    seq = ledger["early"].tree_size - 3

    def change_one_byte(data: bytes) -> bytes:
        lines = data.split(b"\n")
        at = lines[seq - 1].index(b'"action":"') + len(b'"action":"')
        lines[seq - 1] = lines[seq - 1][:at] + bytes([lines[seq - 1][at] ^ 1]) + lines[seq - 1][at + 1 :]
        return b"\n".join(lines)

    doctor(out / "entries.jsonl", change_one_byte)
    if careful:  # the forger also rewrites the recorded hash and the manifest
        hashes = (out / "hashes.txt").read_text().split("\n")
        changed = (out / "entries.jsonl").read_bytes().split(b"\n")[seq - 1]
        hashes[seq - 1] = f"{seq} {hashlib.sha256(changed).hexdigest()}"
        (out / "hashes.txt").write_text("\n".join(hashes))
        refresh_manifest(out)
    result = run_verifier(auditor_machine, out)
    assert result.returncode == 1, result.stdout + result.stderr
    named = seq + 1 if careful else seq  # a consistent forgery breaks the next entry's link
    assert f"VERDICT: FAILED: first bad seq {named};" in result.stdout, result.stdout
    assert f"first failing checkpoint {ledger['early'].tree_size}" in result.stdout, result.stdout
    assert ("does not match the manifest" in result.stdout) is not careful


@pytest.mark.parametrize("forgery", ["edited root", "another key"])
def test_a_replaced_checkpoint_fails_and_is_named(ledger, auditor_machine, tmp_path, settings, forgery):
    out = tmp_path / "export"
    export_today(out)
    late = ledger["late"]
    path = out / f"checkpoints/{late.tree_size:012d}.txt"
    fake_root = hashlib.sha256(b"another history").digest()
    if forgery == "edited root":
        lines = path.read_text().split("\n")
        lines[2] = base64.b64encode(fake_root).decode()
        path.write_text("\n".join(lines))
    else:
        stranger = signing.Signer(name=late.key_name, private_key=Ed25519PrivateKey.generate())
        path.write_text(stranger.sign_note(signing.checkpoint_text(settings.AUDIT_LOG_ORIGIN, late.tree_size, fake_root)))
    refresh_manifest(out)
    result = run_verifier(auditor_machine, out)
    assert result.returncode == 1, result.stdout
    assert f"checkpoint {late.tree_size} (checkpoints/{late.tree_size:012d}.txt): FAILED: signature check failed" in result.stdout
    assert "VERDICT: FAILED: first failing checkpoint" in result.stdout and "first bad seq" not in result.stdout


def test_a_forged_trusted_checkpoint_fails(ledger, auditor_machine, tmp_path, audit_key, settings):
    out = tmp_path / "export"
    export_today(out)
    early = ledger["early"]
    kept = auditor_machine / "kept.txt"

    # Not signed by the log's key: an edited root.
    lines = early.note.split("\n")
    lines[2] = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    kept.write_text("\n".join(lines))
    result = run_verifier(auditor_machine, out, "--trusted-checkpoint", str(kept))
    assert result.returncode == 1 and "trusted checkpoint: FAILED: signature check failed" in result.stdout, result.stdout

    # Signed by the log's key, over another history (a split view): the export does not extend it.
    fork = audit_key.sign_note(
        signing.checkpoint_text(settings.AUDIT_LOG_ORIGIN, early.tree_size, hashlib.sha256(b"fork").digest())
    )
    kept.write_text(fork)
    result = run_verifier(auditor_machine, out, "--trusted-checkpoint", str(kept))
    assert result.returncode == 1 and "history was rewritten" in result.stdout, result.stdout
    assert "VERDICT: FAILED: first failing trusted checkpoint" in result.stdout

    # A genuine checkpoint from beyond this export cannot be proved from it.
    append_events(3)
    beyond = sign_checkpoint()
    kept.write_text(beyond.note)
    result = run_verifier(auditor_machine, out, "--trusted-checkpoint", str(kept))
    assert result.returncode == 1 and "beyond the" in result.stdout, result.stdout


def test_an_export_of_an_empty_period_is_refused(audit_key, demo, tmp_path):
    with pytest.raises(CommandError, match="no ledger entries between 2000-01-01 and 2000-12-31"):
        call_command("audit_export", "--from", "2000-01-01", "--to", "2000-12-31", "--out", str(tmp_path / "x"))


def test_the_period_is_whole_days_in_the_time_zone_and_the_export_reaches_back_to_seq_1(audit_key, db, tmp_path, monkeypatch):
    import datetime
    from zoneinfo import ZoneInfo

    import audit.services

    shanghai = ZoneInfo("Asia/Shanghai")
    moments = [
        datetime.datetime(2026, 3, 1, 10, 0, tzinfo=shanghai),
        datetime.datetime(2026, 3, 1, 23, 30, tzinfo=shanghai),  # 15:30 UTC on 1 March
        datetime.datetime(2026, 3, 2, 0, 30, tzinfo=shanghai),  # 16:30 UTC on 1 March, but 2 March here
        datetime.datetime(2026, 3, 2, 23, 59, tzinfo=shanghai),
        datetime.datetime(2026, 3, 3, 0, 1, tzinfo=shanghai),
        datetime.datetime(2026, 3, 4, 9, 0, tzinfo=shanghai),
        datetime.datetime(2026, 3, 5, 9, 0, tzinfo=shanghai),  # the export's own entry
    ]

    class Clock:  # the ledger's clock at the moments above, in turn
        @staticmethod
        def now():
            return moments.pop(0).astimezone(datetime.UTC)

    monkeypatch.setattr(audit.services, "timezone", Clock)
    append_events(6)
    assert len(moments) == 1
    out = tmp_path / "march-2"
    call_command("audit_export", "--from", "2026-03-02", "--to", "2026-03-02", "--out", str(out), stdout=io.StringIO())
    assert not moments and AuditEvent.objects.order_by("-seq").first().action == "audit.exported"
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["period"]["first_seq"], manifest["period"]["last_seq"]) == (3, 4)
    assert (manifest["period"]["from_utc"], manifest["period"]["until_utc"]) == ("2026-03-01T16:00:00Z", "2026-03-02T16:00:00Z")
    # Everything from seq 1 up to the checkpoint signed to cover the period (the whole ledger here).
    assert manifest["entries"]["count"] == 6 and len((out / "entries.jsonl").read_bytes().splitlines()) == 6
