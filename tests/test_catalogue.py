"""The versioned subsidy catalogue: its services (history in the audit ledger, a used version is
never changed in place), the seed, the API, and the administrator's pages."""

import datetime
import os
import threading
from dataclasses import replace
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from audit.models import AuditEvent
from audit.selectors import verify_chain
from claims import catalogue
from claims.catalogue import VersionInUse, VersionTerms, add_version, create_policy, update_version, version_snapshot
from claims.errors import ActionForbidden, InvalidInput
from claims.models import Claim, ClaimLine, Jurisdiction, PolicyVersion, SubsidyPolicy
from claims.pricing import versions_for
from claims.services import create_claim

from .api_support import login, ok
from .conftest import DEMO_PASSWORD, claim_data, line, resident_id

TODAY = datetime.date.today()


def terms(**overrides) -> VersionTerms:
    values = {
        "valid_from": datetime.date(2024, 1, 1),
        "amount_rule": "cap",
        "amount_by_level": {"junior": "1000", "senior": "2000.00"},
        "certificate_types": ["skill_level"],
        "source": "002 §三(十三)",
    }
    values.update(overrides)
    return VersionTerms(**values)


def catalogue_events(**filters):
    return list(AuditEvent.objects.filter(action__startswith="catalogue.", **filters).order_by("seq"))


@pytest.fixture
def entry(demo):
    """A new entry S19 in the demo jurisdiction, created by the administrator."""
    return create_policy(actor=demo["admin"], jurisdiction=Jurisdiction.objects.get(code="WL"), code="S19",
                         name="演示：个人取证补贴（新）", category="personal_certificate", payee="trainee")


def priced_s3_claim(demo, certificate_date=None):
    """A draft of two S3 lines (certificate a month ago): priced by S3 v2."""
    date = (certificate_date or TODAY - datetime.timedelta(days=30)).isoformat()
    return create_claim(user=demo["provider_clerk"], data=claim_data(lines=[
        line(resident_id(1), "张三", certificate_date=date),
        line(resident_id(2), "李四", certificate_number="T-2", certificate_date=date),
    ]))


# --------------------------------------------------------------------------- services


def test_add_version_numbers_it_and_closes_the_previous_one_the_day_before(demo, entry):
    first = add_version(actor=demo["admin"], policy=entry, terms=terms())
    second = add_version(actor=demo["admin"], policy=entry,
                         terms=terms(valid_from=datetime.date(2025, 7, 1), amount_by_level={"junior": "1200", "senior": "2400"}))
    first.refresh_from_db()
    assert (first.version, first.valid_from, first.valid_to) == (1, datetime.date(2024, 1, 1), datetime.date(2025, 6, 30))
    assert (second.version, second.valid_from, second.valid_to) == (2, datetime.date(2025, 7, 1), None)
    assert second.amount_by_level == {"junior": "1200.00", "senior": "2400.00"}
    assert (first.created_by, second.capped_by_cost) == (demo["admin"], True)  # a cap always pays the lesser

    events = catalogue_events(actor=demo["admin"])
    assert [(e.action, e.object_id) for e in events] == [
        ("catalogue.policy_created", str(entry.pk)),
        ("catalogue.version_added", str(first.pk)),
        ("catalogue.version_closed", str(first.pk)),
        ("catalogue.version_added", str(second.pk)),
    ]
    created, added, closed, added2 = (e.detail for e in events)
    assert created["before"] is None and created["after"] == {
        "code": "S19", "name": "演示：个人取证补贴（新）", "category": "personal_certificate", "payee": "trainee"}
    assert added["before"] is None and added["after"]["amount_by_level"] == {"junior": "1000.00", "senior": "2000.00"}
    assert closed["before"] == {"valid_to": None} and closed["after"] == {"valid_to": "2025-06-30"}
    assert (closed["policy"], closed["version"], closed["superseded_by"]) == ("S19", 1, 2)
    assert added2["after"]["valid_from"] == "2025-07-01" and added2["version"] == 2
    assert verify_chain()["ok"] is True


def test_a_new_version_must_start_after_the_previous_one_started(demo, entry):
    add_version(actor=demo["admin"], policy=entry, terms=terms())
    before = catalogue_events()
    with pytest.raises(InvalidInput) as refused:
        add_version(actor=demo["admin"], policy=entry, terms=terms(valid_from=datetime.date(2024, 1, 1)))
    assert "valid_from" in refused.value.fields
    assert list(entry.versions.values_list("version", "valid_to")) == [(1, None)]
    assert catalogue_events() == before


def test_a_new_version_never_cuts_into_dates_the_previous_one_already_priced(demo):
    claim = priced_s3_claim(demo)
    s3 = claim.policy
    last_priced = TODAY - datetime.timedelta(days=30)
    with pytest.raises(InvalidInput) as refused:
        add_version(actor=demo["admin"], policy=s3, terms=replace(catalogue.terms_of(s3.versions.get(version=2)),
                                                                  valid_from=last_priced, valid_to=None))
    assert last_priced.isoformat() in refused.value.message
    assert s3.versions.get(version=2).valid_to is None and s3.versions.count() == 2

    third = add_version(actor=demo["admin"], policy=s3, terms=replace(catalogue.terms_of(s3.versions.get(version=2)),
                                                                      valid_from=last_priced + datetime.timedelta(days=1)))
    assert s3.versions.get(version=2).valid_to == last_priced
    assert third.version == 3
    # The lines keep the version that priced them.
    assert {str(line.policy_version) for line in claim.lines.all()} == {"S3 v2"}


def test_a_version_used_to_price_lines_is_never_changed_in_place(demo):
    claim = priced_s3_claim(demo)
    used = claim.lines.first().policy_version
    snapshot, events = version_snapshot(used), catalogue_events()
    changed = replace(catalogue.terms_of(used), amount_by_level={"senior": "600.00"})
    with pytest.raises(VersionInUse) as refused:
        update_version(actor=demo["admin"], version=used, terms=changed)
    assert refused.value.status == 409
    assert "已用于 2 条申领明细的计价" in refused.value.message and "请新增版本" in refused.value.message
    used.refresh_from_db()
    assert version_snapshot(used) == snapshot
    assert catalogue_events() == events


def test_an_unused_version_is_corrected_with_before_and_after_in_the_ledger(demo, entry):
    first = add_version(actor=demo["admin"], policy=entry, terms=terms())
    second = add_version(actor=demo["admin"], policy=entry, terms=terms(valid_from=datetime.date(2025, 7, 1)))
    update_version(actor=demo["admin"], version=second,
                   terms=terms(valid_from=datetime.date(2025, 9, 1), amount_by_level={"junior": "1000", "senior": "2500"},
                               notes="更正：高级工 2500"))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (second.valid_from, second.amount_by_level["senior"], second.notes) == (datetime.date(2025, 9, 1), "2500.00", "更正：高级工 2500")
    assert first.valid_to == datetime.date(2025, 8, 31)  # still ends the day before
    closed, updated = catalogue_events()[-2:]
    assert (closed.action, closed.detail["before"], closed.detail["after"]) == (
        "catalogue.version_closed", {"valid_to": "2025-06-30"}, {"valid_to": "2025-08-31"})
    assert updated.action == "catalogue.version_updated" and updated.object_id == str(second.pk)
    assert updated.detail["changed"] == ["amount_by_level", "notes", "valid_from"]
    assert updated.detail["before"]["amount_by_level"]["senior"] == "2000.00"
    assert updated.detail["after"]["amount_by_level"]["senior"] == "2500.00"
    assert (updated.detail["before"]["valid_from"], updated.detail["after"]["valid_from"]) == ("2025-07-01", "2025-09-01")


def test_a_correction_must_stay_clear_of_the_next_version(demo, entry):
    first = add_version(actor=demo["admin"], policy=entry, terms=terms(valid_to=datetime.date(2024, 12, 31)))
    add_version(actor=demo["admin"], policy=entry, terms=terms(valid_from=datetime.date(2025, 1, 1)))
    with pytest.raises(InvalidInput) as refused:
        update_version(actor=demo["admin"], version=first, terms=terms(valid_to=None))
    assert "valid_to" in refused.value.fields
    first.refresh_from_db()
    assert first.valid_to == datetime.date(2024, 12, 31)


INVALID_TERMS = [
    pytest.param({"amount_rule": "per_period", "period": ""}, "period", id="per_period needs a period"),
    pytest.param({"amount_rule": "cap", "period": "year"}, "period", id="only per_period has a period"),
    pytest.param({"amount_rule": "per_period", "period": "year", "max_periods": 0}, "max_periods", id="max_periods is positive"),
    pytest.param({"amount_rule": "percent_of", "amount_by_level": {}, "percent": "50", "base_policy": "S99"}, "base_policy",
                 id="the base standard exists in the jurisdiction"),
    pytest.param({"amount_rule": "percent_of", "amount_by_level": {}, "percent": "150", "base_policy": "S1"}, "percent",
                 id="a percentage is at most 100"),
    pytest.param({"amount_rule": "uplift", "percent": "30", "base_policy": "S1"}, "amount_by_level",
                 id="an uplift takes the base standard's amounts"),
    pytest.param({"amount_rule": "uplift", "amount_by_level": {}, "percent": "30", "base_policy": "S19"}, "base_policy",
                 id="a standard is not its own base"),
    pytest.param({"amount_rule": "fixed", "capped_by_cost": True}, "capped_by_cost", id="a fixed amount is not capped by cost"),
    pytest.param({"amount_by_level": {"master": "100"}}, "amount_by_level", id="levels are the eight-level ladder or *"),
    pytest.param({"amount_by_level": {"senior": "-5"}}, "amount_by_level", id="amounts are positive"),
    pytest.param({"amount_by_level": {"senior": "1.005"}}, "amount_by_level", id="amounts have at most two decimals"),
    pytest.param({"amount_by_level": {}}, "amount_by_level", id="a cap needs amounts"),
    pytest.param({"variant_amounts": {"Renewal!": "100"}}, "variant_amounts", id="variant codes are lowercase identifiers"),
    pytest.param({"certificate_types": ["diploma"]}, "certificate_types", id="certificate types are the enumeration"),
    pytest.param({"valid_to": datetime.date(2023, 12, 31)}, "valid_to", id="a version ends after it starts"),
    pytest.param({"source": " "}, "source", id="a version cites its source"),
    pytest.param({"amount_rule": "per_week"}, "amount_rule", id="the amount rule is one of six"),
]


@pytest.mark.parametrize("overrides, field", INVALID_TERMS)
def test_a_version_is_checked_field_by_field_and_nothing_is_saved(demo, entry, overrides, field):
    with pytest.raises(InvalidInput) as refused:
        add_version(actor=demo["admin"], policy=entry, terms=terms(**overrides))
    assert field in refused.value.fields, refused.value.fields
    assert entry.versions.count() == 0
    assert [e.action for e in catalogue_events(actor=demo["admin"])] == ["catalogue.policy_created"]


def test_only_administrators_change_the_catalogue(demo, entry):
    for username in ("hr_head", "hr_reviewer", "auditor", "provider_clerk"):
        with pytest.raises(ActionForbidden):
            add_version(actor=demo[username], policy=entry, terms=terms())
        with pytest.raises(ActionForbidden):
            create_policy(actor=demo[username], jurisdiction=entry.jurisdiction, code="S20", name="x",
                          category="skills", payee="provider")
    assert entry.versions.count() == 0 and not SubsidyPolicy.objects.filter(code="S20").exists()


# --------------------------------------------------------------------------- seed and API


def test_seed_demo_has_every_standard_and_is_idempotent(demo):
    versions = {(v.policy.code, v.version): v for v in PolicyVersion.objects.select_related("policy")}
    assert {code for code, _number in versions} == {f"S{n}" for n in range(1, 19)}
    assert versions[("S16", 1)].valid_to == datetime.date(2021, 12, 31) and ("S16", 2) not in versions
    assert (versions[("S1", 2)].valid_to, versions[("S1", 3)].valid_from) == (datetime.date(2025, 12, 31), datetime.date(2026, 1, 1))
    assert versions[("S1", 3)].amount_by_level["senior"] == "4000.00" and "演示数据" in versions[("S1", 3)].notes
    assert all(v.source.startswith("002 §") for v in versions.values())
    events = AuditEvent.objects.count()
    call_command("seed_demo", password=DEMO_PASSWORD, stdout=open(os.devnull, "w"))
    assert AuditEvent.objects.count() == events
    assert PolicyVersion.objects.count() == len(versions)


def test_the_api_lists_every_field_of_every_version(demo):
    policies = {p["code"]: p for p in ok(login("provider_clerk").get("/api/v1/policies/?page_size=100"))["results"]}
    assert list(policies)[:3] == ["S1", "S2", "S3"]
    s1, s2, s10, s16 = policies["S1"], policies["S2"], policies["S10"], policies["S16"]
    assert (s1["category"], s1["payee"], s1["version_in_force"]) == ("skills", "provider", 3 if TODAY >= datetime.date(2026, 1, 1) else 2)
    assert [(v["version"], v["valid_from"], v["valid_to"]) for v in s1["versions"]] == [
        (1, "2019-01-01", "2021-12-31"), (2, "2022-01-01", "2025-12-31"), (3, "2026-01-01", None)]
    v3 = s1["versions"][2]
    assert set(v3) >= {"amount_rule", "amount_by_level", "variant_amounts", "period", "max_periods", "percent", "base_policy",
                       "capped_by_cost", "certificate_types", "valid_from", "valid_to", "source", "notes"}
    assert (v3["amount_rule"], v3["amount_by_level"]["senior"], v3["capped_by_cost"], v3["source"]) == ("cap", "4000.00", True, "002 §二(一)")
    assert (s2["category"], s2["versions"][1]["amount_rule"], s2["versions"][1]["percent"], s2["versions"][1]["base_policy"]) == (
        "project", "percent_of", "50.00", "S1")
    assert s2["versions"][1]["amount_by_level"] == {} and s2["versions"][1]["certificate_types"] == ["training"]
    assert (s10["payee"], s10["versions"][1]["period"], s10["versions"][1]["max_periods"], s10["versions"][1]["capped_by_cost"]) == (
        "enterprise", "year", 2, True)
    assert policies["S3"]["versions"][1]["variant_amounts"] == {"renewal": "100.00"}
    assert (s16["version_in_force"], len(s16["versions"]), s16["versions"][0]["amount_rule"]) == (None, 1, "uplift")


# --------------------------------------------------------------------------- concurrency


@pytest.mark.postgres
def test_an_edit_waits_for_a_claim_being_priced_with_the_version_and_then_refuses(transactional_db, demo):
    """Pricing holds FOR KEY SHARE on the versions it read until its transaction ends, so an edit
    (FOR UPDATE) cannot slip in between reading the amounts and saving the lines priced by them."""
    from .test_concurrency import THREAD_TIMEOUT, wait_for_postgres_lock_waiters

    draft = priced_s3_claim(demo)
    s3 = draft.policy
    version = s3.versions.get(version=2)
    trainee = draft.lines.first().trainee
    ClaimLine.objects.filter(claim=draft).delete()  # the version is unused again
    read, release = threading.Event(), threading.Event()
    outcome = {}

    def pricing():
        try:
            with transaction.atomic():
                book = versions_for(s3)
                read.set()
                release.wait(THREAD_TIMEOUT)
                ClaimLine.objects.create(
                    claim=draft, line_no=9, trainee=trainee, occupation="电工", level="senior",
                    certificate_type="special_operation", certificate_number="T-9", certificate_date=TODAY,
                    training_days=5, amount=Decimal("500.00"), policy_version=book.in_force(s3.pk, TODAY))
        except BaseException as error:  # noqa: BLE001 - reported to the test
            outcome["pricing"] = error
        finally:
            connection.close()

    def edit():
        try:
            outcome["edit"] = update_version(actor=demo["admin"], version=version,
                                             terms=replace(catalogue.terms_of(version), amount_by_level={"senior": "600.00"}))
        except BaseException as error:  # noqa: BLE001
            outcome["edit"] = error
        finally:
            connection.close()

    pricer = threading.Thread(target=pricing, daemon=True)
    pricer.start()
    assert read.wait(THREAD_TIMEOUT)
    editor = threading.Thread(target=edit, daemon=True)
    editor.start()
    waiting = wait_for_postgres_lock_waiters(1)
    release.set()
    pricer.join(THREAD_TIMEOUT)
    editor.join(THREAD_TIMEOUT)
    assert waiting == 1, outcome
    assert "pricing" not in outcome, outcome
    assert isinstance(outcome["edit"], VersionInUse), outcome
    version.refresh_from_db()
    assert version.amount_by_level["senior"] == "500.00"
    assert Claim.objects.count() == 1
