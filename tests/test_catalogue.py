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
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from audit.selectors import verify_chain
from claims import catalogue
from claims.catalogue import VersionInUse, VersionTerms, add_version, create_policy, update_version, version_snapshot
from claims.dates import date_text
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
    """The ledger's catalogue entries (other entries, such as logins, come and go with the requests)."""
    return list(AuditEvent.objects.filter(action__startswith="catalogue.", **filters).order_by("seq"))


@pytest.fixture
def entry(demo):
    """A new entry S19 in the demo jurisdiction, created by the administrator."""
    return create_policy(
        actor=demo["admin"],
        jurisdiction=Jurisdiction.objects.get(code="WL"),
        code="S19",
        name="演示：个人取证补贴（新）",
        category="personal_certificate",
        payee="trainee",
        reason="依据 002 号文件",
    )


def priced_s3_claim(demo, certificate_date=None):
    """A draft of two S3 lines (certificate a month ago): priced by S3 v2."""
    date = (certificate_date or TODAY - datetime.timedelta(days=30)).isoformat()
    return create_claim(
        user=demo["provider_clerk"],
        data=claim_data(
            lines=[
                line(resident_id(1), "张三", certificate_date=date),
                line(resident_id(2), "李四", certificate_number="T-2", certificate_date=date),
            ]
        ),
    )


# --------------------------------------------------------------------------- services


def test_add_version_numbers_it_and_closes_the_previous_one_the_day_before(demo, entry):
    first = add_version(actor=demo["admin"], policy=entry, terms=terms(), reason="依据 002 号文件")
    second = add_version(
        actor=demo["admin"],
        policy=entry,
        terms=terms(valid_from=datetime.date(2025, 7, 1), amount_by_level={"junior": "1200", "senior": "2400"}),
        reason="依据 002 号文件",
    )
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
        "code": "S19",
        "name": "演示：个人取证补贴（新）",
        "category": "personal_certificate",
        "payee": "trainee",
    }
    assert added["before"] is None and added["after"]["amount_by_level"] == {"junior": "1000.00", "senior": "2000.00"}
    assert closed["before"] == {"valid_to": None} and closed["after"] == {"valid_to": "2025-06-30"}
    assert (closed["policy"], closed["version"], closed["superseded_by"]) == ("S19", 1, 2)
    assert added2["after"]["valid_from"] == "2025-07-01" and added2["version"] == 2
    assert verify_chain()["ok"] is True


def test_a_new_version_must_start_after_the_previous_one_started(demo, entry):
    add_version(actor=demo["admin"], policy=entry, terms=terms(), reason="依据 002 号文件")
    before = catalogue_events()
    with pytest.raises(InvalidInput) as refused:
        add_version(
            actor=demo["admin"], policy=entry, terms=terms(valid_from=datetime.date(2024, 1, 1)), reason="依据 002 号文件"
        )
    assert "valid_from" in refused.value.fields
    with pytest.raises(InvalidInput) as both:  # the date and the terms are reported together
        add_version(
            actor=demo["admin"],
            policy=entry,
            terms=terms(valid_from=datetime.date(2023, 1, 1), amount_rule="per_period"),
            reason="依据 002 号文件",
        )
    assert set(both.value.fields) == {"valid_from", "period"}
    assert list(entry.versions.values_list("version", "valid_to")) == [(1, None)]
    assert catalogue_events() == before


def test_a_new_version_never_cuts_into_dates_the_previous_one_already_priced(demo):
    claim = priced_s3_claim(demo)
    s3 = claim.policy
    last_priced = TODAY - datetime.timedelta(days=30)
    with pytest.raises(InvalidInput) as refused:
        add_version(
            actor=demo["admin"],
            policy=s3,
            terms=replace(catalogue.terms_of(s3.versions.get(version=2)), valid_from=last_priced, valid_to=None),
            reason="依据 002 号文件",
        )
    assert date_text(last_priced) in refused.value.message
    assert s3.versions.get(version=2).valid_to is None and s3.versions.count() == 2

    third = add_version(
        actor=demo["admin"],
        policy=s3,
        terms=replace(catalogue.terms_of(s3.versions.get(version=2)), valid_from=last_priced + datetime.timedelta(days=1)),
        reason="依据 002 号文件",
    )
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
        update_version(actor=demo["admin"], version=used, terms=changed, reason="依据 002 号文件")
    assert refused.value.status == 409
    assert "已用于 2 条申领明细的计价" in refused.value.message and "请新增版本" in refused.value.message
    used.refresh_from_db()
    assert version_snapshot(used) == snapshot
    assert catalogue_events() == events


def test_an_unused_version_is_corrected_with_before_and_after_in_the_ledger(demo, entry):
    first = add_version(actor=demo["admin"], policy=entry, terms=terms(), reason="依据 002 号文件")
    second = add_version(
        actor=demo["admin"], policy=entry, terms=terms(valid_from=datetime.date(2025, 7, 1)), reason="依据 002 号文件"
    )
    update_version(
        actor=demo["admin"],
        version=second,
        terms=terms(
            valid_from=datetime.date(2025, 9, 1), amount_by_level={"junior": "1000", "senior": "2500"}, notes="更正：高级工 2500"
        ),
        reason="依据 002 号文件",
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (second.valid_from, second.amount_by_level["senior"], second.notes) == (
        datetime.date(2025, 9, 1),
        "2500.00",
        "更正：高级工 2500",
    )
    assert first.valid_to == datetime.date(2025, 8, 31)  # still ends the day before
    closed, updated = catalogue_events()[-2:]
    assert (closed.action, closed.detail["before"], closed.detail["after"]) == (
        "catalogue.version_closed",
        {"valid_to": "2025-06-30"},
        {"valid_to": "2025-08-31"},
    )
    assert updated.action == "catalogue.version_updated" and updated.object_id == str(second.pk)
    assert updated.detail["changed"] == ["amount_by_level", "notes", "valid_from"]
    assert updated.detail["before"]["amount_by_level"]["senior"] == "2000.00"
    assert updated.detail["after"]["amount_by_level"]["senior"] == "2500.00"
    assert (updated.detail["before"]["valid_from"], updated.detail["after"]["valid_from"]) == ("2025-07-01", "2025-09-01")


def test_a_correction_must_stay_clear_of_the_next_version(demo, entry):
    first = add_version(
        actor=demo["admin"], policy=entry, terms=terms(valid_to=datetime.date(2024, 12, 31)), reason="依据 002 号文件"
    )
    add_version(actor=demo["admin"], policy=entry, terms=terms(valid_from=datetime.date(2025, 1, 1)), reason="依据 002 号文件")
    with pytest.raises(InvalidInput) as refused:
        update_version(actor=demo["admin"], version=first, terms=terms(valid_to=None), reason="依据 002 号文件")
    assert "valid_to" in refused.value.fields
    first.refresh_from_db()
    assert first.valid_to == datetime.date(2024, 12, 31)


INVALID_TERMS = [
    pytest.param({"amount_rule": "per_period", "period": ""}, "period", id="per_period needs a period"),
    pytest.param({"amount_rule": "cap", "period": "year"}, "period", id="only per_period has a period"),
    pytest.param({"amount_rule": "per_period", "period": "year", "max_periods": 0}, "max_periods", id="max_periods is positive"),
    pytest.param(
        {"amount_rule": "percent_of", "amount_by_level": {}, "percent": "50", "base_policy": "S99"},
        "base_policy",
        id="the base standard exists in the jurisdiction",
    ),
    pytest.param(
        {"amount_rule": "percent_of", "amount_by_level": {}, "percent": "150", "base_policy": "S1"},
        "percent",
        id="a percentage is at most 100",
    ),
    pytest.param(
        {"amount_rule": "uplift", "percent": "30", "base_policy": "S1"},
        "amount_by_level",
        id="an uplift takes the base standard's amounts",
    ),
    pytest.param(
        {"amount_rule": "uplift", "amount_by_level": {}, "percent": "30", "base_policy": "S19"},
        "base_policy",
        id="a standard is not its own base",
    ),
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
        add_version(actor=demo["admin"], policy=entry, terms=terms(**overrides), reason="依据 002 号文件")
    assert field in refused.value.fields, refused.value.fields
    assert entry.versions.count() == 0
    assert [e.action for e in catalogue_events(actor=demo["admin"])] == ["catalogue.policy_created"]


def test_only_administrators_change_the_catalogue(demo, entry):
    for username in ("hr_head", "hr_reviewer", "auditor", "provider_clerk"):
        with pytest.raises(ActionForbidden):
            add_version(actor=demo[username], policy=entry, terms=terms(), reason="依据 002 号文件")
        with pytest.raises(ActionForbidden):
            create_policy(
                actor=demo[username],
                jurisdiction=entry.jurisdiction,
                code="S20",
                name="x",
                category="skills",
                payee="provider",
                reason="依据 002 号文件",
            )
    assert entry.versions.count() == 0 and not SubsidyPolicy.objects.filter(code="S20").exists()


# --------------------------------------------------------------------------- seed and API


def test_seed_demo_has_every_standard_and_is_idempotent(demo):
    versions = {(v.policy.code, v.version): v for v in PolicyVersion.objects.select_related("policy")}
    assert {code for code, _number in versions} == {f"S{n}" for n in range(1, 19)}
    assert versions[("S16", 1)].valid_to == datetime.date(2021, 12, 31) and ("S16", 2) not in versions
    assert (versions[("S1", 2)].valid_to, versions[("S1", 3)].valid_from) == (
        datetime.date(2025, 12, 31),
        datetime.date(2026, 1, 1),
    )
    assert versions[("S1", 3)].amount_by_level["senior"] == "4000.00" and "演示数据" in versions[("S1", 3)].notes
    assert all(v.source.startswith("002 §") for v in versions.values())
    events = len(catalogue_events())
    call_command("seed_demo", password=DEMO_PASSWORD, stdout=open(os.devnull, "w"))
    assert len(catalogue_events()) == events
    assert PolicyVersion.objects.count() == len(versions)


def seed():
    call_command("seed_demo", password=DEMO_PASSWORD, stdout=open(os.devnull, "w"), stderr=open(os.devnull, "w"))


def test_seed_demo_refreshes_a_stale_demo_version_only_while_unused_and_unedited(demo):
    """A database seeded by an older seed_demo gets today's demo terms, except where a line was
    priced by the version or an administrator edited it."""
    stale = {"amount_by_level": {"*": "900.00"}, "source": "002 §三(四)"}
    s4_v2 = PolicyVersion.objects.get(policy__code="S4", version=2)
    PolicyVersion.objects.filter(pk=s4_v2.pk).update(**stale)
    s5_v2 = PolicyVersion.objects.get(policy__code="S5", version=2)
    update_version(
        actor=demo["admin"], version=s5_v2, terms=replace(catalogue.terms_of(s5_v2), notes="管理员更正"), reason="依据 002 号文件"
    )
    claim = priced_s3_claim(demo)
    s3_v2 = claim.lines.first().policy_version
    PolicyVersion.objects.filter(pk=s3_v2.pk).update(source="002 §三(三)")

    seed()
    s4_v2.refresh_from_db()
    assert (s4_v2.amount_by_level, s4_v2.source) == ({"*": "1000.00"}, "002 §二(四)")
    refreshed = catalogue_events(action="catalogue.version_updated", object_id=str(s4_v2.pk))[-1]
    assert (refreshed.actor, refreshed.detail["before"]["amount_by_level"], refreshed.detail["after"]["amount_by_level"]) == (
        None,
        {"*": "900.00"},
        {"*": "1000.00"},
    )
    assert PolicyVersion.objects.get(pk=s5_v2.pk).notes == "管理员更正"  # an administrator's edit stays
    assert PolicyVersion.objects.get(pk=s3_v2.pk).source == "002 §三(三)"  # a used version never changes
    events = len(catalogue_events())
    seed()
    assert len(catalogue_events()) == events


def test_the_api_lists_every_field_of_every_version(demo):
    policies = {p["code"]: p for p in ok(login("provider_clerk").get("/api/v1/policies/?page_size=100"))["results"]}
    assert list(policies)[:3] == ["S1", "S2", "S3"]
    s1, s2, s10, s16 = policies["S1"], policies["S2"], policies["S10"], policies["S16"]
    assert (s1["category"], s1["payee"], s1["version_in_force"]) == (
        "skills",
        "provider",
        3 if TODAY >= datetime.date(2026, 1, 1) else 2,
    )
    assert [(v["version"], v["valid_from"], v["valid_to"]) for v in s1["versions"]] == [
        (1, "2020-02-21", "2021-12-31"),
        (2, "2022-01-01", "2025-12-31"),
        (3, "2026-01-01", None),
    ]
    v3 = s1["versions"][2]
    assert set(v3) >= {
        "amount_rule",
        "amount_by_level",
        "variant_amounts",
        "period",
        "max_periods",
        "percent",
        "base_policy",
        "capped_by_cost",
        "certificate_types",
        "valid_from",
        "valid_to",
        "source",
        "notes",
    }
    assert (v3["amount_rule"], v3["amount_by_level"]["senior"], v3["capped_by_cost"], v3["source"]) == (
        "cap",
        "4000.00",
        True,
        "002 §二(一)",
    )
    assert (s2["category"], s2["versions"][1]["amount_rule"], s2["versions"][1]["percent"], s2["versions"][1]["base_policy"]) == (
        "project",
        "percent_of",
        "50.00",
        "S1",
    )
    assert s2["versions"][1]["amount_by_level"] == {} and s2["versions"][1]["certificate_types"] == ["training"]
    assert (
        s10["payee"],
        s10["versions"][1]["period"],
        s10["versions"][1]["max_periods"],
        s10["versions"][1]["capped_by_cost"],
    ) == ("enterprise", "year", 2, True)
    assert policies["S3"]["versions"][1]["variant_amounts"] == {"renewal": "100.00"}
    assert (s16["version_in_force"], len(s16["versions"]), s16["versions"][0]["amount_rule"]) == (None, 1, "uplift")


# --------------------------------------------------------------------------- pages


def web(user):
    client = Client()
    client.force_login(user)
    return client


def version_post(**overrides) -> dict:
    """What the add/edit version form posts: S19-like cap for junior and senior."""
    data = {
        "valid_from": "2024-01-01",
        "valid_to": "",
        "amount_rule": "cap",
        "amount_junior": "1000.00",
        "amount_senior": "2000.00",
        "variant_amounts": "",
        "period": "",
        "max_periods": "",
        "percent": "",
        "base_policy": "",
        "certificate_types": ["skill_level"],
        "source": "002 §三(十三)",
        "notes": "",
        "reason": "依据 002 号文件",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_anyone_signed_in_reads_the_catalogue_and_sees_which_version_is_in_force(demo):
    for username in ("admin", "dept_reviewer", "provider_clerk"):
        page = web(demo[username]).get(reverse("claims:catalogue"))
        assert page.status_code == 200
        html = page.content.decode()
        for n in range(1, 19):
            assert f'id="entry-WL-S{n}"' in html
    s1 = SubsidyPolicy.objects.get(code="S1")
    current = catalogue.in_force(list(s1.versions.all()), TODAY)
    detail = web(demo["dept_reviewer"]).get(reverse("claims:catalogue_policy", args=["WL", "S1"]))
    html = detail.content.decode()
    assert detail.status_code == 200
    assert f'<tr id="version-{current.version}" class="current">' in html
    assert "《诸暨市职业技能提升行动实施方案（2019-2021）》（诸政办发〔2020〕6号）§二(一)" in html and "演示数据" in html
    # A reader sees no edit links; the catalogue is in everyone's menu (a provider looks up standards and caps).
    assert reverse("claims:catalogue_version_new", args=["WL", "S1"]) not in html
    assert 'href="/catalogue/"' in web(demo["provider_clerk"]).get(reverse("approvals:inbox")).content.decode()
    assert 'href="/catalogue/"' in web(demo["admin"]).get(reverse("approvals:inbox")).content.decode()


def test_the_short_address_leads_to_the_entry_and_anonymous_users_to_the_login(demo):
    response = web(demo["auditor"]).get("/catalogue/S3/")
    assert (response.status_code, response["Location"]) == (302, "/catalogue/WL/S3/")
    assert web(demo["auditor"]).get("/catalogue/S99/").status_code == 404
    assert web(demo["auditor"]).get("/catalogue/WL/S3/versions/9/edit/").status_code == 403
    for url in ("/catalogue/", "/catalogue/WL/S3/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("username", ["dept_reviewer", "hr_reviewer", "hr_head", "finance_officer", "auditor", "provider_clerk"])
def test_only_an_administrator_opens_the_edit_pages(demo, username):
    client = web(demo[username])
    s1 = SubsidyPolicy.objects.get(code="S1")
    urls = [
        reverse("claims:catalogue_policy_new"),
        reverse("claims:catalogue_policy_edit", args=["WL", "S1"]),
        reverse("claims:catalogue_version_new", args=["WL", "S1"]),
        reverse("claims:catalogue_version_edit", args=["WL", "S1", 3]),
    ]
    events = len(catalogue_events())
    for url in urls:
        assert client.get(url).status_code == 403, url
        assert (
            client.post(
                url,
                version_post(
                    valid_from="2027-01-01", name="x", code="S30", category="skills", payee="provider", jurisdiction="WL"
                ),
            ).status_code
            == 403
        ), url
    assert (s1.versions.count(), len(catalogue_events())) == (3, events)
    assert not SubsidyPolicy.objects.filter(code="S30").exists()


def test_the_administrator_adds_an_entry_and_its_versions_through_the_pages(demo):
    admin = web(demo["admin"])
    response = admin.post(
        reverse("claims:catalogue_policy_new"),
        {
            "jurisdiction": "WL",
            "code": "S19",
            "name": "演示：技能提升补贴",
            "category": "personal_certificate",
            "payee": "trainee",
            "reason": "依据 002 号文件",
        },
    )
    assert (response.status_code, response["Location"]) == (302, "/catalogue/WL/S19/versions/new/")
    assert admin.get(response["Location"]).status_code == 200

    response = admin.post("/catalogue/WL/S19/versions/new/", version_post())
    assert (response.status_code, response["Location"]) == (302, "/catalogue/WL/S19/")
    # The form of the next version starts from the latest one.
    form = admin.get("/catalogue/WL/S19/versions/new/").content.decode()
    assert 'name="amount_senior" value="2000.00"' in form and "新增 v2" in form
    response = admin.post("/catalogue/WL/S19/versions/new/", version_post(valid_from="2026-01-01", amount_senior="2500"))
    assert response.status_code == 302

    s19 = SubsidyPolicy.objects.get(code="S19")
    assert list(s19.versions.values_list("version", "valid_from", "valid_to")) == [
        (1, datetime.date(2024, 1, 1), datetime.date(2025, 12, 31)),
        (2, datetime.date(2026, 1, 1), None),
    ]
    assert s19.versions.get(version=2).amount_by_level == {"junior": "1000.00", "senior": "2500.00"}
    assert {e.actor_id for e in catalogue_events(object_type="claims.policyversion")} >= {demo["admin"].pk}
    page = admin.get("/catalogue/WL/S19/").content.decode()
    assert [
        action
        for action in ("catalogue.policy_created", "catalogue.version_added", "catalogue.version_closed")
        if f'data-action="{action}"' in page
    ] == ["catalogue.policy_created", "catalogue.version_added", "catalogue.version_closed"]
    assert "<del>—</del> → <ins>2025年12月31日</ins>" in page  # v1's end date set when v2 was added


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"valid_from": "2025-06-01"}, "须晚于 2026年1月1日"),
        ({"valid_from": "2027-01-01", "amount_rule": "per_period"}, "按月或按年计算的标准须选择期间"),
        (
            {"valid_from": "2027-01-01", "amount_rule": "percent_of", "percent": "50", "base_policy": "S2"},
            "各等级金额：按比例或上浮计算的标准，各等级金额取自基准标准，此处不填。",
        ),
        ({"valid_from": "2027-01-01", "variant_amounts": "renewal 100\nout of province"}, "第 2 行应为“类型代码 = 金额”。"),
    ],
    ids=[
        "starts before the version in force",
        "per_period without a period",
        "percent_of with amounts",
        "a malformed variant line",
    ],
)
def test_a_rejected_version_form_shows_the_errors_and_saves_nothing(demo, overrides, message):
    events = len(catalogue_events())
    response = web(demo["admin"]).post("/catalogue/WL/S1/versions/new/", version_post(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert (SubsidyPolicy.objects.get(code="S1").versions.count(), len(catalogue_events())) == (3, events)


def test_the_administrator_corrects_an_unused_version_but_not_a_used_one(demo):
    admin = web(demo["admin"])
    entry = create_policy(
        actor=demo["admin"],
        jurisdiction=Jurisdiction.objects.get(code="WL"),
        code="S19",
        name="演示",
        category="skills",
        payee="provider",
        reason="依据 002 号文件",
    )
    add_version(actor=demo["admin"], policy=entry, terms=terms(), reason="依据 002 号文件")
    edit_url = "/catalogue/WL/S19/versions/1/edit/"
    form = admin.get(edit_url)
    assert form.status_code == 200 and 'name="amount_junior" value="1000.00"' in form.content.decode()
    response = admin.post(edit_url, version_post(amount_junior="1100", notes="更正初级工金额"))
    assert (response.status_code, response["Location"]) == (302, "/catalogue/WL/S19/")
    version = entry.versions.get()
    assert (version.amount_by_level["junior"], version.notes) == ("1100.00", "更正初级工金额")
    updated = catalogue_events(action="catalogue.version_updated")[-1]
    assert (
        updated.actor_id,
        updated.detail["before"]["amount_by_level"]["junior"],
        updated.detail["after"]["amount_by_level"]["junior"],
    ) == (demo["admin"].pk, "1000.00", "1100.00")

    # S3 v2 has priced the lines of a claim: its edit page refuses, and so does a post.
    priced_s3_claim(demo)
    s3_v2 = PolicyVersion.objects.get(policy__code="S3", version=2)
    snapshot, events = version_snapshot(s3_v2), len(catalogue_events())
    response = admin.get("/catalogue/WL/S3/versions/2/edit/", follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [("/catalogue/WL/S3/", 302)]
    assert "已用于 2 条申领明细的计价" in html and "请新增版本" in html
    response = admin.post(
        "/catalogue/WL/S3/versions/2/edit/", version_post(valid_from="2022-01-01", amount_senior="600"), follow=True
    )
    assert "已用于 2 条申领明细的计价" in response.content.decode()
    s3_v2.refresh_from_db()
    assert (version_snapshot(s3_v2), len(catalogue_events())) == (snapshot, events)
    assert 'href="/catalogue/WL/S3/versions/2/edit/"' not in admin.get("/catalogue/WL/S3/").content.decode()


def test_the_catalogue_pages_speak_english_on_request(demo):
    client = web(demo["admin"])
    client.post(reverse("set_language"), {"language": "en", "next": "/catalogue/"})
    html = client.get("/catalogue/").content.decode()
    assert "Subsidy catalogue" in html and "Standard in force" in html
    assert "Cap: Junior ≤1000; Intermediate ≤1500; Senior ≤2000" in html  # S17
    assert "Per year: ≤6000, at most 2 periods; at most the actual cost" in html  # S10
    assert "50% of S1 for the same level; at most the actual cost" in html  # S2
    detail = client.get("/catalogue/WL/S3/").content.decode()
    assert "renewal ≤100" in detail and "Versions" in detail and "History" in detail


def test_the_django_admin_shows_the_catalogue_read_only(demo):
    admin = web(demo["admin"])
    s1 = SubsidyPolicy.objects.get(code="S1")
    assert admin.get(reverse("admin:claims_subsidypolicy_change", args=[s1.pk])).status_code == 200
    assert admin.get(reverse("admin:claims_subsidypolicy_add")).status_code == 403


# --------------------------------------------------------------------------- concurrency


@pytest.mark.postgres
def test_an_edit_waits_for_a_claim_being_priced_with_the_version_and_then_refuses(transactional_db, demo):
    """Pricing holds FOR KEY SHARE on the versions it read until its transaction ends, so an edit
    (FOR UPDATE) cannot slip in between reading the amounts and saving the lines priced by them."""
    from .test_concurrency import THREAD_TIMEOUT, wait_for_postgres_lock_waiters

    draft = priced_s3_claim(demo)
    s3 = draft.policy
    version = s3.versions.get(version=2)
    trainee, occupation = draft.lines.first().trainee, draft.lines.first().occupation
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
                    claim=draft,
                    line_no=9,
                    trainee=trainee,
                    occupation=occupation,
                    level="senior",
                    certificate_type="special_operation",
                    certificate_number="T-9",
                    certificate_date=TODAY,
                    training_days=5,
                    amount=Decimal("500.00"),
                    policy_version=book.in_force(s3.pk, TODAY),
                )
        except BaseException as error:  # noqa: BLE001 - reported to the test
            outcome["pricing"] = error
        finally:
            connection.close()

    def edit():
        try:
            outcome["edit"] = update_version(
                actor=demo["admin"],
                version=version,
                terms=replace(catalogue.terms_of(version), amount_by_level={"senior": "600.00"}),
                reason="依据 002 号文件",
            )
        except BaseException as error:  # noqa: BLE001
            outcome["edit"] = error
        finally:
            connection.close()

    pricer = threading.Thread(target=pricing, daemon=True)
    pricer.start()
    assert read.wait(THREAD_TIMEOUT)
    editor = threading.Thread(target=edit, daemon=True)
    editor.start()
    waiting = wait_for_postgres_lock_waiters(1, [editor])
    release.set()
    pricer.join(THREAD_TIMEOUT)
    editor.join(THREAD_TIMEOUT)
    assert waiting == 1, outcome
    assert "pricing" not in outcome, outcome
    assert isinstance(outcome["edit"], VersionInUse), outcome
    version.refresh_from_db()
    assert version.amount_by_level["senior"] == "500.00"
    assert Claim.objects.count() == 1
