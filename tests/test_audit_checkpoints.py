"""Signed checkpoints: the C2SP note format (against Go's sumdb/note known answer), the
service, command and Celery task that sign them, the verifier naming a replaced one,
and the API: checkpoints, public key, inclusion and consistency proofs."""

import base64
import hashlib
import io
import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from rest_framework.test import APIClient

from audit import merkle, signing
from audit.checkpoints import LedgerBroken, sign_checkpoint, verify_ledger
from audit.models import AuditEvent, Checkpoint
from audit.services import record_event
from claims.models import Jurisdiction

from .api_support import error, login, ok
from .audit_support import audit_key, ledger_test_actions, tamper  # noqa: F401 - fixtures
from .conftest import DEMO_PASSWORD

pytestmark = pytest.mark.usefixtures("ledger_test_actions")  # entries of the tests' own actions (audit_support)

# golang.org/x/mod/sumdb/note: the example key, text and signed note of its documentation and tests.
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def append_events(count: int) -> None:
    """Entries of the demo's jurisdiction (Wenling) when there is a demo: its auditor may read them."""
    subject, _created = Group.objects.get_or_create(name="checkpoint-test")
    wenling = Jurisdiction.objects.filter(code="WL").first()
    with transaction.atomic():
        for n in range(count):
            record_event(actor=None, action="test.event", obj=subject, detail={"n": n}, jurisdiction=wenling)


def payloads(size: int | None = None) -> list[bytes]:
    rows = AuditEvent.objects.order_by("seq").values_list("payload", flat=True)
    return [p.encode() for p in (rows if size is None else rows[:size])]


def signed_root(note: str) -> bytes:
    """The root hash line of a checkpoint note, read without our parser."""
    return base64.b64decode(note.split("\n")[2])


# --------------------------------------------------------------------------- the note format


def test_notes_are_signed_and_opened_as_gos_sumdb_note_does():
    seed = base64.b64decode(GO_SIGNER_KEY.split("+", 4)[4])[1:]
    signer = signing.Signer(name="PeterNeumann", private_key=Ed25519PrivateKey.from_private_bytes(seed))
    assert signer.verifier.text == GO_VERIFIER_KEY
    assert signer.sign_note(GO_TEXT) == GO_NOTE  # Ed25519 is deterministic: byte for byte
    key = signing.VerifierKey.parse(GO_VERIFIER_KEY)
    assert signing.open_note(GO_NOTE, key) == GO_TEXT
    with pytest.raises(signing.NoteError, match="does not verify"):
        signing.open_note(GO_NOTE.replace("cryptography", "cryptographY"), key)
    other = signing.Signer(name="PeterNeumann", private_key=Ed25519PrivateKey.generate())
    with pytest.raises(signing.NoteError, match="not signed by PeterNeumann"):
        signing.open_note(other.sign_note(GO_TEXT), key)
    # A witness's signature line besides ours is ignored, not an error.
    witness = signing.Signer(name="witness.example", private_key=Ed25519PrivateKey.generate())
    cosigned = GO_NOTE + witness.sign_note(GO_TEXT).split("\n\n")[1]
    assert signing.open_note(cosigned, key) == GO_TEXT


def test_verifier_keys_parse_and_a_wrong_id_is_refused():
    # transparency-dev/formats' test key whose base64 holds a "+".
    plus = signing.VerifierKey.parse("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
    assert (plus.name, plus.key_id.hex()) == ("TEST", "7997405c")
    with pytest.raises(signing.NoteError, match="id does not match"):
        signing.VerifierKey.parse(GO_VERIFIER_KEY.replace("c74f20a3", "c74f20a4"))


def test_sign_checkpoint_signs_the_rfc6962_root_as_a_c2sp_checkpoint(db, audit_key, settings):
    assert sign_checkpoint() is None  # nothing to sign in an empty ledger
    append_events(5)
    checkpoint = sign_checkpoint()
    text, signature_block = checkpoint.note.split("\n\n")
    origin, size, root_b64 = text.split("\n")
    assert (origin, size) == (settings.AUDIT_LOG_ORIGIN, "5")
    assert base64.b64decode(root_b64) == merkle.root_of_data(payloads()) == bytes.fromhex(checkpoint.root_hash)
    # "— <key name> <base64(key id || signature)>", checked here with cryptography alone.
    assert signature_block.startswith("\u2014 ") and signature_block.endswith("\n")
    name, blob = signature_block[2:-1].split(" ")
    raw = base64.b64decode(blob)
    public = audit_key.verifier.public
    assert name == settings.AUDIT_SIGNING_KEY_NAME == checkpoint.key_name
    assert raw[:4] == hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    assert raw[:4].hex() == checkpoint.key_id and len(raw) == 68
    Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], (text + "\n").encode())

    assert sign_checkpoint() is None  # the ledger has not grown
    append_events(1)
    assert sign_checkpoint().tree_size == 6
    assert list(Checkpoint.objects.values_list("tree_size", flat=True)) == [6, 5]  # latest first
    assert verify_ledger()["ok"] is True


def test_the_command_and_the_celery_task_sign_when_the_ledger_grew(db, audit_key, celery_eager, settings):
    from audit.tasks import sign_checkpoint as sign_task
    from config.celery import app

    append_events(3)
    out = io.StringIO()
    call_command("audit_checkpoint", stdout=out)
    assert "Signed checkpoint of tree size 3" in out.getvalue() and Checkpoint.objects.get().note in out.getvalue()
    call_command("audit_checkpoint", stdout=out)
    assert "Nothing to sign" in out.getvalue()
    append_events(2)
    assert sign_task.delay().get() == 5
    assert sign_task.delay().get() is None
    app.loader.import_default_modules()
    assert settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]["task"] == sign_task.name in app.tasks


def test_nothing_is_signed_over_a_broken_chain(db, audit_key):
    append_events(4)
    victim = AuditEvent.objects.get(seq=2)
    tamper(AuditEvent, victim.pk, payload=victim.payload.replace('"n":1', '"n":7'))
    with pytest.raises(LedgerBroken, match="breaks at seq 2") as raised:
        sign_checkpoint()
    assert raised.value.first_bad_seq == 2
    with pytest.raises(CommandError, match="not signed: the hash chain breaks at seq 2"):
        call_command("audit_checkpoint", stdout=io.StringIO())
    assert not Checkpoint.objects.exists()


def test_no_key_no_checkpoint(db, settings, tmp_path):
    settings.AUDIT_SIGNING_KEY = ""
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "absent.key"
    append_events(1)
    with pytest.raises(CommandError, match="no audit signing key"):
        call_command("audit_checkpoint", stdout=io.StringIO())
    assert error(APIClient().get("/api/v1/audit/public-key/"), 503)["code"] == "unavailable"


def test_seed_demo_writes_a_demo_key_once(db, settings, tmp_path):
    settings.AUDIT_SIGNING_KEY = ""
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "var" / "audit_signing.key"
    call_command("seed_demo", password=DEMO_PASSWORD, stdout=io.StringIO())
    key_file = settings.AUDIT_SIGNING_KEY_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    first = signing.signer().verifier.text
    call_command("seed_demo", password=DEMO_PASSWORD, stdout=io.StringIO())
    assert signing.signer().verifier.text == first  # never replaced
    assert len(base64.b64decode(key_file.read_text())) == 32


# --------------------------------------------------------------------------- a replaced checkpoint is named


def replace_root(note: str, root: bytes) -> str:
    lines = note.split("\n")
    lines[2] = base64.b64encode(root).decode()
    return "\n".join(lines)


def replace_size(note: str, size: int) -> str:
    lines = note.split("\n")
    lines[1] = str(size)
    return "\n".join(lines)


def forgeries(checkpoint, settings):
    """(what was done, changes to the row): a root or size edited in the note (the columns kept
    in step, as a careful forger would), and a note signed by another key."""
    other_root = hashlib.sha256(b"another history").digest()
    yield "edited root", {"note": replace_root(checkpoint.note, other_root), "root_hash": other_root.hex()}
    yield (
        "edited tree size",
        {"note": replace_size(checkpoint.note, checkpoint.tree_size - 1), "tree_size": checkpoint.tree_size - 1},
    )
    stranger = signing.Signer(name=checkpoint.key_name, private_key=Ed25519PrivateKey.generate())
    yield "another key", {"note": stranger.sign_note(signing.checkpoint_text(settings.AUDIT_LOG_ORIGIN, checkpoint.tree_size, other_root)),
                          "root_hash": other_root.hex()}  # fmt: skip


@pytest.mark.parametrize("forgery", ["edited root", "edited tree size", "another key"])
def test_a_replaced_checkpoint_fails_its_signature_check_and_is_named(audit_key, demo, settings, forgery):
    first = sign_checkpoint()
    append_events(3)
    second = sign_checkpoint()
    append_events(2)
    third = sign_checkpoint()
    changes = dict(forgeries(second, settings))[forgery]
    tamper(Checkpoint, second.pk, **changes)

    result = verify_ledger()
    assert result["ok"] is False and result["chain_ok"] is True
    assert result["first_bad_checkpoint"]["id"] == second.pk
    assert result["first_bad_checkpoint"]["error"].startswith("signature check failed")
    assert [f["id"] for f in result["checkpoint_failures"]] == [second.pk]
    assert {first.pk, third.pk}.isdisjoint(f["id"] for f in result["checkpoint_failures"])

    size = changes.get("tree_size", second.tree_size)
    with pytest.raises(CommandError, match=rf"checkpoint {size} fails: signature check failed"):
        call_command("audit_verify", stdout=io.StringIO())
    api = ok(login("auditor").get("/api/v1/audit/verify/"))
    assert (api["ok"], api["first_bad_seq"], api["first_bad_checkpoint"]["id"]) == (False, None, second.pk)


def test_a_stored_root_that_differs_from_the_signed_note_is_named(audit_key, demo):
    checkpoint = sign_checkpoint()
    tamper(Checkpoint, checkpoint.pk, root_hash="0" * 64)
    assert "differs from the signed note" in verify_ledger()["first_bad_checkpoint"]["error"]


def test_checkpoints_are_checked_with_the_configured_verifier_key(audit_key, demo, settings):
    sign_checkpoint()
    settings.AUDIT_VERIFIER_KEY = audit_key.verifier.text
    assert verify_ledger()["ok"] is True
    settings.AUDIT_VERIFIER_KEY = signing.Signer(name=audit_key.name, private_key=Ed25519PrivateKey.generate()).verifier.text
    result = verify_ledger()
    assert result["ok"] is False and "not signed by" in result["first_bad_checkpoint"]["error"]


# --------------------------------------------------------------------------- the API


def test_checkpoints_public_key_and_proofs_through_the_api(audit_key, demo):
    early = sign_checkpoint()
    append_events(40)
    late = sign_checkpoint()
    auditor = login("auditor")

    listed = ok(auditor.get("/api/v1/audit/checkpoints/"))
    assert [c["tree_size"] for c in listed["results"]] == [late.tree_size, early.tree_size]
    assert listed["results"][0]["note"] == late.note

    key = ok(APIClient().get("/api/v1/audit/public-key/"))  # public: anyone may check a checkpoint
    assert key["verifier_key"] == audit_key.verifier.text
    assert key["key_id"] == late.key_id and key["algorithm"] == "ed25519"
    verifier = signing.VerifierKey.parse(key["verifier_key"])

    # Inclusion of entries in the tree of the late checkpoint, checked against its signed root.
    assert signing.open_note(late.note, verifier)
    late_root = signed_root(late.note)
    wenling = Jurisdiction.objects.get(code="WL").pk
    last_of_wenling_in_early = AuditEvent.objects.filter(jurisdiction_id=wenling, seq__lte=early.tree_size).order_by("seq").last()
    for seq in (1, last_of_wenling_in_early.seq, early.tree_size + 1, late.tree_size):
        body = ok(auditor.get(f"/api/v1/audit/inclusion/?seq={seq}&tree_size={late.tree_size}"))
        assert (body["leaf_index"], body["tree_size"]) == (seq - 1, late.tree_size)
        leaf = merkle.leaf_hash(AuditEvent.objects.get(seq=seq).payload.encode())
        assert body["leaf_hash"] == leaf.hex()
        assert merkle.verify_inclusion(seq - 1, late.tree_size, leaf, [bytes.fromhex(p) for p in body["proof"]], late_root)
        assert body["checkpoint"]["note"] == late.note
    default = ok(auditor.get("/api/v1/audit/inclusion/?seq=3"))
    assert default["tree_size"] == late.tree_size  # the latest checkpoint's
    in_early = ok(auditor.get(f"/api/v1/audit/inclusion/?seq=3&tree_size={early.tree_size}"))
    assert merkle.verify_inclusion(2, early.tree_size, bytes.fromhex(in_early["leaf_hash"]),
                                   [bytes.fromhex(p) for p in in_early["proof"]], signed_root(early.note))  # fmt: skip

    # Consistency between the two checkpoints, checked against both signed roots.
    body = ok(auditor.get(f"/api/v1/audit/consistency/?first={early.tree_size}&second={late.tree_size}"))
    proof = [bytes.fromhex(p) for p in body["proof"]]
    assert merkle.verify_consistency(early.tree_size, late.tree_size, signed_root(early.note), signed_root(late.note), proof)
    assert not merkle.verify_consistency(
        early.tree_size, late.tree_size, hashlib.sha256(b"forged").digest(), signed_root(late.note), proof
    )

    for path, field in [
        ("/api/v1/audit/inclusion/", "seq"),
        ("/api/v1/audit/inclusion/?seq=0", "seq"),
        ("/api/v1/audit/inclusion/?seq=abc", "seq"),
        (f"/api/v1/audit/inclusion/?seq={late.tree_size + 1}&tree_size={late.tree_size}", "seq"),
        # Beyond the ledger (which has grown since the checkpoint: the auditor's login is recorded).
        (f"/api/v1/audit/inclusion/?seq=1&tree_size={AuditEvent.objects.count() + 1}", "tree_size"),
        ("/api/v1/audit/consistency/?first=2", "second"),
        ("/api/v1/audit/consistency/?first=5&second=4", "first"),
        (f"/api/v1/audit/consistency/?first=1&second={AuditEvent.objects.count() + 1}", "second"),
    ]:
        assert field in error(auditor.get(path), 400)["fields"], path


@pytest.mark.parametrize("username", ["provider_clerk", "dept_reviewer", "hr_reviewer", "finance_officer", "admin"])
def test_checkpoints_and_proofs_are_for_auditors_and_hr_heads_only(audit_key, demo, username):
    sign_checkpoint()
    client = login(username)
    for path in ("/api/v1/audit/checkpoints/", "/api/v1/audit/inclusion/?seq=1", "/api/v1/audit/consistency/?first=1&second=2"):
        assert error(client.get(path), 403)["code"] == "permission_denied", path
        assert error(APIClient().get(path), 401), path
    assert ok(login("hr_head").get("/api/v1/audit/inclusion/?seq=1"))["leaf_index"] == 0


def test_a_proof_over_a_ledger_with_a_hole_is_refused_not_made_up(audit_key, demo):
    from .audit_support import triggers_disabled

    auditor = login("auditor")  # before the hole is made: a login is an entry of its own
    checkpoint = sign_checkpoint()
    with triggers_disabled():
        AuditEvent.objects.filter(seq=2).delete()
    # Seq 3 (of Wenling, the auditor's) needs seq 2 for its proof; seq 2 itself is no entry (404).
    assert error(auditor.get(f"/api/v1/audit/inclusion/?seq=3&tree_size={checkpoint.tree_size}"), 409)["code"] == "ledger_broken"
    assert error(auditor.get(f"/api/v1/audit/inclusion/?seq=2&tree_size={checkpoint.tree_size}"), 404)
    assert error(auditor.get(f"/api/v1/audit/consistency/?first=1&second={checkpoint.tree_size}"), 409)["code"] == "ledger_broken"


def test_a_hole_is_found_even_when_later_entries_fill_its_block(audit_key, demo):
    """Entries written after a deleted one must not slide into its place in a proof."""
    from .audit_support import triggers_disabled

    auditor = login("auditor")
    checkpoint = sign_checkpoint()
    with triggers_disabled():
        AuditEvent.objects.filter(seq=2).delete()
    with transaction.atomic():
        record_event(actor=None, action="test.after_hole", obj=Group.objects.first())
    assert AuditEvent.objects.filter(seq__lte=checkpoint.tree_size).count() == checkpoint.tree_size - 1
    assert error(auditor.get(f"/api/v1/audit/inclusion/?seq=3&tree_size={checkpoint.tree_size}"), 409)["code"] == "ledger_broken"
