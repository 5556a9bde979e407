"""Dates as people write them (issue 15, "Words and looks"): every page shows a date in the
language's format (2026年12月6日, 2026年12月6日 14:03; in English Dec. 6, 2026) through the
``day`` and ``moment`` filters, inside ``<time datetime="ISO">``. ISO stays where a machine reads
it: attributes (``datetime=``, ``value=``, ``data-*``, links), date inputs, the API and the files.

The check renders each role's main pages over demo data that has every kind of date (a claim
under review, one returned with a deadline, approved ones in a payment batch, one paid and under
recovery, one on public notice with an objection, a filed class with attendance, a delegation,
notifications, the ledger's timeline and its replay) and finds no ISO date in the visible text."""

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from approvals.templatetags.approvals_tags import day, moment
from claims.models import Jurisdiction
from claims.services import create_claim
from payments.services.recoveries import open_recovery
from workflow import assignment
from workflow.disbursement import build_batch
from workflow.selectors import open_task_of_claim
from workflow.services import decide_task, submit_claim

from .conftest import TODAY, claim_data, line, resident_id
from .payments_support import approved_claim
from .test_browser_screens import large_claim
from .test_class_filing import attend, filed
from .test_payment_results import csv_file, released_batch, result_rows
from .test_public_notice import object_to, on_notice

# An ISO date (with or without its time) standing alone: not part of a longer run of digits and
# hyphens, as in a claim number (WL-2026-000123), a class number (WL-BA-2026-000001) or a
# certificate number (T-2026-0101), which never have this shape.
ISO_DATE = re.compile(r"(?<![\d-])\d{4}-\d{2}-\d{2}(?![\d-])")


def visible_text(html: str) -> str:
    """The page as people read it, less what people wrote: no scripts or styles, no form inputs'
    values (a date input holds ISO: the browser shows it in the user's format), no text marked
    ``data-free-text`` (a policy document's words, an administrator's notes: quoted as written),
    no tags and so no attributes."""
    html = re.sub(r"<(script|style|textarea)\b.*?</\1>", " ", html, flags=re.S | re.I)
    html = re.sub(r"<(\w+)\b[^>]*\bdata-free-text\b[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]*>", " ", html)


def iso_dates_shown(html: str) -> list[str]:
    text = " ".join(visible_text(html).split())
    return [text[max(0, m.start() - 30) : m.end() + 10] for m in ISO_DATE.finditer(text)]


def test_the_check_finds_an_iso_date_in_text_and_not_in_attributes_or_numbers():
    assert iso_dates_shown('<td><time datetime="2026-12-06">2026年12月6日</time></td>') == []
    assert iso_dates_shown('<input type="date" name="d" value="2026-12-06"><a href="?day=2026-12-06">x</a>') == []
    assert iso_dates_shown("<td>WL-2026-000123</td><td>WL-BA-2026-000001</td><td>T-2026-0101</td>") == []
    assert iso_dates_shown("<td>2026-12-06</td>") and iso_dates_shown("<td>到 2026-12-06 14:03</td>")
    # What people wrote is quoted as written; the date cell beside it is still checked.
    assert len(iso_dates_shown("<td data-free-text>期限至 2021-12-31</td><td>2026-12-06</td>")) == 1


def test_day_and_moment_wrap_the_language_format_in_a_machine_readable_time():
    with translation.override("zh-hans"):
        assert day(datetime.date(2026, 12, 6)) == '<time datetime="2026-12-06">2026年12月6日</time>'
        # 23:30 UTC is the next day in Beijing: the local date and time are shown and given.
        late = datetime.datetime(2026, 12, 6, 23, 30, tzinfo=datetime.UTC)
        assert day(late) == '<time datetime="2026-12-07">2026年12月7日</time>'
        assert moment(late) == '<time datetime="2026-12-07T07:30+08:00">2026年12月7日 07:30</time>'
        assert day("2026-12-06") == '<time datetime="2026-12-06">2026年12月6日</time>'  # from a ledger's detail
        assert day(None) == "" and moment("") == ""
    with translation.override("en"):
        assert day(datetime.date(2026, 12, 6)) == '<time datetime="2026-12-06">Dec. 6, 2026</time>'


@pytest.fixture
def world(demo, django_capture_on_commit_callbacks, celery_eager, apply_result):
    """Every kind of date the pages show."""
    under_review = large_claim(demo, lines=6)
    review_task = open_task_of_claim(under_review)
    returned = create_claim(
        user=demo["provider_clerk"],
        data=claim_data(
            lines=[line(resident_id(serial), f"学员{serial}", certificate_number=f"R-{serial}") for serial in (71, 72)]
        ),
    )
    submit_claim(user=demo["provider_clerk"], claim=returned)
    returned.refresh_from_db()
    decide_task(
        user=demo["dept_reviewer"], task_id=open_task_of_claim(returned).pk, decision="return", comment="请补充证书扫描件"
    )
    paid = approved_claim(demo, serials=(41, 42))
    batch = released_batch(demo, django_capture_on_commit_callbacks)
    apply_result(
        actor=demo["finance_officer"], batch=batch, filename="回单.csv", content=csv_file(result_rows(batch, {1: "成功"}))
    )
    paid.refresh_from_db()
    paid_line = paid.lines.get(line_no=1)
    recovery = open_recovery(
        actor=demo["hr_reviewer"],
        line=paid_line,
        amount_due=paid_line.amount,
        payer_kind="provider",
        payer_name="温岭市某职业技能培训学校",
        reason_code="revoked",
        reason="证书被发证机关撤销",
    )
    approved_claim(demo, serials=(43,))
    built = build_batch(actor=demo["finance_officer"], jurisdiction=Jurisdiction.objects.get(code="WL"))
    Jurisdiction.objects.filter(code="WL").update(public_notice_from=TODAY)  # from here, approved claims go on notice
    noticed = on_notice(demo, serials=(51, 52))
    object_to(noticed)
    training_class = filed(demo, 61, 62)
    attend(demo, training_class, {61: 2, 62: 1})
    assignment.name_substitute(
        user=demo["hr_head"],
        substitute_username="hr_reviewer",
        starts_on=TODAY,
        ends_on=TODAY + datetime.timedelta(days=5),
        reason="休假",
    )
    attendance_day = reverse("approvals:class_attendance_day", args=[training_class.pk, training_class.start.isoformat()])
    claim_pages = [f"/claims/{claim.pk}/" for claim in (under_review, returned, paid, noticed)]
    return {
        "provider_clerk": [
            "/portal/",
            "/claims/",
            *claim_pages,
            f"/claims/{returned.pk}/edit/",
            reverse("approvals:classes"),
            reverse("approvals:class", args=[training_class.pk]),
            attendance_day,
            "/notifications/",
            "/catalogue/",
            "/catalogue/WL/S1/",  # versions and their history from the ledger
        ],
        "dept_reviewer": ["/inbox/", f"/tasks/{review_task.pk}/", *claim_pages, "/notifications/", "/classes/"],
        "hr_reviewer": ["/inbox/", "/registry/", "/delegations/", *claim_pages],
        "hr_head": ["/inbox/", "/objections/", "/delegations/"],
        "finance_officer2": [
            reverse("approvals:finance"),
            reverse("payments:batches"),
            reverse("payments:batch", args=[built.pk]),
            reverse("payments:batch", args=[batch.pk]),
            reverse("payments:reconciliation", args=[batch.pk]),
            reverse("payments:result_upload", args=[batch.pk]),
            reverse("payments:recoveries"),
            reverse("payments:recovery", args=[recovery.pk]),
            reverse("payments:funds"),
            reverse("payments:report"),
        ],
        "auditor": [
            reverse("audit:search") + "?q=WL",
            *[reverse("audit:timeline", args=[claim.pk]) for claim in (under_review, returned, paid, noticed)],
            reverse("audit:as_of", args=[paid.pk]) + f"?date={TODAY.isoformat()}",
        ],
        None: [reverse("approvals:public_notice")],
    }


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_no_page_shows_an_iso_date(demo, world, language):
    shown: list[str] = []
    for username, paths in world.items():
        client = Client(headers={"accept-language": language})
        if username:
            client.force_login(demo[username])
        client.cookies["django_language"] = language
        for path in paths:
            response = client.get(path)
            if response.status_code != 200:
                shown.append(f"{username} {path}: status {response.status_code}")
            shown += [f"{username} {path}: …{found}…" for found in iso_dates_shown(response.content.decode())]
    assert shown == [], "\n".join(dict.fromkeys(shown))
