"""The ledger is read within the reader's jurisdiction: attacks by an auditor of another one.

Wenling (the demo's jurisdiction) has a draft claim and a submitted one. An auditor of Yuhuan,
another jurisdiction, asks for their entries every way the ledger is read: inclusion proofs,
verification, the claim's history, the workspace's timeline and as-of pages, the signed
package. Nothing of Wenling's comes back but hashes. Wenling's own auditor reads Wenling's
submitted claim (not the draft, which stays with its provider) and exports a package that
the offline verifier checks, with the other jurisdictions' entries given as hashes only."""

import hashlib
import io
import json
import zipfile

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.checkpoints import sign_checkpoint
from audit.models import AuditEvent
from audit.services import record_event
from claims import roles
from claims.models import Jurisdiction
from claims.organisation import ensure_jurisdiction, ensure_provider, ensure_staff_user
from claims.selectors import ledger_entries_visible_to
from claims.services import create_claim
from demo.management.commands.seed_demo import credit_code
from workflow.services import submit_claim

from .api_support import error, login, ok
from .audit_support import audit_key  # noqa: F401 - fixture
from .conftest import DEMO_PASSWORD, claim_data
from .test_audit_export import auditor_machine, run_verifier  # noqa: F401 - fixture


@pytest.fixture
def wenling(demo, audit_key):
    """Wenling's draft claim and submitted claim, Yuhuan with an auditor and an entry of its own,
    and a checkpoint over all of it."""
    draft = create_claim(user=demo["provider_clerk"], data=claim_data())
    submitted = create_claim(user=demo["provider_clerk"], data=claim_data(class_name="已提交班"))
    submit_claim(user=demo["provider_clerk"], claim=submitted)
    with transaction.atomic():
        yuhuan = ensure_jurisdiction(code="YH-T", name="玉环（测试）")
        yuhuan_provider = ensure_provider(
            jurisdiction=yuhuan, code="YH-T-P1", name="玉环测试培训学校", credit_code=credit_code("91331021MA2AL0009")
        )
        stranger = ensure_staff_user(
            username="auditor_yh_t", password=DEMO_PASSWORD, role=roles.AUDITOR, scope_group=yuhuan.staff_group
        )
    sign_checkpoint()
    return {
        "draft": draft,
        "submitted": submitted,
        "yuhuan": yuhuan,
        "yuhuan_provider": yuhuan_provider,
        "stranger": stranger,
        "auditor": demo["auditor"],
    }


def entries_of(claim) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(claim_id=claim.pk).order_by("seq"))


def test_every_entry_knows_its_jurisdiction_when_recorded(wenling):
    wenling_id = Jurisdiction.objects.get(code="WL").pk
    assert {event.jurisdiction_id for event in entries_of(wenling["draft"])} == {wenling_id}
    provider_created = AuditEvent.objects.filter(object_type="claims.provider", object_id=str(wenling["yuhuan_provider"].pk))
    assert {event.jurisdiction_id for event in provider_created} == {wenling["yuhuan"].pk}
    # A plan, an allocation and a standard's version say theirs a hop away (fund account, standard).
    for object_type in ("payments.fundingplan", "payments.allocation", "claims.policyversion"):
        hop_away = AuditEvent.objects.filter(object_type=object_type)
        assert hop_away.exists() and {event.jurisdiction_id for event in hop_away} == {wenling_id}, object_type
    user_created = AuditEvent.objects.filter(object_type="auth.user", object_id=str(wenling["stranger"].pk)).first()
    assert user_created.jurisdiction_id is None  # the bureau's own: accounts, roles, sign-ins


def test_an_auditor_of_another_jurisdiction_gets_404_for_every_wenling_entry_by_inclusion(wenling):
    stranger = login("auditor_yh_t")
    wenling_seqs = AuditEvent.objects.filter(jurisdiction_id=Jurisdiction.objects.get(code="WL").pk).values_list("seq", flat=True)
    for seq in [event.seq for event in entries_of(wenling["draft"])] + list(wenling_seqs[:5]):
        body = error(stranger.get(f"/api/v1/audit/inclusion/?seq={seq}"), 404)
        assert wenling["draft"].number not in json.dumps(body)
    yuhuan_entry = AuditEvent.objects.filter(jurisdiction_id=wenling["yuhuan"].pk).first()
    assert ok(stranger.get(f"/api/v1/audit/inclusion/?seq={yuhuan_entry.seq}"))["payload"] == yuhuan_entry.payload


def test_wenlings_auditor_proves_the_submitted_claims_entries_but_not_the_drafts(wenling):
    auditor = login("auditor")
    for event in entries_of(wenling["submitted"]):
        body = ok(auditor.get(f"/api/v1/audit/inclusion/?seq={event.seq}"))
        assert body["payload"] == event.payload and body["entry_hash"] == event.hash
    for event in entries_of(wenling["draft"]):  # a draft stays with its provider until submitted
        error(auditor.get(f"/api/v1/audit/inclusion/?seq={event.seq}"), 404)
    yuhuan_entry = AuditEvent.objects.filter(jurisdiction_id=wenling["yuhuan"].pk).first()
    error(auditor.get(f"/api/v1/audit/inclusion/?seq={yuhuan_entry.seq}"), 404)


def test_verify_history_timeline_and_as_of_give_the_stranger_nothing_of_wenling(client, wenling):
    stranger = login("auditor_yh_t")
    for claim in (wenling["draft"], wenling["submitted"]):
        verified = stranger.get("/api/v1/audit/verify/")
        assert verified.status_code == 200 and claim.number not in verified.content.decode()
        error(stranger.get(f"/api/v1/claims/{claim.pk}/history/"), 404)
        client.force_login(wenling["stranger"])
        assert client.get(f"/audit/claims/{claim.pk}/").status_code == 404
        assert client.get(f"/audit/claims/{claim.pk}/as-of/", {"date": timezone.localdate().isoformat()}).status_code == 404
        assert claim.number not in client.get("/audit/verify/").content.decode()


def package_of(client, user) -> zipfile.ZipFile:
    client.force_login(user)
    today = timezone.localdate().isoformat()
    response = client.post("/audit/export/package/", {"date_from": today, "date_to": today})
    assert response.status_code == 200, response.content[:500]
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_the_strangers_package_holds_wenlings_entries_as_hashes_only(client, wenling):
    package = package_of(client, wenling["stranger"])
    entries = package.read("entries.jsonl").decode()
    for claim in (wenling["draft"], wenling["submitted"]):
        assert claim.number not in entries
    included = {json.loads(line)["seq"] for line in entries.splitlines()}
    assert included == set(ledger_entries_visible_to(wenling["stranger"]).filter(seq__in=included).values_list("seq", flat=True))
    lines = {int(line.split()[0]): line.split() for line in package.read("hashes.txt").decode().splitlines()}
    for event in entries_of(wenling["submitted"]):
        seq, digest, leaf = lines[event.seq]
        assert digest == event.hash
        assert leaf == hashlib.sha256(b"\x00" + event.payload.encode()).hexdigest()
    manifest = json.loads(package.read("manifest.json"))
    assert manifest["scope"]["readers_scope"] == "YH-T" and manifest["entries"]["withheld"] > 0


def test_wenlings_package_verifies_offline_and_a_forged_hash_of_another_jurisdiction_fails(
    client, wenling, auditor_machine, tmp_path
):
    package = package_of(client, wenling["auditor"])
    entries = package.read("entries.jsonl").decode()
    assert wenling["submitted"].number in entries and wenling["draft"].number not in entries
    assert "玉环测试培训学校" not in entries  # Yuhuan's provider, recorded in Yuhuan's entries
    out = tmp_path / "wenling"
    package.extractall(out)
    key = package.read("public_key.txt").decode().strip()
    result = run_verifier(auditor_machine, out, "--public-key", key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERDICT: OK" in result.stdout and "given as hashes only" in result.stdout

    # Someone swaps the leaf hash of a withheld (Yuhuan) entry: the signed roots no longer match.
    yuhuan_seq = AuditEvent.objects.filter(jurisdiction_id=wenling["yuhuan"].pk).first().seq
    hashes = (out / "hashes.txt").read_text().splitlines()
    seq, digest, _leaf = hashes[yuhuan_seq - 1].split()
    hashes[yuhuan_seq - 1] = f"{seq} {digest} {'ab' * 32}"
    (out / "hashes.txt").write_text("\n".join(hashes) + "\n")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["hashes.txt"] = hashlib.sha256((out / "hashes.txt").read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))
    forged = run_verifier(auditor_machine, out, "--public-key", key)
    assert forged.returncode == 1 and "is not the signed root" in forged.stdout, forged.stdout


def test_the_admin_shows_the_ledger_to_superusers_only(client, wenling):
    client.force_login(wenling["auditor"])
    assert client.get(reverse("admin:audit_auditevent_changelist")).status_code in (302, 403)  # no staff: no admin at all
    staff = wenling["stranger"]
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    client.force_login(staff)
    response = client.get(reverse("admin:audit_auditevent_changelist"))
    assert response.status_code == 200 and response.context["cl"].result_count == 0
    with transaction.atomic():
        record_event(actor=None, action="claim.edited", obj=wenling["submitted"], claim=wenling["submitted"])
    client.force_login(wenling["auditor"].__class__.objects.get(username="admin"))
    assert client.get(reverse("admin:audit_auditevent_changelist")).context["cl"].result_count == AuditEvent.objects.count()
